//! HTTPS end-to-end cases of `pod-security` and `namespace-metadata`, through the real server.

use super::*;

/// Issue 13 over HTTPS: `pod-security` at the tenant's level (captured
/// requests as the apiserver sent them, in `default`, an acme namespace
/// here; a `pods/ephemeralcontainers` update; a restricted tenant), and
/// `namespace-metadata` keeping the Pod Security labels out of a tenant
/// owner's hands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_security_and_namespace_metadata_over_https() {
    let extra = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: customer-1}
spec:
  owners: [{kind: Group, name: customer-1-admins}]
  podSecurity: restricted
";
    let (_s, mut c, _dir) = common::serve_tenancy(&format!("{TENANTS}---\n{extra}")).await;
    let wrap = |req: &Value| json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req});
    let captured = |f: &str| -> Value {
        let path = common::repo().join("tests/fixtures/real/pod").join(f);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };

    for (file, path) in [
        ("create-privileged-init-container.json", "spec.initContainers[0].securityContext.privileged: must be false or unset for the baseline level"),
        ("create-hostpath-volumes-two-init.json", "spec.volumes[2].hostPath"),
        ("create-hostnetwork-hostpid.json", "spec.hostPID: must be false or unset"),
        ("create-ephemeral-container.json", "spec.ephemeralContainers[0].securityContext.privileged"),
    ] {
        let v = c.post_json("/validate", &wrap(&captured(file))).await.json();
        denied_by(&v, "pod-security");
        assert!(message(&v).contains(path), "{file}: {v}");
    }
    // Safe sysctls only: pod-security has nothing to say.
    let v = c
        .post_json("/validate", &wrap(&captured("create-sysctls.json")))
        .await
        .json();
    assert!(!message(&v).contains("[pod-security]"), "{v}");

    // pods/ephemeralcontainers: the Pod sent carries the new debug container.
    let user = ["acme-admins", "system:authenticated"];
    let old = pod(json!({}), limited());
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]);
    let mut r = review_as(
        ("dave", &user),
        "UPDATE",
        ("", "Pod"),
        "pods",
        "acme-prod",
        Some(new.clone()),
        Some(old.clone()),
    );
    r["request"]["subResource"] = json!("ephemeralcontainers");
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "pod-security");
    assert!(
        message(&v).contains("spec.ephemeralContainers[0].securityContext.capabilities.add[0]"),
        "{v}"
    );
    new["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox"}]);
    let mut r = review_as(
        ("dave", &user),
        "UPDATE",
        ("", "Pod"),
        "pods",
        "acme-prod",
        Some(new),
        Some(old),
    );
    r["request"]["subResource"] = json!("ephemeralcontainers");
    allowed(&c.post_json("/validate", &r).await.json());

    // A restricted tenant: a plain pod is refused, a hardened one admitted.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "customer-1",
        &user,
        Some(pod(json!({}), limited())),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "pod-security");
    assert!(
        message(&v).contains("spec.securityContext.runAsNonRoot: is unset"),
        "{v}"
    );
    let hardened = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h"}, "spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}});
    let r = review(
        "CREATE",
        "",
        "Pod",
        "customer-1",
        &user,
        Some(hardened),
        None,
    );
    allowed(&c.post_json("/validate", &r).await.json());

    // namespace-labels writes the level; namespace-metadata keeps it there.
    let r = review(
        "CREATE",
        "",
        "Namespace",
        "",
        &user,
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-psa"}})),
        None,
    );
    let ns = patched(&r, &c.post_json("/mutate", &r).await.json());
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"],
        "latest"
    );
    let mut off = ns.clone();
    off["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = json!("privileged");
    let r = review_as(
        ("dave", &user),
        "UPDATE",
        ("", "Namespace"),
        "namespaces",
        "",
        Some(off.clone()),
        Some(ns.clone()),
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "namespace-metadata");
    assert!(
        message(&v)
            .contains("only platform admins may change it from \"baseline\" to \"privileged\""),
        "{v}"
    );
    let r = review_as(
        ("dave", &user),
        "CREATE",
        ("", "Namespace"),
        "namespaces",
        "",
        Some(off),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "namespace-metadata",
    );
    let r = review_as(
        ("dave", &user),
        "CREATE",
        ("", "Namespace"),
        "namespaces",
        "",
        Some(ns),
        None,
    );
    allowed(&c.post_json("/validate", &r).await.json());
}
