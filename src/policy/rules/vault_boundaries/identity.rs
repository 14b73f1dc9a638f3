//! Who the agent logs in as: the Vault role, the Vault namespace and the
//! auth mount a tenant pod names must be its tenant's (`vault-injection`
//! fills them in when missing). A different auth mount matters as much as a
//! different role: the same role name can belong to someone else there.

use serde_json::{Map, Value};

use super::super::vault_injection::{AUTH_PATH, NAMESPACE, ROLE};
use super::super::Violation;
use crate::tenancy::TenantRef;

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Trims the slashes Vault ignores around a namespace or mount path.
fn trimmed(p: &str) -> &str {
    p.trim_matches('/')
}

/// Violations for the role, the Vault namespace and the auth path, in that order.
pub(super) fn check(
    annotations: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    tenant: &TenantRef<'_>,
) -> Vec<Violation> {
    let get = |key: &str| annotations.get(key).filter(|v| !v.is_null());
    let name = tenant.name;
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
            Some(own) if trimmed(own) == trimmed(&asked) => {}
            Some(own) => out.push(Violation::new(
                at(NAMESPACE),
                format!(
                    "{}: Vault namespace {asked:?} is not tenant {name:?}'s namespace {own:?}; set it to {own:?} or remove it (tenantguard fills it in)",
                    at(NAMESPACE)
                ),
            )),
            None if trimmed(&asked).is_empty() => {}
            None => out.push(Violation::new(
                at(NAMESPACE),
                format!(
                    "{}: tenant {name:?} has no Vault namespace, so its pods may not name one ({asked:?}); remove the annotation",
                    at(NAMESPACE)
                ),
            )),
        }
    }

    if let Some(v) = get(AUTH_PATH) {
        let asked = v.as_str().unwrap_or("");
        match tenant.vault_auth_path() {
            Some(own) if trimmed(own) == trimmed(asked) => {}
            Some(own) => out.push(Violation::new(
                at(AUTH_PATH),
                format!(
                    "{}: Vault auth path {asked:?} is not tenant {name:?}'s {own:?}; set it to {own:?} or remove it (tenantguard fills it in)",
                    at(AUTH_PATH),
                ),
            )),
            None => out.push(Violation::new(
                at(AUTH_PATH),
                format!(
                    "{}: tenant {name:?} has no Vault auth path configured, so its pods may not choose one ({asked:?}); remove the annotation",
                    at(AUTH_PATH),
                ),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    const VAULT_TENANT: &str =
        "vault: {role: acme-app, secretsPath: secret/data/tenants/acme, namespace: team/acme}";
    const R: &str = "metadata.annotations.vault.hashicorp.com/role";
    const NS: &str = "metadata.annotations.vault.hashicorp.com/namespace";
    const AP: &str = "metadata.annotations.vault.hashicorp.com/auth-path";

    fn run(w: &World, annotations: Value) -> Vec<String> {
        let t = w.inventory.tenant("acme", &w.settings);
        let map = annotations.as_object().cloned().unwrap_or_default();
        check(&map, &|k: &str| format!("metadata.annotations.{k}"), &t)
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let declared = World::new().with_tenant("acme", VAULT_TENANT);
        let plain = World::new();
        let cases: Vec<(&str, &World, Value, Vec<&str>)> = vec![
            ("all the tenant's own", &declared, json!({"vault.hashicorp.com/role": "acme-app", "vault.hashicorp.com/namespace": "team/acme/", "vault.hashicorp.com/auth-path": "/auth/kubernetes/"}), vec![]),
            ("none set", &declared, json!({}), vec![]),
            ("a null counts as unset", &declared, json!({"vault.hashicorp.com/role": null}), vec![]),
            ("another tenant's role", &declared, json!({"vault.hashicorp.com/role": "globex"}), vec![R]),
            ("the default role when the Tenant sets one", &declared, json!({"vault.hashicorp.com/role": "acme"}), vec![R]),
            ("a role that is not a string", &declared, json!({"vault.hashicorp.com/role": 7}), vec![R]),
            ("undeclared tenant: the default role", &plain, json!({"vault.hashicorp.com/role": "acme"}), vec![]),
            ("another Vault namespace", &declared, json!({"vault.hashicorp.com/namespace": "team/globex"}), vec![NS]),
            ("a child of the own namespace", &declared, json!({"vault.hashicorp.com/namespace": "team/acme/child"}), vec![NS]),
            ("any namespace when the tenant has none", &plain, json!({"vault.hashicorp.com/namespace": "acme"}), vec![NS]),
            ("an empty namespace when the tenant has none", &plain, json!({"vault.hashicorp.com/namespace": "/"}), vec![]),
            ("another auth mount", &declared, json!({"vault.hashicorp.com/auth-path": "auth/globex-k8s"}), vec![AP]),
            ("all three wrong, in order", &declared, json!({"vault.hashicorp.com/auth-path": "x", "vault.hashicorp.com/namespace": "root", "vault.hashicorp.com/role": "root"}), vec![R, NS, AP]),
        ];
        for (name, w, ann, want) in cases {
            assert_eq!(run(w, ann), want, "{name}");
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
            [AP]
        );
    }
}
