//! What the schema cannot check of a Tenant: names, quantities, CIDRs,
//! host patterns, allow-lists. Each problem is a [`TenantError`] that names
//! the field, says what is wrong with it and how to fix it. The Settings
//! share some of these field types (allow-lists, Vault Agent resources,
//! host patterns) and their checks.

use std::collections::BTreeMap;

use super::{AgentResources, AllowList, Allowed, OwnerKind, Tenant, TenantSpec};
use crate::quantity::{Quantity, QuantityError};

/// What is wrong with a Tenant (or with a Settings field of the same type).
/// `field` is the path from the document (`spec.egress.allowedCIDRs[0]`;
/// in the Settings, e.g. `allowed.registries[1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("metadata.name is missing; name the Tenant (the value its namespaces carry in tenantguard.io/tenant)")]
    MissingName,
    #[error("spec.owners[{index}].name is empty; name the User, Group or ServiceAccount that owns the tenant")]
    OwnerName { index: usize },
    #[error("spec.owners[{index}].namespace is missing, and a ServiceAccount owner needs it; set it to the namespace the ServiceAccount lives in")]
    OwnerNamespace { index: usize },
    #[error("{field}: {source}")]
    Quantity {
        field: String,
        source: QuantityError,
    },
    #[error("{field}: {value:?} is negative; use zero or more")]
    Negative { field: String, value: String },
    #[error("{field}: {value:?} is zero, and a zero limit is no limit; set a positive default limit or leave it out")]
    ZeroLimit { field: String, value: String },
    #[error("{field}: the Vault Agent Injector takes only cpu and memory; remove it")]
    AgentResource { field: String },
    #[error("{field} is empty; remove it or name a value")]
    Empty { field: String },
    #[error(
        "{field} {value:?} is not a registry prefix such as registry.example.com/acme/: {reason}"
    )]
    RegistryPrefix {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{field} {value:?} is not a Service type; use ClusterIP, ExternalName, NodePort or LoadBalancer")]
    ServiceType { field: String, value: String },
    #[error("{field} {value:?} is not a hostname pattern ({reason}); use a DNS name such as app.acme.example or a one-label wildcard such as *.acme.example")]
    HostPattern {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{field} {value:?} is not a CIDR such as 203.0.113.0/24; write an address and a prefix length")]
    Cidr { field: String, value: String },
}

impl TenantError {
    /// The path of the field that is wrong.
    pub fn field(&self) -> String {
        match self {
            TenantError::MissingName => "metadata.name".to_string(),
            TenantError::OwnerName { index } => format!("spec.owners[{index}].name"),
            TenantError::OwnerNamespace { index } => format!("spec.owners[{index}].namespace"),
            TenantError::Quantity { field, .. }
            | TenantError::Negative { field, .. }
            | TenantError::ZeroLimit { field, .. }
            | TenantError::AgentResource { field }
            | TenantError::Empty { field }
            | TenantError::RegistryPrefix { field, .. }
            | TenantError::ServiceType { field, .. }
            | TenantError::HostPattern { field, .. }
            | TenantError::Cidr { field, .. } => field.clone(),
        }
    }
}

impl Tenant {
    /// Checks what the schema cannot: names, quantities, CIDRs, host
    /// patterns, allow-lists. The first problem found is the error.
    pub fn validate(&self) -> Result<(), TenantError> {
        if self.name().is_empty() {
            return Err(TenantError::MissingName);
        }
        self.spec.validate()
    }
}

impl TenantSpec {
    pub fn validate(&self) -> Result<(), TenantError> {
        for (index, o) in self.owners.iter().enumerate() {
            if o.name.is_empty() {
                return Err(TenantError::OwnerName { index });
            }
            if o.kind == OwnerKind::ServiceAccount && o.namespace.is_none() {
                return Err(TenantError::OwnerNamespace { index });
            }
        }
        if let Some(d) = &self.container_defaults {
            check_quantities("spec.containerDefaults.requests", &d.requests, false)?;
            check_quantities("spec.containerDefaults.limits", &d.limits, true)?;
        }
        if let Some(q) = &self.quota {
            check_quantities("spec.quota.hard", &q.hard, false)?;
        }
        if let Some(a) = self.vault.as_ref().and_then(|v| v.agent_resources.as_ref()) {
            a.validate("spec.vault.agentResources")?;
        }
        if let Some(a) = &self.allowed {
            a.validate("spec.allowed")?;
        }
        if let Some(i) = &self.ingress {
            for (n, h) in i.hostnames.iter().enumerate() {
                check_host_pattern(&format!("spec.ingress.hostnames[{n}]"), h)?;
            }
        }
        if let Some(e) = &self.egress {
            for (i, c) in e.allowed_cidrs.iter().enumerate() {
                if c.parse::<ipnet::IpNet>().is_err() {
                    return Err(TenantError::Cidr {
                        field: format!("spec.egress.allowedCIDRs[{i}]"),
                        value: c.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Allowed {
    /// Checks the values a schema cannot: service types are the four
    /// Kubernetes knows, nothing is empty. `path` names the field.
    pub fn validate(&self, path: &str) -> Result<(), TenantError> {
        for which in [
            AllowList::Registries,
            AllowList::IngressClasses,
            AllowList::StorageClasses,
            AllowList::PriorityClasses,
            AllowList::RuntimeClasses,
            AllowList::GatewayClasses,
            AllowList::ServiceTypes,
        ] {
            for (i, v) in self.list(which).unwrap_or(&[]).iter().enumerate() {
                let field = format!("{path}.{}[{i}]", which.field());
                if v.trim().is_empty() {
                    return Err(TenantError::Empty { field });
                }
                if which == AllowList::Registries {
                    if let Err(e) = crate::image::Prefix::parse(v) {
                        return Err(TenantError::RegistryPrefix {
                            field,
                            value: v.clone(),
                            reason: e.to_string(),
                        });
                    }
                }
                if which == AllowList::ServiceTypes
                    && !["ClusterIP", "ExternalName", "NodePort", "LoadBalancer"]
                        .contains(&v.as_str())
                {
                    return Err(TenantError::ServiceType {
                        field,
                        value: v.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl AgentResources {
    /// Quantities readable, only cpu and memory. `path` names the field.
    pub fn validate(&self, path: &str) -> Result<(), TenantError> {
        for (part, map) in [("requests", &self.requests), ("limits", &self.limits)] {
            if let Some(k) = map.keys().find(|k| !matches!(k.as_str(), "cpu" | "memory")) {
                return Err(TenantError::AgentResource {
                    field: format!("{path}.{part}.{k}"),
                });
            }
            check_quantities(&format!("{path}.{part}"), map, part == "limits")?;
        }
        Ok(())
    }
}

/// Every value a quantity of zero or more; above zero with `positive`, for
/// default limits: a zero limit is no limit, and `require-limits` would deny
/// every container it was filled into.
fn check_quantities(
    path: &str,
    map: &BTreeMap<String, String>,
    positive: bool,
) -> Result<(), TenantError> {
    for (k, v) in map {
        let field = || format!("{path}.{k}");
        let q = v
            .parse::<Quantity>()
            .map_err(|source| TenantError::Quantity {
                field: field(),
                source,
            })?;
        if q.is_negative() {
            return Err(TenantError::Negative {
                field: field(),
                value: v.clone(),
            });
        }
        if positive && q.is_zero() {
            return Err(TenantError::ZeroLimit {
                field: field(),
                value: v.clone(),
            });
        }
    }
    Ok(())
}

/// A host pattern: an exact DNS name or `*.` followed by one, lower or upper
/// case, a trailing dot allowed. `{tenant}` (Settings patterns) stands for
/// the tenant's name, itself a DNS label.
pub fn check_host_pattern(path: &str, pattern: &str) -> Result<(), TenantError> {
    crate::hosts::Host::parse(&pattern.replace("{tenant}", "t"))
        .map(|_| ())
        .map_err(|e| TenantError::HostPattern {
            field: path.to_string(),
            value: pattern.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> TenantSpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    /// Each problem names its field, and its message says how to fix it.
    #[test]
    #[rustfmt::skip]
    fn typed_errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("owners: [{kind: User, name: ''}]", "spec.owners[0].name", "is empty; name the User"),
            ("owners: [{kind: Group, name: g}, {kind: ServiceAccount, name: ci}]", "spec.owners[1].namespace", "a ServiceAccount owner needs it; set it"),
            ("containerDefaults: {requests: {cpu: lots}}", "spec.containerDefaults.requests.cpu", "\"lots\" is not a Kubernetes quantity"),
            ("containerDefaults: {limits: {memory: '0'}}", "spec.containerDefaults.limits.memory", "a zero limit is no limit; set a positive"),
            ("quota: {hard: {pods: '-1'}}", "spec.quota.hard.pods", "is negative; use zero or more"),
            ("vault: {agentResources: {limits: {gpu: '1'}}}", "spec.vault.agentResources.limits.gpu", "only cpu and memory; remove it"),
            ("allowed: {storageClasses: [fast, ' ']}", "spec.allowed.storageClasses[1]", "is empty; remove it"),
            ("allowed: {registries: ['ghcr.io/acme:v1']}", "spec.allowed.registries[0]", "is not a registry prefix such as"),
            ("allowed: {serviceTypes: [Headless]}", "spec.allowed.serviceTypes[0]", "use ClusterIP, ExternalName, NodePort or LoadBalancer"),
            ("ingress: {hostnames: ['a..example']}", "spec.ingress.hostnames[0]", "is not a hostname pattern"),
            ("egress: {allowedCIDRs: [203.0.113.0/24, 10.0.0.0]}", "spec.egress.allowedCIDRs[1]", "\"10.0.0.0\" is not a CIDR such as 203.0.113.0/24; write"),
        ];
        for (yaml, field, needle) in cases {
            let err = spec(yaml).validate().unwrap_err();
            assert_eq!(err.field(), *field, "{yaml}");
            let msg = err.to_string();
            assert!(msg.starts_with(field), "{yaml}: {msg}");
            assert!(msg.contains(needle), "{yaml}: {msg}");
        }
        let good = spec("owners: [{kind: ServiceAccount, name: ci, namespace: acme-ci}]\ncontainerDefaults: {limits: {cpu: 500m}}\negress: {allowedCIDRs: [203.0.113.0/24]}\nallowed: {serviceTypes: [ClusterIP]}\ningress: {hostnames: ['*.acme.example']}");
        assert_eq!(good.validate(), Ok(()));
        let unnamed = Tenant::new("", TenantSpec::default());
        assert_eq!(unnamed.validate(), Err(TenantError::MissingName));
        assert_eq!(TenantError::MissingName.field(), "metadata.name");
    }
}
