//! The audit's judging speed and memory, offline, on one thread: 100,000
//! generated objects (Deployments, Pods, Services and NetworkPolicies in
//! equal parts) across 1,000 tenant namespaces (one tenant each), judged
//! exactly as the background scan judges them: namespace by namespace,
//! pages of 500 made and dropped one at a time (as a list call's pages
//! are), each object's CREATE through the audit engine (the repository's
//! `policies/`), one PolicyReport per namespace built and serialized.
//! Every tenth object of each kind breaks a rule.
//!
//! ```sh
//! cargo run --release --example audit_scan              # 100000 objects, 1000 namespaces
//! cargo run --release --example audit_scan -- 20000 200
//! ```
//!
//! Prints objects per second (judging alone: the time to generate the same
//! objects is measured in a first pass and subtracted) and the peak RSS
//! (VmHWM) before and after.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tenantguard::audit::report::{NamespaceReport, ObjectRef};
use tenantguard::engine::Engine;
use tenantguard::policy::rules::Identity;
use tenantguard::tenancy::Inventory;

const PAGE: usize = 500;

fn containers(i: usize) -> Value {
    // One object in ten has no memory limit on its first container.
    let first = if i % 10 == 0 {
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m"}})
    } else {
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}})
    };
    json!([
        {"name": "app", "image": "registry.example.com/app:1.2.3", "resources": first,
         "ports": [{"containerPort": 8080}],
         "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true}},
        {"name": "sidecar", "image": "registry.example.com/proxy:2.0",
         "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
    ])
}

fn object(ns: &str, tenant: &str, i: usize) -> Value {
    let name = format!("obj-{i}");
    let labels = json!({"app": name, "tenantguard.io/tenant": tenant});
    let meta = json!({"name": name, "namespace": ns, "labels": labels,
        "uid": format!("00000000-0000-4000-8000-{i:012}")});
    let n = i / 4;
    match i % 4 {
        0 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": containers(n)}}}}),
        1 => json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": containers(n), "restartPolicy": "Always"}}),
        2 => {
            // One in ten is a NodePort (not granted by default).
            let ty = if n % 10 == 0 { "NodePort" } else { "ClusterIP" };
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                "spec": {"type": ty, "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
        }
        _ => {
            // One in ten opens egress to everywhere.
            let egress = if n % 10 == 0 {
                json!([{}])
            } else {
                json!([{"to": [{"namespaceSelector": {"matchLabels": {"tenantguard.io/tenant": tenant}}}]}])
            };
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"podSelector": {}}]}], "egress": egress}})
        }
    }
}

/// Peak resident set size in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `each` over every generated object, namespace by namespace, page by page.
fn walk(total: usize, namespaces: usize, mut each: impl FnMut(&str, &str, Option<Vec<Value>>)) {
    let per_ns = total / namespaces;
    for t in 0..namespaces {
        let (tenant, ns) = (format!("tenant-{t}"), format!("tenant-{t}-prod"));
        let mut made = 0;
        while made < per_ns {
            let n = PAGE.min(per_ns - made);
            let page: Vec<Value> = (made..made + n).map(|i| object(&ns, &tenant, i)).collect();
            made += n;
            each(&ns, &tenant, Some(page));
        }
        each(&ns, &tenant, None);
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(100_000);
    let namespaces = args.get(1).copied().unwrap_or(1_000).max(1);
    let (set, _) = tenantguard::config::load_policies(Some(std::path::Path::new("policies")))
        .unwrap_or_else(|e| panic!("policies/: {e}"));
    let audit = tenantguard::audit::engine(&Engine::new(set, Identity::default()));
    let mut inv = Inventory::default();
    for t in 0..namespaces {
        inv.add_namespace(&format!("tenant-{t}-prod"), Some(&format!("tenant-{t}")));
    }
    let user = tenantguard::audit::auditor(None, &[]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let rss_before = peak_rss_kib();

    // Pass 1: generating alone.
    let t0 = Instant::now();
    let mut generated = 0usize;
    walk(total, namespaces, |_, _, page| {
        generated += page.map_or(0, |p| p.len());
    });
    let generation = t0.elapsed();

    // Pass 2: generating and judging, as the scan does.
    let t1 = Instant::now();
    let (mut judged, mut fail, mut warn, mut report_bytes, mut largest) =
        (0u64, 0u64, 0u64, 0usize, 0usize);
    let mut report: Option<NamespaceReport> = None;
    walk(total, namespaces, |ns, _tenant, page| {
        let r = report.get_or_insert_with(|| NamespaceReport::new(ns, now));
        match page {
            Some(page) => {
                for obj in page {
                    let req = tenantguard::check::create_request(&obj, ns, &user);
                    let outcome = tenantguard::audit::judge(&audit, &req, &inv);
                    r.add(&ObjectRef::of(&obj), &outcome);
                    judged += 1;
                }
            }
            None => {
                let s = r.summary();
                fail += s.fail;
                warn += s.warn;
                let bytes = serde_json::to_vec(&r.to_object()).map_or(0, |b| b.len());
                report_bytes += bytes;
                largest = largest.max(bytes);
                report = None;
            }
        }
    });
    let both = t1.elapsed();
    let judging = both.saturating_sub(generation);
    let rss_after = peak_rss_kib();
    println!("objects: {judged} (generated {generated}) in {namespaces} tenant namespaces, pages of {PAGE}");
    println!("violations: {fail} fail, {warn} warn; reports: {report_bytes} bytes in all, largest {largest} bytes");
    println!(
        "generation alone: {:.3} s; generation + judging + reports: {:.3} s",
        generation.as_secs_f64(),
        both.as_secs_f64()
    );
    println!(
        "judging: {:.0} objects/s on one thread ({:.0} objects/s including generation)",
        judged as f64 / judging.as_secs_f64().max(1e-9),
        judged as f64 / both.as_secs_f64().max(1e-9)
    );
    println!(
        "peak RSS: {:.1} MiB before the scan, {:.1} MiB after",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
}
