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

#[path = "../bench/workload.rs"]
mod workload;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tenantguard::audit::report::{NamespaceReport, ObjectRef};
use tenantguard::engine::Engine;
use tenantguard::policy::rules::Identity;
use tenantguard::tenancy::Inventory;

const PAGE: usize = 500;

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
            let page: Vec<Value> = (made..made + n)
                .map(|i| workload::audit_object(&ns, &tenant, i))
                .collect();
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
