//! The onboarding gate (DESIGN, "Onboarding gate"), exempt namespaces and
//! ServiceAccount owners, against the stand-in apiserver: the controller
//! marks a namespace `tenantguard.io/onboarded` once its baseline exists;
//! until then the webhook holds new Pods back; exempt namespaces are never
//! onboarded whatever their label; a ServiceAccount owner outside the
//! tenant's namespaces is never granted `edit`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tenantguard::engine::Engine;
use tenantguard::policy::Settings;
use tenantguard::server::{self, AppState, Limits, Swap};
use tenantguard::tenancy::TenancySource;
use tokio::sync::watch;
use tower::ServiceExt;

use super::apiserver::{ApiServer, Fault};
use super::{eventually, namespace, quiet, rbac, world, Replica};

const MARK: &str = "tenantguard.io/onboarded";

fn mark(server: &ApiServer, ns: &str) -> Option<String> {
    server.get("namespaces", "", ns)?["metadata"]["annotations"][MARK]
        .as_str()
        .map(str::to_string)
}

/// A Pod CREATE review for `ns` that every rule admits (limits set).
fn pod_review(ns: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("pod-{ns}"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": ns, "operation": "CREATE", "name": "web",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "nginx",
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}}}}))
    .unwrap()
}

/// `/validate` through the real router, with the replica's tenancy.
async fn validate(replica: &Replica, body: Vec<u8>) -> Value {
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
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mark_follows_the_baseline_and_pods_wait_for_it() {
    let server = world();
    // The isolation NetworkPolicy of acme-prod cannot be applied yet.
    let (release, hold) = watch::channel(false);
    server.fault(
        Method::PATCH,
        "/namespaces/acme-prod/networkpolicies/",
        Fault::Hold(hold),
    );
    let replica = Replica::start(&server, "replica-a", true);
    let tenancy = replica.cluster.tenancy();
    eventually("the caches to sync", || tenancy.ready().then_some(())).await;
    // acme-dev goes through: marked, and its pods admitted.
    eventually("acme-dev marked", || {
        (mark(&server, "acme-dev").as_deref() == Some("acme")).then_some(())
    })
    .await;
    let v = validate(&replica, pod_review("acme-dev")).await;
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // acme-prod: not onboarded, so a new pod is held back with a retry message.
    let v = validate(&replica, pod_review("acme-prod")).await;
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("namespace \"acme-prod\" of tenant \"acme\" is not onboarded yet"),
        "{msg}"
    );
    assert!(msg.ends_with("retry in a moment"), "{msg}");
    assert_eq!(mark(&server, "acme-prod"), None);

    // Released: the baseline lands, then the mark, then the pod is admitted.
    release.send_replace(true);
    eventually("acme-prod marked", || {
        (mark(&server, "acme-prod").as_deref() == Some("acme")).then_some(())
    })
    .await;
    let v = validate(&replica, pod_review("acme-prod")).await;
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let calls = server.calls();
    let position = |resource: &str| {
        calls
            .iter()
            .position(|c| {
                c.verb == "patch"
                    && c.resource == resource
                    && (c.namespace == "acme-prod" || c.name == "acme-prod")
                    && c.status < 300
            })
            .unwrap_or_else(|| panic!("no successful patch of {resource} for acme-prod"))
    };
    let marked = position("namespaces");
    for r in [
        "networkpolicies",
        "resourcequotas",
        "limitranges",
        "serviceaccounts",
        "rolebindings",
    ] {
        assert!(position(r) < marked, "{r} is applied before the first mark");
    }
    let patch = calls[marked].clone();
    assert_eq!(patch.content_type, "application/merge-patch+json");
    assert_eq!(
        patch.body,
        Some(json!({"metadata": {"annotations": {MARK: "acme"}}}))
    );
    // Platform namespaces carry no mark.
    for ns in ["default", "monitoring"] {
        assert_eq!(mark(&server, ns), None, "{ns}");
    }
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_namespaces_are_never_onboarded_whatever_their_label() {
    let server = world();
    // Labelled for acme by someone: the default exempt kube-system,
    // tenantguard's own namespace (exempt whatever the Settings list), and
    // infra, which this cluster's Settings list.
    for ns in ["kube-system", rbac::OWN_NAMESPACE, "infra"] {
        server.put(namespace(ns, Some("acme")));
    }
    let settings = Settings {
        exempt_namespaces: vec!["kube-system".into(), "infra".into()],
        ..Settings::default()
    };
    let replica = Replica::start_with(
        &server,
        "replica-a",
        true,
        Arc::new(move || settings.clone()),
    );
    eventually("acme-prod marked", || {
        (mark(&server, "acme-prod").as_deref() == Some("acme")).then_some(())
    })
    .await;
    // A barrier: a namespace labelled afterwards is onboarded, so the
    // controller has been through every earlier one.
    quiet(&server).await;
    server.put(namespace("acme-late", Some("acme")));
    eventually("acme-late marked", || {
        (mark(&server, "acme-late").as_deref() == Some("acme")).then_some(())
    })
    .await;
    let kinds = [
        "networkpolicies",
        "resourcequotas",
        "limitranges",
        "serviceaccounts",
        "rolebindings",
    ];
    for ns in ["kube-system", rbac::OWN_NAMESPACE, "infra"] {
        assert_eq!(server.count_in(ns, &kinds), 0, "{ns} got baseline objects");
        assert_eq!(mark(&server, ns), None, "{ns} was marked");
    }
    replica.stop().await;
}

fn subjects(server: &ApiServer, ns: &str) -> Vec<String> {
    server
        .get("rolebindings", ns, "tenantguard-owners")
        .map(|rb| {
            rb["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{}/{}",
                        s["kind"].as_str().unwrap_or(""),
                        s["name"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_owners_count_only_inside_the_tenant() {
    let server = world();
    let mut acme = server.get("tenants", "", "acme").unwrap();
    acme["spec"]["owners"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "ServiceAccount", "name": "ci", "namespace": "acme-ci"}));
    server.put(acme);
    let replica = Replica::start(&server, "replica-a", true);
    // acme-ci does not exist: whoever creates it would control `ci`.
    let status = eventually("the Tenant reported invalid", || {
        let s = server.get("tenants", "", "acme")?["status"].clone();
        (s["conditions"][0]["reason"] == "InvalidOwners").then_some(s)
    })
    .await;
    let error = status["lastError"].as_str().unwrap_or("");
    assert!(
        error.starts_with(
            "spec.owners[2]: ServiceAccount \"ci\" of namespace \"acme-ci\" is not honoured"
        ),
        "{status}"
    );
    assert_eq!(status["conditions"][0]["status"], "False");
    eventually("the baseline in acme-prod", || {
        (!subjects(&server, "acme-prod").is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        subjects(&server, "acme-prod"),
        ["Group/acme-admins", "User/alice@acme.example"],
        "not granted"
    );

    // acme-ci becomes acme's: the owner counts, the RoleBindings follow.
    server.put(namespace("acme-ci", Some("acme")));
    eventually("the ServiceAccount granted in acme-prod", || {
        subjects(&server, "acme-prod")
            .contains(&"ServiceAccount/ci".to_string())
            .then_some(())
    })
    .await;
    eventually("the Tenant valid again", || {
        let s = server.get("tenants", "", "acme")?["status"].clone();
        (s["conditions"][0]["status"] == "True").then_some(())
    })
    .await;

    // Handed to globex: the grant goes again, without waiting for a resync.
    server.put(namespace("acme-ci", Some("globex")));
    eventually("the ServiceAccount gone from acme-prod", || {
        (!subjects(&server, "acme-prod").contains(&"ServiceAccount/ci".to_string())).then_some(())
    })
    .await;
    replica.stop().await;
    rbac::assert_allowed(&server.calls());
}
