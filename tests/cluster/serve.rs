//! The real `tenantguard serve --cluster` process against the stand-in
//! apiserver served over HTTP on 127.0.0.1: no inventory file, ready once the
//! caches sync, tenant requests judged from the watched tenancy (a new pod
//! waits for its namespace to be onboarded), namespaces onboarded, and the
//! Lease released on SIGTERM.

use std::time::Duration;

use axum::http::Method;
use serde_json::json;

use super::apiserver::Fault;
use super::common::{self, Client, Opts, Proto};
use super::{eventually, namespace, rbac, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_in_a_cluster_needs_no_inventory_file() {
    let api = world();
    // acme-prod's isolation NetworkPolicy waits until the test says so.
    let (release, hold) = tokio::sync::watch::channel(false);
    api.fault(
        Method::PATCH,
        "/namespaces/acme-prod/networkpolicies/",
        Fault::Hold(hold),
    );
    let addr = api.serve_http("tenantguard-0").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = super::kubeconfig_file(dir.path(), addr);
    let mut server = common::start(Opts {
        extra: [
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--leader-identity",
            "tenantguard-0",
        ]
        .map(String::from)
        .to_vec(),
        ..Opts::default()
    });
    let mut c = Client::connect(&server, Proto::H2).await.unwrap();
    common::eventually("the caches to sync", Duration::from_secs(30), async || {
        c.request("GET", "/readyz", vec![])
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;

    // The onboarding gate: acme-prod has no baseline yet, so a new pod is
    // held back with a retry message, over HTTPS from the real process.
    let mut review = common::review_fixture("pod/review-create-two-containers.json");
    review["request"]["namespace"] = json!("acme-prod");
    let r = c.post_json("/validate", &review).await.json();
    let message = r["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(message.contains("is not onboarded yet"), "{r}");
    assert!(message.ends_with("retry in a moment"), "{r}");

    // Once onboarded it is judged as tenant acme's, with no --inventory.
    release.send_replace(true);
    let mut judged = String::new();
    common::eventually("the gate to open", Duration::from_secs(30), async || {
        let r = c.post_json("/validate", &review).await.json();
        judged = r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        !judged.contains("not onboarded")
    })
    .await;
    assert!(judged.contains("[require-limits]"), "{judged}");
    let mark = api.get("namespaces", "", "acme-prod").unwrap();
    assert_eq!(
        mark["metadata"]["annotations"]["tenantguard.io/onboarded"],
        "acme"
    );

    let has = |ns: &str| api.get("rolebindings", ns, "tenantguard-owners").is_some();
    eventually("the baseline", || has("acme-prod").then_some(())).await;
    api.put(namespace("acme-qa", Some("acme")));
    eventually("a new namespace's baseline", || {
        has("acme-qa").then_some(())
    })
    .await;
    let text = common::metrics(server.metrics_addr).await;
    for sample in [
        "tenantguard_leader 1",
        "tenantguard_cache_synced{resource=\"namespaces\"} 1",
        "tenantguard_cache_synced{resource=\"tenants\"} 1",
    ] {
        assert!(text.contains(sample), "{sample} missing in\n{text}");
    }

    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::block_in_place(|| server.child.wait()).unwrap();
    assert!(status.success(), "{status}");
    let lease = api
        .get("leases", rbac::OWN_NAMESPACE, "tenantguard-controller")
        .unwrap();
    assert!(
        lease["spec"].get("holderIdentity").is_none(),
        "released: {lease}"
    );
    rbac::assert_allowed(&api.calls());
}
