//! Policy, Settings and Tenant documents (`tenantguard.io/v1alpha1`) and the
//! loader for a `policies/` directory.
//!
//! Policies are data: every struct here rejects unknown fields, every error
//! names the file and line, and parameters are validated when they load, not
//! when a request arrives.

pub mod draft;
pub mod rules;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::model::settings::{
    Admins, Settings, TenantDefaults, VaultSettings, DEFAULT_SERVICE_TYPES,
};
pub use crate::model::tenant::{
    check_host_pattern, AgentResources, AllowList, Allowed, Condition, ContainerDefaults, Owner,
    OwnerKind, PodSecurityLevel, Quota, QuotaScope, Tenant, TenantDocument, TenantEgress,
    TenantIngress, TenantQuotaStatus, TenantSpec, TenantStatus, TenantVault,
};
pub use rules::{RuleId, RuleParams};

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

/// Loads every `*.yaml` / `*.yml` file in `dir` ([`crate::manifest::yaml_files`]:
/// sorted, not recursive, hidden entries such as a mounted ConfigMap's
/// `..data` skipped).
pub fn load_dir(dir: &Path) -> Result<PolicySet, PolicyError> {
    let read_err = |source| PolicyError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let files = crate::manifest::yaml_files(dir).map_err(read_err)?;
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
