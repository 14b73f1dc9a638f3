//! `vault-injection` (mutating): a Pod or pod template that asks for Vault
//! gets the Vault Agent Injector annotations of its tenant, so tenants do not
//! have to know their role, secrets path, auth path or Vault namespace.
//!
//! A pod asks for Vault when `vault.hashicorp.com/agent-inject` is true or
//! `tenantguard.io/vault-secrets: "a,b"` is present. Then, only where missing:
//! - `vault.hashicorp.com/agent-inject: "true"` (when only
//!   `tenantguard.io/vault-secrets` asked; an explicit `"false"` wins and
//!   nothing else is added);
//! - `vault.hashicorp.com/role`: the tenant's role;
//! - `vault.hashicorp.com/agent-inject-secret-<name>: <secretsPath>/<name>`
//!   for each name listed (names that cannot form an annotation key are
//!   skipped; `vault-boundaries` reports them);
//! - `vault.hashicorp.com/auth-path` (Tenant, else Settings) when set;
//! - `vault.hashicorp.com/namespace` when the tenant has one;
//! - `vault.hashicorp.com/agent-requests-cpu`, `agent-requests-mem`,
//!   `agent-limits-cpu`, `agent-limits-mem` from the tenant's (else the
//!   Settings') `vault.agentResources`, each only when that resource is
//!   declared there, with its exact string (`25m` stays `25m`). Without
//!   them the Injector sizes its sidecar and init container by its own
//!   defaults, which know nothing of the namespace's LimitRange or quota.
//!
//! A value already set is never overwritten: `vault-boundaries` rejects a
//! wrong one, so the user sees why. Applying twice changes nothing.
//!
//! Operations: CREATE, and UPDATE only when the update changes the pod (its
//! metadata or spec; see [`Ctx::changed`](super::Ctx::changed)): the Injector reads the annotations
//! whenever a pod is made from a template, so an edited template needs them
//! as much as a new one; but a template changed on a mere scale would start
//! a rollout nobody asked for.
//!
//! Reference: <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Ctx, Draft, Effect, Kinds, Operation, Rule, Scope, Step, View};
use crate::podspec;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `vault-injection`.
pub struct VaultInjection;

impl Rule for VaultInjection {
    const ID: &'static str = "vault-injection";
    const SCOPE: Scope = Scope::TenantObjects;
    /// The annotations go on when a pod is written; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Mutate(mutate);
}

/// The prefix of every Vault Agent Injector annotation.
pub(crate) const VAULT_PREFIX: &str = "vault.hashicorp.com/";
/// Turns the Vault Agent Injector on for a pod.
pub(crate) const INJECT: &str = "vault.hashicorp.com/agent-inject";
pub(crate) const ROLE: &str = "vault.hashicorp.com/role";
pub(crate) const AUTH_PATH: &str = "vault.hashicorp.com/auth-path";
pub(crate) const NAMESPACE: &str = "vault.hashicorp.com/namespace";
/// Key prefix of a secret annotation; the rest of the key is the secret's name.
pub(crate) const SECRET_PREFIX: &str = "vault.hashicorp.com/agent-inject-secret-";
/// Key prefix of a template annotation (a consul-template Go template).
pub(crate) const TEMPLATE_PREFIX: &str = "vault.hashicorp.com/agent-inject-template-";
/// tenantguard's shorthand: comma-separated secret names under the tenant's path.
pub(crate) const VAULT_SECRETS: &str = "tenantguard.io/vault-secrets";
/// The Agent's resource annotations, by (requests|limits, resource name).
pub(crate) const AGENT_RESOURCES: [(&str, &str, &str); 4] = [
    ("requests", "cpu", "vault.hashicorp.com/agent-requests-cpu"),
    (
        "requests",
        "memory",
        "vault.hashicorp.com/agent-requests-mem",
    ),
    ("limits", "cpu", "vault.hashicorp.com/agent-limits-cpu"),
    ("limits", "memory", "vault.hashicorp.com/agent-limits-mem"),
];

/// The longest name part of an annotation key (Kubernetes' qualified names).
const MAX_NAME_PART: usize = 63;

/// Whether `s` is a boolean the Injector reads as true (Go's `strconv.ParseBool`).
pub(crate) fn is_true(s: &str) -> bool {
    matches!(s, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// Whether `s` is a boolean the Injector reads as false (Go's `strconv.ParseBool`).
pub(crate) fn is_false(s: &str) -> bool {
    matches!(s, "0" | "f" | "F" | "false" | "FALSE" | "False")
}

/// The names listed in `tenantguard.io/vault-secrets`: comma separated,
/// spaces trimmed, empty entries skipped, duplicates kept once.
pub(crate) fn secret_names(list: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Why `name` cannot be a secret name, or None when
/// `vault.hashicorp.com/agent-inject-secret-<name>` is a valid annotation key
/// (its name part: at most 63 characters of `[A-Za-z0-9._-]`, ending with a
/// letter or digit).
pub(crate) fn invalid_name_reason(name: &str) -> Option<String> {
    let prefix_len = SECRET_PREFIX.len() - "vault.hashicorp.com/".len();
    let max = MAX_NAME_PART - prefix_len;
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "contains {c:?}; use only letters, digits, '.', '_' and '-'"
        ));
    }
    if name.len() > max {
        return Some(format!(
            "is {} characters long; at most {max} fit in an annotation key",
            name.len()
        ));
    }
    if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must end with a letter or digit".to_string());
    }
    None
}

/// Adds `key: value` unless the key is already set (a null counts as unset).
fn add_missing(annotations: &mut Map<String, Value>, key: &str, value: &str) {
    let slot = annotations.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::String(value.to_string());
    }
}

/// The secret names to add when the pod asks for Vault (its annotations are
/// a map saying so), else None.
fn asked(annotations: View<'_>) -> Option<Vec<String>> {
    let current = annotations.value()?;
    let current = current.as_object()?;
    let secrets = current.get(VAULT_SECRETS).filter(|v| !v.is_null());
    match current.get(INJECT).filter(|v| !v.is_null()) {
        // An explicit value other than true (`"false"`, or one the Injector
        // cannot read) is the user's decision: add nothing.
        Some(v) if !v.as_str().is_some_and(is_true) => return None,
        Some(_) => {}
        None if secrets.is_none() => return None,
        None => {}
    }
    Some(
        secrets
            .and_then(Value::as_str)
            .map(|s| {
                secret_names(s)
                    .into_iter()
                    .filter(|n| invalid_name_reason(n).is_none())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    )
}

pub fn mutate(ctx: &Ctx<'_>, draft: &mut Draft<'_>, _params: &Params) {
    let Some(tenant) = ctx.tenant else {
        return;
    };
    let Some(at) = podspec::locate(ctx.group, ctx.kind) else {
        return;
    };
    // On UPDATE, only when the annotations or the spec changed: not the
    // whole metadata, which `tenant-labels` may have just changed itself, so
    // that mutating the mutated object again (the apiserver's reinvocation)
    // adds nothing more.
    if ctx.operation == Operation::Update
        && !ctx.changed(&[&format!("{}/annotations", at.meta_ptr), at.spec_ptr])
    {
        return;
    }
    // Look before writing anything: a pod that does not ask for Vault is
    // left exactly as it came.
    let Some(names) = asked(draft.view().pointer(at.meta_ptr).get("annotations")) else {
        return;
    };
    let path = Step::keys(at.meta_ptr).chain([Step::Key("annotations")]);
    let Some(annotations) = draft.map_at(path) else {
        return;
    };
    add_missing(annotations, INJECT, "true");
    add_missing(annotations, ROLE, tenant.vault_role());
    let base = tenant.vault_secrets_path();
    for name in &names {
        add_missing(
            annotations,
            &format!("{SECRET_PREFIX}{name}"),
            &format!("{base}/{name}"),
        );
    }
    if let Some(auth) = tenant.vault_auth_path() {
        add_missing(annotations, AUTH_PATH, auth);
    }
    if let Some(ns) = tenant.vault_namespace() {
        add_missing(annotations, NAMESPACE, ns);
    }
    if let Some(res) = tenant.vault_agent_resources() {
        for (part, resource, key) in AGENT_RESOURCES {
            let map = if part == "requests" {
                &res.requests
            } else {
                &res.limits
            };
            if let Some(v) = map.get(resource) {
                add_missing(annotations, key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
