//! Hand-made requests: each states the fallback's expected denials, and
//! every rule the engine has must agree (see `agreement`).

use serde_json::{json, Value};

use super::agreement::World;
use super::harness::Req;

const TENANTS: &str = r#"
apiVersion: tenantguard.io/v1alpha1
kind: Settings
spec:
  admins: {users: [root], groups: [platform-admins]}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec: {owners: [{kind: User, name: alice}]}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: wild}
spec:
  owners: [{kind: User, name: bob}]
  podSecurity: privileged
  allowed: {serviceTypes: [ClusterIP, LoadBalancer]}
"#;

pub fn container(name: &str, limits: Value) -> Value {
    json!({"name": name, "image": "registry.example.com/app:1", "resources": {"limits": limits}})
}

fn ok_limits() -> Value {
    json!({"cpu": "500m", "memory": "256Mi"})
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn good_spec() -> Value {
    json!({"containers": [container("app", ok_limits())]})
}

/// A request by `user` (groups: system:authenticated) in `namespace`.
fn req(op: &str, group: &str, kind: &str, resource: &str, namespace: &str, object: Value) -> Req {
    let tenant = match namespace {
        "acme-prod" | "kube-system" => Some("acme"),
        "wild-prod" => Some("wild"),
        _ => None,
    };
    let mut labels = json!({"kubernetes.io/metadata.name": namespace});
    if let Some(t) = tenant {
        labels["tenantguard.io/tenant"] = json!(t);
    }
    Req {
        operation: op.into(),
        group: group.into(),
        kind: kind.into(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: namespace.into(),
        name: object["metadata"]["name"].as_str().unwrap_or("x").into(),
        username: "alice".into(),
        groups: vec!["system:authenticated".into()],
        object,
        old_object: Value::Null,
        namespace_labels: labels,
    }
}

pub fn pod_req(namespace: &str, spec: Value) -> Req {
    req("CREATE", "", "Pod", "pods", namespace, pod(spec))
}

fn workload(group: &str, kind: &str, resource: &str, template_at: &str, spec: Value) -> Req {
    let mut o = json!({"apiVersion": format!("{group}/v1"), "kind": kind, "metadata": {"name": "w"}, "spec": {}});
    let mut at = &mut o["spec"];
    for key in template_at.split('.') {
        at = &mut at[key];
    }
    *at = json!({"metadata": {"labels": {"app": "w"}}, "spec": spec});
    req("CREATE", group, kind, resource, "acme-prod", o)
}

fn namespace_update(user: &str, groups: &[&str], before: Value, after: Value) -> Req {
    let ns = |labels: &Value| {
        json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "acme-dev", "labels": labels}})
    };
    let mut r = req(
        "UPDATE",
        "",
        "Namespace",
        "namespaces",
        "acme-dev",
        ns(&after),
    );
    r.old_object = ns(&before);
    r.username = user.into();
    r.groups = groups.iter().map(|g| g.to_string()).collect();
    r
}

/// A non-admin's UPDATE of a Namespace subresource whose labels the
/// apiserver keeps (`status`, `finalize`).
fn namespace_subresource_update(sub: &str, before: Value, after: Value) -> Req {
    let mut r = namespace_update("alice", &["system:authenticated"], before, after);
    r.subresource = sub.into();
    r
}

fn service(namespace: &str, ty: Option<&str>) -> Req {
    let mut spec = json!({"ports": [{"port": 80}]});
    if let Some(t) = ty {
        spec["type"] = json!(t);
    }
    let o = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec});
    req("CREATE", "", "Service", "services", namespace, o)
}

#[test]
fn pods_agree_with_the_engine() {
    let world = World::new(TENANTS);
    let rl: &[&str] = &["require-limits"];
    let ps: &[&str] = &["pod-security"];
    let no: &[&str] = &[];
    let mut terminating = req(
        "UPDATE",
        "",
        "Pod",
        "pods",
        "acme-prod",
        pod(json!({"containers": [container("app", json!({}))]})),
    );
    terminating.old_object = terminating.object.clone();
    terminating.old_object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    terminating.object["metadata"]["finalizers"] = json!([]);
    let mut terminating_changed = terminating.clone();
    terminating_changed.object["spec"]["containers"][0]["image"] =
        json!("registry.example.com/app:2");
    let mut debug = req(
        "UPDATE",
        "",
        "Pod",
        "pods",
        "acme-prod",
        pod(json!({
        "containers": [container("app", ok_limits())],
        "ephemeralContainers": [{"name": "dbg", "image": "busybox", "securityContext": {"privileged": true}}]})),
    );
    debug.subresource = "ephemeralcontainers".into();
    debug.old_object = pod(good_spec());
    let mut debug_plain = debug.clone();
    debug_plain.object["spec"]["ephemeralContainers"][0]["securityContext"] = json!({});
    let mut excluded_ns = pod_req(
        "kube-system",
        json!({"hostPID": true, "containers": [container("app", json!({}))]}),
    );
    excluded_ns.namespace_labels["tenantguard.io/tenant"] = json!("acme");
    let cases: Vec<(&str, Req, &[&str])> = vec![
        (
            "pod with cpu and memory limits",
            pod_req("acme-prod", good_spec()),
            no,
        ),
        (
            "pod without a memory limit",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "1"}))]}),
            ),
            rl,
        ),
        (
            "pod without resources",
            pod_req(
                "acme-prod",
                json!({"containers": [{"name": "app", "image": "x"}]}),
            ),
            rl,
        ),
        (
            "zero memory limit 0",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "1", "memory": "0"}))]}),
            ),
            rl,
        ),
        (
            "zero memory limit 0Gi",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "1", "memory": "0Gi"}))]}),
            ),
            rl,
        ),
        (
            "zero cpu limit 0.0",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "0.0", "memory": "1Gi"}))]}),
            ),
            rl,
        ),
        (
            "zero cpu limit 0m",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "0m", "memory": "1Gi"}))]}),
            ),
            rl,
        ),
        (
            "negative cpu limit",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "-1", "memory": "1Gi"}))]}),
            ),
            rl,
        ),
        (
            "numeric limits",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": 2, "memory": 1073741824}))]}),
            ),
            no,
        ),
        (
            "tiny but positive limits",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", json!({"cpu": "1m", "memory": "0.5Gi"}))]}),
            ),
            no,
        ),
        (
            "one bad initContainer among good ones",
            pod_req(
                "acme-prod",
                json!({
            "containers": [container("a", ok_limits()), container("b", ok_limits())],
            "initContainers": [container("i1", ok_limits()), container("i2", json!({"memory": "1Gi"}))]}),
            ),
            rl,
        ),
        (
            "requests below limits",
            pod_req(
                "acme-prod",
                json!({"containers": [{"name": "a", "image": "x",
            "resources": {"limits": ok_limits(), "requests": {"cpu": "100m"}}}]}),
            ),
            no,
        ),
        (
            "ephemeral container without resources",
            pod_req(
                "acme-prod",
                json!({
            "containers": [container("app", ok_limits())], "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}),
            ),
            no,
        ),
        (
            "Deployment template without limits",
            workload(
                "apps",
                "Deployment",
                "deployments",
                "template",
                json!({"containers": [{"name": "app", "image": "x"}]}),
            ),
            rl,
        ),
        (
            "StatefulSet template with limits",
            workload(
                "apps",
                "StatefulSet",
                "statefulsets",
                "template",
                good_spec(),
            ),
            no,
        ),
        (
            "CronJob template without limits",
            workload(
                "batch",
                "CronJob",
                "cronjobs",
                "jobTemplate.spec.template",
                json!({"containers": [{"name": "app", "image": "x"}]}),
            ),
            rl,
        ),
        (
            "CronJob template with limits",
            workload(
                "batch",
                "CronJob",
                "cronjobs",
                "jobTemplate.spec.template",
                good_spec(),
            ),
            no,
        ),
        (
            "Job template hostNetwork",
            workload(
                "batch",
                "Job",
                "jobs",
                "template",
                json!({"hostNetwork": true, "containers": [container("app", ok_limits())]}),
            ),
            ps,
        ),
        ("terminating pod, spec untouched", terminating, no),
        ("terminating pod, spec changed", terminating_changed, rl),
        (
            "hostNetwork",
            pod_req(
                "acme-prod",
                json!({"hostNetwork": true, "containers": [container("app", ok_limits())]}),
            ),
            ps,
        ),
        (
            "hostNetwork false",
            pod_req(
                "acme-prod",
                json!({"hostNetwork": false, "containers": [container("app", ok_limits())]}),
            ),
            no,
        ),
        (
            "hostPID",
            pod_req(
                "acme-prod",
                json!({"hostPID": true, "containers": [container("app", ok_limits())]}),
            ),
            ps,
        ),
        (
            "hostIPC",
            pod_req(
                "acme-prod",
                json!({"hostIPC": true, "containers": [container("app", ok_limits())]}),
            ),
            ps,
        ),
        (
            "privileged initContainer among good ones",
            pod_req(
                "acme-prod",
                json!({
            "containers": [container("app", ok_limits())],
            "initContainers": [container("i1", ok_limits()),
                {"name": "i2", "image": "x", "resources": {"limits": ok_limits()}, "securityContext": {"privileged": true}}]}),
            ),
            ps,
        ),
        (
            "privileged false",
            pod_req(
                "acme-prod",
                json!({"containers": [
            {"name": "a", "image": "x", "resources": {"limits": ok_limits()}, "securityContext": {"privileged": false}}]}),
            ),
            no,
        ),
        (
            "hostPath volume among others",
            pod_req(
                "acme-prod",
                json!({"containers": [container("app", ok_limits())],
            "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/var/run"}}]}),
            ),
            ps,
        ),
        (
            "no host, no limits",
            pod_req(
                "acme-prod",
                json!({"hostPID": true, "containers": [{"name": "app", "image": "x"}]}),
            ),
            &["require-limits", "pod-security"],
        ),
        (
            "kubectl debug with a privileged ephemeral container",
            debug,
            ps,
        ),
        (
            "kubectl debug with a plain ephemeral container",
            debug_plain,
            no,
        ),
        (
            "privileged tenant: host namespaces allowed",
            pod_req(
                "wild-prod",
                json!({"hostNetwork": true, "hostPID": true,
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "a", "image": "x", "resources": {"limits": ok_limits()}, "securityContext": {"privileged": true}}]}),
            ),
            no,
        ),
        (
            "platform namespace: nothing applies",
            pod_req(
                "platform-tools",
                json!({"hostPID": true, "containers": [{"name": "a", "image": "x"}]}),
            ),
            no,
        ),
        ("exempt namespace, even tenant-labelled", excluded_ns, no),
    ];
    for (what, r, want) in &cases {
        let got = world.fallback_denies(what, r);
        assert_eq!(got, *want, "{what}: the fallback denies {got:?}");
    }
}

#[test]
fn services_and_namespaces_agree_with_the_engine() {
    let world = World::new(TENANTS);
    let st: &[&str] = &["service-types"];
    let no: &[&str] = &[];
    let a = json!({"tenantguard.io/tenant": "acme"});
    let cases: Vec<(&str, Req, &[&str])> = vec![
        ("Service without type", service("acme-prod", None), no),
        (
            "ClusterIP Service",
            service("acme-prod", Some("ClusterIP")),
            no,
        ),
        (
            "ExternalName Service",
            service("acme-prod", Some("ExternalName")),
            no,
        ),
        (
            "NodePort Service",
            service("acme-prod", Some("NodePort")),
            st,
        ),
        (
            "LoadBalancer Service",
            service("acme-prod", Some("LoadBalancer")),
            st,
        ),
        (
            "LoadBalancer granted to the tenant",
            service("wild-prod", Some("LoadBalancer")),
            no,
        ),
        (
            "NodePort not granted to that tenant",
            service("wild-prod", Some("NodePort")),
            st,
        ),
        (
            "LoadBalancer in a platform namespace",
            service("platform-tools", Some("LoadBalancer")),
            no,
        ),
        (
            "tenant label added by a non-admin",
            namespace_update("alice", &["system:authenticated"], json!({}), a.clone()),
            &["namespace-ownership"],
        ),
        (
            "tenant label changed by a non-admin",
            namespace_update(
                "alice",
                &[],
                a.clone(),
                json!({"tenantguard.io/tenant": "wild"}),
            ),
            &["namespace-ownership"],
        ),
        (
            "tenant label removed by a non-admin",
            namespace_update("alice", &[], a.clone(), json!({"team": "x"})),
            &["namespace-ownership"],
        ),
        (
            "tenant label emptied by a non-admin",
            namespace_update(
                "alice",
                &[],
                a.clone(),
                json!({"tenantguard.io/tenant": ""}),
            ),
            &["namespace-ownership"],
        ),
        (
            "other labels changed by a non-admin",
            namespace_update(
                "alice",
                &[],
                a.clone(),
                json!({"tenantguard.io/tenant": "acme", "team": "y"}),
            ),
            no,
        ),
        (
            "tenant label changed by an admin user",
            namespace_update(
                "root",
                &[],
                a.clone(),
                json!({"tenantguard.io/tenant": "wild"}),
            ),
            no,
        ),
        (
            "tenant label removed by an admin group",
            namespace_update("carol", &["platform-admins"], a.clone(), json!({})),
            no,
        ),
        (
            "empty label to none by a non-admin",
            namespace_update(
                "alice",
                &[],
                json!({"tenantguard.io/tenant": ""}),
                json!({}),
            ),
            no,
        ),
        (
            "tenant label changed through namespaces/status",
            namespace_subresource_update(
                "status",
                a.clone(),
                json!({"tenantguard.io/tenant": "wild"}),
            ),
            &["namespace-ownership"],
        ),
        (
            "tenant label removed through namespaces/finalize",
            namespace_subresource_update("finalize", a.clone(), json!({})),
            &["namespace-ownership"],
        ),
        (
            "namespaces/finalize keeping the labels",
            namespace_subresource_update("finalize", a.clone(), a.clone()),
            no,
        ),
    ];
    for (what, r, want) in &cases {
        let got = world.fallback_denies(what, r);
        assert_eq!(got, *want, "{what}: the fallback denies {got:?}");
    }
}
