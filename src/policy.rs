//! Policy, Settings and Tenant documents (`tenantguard.io/v1alpha1`) and the
//! loader for a `policies/` directory.
//!
//! Policies are data: every struct here rejects unknown fields, every error
//! names the file and line, and parameters are validated when they load, not
//! when a request arrives.

pub mod rules;
mod tenant;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

pub use rules::{RuleId, RuleParams};
pub use tenant::{
    check_host_pattern, AgentResources, AllowList, Allowed, Condition, ContainerDefaults, Owner,
    OwnerKind, PodSecurityLevel, Quota, QuotaScope, Tenant, TenantDocument, TenantEgress,
    TenantIngress, TenantQuotaStatus, TenantSpec, TenantStatus, TenantVault,
};

use crate::manifest::{split_documents, YamlDocument};
use crate::API_VERSION;

/// What a rule does when it finds a violation (validating rules) or whether it
/// runs at all (mutating rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
pub enum Action {
    /// Validating: reject the request.
    Deny,
    /// Validating: admit it with an admission warning that kubectl prints.
    Warn,
    /// Validating: admit silently and count the violation.
    Audit,
    /// Mutating: apply the change.
    Apply,
    /// Either kind: the rule does not run.
    Off,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "Deny",
            Action::Warn => "Warn",
            Action::Audit => "Audit",
            Action::Apply => "Apply",
            Action::Off => "Off",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who and where a policy does not apply.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exclude {
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Exclude {
    pub fn matches(&self, namespace: &str, username: &str, groups: &[String]) -> bool {
        self.namespaces.iter().any(|n| n == namespace)
            || self.users.iter().any(|u| u == username)
            || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// One rule's configuration, after validation.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub rule: RuleId,
    pub action: Action,
    pub params: RuleParams,
    pub exclude: Exclude,
    /// `file:line` the policy came from, or `built-in default`.
    pub origin: String,
}

impl Policy {
    /// The policy a rule gets when no document configures it: on, default parameters.
    pub fn default_for(rule: RuleId) -> Policy {
        Policy {
            name: rule.as_str().to_string(),
            rule,
            action: if rule.is_mutating() {
                Action::Apply
            } else {
                Action::Deny
            },
            params: RuleParams::default_for(rule),
            exclude: Exclude::default(),
            origin: "built-in default".to_string(),
        }
    }
}

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
        self.allowed.validate("allowed")?;
        if let Some(a) = &self.vault.agent_resources {
            a.validate("vault.agentResources")?;
        }
        for (i, h) in self.ingress_hostnames.iter().enumerate() {
            tenant::check_host_pattern(&format!("ingressHostnames[{i}]"), h)?;
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

/// Everything loaded from a policies directory.
#[derive(Debug, Clone)]
pub struct PolicySet {
    /// One policy per rule id, in [`RuleId::ALL`] order.
    pub policies: Vec<Policy>,
    pub settings: Settings,
    /// Tenant documents found beside the policies (the chart declares tenants this way).
    pub tenants: Vec<Tenant>,
    /// The files that were read, for reload detection and messages.
    pub files: Vec<PathBuf>,
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet {
            policies: RuleId::ALL
                .iter()
                .map(|r| Policy::default_for(*r))
                .collect(),
            settings: Settings::default(),
            tenants: Vec::new(),
            files: Vec::new(),
        }
    }
}

impl PolicySet {
    pub fn policy(&self, rule: RuleId) -> &Policy {
        // `policies` always holds every rule, in `RuleId::ALL` order.
        &self.policies[rule.index()]
    }
}

/// A problem with a policy file: always names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policies from {path}: {source}; pass --policies with a directory of Policy YAML files")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

fn invalid(file: &str, line: usize, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    namespace: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[allow(dead_code)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default)]
    metadata: Option<Metadata>,
    spec: PolicySpecDoc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpecDoc {
    rule: String,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    params: Option<serde_json::Value>,
    #[serde(default)]
    exclude: Exclude,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsDoc {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Metadata>,
    #[serde(default = "empty_settings")]
    spec: Settings,
}

fn empty_settings() -> Settings {
    Settings::default()
}

/// Loads every `*.yaml` / `*.yml` file in `dir` (sorted, not recursive; a
/// mounted ConfigMap's `..data` entries are skipped).
pub fn load_dir(dir: &Path) -> Result<PolicySet, PolicyError> {
    let read_err = |source| PolicyError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    let mut sources = Vec::with_capacity(files.len());
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|source| PolicyError::Read {
            path: f.clone(),
            source,
        })?;
        sources.push((f.display().to_string(), text));
    }
    let mut set = load_sources(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))?;
    set.files = files;
    Ok(set)
}

/// Loads policy documents from `(file name, text)` pairs.
pub fn load_sources<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<PolicySet, PolicyError> {
    let mut configured: Vec<Option<Policy>> = vec![None; RuleId::ALL.len()];
    let mut settings: Option<(Settings, String)> = None;
    let mut tenants: Vec<Tenant> = Vec::new();
    for (file, text) in sources {
        for doc in split_documents(text) {
            if doc.is_blank() {
                continue;
            }
            load_document(file, &doc, &mut configured, &mut settings, &mut tenants)?;
        }
    }
    let policies = RuleId::ALL
        .iter()
        .zip(configured)
        .map(|(rule, p)| p.unwrap_or_else(|| Policy::default_for(*rule)))
        .collect();
    Ok(PolicySet {
        policies,
        settings: settings.map(|(s, _)| s).unwrap_or_default(),
        tenants,
        files: Vec::new(),
    })
}

fn load_document(
    file: &str,
    doc: &YamlDocument<'_>,
    configured: &mut [Option<Policy>],
    settings: &mut Option<(Settings, String)>,
    tenants: &mut Vec<Tenant>,
) -> Result<(), PolicyError> {
    let yaml_err = |e: serde_yaml_ng::Error| {
        let line = e.location().map(|l| l.line()).unwrap_or(1);
        invalid(file, doc.line + line - 1, e.to_string())
    };
    let header: Header = serde_yaml_ng::from_str(doc.text).map_err(yaml_err)?;
    match header.api_version.as_deref() {
        Some(API_VERSION) => {}
        other => {
            return Err(invalid(
                file,
                doc.line,
                format!(
                    "apiVersion is {}; tenantguard documents use apiVersion: {API_VERSION}",
                    other.map_or("missing".to_string(), |v| format!("{v:?}"))
                ),
            ))
        }
    }
    match header.kind.as_deref() {
        Some("Policy") => {
            let parsed: PolicyDoc = serde_yaml_ng::from_str(doc.text).map_err(yaml_err)?;
            let policy = build_policy(file, doc.line, parsed)?;
            let slot = &mut configured[policy.rule.index()];
            if let Some(first) = slot {
                return Err(invalid(
                    file,
                    doc.line,
                    format!(
                        "rule {} is already configured by {}; keep one Policy per rule",
                        policy.rule, first.origin
                    ),
                ));
            }
            *slot = Some(policy);
        }
        Some("Settings") => {
            let parsed: SettingsDoc = serde_yaml_ng::from_str(doc.text).map_err(yaml_err)?;
            parsed
                .spec
                .validate()
                .map_err(|m| invalid(file, doc.line, format!("Settings spec.{m}")))?;
            if let Some((_, origin)) = settings {
                return Err(invalid(
                    file,
                    doc.line,
                    format!(
                        "a second Settings document (the first is at {origin}); keep exactly one"
                    ),
                ));
            }
            *settings = Some((parsed.spec, format!("{file}:{}", doc.line)));
        }
        Some("Tenant") => {
            let tenant: Tenant = serde_yaml_ng::from_str::<TenantDocument>(doc.text)
                .map_err(yaml_err)?
                .into();
            tenant
                .validate()
                .map_err(|m| invalid(file, doc.line, format!("Tenant {:?}: {m}", tenant.name())))?;
            tenants.push(tenant);
        }
        other => {
            return Err(invalid(
                file,
                doc.line,
                format!(
                    "kind is {}; a policies directory holds Policy, Settings and Tenant documents",
                    other.map_or("missing".to_string(), |v| format!("{v:?}"))
                ),
            ))
        }
    }
    Ok(())
}

fn build_policy(file: &str, line: usize, doc: PolicyDoc) -> Result<Policy, PolicyError> {
    let rule: RuleId = doc.spec.rule.parse().map_err(|_| {
        invalid(
            file,
            line,
            format!(
                "unknown rule {:?}; known rules: {}",
                doc.spec.rule,
                RuleId::ALL.map(|r| r.as_str()).join(", ")
            ),
        )
    })?;
    let action = doc.spec.action.unwrap_or(if rule.is_mutating() {
        Action::Apply
    } else {
        Action::Deny
    });
    let allowed: &[Action] = if rule.is_mutating() {
        &[Action::Apply, Action::Off]
    } else {
        &[Action::Deny, Action::Warn, Action::Audit, Action::Off]
    };
    if !allowed.contains(&action) {
        return Err(invalid(
            file,
            line,
            format!(
                "action {action} does not fit rule {rule}; use one of {}",
                allowed
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let params = RuleParams::parse(rule, doc.spec.params)
        .map_err(|m| invalid(file, line, format!("spec.params of rule {rule}: {m}")))?;
    Ok(Policy {
        name: doc
            .metadata
            .and_then(|m| m.name)
            .unwrap_or_else(|| rule.as_str().to_string()),
        rule,
        action,
        params,
        exclude: doc.spec.exclude,
        origin: format!("{file}:{line}"),
    })
}

#[cfg(test)]
mod tests;
