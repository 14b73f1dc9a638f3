//! A tenant as the rules see it: its declared settings, each falling back
//! to the Settings' defaults field by field ([`TenantRef`]), over the entry
//! the inventory keeps of a declared tenant ([`TenantEntry`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;

use crate::model::{
    AgentResources, AllowList, ContainerDefaults, Owner, PodSecurityLevel, QuotaScope, Settings,
    TenantSpec, DEFAULT_SERVICE_TYPES,
};

/// A tenant as rules see it: its declared settings, falling back to the
/// Settings' defaults field by field.
#[derive(Debug, Clone, Copy)]
pub struct TenantRef<'a> {
    pub name: &'a str,
    entry: Option<&'a TenantEntry>,
    settings: &'a Settings,
}

/// A declared tenant with its parsed settings. The spec is shared (with
/// the cluster's record of the Tenant object, and between snapshots).
#[derive(Debug, Clone)]
pub struct TenantEntry {
    pub spec: Arc<TenantSpec>,
    allowed_cidrs: Vec<IpNet>,
}

impl TenantEntry {
    /// The spec must have passed [`crate::model::Tenant::validate`]; CIDRs
    /// that do not parse are dropped (they then allow nothing).
    pub fn new(spec: Arc<TenantSpec>) -> Self {
        let allowed_cidrs = spec
            .egress
            .iter()
            .flat_map(|e| e.allowed_cidrs.iter())
            .filter_map(|c| c.parse().ok())
            .collect();
        TenantEntry {
            spec,
            allowed_cidrs,
        }
    }
}

const NO_CIDRS: &[IpNet] = &[];

impl<'a> TenantRef<'a> {
    pub(super) fn new(
        name: &'a str,
        entry: Option<&'a TenantEntry>,
        settings: &'a Settings,
    ) -> Self {
        TenantRef {
            name,
            entry,
            settings,
        }
    }

    pub fn spec(&self) -> Option<&'a TenantSpec> {
        self.entry.map(|e| &*e.spec)
    }

    pub fn is_declared(&self) -> bool {
        self.entry.is_some()
    }

    pub fn owners(&self) -> &'a [Owner] {
        self.spec().map_or(&[], |s| &s.owners)
    }

    pub fn namespace_labels(&self) -> Option<&'a BTreeMap<String, String>> {
        self.spec().map(|s| &s.namespace_labels)
    }

    pub fn container_defaults(&self) -> Option<&'a ContainerDefaults> {
        self.spec()
            .and_then(|s| s.container_defaults.as_ref())
            .or(self.settings.tenant_defaults.container_defaults.as_ref())
    }

    pub fn node_selector(&self) -> Option<&'a BTreeMap<String, String>> {
        self.spec()
            .map(|s| &s.node_selector)
            .filter(|m| !m.is_empty())
    }

    /// ipBlocks this tenant may open egress to.
    pub fn allowed_cidrs(&self) -> Cow<'a, [IpNet]> {
        match self.entry {
            Some(e) if e.spec.egress.is_some() => Cow::Borrowed(&e.allowed_cidrs),
            _ => match &self.settings.tenant_defaults.egress {
                Some(d) => Cow::Owned(
                    d.allowed_cidrs
                        .iter()
                        .filter_map(|c| c.parse().ok())
                        .collect(),
                ),
                None => Cow::Borrowed(NO_CIDRS),
            },
        }
    }

    /// Namespaces this tenant may open egress to besides the shared ones.
    pub fn allowed_egress_namespaces(&self) -> &'a [String] {
        self.spec()
            .and_then(|s| s.egress.as_ref())
            .or(self.settings.tenant_defaults.egress.as_ref())
            .map_or(&[], |e| &e.allowed_namespaces)
    }

    pub fn vault_role(&self) -> &'a str {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.role.as_deref())
            .unwrap_or(self.name)
    }

    pub fn vault_secrets_path(&self) -> Cow<'a, str> {
        match self
            .spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.secrets_path.as_deref())
        {
            Some(p) => Cow::Borrowed(p.trim_end_matches('/')),
            None => Cow::Owned(format!(
                "{}/{}",
                self.settings
                    .vault
                    .secrets_path_prefix
                    .trim_end_matches('/'),
                self.name
            )),
        }
    }

    pub fn vault_auth_path(&self) -> Option<&'a str> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.auth_path.as_deref())
            .or(self.settings.vault.auth_path.as_deref())
    }

    pub fn vault_namespace(&self) -> Option<&'a str> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.namespace.as_deref())
    }

    /// The resources of the injected Vault Agent: the tenant's, else the Settings'.
    pub fn vault_agent_resources(&self) -> Option<&'a AgentResources> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.agent_resources.as_ref())
            .or(self.settings.vault.agent_resources.as_ref())
    }

    /// The Pod Security Standards level: the tenant's, else the Settings'.
    pub fn pod_security(&self) -> PodSecurityLevel {
        self.spec()
            .and_then(|s| s.pod_security)
            .unwrap_or(self.settings.pod_security)
    }

    /// How many namespaces the tenant may have, if capped.
    pub fn max_namespaces(&self) -> Option<u32> {
        self.spec().and_then(|s| s.max_namespaces)
    }

    /// What `quota.hard` is the budget of (`Namespace` when no quota is set).
    pub fn quota_scope(&self) -> QuotaScope {
        self.spec()
            .and_then(|s| s.quota.as_ref())
            .or(self.settings.tenant_defaults.quota.as_ref())
            .map_or(QuotaScope::Namespace, |q| q.scope)
    }

    /// The host patterns its Ingresses and routes may claim: the tenant's
    /// `ingress.hostnames`, else the Settings' `ingressHostnames` with
    /// `{tenant}` replaced by its name. Empty: no pattern is declared, so
    /// any host no other tenant claims is allowed.
    pub fn ingress_hostnames(&self) -> Cow<'a, [String]> {
        match self.spec().and_then(|s| s.ingress.as_ref()) {
            Some(i) => Cow::Borrowed(&i.hostnames),
            None if self.settings.ingress_hostnames.is_empty() => Cow::Borrowed(&[]),
            None => Cow::Owned(
                self.settings
                    .ingress_hostnames
                    .iter()
                    .map(|p| p.replace("{tenant}", self.name))
                    .collect(),
            ),
        }
    }

    /// One allow-list: the tenant's when it declares it, else the Settings'
    /// (`serviceTypes` defaults to [`DEFAULT_SERVICE_TYPES`]). `None`:
    /// declared nowhere, so anything is allowed; `Some([])`: nothing is.
    pub fn allowed(&self, which: AllowList) -> Option<Cow<'a, [String]>> {
        if let Some(l) = self
            .spec()
            .and_then(|s| s.allowed.as_ref())
            .and_then(|a| a.list(which))
        {
            return Some(Cow::Borrowed(l));
        }
        if let Some(l) = self.settings.allowed.list(which) {
            return Some(Cow::Borrowed(l));
        }
        // The default list, built once rather than on every request.
        static DEFAULT_SERVICE_TYPE_NAMES: LazyLock<Vec<String>> =
            LazyLock::new(|| DEFAULT_SERVICE_TYPES.map(String::from).to_vec());
        (which == AllowList::ServiceTypes).then(|| Cow::Borrowed(&DEFAULT_SERVICE_TYPE_NAMES[..]))
    }
}
