//! The `Tenant` custom resource (`tenantguard.io/v1alpha1`, cluster-scoped):
//! per-tenant settings. The same YAML is read from files when offline.
//! What the schema cannot check is in `validate` ([`TenantError`]).

mod validate;

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use validate::{check_host_pattern, TenantError};

/// Per-tenant settings. Every field is optional: a tenant without a Tenant
/// object (or without a field) gets the Settings' defaults.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "tenantguard.io",
    version = "v1alpha1",
    kind = "Tenant",
    plural = "tenants",
    shortname = "tnt",
    status = "TenantStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Namespaces","type":"integer","jsonPath":".status.namespaceCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantSpec {
    /// Who may create namespaces for this tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<Owner>,
    /// Labels added to the tenant's namespaces when they are created.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_labels: BTreeMap<String, String>,
    /// Requests and limits filled in where a container lacks them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_defaults: Option<ContainerDefaults>,
    /// The ResourceQuota each of the tenant's namespaces gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// The tenant's HashiCorp Vault role, paths and namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<TenantVault>,
    /// Where the tenant's network policies may open egress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<TenantEgress>,
    /// Labels of the tenant's dedicated nodes, which carry the same
    /// key=value as a NoSchedule taint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// The Pod Security Standards level its pods must meet; default: the
    /// Settings' `podSecurity` (`baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurityLevel>,
    /// How many namespaces the tenant may have; default: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_namespaces: Option<u32>,
    /// The hostnames its Ingresses and routes may claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<TenantIngress>,
    /// Allow-lists of shared cluster resources; each list, when present, is
    /// the whole allow-list (empty: nothing), when absent the Settings' list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Allowed>,
}

/// A Pod Security Standards level (Kubernetes, version `latest`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    /// Nothing is checked.
    Privileged,
    /// Known privilege escalations are refused.
    #[default]
    Baseline,
    /// Baseline plus the hardening best practices.
    Restricted,
}

impl PodSecurityLevel {
    /// The name used in PSA labels and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

/// Hostnames a tenant's Ingresses and routes may claim.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantIngress {
    /// Exact hosts (`app.acme.example`) or one-label wildcards (`*.acme.example`).
    #[serde(default)]
    pub hostnames: Vec<String>,
}

/// Allow-lists of shared cluster resources (Tenant `spec.allowed` and
/// Settings `allowed`). `None`: not declared here (inherit); `Some([])`:
/// nothing is allowed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Allowed {
    /// Image prefixes, matched by whole path segments (`registry.example.com/acme/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registries: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_classes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_classes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_classes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_classes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_classes: Option<Vec<String>>,
    /// Service types (`ClusterIP`, `ExternalName`, `NodePort`, `LoadBalancer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_types: Option<Vec<String>>,
}

/// Which allow-list of [`Allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowList {
    Registries,
    IngressClasses,
    StorageClasses,
    PriorityClasses,
    RuntimeClasses,
    GatewayClasses,
    ServiceTypes,
}

impl AllowList {
    /// The field name in `allowed`, for messages.
    pub fn field(self) -> &'static str {
        match self {
            AllowList::Registries => "registries",
            AllowList::IngressClasses => "ingressClasses",
            AllowList::StorageClasses => "storageClasses",
            AllowList::PriorityClasses => "priorityClasses",
            AllowList::RuntimeClasses => "runtimeClasses",
            AllowList::GatewayClasses => "gatewayClasses",
            AllowList::ServiceTypes => "serviceTypes",
        }
    }
}

impl Allowed {
    /// One list, if declared.
    pub fn list(&self, which: AllowList) -> Option<&[String]> {
        match which {
            AllowList::Registries => self.registries.as_deref(),
            AllowList::IngressClasses => self.ingress_classes.as_deref(),
            AllowList::StorageClasses => self.storage_classes.as_deref(),
            AllowList::PriorityClasses => self.priority_classes.as_deref(),
            AllowList::RuntimeClasses => self.runtime_classes.as_deref(),
            AllowList::GatewayClasses => self.gateway_classes.as_deref(),
            AllowList::ServiceTypes => self.service_types.as_deref(),
        }
    }
}

/// Requests and limits (cpu, memory) of the Vault Agent sidecar.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentResources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum OwnerKind {
    User,
    Group,
    ServiceAccount,
}

/// A subject allowed to create namespaces for the tenant. A ServiceAccount
/// owner needs `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Owner {
    /// Whether this owner is the requester.
    pub fn matches(&self, username: &str, groups: &[String]) -> bool {
        match self.kind {
            OwnerKind::User => self.name == username,
            OwnerKind::Group => groups.contains(&self.name),
            OwnerKind::ServiceAccount => {
                let ns = self.namespace.as_deref().unwrap_or("");
                username
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.split_once(':'))
                    .is_some_and(|(n, s)| n == ns && s == self.name)
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerDefaults {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Quota {
    #[serde(default)]
    pub hard: BTreeMap<String, String>,
    /// `Namespace` (default): every namespace gets `hard`; `Tenant`: `hard`
    /// is one budget for all of the tenant's namespaces together.
    #[serde(default, skip_serializing_if = "QuotaScope::is_default")]
    pub scope: QuotaScope,
}

/// What a Tenant's `quota.hard` is the budget of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum QuotaScope {
    #[default]
    Namespace,
    Tenant,
}

impl QuotaScope {
    fn is_default(&self) -> bool {
        *self == QuotaScope::Namespace
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantVault {
    /// Vault role; default: the tenant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Default: `<Settings vault.secretsPathPrefix>/<tenant>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_path: Option<String>,
    /// Default: the Settings' `vault.authPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_path: Option<String>,
    /// Vault Enterprise namespace; default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Requests and limits of the injected Vault Agent; default: the
    /// Settings' `vault.agentResources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_resources: Option<AgentResources>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantEgress {
    /// ipBlocks a NetworkPolicy may open egress to.
    #[serde(
        default,
        rename = "allowedCIDRs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_cidrs: Vec<String>,
    /// Shared namespaces this tenant may reach besides the Settings' list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_namespaces: Vec<String>,
}

/// What the onboarding controller reports.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub namespace_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// With `quota.scope: Tenant`: the budget for all its namespaces
    /// together and what they use of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<TenantQuotaStatus>,
}

/// A tenant-wide budget in a Tenant's status: `quota.hard` and the sum of
/// its namespaces' ResourceQuota `status.used`, per resource of `hard`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantQuotaStatus {
    #[serde(default)]
    pub hard: BTreeMap<String, String>,
    #[serde(default)]
    pub used: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// A Tenant as written in YAML or JSON: every field optional, `spec` too
/// (DESIGN: a Tenant with nothing set gets the Settings' defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDocument {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default)]
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(default)]
    spec: TenantSpec,
    #[serde(default)]
    status: Option<TenantStatus>,
}

impl TenantDocument {
    /// The document's `apiVersion` and `kind`, as written.
    pub fn type_meta(&self) -> (&str, &str) {
        (&self._api_version, &self._kind)
    }
}

impl From<TenantDocument> for Tenant {
    fn from(d: TenantDocument) -> Tenant {
        let mut t = Tenant::new(d.metadata.name.as_deref().unwrap_or(""), d.spec);
        t.metadata = d.metadata;
        t.status = d.status;
        t
    }
}

impl Tenant {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }
}
