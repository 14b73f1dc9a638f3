//! Red team (p19d): the webhook server as DESIGN.md "Webhook endpoints",
//! "Metrics" and "Policy files" (reload) name it, written from DESIGN.md
//! alone, against the real `tenantguard serve` over HTTPS.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{start, Client, Opts, Proto};
use serde_json::{json, Value};

/// acme and globex are declared; `rnd-*` namespaces are not known at all.
const TENANCY: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec: {owners: [{kind: Group, name: acme-admins}]}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec: {owners: [{kind: Group, name: globex-admins}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-prod, labels: {tenantguard.io/tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: globex-prod, labels: {tenantguard.io/tenant: globex}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
";

fn review(ns: &str, uid: &str, op: &str, containers: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": ns, "operation": op, "name": "web",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": ns},
            "spec": {"containers": containers}}}})
}

fn no_limits() -> Value {
    json!([{"name": "app", "image": "nginx"}])
}

fn limited() -> Value {
    json!([{"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}])
}

async fn serve() -> (common::Server, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(dir.path(), "inv.yaml", TENANCY);
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    let c = Client::connect(&s, Proto::H2).await.unwrap();
    (s, c, dir)
}

/// Every sample of `name` in the exposition: its labels.
fn samples(text: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let re = regex::Regex::new(r#"([a-zA-Z_]+)="((?:[^"\\]|\\.)*)""#).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .map(|rest| {
            let labels = &rest[..rest.rfind('}').unwrap()];
            re.captures_iter(labels)
                .map(|c| (c[1].to_string(), c[2].to_string()))
                .collect()
        })
        .collect()
}

fn label_keys(m: &BTreeMap<String, String>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_unknown_paths() {
    let (s, mut c, _d) = serve().await;
    for p in ["/healthz", "/readyz"] {
        let r = c.request("GET", p, vec![]).await.unwrap();
        assert_eq!(r.status, 200, "{p}: {}", r.text());
    }
    for p in [
        "/",
        "/nope",
        "/validate/x",
        "/mutatex",
        "/metrics",
        "/healthz/x",
    ] {
        let r = c.request("GET", p, vec![]).await.unwrap();
        assert_eq!(r.status, 404, "{p}: {}", r.text());
        let r = c.request("POST", p, b"{}".to_vec()).await.unwrap();
        assert_eq!(r.status, 404, "POST {p}: {}", r.text());
    }
    // The metrics port serves /metrics (plain HTTP) in Prometheus text.
    // Before any admission request the names DESIGN lists are already on
    // the page (a scrape or dashboard finds them), with no sample yet.
    let m = common::metrics(s.metrics_addr).await;
    for name in [
        "tenantguard_admission_requests_total",
        "tenantguard_admission_duration_seconds",
        "tenantguard_policy_violations_total",
    ] {
        assert!(m.contains(&format!("# TYPE {name} ")), "{name}: {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_requests_are_400_and_unjudgeable_ones_denied() {
    let (_s, mut c, _d) = serve().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", vec![]),
        ("JSON null", b"null".to_vec()),
        ("an array", b"[]".to_vec()),
        ("no request", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec()),
        ("request null", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}"#.to_vec()),
        ("uid a number", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5,"operation":"CREATE"}}"#.to_vec()),
        ("kind AdmissionReviewX", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReviewX","request":{"uid":"u"}}"#.to_vec()),
        ("version v2", br#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"u"}}"#.to_vec()),
        ("trailing garbage", {
            let mut b = serde_json::to_vec(&review("acme-prod", "t", "CREATE", limited())).unwrap();
            b.extend_from_slice(b"}{");
            b
        }),
    ];
    for ep in ["/validate", "/mutate"] {
        for (what, body) in &bodies {
            let r = c.request("POST", ep, body.clone()).await.unwrap();
            // Never admitted: 400, or a denial.
            if r.status == 200 {
                let v = r.json();
                assert_eq!(v["response"]["allowed"], false, "{ep} {what}: {v}");
            } else {
                assert_eq!(r.status, 400, "{ep} {what}: {}", r.text());
                assert!(!r.text().is_empty(), "{ep} {what}: says why");
            }
        }
    }
    // A bare AdmissionRequest (valid JSON, wrong shape) is 400 with a
    // message that says so, not "not valid JSON".
    let mut bare = review("acme-prod", "bare", "CREATE", limited());
    let bare = bare["request"].take();
    let r = c.post_json("/validate", &bare).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("not an AdmissionReview") && !r.text().contains("not valid JSON"),
        "{}",
        r.text()
    );

    // A CREATE or UPDATE without object is denied with the uid, never admitted.
    for op in ["CREATE", "UPDATE"] {
        for ns in ["acme-prod", "globex-prod"] {
            let mut r = review(ns, "no-obj", op, limited());
            r["request"].as_object_mut().unwrap().remove("object");
            if op == "UPDATE" {
                r["request"]["oldObject"] = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "web", "namespace": ns}, "spec": {"containers": limited()}});
            }
            for ep in ["/validate", "/mutate"] {
                let v = c.post_json(ep, &r).await.json();
                assert_eq!(v["response"]["uid"], "no-obj", "{op} {ns} {ep}: {v}");
                assert_eq!(v["response"]["allowed"], false, "{op} {ns} {ep}: {v}");
            }
        }
    }
    // An UPDATE of a Namespace without oldObject: whether the tenant label
    // changed cannot be told, so it is not admitted for a non-admin.
    let ns_update = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "ns-upd", "kind": {"group": "", "version": "v1", "kind": "Namespace"},
        "resource": {"group": "", "version": "v1", "resource": "namespaces"},
        "operation": "UPDATE", "name": "acme-prod",
        "userInfo": {"username": "alice", "groups": ["acme-admins"]},
        "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "acme-prod", "labels": {"tenantguard.io/tenant": "globex"}}}}});
    let v = c.post_json("/validate", &ns_update).await.json();
    assert_eq!(
        (&v["response"]["uid"], &v["response"]["allowed"]),
        (&json!("ns-upd"), &json!(false)),
        "{v}"
    );

    // A DELETE carries no object and that is not an error.
    let mut del = review("acme-prod", "del", "DELETE", limited());
    del["request"]["oldObject"] = del["request"]["object"].take();
    del["request"].as_object_mut().unwrap().remove("object");
    let v = c.post_json("/validate", &del).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_size_limit_default_8_mib() {
    let (_s, mut c, _d) = serve().await;
    // A real review padded (in an annotation) to just under 8 MiB: judged.
    let mut r = review("acme-prod", "big", "CREATE", limited());
    let base = serde_json::to_vec(&r).unwrap().len();
    let target = 8 * 1024 * 1024 - 4096;
    r["request"]["object"]["metadata"]["annotations"] =
        json!({"pad": "x".repeat(target - base - 64)});
    let body = serde_json::to_vec(&r).unwrap();
    assert!(body.len() < 8 * 1024 * 1024 && body.len() > 8 * 1024 * 1024 - 8192);
    let reply = c.request("POST", "/validate", body).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["response"]["uid"], "big");
    // Just over 8 MiB: 413.
    r["request"]["object"]["metadata"]["annotations"] =
        json!({"pad": "x".repeat(8 * 1024 * 1024 + 16)});
    let reply = c
        .request("POST", "/validate", serde_json::to_vec(&r).unwrap())
        .await
        .unwrap();
    assert_eq!(reply.status, 413, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_body_bytes_flag_sets_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(dir.path(), "inv.yaml", TENANCY);
    let s = start(Opts {
        inventory: Some(&inv),
        extra: vec!["--max-body-bytes".into(), "4096".into()],
        ..Default::default()
    });
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let ok = c
        .post_json("/validate", &review("acme-prod", "s", "CREATE", limited()))
        .await;
    assert_eq!(ok.status, 200);
    let mut r = review("acme-prod", "s", "CREATE", limited());
    r["request"]["object"]["metadata"]["annotations"] = json!({"pad": "x".repeat(5000)});
    let big = c.post_json("/validate", &r).await;
    assert_eq!(big.status, 413, "{}", big.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_names_labels_and_dry_run() {
    let (s, mut c, _d) = serve().await;
    let deny = review("acme-prod", "m-1", "CREATE", no_limits());
    let mut dry = deny.clone();
    dry["request"]["dryRun"] = json!(true);
    let a = c.post_json("/validate", &deny).await.json();
    let b = c.post_json("/validate", &dry).await.json();
    assert_eq!(a, b, "dry-run judged the same");
    assert_eq!(a["response"]["allowed"], false);
    let ok = review("globex-prod", "m-2", "CREATE", limited());
    assert_eq!(
        c.post_json("/mutate", &ok).await.json()["response"]["allowed"],
        true
    );
    let m = common::metrics(s.metrics_addr).await;

    let reqs = samples(&m, "tenantguard_admission_requests_total");
    assert!(!reqs.is_empty(), "{m}");
    for l in &reqs {
        assert_eq!(
            label_keys(l),
            BTreeSet::from([
                "tenant",
                "kind",
                "operation",
                "endpoint",
                "decision",
                "dry_run"
            ]),
            "{l:?}"
        );
    }
    let find = |tenant: &str, dry_run: &str| {
        reqs.iter()
            .find(|l| l["tenant"] == tenant && l["dry_run"] == dry_run && l["kind"] == "Pod")
            .unwrap_or_else(|| panic!("no sample tenant={tenant} dry_run={dry_run}: {reqs:?}"))
    };
    let wet = find("acme", "false");
    let dryl = find("acme", "true");
    assert_eq!(wet["operation"], "CREATE");
    assert_eq!(wet["decision"], dryl["decision"]);
    assert!(wet["endpoint"].contains("validate"), "{wet:?}");
    assert!(find("globex", "false")["endpoint"].contains("mutate"));

    // Duration histogram per endpoint, smallest bucket 50µs.
    let buckets = samples(&m, "tenantguard_admission_duration_seconds_bucket");
    assert!(!buckets.is_empty(), "{m}");
    let mut les: Vec<f64> = buckets
        .iter()
        .inspect(|l| {
            assert_eq!(label_keys(l), BTreeSet::from(["endpoint", "le"]), "{l:?}");
        })
        .filter_map(|l| l["le"].parse::<f64>().ok())
        .collect();
    les.sort_by(f64::total_cmp);
    assert!((les[0] - 0.00005).abs() < 1e-12, "first bucket {les:?}");
    assert!(
        m.contains("tenantguard_admission_duration_seconds_count{"),
        "{m}"
    );
    assert!(
        m.contains("tenantguard_admission_duration_seconds_sum{"),
        "{m}"
    );

    let viol = samples(&m, "tenantguard_policy_violations_total");
    for l in &viol {
        assert_eq!(
            label_keys(l),
            BTreeSet::from(["tenant", "policy", "action"]),
            "{l:?}"
        );
    }
    assert!(
        viol.iter().any(|l| l["tenant"] == "acme"
            && l["policy"] == "require-limits"
            && l["action"] == "Deny"),
        "{viol:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_label_stays_bounded_under_random_names() {
    bounded(TENANCY, &["acme", "globex", "none"]).await;
}

/// No Tenant declared: any name is a tenant, but only names observed on
/// namespaces may become label values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_label_stays_bounded_without_declared_tenants() {
    bounded(common::INVENTORY, &["acme", "globex", "customer-1", "none"]).await;
}

async fn bounded(tenancy: &str, allowed: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(dir.path(), "inv.yaml", tenancy);
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    for i in 0..40 {
        // Anyone who can reach the port may send made-up kinds and
        // operations: they must not become label values either.
        let mut odd = review("acme-prod", "o", "CREATE", limited());
        odd["request"]["operation"] = json!(format!("OP{i}-zq"));
        odd["request"]["kind"]["kind"] = json!(format!("Kind{i}-zq"));
        odd["request"]["object"]["kind"] = json!(format!("Kind{i}-zq"));
        odd["request"]["dryRun"] = json!(format!("maybe{i}-zq"));
        c.post_json("/validate", &odd).await;
        c.post_json("/mutate", &odd).await;
        // Pods in namespaces nobody declared.
        let ns = format!("rnd-ns-{i}-zq");
        c.post_json("/validate", &review(&ns, "r", "CREATE", no_limits()))
            .await;
        c.post_json("/mutate", &review(&ns, "r", "CREATE", no_limits()))
            .await;
        // Namespaces labelled for tenants nobody declared (denied).
        let nsr = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "n", "kind": {"group": "", "version": "v1", "kind": "Namespace"},
            "resource": {"group": "", "version": "v1", "resource": "namespaces"},
            "operation": "CREATE", "name": format!("rnd-new-{i}-zq"),
            "userInfo": {"username": "mallory", "groups": ["system:authenticated"]},
            "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": format!("rnd-new-{i}-zq"),
                "labels": {"tenantguard.io/tenant": format!("rnd-tenant-{i}-zq")}}}}});
        for ep in ["/validate", "/mutate"] {
            let mut d = nsr.clone();
            d["request"]["dryRun"] = json!(true);
            c.post_json(ep, &nsr).await;
            c.post_json(ep, &d).await;
        }
    }
    let m = common::metrics(s.metrics_addr).await;
    assert!(!m.contains("-zq"), "random names reached the metrics:\n{m}");
    let tenants: BTreeSet<String> = samples(&m, "tenantguard_admission_requests_total")
        .into_iter()
        .chain(samples(&m, "tenantguard_policy_violations_total"))
        .map(|l| l["tenant"].clone())
        .collect();
    assert!(tenants.contains("none"), "{tenants:?}");
    let ops: BTreeSet<String> = samples(&m, "tenantguard_admission_requests_total")
        .into_iter()
        .map(|l| l["operation"].clone())
        .collect();
    assert!(ops.len() <= 6, "operations are bounded: {ops:?}");
    assert!(
        tenants.iter().all(|t| allowed.contains(&t.as_str())),
        "{tenants:?}"
    );
}

#[path = "redteam_server/reload_and_tls.rs"]
mod reload_and_tls;
