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
//! - `vault.hashicorp.com/namespace` when the tenant has one.
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

use super::{Ctx, Effect, Kinds, Operation, Rule, Scope};
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

pub fn mutate(ctx: &Ctx<'_>, obj: &mut Value, _params: &Params) {
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
    let annotations_ptr = format!("{}/annotations", at.meta_ptr);
    if !ctx.changed(&[&annotations_ptr, at.spec_ptr]) {
        return;
    }
    // Look before creating anything: a pod that does not ask for Vault is
    // left exactly as it came.
    let Some(current) = obj.pointer(at.meta_ptr).and_then(|m| m.get("annotations")) else {
        return;
    };
    let Some(current) = current.as_object() else {
        return;
    };
    let secrets = current.get(VAULT_SECRETS).filter(|v| !v.is_null());
    match current.get(INJECT).filter(|v| !v.is_null()) {
        // An explicit value other than true (`"false"`, or one the Injector
        // cannot read) is the user's decision: add nothing.
        Some(v) if !v.as_str().is_some_and(is_true) => return,
        Some(_) => {}
        None if secrets.is_none() => return,
        None => {}
    }
    let names: Vec<String> = secrets
        .and_then(Value::as_str)
        .map(|s| {
            secret_names(s)
                .into_iter()
                .filter(|n| invalid_name_reason(n).is_none())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let Some(annotations) = obj
        .pointer_mut(at.meta_ptr)
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    const VAULT_TENANT: &str = "vault: {role: acme-app, secretsPath: kv/data/acme/, authPath: auth/k8s-acme, namespace: acme-ns}";

    fn world() -> World {
        World::new().with_tenant("acme", VAULT_TENANT)
    }

    fn run_in(w: &World, ns: &str, obj: &Value) -> Value {
        let mut out = obj.clone();
        mutate(&w.ctx(ns, obj), &mut out, &Params::default());
        out
    }

    fn pod(annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations}, "spec": {"containers": [{"name": "app"}]}})
    }

    fn deployment(annotations: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "app"}]}}}})
    }

    fn annotations_of(obj: &Value, ptr: &str) -> Value {
        obj.pointer(ptr).cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn cases() {
        let w = world();
        let plain = World::new();
        let full_inject = json!({
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/role": "acme-app",
            "vault.hashicorp.com/auth-path": "auth/k8s-acme",
            "vault.hashicorp.com/namespace": "acme-ns",
        });
        let with = |extra: Value| {
            let mut m = full_inject.as_object().cloned().unwrap();
            m.extend(extra.as_object().cloned().unwrap());
            Value::Object(m)
        };
        let p = "/metadata/annotations";
        let t = "/spec/template/metadata/annotations";
        let cj = "/spec/jobTemplate/spec/template/metadata/annotations";
        // (name, world, namespace, object, pointer to the pod's annotations, expected annotations)
        let cases: Vec<(&str, &World, &str, Value, &str, Value)> = vec![
            (
                "agent-inject true gets role, auth path and namespace",
                &w,
                "acme-prod",
                pod(json!({"vault.hashicorp.com/agent-inject": "true"})),
                p,
                full_inject.clone(),
            ),
            (
                "agent-inject in another spelling Go reads as true",
                &w,
                "acme-prod",
                pod(json!({"vault.hashicorp.com/agent-inject": "True"})),
                p,
                with(json!({"vault.hashicorp.com/agent-inject": "True"})),
            ),
            (
                "vault-secrets alone turns injection on and adds each secret",
                &w,
                "acme-prod",
                pod(json!({"tenantguard.io/vault-secrets": " db, api-key ,,db"})),
                p,
                with(json!({
                    "tenantguard.io/vault-secrets": " db, api-key ,,db",
                    "vault.hashicorp.com/agent-inject-secret-db": "kv/data/acme/db",
                    "vault.hashicorp.com/agent-inject-secret-api-key": "kv/data/acme/api-key",
                })),
            ),
            (
                "invalid names are skipped, valid ones added",
                &w,
                "acme-prod",
                pod(json!({"tenantguard.io/vault-secrets": "ok.json,../globex,a/b,bad-,x y"})),
                p,
                with(json!({
                    "tenantguard.io/vault-secrets": "ok.json,../globex,a/b,bad-,x y",
                    "vault.hashicorp.com/agent-inject-secret-ok.json": "kv/data/acme/ok.json",
                })),
            ),
            (
                "empty vault-secrets still asks for Vault",
                &w,
                "acme-prod",
                pod(json!({"tenantguard.io/vault-secrets": ""})),
                p,
                with(json!({"tenantguard.io/vault-secrets": ""})),
            ),
            (
                "explicit false wins: nothing is added",
                &w,
                "acme-prod",
                pod(
                    json!({"vault.hashicorp.com/agent-inject": "false", "tenantguard.io/vault-secrets": "db"}),
                ),
                p,
                json!({"vault.hashicorp.com/agent-inject": "false", "tenantguard.io/vault-secrets": "db"}),
            ),
            (
                "a value the Injector cannot read is left alone",
                &w,
                "acme-prod",
                pod(
                    json!({"vault.hashicorp.com/agent-inject": "yes", "tenantguard.io/vault-secrets": "db"}),
                ),
                p,
                json!({"vault.hashicorp.com/agent-inject": "yes", "tenantguard.io/vault-secrets": "db"}),
            ),
            (
                "set values are never overwritten",
                &w,
                "acme-prod",
                pod(json!({"tenantguard.io/vault-secrets": "db",
                    "vault.hashicorp.com/role": "globex",
                    "vault.hashicorp.com/agent-inject-secret-db": "kv/data/globex/db",
                    "vault.hashicorp.com/auth-path": "auth/other",
                    "vault.hashicorp.com/namespace": "globex-ns"})),
                p,
                json!({"tenantguard.io/vault-secrets": "db",
                    "vault.hashicorp.com/agent-inject": "true",
                    "vault.hashicorp.com/role": "globex",
                    "vault.hashicorp.com/agent-inject-secret-db": "kv/data/globex/db",
                    "vault.hashicorp.com/auth-path": "auth/other",
                    "vault.hashicorp.com/namespace": "globex-ns"}),
            ),
            (
                "a null value counts as unset",
                &w,
                "acme-prod",
                pod(
                    json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": null}),
                ),
                p,
                full_inject.clone(),
            ),
            (
                "undeclared tenant: Settings defaults, no Vault namespace",
                &plain,
                "acme-prod",
                pod(json!({"tenantguard.io/vault-secrets": "db"})),
                p,
                json!({"tenantguard.io/vault-secrets": "db",
                    "vault.hashicorp.com/agent-inject": "true",
                    "vault.hashicorp.com/role": "acme",
                    "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme/db",
                    "vault.hashicorp.com/auth-path": "auth/kubernetes"}),
            ),
            (
                "no Vault annotations: untouched",
                &w,
                "acme-prod",
                pod(json!({"other": "x"})),
                p,
                json!({"other": "x"}),
            ),
            (
                "deployment template",
                &w,
                "acme-prod",
                deployment(json!({"tenantguard.io/vault-secrets": "db"})),
                t,
                with(json!({"tenantguard.io/vault-secrets": "db",
                    "vault.hashicorp.com/agent-inject-secret-db": "kv/data/acme/db"})),
            ),
            (
                "cronjob template",
                &w,
                "acme-prod",
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {
                    "metadata": {"annotations": {"vault.hashicorp.com/agent-inject": "true"}}}}}}}),
                cj,
                full_inject.clone(),
            ),
        ];
        for (name, world, ns, obj, ptr, want) in cases {
            let out = run_in(world, ns, &obj);
            assert_eq!(annotations_of(&out, ptr), want, "{name}");
            assert_eq!(run_in(world, ns, &out), out, "{name}: not idempotent");
        }
    }

    #[test]
    fn left_alone() {
        let w = world();
        let asks = json!({"vault.hashicorp.com/agent-inject": "true"});
        let cases: Vec<(&str, &str, Value)> = vec![
            ("platform namespace", "monitoring", pod(asks.clone())),
            (
                "kind out of scope",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"annotations": asks.clone()}}),
            ),
            (
                "deployment annotations are not the pod's",
                "acme-prod",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"annotations": asks.clone()}, "spec": {"template": {}}}),
            ),
            (
                "no metadata",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {}}),
            ),
            (
                "annotations not a map",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": "x"}}),
            ),
            (
                "metadata not a map",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": 5}),
            ),
        ];
        for (name, ns, obj) in cases {
            assert_eq!(run_in(&w, ns, &obj), obj, "{name}");
        }
    }

    #[test]
    fn update_only_when_the_pod_changes() {
        let w = world();
        let d = |replicas: u32, image: &str| {
            let mut d = deployment(json!({"vault.hashicorp.com/agent-inject": "true"}));
            d["spec"]["replicas"] = json!(replicas);
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
            d
        };
        let update = |old: &Value, new: &Value| {
            let mut ctx = w.ctx("acme-prod", new);
            ctx.operation = crate::policy::rules::Operation::Update;
            ctx.old_object = Some(old);
            let mut out = new.clone();
            mutate(&ctx, &mut out, &Params::default());
            out
        };
        let scaled = d(3, "app:1");
        assert_eq!(update(&d(1, "app:1"), &scaled), scaled);
        let edited = update(&d(1, "app:1"), &d(1, "app:2"));
        assert_eq!(
            edited["spec"]["template"]["metadata"]["annotations"]["vault.hashicorp.com/role"],
            "acme-app"
        );
    }

    #[test]
    fn injected_names_are_valid_annotation_keys() {
        let longest = "a".repeat(43);
        assert_eq!(invalid_name_reason(&longest), None);
        assert_eq!(
            format!("{SECRET_PREFIX}{longest}").len() - "vault.hashicorp.com/".len(),
            63
        );
        let cases = [
            ("db", true),
            ("db.json", true),
            ("DB_1", true),
            ("_x", true),
            ("..", false),
            (".", false),
            ("db-", false),
            ("a/b", false),
            ("a b", false),
            ("é", false),
            ("a\"b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(invalid_name_reason(name).is_none(), ok, "{name}");
        }
        assert!(invalid_name_reason(&"a".repeat(44))
            .unwrap()
            .contains("at most 43"));
        assert_eq!(secret_names(" a ,b,, a ,"), ["a", "b"]);
    }

    #[test]
    fn key_with_slash_is_set_where_expected() {
        let w = world();
        let out = run_in(
            &w,
            "acme-dev",
            &pod(json!({"tenantguard.io/vault-secrets": "db"})),
        );
        assert_eq!(
            out.pointer("/metadata/annotations/vault.hashicorp.com~1agent-inject-secret-db"),
            Some(&json!("kv/data/acme/db"))
        );
    }
}
