//! The Vault Agent Injector annotations a tenant pod may carry: an
//! allow-list. Admitted are those `vault-boundaries` judges itself and those
//! that only shape the agent containers; anything that could change which
//! secrets are read, which server, login, role or token is used, hand the
//! agent's token to the pod's containers, or run a command, is refused, and
//! so is every annotation tenantguard does not know (a newer Injector may
//! add one that does any of that).
//!
//! Each entry says why. The test is the same for every one: could the pod,
//! with this annotation, read a Vault path tenantguard did not judge?
//!
//! Reference:
//! <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>
//! (and vault-k8s' `agent-inject/agent/annotations.go`, which reads them).

use serde_json::{Map, Value};

use super::super::vault_injection::{is_false, SECRET_PREFIX, TEMPLATE_PREFIX, VAULT_PREFIX};
use super::super::Violation;

/// What tenantguard does with an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Judged by `vault-boundaries` itself.
    Judged,
    /// Only shapes the agent containers.
    AgentOnly,
    /// Admitted only when it reads as false (Go's `strconv.ParseBool`).
    OnlyFalse,
    /// `agent-cache-enable`: admitted when off, or when the cache does not
    /// forward requests with the agent's token.
    Cache,
    /// Refused whatever its value.
    Refused,
}

use Treatment::{AgentOnly, Cache, Judged, OnlyFalse, Refused};

/// One annotation name (after `vault.hashicorp.com/`), or a family of names
/// when `family` (then `name` is the prefix, e.g. `agent-inject-secret-`).
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: &'static str,
    pub family: bool,
    pub treatment: Treatment,
    /// For an admitted entry, why it is safe; for a refused one, why not.
    pub why: &'static str,
}

const fn one(name: &'static str, treatment: Treatment, why: &'static str) -> Entry {
    Entry {
        name,
        family: false,
        treatment,
        why,
    }
}

const fn family(name: &'static str, treatment: Treatment, why: &'static str) -> Entry {
    Entry {
        name,
        family: true,
        treatment,
        why,
    }
}

const SHAPE_RETRY: &str = "how the agent retries and times out; not what it reads";
const SHAPE_SECURITY: &str = "the agent containers' security context, which Pod Security admission judges like any container's";
const TRUST: &str = "chooses which server the agent trusts with its login and token (Vault's TLS is configured in the Injector, not in tenant pods)";
const TOKEN_EVERYWHERE: &str = "any container of the pod could use the agent's Vault token for every path the role allows, not only the paths tenantguard judged";

#[rustfmt::skip]
pub(crate) const TABLE: &[Entry] = &[
    // Judged by vault-boundaries.
    one("agent-inject", Judged, "turns the Injector on or off; what the agent then reads is judged by the entries below"),
    one("role", Judged, "must be the tenant's role"),
    one("namespace", Judged, "must be the tenant's Vault namespace"),
    one("auth-path", Judged, "must be the tenant's auth mount"),
    family("agent-inject-secret-", Judged, "the path must lie inside the tenant's secrets path"),
    family("agent-inject-template-", Judged, "every path the template reads must lie inside the tenant's secrets path"),
    family("agent-template-left-delim-", Judged, "the delimiters tenantguard reads the template with"),
    family("agent-template-right-delim-", Judged, "the delimiters tenantguard reads the template with"),
    // Only shape the agent containers.
    one("agent-inject-status", AgentOnly, "the Injector's own marker; \"injected\" only stops a second injection"),
    one("agent-init-first", AgentOnly, "the order of the init containers"),
    one("agent-pre-populate", AgentOnly, "whether an init container renders the secrets before the app starts"),
    one("agent-pre-populate-only", AgentOnly, "whether the sidecar runs after the init container"),
    family("agent-requests-", AgentOnly, "resource requests of the agent containers (vault-injection sets them)"),
    family("agent-limits-", AgentOnly, "resource limits of the agent containers (vault-injection sets them)"),
    family("agent-inject-file-", AgentOnly, "the name of the rendered file in the secrets volume"),
    family("agent-inject-perms-", AgentOnly, "the mode of the rendered file"),
    one("agent-inject-containers", AgentOnly, "which app containers mount the secrets volume"),
    one("agent-inject-default-template", AgentOnly, "the output format (map or json) of the template built from agent-inject-secret-*, whose path is judged"),
    one("secret-volume-path", AgentOnly, "where the secrets volume is mounted"),
    family("secret-volume-path-", AgentOnly, "where one secret's file is mounted"),
    one("preserve-secret-case", AgentOnly, "the case of the rendered file names"),
    family("preserve-secret-case-", AgentOnly, "the case of one rendered file name"),
    family("error-on-missing-key-", AgentOnly, "whether a template fails on a missing key"),
    one("agent-revoke-on-shutdown", AgentOnly, "the agent revokes its own token when the pod stops"),
    one("agent-revoke-grace", AgentOnly, "how long the agent has to revoke its token"),
    one("agent-run-as-user", AgentOnly, SHAPE_SECURITY),
    one("agent-run-as-group", AgentOnly, SHAPE_SECURITY),
    one("agent-run-as-same-user", AgentOnly, SHAPE_SECURITY),
    one("agent-set-security-context", AgentOnly, SHAPE_SECURITY),
    one("agent-share-process-namespace", AgentOnly, "shares the pod's process namespace, which the pod spec can do itself (shareProcessNamespace)"),
    one("agent-cache-listener-port", AgentOnly, "the port of the cache listener; whether it forwards the agent's token is judged with agent-cache-enable"),
    one("agent-cache-exit-on-err", AgentOnly, "whether the agent stops on a broken persistent cache"),
    one("agent-enable-quit", AgentOnly, "lets the pod stop its own agent"),
    one("agent-auto-auth-exit-on-err", AgentOnly, SHAPE_RETRY),
    one("auth-min-backoff", AgentOnly, SHAPE_RETRY),
    one("auth-max-backoff", AgentOnly, SHAPE_RETRY),
    one("client-max-retries", AgentOnly, SHAPE_RETRY),
    one("client-timeout", AgentOnly, SHAPE_RETRY),
    one("template-config-exit-on-retry-failure", AgentOnly, SHAPE_RETRY),
    one("template-static-secret-render-interval", AgentOnly, "how often the judged templates are rendered again"),
    one("template-max-connections-per-host", AgentOnly, "how many connections the agent opens to Vault"),
    one("agent-disable-idle-connections", AgentOnly, "connection reuse of the agent"),
    one("agent-disable-keep-alives", AgentOnly, "connection reuse of the agent"),
    one("log-level", AgentOnly, "the agent's own logs"),
    one("log-format", AgentOnly, "the agent's own logs"),
    one("go-max-procs", AgentOnly, "the agent's CPU use"),
    one("agent-metrics-listener-port", AgentOnly, "the agent's own metrics"),
    family("agent-telemetry-", AgentOnly, "the agent's own metrics"),
    // Admitted only when off.
    one("agent-inject-token", OnlyFalse, "writes the agent's Vault token into the secrets volume, where any container of the pod could use it for every path the role allows, not only the paths tenantguard judged"),
    one("agent-cache-use-auto-auth-token", OnlyFalse, "makes the agent cache send requests from the pod's containers to Vault with the agent's token (\"true\" when they carry none, \"force\" always), so they reach every path the role allows, not only the paths tenantguard judged"),
    one("tls-skip-verify", OnlyFalse, "makes the agent send its login and token to whichever server answers"),
    one("agent-cache-enable", Cache, "starts a cache listener that forwards requests from the pod's containers to Vault with the agent's token (agent-cache-use-auto-auth-token is \"true\" unless set)"),
    // Refused.
    family("auth-config-", Refused, "sets parameters of the agent's Vault login: auth-config-role is used whenever role is empty, so the pod could pick any role, and others pick the credential it logs in with"),
    one("auth-type", Refused, "picks the agent's login method (the Injector's configuration decides it)"),
    family("agent-inject-command-", Refused, "runs a command in the agent container after rendering"),
    family("agent-inject-template-file-", Refused, "takes the template from a file tenantguard cannot read, so the paths it reads cannot be checked"),
    one("agent-configmap", Refused, "replaces the agent's configuration with one tenantguard cannot read: any role, any path, any command"),
    one("agent-extra-secret", Refused, "mounts a Secret into the agent for a configuration tenantguard cannot read"),
    one("agent-json-patch", Refused, "patches the agent container (command, image, environment, templates) beyond what tenantguard can read"),
    one("agent-init-json-patch", Refused, "patches the agent init container (command, image, environment, templates) beyond what tenantguard can read"),
    one("agent-image", Refused, "runs an image of the pod's choosing with the agent's Vault login and configuration"),
    one("agent-copy-volume-mounts", Refused, "mounts an app container's volumes into the agent, where they can replace files the agent trusts or reach where it keeps its token"),
    one("agent-service-account-token-volume-name", Refused, "chooses the token the agent logs in to Vault with"),
    one("agent-request-namespace", Refused, "is the Injector's own record of the request's namespace, not for pods to set"),
    one("service", Refused, "points the agent at another Vault server, which receives the pod's login and where the role and paths mean something else"),
    one("proxy-address", Refused, "sends the agent's Vault traffic, token included, through a proxy of the pod's choosing"),
    one("tls-secret", Refused, TRUST),
    one("tls-server-name", Refused, TRUST),
    one("ca-cert", Refused, TRUST),
    one("ca-key", Refused, TRUST),
    one("client-cert", Refused, TRUST),
    one("client-key", Refused, TRUST),
];

/// The entry for an annotation name (after `vault.hashicorp.com/`): an
/// exact name first, else the longest family prefix (so
/// `agent-inject-template-file-` wins over `agent-inject-template-`).
pub(crate) fn entry(name: &str) -> Option<&'static Entry> {
    TABLE
        .iter()
        .find(|e| !e.family && e.name == name)
        .or_else(|| {
            TABLE
                .iter()
                .filter(|e| e.family && name.starts_with(e.name))
                .max_by_key(|e| e.name.len())
        })
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Violations for annotations outside the allow-list, in key order.
pub(super) fn check(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &str,
) -> Vec<Violation> {
    let mut keys: Vec<(&String, &Value)> = annotations
        .iter()
        .filter(|(k, v)| k.contains(VAULT_PREFIX) && !v.is_null())
        .collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    let cache_forwards = annotations
        .get(&format!("{VAULT_PREFIX}agent-cache-use-auto-auth-token"))
        .is_none_or(|v| !is_false(&text(v)));
    let mut out = Vec::new();
    for (key, value) in keys {
        let where_ = at(key);
        let value = text(value);
        let (lead, name) = key.split_once(VAULT_PREFIX).unwrap_or_default();
        let why = match entry(name) {
            // A look-alike key (`x.vault.hashicorp.com/role`): the Injector
            // reads annotations by their exact key, except that older
            // Injectors matched secret and template keys by substring,
            // which is why tenantguard judges those wherever they appear.
            _ if !lead.is_empty()
                && !key.contains(SECRET_PREFIX)
                && !key.contains(TEMPLATE_PREFIX) =>
            {
                format!(
                    "{where_}: a look-alike of the Vault Agent Injector annotation {VAULT_PREFIX}{name}, which tenantguard does not admit in tenant pods; use the exact key or remove it"
                )
            }
            Some(e) if e.treatment == Refused => format!(
                "{where_}: this annotation {}; tenantguard cannot judge that against tenant {tenant:?}'s Vault boundaries, so tenant pods may not set it; remove it",
                e.why
            ),
            Some(e) if e.treatment == OnlyFalse && !is_false(&value) => format!(
                "{where_}: {value:?} {}; remove it or set it to \"false\"",
                e.why
            ),
            Some(e) if e.treatment == Cache && !is_false(&value) && cache_forwards => format!(
                "{where_}: {value:?} {}, so {TOKEN_EVERYWHERE}; set {VAULT_PREFIX}agent-cache-use-auto-auth-token: \"false\" or remove it",
                e.why
            ),
            Some(_) => continue,
            None => format!(
                "{where_}: tenantguard does not know this Vault Agent Injector annotation, so it cannot judge whether it changes which secrets are read or with which login; tenant pods may carry only the annotations tenantguard judges or that only shape the agent; remove it"
            ),
        };
        out.push(Violation::new(&where_, why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(annotations: Value) -> Vec<String> {
        let map = annotations.as_object().cloned().unwrap_or_default();
        check(&map, &|k: &str| format!("m.{k}"), "acme")
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    #[rustfmt::skip]
    fn cases() {
        // (name, annotations, keys refused)
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            // admitted: judged elsewhere, or only shaping the agent
            ("judged ones", json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "x",
                "vault.hashicorp.com/namespace": "x",
                "vault.hashicorp.com/auth-path": "x",
                "vault.hashicorp.com/agent-inject-secret-db": "x",
                "vault.hashicorp.com/agent-inject-template-db": "x",
                "vault.hashicorp.com/agent-template-left-delim-db": "[[",
                "vault.hashicorp.com/agent-template-right-delim-db": "]]",
            }), vec![]),
            ("what vault-injection sets for the agent's resources", json!({
                "vault.hashicorp.com/agent-requests-cpu": "50m",
                "vault.hashicorp.com/agent-requests-mem": "64Mi",
                "vault.hashicorp.com/agent-limits-cpu": "100m",
                "vault.hashicorp.com/agent-limits-mem": "128Mi",
                "vault.hashicorp.com/agent-limits-ephemeral": "1Gi",
            }), vec![]),
            ("agent shape", json!({
                "vault.hashicorp.com/agent-inject-status": "injected",
                "vault.hashicorp.com/agent-pre-populate": "false",
                "vault.hashicorp.com/agent-pre-populate-only": "true",
                "vault.hashicorp.com/agent-init-first": "true",
                "vault.hashicorp.com/agent-inject-file-db": "db.env",
                "vault.hashicorp.com/agent-inject-perms-db": "0400",
                "vault.hashicorp.com/agent-inject-containers": "app",
                "vault.hashicorp.com/agent-inject-default-template": "json",
                "vault.hashicorp.com/agent-run-as-user": "1000",
                "vault.hashicorp.com/agent-run-as-group": "1000",
                "vault.hashicorp.com/agent-run-as-same-user": "true",
                "vault.hashicorp.com/agent-set-security-context": "true",
                "vault.hashicorp.com/secret-volume-path": "/vault/secrets",
                "vault.hashicorp.com/error-on-missing-key-db": "true",
                "vault.hashicorp.com/log-level": "debug",
                "vault.hashicorp.com/agent-telemetry-prometheus_retention_time": "30s",
            }), vec![]),
            ("switches that are off", json!({
                "vault.hashicorp.com/agent-inject-token": "false",
                "vault.hashicorp.com/tls-skip-verify": "False",
                "vault.hashicorp.com/agent-cache-enable": "false",
                "vault.hashicorp.com/agent-cache-use-auto-auth-token": "0",
            }), vec![]),
            ("cache that does not forward the agent's token", json!({
                "vault.hashicorp.com/agent-cache-enable": "true",
                "vault.hashicorp.com/agent-cache-use-auto-auth-token": "false",
                "vault.hashicorp.com/agent-cache-listener-port": "8300",
            }), vec![]),
            ("other prefixes are not the Injector's", json!({"example.com/vault": "x", "vault.example.com/role": "x"}), vec![]),
            ("a null counts as unset", json!({"vault.hashicorp.com/agent-configmap": null}), vec![]),
            // refused
            ("auth-config family", json!({
                "vault.hashicorp.com/auth-config-role": "globex-app",
                "vault.hashicorp.com/auth-config-token-path": "/var/run/other/token",
            }), vec!["m.vault.hashicorp.com/auth-config-role", "m.vault.hashicorp.com/auth-config-token-path"]),
            ("a command", json!({"vault.hashicorp.com/agent-inject-command-db": "pkill -HUP app"}), vec!["m.vault.hashicorp.com/agent-inject-command-db"]),
            ("the token handed out", json!({"vault.hashicorp.com/agent-inject-token": "true"}), vec!["m.vault.hashicorp.com/agent-inject-token"]),
            ("the token handed out, Go spelling", json!({"vault.hashicorp.com/agent-inject-token": "T"}), vec!["m.vault.hashicorp.com/agent-inject-token"]),
            ("a switch that cannot be read counts as on", json!({"vault.hashicorp.com/agent-inject-token": "yes"}), vec!["m.vault.hashicorp.com/agent-inject-token"]),
            ("cache forcing the agent's token", json!({
                "vault.hashicorp.com/agent-cache-enable": "true",
                "vault.hashicorp.com/agent-cache-use-auto-auth-token": "force",
            }), vec!["m.vault.hashicorp.com/agent-cache-enable", "m.vault.hashicorp.com/agent-cache-use-auto-auth-token"]),
            ("cache with the default token forwarding", json!({"vault.hashicorp.com/agent-cache-enable": "true"}), vec!["m.vault.hashicorp.com/agent-cache-enable"]),
            ("configmap, extra secret, patches", json!({
                "vault.hashicorp.com/agent-configmap": "mine",
                "vault.hashicorp.com/agent-extra-secret": "mine",
                "vault.hashicorp.com/agent-init-json-patch": "[]",
                "vault.hashicorp.com/agent-json-patch": "[]",
            }), vec!["m.vault.hashicorp.com/agent-configmap", "m.vault.hashicorp.com/agent-extra-secret", "m.vault.hashicorp.com/agent-init-json-patch", "m.vault.hashicorp.com/agent-json-patch"]),
            ("a template file wins over the template family", json!({"vault.hashicorp.com/agent-inject-template-file-db": "/vault/custom/db.tmpl"}), vec!["m.vault.hashicorp.com/agent-inject-template-file-db"]),
            ("server, proxy and TLS", json!({
                "vault.hashicorp.com/service": "https://vault.evil.example:8200",
                "vault.hashicorp.com/proxy-address": "http://proxy:3128",
                "vault.hashicorp.com/tls-skip-verify": "true",
                "vault.hashicorp.com/ca-cert": "/vault/tls/ca.crt",
            }), vec!["m.vault.hashicorp.com/ca-cert", "m.vault.hashicorp.com/proxy-address", "m.vault.hashicorp.com/service", "m.vault.hashicorp.com/tls-skip-verify"]),
            ("image, login method and token", json!({
                "vault.hashicorp.com/agent-image": "evil/agent:1",
                "vault.hashicorp.com/auth-type": "jwt",
                "vault.hashicorp.com/agent-service-account-token-volume-name": "other",
                "vault.hashicorp.com/agent-copy-volume-mounts": "app",
            }), vec!["m.vault.hashicorp.com/agent-copy-volume-mounts", "m.vault.hashicorp.com/agent-image", "m.vault.hashicorp.com/agent-service-account-token-volume-name", "m.vault.hashicorp.com/auth-type"]),
            ("unknown names and case variants", json!({
                "vault.hashicorp.com/agent-sidecar-type": "proxy",
                "vault.hashicorp.com/Agent-Inject-Command-db": "x",
            }), vec!["m.vault.hashicorp.com/Agent-Inject-Command-db", "m.vault.hashicorp.com/agent-sidecar-type"]),
            ("look-alike keys", json!({
                "x.vault.hashicorp.com/role": "acme",
                "x.vault.hashicorp.com/agent-requests-cpu": "1",
                "x.vault.hashicorp.com/agent-inject-secret-db": "judged as a secret",
            }), vec!["m.x.vault.hashicorp.com/agent-requests-cpu", "m.x.vault.hashicorp.com/role"]),
        ];
        for (name, ann, want) in cases {
            assert_eq!(run(ann), want, "{name}");
        }
    }

    #[test]
    fn every_entry_says_why_and_names_are_unique() {
        for (i, e) in TABLE.iter().enumerate() {
            assert!(!e.why.is_empty(), "{}", e.name);
            assert_eq!(
                e.family,
                e.name.ends_with('-'),
                "{}: families end with '-'",
                e.name
            );
            assert!(
                !TABLE[..i]
                    .iter()
                    .any(|o| o.name == e.name && o.family == e.family),
                "{} listed twice",
                e.name
            );
        }
        // The longest family wins.
        assert_eq!(
            entry("agent-inject-template-file-x").map(|e| e.treatment),
            Some(Refused)
        );
        assert_eq!(
            entry("agent-inject-template-x").map(|e| e.treatment),
            Some(Judged)
        );
        assert_eq!(
            entry("agent-inject-token").map(|e| e.treatment),
            Some(OnlyFalse)
        );
        assert!(entry("agent-inject-").is_none() && entry("").is_none());
    }

    #[test]
    fn messages_say_why_and_how() {
        let map = json!({
            "vault.hashicorp.com/agent-inject-command-db": "x",
            "vault.hashicorp.com/agent-cache-enable": "true",
            "vault.hashicorp.com/agent-inject-token": "true",
            "vault.hashicorp.com/agent-whatever": "x",
        });
        let msgs: Vec<String> = check(
            map.as_object().unwrap_or(&Map::new()),
            &|k: &str| format!("m.{k}"),
            "acme",
        )
        .into_iter()
        .map(|v| v.message)
        .collect();
        assert_eq!(msgs[0], "m.vault.hashicorp.com/agent-cache-enable: \"true\" starts a cache listener that forwards requests from the pod's containers to Vault with the agent's token (agent-cache-use-auto-auth-token is \"true\" unless set), so any container of the pod could use the agent's Vault token for every path the role allows, not only the paths tenantguard judged; set vault.hashicorp.com/agent-cache-use-auto-auth-token: \"false\" or remove it");
        assert_eq!(msgs[1], "m.vault.hashicorp.com/agent-inject-command-db: this annotation runs a command in the agent container after rendering; tenantguard cannot judge that against tenant \"acme\"'s Vault boundaries, so tenant pods may not set it; remove it");
        assert!(msgs[2].starts_with("m.vault.hashicorp.com/agent-inject-token: \"true\" writes the agent's Vault token into the secrets volume") && msgs[2].ends_with("remove it or set it to \"false\""), "{}", msgs[2]);
        assert!(msgs[3].starts_with("m.vault.hashicorp.com/agent-whatever: tenantguard does not know this Vault Agent Injector annotation"), "{}", msgs[3]);
    }
}
