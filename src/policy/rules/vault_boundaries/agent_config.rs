//! Vault Agent Injector annotations that would let a pod get around the
//! role, namespace and path checks: a different auth mount (where the same
//! role name can belong to someone else), and agent configuration tenantguard
//! cannot read (a ConfigMap, template files, JSON patches of the agent
//! containers). Reference:
//! <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>.

use serde_json::{Map, Value};

use super::super::Violation;
use crate::tenancy::TenantRef;

const AUTH_PATH: &str = "vault.hashicorp.com/auth-path";

/// Annotations whose content tenantguard cannot judge, with why.
const OPAQUE: [(&str, &str); 3] = [
    (
        "vault.hashicorp.com/agent-configmap",
        "a custom agent configuration can log in with any role and render any path",
    ),
    (
        "vault.hashicorp.com/agent-json-patch",
        "a JSON patch of the agent container can change its role, address and templates",
    ),
    (
        "vault.hashicorp.com/agent-init-json-patch",
        "a JSON patch of the agent init container can change its role, address and templates",
    ),
];

const TEMPLATE_FILE: &str = "vault.hashicorp.com/agent-inject-template-file-";

fn trimmed(p: &str) -> &str {
    p.trim_matches('/')
}

/// Violations for the auth path and opaque agent configuration.
pub(super) fn check(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &TenantRef<'_>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(v) = annotations.get(AUTH_PATH).filter(|v| !v.is_null()) {
        let asked = v.as_str().unwrap_or("");
        match tenant.vault_auth_path() {
            Some(own) if trimmed(own) == trimmed(asked) => {}
            Some(own) => out.push(Violation::new(
                at(AUTH_PATH),
                format!(
                    "{}: Vault auth path {asked:?} is not tenant {:?}'s {own:?}; set it to {own:?} or remove it (tenantguard fills it in)",
                    at(AUTH_PATH),
                    tenant.name
                ),
            )),
            None => out.push(Violation::new(
                at(AUTH_PATH),
                format!(
                    "{}: tenant {:?} has no Vault auth path configured, so its pods may not choose one ({asked:?}); remove the annotation",
                    at(AUTH_PATH),
                    tenant.name
                ),
            )),
        }
    }
    for (key, why) in OPAQUE {
        if annotations.contains_key(key) {
            out.push(Violation::new(
                at(key),
                format!(
                    "{}: {why}, which tenantguard cannot check against tenant {:?}'s Vault boundaries; use agent-inject-secret-* and agent-inject-template-* annotations instead",
                    at(key),
                    tenant.name
                ),
            ));
        }
    }
    let mut files: Vec<&String> = annotations
        .keys()
        .filter(|k| k.contains(TEMPLATE_FILE))
        .collect();
    files.sort();
    for key in files {
        out.push(Violation::new(
            at(key),
            format!(
                "{}: a template file comes from a volume tenantguard cannot read, so its Vault paths cannot be checked; put the template in an agent-inject-template-* annotation",
                at(key)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    fn run(w: &World, annotations: Value) -> Vec<String> {
        let t = w.inventory.tenant("acme", &w.settings);
        let map = annotations.as_object().unwrap().clone();
        check(&map, &|k: &str| format!("metadata.annotations.{k}"), &t)
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let w = World::new();
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("no annotations", json!({}), vec![]),
            ("own auth path", json!({"vault.hashicorp.com/auth-path": "auth/kubernetes"}), vec![]),
            ("own auth path with slashes", json!({"vault.hashicorp.com/auth-path": "/auth/kubernetes/"}), vec![]),
            ("another auth mount", json!({"vault.hashicorp.com/auth-path": "auth/globex-k8s"}), vec!["metadata.annotations.vault.hashicorp.com/auth-path"]),
            ("agent configmap", json!({"vault.hashicorp.com/agent-configmap": "my-agent"}), vec!["metadata.annotations.vault.hashicorp.com/agent-configmap"]),
            ("agent json patch", json!({"vault.hashicorp.com/agent-json-patch": "[]"}), vec!["metadata.annotations.vault.hashicorp.com/agent-json-patch"]),
            ("init json patch", json!({"vault.hashicorp.com/agent-init-json-patch": "[]"}), vec!["metadata.annotations.vault.hashicorp.com/agent-init-json-patch"]),
            ("template file", json!({"vault.hashicorp.com/agent-inject-template-file-db": "/vault/custom/db.tmpl"}), vec!["metadata.annotations.vault.hashicorp.com/agent-inject-template-file-db"]),
        ];
        for (name, ann, want) in cases {
            assert_eq!(run(&w, ann), want, "{name}");
        }
    }

    #[test]
    fn no_auth_path_anywhere_means_none_may_be_chosen() {
        let mut w = World::new();
        w.settings.vault.auth_path = None;
        assert_eq!(
            run(
                &w,
                json!({"vault.hashicorp.com/auth-path": "auth/kubernetes"})
            ),
            ["metadata.annotations.vault.hashicorp.com/auth-path"]
        );
    }
}
