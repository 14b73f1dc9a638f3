//! The onboarding controller: every tenant namespace gets its baseline by
//! server-side apply, drift is taken back, unlabelled namespaces are left
//! alone, invalid Tenants and API errors show in the Tenant's status.

use axum::http::Method;
use serde_json::{json, Value};

use super::apiserver::{ApiServer, Fault};
use super::{eventually, fixture, namespace, quiet, rbac, world, Replica};

/// (resource, name) of the five baseline objects, in apply order.
const BASELINE: [(&str, &str); 5] = [
    ("networkpolicies", "tenantguard-isolation"),
    ("resourcequotas", "tenantguard-quota"),
    ("limitranges", "tenantguard-defaults"),
    ("serviceaccounts", "tenant-workload"),
    ("rolebindings", "tenantguard-owners"),
];

fn has_baseline(server: &ApiServer, ns: &str) -> bool {
    BASELINE.iter().all(|(r, n)| server.get(r, ns, n).is_some())
}

/// The Tenant's status once `check` accepts it.
async fn status_where(server: &ApiServer, tenant: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("the status of Tenant {tenant}"), || {
        server
            .get("tenants", "", tenant)
            .map(|t| t["status"].clone())
            .filter(|s| !s.is_null() && check(s))
    })
    .await
}

fn ready(s: &Value) -> (&str, &str) {
    let c = &s["conditions"][0];
    (
        c["status"].as_str().unwrap_or(""),
        c["reason"].as_str().unwrap_or(""),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_namespaces_get_their_baseline_by_server_side_apply() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", true);
    eventually("the baseline in acme-prod", || {
        has_baseline(&server, "acme-prod").then_some(())
    })
    .await;

    // What was applied is exactly the expected baseline, each object by a
    // forced server-side apply with tenantguard's field manager.
    let expected = fixture("baseline-acme-prod.json");
    for (want, (resource, name)) in expected["items"].as_array().unwrap().iter().zip(BASELINE) {
        let applies: Vec<_> = server
            .calls()
            .into_iter()
            .filter(|c| {
                c.verb == "patch"
                    && c.resource == resource
                    && c.namespace == "acme-prod"
                    && c.name == name
            })
            .collect();
        assert!(!applies.is_empty(), "no apply of {resource}/{name}");
        for c in &applies {
            assert_eq!(
                c.content_type, "application/apply-patch+yaml",
                "{resource}/{name}"
            );
            assert_eq!(
                c.query.get("fieldManager").map(String::as_str),
                Some("tenantguard")
            );
            assert_eq!(c.query.get("force").map(String::as_str), Some("true"));
            assert_eq!(c.body.as_ref(), Some(want), "{resource}/{name}");
        }
        let stored = server.get(resource, "acme-prod", name).unwrap();
        assert_eq!(stored["metadata"]["labels"], want["metadata"]["labels"]);
        for field in ["spec", "roleRef", "subjects"] {
            assert_eq!(
                stored.get(field),
                want.get(field),
                "{resource}/{name} {field}"
            );
        }
    }

    // A namespace labelled later gets its baseline too; others get nothing.
    server.put(namespace("acme-staging", Some("acme")));
    eventually("the baseline in acme-staging", || {
        has_baseline(&server, "acme-staging").then_some(())
    })
    .await;
    eventually("the baseline in globex-prod", || {
        has_baseline(&server, "globex-prod").then_some(())
    })
    .await;
    let globex_quota = server
        .get("resourcequotas", "globex-prod", "tenantguard-quota")
        .unwrap();
    assert_eq!(
        globex_quota["spec"],
        json!({"hard": {}}),
        "no quota declared: an empty one"
    );
    let status = status_where(&server, "acme", |s| {
        ready(s) == ("True", "Reconciled") && s["namespaceCount"] == 3
    })
    .await;
    assert_eq!(
        status["namespaces"],
        json!(["acme-dev", "acme-prod", "acme-staging"])
    );
    assert!(status.get("lastError").is_none(), "{status}");
    for ns in ["default", "monitoring", "kube-system", "tenantguard-system"] {
        let kinds = BASELINE.map(|(r, _)| r);
        assert_eq!(
            server.count_in(ns, &kinds),
            0,
            "{ns} is not a tenant namespace"
        );
    }
    assert_eq!(replica.metric("tenantguard_leader"), Some(1.0));
    assert!(
        replica
            .metric("tenantguard_reconciles_total{result=\"success\"}")
            .unwrap_or(0.0)
            >= 4.0
    );
    replica.stop().await;
    let calls = server.calls();
    assert!(
        calls.iter().all(|c| c.verb != "delete"),
        "the controller never deletes"
    );
    rbac::assert_allowed(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_taken_back_and_unlabelled_namespaces_are_left_alone() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", true);
    eventually("the baselines", || {
        (has_baseline(&server, "acme-prod") && has_baseline(&server, "acme-dev")).then_some(())
    })
    .await;
    status_where(&server, "acme", |s| ready(s) == ("True", "Reconciled")).await;
    let np = |ns: &str| {
        server
            .get("networkpolicies", ns, "tenantguard-isolation")
            .unwrap()
    };
    let quota_cpu = |ns: &str| {
        server
            .get("resourcequotas", ns, "tenantguard-quota")
            .unwrap()["spec"]["hard"]["requests.cpu"]
            .clone()
    };
    let original = np("acme-prod")["spec"].clone();

    // One change at a time, once quiet, so each kind's own watch must bring
    // the repair (the periodic resync is minutes away).
    quiet(&server).await;
    let mut open = np("acme-prod");
    open["spec"]["egress"] = json!([{}]);
    server.put(open);
    eventually("egress closed again", || {
        (np("acme-prod")["spec"] == original).then_some(())
    })
    .await;
    quiet(&server).await;
    let mut quota = server
        .get("resourcequotas", "acme-prod", "tenantguard-quota")
        .unwrap();
    quota["spec"]["hard"]["requests.cpu"] = json!("400");
    server.put(quota);
    eventually("the quota restored", || {
        (quota_cpu("acme-prod") == json!("4")).then_some(())
    })
    .await;
    for (resource, name) in &BASELINE[2..4] {
        quiet(&server).await;
        server.delete(resource, "acme-prod", name);
        eventually(&format!("{resource}/{name} recreated"), || {
            server.get(resource, "acme-prod", name).map(|_| ())
        })
        .await;
    }
    quiet(&server).await;
    let mut rb = server
        .get("rolebindings", "acme-prod", "tenantguard-owners")
        .unwrap();
    rb["subjects"] =
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]);
    server.put(rb);
    eventually("the owners restored", || {
        let rb = server.get("rolebindings", "acme-prod", "tenantguard-owners")?;
        (rb["subjects"][0]["name"] == "acme-admins").then_some(())
    })
    .await;

    // The tenant label goes: acme-dev is no longer managed, its objects stay.
    let rv = server.put(namespace("acme-dev", None));
    eventually("the controller to see the label go", || {
        (server.delivered("namespaces", "tenantguard.io/tenant") >= rv).then_some(())
    })
    .await;
    // A barrier: drift elsewhere is still repaired, so the controller is past that event.
    let mut q = server
        .get("resourcequotas", "acme-prod", "tenantguard-quota")
        .unwrap();
    q["spec"]["hard"]["requests.cpu"] = json!("99");
    server.put(q);
    eventually("the barrier", || {
        (quota_cpu("acme-prod") == json!("4")).then_some(())
    })
    .await;
    let mut dev = np("acme-dev");
    dev["spec"]["egress"] = json!([{}]);
    server.put(dev);
    let mut q = server
        .get("resourcequotas", "acme-prod", "tenantguard-quota")
        .unwrap();
    q["spec"]["hard"]["requests.cpu"] = json!("98");
    server.put(q);
    eventually("a second barrier", || {
        (quota_cpu("acme-prod") == json!("4")).then_some(())
    })
    .await;
    assert_eq!(
        np("acme-dev")["spec"]["egress"],
        json!([{}]),
        "an unmanaged namespace is left alone"
    );
    assert!(has_baseline(&server, "acme-dev"), "nothing is deleted");
    let status = status_where(&server, "acme", |s| s["namespaceCount"] == 1).await;
    assert_eq!(status["namespaces"], json!(["acme-prod"]));
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tenants_get_a_status_and_the_others_carry_on() {
    let server = world();
    server.put_list(&fixture("tenants-invalid.json"));
    for t in ["badquota", "badcidr", "typo"] {
        server.put(namespace(&format!("{t}-prod"), Some(t)));
    }
    let replica = Replica::start(&server, "replica-a", true);
    eventually("the valid tenants' baselines", || {
        (has_baseline(&server, "acme-prod") && has_baseline(&server, "globex-prod")).then_some(())
    })
    .await;
    for (tenant, names) in [
        ("badquota", "spec.quota.hard.requests.cpu"),
        ("badcidr", "spec.egress.allowedCIDRs[0] \"10.0.0.0/33\""),
        ("typo", "unknown field `quotas`"),
    ] {
        let s = status_where(&server, tenant, |s| ready(s).1 == "InvalidSpec").await;
        assert_eq!(ready(&s).0, "False");
        let error = s["lastError"].as_str().unwrap_or("");
        assert!(error.contains(names), "{tenant}: {s}");
        let message = s["conditions"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("Settings' defaults"), "{tenant}: {s}");
        // Isolation does not wait for the fix: the defaults apply meanwhile.
        eventually("the defaults baseline", || {
            has_baseline(&server, &format!("{tenant}-prod")).then_some(())
        })
        .await;
    }

    // Fixed: the spec change reaches the namespace and the status clears.
    let mut fixed = server.get("tenants", "", "badquota").unwrap();
    fixed["spec"] = json!({"quota": {"hard": {"requests.cpu": "2"}}});
    server.put(fixed);
    eventually("the fixed quota", || {
        let q = server.get("resourcequotas", "badquota-prod", "tenantguard-quota")?;
        (q["spec"]["hard"]["requests.cpu"] == "2").then_some(())
    })
    .await;
    let s = status_where(&server, "badquota", |s| ready(s) == ("True", "Reconciled")).await;
    assert!(s.get("lastError").is_none(), "{s}");
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_retried_with_backoff_and_surfaced() {
    let server = world();
    let broken = server.fault(
        Method::PATCH,
        "/namespaces/acme-prod/limitranges/",
        Fault::Status(500),
    );
    let replica = Replica::start(&server, "replica-a", true);
    let s = status_where(&server, "acme", |s| ready(s).1 == "ReconcileFailed").await;
    let error = s["lastError"].as_str().unwrap_or("");
    assert!(
        error.starts_with(
            "namespace acme-prod: server-side apply of LimitRange \"tenantguard-defaults\" failed"
        ),
        "{s}"
    );
    assert!(
        error.contains("injected fault"),
        "the apiserver's message is kept: {s}"
    );
    eventually("retries", || {
        let tries = server
            .calls()
            .iter()
            .filter(|c| {
                c.resource == "limitranges" && c.namespace == "acme-prod" && c.status == 500
            })
            .count();
        (tries >= 3).then_some(())
    })
    .await;
    assert!(
        replica
            .metric("tenantguard_reconciles_total{result=\"error\"}")
            .unwrap_or(0.0)
            >= 3.0
    );
    assert_eq!(
        replica.metric("tenantguard_reconcile_failing_namespaces"),
        Some(1.0)
    );
    // Other namespaces are not held up.
    eventually("acme-dev", || {
        has_baseline(&server, "acme-dev").then_some(())
    })
    .await;

    server.clear_fault(broken);
    let s = status_where(&server, "acme", |s| ready(s) == ("True", "Reconciled")).await;
    assert!(s.get("lastError").is_none(), "cleared: {s}");
    assert!(has_baseline(&server, "acme-prod"));
    eventually("the failing gauge to clear", || {
        (replica.metric("tenantguard_reconcile_failing_namespaces") == Some(0.0)).then_some(())
    })
    .await;
    replica.stop().await;
}

/// The quota controller rewrites a ResourceQuota's status on every pod
/// change; that is not drift and must not cost a reconcile each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_usage_updates_are_not_drift() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", true);
    eventually("the baselines", || {
        (has_baseline(&server, "acme-prod") && has_baseline(&server, "acme-dev")).then_some(())
    })
    .await;
    quiet(&server).await;
    let since = server.calls().len();
    for used in ["1", "2", "3"] {
        let mut q = server
            .get("resourcequotas", "acme-prod", "tenantguard-quota")
            .unwrap();
        q["status"] = json!({"hard": q["spec"]["hard"], "used": {"requests.cpu": used}});
        server.put(q);
    }
    // A barrier: drift in another namespace is repaired after those events.
    let mut np = server
        .get("networkpolicies", "acme-dev", "tenantguard-isolation")
        .unwrap();
    np["spec"]["egress"] = json!([{}]);
    server.put(np);
    eventually("the barrier", || {
        let np = server.get("networkpolicies", "acme-dev", "tenantguard-isolation")?;
        (np["spec"]["egress"] != json!([{}])).then_some(())
    })
    .await;
    quiet(&server).await;
    let prod: Vec<_> = server.calls()[since..]
        .iter()
        .filter(|c| c.namespace == "acme-prod" && c.verb == "patch")
        .map(|c| format!("{} {}", c.resource, c.name))
        .collect();
    assert!(
        prod.is_empty(),
        "status-only updates reconciled acme-prod: {prod:?}"
    );
    // A real change to the same quota is still drift.
    let mut q = server
        .get("resourcequotas", "acme-prod", "tenantguard-quota")
        .unwrap();
    q["spec"]["hard"]["requests.cpu"] = json!("40");
    server.put(q);
    eventually("the quota restored", || {
        let q = server.get("resourcequotas", "acme-prod", "tenantguard-quota")?;
        (q["spec"]["hard"]["requests.cpu"] == "4").then_some(())
    })
    .await;
    replica.stop().await;
}

/// A policy reload can change the Settings' defaults and the Tenants from
/// files: every tenant namespace is reconciled again with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_reload_reconciles_with_the_new_defaults() {
    use std::sync::{Arc, Mutex};
    use tenantguard::policy::{Quota, Settings, Tenant, TenantSpec};
    let server = world();
    let settings = Arc::new(Mutex::new(Settings::default()));
    let source = settings.clone();
    let replica = Replica::start_with(
        &server,
        "replica-a",
        true,
        Arc::new(move || source.lock().unwrap().clone()),
    );
    let pods = |ns: &str| {
        let q = server.get("resourcequotas", ns, "tenantguard-quota")?;
        q["spec"]["hard"]["pods"].as_str().map(str::to_string)
    };
    eventually("the baseline", || {
        has_baseline(&server, "globex-prod").then_some(())
    })
    .await;
    assert_eq!(pods("globex-prod"), None, "no quota anywhere yet");

    settings.lock().unwrap().tenant_defaults.quota = Some(Quota {
        hard: [("pods".to_string(), "30".to_string())].into(),
        ..Default::default()
    });
    // A file Tenant for a tenant with no Tenant object, as the chart declares them.
    server.put(namespace("initech-prod", Some("initech")));
    let file = Tenant::new(
        "initech",
        TenantSpec {
            quota: Some(Quota {
                hard: [("pods".to_string(), "5".to_string())].into(),
                ..Default::default()
            }),
            ..TenantSpec::default()
        },
    );
    replica.cluster.reloader().policies_reloaded(vec![file]);
    eventually("the new default in globex-prod", || {
        (pods("globex-prod")? == "30").then_some(())
    })
    .await;
    eventually("the file Tenant's quota", || {
        (pods("initech-prod")? == "5").then_some(())
    })
    .await;
    // acme declares its own quota: the default does not apply.
    assert_eq!(pods("acme-prod"), None);
    replica.stop().await;
}
