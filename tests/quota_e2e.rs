//! Issue 15 over HTTPS against the real server: `maxNamespaces` in
//! `namespace-ownership` and the Vault Agent's resource annotations set by
//! `vault-injection`, as the apiserver would send the reviews.

mod common;

use common::{start, Client, Opts, Proto};
use serde_json::{json, Value};

/// acme (cap 2) already has `default` and `acme-prod` (common::INVENTORY);
/// globex (cap 3) has `globex-prod`.
const TENANTS: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: Group, name: acme-admins}]
  maxNamespaces: 2
  vault:
    agentResources:
      requests: {cpu: 25m, memory: 32Mi}
      limits: {cpu: 100m, memory: 64Mi}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  owners: [{kind: Group, name: globex-admins}]
  maxNamespaces: 3
";

const OWNER: (&str, &[&str]) = ("dave", &["acme-admins", "system:authenticated"]);
const ADMIN: (&str, &[&str]) = ("root", &["system:masters", "system:authenticated"]);

fn review(user: (&str, &[&str]), op: &str, kind: &str, ns: &str, object: Value) -> Value {
    let resource = format!("{}s", kind.to_lowercase());
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("{kind}-{op}-{ns}"), "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": resource},
        "namespace": ns, "operation": op,
        "name": object["metadata"]["name"].as_str().unwrap_or(""),
        "userInfo": {"username": user.0, "groups": user.1},
        "object": object}})
}

fn namespace(name: &str, tenant: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name,
        "labels": {"kubernetes.io/metadata.name": name, "tenantguard.io/tenant": tenant}}})
}

fn message(v: &Value) -> &str {
    v["response"]["status"]["message"].as_str().unwrap_or("")
}

async fn server() -> (common::Server, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(
        dir.path(),
        "inv.yaml",
        &format!("{}---\n{TENANTS}", common::INVENTORY),
    );
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    let c = Client::connect(&s, Proto::H2).await.unwrap();
    (s, c, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_namespaces_over_https() {
    let (_s, mut c, _dir) = server().await;
    for who in [OWNER, ADMIN] {
        let r = review(
            who,
            "CREATE",
            "Namespace",
            "acme-third",
            namespace("acme-third", "acme"),
        );
        let v = c.post_json("/validate", &r).await.json();
        assert_eq!(v["response"]["allowed"], false, "{v}");
        assert_eq!(v["response"]["uid"], r["request"]["uid"]);
        assert!(
            message(&v).contains("[namespace-ownership]")
                && message(&v).contains(
                    "tenant \"acme\" already has 2 namespaces and its maxNamespaces is 2"
                ),
            "{who:?}: {v}"
        );
    }
    // Below its cap, globex takes one more; an UPDATE of a full tenant's
    // namespace is not judged by the cap.
    let r = review(
        ADMIN,
        "CREATE",
        "Namespace",
        "globex-dev",
        namespace("globex-dev", "globex"),
    );
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let mut r = review(
        OWNER,
        "UPDATE",
        "Namespace",
        "acme-prod",
        namespace("acme-prod", "acme"),
    );
    r["request"]["oldObject"] = namespace("acme-prod", "acme");
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}
