//! The baseline every tenant namespace gets: pure functions, no client.
//! The onboarding controller (`controller.rs`) applies what [`baseline`]
//! builds with server-side apply; [`super::status`] computes what each
//! Tenant's status says.
//!
//! The baseline, all labelled `app.kubernetes.io/managed-by: tenantguard` and
//! `tenantguard.io/tenant: <tenant>` (so `managed-objects` protects them):
//!
//! - NetworkPolicy `tenantguard-isolation`: selects every pod; ingress only
//!   from the same namespace; egress to the same namespace, DNS (UDP and TCP
//!   53) to the Settings' shared namespaces, any port to the tenant's
//!   `egress.allowedNamespaces` and `egress.allowedCIDRs`. NetworkPolicies
//!   are additive, so this denies everything else.
//! - ResourceQuota `tenantguard-quota` from the tenant's `quota` (else the
//!   Settings' `tenantDefaults.quota`; empty when neither sets one).
//! - LimitRange `tenantguard-defaults` from `containerDefaults`.
//! - ServiceAccount `tenant-workload` for workloads and Vault login.
//! - RoleBinding `tenantguard-owners`: the built-in ClusterRole `edit` for
//!   the tenant's owners, inside this namespace only. Binding the built-in
//!   role (rather than writing a Role) means tenantguard never needs the
//!   rights it grants, only `bind` on `edit`.
//!
//! References: <https://kubernetes.io/docs/concepts/services-networking/network-policies/>,
//! <https://kubernetes.io/docs/concepts/policy/resource-quotas/>,
//! <https://kubernetes.io/docs/concepts/policy/limit-range/>,
//! <https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles>.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::policy::{OwnerKind, Settings};
use crate::quantity::Quantity;
use crate::tenancy::TenantRef;
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, NAME_LABEL, TENANT_LABEL};

/// The field manager of every server-side apply tenantguard sends.
pub const FIELD_MANAGER: &str = "tenantguard";
pub const NETWORK_POLICY: &str = "tenantguard-isolation";
pub const RESOURCE_QUOTA: &str = "tenantguard-quota";
pub const LIMIT_RANGE: &str = "tenantguard-defaults";
pub const SERVICE_ACCOUNT: &str = "tenant-workload";
pub const ROLE_BINDING: &str = "tenantguard-owners";
/// The built-in ClusterRole owners get in their namespaces.
pub const OWNER_CLUSTER_ROLE: &str = "edit";

/// The objects one tenant namespace gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub network_policy: NetworkPolicy,
    pub resource_quota: ResourceQuota,
    pub limit_range: LimitRange,
    pub service_account: ServiceAccount,
    pub role_binding: RoleBinding,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BaselineError {
    #[error("{path}: {message}; fix the Tenant, or tenantDefaults in the Settings")]
    Quantity { path: String, message: String },
}

/// The baseline of `namespace`, which belongs to `tenant`.
pub fn baseline(
    namespace: &str,
    tenant: &TenantRef<'_>,
    settings: &Settings,
) -> Result<Baseline, BaselineError> {
    let hard = tenant
        .spec()
        .and_then(|s| s.quota.as_ref())
        .or(settings.tenant_defaults.quota.as_ref())
        .map(|q| quantities("quota.hard", &q.hard))
        .transpose()?
        .unwrap_or_default();
    let defaults = tenant.container_defaults();
    let limit = LimitRangeItem {
        type_: "Container".to_string(),
        default: defaults
            .map(|d| quantities("containerDefaults.limits", &d.limits))
            .transpose()?
            .filter(|m| !m.is_empty()),
        default_request: defaults
            .map(|d| quantities("containerDefaults.requests", &d.requests))
            .transpose()?
            .filter(|m| !m.is_empty()),
        ..Default::default()
    };
    Ok(Baseline {
        network_policy: network_policy(namespace, tenant, settings),
        resource_quota: ResourceQuota {
            metadata: meta(RESOURCE_QUOTA, namespace, tenant.name),
            spec: Some(ResourceQuotaSpec {
                hard: Some(hard),
                ..Default::default()
            }),
            ..Default::default()
        },
        limit_range: LimitRange {
            metadata: meta(LIMIT_RANGE, namespace, tenant.name),
            spec: Some(LimitRangeSpec {
                // An item with neither default limits nothing; leave it out.
                limits: if limit.default.is_some() || limit.default_request.is_some() {
                    vec![limit]
                } else {
                    Vec::new()
                },
            }),
        },
        service_account: ServiceAccount {
            metadata: meta(SERVICE_ACCOUNT, namespace, tenant.name),
            ..Default::default()
        },
        role_binding: role_binding(namespace, tenant),
    })
}

fn meta(name: &str, namespace: &str, tenant: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(BTreeMap::from([
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
            (TENANT_LABEL.to_string(), tenant.to_string()),
        ])),
        ..Default::default()
    }
}

fn quantities(
    path: &str,
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, KubeQuantity>, BaselineError> {
    map.iter()
        .map(|(k, v)| {
            v.parse::<Quantity>()
                .map(|_| (k.clone(), KubeQuantity(v.clone())))
                .map_err(|e| BaselineError::Quantity {
                    path: format!("{path}.{k}"),
                    message: e.to_string(),
                })
        })
        .collect()
}

/// Namespaces by name, the way a tenant's own policies may select them.
fn by_name(names: &[String]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: NAME_LABEL.to_string(),
                operator: "In".to_string(),
                values: Some(names.to_vec()),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every pod of the policy's own namespace.
fn same_namespace() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..Default::default()
    }
}

fn network_policy(namespace: &str, tenant: &TenantRef<'_>, settings: &Settings) -> NetworkPolicy {
    let mut egress = vec![NetworkPolicyEgressRule {
        to: Some(vec![same_namespace()]),
        ports: None,
    }];
    if !settings.shared_namespaces.is_empty() {
        let dns = |protocol: &str| NetworkPolicyPort {
            protocol: Some(protocol.to_string()),
            port: Some(IntOrString::Int(53)),
            end_port: None,
        };
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![by_name(&settings.shared_namespaces)]),
            ports: Some(vec![dns("UDP"), dns("TCP")]),
        });
    }
    let allowed = tenant.allowed_egress_namespaces();
    if !allowed.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![by_name(allowed)]),
            ports: None,
        });
    }
    let cidrs = tenant.allowed_cidrs();
    if !cidrs.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(
                cidrs
                    .iter()
                    .map(|c| NetworkPolicyPeer {
                        // The network address: the apiserver warns on host bits.
                        ip_block: Some(IPBlock {
                            cidr: c.trunc().to_string(),
                            except: None,
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ports: None,
        });
    }
    NetworkPolicy {
        metadata: meta(NETWORK_POLICY, namespace, tenant.name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![same_namespace()]),
                ports: None,
            }]),
            egress: Some(egress),
        }),
    }
}

fn role_binding(namespace: &str, tenant: &TenantRef<'_>) -> RoleBinding {
    const RBAC: &str = "rbac.authorization.k8s.io";
    let subjects = tenant
        .owners()
        .iter()
        .map(|o| match o.kind {
            OwnerKind::User | OwnerKind::Group => Subject {
                api_group: Some(RBAC.to_string()),
                kind: if o.kind == OwnerKind::User {
                    "User"
                } else {
                    "Group"
                }
                .to_string(),
                name: o.name.clone(),
                namespace: None,
            },
            // The core group: the apiserver stores it as the empty string.
            OwnerKind::ServiceAccount => Subject {
                api_group: None,
                kind: "ServiceAccount".to_string(),
                name: o.name.clone(),
                namespace: o.namespace.clone(),
            },
        })
        .collect();
    RoleBinding {
        metadata: meta(ROLE_BINDING, namespace, tenant.name),
        role_ref: RoleRef {
            api_group: RBAC.to_string(),
            kind: "ClusterRole".to_string(),
            name: OWNER_CLUSTER_ROLE.to_string(),
        },
        subjects: Some(subjects),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ContainerDefaults, Owner, Quota, Tenant, TenantEgress, TenantSpec};
    use crate::tenancy::Inventory;
    use serde_json::{json, Value};

    fn acme() -> TenantSpec {
        TenantSpec {
            owners: vec![
                Owner {
                    kind: OwnerKind::Group,
                    name: "acme-admins".into(),
                    namespace: None,
                },
                Owner {
                    kind: OwnerKind::ServiceAccount,
                    name: "deployer".into(),
                    namespace: Some("acme-ci".into()),
                },
            ],
            container_defaults: Some(ContainerDefaults {
                requests: BTreeMap::from([("cpu".into(), "100m".into())]),
                limits: BTreeMap::from([("memory".into(), "512Mi".into())]),
            }),
            quota: Some(Quota {
                hard: BTreeMap::from([("requests.cpu".into(), "4".into())]),
                ..Default::default()
            }),
            egress: Some(TenantEgress {
                allowed_cidrs: vec!["203.0.113.7/24".into()],
                allowed_namespaces: vec!["acme-shared".into()],
            }),
            ..Default::default()
        }
    }

    fn build(spec: Option<TenantSpec>, settings: &Settings) -> Result<Baseline, BaselineError> {
        let mut inv = Inventory::default();
        if let Some(s) = spec {
            inv.add_tenant(&Tenant::new("acme", s));
        }
        baseline("acme-prod", &inv.tenant("acme", settings), settings)
    }

    fn to_json<T: serde::Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn network_policy_isolates_and_opens_only_what_the_tenant_may_reach() {
        let b = build(Some(acme()), &Settings::default()).unwrap();
        let np = to_json(&b.network_policy);
        assert_eq!(np["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(np["spec"]["podSelector"], json!({}));
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(
            np["spec"]["ingress"],
            json!([{"from": [{"podSelector": {}}]}])
        );
        let name_in = |v: Value| {
            json!({"namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": v}]}})
        };
        assert_eq!(
            np["spec"]["egress"],
            json!([
                {"to": [{"podSelector": {}}]},
                {"to": [name_in(json!(["kube-system"]))],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [name_in(json!(["acme-shared"]))]},
                {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]},
            ])
        );
    }

    #[test]
    fn labels_mark_every_object_as_tenantguards() {
        let b = build(Some(acme()), &Settings::default()).unwrap();
        let all = [
            to_json(&b.network_policy),
            to_json(&b.resource_quota),
            to_json(&b.limit_range),
            to_json(&b.service_account),
            to_json(&b.role_binding),
        ];
        for o in all {
            assert_eq!(o["metadata"]["namespace"], "acme-prod", "{o}");
            assert_eq!(
                o["metadata"]["labels"],
                json!({"app.kubernetes.io/managed-by": "tenantguard", "tenantguard.io/tenant": "acme"}),
                "{o}"
            );
        }
    }

    #[test]
    fn quota_limits_and_owners() {
        let b = build(Some(acme()), &Settings::default()).unwrap();
        assert_eq!(
            to_json(&b.resource_quota)["spec"],
            json!({"hard": {"requests.cpu": "4"}})
        );
        assert_eq!(
            to_json(&b.limit_range)["spec"],
            json!({"limits": [{"type": "Container", "default": {"memory": "512Mi"}, "defaultRequest": {"cpu": "100m"}}]})
        );
        let rb = to_json(&b.role_binding);
        assert_eq!(
            rb["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"})
        );
        assert_eq!(
            rb["subjects"],
            json!([
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "acme-admins"},
                {"kind": "ServiceAccount", "name": "deployer", "namespace": "acme-ci"},
            ])
        );
    }

    #[test]
    fn undeclared_tenant_gets_the_settings_defaults() {
        let mut settings = Settings::default();
        settings.tenant_defaults.quota = Some(Quota {
            hard: BTreeMap::from([("pods".into(), "20".into())]),
            ..Default::default()
        });
        settings.shared_namespaces = vec![];
        let b = build(None, &settings).unwrap();
        assert_eq!(
            to_json(&b.resource_quota)["spec"],
            json!({"hard": {"pods": "20"}})
        );
        assert_eq!(to_json(&b.limit_range)["spec"], json!({"limits": []}));
        assert_eq!(to_json(&b.role_binding)["subjects"], json!([]));
        // No shared namespaces, no allowances: only the own namespace.
        assert_eq!(
            to_json(&b.network_policy)["spec"]["egress"],
            json!([{"to": [{"podSelector": {}}]}])
        );
    }

    #[test]
    fn bad_default_quantity_names_the_field() {
        let mut settings = Settings::default();
        settings.tenant_defaults.quota = Some(Quota {
            hard: BTreeMap::from([("pods".into(), "lots".into())]),
            ..Default::default()
        });
        let err = build(None, &settings).unwrap_err();
        assert!(err.to_string().contains("quota.hard.pods"), "{err}");
    }

    /// The controller's objects go through the webhook like any other write:
    /// tenantguard's own rules must admit them, on create and on update.
    #[test]
    fn the_webhook_admits_the_baseline() {
        use crate::engine::{Engine, Request};
        use crate::policy::rules::{Identity, Operation, User};
        let settings = Settings::default();
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        inv.add_namespace("acme-shared", None);
        inv.add_tenant(&Tenant::new("acme", acme()));
        let b = baseline("acme-prod", &inv.tenant("acme", &settings), &settings).unwrap();
        let engine = Engine::default();
        let objects = [
            ("networking.k8s.io", to_json(&b.network_policy)),
            ("", to_json(&b.resource_quota)),
            ("", to_json(&b.limit_range)),
            ("", to_json(&b.service_account)),
            ("rbac.authorization.k8s.io", to_json(&b.role_binding)),
        ];
        for (group, obj) in objects {
            for operation in [Operation::Create, Operation::Update] {
                let req = Request {
                    uid: "u".into(),
                    group: group.into(),
                    version: "v1".into(),
                    kind: obj["kind"].as_str().unwrap().into(),
                    resource: Default::default(),
                    namespace: "acme-prod".into(),
                    name: obj["metadata"]["name"].as_str().unwrap().into(),
                    operation,
                    user: User {
                        username: Identity::default().username(),
                        groups: vec!["system:serviceaccounts".into()],
                    },
                    dry_run: false,
                    object: Some(obj.clone()),
                    old_object: (operation == Operation::Update).then(|| obj.clone()),
                };
                let o = engine.validate(&req, &inv);
                assert!(o.allowed, "{} {operation:?}: {o:?}", obj["kind"]);
                assert!(
                    o.findings.is_empty(),
                    "{} {operation:?}: {o:?}",
                    obj["kind"]
                );
            }
        }
    }
}
