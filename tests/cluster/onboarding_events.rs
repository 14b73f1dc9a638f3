//! Events about onboarding: a namespace whose baseline the apiserver
//! refuses gets one Warning on its Tenant (not one per retry), naming the
//! namespace, the object and the error; fixed, a Normal Event says so and
//! no new Warning follows. A tenant without a Tenant object gets them on
//! the Namespace; an invalid Tenant gets a Warning until it is fixed.

use axum::http::Method;
use serde_json::{json, Value};

use super::apiserver::{ApiServer, Fault};
use super::{eventually, fixture, namespace, quiet, rbac, world, Replica};

/// The Events created (accepted by the apiserver) with `reason`.
fn events(server: &ApiServer, reason: &str) -> Vec<Value> {
    server
        .calls()
        .into_iter()
        .filter(|c| c.resource == "events" && c.verb == "create" && c.status < 300)
        .filter_map(|c| c.body)
        .filter(|e| e["reason"] == reason)
        .collect()
}

fn note(e: &Value) -> &str {
    e["note"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_baseline_object_is_one_warning_on_the_tenant_until_fixed() {
    let server = world();
    let refused = server.fault(
        Method::PATCH,
        "/namespaces/acme-prod/resourcequotas/",
        Fault::Status(403),
    );
    // A tenant with no Tenant object: its Events go on the namespace.
    server.put(namespace("initech-prod", Some("initech")));
    let invalid = server.fault(
        Method::PATCH,
        "/namespaces/initech-prod/limitranges/",
        Fault::Status(422),
    );
    let replica = Replica::start(&server, "replica-a", true);
    let warning = eventually("a Warning about acme-prod", || {
        events(&server, "OnboardingFailed")
            .into_iter()
            .find(|e| note(e).contains("acme-prod"))
    })
    .await;
    let acme = server.get("tenants", "", "acme").unwrap();
    assert_eq!(warning["type"], "Warning");
    assert_eq!(warning["action"], "Onboard");
    assert_eq!(warning["reportingController"], "tenantguard");
    assert_eq!(warning["reportingInstance"], "replica-a");
    assert_eq!(
        warning["regarding"],
        json!({"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant", "name": "acme",
            "uid": acme["metadata"]["uid"]}),
        "on the Tenant, found by `kubectl describe tenant acme`"
    );
    // A cluster-scoped object's Events live in `default`.
    let created_in: Vec<String> = server
        .calls()
        .into_iter()
        .filter(|c| c.resource == "events" && c.verb == "create")
        .map(|c| c.namespace)
        .collect();
    assert!(
        created_in.iter().all(|ns| ns == "default"),
        "{created_in:?}"
    );
    for part in [
        "onboarding namespace acme-prod failed",
        "ResourceQuota \"tenantguard-quota\"",
        "injected fault",
        "HTTP 403",
        "ClusterRole",
    ] {
        assert!(note(&warning).contains(part), "{part:?} in {warning}");
    }
    let on_namespace = eventually("a Warning about initech-prod", || {
        events(&server, "OnboardingFailed")
            .into_iter()
            .find(|e| note(e).contains("initech-prod"))
    })
    .await;
    assert_eq!(on_namespace["regarding"]["kind"], "Namespace");
    assert_eq!(on_namespace["regarding"]["name"], "initech-prod");
    assert!(note(&on_namespace).contains("LimitRange"), "{on_namespace}");
    assert!(note(&on_namespace).contains("HTTP 422"), "{on_namespace}");

    // The reconcile is retried with backoff; the same failure is not announced again.
    eventually("retries", || {
        let tries = server
            .calls()
            .iter()
            .filter(|c| {
                c.resource == "resourcequotas" && c.namespace == "acme-prod" && c.status == 403
            })
            .count();
        (tries >= 4).then_some(())
    })
    .await;
    let about = |ns: &str| {
        events(&server, "OnboardingFailed")
            .iter()
            .filter(|e| note(e).contains(&format!("namespace {ns} ")))
            .count()
    };
    assert_eq!(about("acme-prod"), 1, "one Warning, not one per retry");

    // Fixed: a Normal Event, and no new Warning.
    server.clear_fault(refused);
    server.clear_fault(invalid);
    let normal = eventually("the Normal Event for acme-prod", || {
        events(&server, "Onboarded")
            .into_iter()
            .find(|e| note(e).contains("acme-prod"))
    })
    .await;
    assert_eq!(normal["type"], "Normal");
    assert_eq!(normal["regarding"]["kind"], "Tenant");
    eventually("the Normal Event for initech-prod", || {
        events(&server, "Onboarded")
            .into_iter()
            .find(|e| note(e).contains("initech-prod"))
    })
    .await;
    quiet(&server).await;
    assert_eq!(about("acme-prod"), 1);
    assert_eq!(about("initech-prod"), 1);
    assert_eq!(events(&server, "Onboarded").len(), 2, "nothing else failed");
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_tenant_gets_a_warning_until_it_is_fixed() {
    let server = world();
    server.put_list(&fixture("tenants-invalid.json"));
    server.put(namespace("badquota-prod", Some("badquota")));
    let replica = Replica::start(&server, "replica-a", true);
    let warning = eventually("the InvalidSpec Warning", || {
        events(&server, "InvalidSpec")
            .into_iter()
            .find(|e| e["regarding"]["name"] == "badquota")
    })
    .await;
    assert_eq!(warning["type"], "Warning");
    assert!(
        note(&warning).contains("spec.quota.hard.requests.cpu"),
        "{warning}"
    );
    assert!(
        note(&warning).contains("kubectl edit tenant badquota"),
        "{warning}"
    );

    let mut fixed = server.get("tenants", "", "badquota").unwrap();
    fixed["spec"] = json!({"quota": {"hard": {"requests.cpu": "2"}}});
    server.put(fixed);
    eventually("the SpecValid Event", || {
        events(&server, "SpecValid")
            .into_iter()
            .find(|e| e["regarding"]["name"] == "badquota")
    })
    .await;
    quiet(&server).await;
    let about_badquota = events(&server, "InvalidSpec")
        .iter()
        .filter(|e| e["regarding"]["name"] == "badquota")
        .count();
    assert_eq!(about_badquota, 1, "announced once while it lasted");
    replica.stop().await;
}
