//! The host-claims cache behind `ingress-hosts`: Ingresses and Gateway API
//! routes watched into the snapshot's claims (appearing and disappearing
//! with the objects), readiness only once they are listed, and clusters
//! without the Gateway API CRDs.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tenantguard::engine::Engine;
use tenantguard::hosts::Host;
use tenantguard::server::{self, AppState, Limits, Swap};
use tenantguard::tenancy::TenancySource;
use tokio::sync::watch;
use tower::ServiceExt;

use super::apiserver::{ApiServer, Fault};
use super::{eventually, rbac, world, Replica};

fn ingress(ns: &str, name: &str, hosts: &[&str]) -> Value {
    let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns}, "spec": {"rules": rules}})
}

fn route(kind: &str, ns: &str, name: &str, hosts: &[&str]) -> Value {
    let api = if kind == "TLSRoute" { "v1alpha2" } else { "v1" };
    json!({"apiVersion": format!("gateway.networking.k8s.io/{api}"), "kind": kind,
        "metadata": {"name": name, "namespace": ns}, "spec": {"hostnames": hosts}})
}

/// Who claims something overlapping `host` in the current snapshot.
fn claimers(replica: &Replica, host: &str) -> Vec<String> {
    let inv = replica.cluster.tenancy().snapshot();
    let h = Host::parse(host).unwrap();
    let mut v: Vec<String> = inv
        .claims()
        .overlapping(&h)
        .into_iter()
        .map(|(_, c)| c.to_string())
        .collect();
    v.sort();
    v
}

async fn claimed_by(replica: &Replica, host: &str, want: &[&str]) {
    eventually(&format!("{host} claimed by {want:?}"), || {
        (claimers(replica, host) == want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_ingresses_and_routes() {
    let server = world();
    server.put(ingress("globex-prod", "web", &["shop.globex.example"]));
    server.put(route("HTTPRoute", "globex-prod", "api", &["*.api.example"]));
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("sync", || tenancy.ready().then_some(())).await;
    assert_eq!(
        claimers(&replica, "SHOP.globex.example."),
        ["Ingress globex-prod/web"]
    );
    assert_eq!(
        claimers(&replica, "v1.api.example"),
        ["HTTPRoute globex-prod/api"]
    );

    server.put(ingress("acme-prod", "web", &["shop.acme.example"]));
    claimed_by(&replica, "shop.acme.example", &["Ingress acme-prod/web"]).await;
    server.put(route(
        "GRPCRoute",
        "acme-prod",
        "rpc",
        &["rpc.acme.example"],
    ));
    server.put(route("TLSRoute", "acme-prod", "db", &["db.acme.example"]));
    claimed_by(&replica, "rpc.acme.example", &["GRPCRoute acme-prod/rpc"]).await;
    claimed_by(&replica, "db.acme.example", &["TLSRoute acme-prod/db"]).await;
    // An update moves the claim; a delete drops it.
    server.put(ingress("acme-prod", "web", &["www.acme.example"]));
    claimed_by(&replica, "shop.acme.example", &[]).await;
    claimed_by(&replica, "www.acme.example", &["Ingress acme-prod/web"]).await;
    server.delete("ingresses", "acme-prod", "web");
    claimed_by(&replica, "www.acme.example", &[]).await;
    server.delete("httproutes", "globex-prod", "api");
    claimed_by(&replica, "v1.api.example", &[]).await;
    assert_eq!(
        claimers(&replica, "shop.globex.example"),
        ["Ingress globex-prod/web"]
    );
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_ingresses_are_listed() {
    let server = world();
    server.put(ingress("globex-prod", "web", &["shop.globex.example"]));
    let (release, gate) = watch::channel(false);
    let hold = server.fault(
        Method::GET,
        "/apis/networking.k8s.io/v1/ingresses",
        Fault::Hold(gate),
    );
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("namespaces and tenants to sync", || {
        (replica.metric("tenantguard_cache_synced{resource=\"tenants\"}") == Some(1.0)
            && replica.metric("tenantguard_cache_synced{resource=\"namespaces\"}") == Some(1.0))
        .then_some(())
    })
    .await;
    assert!(!tenancy.ready(), "the Ingresses are not listed yet");
    assert_eq!(
        replica.metric("tenantguard_cache_synced{resource=\"ingresses\"}"),
        Some(0.0)
    );
    assert!(claimers(&replica, "shop.globex.example").is_empty());
    release.send(true).unwrap();
    eventually("every cache to sync", || tenancy.ready().then_some(())).await;
    assert_eq!(
        claimers(&replica, "shop.globex.example"),
        ["Ingress globex-prod/web"]
    );
    server.clear_fault(hold);
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_gateway_api_crds_routes_are_skipped() {
    let server: ApiServer = world();
    server.put(ingress("globex-prod", "web", &["shop.globex.example"]));
    server.fault(
        Method::GET,
        "/apis/gateway.networking.k8s.io/",
        Fault::Status(404),
    );
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("ready without the Gateway API", || {
        tenancy.ready().then_some(())
    })
    .await;
    for r in ["httproutes", "grpcroutes", "tlsroutes"] {
        assert_eq!(
            replica.metric(&format!("tenantguard_cache_synced{{resource=\"{r}\"}}")),
            Some(1.0),
            "{r}"
        );
    }
    assert_eq!(replica.metric("tenantguard_cache_age_seconds"), Some(0.0));
    assert_eq!(
        claimers(&replica, "shop.globex.example"),
        ["Ingress globex-prod/web"]
    );
    replica.stop().await;
}

/// `/validate` of an Ingress CREATE through the real router, with the
/// replica's tenancy; the response.
async fn validate_ingress(replica: &Replica, obj: Value) -> Value {
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "ingress", "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
        "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
        "namespace": ns, "operation": "CREATE", "name": obj["metadata"]["name"],
        "userInfo": {"username": "dave", "groups": ["acme-admins", "system:authenticated"]},
        "object": obj}});
    let state = AppState {
        engine: Arc::new(Swap::new(Engine::default())),
        tenancy: replica.cluster.tenancy() as Arc<dyn TenancySource>,
        metrics: replica.metrics.clone(),
        shutting_down: Arc::new(AtomicBool::new(false)),
    };
    let resp = server::router(state, Limits::default())
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/validate")
                .body(Body::from(serde_json::to_vec(&review).unwrap()))
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice::<Value>(&bytes).unwrap()["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_judges_with_the_cached_claims() {
    let server = world();
    server.put(ingress("globex-prod", "web", &["shop.globex.example"]));
    let replica = Replica::start(&server, "replica-a", false);
    let tenancy = replica.cluster.tenancy();
    eventually("sync", || tenancy.ready().then_some(())).await;
    let take = ingress("acme-prod", "mine", &["Shop.Globex.Example."]);
    let v = validate_ingress(&replica, take.clone()).await;
    assert_eq!(v["allowed"], false, "{v}");
    let msg = v["status"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("[ingress-hosts]") && msg.contains("spec.rules[0].host"),
        "{msg}"
    );
    // globex gives the host up: acme may take it.
    server.delete("ingresses", "globex-prod", "web");
    claimed_by(&replica, "shop.globex.example", &[]).await;
    let v = validate_ingress(&replica, take).await;
    assert_eq!(v["allowed"], true, "{v}");
    replica.stop().await;
}
