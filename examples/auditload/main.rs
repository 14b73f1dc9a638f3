//! The webhook's latency while the audit scans (issue #16): the release
//! `tenantguard serve --cluster` against a stand-in apiserver holding
//! 100,000 objects (Deployments, Pods, Services, NetworkPolicies; every
//! tenth breaks a rule) across 1,000 tenant namespaces, `/validate` driven by
//! h2load at a fixed rate over HTTP/2, once with the background scan off
//! (`--audit-interval 0`) and once while it scans back to back
//! (`--audit-interval 1ms`).
//!
//! ```sh
//! bench/audit_p99.sh            # = cargo run --release --example auditload
//! bench/audit_p99.sh --quick
//! ```
//!
//! The stand-in is the cluster tests' (`tests/cluster/apiserver.rs`, by
//! `#[path]`), served over HTTP on 127.0.0.1 from this process: paginated
//! lists, the Lease, server-side apply of the baseline and the
//! PolicyReports, Events. The namespaces and Tenants are the load
//! benchmark's (`bench/workload.rs`: tenant `tNNNN`, namespace `tNNNN-ns07`),
//! so the request body is the load benchmark's `/validate` pod.
//!
//! Each phase starts its own server (and stand-in), waits until the
//! onboarding controller has reconciled every namespace and gone quiet,
//! then measures. While the scan phase is measured, the stand-in's call log
//! is sampled every 200 ms: a slice without a list call from the scan
//! would mean the scan paused, and the table says in how many slices it ran,
//! how many namespaces it listed and how many PolicyReports it wrote. The
//! audit metrics before and after the window (`tenantguard_audit_scans_total`,
//! `tenantguard_audit_objects_total`, both counted when a scan ends) say
//! whether a scan ended inside it: none ended and every slice active means
//! one scan ran through the whole window.
//! tenantguard is pinned to one CPU (every thread), h2load and this process
//! (the stand-in) to another, when two exist.

#[path = "../../tests/cluster/apiserver.rs"]
mod apiserver;
#[allow(dead_code)]
#[path = "../loadbench/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../loadbench/h2load.rs"]
mod h2load;
#[allow(dead_code)]
#[path = "../loadbench/procs.rs"]
mod procs;
#[path = "../../bench/workload.rs"]
mod workload;

mod scrape;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use apiserver::ApiServer;
use h2load::{Mode, Proto, Spec};
use scrape::{metric, metrics_addr, scrape};

/// The webhook's p50/p99 with and without a concurrent audit scan.
#[derive(Parser, Debug)]
struct Args {
    /// Shorter windows and one repetition (a few minutes in all).
    #[arg(long)]
    quick: bool,
    /// Objects in the cluster, spread evenly over the namespaces.
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    /// Tenant namespaces (one per tenant; at least 422, so the benchmark's
    /// namespace t0421-ns07 is one of them).
    #[arg(long, default_value_t = 1_000)]
    namespaces: usize,
    /// Requests per second to /validate.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Seconds per measured window, after a 1 s warm-up [default: 10; --quick: 5].
    #[arg(long)]
    seconds: Option<u64>,
    /// Windows per phase [default: 3; --quick: 1].
    #[arg(long)]
    reps: Option<usize>,
    /// Use target/release/tenantguard as it is (no `cargo build --release`).
    #[arg(long)]
    no_build: bool,
}

/// One measured window.
struct Window {
    phase: &'static str,
    done: u64,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    max_us: Option<u64>,
    server_cpu_pct: f64,
    /// Objects the scan judged during the window (metric difference).
    judged: f64,
    /// Scans completed during the window.
    scans: f64,
    /// Namespaces whose objects the scan listed during the window, and
    /// PolicyReports it wrote (from the stand-in's call log).
    listed: usize,
    reports: usize,
    /// 200 ms slices with a list call from the scan, of all slices.
    active: (usize, usize),
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditload: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    if a.namespaces <= workload::BENCH_TENANT {
        return Err(format!(
            "--namespaces {} leaves out the benchmark's namespace {}: use at least {}",
            a.namespaces,
            workload::bench_namespace(),
            workload::BENCH_TENANT + 1
        ));
    }
    let seconds = a.seconds.unwrap_or(if a.quick { 5 } else { 10 }).max(1);
    let reps = a.reps.unwrap_or(if a.quick { 1 } else { 3 }).max(1);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Before this process pins itself (which narrows what it sees).
    let machine = procs::machine_line();
    println!("machine: {machine}");
    println!("h2load: {}", procs::first_line_of("h2load", &["--version"]));
    let load_before = procs::load_average();
    if !a.no_build {
        procs::build_release(&repo, &["--bin", "tenantguard"])?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let tg_bin = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate target/release")?
        .join("tenantguard");
    if !tg_bin.is_file() {
        return Err(format!(
            "{} is missing; run without --no-build",
            tg_bin.display()
        ));
    }
    let cpus = procs::allowed_cpus();
    let (server_cpu, load_cpu) = if cpus.len() >= 2 {
        (Some(cpus[0]), Some(cpus[1]))
    } else {
        (None, None)
    };
    if let Some(c) = load_cpu {
        // Before any thread exists: every thread of this process (the stand-in) inherits it.
        let pinned = Command::new("taskset")
            .args([
                "-a",
                "-p",
                "-c",
                &c.to_string(),
                &std::process::id().to_string(),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !pinned {
            return Err("taskset could not pin the driver (install util-linux)".into());
        }
    }
    let tmpdir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let tmp = tmpdir.path().to_path_buf();
    let certs = tmp.join("certs");
    procs::make_certs(&tg_bin, &certs)?;
    let (tenants, body) = prepare(&tmp, &repo, a.namespaces)?;
    let body_path = tmp.join("validate.json");
    std::fs::write(&body_path, &body).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let client = client::Client::new(&certs.join("ca.crt"))?;
    println!(
        "cluster: {} objects in {} tenant namespaces; /validate at {} req/s for {seconds} s per window (h2load -c4 -m4, HTTP/2, after 1 s warm-up), {reps} window(s) per phase",
        a.objects, a.namespaces, a.rate
    );
    let mut windows = Vec::new();
    for (phase, interval) in [("scan off", "0"), ("scan running", "1ms")] {
        println!("\n== {phase} (--audit-interval {interval})");
        let api = stand_in(&tenants, a.objects);
        let addr = rt.block_on(api.serve_http("tenantguard"));
        let kubeconfig = write_kubeconfig(&tmp, addr)?;
        let s = |p: &Path| p.display().to_string();
        let mut cmd = procs::serve_command(&tg_bin, &certs, &repo);
        cmd.extend([
            "--cluster".into(),
            "--kubeconfig".into(),
            s(&kubeconfig),
            "--leader-identity".into(),
            "tenantguard-0".into(),
            "--audit-interval".into(),
            interval.into(),
        ]);
        let mut tg = procs::start("tenantguard", &cmd, server_cpu)?;
        // The start-up line reaches the kept log just after procs::start sees it.
        let seen = Instant::now();
        let metrics_addr = loop {
            match metrics_addr(&tg.log_tail()) {
                Ok(m) => break m,
                Err(e) if seen.elapsed() > Duration::from_secs(5) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        rt.block_on(client.wait_ready(tg.addr, Duration::from_secs(60)))?;
        check_allowed(&rt, &client, tg.addr, &body)?;
        settle(&api, &metrics_addr, a.namespaces)?;
        let scanning = interval != "0";
        if scanning {
            wait_for_scan(&api)?;
        }
        for rep in 0..reps {
            tg.check_alive()?;
            let w = window(
                &api,
                &tg,
                &metrics_addr,
                &body_path,
                phase,
                a.rate,
                seconds,
                load_cpu,
            )?;
            println!(
                "  window {}/{reps}: {} requests, p50 {}, p99 {}, server {:.0}% of its core; scan: active in {}/{} slices, {} namespaces listed, {} reports written, {} scans ended ({} objects counted)",
                rep + 1,
                w.done,
                ms(w.p50_us),
                ms(w.p99_us),
                w.server_cpu_pct,
                w.active.0,
                w.active.1,
                w.listed,
                w.reports,
                w.scans,
                w.judged
            );
            if scanning && w.active.0 < w.active.1 {
                println!("  (the scan paused in part of this window: see the slices)");
            }
            windows.push(w);
        }
        stop(tg)?;
    }
    let table = render(&windows);
    let header = format!(
        "machine: {machine}\nh2load: {}\n{}\n{} objects in {} tenant namespaces; /validate {} bytes at {} req/s, {seconds} s windows, {reps} per phase\nload average (1 min) before/after: {} / {}\n",
        procs::first_line_of("h2load", &["--version"]),
        match (server_cpu, load_cpu) {
            (Some(s), Some(l)) => format!("tenantguard pinned to CPU {s} (all threads); h2load and the stand-in apiserver to CPU {l}"),
            _ => "not pinned (one CPU)".into(),
        },
        a.objects,
        a.namespaces,
        body.len(),
        a.rate,
        load_before,
        procs::load_average()
    );
    println!("\n== results\n\n{header}\n{table}");
    let last = repo.join("target").join("auditload-last.md");
    if std::fs::write(&last, format!("{header}\n{table}")).is_ok() {
        println!("(also written to {})", last.display());
    }
    Ok(())
}

/// The first `n` Tenants of the load benchmark's inventory (as JSON
/// objects), and the `/validate` body: its pod as tenantguard's `/mutate`
/// patched it, judged allowed offline against the same Tenants.
fn prepare(tmp: &Path, repo: &Path, n: usize) -> Result<(Vec<Value>, Vec<u8>), String> {
    use tenantguard::admission::{self, Endpoint};
    let inventory = workload::write_inventory(tmp).map_err(|e| format!("inventory: {e}"))?;
    let (set, _) = tenantguard::config::load_policies(Some(&repo.join("policies")))
        .map_err(|e| e.to_string())?;
    let inv =
        tenantguard::config::load_inventory(&set, Some(&inventory)).map_err(|e| e.to_string())?;
    let engine = tenantguard::engine::Engine::new(set, Default::default());
    let pod = workload::load_test_pod(&workload::bench_namespace())?;
    let m = admission::review(&pod, Endpoint::Mutate, &engine, &inv).map_err(|e| e.to_string())?;
    let body = workload::to_pretty4(&workload::apply_mutation(&pod, &m.body)?);
    let yaml = workload::inventory_yaml(n, 1);
    let mut tenants = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let v: Value =
            serde::Deserialize::deserialize(doc).map_err(|e| format!("inventory: {e}"))?;
        if v["kind"] == "Tenant" {
            tenants.push(v);
        }
    }
    Ok((tenants, body))
}

/// The stand-in with its namespaces (`tNNNN-ns07`, onboarded), Tenants
/// and `objects` generated objects, put without watch events (nothing
/// watches them; the scan lists them).
fn stand_in(tenants: &[Value], objects: usize) -> ApiServer {
    let api = ApiServer::new();
    for platform in ["kube-system", "tenantguard-system", "monitoring"] {
        api.put(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": platform, "labels": {"kubernetes.io/metadata.name": platform}}}));
    }
    let per_ns = objects / tenants.len().max(1);
    for (i, t) in tenants.iter().enumerate() {
        let tenant = workload::tenant_name(i);
        let ns = workload::namespace_name(i, workload::BENCH_NAMESPACE_INDEX);
        api.put(t.clone());
        api.put(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns,
                "labels": {"kubernetes.io/metadata.name": ns, "tenantguard.io/tenant": tenant},
                "annotations": {"tenantguard.io/onboarded": tenant}},
            "status": {"phase": "Active"}}));
        for k in 0..per_ns {
            api.put_quietly(workload::audit_object(&ns, &tenant, k));
        }
    }
    api
}

fn write_kubeconfig(dir: &Path, addr: SocketAddr) -> Result<PathBuf, String> {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, apiserver::kubeconfig(addr))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn check_allowed(
    rt: &tokio::runtime::Runtime,
    c: &client::Client,
    addr: SocketAddr,
    body: &[u8],
) -> Result<(), String> {
    let out = rt.block_on(c.review(addr, "/validate", body))?;
    let v: Value = serde_json::from_slice(&out).map_err(|e| format!("/validate answer: {e}"))?;
    if v["response"]["allowed"] != true {
        return Err(format!("the benchmark pod is not admitted: {v}"));
    }
    Ok(())
}

/// Waits until every namespace was reconciled and the writes stopped
/// (status updates and the baseline's applies), at most two minutes.
fn settle(api: &ApiServer, metrics: &SocketAddr, namespaces: usize) -> Result<(), String> {
    let start = Instant::now();
    let deadline = Duration::from_secs(120);
    loop {
        let m = scrape(metrics)?;
        if metric(&m, "tenantguard_reconciles_total{result=\"success\"}") >= namespaces as f64 {
            break;
        }
        if start.elapsed() > deadline {
            return Err(format!("the onboarding controller did not reconcile {namespaces} namespaces within {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let writes = |from: usize| {
        api.calls_from(from)
            .iter()
            .filter(|c| matches!(c.verb, "patch" | "create" | "update"))
            .filter(|c| !matches!(c.resource.as_str(), "leases" | "policyreports" | "events"))
            .count()
    };
    let mut seen = 0;
    let mut quiet = 0;
    while quiet < 10 {
        std::thread::sleep(Duration::from_millis(200));
        let now = api.calls_len();
        quiet = if writes(seen) == 0 { quiet + 1 } else { 0 };
        seen = now;
        if start.elapsed() > deadline {
            return Err("the onboarding controller's writes did not stop".into());
        }
    }
    println!(
        "  onboarded {namespaces} namespaces and quiet after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits for the scan's first list calls.
fn wait_for_scan(api: &ApiServer) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if api.calls_from(0).iter().any(is_scan_list) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the audit scan never listed anything".into())
}

/// A list call of the scan: namespaced, without a label selector, not a watch.
fn is_scan_list(c: &apiserver::Call) -> bool {
    c.verb == "list" && !c.namespace.is_empty() && !c.query.contains_key("labelSelector")
}

#[allow(clippy::too_many_arguments)]
fn window(
    api: &ApiServer,
    tg: &procs::Server,
    metrics: &SocketAddr,
    body: &Path,
    phase: &'static str,
    rate: u64,
    seconds: u64,
    load_cpu: Option<usize>,
) -> Result<Window, String> {
    let log = body.with_file_name("h2load.tsv");
    let spec = Spec {
        url: format!("https://{}/validate", tg.addr),
        body: body.to_path_buf(),
        proto: Proto::H2,
        mode: Mode::Rate {
            per_second: rate,
            clients: 4,
            seconds,
        },
        log: Some(log),
        cpu: load_cpu,
    };
    let running = h2load::spawn(&spec)?;
    // The warm-up second is not measured; nor is it sampled.
    std::thread::sleep(Duration::from_secs(1));
    let before = scrape(metrics)?;
    let ticks0 = procs::cpu_ticks(tg.pid)?;
    let t0 = Instant::now();
    let mut from = api.calls_len();
    let (mut active, mut slices) = (0, 0);
    let mut listed = std::collections::HashSet::new();
    let mut reports = 0;
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(200));
        let new = api.calls_from(from);
        from += new.len();
        slices += 1;
        if new.iter().any(is_scan_list) {
            active += 1;
        }
        for c in &new {
            if is_scan_list(c) {
                listed.insert(c.namespace.clone());
            }
            if c.resource == "policyreports" && c.verb == "patch" {
                reports += 1;
            }
        }
    }
    let after = scrape(metrics)?;
    let ticks1 = procs::cpu_ticks(tg.pid)?;
    let cpu_s = (ticks1 - ticks0) as f64 / procs::clock_ticks_per_second() as f64;
    let wall = t0.elapsed().as_secs_f64();
    let out = running.finish()?;
    if out.done == 0 || out.status_2xx != out.done {
        return Err(format!(
            "{phase}: {} requests done, {} 2xx; server log:\n{}",
            out.done,
            out.status_2xx,
            tg.log_tail()
        ));
    }
    let delta = |name: &str| metric(&after, name) - metric(&before, name);
    Ok(Window {
        phase,
        done: out.done,
        p50_us: out.percentile(50.0),
        p99_us: out.percentile(99.0),
        max_us: out.latencies_us.last().copied(),
        server_cpu_pct: cpu_s / wall * 100.0,
        judged: delta("tenantguard_audit_objects_total"),
        scans: delta("tenantguard_audit_scans_total"),
        active: (active, slices),
        listed: listed.len(),
        reports,
    })
}

/// SIGTERM, and the wait for the exit (the Lease is released).
fn stop(mut tg: procs::Server) -> Result<(), String> {
    let _ = Command::new("kill")
        .args(["-TERM", &tg.pid.to_string()])
        .status();
    let start = Instant::now();
    while tg.check_alive().is_ok() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |us| format!("{:.2} ms", us as f64 / 1000.0))
}

fn render(windows: &[Window]) -> String {
    let mut t = String::from(
        "| phase | window | requests | p50 | p99 | max | server CPU | 200 ms slices with scan lists | namespaces listed | reports written | scans ended (metric) | objects counted (metric) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut n = 0;
    let mut last = "";
    for w in windows {
        n = if w.phase == last { n + 1 } else { 1 };
        last = w.phase;
        t.push_str(&format!(
            "| {} | {n} | {} | {} | {} | {} | {:.0}% | {}/{} | {} | {} | {:.0} | {:.0} |\n",
            w.phase,
            w.done,
            ms(w.p50_us),
            ms(w.p99_us),
            ms(w.max_us),
            w.server_cpu_pct,
            w.active.0,
            w.active.1,
            w.listed,
            w.reports,
            w.scans,
            w.judged
        ));
    }
    t
}
