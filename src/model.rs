//! The bottom layer: the request vocabulary every layer speaks (what kind of
//! object, which operation, who asks, what is wrong) and the Tenant and
//! Settings types. It imports only leaf helpers (`quantity`, `selector`);
//! tenancy, rules, the engine and everything above build on it. The old
//! paths (`policy::rules::Operation`, `policy::Settings`, ...) re-export it.

pub mod settings;
pub mod tenant;

use std::str::FromStr;

pub use settings::{Admins, Settings, TenantDefaults, VaultSettings, DEFAULT_SERVICE_TYPES};
pub use tenant::{
    check_host_pattern, AgentResources, AllowList, Allowed, Condition, ContainerDefaults, Owner,
    OwnerKind, PodSecurityLevel, Quota, QuotaScope, Tenant, TenantDocument, TenantEgress,
    TenantError, TenantIngress, TenantSpec, TenantStatus, TenantVault,
};

/// An object's `apiVersion` as (group, version): `apps/v1` → (`apps`, `v1`),
/// the core group's `v1` → (``, `v1`), nothing → (``, ``). The one place
/// that reads an apiVersion; a version with more than one `/` (invalid in
/// Kubernetes) keeps everything before the last one as its group.
pub fn split_api_version(api: &str) -> (&str, &str) {
    api.rsplit_once('/').unwrap_or(("", api))
}

/// A Kubernetes API group and kind, e.g. `apps`/`Deployment` (the core group
/// is `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    pub group: &'static str,
    pub kind: &'static str,
}

impl GroupKind {
    pub const fn new(group: &'static str, kind: &'static str) -> Self {
        GroupKind { group, kind }
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group == group
    }
}

/// The admission operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

impl FromStr for Operation {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "CREATE" => Ok(Operation::Create),
            "UPDATE" => Ok(Operation::Update),
            "DELETE" => Ok(Operation::Delete),
            "CONNECT" => Ok(Operation::Connect),
            _ => Err(()),
        }
    }
}

/// Which objects a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Namespaced objects in tenant namespaces.
    TenantObjects,
    /// Namespace objects themselves (judged even before they have a tenant).
    Namespaces,
}

/// The requester, from the AdmissionReview's `userInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub groups: Vec<String>,
}

/// Who tenantguard itself is in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The namespace tenantguard runs in (always exempt).
    pub namespace: String,
    /// Its service account's name.
    pub service_account: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            namespace: "tenantguard-system".to_string(),
            service_account: "tenantguard".to_string(),
        }
    }
}

impl Identity {
    /// The username the apiserver gives tenantguard's service account.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// One thing wrong with an object: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path with indexes, e.g. `spec.template.spec.containers[1].resources.limits.cpu`.
    pub path: String,
    /// What is wrong and how to fix it, starting with where.
    pub message: String,
}

impl Violation {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_into_group_and_version() {
        for (api, want) in [
            ("v1", ("", "v1")),
            ("apps/v1", ("apps", "v1")),
            ("networking.k8s.io/v1", ("networking.k8s.io", "v1")),
            ("", ("", "")),
            ("apps/", ("apps", "")),
            ("a/b/v1", ("a/b", "v1")),
        ] {
            assert_eq!(split_api_version(api), want, "{api}");
        }
    }
}
