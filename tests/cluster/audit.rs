//! The audit's background scan against the stand-in apiserver: a bad object
//! appears in its namespace's PolicyReport, fixing it (and a policy change,
//! which triggers a re-scan) empties the report, lists are followed page by
//! page, stale reports go, only the Lease holder writes, and every call is
//! one the chart's RBAC grants.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tenantguard::audit::kinds::AUDITED;
use tenantguard::cluster::audit_scan::ScanOptions;
use tenantguard::engine::Engine;
use tenantguard::policy::rules::RuleId;
use tenantguard::policy::Action;
use tenantguard::swap::Swap;

use super::apiserver::{ApiServer, Call};
use super::{eventually, rbac, world, Replica};

fn scan_options(page_size: u32) -> ScanOptions {
    ScanOptions {
        interval: Duration::from_secs(3600),
        settle: Duration::from_millis(100),
        poll: Duration::from_millis(50),
        page_size,
        yield_every: 2,
    }
}

fn pod(namespace: &str, name: &str, limits: bool) -> Value {
    let resources = if limits {
        json!({"limits": {"cpu": "500m", "memory": "256Mi"}})
    } else {
        json!({})
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}]}})
}

/// A replica running the controller (so it campaigns for the Lease) and the
/// audit, with an engine the test can swap (a policy reload).
struct Audited {
    replica: Replica,
    engine: Arc<Swap<Engine>>,
}

fn start(server: &ApiServer, identity: &str, page_size: u32) -> Audited {
    let mut replica = Replica::start(server, identity, true);
    let engine = Arc::new(Swap::new(Engine::default()));
    let source = engine.clone();
    let registry = replica.metrics.registry.clone();
    assert!(replica.cluster.start_audit(
        Arc::new(move || source.load()),
        scan_options(page_size),
        &registry
    ));
    Audited { replica, engine }
}

fn report(server: &ApiServer, namespace: &str) -> Option<Value> {
    server.get("policyreports", namespace, "tenantguard")
}

fn results(report: &Value) -> Vec<(String, String, String)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["policy"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
                r["resources"][0]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_object_is_reported_until_it_is_fixed() {
    let server = world();
    server.put(pod("acme-prod", "bad", false));
    server.put(pod("acme-prod", "good", true));
    // A report left in a namespace that is no tenant's any more.
    server.put(
        json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "tenantguard", "namespace": "monitoring",
            "labels": {"app.kubernetes.io/managed-by": "tenantguard"}},
        "summary": {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0}, "results": []}),
    );
    let a = start(&server, "tenantguard-0", 500);

    let r = eventually("acme-prod's report with the bad pod", || {
        report(&server, "acme-prod").filter(|r| r["summary"]["fail"].as_u64() > Some(0))
    })
    .await;
    assert_eq!(
        results(&r),
        [
            ("require-limits".into(), "fail".into(), "bad".into()),
            ("require-limits".into(), "fail".into(), "bad".into())
        ]
    );
    // pass: the good pod, and the baseline NetworkPolicy when the
    // onboarding controller made it before the scan listed them.
    let s = &r["summary"];
    assert_eq!(
        (&s["fail"], &s["warn"], &s["error"], &s["skip"]),
        (&json!(2), &json!(0), &json!(0), &json!(0))
    );
    assert!(s["pass"].as_u64() >= Some(1), "{s}");
    assert_eq!(
        r["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "tenantguard"
    );
    assert_eq!(
        r["results"][0]["properties"]["path"],
        "spec.containers[0].resources.limits.cpu"
    );
    assert_eq!(r["results"][0]["resources"][0]["kind"], "Pod");
    assert!(r["results"][0]["resources"][0]["uid"].is_string());
    // Namespaces without violations get an empty report, not none.
    for ns in ["acme-dev", "globex-prod"] {
        let r = eventually("an empty report", || report(&server, ns)).await;
        assert_eq!(r["results"], json!([]), "{ns}");
    }
    eventually("the stale report to go", || {
        report(&server, "monitoring").is_none().then_some(())
    })
    .await;
    let writes: Vec<Call> = server
        .calls()
        .into_iter()
        .filter(|c| c.resource == "policyreports" && c.verb == "patch")
        .collect();
    assert!(writes
        .iter()
        .all(|c| c.content_type == "application/apply-patch+yaml"
            && c.query.get("fieldManager").map(String::as_str) == Some("tenantguard")
            && c.query.get("force").map(String::as_str) == Some("true")));
    let m = &a.replica;
    eventually("the violation gauge", || {
        (m.metric("tenantguard_audit_violations{policy=\"require-limits\",tenant=\"acme\"}")
            == Some(2.0))
        .then_some(())
    })
    .await;
    assert!(m.metric("tenantguard_audit_objects_total").unwrap_or(0.0) >= 2.0);
    // One Warning Event on the bad pod, naming both violations.
    let events = |server: &ApiServer| -> Vec<Value> {
        server
            .calls()
            .into_iter()
            .filter(|c| c.resource == "events" && c.verb == "create" && c.status < 300)
            .filter_map(|c| c.body)
            .collect()
    };
    let sent = events(&server);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    for e in &sent {
        assert_eq!(
            (
                e["type"].as_str(),
                e["reason"].as_str(),
                e["regarding"]["name"].as_str()
            ),
            (Some("Warning"), Some("PolicyViolation"), Some("bad"))
        );
        let note = e["note"].as_str().unwrap();
        assert!(note.starts_with("[require-limits]"), "{e}");
        assert!(
            note.contains("limits.cpu") && note.contains("limits.memory"),
            "{e}"
        );
    }
    assert!(
        m.metric("tenantguard_audit_last_run_timestamp_seconds")
            .unwrap_or(0.0)
            > 0.0
    );

    // Fixed, and a policy reload (a change of another rule's action): the
    // re-scan empties the report.
    server.put(pod("acme-prod", "bad", true));
    let mut next = (*a.engine.load()).clone();
    for p in &mut next.policies.policies {
        if p.rule == RuleId::RestrictEgress {
            p.action = Action::Warn;
        }
    }
    a.engine.store(next);
    let r = eventually("acme-prod's report to empty", || {
        report(&server, "acme-prod").filter(|r| r["summary"]["fail"] == 0)
    })
    .await;
    assert_eq!(r["results"], json!([]));
    assert!(r["summary"]["pass"].as_u64() >= Some(2), "{r:#}");
    // Nothing new was found, so nothing more was announced.
    assert_eq!(events(&server).len(), 1);
    eventually("the gauge to drop", || {
        m.metric("tenantguard_audit_violations{policy=\"require-limits\",tenant=\"acme\"}")
            .is_none()
            .then_some(())
    })
    .await;
    rbac::assert_allowed(&server.calls());
    a.replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_followed_page_by_page() {
    let server = world();
    for i in 0..12 {
        server.put(pod("globex-prod", &format!("p{i:02}"), true));
    }
    server.put(pod("globex-prod", "zz-bad", false));
    // Made by a ReplicaSet: judged on its owner, not again here.
    let mut owned = pod("globex-prod", "owned", false);
    owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web-1", "uid": "u-1", "controller": true}]);
    server.put(owned);
    let a = start(&server, "tenantguard-0", 5);
    let r = eventually("globex-prod's report", || report(&server, "globex-prod")).await;
    // The 12 good pods (and the baseline NetworkPolicy if it was there);
    // not the pod a ReplicaSet made.
    let pass = r["summary"]["pass"].as_u64().unwrap();
    assert!((12..=13).contains(&pass), "{r:#}");
    let names: Vec<String> = results(&r).into_iter().map(|(_, _, n)| n).collect();
    assert_eq!(names, ["zz-bad", "zz-bad"], "the last page was read too");
    let lists: Vec<HashMap<String, String>> = server
        .calls()
        .into_iter()
        .filter(|c| c.verb == "list" && c.resource == "pods" && c.namespace == "globex-prod")
        .map(|c| c.query)
        .collect();
    assert!(lists
        .iter()
        .all(|q| q.get("limit").map(String::as_str) == Some("5")));
    assert_eq!(lists.len(), 3, "14 pods in pages of 5: {lists:?}");
    assert_eq!(
        lists.iter().filter(|q| q.contains_key("continue")).count(),
        2
    );
    rbac::assert_allowed(&server.calls());
    a.replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_scans_and_writes() {
    let server = world();
    server.put(pod("acme-prod", "bad", false));
    let a = start(&server, "tenantguard-a", 500);
    let b = start(&server, "tenantguard-b", 500);
    eventually("a report", || report(&server, "acme-prod")).await;
    eventually("every tenant namespace's report", || {
        ["acme-dev", "globex-prod"]
            .iter()
            .all(|ns| report(&server, ns).is_some())
            .then_some(())
    })
    .await;
    let calls = server.calls();
    let audit_calls: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            matches!(
                c.resource.as_str(),
                "policyreports" | "pods" | "deployments"
            )
        })
        .collect();
    assert!(!audit_calls.is_empty());
    for c in &audit_calls {
        assert_eq!(
            Some(&c.client),
            c.lease_holder.as_ref(),
            "{} {} by a replica not holding the Lease",
            c.verb,
            c.resource
        );
    }
    // Without the controller no replica campaigns, and none scans.
    let mut plain = Replica::start(&server, "tenantguard-c", false);
    let registry = plain.metrics.registry.clone();
    assert!(!plain.cluster.start_audit(
        Arc::new(|| Arc::new(Engine::default())),
        scan_options(500),
        &registry
    ));
    // Nor with a zero interval.
    let mut off = Replica::start(&server, "tenantguard-d", true);
    let registry = off.metrics.registry.clone();
    assert!(!off.cluster.start_audit(
        Arc::new(|| Arc::new(Engine::default())),
        ScanOptions::new(Duration::ZERO),
        &registry
    ));
    for r in [off, plain, b.replica, a.replica] {
        r.stop().await;
    }
}

#[test]
fn the_chart_lets_the_audit_list_every_kind_and_write_reports() {
    let call = |verb: &'static str, group: &str, resource: &str, namespace: &str| Call {
        client: "tenantguard".into(),
        verb,
        group: group.into(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: namespace.into(),
        name: String::new(),
        query: HashMap::new(),
        content_type: String::new(),
        body: None,
        created: false,
        status: 200,
        lease_holder: None,
    };
    let mut calls: Vec<Call> = AUDITED
        .iter()
        .map(|k| call("list", k.group, k.plural, "acme-prod"))
        .collect();
    for verb in ["list", "create", "patch", "delete"] {
        calls.push(call(verb, "wgpolicyk8s.io", "policyreports", "acme-prod"));
    }
    calls.push(call("create", "events.k8s.io", "events", "acme-prod"));
    rbac::assert_allowed(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_cluster_judges_what_the_cluster_holds() {
    let server = world();
    server.put(pod("acme-prod", "bad", false));
    server.put(pod("globex-prod", "good", true));
    let addr = server.serve_http("audit-cli").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = super::kubeconfig_file(dir.path(), addr);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(super::common::bin())
            .args(["audit", "--cluster", "--policies", "policies", "-o", "json"])
            .current_dir(super::common::repo())
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("TENANTGUARD_POLICIES")
            .env_remove("TENANTGUARD_INVENTORY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let verdicts: Vec<(String, String, bool)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "Pod")
        .map(|r| {
            (
                r["namespace"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
                r["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("acme-prod".into(), "bad".into(), false),
            ("globex-prod".into(), "good".into(), true)
        ]
    );
    for r in report["results"].as_array().unwrap() {
        assert!(r["source"].as_str().unwrap().starts_with("cluster#"), "{r}");
        assert_eq!(r["patch"], json!([]));
    }
    // Read only: the CLI writes nothing.
    assert!(server
        .calls()
        .iter()
        .all(|c| matches!(c.verb, "list" | "get")));
}
