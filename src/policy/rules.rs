//! The rule registry: every rule id of DESIGN.md, what each judges, and the
//! context a rule receives. One file per rule under `rules/`, each a pure
//! function with its table of cases beside it.
//!
//! A rule never reaches up into the server or the cluster code: it gets the
//! object, the request's operation and user, its tenant's settings and a
//! read-only view of namespace → tenant, all in [`Ctx`].

#[macro_use]
mod registry;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

pub use crate::model::{Identity, Operation, Scope, User, Violation};
pub use crate::policy::draft::{Draft, Step, View};
pub use registry::{Effect, GroupKind, Kinds, ParamsError, Rule};

use crate::podspec::{self, PodView};
use crate::policy::Settings;
use crate::tenancy::{Inventory, TenantRef};

// The one list of rules, in the order they run and report. Adding a rule is
// one line here (`Variant => module::Struct`); the macro declares the module
// and generates `RuleId`, `RuleParams` and the engine's dispatch from the
// rule's `impl Rule` (see `registry.rs` and `docs/rules.md`).
registry! {
    TenantLabels => tenant_labels::TenantLabels,
    NamespaceLabels => namespace_labels::NamespaceLabels,
    ContainerDefaults => container_defaults::ContainerDefaults,
    VaultInjection => vault_injection::VaultInjection,
    NodePool => node_pool::NodePool,
    RequireLimits => require_limits::RequireLimits,
    CrossTenantSelectors => cross_tenant_selectors::CrossTenantSelectors,
    RestrictEgress => restrict_egress::RestrictEgress,
    NamespaceOwnership => namespace_ownership::NamespaceOwnership,
    VaultBoundaries => vault_boundaries::VaultBoundaries,
    ManagedObjects => managed_objects::ManagedObjects,
    PodSecurity => pod_security::PodSecurity,
    NamespaceMetadata => namespace_metadata::NamespaceMetadata,
    IngressHosts => ingress_hosts::IngressHosts,
    AllowedClasses => allowed_classes::AllowedClasses,
    AllowedRegistries => allowed_registries::AllowedRegistries,
    ServiceTypes => service_types::ServiceTypes,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuleId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

/// Everything a rule may look at.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    /// The request's subresource (`ephemeralcontainers`, ...); empty for the
    /// resource itself. A rule only sees the subresources it declares.
    pub subresource: &'a str,
    pub operation: Operation,
    /// The object's namespace; for a Namespace, its own name.
    pub namespace: &'a str,
    pub name: &'a str,
    pub user: &'a User,
    /// The object as sent (for mutating rules: before any mutation; they work
    /// on the `&mut Value` they are given).
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    /// The tenant of the namespace (for a Namespace: of its tenant label).
    pub tenant: Option<TenantRef<'a>>,
    pub inventory: &'a Inventory,
    pub settings: &'a Settings,
    pub identity: &'a Identity,
}

impl<'a> Ctx<'a> {
    /// Whether the requester is a Settings admin.
    pub fn is_admin(&self) -> bool {
        self.settings
            .is_admin(&self.user.username, &self.user.groups)
    }

    /// Whether `namespace` is exempt (for a Namespace request: the namespace
    /// itself), by the one shared check.
    pub fn is_exempt_namespace(&self) -> bool {
        self.settings
            .is_exempt(self.namespace, &self.identity.namespace)
    }

    /// Whether the requester is tenantguard's own service account.
    pub fn is_tenantguard(&self) -> bool {
        self.user.username == self.identity.username()
    }

    /// The pod in the object (Pod or workload template), if the kind has one.
    pub fn pod(&self) -> Option<PodView<'a>> {
        podspec::pod(self.group, self.kind, self.object?)
    }

    /// Whether the request changes anything at these JSON pointers: always
    /// on CREATE; on UPDATE only when they differ from `oldObject`. Rules
    /// about a pod's content leave unchanged pods alone on UPDATE: the
    /// apiserver refuses changes to an existing Pod's spec and to a Job's
    /// template, and a template changed behind a workload's back rolls it
    /// out, so judging or mutating an untouched pod would only block
    /// unrelated updates (a finalizer removal, a label) of objects that
    /// predate a policy.
    pub fn changed(&self, ptrs: &[&str]) -> bool {
        if self.operation != Operation::Update {
            return true;
        }
        let (Some(new), Some(old)) = (self.object, self.old_object) else {
            return true;
        };
        ptrs.iter()
            .any(|p| crate::podspec::pointer(new, p) != crate::podspec::pointer(old, p))
    }

    /// The tenant's name, if the object is in a tenant namespace.
    pub fn tenant_name(&self) -> Option<&'a str> {
        self.tenant.map(|t| t.name)
    }
}

/// Builds contexts in tests without the ceremony.
#[cfg(test)]
pub mod testing {
    use super::*;
    use crate::policy::Tenant;

    /// An inventory with tenants `acme` (namespaces acme-prod, acme-dev) and
    /// `globex` (globex-prod), plus platform namespace `monitoring`.
    pub struct World {
        pub inventory: Inventory,
        pub settings: Settings,
        pub identity: Identity,
        pub user: User,
    }

    impl Default for World {
        fn default() -> Self {
            Self::new()
        }
    }

    impl World {
        pub fn new() -> Self {
            let mut inventory = Inventory::default();
            inventory.add_namespace("acme-prod", Some("acme"));
            inventory.add_namespace("acme-dev", Some("acme"));
            inventory.add_namespace("globex-prod", Some("globex"));
            inventory.add_namespace("monitoring", None);
            inventory.add_namespace("kube-system", None);
            World {
                inventory,
                settings: Settings::default(),
                identity: Identity::default(),
                user: User {
                    username: "alice".into(),
                    groups: vec!["system:authenticated".into()],
                },
            }
        }

        /// Declares a tenant from a YAML spec.
        pub fn with_tenant(mut self, name: &str, spec_yaml: &str) -> Self {
            let spec = serde_yaml_ng::from_str(spec_yaml).expect("test tenant spec");
            let t = Tenant::new(name, spec);
            t.validate().expect("valid test tenant");
            self.inventory.add_tenant(&t);
            self
        }

        /// A CREATE context for `obj` (kind and group from the object) in `namespace`.
        pub fn ctx<'a>(&'a self, namespace: &'a str, obj: &'a Value) -> Ctx<'a> {
            let api = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("v1");
            let (group, _) = crate::model::split_api_version(api);
            let tenant = if obj.get("kind").and_then(Value::as_str) == Some("Namespace") {
                crate::tenant_label::of_object(Some(obj)).tenant()
            } else {
                self.inventory.tenant_of(namespace)
            };
            Ctx {
                group,
                kind: obj.get("kind").and_then(Value::as_str).unwrap_or(""),
                subresource: "",
                operation: Operation::Create,
                namespace,
                name: obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                user: &self.user,
                object: Some(obj),
                old_object: None,
                tenant: tenant.map(|t| self.inventory.tenant(t, &self.settings)),
                inventory: &self.inventory,
                settings: &self.settings,
                identity: &self.identity,
            }
        }
    }
}
