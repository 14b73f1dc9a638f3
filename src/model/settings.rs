//! Cluster-wide Settings (`kind: Settings`): who is exempt, who is admin,
//! and the defaults of tenants that declare nothing themselves. Part of the
//! bottom layer: tenancy reads them, rules and the loader build on them.

use ipnet::IpNet;
use serde::Deserialize;

use super::tenant::{
    self, AgentResources, Allowed, ContainerDefaults, PodSecurityLevel, Quota, TenantEgress,
};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Admins {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Default for Admins {
    fn default() -> Self {
        Admins {
            users: Vec::new(),
            groups: vec!["system:masters".to_string()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VaultSettings {
    #[serde(default = "default_secrets_prefix")]
    pub secrets_path_prefix: String,
    #[serde(default)]
    pub auth_path: Option<String>,
    /// Requests and limits of the injected Vault Agent, for tenants that
    /// declare none.
    #[serde(default)]
    pub agent_resources: Option<AgentResources>,
}

fn default_secrets_prefix() -> String {
    "secret/data/tenants".to_string()
}

impl Default for VaultSettings {
    fn default() -> Self {
        VaultSettings {
            secrets_path_prefix: default_secrets_prefix(),
            auth_path: Some("auth/kubernetes".to_string()),
            agent_resources: None,
        }
    }
}

/// Defaults for tenants that declare nothing themselves (and for tenants
/// with no Tenant object at all).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantDefaults {
    #[serde(default)]
    pub container_defaults: Option<ContainerDefaults>,
    #[serde(default)]
    pub quota: Option<Quota>,
    #[serde(default)]
    pub egress: Option<TenantEgress>,
}

/// Cluster-wide settings: at most one Settings document per directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    #[serde(default = "default_exempt")]
    pub exempt_namespaces: Vec<String>,
    #[serde(default)]
    pub admins: Admins,
    #[serde(default = "default_shared")]
    pub shared_namespaces: Vec<String>,
    #[serde(default)]
    pub vault: VaultSettings,
    #[serde(default)]
    pub tenant_defaults: TenantDefaults,
    /// The cluster's pod and Service ranges. Endpoints and EndpointSlices
    /// in tenant namespaces written by anyone but the endpoint controllers
    /// may not point into them (CVE-2021-25740). Empty: nothing is known to
    /// be cluster-internal, so no address is refused.
    #[serde(default, rename = "clusterCIDRs", deserialize_with = "cidr_list")]
    pub cluster_cidrs: Vec<IpNet>,
    /// The Pod Security Standards level of tenants that declare none.
    #[serde(default)]
    pub pod_security: PodSecurityLevel,
    /// More namespace label and annotation keys tenants may not touch:
    /// exact keys, or prefixes ending in `/`.
    #[serde(default)]
    pub protected_namespace_keys: Vec<String>,
    /// Default host patterns of tenants that declare no `ingress.hostnames`;
    /// `{tenant}` stands for the tenant's name (`*.{tenant}.apps.example.com`).
    #[serde(default)]
    pub ingress_hostnames: Vec<String>,
    /// Default allow-lists (same keys as a Tenant's `spec.allowed`).
    /// `serviceTypes` defaults to `[ClusterIP, ExternalName]`.
    #[serde(default)]
    pub allowed: Allowed,
    /// The cluster's default StorageClass, if a PVC without
    /// `storageClassName` should be judged as asking for it.
    #[serde(default)]
    pub default_storage_class: String,
}

/// The Service types a tenant gets when neither its Tenant nor the Settings
/// declare `allowed.serviceTypes`: no node ports, no load balancers.
pub const DEFAULT_SERVICE_TYPES: [&str; 2] = ["ClusterIP", "ExternalName"];

impl Settings {
    /// Checks what the schema cannot (names the field); run when the
    /// Settings load.
    pub fn validate(&self) -> Result<(), String> {
        self.allowed
            .validate("allowed")
            .map_err(|e| e.to_string())?;
        if let Some(a) = &self.vault.agent_resources {
            a.validate("vault.agentResources")
                .map_err(|e| e.to_string())?;
        }
        for (i, h) in self.ingress_hostnames.iter().enumerate() {
            tenant::check_host_pattern(&format!("ingressHostnames[{i}]"), h)
                .map_err(|e| e.to_string())?;
        }
        for (i, k) in self.protected_namespace_keys.iter().enumerate() {
            if k.trim().is_empty() {
                return Err(format!(
                    "protectedNamespaceKeys[{i}] is empty; name a key or a prefix ending in /"
                ));
            }
        }
        Ok(())
    }
}

/// A list of CIDRs, each read when the Settings load so that a typo is an
/// error at start (or a kept-last-good reload), never a silently open range.
fn cidr_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .enumerate()
        .map(|(i, c)| {
            c.trim().parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
                serde::de::Error::custom(format!(
                    "clusterCIDRs[{i}]: {c:?} is not a CIDR such as 10.42.0.0/16 or fd00:42::/56"
                ))
            })
        })
        .collect()
}

fn default_exempt() -> Vec<String> {
    ["kube-system", "kube-public", "kube-node-lease"]
        .map(String::from)
        .to_vec()
}

fn default_shared() -> Vec<String> {
    vec!["kube-system".to_string()]
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            exempt_namespaces: default_exempt(),
            admins: Admins::default(),
            shared_namespaces: default_shared(),
            vault: VaultSettings::default(),
            tenant_defaults: TenantDefaults::default(),
            cluster_cidrs: Vec::new(),
            pod_security: PodSecurityLevel::default(),
            protected_namespace_keys: Vec::new(),
            ingress_hostnames: Vec::new(),
            allowed: Allowed::default(),
            default_storage_class: String::new(),
        }
    }
}

impl Settings {
    /// Whether `namespace` is exempt: listed in `exemptNamespaces`, or
    /// tenantguard's own (`own_namespace`), which is exempt whatever the
    /// list says. The one exempt check: the engine, the onboarding
    /// controller and `check` all ask here. Exemption covers the objects
    /// *in* the namespace; the Namespace object itself is still judged by
    /// `namespace-ownership` (its tenant label and its deletion).
    pub fn is_exempt(&self, namespace: &str, own_namespace: &str) -> bool {
        namespace == own_namespace || self.exempt_namespaces.iter().any(|n| n == namespace)
    }

    pub fn is_admin(&self, username: &str, groups: &[String]) -> bool {
        self.admins.users.iter().any(|u| u == username)
            || self.admins.groups.iter().any(|g| groups.contains(g))
    }
}
