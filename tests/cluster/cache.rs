//! The watch caches behind the webhook: readiness, lookups after watch
//! events, serving through a broken watch, and the direct lookup of a
//! namespace the cache has not seen (through the real router).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tenantguard::engine::Engine;
use tenantguard::server::{self, AppState, Limits, Swap};
use tenantguard::tenancy::{NamespaceTenancy, TenancySource};
use tokio::sync::watch;
use tower::ServiceExt;

use super::apiserver::Fault;
use super::{common, eventually, namespace, rbac, world, Replica};

fn router(replica: &Replica) -> axum::Router {
    let state = AppState {
        engine: Arc::new(Swap::new(Engine::default())),
        tenancy: replica.cluster.tenancy() as Arc<dyn TenancySource>,
        metrics: replica.metrics.clone(),
        shutting_down: Arc::new(AtomicBool::new(false)),
    };
    server::router(state, Limits::default())
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, String) {
    let resp = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A captured pod AdmissionReview, sent to `namespace`.
fn pod_review(namespace: &str) -> Vec<u8> {
    let mut review = common::review_fixture("pod/review-create-two-containers.json");
    review["request"]["namespace"] = json!(namespace);
    review["request"]["object"]["metadata"]["namespace"] = json!(namespace);
    serde_json::to_vec(&review).unwrap()
}

fn response(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_both_initial_lists() {
    let server = world();
    let (release, gate) = watch::channel(false);
    let hold = server.fault(
        Method::GET,
        "/apis/tenantguard.io/v1alpha1/tenants",
        Fault::Hold(gate),
    );
    let replica = Replica::start(&server, "replica-a", false);
    let app = router(&replica);
    eventually("the namespaces to sync", || {
        (replica.metric("tenantguard_cache_synced{resource=\"namespaces\"}") == Some(1.0))
            .then_some(())
    })
    .await;
    let (code, body) = call(&app, "GET", "/readyz", vec![]).await;
    assert_eq!(
        code,
        StatusCode::SERVICE_UNAVAILABLE,
        "tenants are not listed yet: {body}"
    );
    assert!(body.contains("not synced"), "{body}");
    assert_eq!(
        replica.metric("tenantguard_cache_synced{resource=\"tenants\"}"),
        Some(0.0)
    );
    release.send(true).unwrap();
    let tenancy = replica.cluster.tenancy();
    eventually("both caches to sync", || tenancy.ready().then_some(())).await;
    assert_eq!(call(&app, "GET", "/readyz", vec![]).await.0, StatusCode::OK);
    assert_eq!(
        replica.metric("tenantguard_inventory_namespaces"),
        Some(9.0)
    );
    assert_eq!(replica.metric("tenantguard_inventory_tenants"), Some(2.0));
    server.clear_fault(hold);
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_reach_the_lookups() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("sync", || tenancy.ready().then_some(())).await;
    let inv = tenancy.snapshot();
    assert_eq!(inv.tenant_of("acme-prod"), Some("acme"));
    assert_eq!(inv.namespace("monitoring"), NamespaceTenancy::Platform);
    assert!(inv.is_declared("globex"));

    server.put(namespace("initech-dev", Some("initech")));
    eventually("a new namespace", || {
        (tenancy.snapshot().tenant_of("initech-dev") == Some("initech")).then_some(())
    })
    .await;
    server.put(namespace("acme-dev", Some("globex")));
    eventually("a relabelled namespace", || {
        (tenancy.snapshot().tenant_of("acme-dev") == Some("globex")).then_some(())
    })
    .await;
    server.delete("namespaces", "", "initech-dev");
    eventually("a deleted namespace", || {
        (tenancy.snapshot().namespace("initech-dev") == NamespaceTenancy::Unknown).then_some(())
    })
    .await;

    let mut initech = fixture_tenant("acme");
    initech["metadata"] = json!({"name": "initech"});
    initech["spec"] = json!({"nodeSelector": {"pool": "initech"}});
    server.put(initech);
    eventually("a new Tenant", || {
        tenancy.snapshot().is_declared("initech").then_some(())
    })
    .await;
    assert_eq!(tenancy.snapshot().foreign_node_pairs("acme").count(), 1);

    // A Tenant turned invalid keeps its last valid spec in force.
    let mut acme = fixture_tenant("acme");
    acme["spec"]["egress"]["allowedCIDRs"] = json!(["203.0.113.0/24", "everywhere"]);
    server.put(acme);
    let error = eventually("the invalid Tenant to be recorded", || {
        tenancy
            .cluster_tenants()
            .into_iter()
            .find(|(n, _)| n == "acme")
            .and_then(|(_, r)| r.error)
    })
    .await;
    assert!(error.contains("spec.egress.allowedCIDRs[1]"), "{error}");
    let inv = tenancy.snapshot();
    let kept = &inv.tenant_entry("acme").unwrap().spec;
    assert_eq!(
        kept.egress.as_ref().unwrap().allowed_cidrs,
        ["203.0.113.0/24"]
    );
    replica.stop().await;
}

fn fixture_tenant(name: &str) -> Value {
    let list = super::fixture("tenants.json");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metadata"]["name"] == name)
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_watch_keeps_serving_and_relists() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("sync", || tenancy.ready().then_some(())).await;
    assert_eq!(replica.metric("tenantguard_cache_age_seconds"), Some(0.0));

    let down = server.fault(Method::GET, "/api/v1/namespaces?", Fault::Status(500));
    server.close_watches();
    server.put(namespace("late-prod", Some("acme")));
    eventually("the cache age to count the outage", || {
        replica
            .metric("tenantguard_cache_age_seconds")
            .filter(|a| *a >= 1.0)
    })
    .await;
    // Still serving, still ready, from the last snapshot.
    assert!(tenancy.ready());
    assert_eq!(tenancy.snapshot().tenant_of("acme-prod"), Some("acme"));
    assert_eq!(
        tenancy.snapshot().namespace("late-prod"),
        NamespaceTenancy::Unknown
    );

    server.clear_fault(down);
    eventually("the re-list after the backoff", || {
        (tenancy.snapshot().tenant_of("late-prod") == Some("acme")).then_some(())
    })
    .await;
    eventually("the cache age to reset", || {
        (replica.metric("tenantguard_cache_age_seconds") == Some(0.0)).then_some(())
    })
    .await;
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_namespace_is_looked_up_once_then_denied_if_missing() {
    let server = world();
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("sync", || tenancy.ready().then_some(())).await;
    let app = router(&replica);
    let gets = |name: &str| {
        server
            .calls()
            .iter()
            .filter(|c| c.verb == "get" && c.resource == "namespaces" && c.name == name)
            .count()
    };

    // Created a moment ago: the watch has not delivered it.
    server.put_quietly(namespace("hooli-prod", Some("hooli")));
    let (code, body) = call(&app, "POST", "/validate", pod_review("hooli-prod")).await;
    assert_eq!(code, StatusCode::OK);
    let r = response(&body);
    let reason = r["status"]["message"].as_str().unwrap_or("");
    // Judged as a tenant namespace: a tenant rule speaks.
    assert!(
        reason.contains("[require-limits]"),
        "judged for its tenant once looked up: {r}"
    );
    assert_eq!(gets("hooli-prod"), 1);
    assert_eq!(tenancy.snapshot().tenant_of("hooli-prod"), Some("hooli"));
    // Now cached: no second lookup.
    call(&app, "POST", "/validate", pod_review("hooli-prod")).await;
    assert_eq!(gets("hooli-prod"), 1);

    // Missing in the cluster too: denied, with the reason.
    let (_, body) = call(&app, "POST", "/validate", pod_review("ghost")).await;
    let r = response(&body);
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("namespace \"ghost\" is not known to tenantguard yet"),
        "{r}"
    );
    assert_eq!(gets("ghost"), 1);

    // The apiserver does not answer: the lookup times out and the request is denied.
    server.put_quietly(namespace("slow-prod", Some("acme")));
    server.fault(Method::GET, "/api/v1/namespaces/slow-prod", Fault::Stall);
    let (_, body) = call(&app, "POST", "/mutate", pod_review("slow-prod")).await;
    let r = response(&body);
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("slow-prod"),
        "{r}"
    );
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}
