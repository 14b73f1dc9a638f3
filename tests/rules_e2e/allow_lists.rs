//! The allow-list rules of issue 14 (`service-types`, `allowed-classes`,
//! `allowed-registries`) over HTTPS against the real server, with reviews
//! shaped as the apiserver sends them (resource, and the
//! `pods/ephemeralcontainers` subresource of `kubectl debug`).

use super::common;
use super::{allowed, denied_by, message};
use serde_json::{json, Value};

const TENANTS: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  containerDefaults: {limits: {cpu: 500m, memory: 512Mi}}
  allowed:
    registries: [registry.example.com/acme/, docker.io/library]
    runtimeClasses: [gvisor]
    storageClasses: [standard]
    serviceTypes: [ClusterIP]
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  containerDefaults: {limits: {cpu: 500m, memory: 512Mi}}
";

/// A review as the apiserver sends it: `kind`, `resource`, `subResource`.
fn review(
    op: &str,
    (group, kind, resource, sub): (&str, &str, &str, &str),
    ns: &str,
    object: Value,
    old: Option<Value>,
) -> Value {
    let mut req = json!({
        "uid": format!("{kind}-{op}-{ns}-{sub}"),
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "namespace": ns, "operation": op,
        "name": object["metadata"]["name"],
        "userInfo": {"username": "dave", "groups": ["system:authenticated"]},
        "object": object, "oldObject": old});
    if !sub.is_empty() {
        req["subResource"] = json!(sub);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

const POD: (&str, &str, &str, &str) = ("", "Pod", "pods", "");
const SERVICE: (&str, &str, &str, &str) = ("", "Service", "services", "");
const PVC: (&str, &str, &str, &str) = ("", "PersistentVolumeClaim", "persistentvolumeclaims", "");

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": spec})
}

fn limits() -> Value {
    json!({"limits": {"cpu": "500m", "memory": "512Mi"}})
}

fn fixture(rel: &str) -> Value {
    let text = std::fs::read_to_string(common::repo().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_list_rules_over_https() {
    let (_s, mut c, _dir) = common::serve_tenancy(TENANTS).await;

    // service-types: the captured NodePort Service, moved into tenant namespaces.
    let captured = fixture("tests/fixtures/real/service/create-nodeport.json");
    let mut svc = captured["object"].clone();
    svc["metadata"]["namespace"] = json!("acme-prod");
    let v = c
        .post_json(
            "/validate",
            &review("CREATE", SERVICE, "acme-prod", svc.clone(), None),
        )
        .await
        .json();
    denied_by(&v, "service-types");
    assert!(
        message(&v).contains("spec.type: \"NodePort\" is not a Service type tenant acme may use (allowed: ClusterIP)"),
        "{v}"
    );
    svc["metadata"]["namespace"] = json!("globex-prod");
    let v = c
        .post_json(
            "/validate",
            &review("CREATE", SERVICE, "globex-prod", svc.clone(), None),
        )
        .await
        .json();
    denied_by(&v, "service-types");
    svc["spec"]["type"] = json!("ClusterIP");
    svc["spec"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !matches!(k.as_str(), "externalTrafficPolicy" | "nodePort"));
    for p in svc["spec"]["ports"].as_array_mut().into_iter().flatten() {
        p.as_object_mut().unwrap().remove("nodePort");
    }
    allowed(
        &c.post_json(
            "/validate",
            &review("CREATE", SERVICE, "globex-prod", svc, None),
        )
        .await
        .json(),
    );

    // allowed-classes: the captured runtimeClassName pod ("runC"), and the
    // reserved priority classes for a tenant without lists.
    let captured = fixture("tests/fixtures/real/pod/create-runtimeclass.json");
    let mut rc = captured["object"].clone();
    rc["metadata"]["namespace"] = json!("acme-prod");
    // /validate judges what it is sent: no defaults are filled in.
    rc["spec"]["containers"][0]["resources"] = limits();
    let v = c
        .post_json(
            "/validate",
            &review("CREATE", POD, "acme-prod", rc.clone(), None),
        )
        .await
        .json();
    denied_by(&v, "allowed-classes");
    assert!(
        message(&v).contains("spec.runtimeClassName: runtime class \"runC\" is not one tenant acme may use (allowed: gvisor)"),
        "{v}"
    );
    rc["metadata"]["namespace"] = json!("globex-prod");
    allowed(
        &c.post_json(
            "/validate",
            &review("CREATE", POD, "globex-prod", rc.clone(), None),
        )
        .await
        .json(),
    );
    rc["spec"]["priorityClassName"] = json!("system-node-critical");
    denied_by(
        &c.post_json("/validate", &review("CREATE", POD, "globex-prod", rc, None))
            .await
            .json(),
        "allowed-classes",
    );
    let claim = |class: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    };
    denied_by(
        &c.post_json(
            "/validate",
            &review("CREATE", PVC, "acme-prod", claim("premium"), None),
        )
        .await
        .json(),
        "allowed-classes",
    );
    allowed(
        &c.post_json(
            "/validate",
            &review("CREATE", PVC, "acme-prod", claim("standard"), None),
        )
        .await
        .json(),
    );

    // allowed-registries: a look-alike path is denied, the own path and
    // official images are admitted.
    let images = |a: &str, b: &str| {
        pod(json!({"containers": [
            {"name": "a", "image": a, "resources": limits()},
            {"name": "b", "image": b, "resources": limits()},
        ]}))
    };
    let v = c
        .post_json(
            "/validate",
            &review(
                "CREATE",
                POD,
                "acme-prod",
                images("nginx:1.27", "registry.example.com/acme-evil/app"),
                None,
            ),
        )
        .await
        .json();
    denied_by(&v, "allowed-registries");
    assert!(
        message(&v)
            .contains("spec.containers[1] \"b\": image \"registry.example.com/acme-evil/app\""),
        "{v}"
    );
    let good = images("nginx:1.27", "registry.example.com/acme/app:2");
    allowed(
        &c.post_json(
            "/validate",
            &review("CREATE", POD, "acme-prod", good.clone(), None),
        )
        .await
        .json(),
    );

    // kubectl debug adds an ephemeral container through the subresource.
    let debug = |image: &str| {
        let mut p = good.clone();
        p["spec"]["ephemeralContainers"] = json!([{"name": "debugger", "image": image}]);
        p
    };
    let eph = ("", "Pod", "pods", "ephemeralcontainers");
    let v = c
        .post_json(
            "/validate",
            &review(
                "UPDATE",
                eph,
                "acme-prod",
                debug("evil.io/toolbox"),
                Some(good.clone()),
            ),
        )
        .await
        .json();
    denied_by(&v, "allowed-registries");
    assert!(
        message(&v).contains("spec.ephemeralContainers[0] \"debugger\": image \"evil.io/toolbox\""),
        "{v}"
    );
    allowed(
        &c.post_json(
            "/validate",
            &review("UPDATE", eph, "acme-prod", debug("busybox"), Some(good)),
        )
        .await
        .json(),
    );
}
