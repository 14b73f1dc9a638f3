//! One case per rule over HTTPS against the real server, with the baseline
//! `policies/` and declared tenants: what each rule does reaches the
//! apiserver as it should (denial text with the rule id, or a patch).

mod common;

use common::{start, Client, Opts, Proto};
use serde_json::{json, Value};

const TENANTS: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: Group, name: acme-admins}]
  namespaceLabels: {team: acme}
  containerDefaults:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 512Mi}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  owners: [{kind: Group, name: globex-admins}]
  nodeSelector: {pool: globex}
";

fn review(
    op: &str,
    group: &str,
    kind: &str,
    ns: &str,
    groups: &[&str],
    object: Option<Value>,
    old: Option<Value>,
) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("{kind}-{op}"), "kind": {"group": group, "version": "v1", "kind": kind},
        "namespace": ns, "operation": op, "name": "x",
        "userInfo": {"username": "dave", "groups": groups},
        "object": object, "oldObject": old}})
}

fn pod(annotations: Value, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "annotations": annotations}, "spec": {"containers": containers}})
}

fn limited() -> Value {
    json!([{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])
}

/// The object after the response's patch.
fn patched(r: &Value, v: &Value) -> Value {
    let mut obj = r["request"]["object"].clone();
    let p = common::patch_of(v).unwrap_or_else(|| panic!("expected a patch: {v}"));
    json_patch::patch(&mut obj, &p).unwrap();
    obj
}

fn denied_by(v: &Value, rule: &str) {
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(&format!("[{rule}]")),
        "expected [{rule}] in {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_over_https() {
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
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let user = ["acme-admins", "system:authenticated"];

    // tenant-labels: a Service gets the tenant label.
    let r = review(
        "CREATE",
        "",
        "Service",
        "acme-prod",
        &user,
        Some(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}})),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    assert_eq!(
        patched(&r, &v)["metadata"]["labels"]["tenantguard.io/tenant"],
        "acme"
    );

    // namespace-labels: an acme owner's new namespace gets acme's labels.
    let r = review(
        "CREATE",
        "",
        "Namespace",
        "",
        &user,
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-new"}})),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let ns = patched(&r, &v);
    assert_eq!(ns["metadata"]["labels"]["tenantguard.io/tenant"], "acme");
    assert_eq!(ns["metadata"]["labels"]["team"], "acme");

    // container-defaults: missing resources are filled from the Tenant.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(json!({}), json!([{"name": "app"}]))),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let p = patched(&r, &v);
    assert_eq!(
        p["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    assert_eq!(
        p["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "100m"
    );

    // vault-injection: vault-secrets become Injector annotations.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(
            json!({"tenantguard.io/vault-secrets": "db, api"}),
            limited(),
        )),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let a = &patched(&r, &v)["metadata"]["annotations"];
    assert_eq!(a["vault.hashicorp.com/agent-inject"], "true");
    assert_eq!(a["vault.hashicorp.com/role"], "acme");
    assert_eq!(
        a["vault.hashicorp.com/agent-inject-secret-api"],
        "secret/data/tenants/acme/api"
    );

    // node-pool: globex pods go to globex's nodes.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "globex-prod",
        &["globex-admins"],
        Some(pod(json!({}), limited())),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let p = patched(&r, &v);
    assert_eq!(p["spec"]["nodeSelector"]["pool"], "globex");
    assert_eq!(p["spec"]["tolerations"][0]["key"], "pool");

    // require-limits
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(json!({}), json!([{"name": "app"}]))),
        None,
    );
    denied_by(&c.post_json("/validate", &r).await.json(), "require-limits");

    // cross-tenant-selectors: ingress from every namespace.
    let np = |spec: Value| json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": spec});
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "cross-tenant-selectors",
    );

    // restrict-egress: egress to the internet.
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "restrict-egress",
    );

    // The baseline DNS policy passes both.
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
        )),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // namespace-ownership: an acme owner labelling a namespace for globex.
    let r = review(
        "CREATE",
        "",
        "Namespace",
        "",
        &user,
        Some(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sneaky", "labels": {"tenantguard.io/tenant": "globex"}}}),
        ),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "namespace-ownership",
    );

    // vault-boundaries: another tenant's role.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(
            json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "globex"}),
            limited(),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "vault-boundaries",
    );

    // managed-objects: a tenant deleting the controller's NetworkPolicy.
    let mut managed = np(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
    managed["metadata"]["labels"] =
        json!({"app.kubernetes.io/managed-by": "tenantguard", "tenantguard.io/tenant": "acme"});
    let r = review(
        "DELETE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        None,
        Some(managed),
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "managed-objects",
    );
}

/// Issue 11, holes 2 and 3, over HTTPS: Vault paths are judged as the Agent
/// reads them (URLs), templates with the delimiters the pod sets, and only
/// the Injector annotations tenantguard can judge are admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_paths_delimiters_and_annotations_over_https() {
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
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let user = ["acme-admins", "system:authenticated"];
    let validate = |annotations: Value| {
        review(
            "CREATE",
            "",
            "Pod",
            "acme-prod",
            &user,
            Some(pod(annotations, limited())),
            None,
        )
    };
    let denied = [
        // %-escapes decoded, then ".." resolved: globex's secret.
        json!({"vault.hashicorp.com/agent-inject-secret-db":
            "secret/data/tenants/acme/%2e%2E/%2e%2e/tenants/globex/db"}),
        // A query hides the real path.
        json!({"vault.hashicorp.com/agent-inject-secret-db":
            "secret/data/tenants/globex/db?x=/../../acme/db"}),
        // Custom delimiters hide a foreign read.
        json!({
            "vault.hashicorp.com/agent-template-left-delim-db": "[[",
            "vault.hashicorp.com/agent-template-right-delim-db": "]]",
            "vault.hashicorp.com/agent-inject-template-db":
                "[[ with secret \"secret/data/tenants/globex/db\" ]][[ .Data.data.password ]][[ end ]]",
        }),
        // Annotations off the allow-list.
        json!({"vault.hashicorp.com/auth-config-role": "globex"}),
        json!({"vault.hashicorp.com/agent-inject-command-db": "sh -c id"}),
    ];
    for annotations in denied {
        let v = c
            .post_json("/validate", &validate(annotations.clone()))
            .await
            .json();
        denied_by(&v, "vault-boundaries");
        let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
        let key = annotations
            .as_object()
            .and_then(|m| m.keys().find(|k| !k.contains("delim")))
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains(&key), "{key} not named in {msg}");
    }
    // The clean neighbours: the own path with empty segments and escapes, read
    // with custom delimiters, and annotations that only shape the agent.
    let v = c
        .post_json(
            "/validate",
            &validate(json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "acme",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants//%61cme//db",
                "vault.hashicorp.com/agent-template-left-delim-db": "[[",
                "vault.hashicorp.com/agent-template-right-delim-db": "]]",
                "vault.hashicorp.com/agent-inject-template-db":
                    "[[ with secret \"secret/data/tenants/acme/db\" ]][[ .Data.data.password ]][[ end ]]",
                "vault.hashicorp.com/agent-requests-cpu": "50m",
                "vault.hashicorp.com/agent-limits-mem": "128Mi",
                "vault.hashicorp.com/agent-inject-status": "injected",
            })),
        )
        .await
        .json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}
