//! Issue 15 over HTTPS against the real server: `maxNamespaces` in
//! `namespace-ownership` and the Vault Agent's resource annotations set by
//! `vault-injection`, as the apiserver would send the reviews.

mod common;

use common::Client;
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
    common::serve_tenancy(TENANTS).await
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

/// `vault-injection` sets the Agent's resource annotations over HTTPS,
/// exact strings, without touching those already set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_agent_resources_over_https() {
    let (_s, mut c, _dir) = server().await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/agent-limits-mem": "256Mi"}},
        "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
    let r = review(OWNER, "CREATE", "Pod", "acme-prod", pod);
    let v = c.post_json("/mutate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let mut obj = r["request"]["object"].clone();
    let patch = common::patch_of(&v).unwrap_or_else(|| panic!("expected a patch: {v}"));
    json_patch::patch(&mut obj, &patch).unwrap();
    let a = &obj["metadata"]["annotations"];
    assert_eq!(a["vault.hashicorp.com/agent-requests-cpu"], "25m", "{a}");
    assert_eq!(a["vault.hashicorp.com/agent-requests-mem"], "32Mi", "{a}");
    assert_eq!(a["vault.hashicorp.com/agent-limits-cpu"], "100m", "{a}");
    assert_eq!(
        a["vault.hashicorp.com/agent-limits-mem"], "256Mi",
        "kept: {a}"
    );
    // The mutated pod passes validation (vault-boundaries admits them).
    let r = review(OWNER, "CREATE", "Pod", "acme-prod", obj);
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}

/// `check`'s text output shows the pod's requests and limits with the
/// Vault Agent containers; its JSON output keeps exactly the contract's fields.
#[test]
fn check_shows_the_pod_with_its_vault_agent() {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(
        dir.path(),
        "inv.yaml",
        &format!("{}---\n{TENANTS}", common::INVENTORY),
    );
    let input = common::write_file(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: acme-prod, annotations: {vault.hashicorp.com/agent-inject: \"true\"}}
spec:
  containers:
    - name: app
      image: x
      resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
",
    );
    let run = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenantguard"))
            .args(["check", "-f"])
            .arg(&input)
            .arg("--inventory")
            .arg(&inv)
            .args([
                "--policies",
                concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
            ])
            .args(["--output", output])
            .output()
            .unwrap()
    };
    let out = run("text");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("  pod   requests cpu 125m, memory 160Mi; limits cpu 600m, memory 576Mi (with the Vault Agent)"),
        "{text}"
    );
    assert!(
        text.contains("Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi"),
        "{text}"
    );
    let out = run("json");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v["results"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "allowed",
            "kind",
            "name",
            "namespace",
            "patch",
            "source",
            "tenant",
            "violations",
            "warnings"
        ]
    );
}
