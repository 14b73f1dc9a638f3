//! `vault-boundaries` (validating): a Pod or pod template may only ask the
//! Vault Agent Injector for its own tenant's secrets, as its tenant.
//!
//! It owns the Vault annotations of the pod (for a workload: of its pod
//! template, which is what the Injector sees):
//! - `vault.hashicorp.com/role`, `namespace` and `auth-path` must be the
//!   tenant's: see `identity`;
//! - every `agent-inject-secret-<name>` path must lie inside the tenant's
//!   `secretsPath`, judged as the Agent reads it (a URL: `%`-escapes decoded,
//!   `?`/`#` refused): see [`paths`];
//! - every path an `agent-inject-template-<name>` template reads (`secret`,
//!   `secrets`, `pkiCert`) must lie inside it too and be a plain string
//!   literal, the template being read with the delimiters the pod sets for
//!   it (and with the default `{{ }}` as well, which an Injector older than
//!   the delimiter annotations uses whatever the pod sets): see
//!   `templates`; `plugin` and `file` calls are refused;
//! - every name in `tenantguard.io/vault-secrets` must form a valid
//!   annotation key (`vault-injection` skips the others);
//! - any other `vault.hashicorp.com/` annotation must be on the allow-list of
//!   those that only shape the agent: see `annotations`.
//!
//! Older Injectors matched secret keys by substring (`strings.Contains`), so
//! a key such as `x.vault.hashicorp.com/agent-inject-secret-db` is judged
//! too.
//!
//! Operations: CREATE and UPDATE (the registry's default): an UPDATE of a
//! workload's template makes new pods as surely as a CREATE does.
//!
//! References:
//! <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>,
//! <https://github.com/hashicorp/consul-template/blob/main/docs/templating-language.md>.

mod annotations;
mod identity;
pub mod paths;
mod templates;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::vault_injection::{
    invalid_name_reason, secret_names, SECRET_PREFIX, TEMPLATE_PREFIX, VAULT_PREFIX, VAULT_SECRETS,
};
use super::{Ctx, Effect, Kinds, Operation, Rule, Scope, Violation};
use crate::podspec;
use paths::{Decoding, PathError};
use templates::{template_reads, Delims, TemplateRead};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `vault-boundaries`.
pub struct VaultBoundaries;

impl Rule for VaultBoundaries {
    const ID: &'static str = "vault-boundaries";
    const SCOPE: Scope = Scope::TenantObjects;
    /// An UPDATE of a workload's template makes new pods as surely as a
    /// CREATE does; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

const LEFT_DELIM: &str = "agent-template-left-delim-";
const RIGHT_DELIM: &str = "agent-template-right-delim-";

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(tenant), Some(pod)) = (ctx.tenant, ctx.pod()) else {
        return Vec::new();
    };
    let Some(annotations) = pod.annotations() else {
        return Vec::new();
    };
    // Every check below is about a non-null annotation whose key contains
    // the Vault prefix, or about the vault-secrets one: without any, there
    // is nothing to judge (and nothing to format).
    let vault = |(k, v): (&String, &Value)| {
        !v.is_null() && (k.contains(VAULT_PREFIX) || k == VAULT_SECRETS)
    };
    if !annotations.iter().any(vault) {
        return Vec::new();
    }
    let at = |key: &str| format!("{}.annotations.{key}", pod.at.meta_path);
    let name = tenant.name;
    let base = tenant.vault_secrets_path();
    let mut out = identity::check(annotations, &at, &tenant);
    out.extend(vault_secrets(annotations, &at));
    out.extend(delimiter_types(annotations, &at));
    out.extend(secret_paths(annotations, &at, name, &base));
    out.extend(template_paths(annotations, &at, name, &base));
    out.extend(annotations::check(annotations, &at, name));
    out
}

fn vault_secrets(annotations: &Map<String, Value>, at: &dyn Fn(&str) -> String) -> Vec<Violation> {
    let Some(v) = annotations.get(VAULT_SECRETS).filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    let where_ = at(VAULT_SECRETS);
    let Some(list) = v.as_str() else {
        return vec![Violation::new(
            &where_,
            format!(
                "{where_}: must be a string of comma-separated secret names, e.g. \"db,api-key\""
            ),
        )];
    };
    secret_names(list)
        .into_iter()
        .filter_map(|secret| {
            invalid_name_reason(secret).map(|reason| {
                Violation::new(
                    &where_,
                    format!(
                        "{where_}: secret name {secret:?} {reason}; it cannot name a Vault secret annotation and was not injected"
                    ),
                )
            })
        })
        .collect()
}

/// Keys containing `marker`, sorted, with the text after the marker (the
/// secret's name) and their non-null values.
fn keys_containing<'v>(
    annotations: &'v Map<String, Value>,
    marker: &str,
) -> Vec<(&'v String, &'v str, &'v Value)> {
    let mut keys: Vec<_> = annotations
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(k, v)| k.split_once(marker).map(|(_, name)| (k, name, v)))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    keys
}

/// A delimiter the Injector would ignore or misread is refused rather than
/// guessed at.
fn delimiter_types(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for marker in [LEFT_DELIM, RIGHT_DELIM] {
        for (key, _, v) in keys_containing(annotations, &format!("{VAULT_PREFIX}{marker}")) {
            if !v.is_string() {
                let where_ = at(key);
                out.push(Violation::new(
                    &where_,
                    format!("{where_}: a template delimiter must be a string, e.g. \"[[\""),
                ));
            }
        }
    }
    out
}

/// The delimiters the pod sets for the secret or template `name`.
fn delims_for<'a>(annotations: &'a Map<String, Value>, name: &str) -> Delims<'a> {
    let get = |marker: &str| {
        annotations
            .get(&format!("{VAULT_PREFIX}{marker}{name}"))
            .and_then(Value::as_str)
    };
    Delims::new(get(LEFT_DELIM), get(RIGHT_DELIM))
}

/// Why a path is not the tenant's, as a phrase after the path.
fn reason(err: &PathError, tenant: &str, base: &str) -> String {
    match err {
        PathError::Outside => format!("is outside tenant {tenant:?}'s secrets path {base:?}"),
        e => e.to_string(),
    }
}

fn secret_paths(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &str,
    base: &str,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (key, name, v) in keys_containing(annotations, SECRET_PREFIX) {
        let path = text(v);
        let where_ = at(key);
        // The Injector builds `{{ with secret "<path>" }}…` around the path
        // (a read: one decoding) and parses it with the delimiters set for
        // this name, so a delimiter inside the path would open an action.
        let delims = delims_for(annotations, name);
        let why = match paths::judge(&path, base, Decoding::Once) {
            Err(e) => reason(&e, tenant, base),
            Ok(()) => match [delims.left, delims.right]
                .into_iter()
                .find(|d| path.contains(d))
            {
                Some(d) => format!(
                    "contains {d:?}, a delimiter of the template the Injector builds around it"
                ),
                None => continue,
            },
        };
        out.push(Violation::new(
            &where_,
            format!("{where_}: Vault path {path:?} {why}; use a path under {base}/"),
        ));
    }
    out
}

fn template_paths(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &str,
    base: &str,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (key, name, v) in keys_containing(annotations, TEMPLATE_PREFIX) {
        let where_ = at(key);
        let template = text(v);
        // Read with the pod's delimiters, and with the default ones as well:
        // an Injector older than the delimiter annotations ignores them.
        let delims = delims_for(annotations, name);
        let mut reads = template_reads(&template, delims);
        if delims != Delims::DEFAULT {
            for read in template_reads(&template, Delims::DEFAULT) {
                if !reads.contains(&read) {
                    reads.push(read);
                }
            }
        }
        for read in reads {
            let message = match read {
                TemplateRead::Path {
                    function,
                    path,
                    decoding,
                } => match paths::judge(&path, base, decoding) {
                    Ok(()) => continue,
                    Err(e) => format!(
                        "the template reads Vault path {path:?} ({function}): it {}; read only paths under {base}/",
                        reason(&e, tenant, base)
                    ),
                },
                TemplateRead::Unchecked { function } => format!(
                    "the template calls {function} with a path that is not a plain string literal, so tenantguard cannot check it; write the path out, e.g. {function} \"{base}/<name>\""
                ),
                TemplateRead::Refused { function, why } => format!(
                    "the template calls {function}, which {why}; tenant templates may not call it, remove the call"
                ),
            };
            out.push(Violation::new(&where_, format!("{where_}: {message}")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::Operation;
    use serde_json::json;

    const VAULT_TENANT: &str =
        "vault: {role: acme-app, secretsPath: secret/data/customers/acme, namespace: team/acme}";

    fn pod(annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations}, "spec": {"containers": [{"name": "app"}]}})
    }

    fn paths(w: &World, ns: &str, obj: &Value) -> Vec<String> {
        validate(&w.ctx(ns, obj), &Params::default())
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    const R: &str = "metadata.annotations.vault.hashicorp.com/role";
    const NS: &str = "metadata.annotations.vault.hashicorp.com/namespace";
    const VS: &str = "metadata.annotations.tenantguard.io/vault-secrets";
    const DB: &str = "metadata.annotations.vault.hashicorp.com/agent-inject-secret-db";
    const TDB: &str = "metadata.annotations.vault.hashicorp.com/agent-inject-template-db";
    const LDB: &str = "metadata.annotations.vault.hashicorp.com/agent-template-left-delim-db";

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let declared = World::new().with_tenant("acme", VAULT_TENANT);
        let plain = World::new();
        let secret = |p: &str| pod(json!({"vault.hashicorp.com/agent-inject-secret-db": p}));
        let template = |t: &str| pod(json!({"vault.hashicorp.com/agent-inject-template-db": t}));
        let square = |t: &str| pod(json!({
            "vault.hashicorp.com/agent-inject-template-db": t,
            "vault.hashicorp.com/agent-template-left-delim-db": "[[",
            "vault.hashicorp.com/agent-template-right-delim-db": "]]",
        }));
        let one = |k: &str, v: &str| pod(json!({ k: v }));
        let cases: Vec<(&str, &World, &str, Value, Vec<&str>)> = vec![
            // clean
            ("everything the tenant's own", &declared, "acme-prod", pod(json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "acme-app",
                "vault.hashicorp.com/namespace": "team/acme/",
                "tenantguard.io/vault-secrets": "db, api-key",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/customers/acme/db",
                "vault.hashicorp.com/agent-inject-template-db": "{{- with secret \"secret/data/customers/acme/db\" -}}{{ .Data.data.password }}{{- end }}",
                "vault.hashicorp.com/agent-inject-status": "injected",
                "vault.hashicorp.com/agent-pre-populate-only": "true",
                "vault.hashicorp.com/agent-requests-cpu": "50m",
                "vault.hashicorp.com/agent-requests-mem": "64Mi",
                "vault.hashicorp.com/agent-limits-cpu": "100m",
                "vault.hashicorp.com/agent-limits-mem": "128Mi",
                "vault.hashicorp.com/agent-inject-file-db": "db.env",
                "vault.hashicorp.com/agent-inject-perms-db": "0440",
                "vault.hashicorp.com/agent-run-as-same-user": "true",
                "vault.hashicorp.com/agent-inject-token": "false",
            })), vec![]),
            ("the secrets path itself", &declared, "acme-prod", secret("secret/data/customers/acme"), vec![]),
            ("empty segments are the own path", &declared, "acme-prod", secret("secret/data/customers//acme//db"), vec![]),
            ("surrounding slashes", &declared, "acme-prod", secret("/secret//data/customers/acme/db/"), vec![]),
            (". and .. that stay inside", &declared, "acme-prod", secret("secret/data/customers/acme/x/../db/./v"), vec![]),
            ("escaped own path", &declared, "acme-prod", secret("secret%2Fdata/customers/%61cme/%64b"), vec![]),
            ("no Vault annotations", &declared, "acme-prod", pod(json!({"a": "b"})), vec![]),
            ("undeclared tenant: Settings defaults", &plain, "acme-prod", pod(json!({
                "vault.hashicorp.com/role": "acme",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme/db"})), vec![]),
            ("platform namespace is not judged", &declared, "monitoring", pod(json!({"vault.hashicorp.com/role": "root", "vault.hashicorp.com/agent-configmap": "x"})), vec![]),
            ("kind out of scope", &declared, "acme-prod", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"annotations": {"vault.hashicorp.com/role": "root"}}}), vec![]),
            ("template text outside actions is ignored", &declared, "acme-prod",
                template("my secret \"secret/data/customers/globex\" is {{ .Data.secret }}"), vec![]),
            ("own read with custom delimiters", &declared, "acme-prod",
                square("[[ with secret \"secret/data/customers/acme/db\" ]][[ .Data.data.password ]][[ end ]]"), vec![]),
            // secret paths read as URLs
            ("another tenant's path", &declared, "acme-prod", secret("secret/data/customers/globex/db"), vec![DB]),
            ("a sibling sharing the prefix", &declared, "acme-prod", secret("secret/data/customers/acme-evil/db"), vec![DB]),
            ("climbing out with ..", &declared, "acme-prod", secret("secret/data/customers/acme/../globex/db"), vec![DB]),
            ("climbing out with %2e%2e", &declared, "acme-prod", secret("secret/data/customers/acme/%2e%2e/%2e%2e/tenants/globex/db"), vec![DB]),
            ("climbing out with %2E%2e", &declared, "acme-prod", secret("secret/data/customers/acme/%2E%2e/globex/db"), vec![DB]),
            ("climbing out through %2F", &declared, "acme-prod", secret("secret/data/customers/acme%2F..%2Fglobex/db"), vec![DB]),
            ("a query on the own path", &declared, "acme-prod", secret("secret/data/customers/acme/db?version=2"), vec![DB]),
            ("a query hiding the real path", &declared, "acme-prod", secret("secret/data/customers/globex/db?x=/../../acme/db"), vec![DB]),
            ("a fragment", &declared, "acme-prod", secret("secret/data/customers/globex/db#/../../acme/db"), vec![DB]),
            ("an escaped query", &declared, "acme-prod", secret("secret/data/customers/acme/db%3Fversion=2"), vec![DB]),
            ("an invalid escape", &declared, "acme-prod", secret("secret/data/customers/acme/%zz"), vec![DB]),
            ("a truncated escape", &declared, "acme-prod", secret("secret/data/customers/acme/%4"), vec![DB]),
            ("double encoding", &declared, "acme-prod", secret("secret/data/customers/acme/%252e%252e/globex"), vec![DB]),
            (".. above the root", &declared, "acme-prod", secret("../../secret/data/customers/acme/db"), vec![DB]),
            ("an empty path", &declared, "acme-prod", secret(""), vec![DB]),
            ("quote breaking out of the default template", &declared, "acme-prod",
                secret("secret/data/customers/acme/x\" }}{{ end }}{{ with secret \"secret/data/customers/globex/db"), vec![DB]),
            ("a custom delimiter inside the path", &declared, "acme-prod", pod(json!({
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/customers/acme/x[[ with secrets 1 ]]",
                "vault.hashicorp.com/agent-template-left-delim-db": "[[",
            })), vec![DB]),
            ("key matched by substring as older Injectors do", &declared, "acme-prod",
                pod(json!({"x.vault.hashicorp.com/agent-inject-secret-db": "secret/data/customers/globex/db"})),
                vec!["metadata.annotations.x.vault.hashicorp.com/agent-inject-secret-db"]),
            // templates
            ("template reads another tenant's path", &declared, "acme-prod",
                template("{{ with secret \"secret/data/customers/globex/db\" }}{{ end }}"), vec![TDB]),
            ("template reads with %2e%2e", &declared, "acme-prod",
                template("{{ with secret \"secret/data/customers/acme/%2e%2e/globex/db\" }}{{ end }}"), vec![TDB]),
            ("template read with a query", &declared, "acme-prod",
                template("{{ with secret \"secret/data/customers/acme/db?version=1\" }}{{ end }}"), vec![TDB]),
            ("template list with an escape Vault reads literally", &declared, "acme-prod",
                template("{{ range secrets \"secret/metadata/customers/acme/%2e%2e/globex\" }}{{ . }}{{ end }}"), vec![TDB]),
            ("custom delimiters hiding a foreign read", &declared, "acme-prod",
                square("[[ with secret \"secret/data/customers/globex/db\" ]][[ .Data.data.password ]][[ end ]]"), vec![TDB]),
            ("a foreign read under the default delimiters is judged too", &declared, "acme-prod",
                square("[[ with secret \"secret/data/customers/acme/db\" ]][[ end ]]{{ with secret \"secret/data/customers/globex/db\" }}{{ end }}"), vec![TDB]),
            ("template path from a variable", &declared, "acme-prod",
                template("{{ $p := \"secret/data/customers/globex/db\" }}{{ with secret $p }}{{ end }}"), vec![TDB]),
            ("template calls plugin", &declared, "acme-prod", template("{{ plugin \"/bin/sh\" \"-c\" \"id\" }}"), vec![TDB]),
            ("a delimiter that is not a string", &declared, "acme-prod",
                pod(json!({"vault.hashicorp.com/agent-template-left-delim-db": 7})), vec![LDB]),
            // namespace and role (see identity for their own table)
            ("another Vault namespace", &declared, "acme-prod", one("vault.hashicorp.com/namespace", "team/globex"), vec![NS]),
            ("another tenant's role", &declared, "acme-prod", one("vault.hashicorp.com/role", "globex"), vec![R]),
            // the allow-list (see annotations for its own table)
            ("auth-config-role picks a role", &declared, "acme-prod", one("vault.hashicorp.com/auth-config-role", "globex-app"),
                vec!["metadata.annotations.vault.hashicorp.com/auth-config-role"]),
            ("a command after rendering", &declared, "acme-prod", one("vault.hashicorp.com/agent-inject-command-db", "sh -c id"),
                vec!["metadata.annotations.vault.hashicorp.com/agent-inject-command-db"]),
            ("the token into the secrets volume", &declared, "acme-prod", one("vault.hashicorp.com/agent-inject-token", "true"),
                vec!["metadata.annotations.vault.hashicorp.com/agent-inject-token"]),
            ("an unknown Injector annotation", &declared, "acme-prod", one("vault.hashicorp.com/agent-something-new", "x"),
                vec!["metadata.annotations.vault.hashicorp.com/agent-something-new"]),
            // vault-secrets names
            ("invalid names, each reported", &declared, "acme-prod", pod(json!({"tenantguard.io/vault-secrets": "db, ../globex, a/b"})), vec![VS, VS]),
            ("vault-secrets not a string", &declared, "acme-prod", pod(json!({"tenantguard.io/vault-secrets": ["db"]})), vec![VS]),
            // several at once, in a fixed order
            ("every violation listed", &declared, "acme-prod", pod(json!({
                "vault.hashicorp.com/agent-configmap": "mine",
                "vault.hashicorp.com/agent-inject-template-db": "{{ with secret \"kv/globex\" }}{{ end }}",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/globex",
                "vault.hashicorp.com/namespace": "root",
                "vault.hashicorp.com/role": "globex",
            })), vec![R, NS, DB, TDB, "metadata.annotations.vault.hashicorp.com/agent-configmap"]),
        ];
        for (name, world, ns, obj, want) in cases {
            let want: Vec<String> = want.iter().map(|p| p.to_string()).collect();
            assert_eq!(paths(world, ns, &obj), want, "{name}");
        }
    }

    #[test]
    fn pod_templates() {
        let w = World::new().with_tenant("acme", VAULT_TENANT);
        let bad = json!({"vault.hashicorp.com/role": "globex"});
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"metadata": {"annotations": bad}}}}),
                "spec.template.metadata.annotations.vault.hashicorp.com/role",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": {"metadata": {"annotations": bad}}}}),
                "spec.template.metadata.annotations.vault.hashicorp.com/role",
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"annotations": bad}}}}}}),
                "spec.jobTemplate.spec.template.metadata.annotations.vault.hashicorp.com/role",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(paths(&w, "acme-prod", &obj), [want]);
        }
        // A workload's own annotations are not the pod's: the Injector never sees them.
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"annotations": bad}, "spec": {"template": {}}});
        assert!(paths(&w, "acme-prod", &d).is_empty());
    }

    #[test]
    fn update_judges_the_new_object() {
        let w = World::new().with_tenant("acme", VAULT_TENANT);
        let old = pod(json!({"vault.hashicorp.com/role": "acme-app"}));
        let new = pod(json!({"vault.hashicorp.com/role": "globex"}));
        let mut ctx = w.ctx("acme-prod", &new);
        ctx.operation = Operation::Update;
        ctx.old_object = Some(&old);
        assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    }

    #[test]
    fn messages_say_where_what_and_how() {
        let w = World::new().with_tenant("acme", VAULT_TENANT);
        let obj = pod(json!({
            "vault.hashicorp.com/role": "globex",
            "vault.hashicorp.com/agent-inject-secret-a": "secret/data/customers/acme-evil/db",
            "vault.hashicorp.com/agent-inject-secret-b": "secret/data/customers/acme/%2E%2e/globex",
            "vault.hashicorp.com/agent-inject-secret-c": "secret/data/customers/acme/%4",
            "vault.hashicorp.com/agent-inject-template-d": "[[ secret \"secret/data/customers/acme/db#x\" ]]",
            "vault.hashicorp.com/agent-template-left-delim-d": "[[",
            "vault.hashicorp.com/agent-template-right-delim-d": "]]",
            "vault.hashicorp.com/auth-config-role": "globex-app",
            "tenantguard.io/vault-secrets": "../x",
        }));
        let msgs: Vec<String> = validate(&w.ctx("acme-prod", &obj), &Params::default())
            .into_iter()
            .map(|v| v.message)
            .collect();
        let want_prefixes = [
            "metadata.annotations.vault.hashicorp.com/role: Vault role \"globex\" is not tenant \"acme\"'s role \"acme-app\"; set it to \"acme-app\" or remove it (tenantguard fills it in)",
            "metadata.annotations.tenantguard.io/vault-secrets: secret name \"../x\" contains '/'",
            "metadata.annotations.vault.hashicorp.com/agent-inject-secret-a: Vault path \"secret/data/customers/acme-evil/db\" is outside tenant \"acme\"'s secrets path \"secret/data/customers/acme\"; use a path under secret/data/customers/acme/",
            "metadata.annotations.vault.hashicorp.com/agent-inject-secret-b: Vault path \"secret/data/customers/acme/%2E%2e/globex\" is outside tenant \"acme\"'s secrets path",
            "metadata.annotations.vault.hashicorp.com/agent-inject-secret-c: Vault path \"secret/data/customers/acme/%4\" has an invalid %-escape \"%4\" (a % must be followed by two hex digits, e.g. %2F); use a path under secret/data/customers/acme/",
            "metadata.annotations.vault.hashicorp.com/agent-inject-template-d: the template reads Vault path \"secret/data/customers/acme/db#x\" (secret): it contains '#', which the Vault Agent reads as the start of a URL fragment",
            "metadata.annotations.vault.hashicorp.com/auth-config-role: this annotation sets parameters of the agent's Vault login: auth-config-role is used whenever role is empty",
        ];
        assert_eq!(msgs.len(), want_prefixes.len(), "{msgs:#?}");
        for (m, want) in msgs.iter().zip(want_prefixes) {
            assert!(m.starts_with(want), "{m}\n  does not start with\n{want}");
        }
    }
}
