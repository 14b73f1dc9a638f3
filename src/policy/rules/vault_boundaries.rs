//! `vault-boundaries` (validating): a Pod or pod template may only ask the
//! Vault Agent Injector for its own tenant's secrets.
//!
//! It owns the Vault annotations of the pod (for a workload: of its pod
//! template, which is what the Injector sees):
//! - `vault.hashicorp.com/role` must be the tenant's role;
//! - every `vault.hashicorp.com/agent-inject-secret-<name>` path must lie
//!   inside the tenant's `secretsPath`, and must not contain characters that
//!   would break out of the Injector's `{{ with secret "<path>" }}` template;
//! - every path an `agent-inject-template-<name>` template reads
//!   (`secret`, `secrets`, `pkiCert`) must lie inside it too, and must be a
//!   plain string literal so it can be checked at all;
//! - `vault.hashicorp.com/namespace` must be the tenant's Vault namespace
//!   (and absent when the tenant has none);
//! - every name in `tenantguard.io/vault-secrets` must form a valid
//!   annotation key (`vault-injection` skips the others);
//! - `vault.hashicorp.com/auth-path` must be the tenant's, and agent
//!   configuration tenantguard cannot read (`agent-configmap`, the agent JSON
//!   patches, `agent-inject-template-file-*`) is refused: see `agent_config`.
//!
//! The Injector matches secret keys by substring (`strings.Contains`), so a
//! key such as `x.vault.hashicorp.com/agent-inject-secret-db` is judged too.
//! Paths compare segment by segment after `.` and `..` are resolved: see
//! [`is_within`].
//!
//! Operations: CREATE and UPDATE (the registry's default): an UPDATE of a
//! workload's template makes new pods as surely as a CREATE does.
//!
//! References:
//! <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>,
//! <https://github.com/hashicorp/consul-template/blob/main/docs/templating-language.md>.

mod agent_config;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::vault_injection::{
    invalid_name_reason, secret_names, NAMESPACE, ROLE, SECRET_PREFIX, TEMPLATE_PREFIX,
    VAULT_SECRETS,
};
use super::{Ctx, Violation};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// The segments of a Vault path with `.` and `..` resolved and empty
/// segments dropped; None when a `..` climbs above the root.
pub(crate) fn segments(path: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out)
}

/// Whether Vault `path` lies inside `base`, at a segment boundary
/// (`tenants/acme` contains `tenants/acme/db` and itself, not
/// `tenants/acme-evil`). A base with no segments contains nothing: an empty
/// secrets path must not open the whole of Vault.
pub(crate) fn is_within(path: &str, base: &str) -> bool {
    match (segments(path), segments(base)) {
        (Some(p), Some(b)) => !b.is_empty() && p.starts_with(&b),
        _ => false,
    }
}

/// Characters that would change the template the Injector builds around a
/// secret path (`{{ with secret "<path>" }}`), or that no real path needs.
fn template_breaking_char(path: &str) -> Option<char> {
    path.chars()
        .find(|c| matches!(c, '"' | '`' | '\\' | '{' | '}') || c.is_control())
}

/// The consul-template functions that read from Vault; their first argument
/// is the path.
const VAULT_FUNCTIONS: [&str; 3] = ["secret", "secrets", "pkiCert"];

/// What a template reads from Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateRead {
    /// `secret "path"` and friends, with the literal path.
    Path { function: String, path: String },
    /// A call whose path is not a plain string literal (a variable, a
    /// pipeline, `printf`, an escape sequence): it cannot be checked.
    Unchecked { function: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier; `field` when it directly follows a `.` (`.Data.secret`).
    Ident {
        name: String,
        field: bool,
    },
    /// A string literal: its text, and whether it used escape sequences.
    Str {
        text: String,
        escaped: bool,
    },
    Other,
}

/// Reads one action (the text after `{{`) into tokens; returns them and the
/// byte offset just past the closing `}}` (or the end).
fn action_tokens(s: &str, start: usize) -> (Vec<Token>, usize) {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = start;
    while i < bytes.len() {
        let rest = &s[i..];
        let c = rest.chars().next().unwrap_or(' ');
        if rest.starts_with("}}") {
            return (tokens, i + 2);
        }
        if let Some(comment) = rest.strip_prefix("/*") {
            i = comment.find("*/").map_or(bytes.len(), |e| i + 2 + e + 2);
            continue;
        }
        match c {
            '"' | '\'' => {
                let mut text = String::new();
                let mut escaped = false;
                let mut j = i + 1;
                while j < bytes.len() {
                    let ch = s[j..].chars().next().unwrap_or(c);
                    if ch == '\\' {
                        escaped = true;
                        j += 1;
                        if let Some(next) = s[j..].chars().next() {
                            j += next.len_utf8();
                        }
                        continue;
                    }
                    j += ch.len_utf8();
                    if ch == c {
                        break;
                    }
                    text.push(ch);
                }
                tokens.push(if c == '"' {
                    Token::Str { text, escaped }
                } else {
                    Token::Other
                });
                i = j;
            }
            '`' => {
                let end = rest[1..].find('`').map_or(bytes.len(), |e| i + 1 + e);
                tokens.push(Token::Str {
                    text: s[i + 1..end].to_string(),
                    escaped: false,
                });
                i = (end + 1).min(bytes.len());
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let field = s[..i].ends_with('.');
                let len = rest
                    .char_indices()
                    .skip(1)
                    .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                    .map_or(rest.len(), |(k, _)| k);
                tokens.push(Token::Ident {
                    name: rest[..len].to_string(),
                    field,
                });
                i += len;
            }
            c if c.is_whitespace() => i += c.len_utf8(),
            c => {
                tokens.push(Token::Other);
                i += c.len_utf8();
            }
        }
    }
    (tokens, bytes.len())
}

/// Every read from Vault in a consul-template Go template, in order.
/// Text outside `{{ }}` is output, not code, and is ignored.
pub(crate) fn template_reads(template: &str) -> Vec<TemplateRead> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(open) = template[pos..].find("{{") {
        let (tokens, next) = action_tokens(template, pos + open + 2);
        for (k, tok) in tokens.iter().enumerate() {
            let Token::Ident { name, field: false } = tok else {
                continue;
            };
            if !VAULT_FUNCTIONS.contains(&name.as_str()) {
                continue;
            }
            let function = name.clone();
            out.push(match tokens.get(k + 1) {
                Some(Token::Str {
                    text,
                    escaped: false,
                }) => TemplateRead::Path {
                    function,
                    path: text.clone(),
                },
                _ => TemplateRead::Unchecked { function },
            });
        }
        pos = next;
    }
    out
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Trims the slashes Vault ignores around a namespace path.
fn namespace_name(ns: &str) -> &str {
    ns.trim_matches('/')
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(tenant), Some(pod)) = (ctx.tenant, ctx.pod()) else {
        return Vec::new();
    };
    let Some(annotations) = pod.annotations() else {
        return Vec::new();
    };
    let at = |key: &str| format!("{}.annotations.{key}", pod.at.meta_path);
    let get = |key: &str| annotations.get(key).filter(|v| !v.is_null());
    let name = tenant.name;
    let base = tenant.vault_secrets_path();
    let mut out = Vec::new();

    if let Some(v) = get(ROLE) {
        let role = tenant.vault_role();
        if v.as_str() != Some(role) {
            out.push(Violation::new(
                at(ROLE),
                format!(
                    "{}: Vault role {:?} is not tenant {name:?}'s role {role:?}; set it to {role:?} or remove it (tenantguard fills it in)",
                    at(ROLE),
                    text(v)
                ),
            ));
        }
    }

    if let Some(v) = get(NAMESPACE) {
        let asked = text(v);
        match tenant.vault_namespace() {
            Some(own) if namespace_name(own) == namespace_name(&asked) => {}
            Some(own) => out.push(Violation::new(
                at(NAMESPACE),
                format!(
                    "{}: Vault namespace {asked:?} is not tenant {name:?}'s namespace {own:?}; set it to {own:?} or remove it (tenantguard fills it in)",
                    at(NAMESPACE)
                ),
            )),
            None if namespace_name(&asked).is_empty() => {}
            None => out.push(Violation::new(
                at(NAMESPACE),
                format!(
                    "{}: tenant {name:?} has no Vault namespace, so its pods may not name one ({asked:?}); remove the annotation",
                    at(NAMESPACE)
                ),
            )),
        }
    }

    if let Some(v) = get(VAULT_SECRETS) {
        match v.as_str() {
            None => out.push(Violation::new(
                at(VAULT_SECRETS),
                format!(
                    "{}: must be a string of comma-separated secret names, e.g. \"db,api-key\"",
                    at(VAULT_SECRETS)
                ),
            )),
            Some(list) => {
                for secret in secret_names(list) {
                    if let Some(reason) = invalid_name_reason(secret) {
                        out.push(Violation::new(
                            at(VAULT_SECRETS),
                            format!(
                                "{}: secret name {secret:?} {reason}; it cannot name a Vault secret annotation and was not injected",
                                at(VAULT_SECRETS)
                            ),
                        ));
                    }
                }
            }
        }
    }

    out.extend(secret_paths(annotations, &at, name, &base));
    out.extend(template_paths(annotations, &at, name, &base));
    out.extend(agent_config::check(annotations, &at, &tenant));
    out
}

/// Keys containing `marker`, sorted, with their non-null values.
fn keys_containing<'v>(
    annotations: &'v Map<String, Value>,
    marker: &str,
) -> Vec<(&'v String, &'v Value)> {
    let mut keys: Vec<_> = annotations
        .iter()
        .filter(|(k, v)| k.contains(marker) && !v.is_null())
        .collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    keys
}

fn secret_paths(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &str,
    base: &str,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (key, v) in keys_containing(annotations, SECRET_PREFIX) {
        let path = text(v);
        let where_ = at(key);
        if let Some(c) = template_breaking_char(&path) {
            out.push(Violation::new(
                &where_,
                format!(
                    "{where_}: Vault path {path:?} contains {c:?}, which would change the Vault Agent template built around it; use a plain path under {base}/"
                ),
            ));
        } else if !is_within(&path, base) {
            out.push(Violation::new(
                &where_,
                format!(
                    "{where_}: Vault path {path:?} is outside tenant {tenant:?}'s secrets path {base:?}; use a path under {base}/"
                ),
            ));
        }
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
    for (key, v) in keys_containing(annotations, TEMPLATE_PREFIX) {
        let where_ = at(key);
        for read in template_reads(&text(v)) {
            match read {
                TemplateRead::Path { path, .. } if is_within(&path, base) => {}
                TemplateRead::Path { function, path } => out.push(Violation::new(
                    &where_,
                    format!(
                        "{where_}: the template reads Vault path {path:?} ({function}), outside tenant {tenant:?}'s secrets path {base:?}; read only paths under {base}/"
                    ),
                )),
                TemplateRead::Unchecked { function } => out.push(Violation::new(
                    &where_,
                    format!(
                        "{where_}: the template calls {function} with a path that is not a plain string literal, so tenantguard cannot check it; write the path out, e.g. {function} \"{base}/<name>\""
                    ),
                )),
            }
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
        "vault: {role: acme-app, secretsPath: secret/data/tenants/acme, namespace: team/acme}";

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

    #[test]
    fn cases() {
        let declared = World::new().with_tenant("acme", VAULT_TENANT);
        let plain = World::new();
        let secret = |p: &str| pod(json!({"vault.hashicorp.com/agent-inject-secret-db": p}));
        let template = |t: &str| pod(json!({"vault.hashicorp.com/agent-inject-template-db": t}));
        let cases: Vec<(&str, &World, &str, Value, Vec<&str>)> = vec![
            // clean
            ("everything the tenant's own", &declared, "acme-prod", pod(json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "acme-app",
                "vault.hashicorp.com/namespace": "team/acme/",
                "tenantguard.io/vault-secrets": "db, api-key",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme/db",
                "vault.hashicorp.com/agent-inject-template-db": "{{- with secret \"secret/data/tenants/acme/db\" -}}{{ .Data.data.password }}{{- end }}",
            })), vec![]),
            ("the secrets path itself", &declared, "acme-prod", secret("secret/data/tenants/acme"), vec![]),
            ("surrounding and doubled slashes", &declared, "acme-prod", secret("/secret//data/tenants/acme/db/"), vec![]),
            (". and .. that stay inside", &declared, "acme-prod", secret("secret/data/tenants/acme/x/../db/./v"), vec![]),
            ("no Vault annotations", &declared, "acme-prod", pod(json!({"a": "b"})), vec![]),
            ("undeclared tenant: Settings defaults", &plain, "acme-prod", pod(json!({
                "vault.hashicorp.com/role": "acme",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme/db"})), vec![]),
            ("platform namespace is not judged", &declared, "monitoring", pod(json!({"vault.hashicorp.com/role": "root"})), vec![]),
            ("kind out of scope", &declared, "acme-prod", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"annotations": {"vault.hashicorp.com/role": "root"}}}), vec![]),
            ("template text outside actions is ignored", &declared, "acme-prod",
                template("my secret \"secret/data/tenants/globex\" is {{ .Data.secret }}"), vec![]),
            ("comments are ignored", &declared, "acme-prod",
                template("{{/* secret $p */}}{{ with secret \"secret/data/tenants/acme/db\" }}{{ end }}"), vec![]),
            ("a template file cannot be read, so it is refused", &declared, "acme-prod",
                pod(json!({"vault.hashicorp.com/agent-inject-template-file-db": "/vault/templates/db.ctmpl"})),
                vec!["metadata.annotations.vault.hashicorp.com/agent-inject-template-file-db"]),
            // role
            ("another tenant's role", &declared, "acme-prod", pod(json!({"vault.hashicorp.com/role": "globex"})), vec![R]),
            ("default role when the Tenant sets one", &declared, "acme-prod", pod(json!({"vault.hashicorp.com/role": "acme"})), vec![R]),
            ("role that is not a string", &declared, "acme-prod", pod(json!({"vault.hashicorp.com/role": 7})), vec![R]),
            // secret paths
            ("another tenant's path", &declared, "acme-prod", secret("secret/data/tenants/globex/db"), vec![DB]),
            ("a sibling sharing the prefix", &declared, "acme-prod", secret("secret/data/tenants/acme-evil/db"), vec![DB]),
            ("climbing out with ..", &declared, "acme-prod", secret("secret/data/tenants/acme/../globex/db"), vec![DB]),
            (".. above the root", &declared, "acme-prod", secret("../../secret/data/tenants/acme/db"), vec![DB]),
            ("a parent of the secrets path", &declared, "acme-prod", secret("secret/data/tenants"), vec![DB]),
            ("an empty path", &declared, "acme-prod", secret(""), vec![DB]),
            ("quote breaking out of the default template", &declared, "acme-prod",
                secret("secret/data/tenants/acme/x\" }}{{ end }}{{ with secret \"secret/data/tenants/globex/db"), vec![DB]),
            ("newline in a path", &declared, "acme-prod", secret("secret/data/tenants/acme/x\n"), vec![DB]),
            ("key matched by substring as the Injector does", &declared, "acme-prod",
                pod(json!({"x.vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/globex/db"})),
                vec!["metadata.annotations.x.vault.hashicorp.com/agent-inject-secret-db"]),
            // templates
            ("template reads another tenant's path", &declared, "acme-prod",
                template("{{ with secret \"secret/data/tenants/globex/db\" }}{{ .Data.data.password }}{{ end }}"), vec![TDB]),
            ("template with backquoted path", &declared, "acme-prod",
                template("{{ with secret `secret/data/tenants/acme-evil/db` }}{{ end }}"), vec![TDB]),
            ("template write form with arguments", &declared, "acme-prod",
                template("{{ secret \"secret/data/tenants/globex/db\" \"k=v\" }}"), vec![TDB]),
            ("template pkiCert", &declared, "acme-prod",
                template("{{ with pkiCert \"pki/issue/globex\" \"common_name=x\" }}{{ .Cert }}{{ end }}"), vec![TDB]),
            ("template secrets list", &declared, "acme-prod",
                template("{{ range secrets \"secret/metadata/tenants/\" }}{{ . }}{{ end }}"), vec![TDB]),
            ("template: one of two reads outside", &declared, "acme-prod",
                template("{{ with secret \"secret/data/tenants/acme/a\" }}{{ end }}{{ with secret \"secret/data/tenants/acme/../globex\" }}{{ end }}"), vec![TDB]),
            ("template path from a variable", &declared, "acme-prod",
                template("{{ $p := \"secret/data/tenants/globex/db\" }}{{ with secret $p }}{{ end }}"), vec![TDB]),
            ("template path from printf", &declared, "acme-prod",
                template("{{ with secret (printf \"secret/data/tenants/%s\" \"globex\") }}{{ end }}"), vec![TDB]),
            ("template path piped in", &declared, "acme-prod",
                template("{{ \"secret/data/tenants/globex/db\" | secret }}"), vec![TDB]),
            ("template path with an escape sequence", &declared, "acme-prod",
                template("{{ with secret \"secret/data/tenants/\\x67lobex/db\" }}{{ end }}"), vec![TDB]),
            // namespace
            ("another Vault namespace", &declared, "acme-prod", pod(json!({"vault.hashicorp.com/namespace": "team/globex"})), vec![NS]),
            ("a child of the own namespace", &declared, "acme-prod", pod(json!({"vault.hashicorp.com/namespace": "team/acme/child"})), vec![NS]),
            ("any namespace when the tenant has none", &plain, "acme-prod", pod(json!({"vault.hashicorp.com/namespace": "acme"})), vec![NS]),
            ("an empty namespace when the tenant has none is the default", &plain, "acme-prod", pod(json!({"vault.hashicorp.com/namespace": ""})), vec![]),
            // vault-secrets names
            ("invalid names, each reported", &declared, "acme-prod", pod(json!({"tenantguard.io/vault-secrets": "db, ../globex, a/b"})), vec![VS, VS]),
            ("vault-secrets not a string", &declared, "acme-prod", pod(json!({"tenantguard.io/vault-secrets": ["db"]})), vec![VS]),
            // several at once, in a fixed order
            ("every violation listed", &declared, "acme-prod", pod(json!({
                "vault.hashicorp.com/agent-inject-template-db": "{{ with secret \"kv/globex\" }}{{ end }}",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/globex",
                "vault.hashicorp.com/namespace": "root",
                "vault.hashicorp.com/role": "globex",
            })), vec![R, NS, DB, TDB]),
        ];
        for (name, world, ns, obj, want) in cases {
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
            "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme-evil/db",
            "tenantguard.io/vault-secrets": "../x",
        }));
        let msgs: Vec<String> = validate(&w.ctx("acme-prod", &obj), &Params::default())
            .into_iter()
            .map(|v| v.message)
            .collect();
        assert_eq!(msgs[0], "metadata.annotations.vault.hashicorp.com/role: Vault role \"globex\" is not tenant \"acme\"'s role \"acme-app\"; set it to \"acme-app\" or remove it (tenantguard fills it in)");
        assert!(msgs[1].starts_with("metadata.annotations.tenantguard.io/vault-secrets: secret name \"../x\" contains '/'"), "{}", msgs[1]);
        assert_eq!(msgs[2], "metadata.annotations.vault.hashicorp.com/agent-inject-secret-db: Vault path \"secret/data/tenants/acme-evil/db\" is outside tenant \"acme\"'s secrets path \"secret/data/tenants/acme\"; use a path under secret/data/tenants/acme/");
    }

    #[test]
    fn containment() {
        let cases = [
            ("tenants/acme/db", "tenants/acme", true),
            ("tenants/acme", "tenants/acme", true),
            ("tenants/acme", "/tenants/acme/", true),
            ("tenants/acme-evil", "tenants/acme", false),
            ("tenants/acm", "tenants/acme", false),
            ("tenants", "tenants/acme", false),
            ("tenants/acme/..", "tenants/acme", false),
            ("tenants/acme/../acme/db", "tenants/acme", true),
            ("..", "tenants/acme", false),
            ("tenants/acme/db", "", false),
            ("tenants/acme/db", "tenants/../..", false),
        ];
        for (path, base, want) in cases {
            assert_eq!(is_within(path, base), want, "{path} in {base}");
        }
    }

    #[test]
    fn template_reading() {
        let reads = template_reads(
            "a {{ with secret \"x/1\" }}{{ .Data.secret }}{{ end }} {{- secret `x/2` \"k=v\" -}} {{ $secret := 1 }}{{ (pkiCert \"p\") }}{{ 'c' }}{{ secret }}",
        );
        let p = |f: &str, p: &str| TemplateRead::Path {
            function: f.into(),
            path: p.into(),
        };
        assert_eq!(
            reads,
            [
                p("secret", "x/1"),
                p("secret", "x/2"),
                p("pkiCert", "p"),
                TemplateRead::Unchecked {
                    function: "secret".into()
                },
            ]
        );
        // Unterminated actions and strings neither panic nor loop.
        for t in [
            "{{ secret \"x",
            "{{ secret `x",
            "{{",
            "{{ /* x",
            "{{ \"\\",
            "{{ é secret \"a\" }}",
        ] {
            let _ = template_reads(t);
        }
    }
}
