//! Tenancy scale: what a large tenancy costs `tenantguard serve` at
//! start-up. For each size (tenants × namespaces per tenant) it generates
//! the inventory the load benchmark uses (`bench/workload.rs`: every tenant
//! declared with owners, namespace labels, container defaults and an egress
//! CIDR, one in ten with dedicated nodes) into `target/tenancy-scale/`,
//! starts the release server on it several times, and reports the time
//! from spawn to the first `/readyz` 200 and the RSS then (`VmRSS`, and the
//! peak so far, `VmHWM`, from `/proc`), medians of the repetitions.
//!
//! With `--cluster` it also serves the same tenancy from the stand-in
//! kube-apiserver of the cluster tests (`tests/cluster/apiserver.rs`, in
//! this process, over HTTP on 127.0.0.1) to `tenantguard serve --cluster
//! --no-controller`, which lists and watches the Namespaces (metadata only)
//! and Tenants, and reports the same figures once its caches synced.
//!
//! ```sh
//! bench/load.sh --tenancy-scale          # = cargo run --release --example tenancy_scale -- --cluster
//! bench/load.sh --tenancy-scale --file-only --sizes 10000x10   # the 100k/10k file alone
//! cargo run --release --example tenancy_scale -- --sizes 10000x10 --reps 5
//! ```
//!
//! Targets (issue #18): with 100,000 namespaces across 10,000 tenants, RSS
//! when ready ≤ 64 MiB and ready in ≤ 1 s, from the file and from the cluster.

#[path = "../bench/workload.rs"]
mod workload;

#[allow(dead_code)]
#[path = "loadbench/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "loadbench/procs.rs"]
mod procs;

#[path = "../tests/cluster/apiserver.rs"]
mod apiserver;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;

/// RSS and start-up to ready of `tenantguard serve` with large tenancies.
#[derive(Parser, Debug)]
struct Args {
    /// Tenancies to measure, TENANTSxNAMESPACES_PER_TENANT, comma-separated.
    #[arg(long, default_value = "1000x10,10000x10", value_delimiter = ',')]
    sizes: Vec<String>,
    /// Starts per size (medians are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Also serve each tenancy from the stand-in apiserver to `serve --cluster`.
    #[arg(long)]
    cluster: bool,
    /// Use target/release/tenantguard as it is (no `cargo build --release`).
    #[arg(long)]
    no_build: bool,
    /// Measure this tenantguard binary instead (e.g. a copy of an earlier
    /// build, for a before/after); implies --no-build.
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
}

/// Above this the benchmark gives up on a start.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenancy_scale: {e}");
            ExitCode::from(2)
        }
    }
}

/// One start: ms from spawn to ready, the server's CPU time until then
/// (ms, all threads), VmRSS and VmHWM then (KiB).
struct Start {
    ms: f64,
    cpu_ms: f64,
    rss: u64,
    hwm: u64,
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--sizes: {s:?} is not TENANTSxNAMESPACES_PER_TENANT (e.g. 10000x10)");
    let (t, n) = s.split_once('x').ok_or_else(bad)?;
    let t: usize = t.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if t == 0 || n == 0 {
        return Err(bad());
    }
    Ok((t, n))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// Starts the server `reps` times with `extra` arguments and measures each start.
fn measure(
    rt: &tokio::runtime::Runtime,
    http: &client::Client,
    base: &[String],
    extra: &[String],
    reps: usize,
) -> Result<Vec<Start>, String> {
    let cmd: Vec<String> = base.iter().chain(extra).cloned().collect();
    let tick_ms = 1000.0 / procs::clock_ticks_per_second() as f64;
    let mut starts = Vec::new();
    for _ in 0..reps {
        let srv = procs::start("tenantguard", &cmd, None)?;
        let ready = rt
            .block_on(http.wait_ready(srv.addr, READY_TIMEOUT))
            .map_err(|e| format!("{e}; its log:\n{}", srv.log_tail()))?;
        let s = Start {
            ms: ready.duration_since(srv.spawned_at).as_secs_f64() * 1000.0,
            cpu_ms: procs::cpu_ticks(srv.pid)? as f64 * tick_ms,
            rss: procs::status_kib(srv.pid, "VmRSS")?,
            hwm: procs::status_kib(srv.pid, "VmHWM")?,
        };
        println!(
            "    ready in {:>7.1} ms (server CPU {:>7.1} ms), RSS {}, peak RSS {}",
            s.ms,
            s.cpu_ms,
            mib(s.rss as f64),
            mib(s.hwm as f64)
        );
        starts.push(s);
    }
    Ok(starts)
}

/// The row of the table for one source and size.
fn row(source: &str, tenants: usize, namespaces: usize, starts: &[Start]) -> String {
    let ms = median(starts.iter().map(|s| s.ms).collect());
    let cpu = median(starts.iter().map(|s| s.cpu_ms).collect());
    let rss = median(starts.iter().map(|s| s.rss as f64).collect());
    let hwm = median(starts.iter().map(|s| s.hwm as f64).collect());
    format!(
        "| {source} | {namespaces} / {tenants} | {ms:.0} ms | {cpu:.0} ms | {} | {} |",
        mib(rss),
        mib(hwm)
    )
}

/// The inventory's documents as the apiserver stores them (JSON), so the
/// cluster holds exactly the tenancy the file declares.
fn objects_of(yaml: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in yaml.split("\n---\n") {
        let v: Value = serde_yaml_ng::from_str(doc).map_err(|e| format!("inventory: {e}"))?;
        if v.is_object() {
            out.push(v);
        }
    }
    Ok(out)
}

fn kubeconfig(dir: &Path, addr: std::net::SocketAddr) -> Result<PathBuf, String> {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, apiserver::kubeconfig(addr))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn run(args: &Args) -> Result<(), String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sizes = args
        .sizes
        .iter()
        .map(|s| parse_size(s))
        .collect::<Result<Vec<_>, _>>()?;
    if !args.no_build && args.server.is_none() {
        procs::build_release(&repo, &["--bin", "tenantguard"])?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate target/release")?
        .to_path_buf();
    let tg_bin = match &args.server {
        Some(p) => p.clone(),
        None => release.join("tenantguard"),
    };
    if !tg_bin.is_file() {
        return Err(format!(
            "{} is missing; run without --no-build",
            tg_bin.display()
        ));
    }
    let out = release
        .parent()
        .ok_or("cannot locate target/")?
        .join("tenancy-scale");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let certs = out.join("certs");
    procs::make_certs(&tg_bin, &certs)?;
    println!("server: {}", tg_bin.display());
    println!("machine: {}", procs::machine_line());
    println!(
        "1-minute load average before the run: {}",
        procs::load_average()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let http = client::Client::new(&certs.join("ca.crt"))?;
    let s = |p: &Path| p.display().to_string();
    let base = procs::serve_command(&tg_bin, &certs, &repo);
    let mut rows = Vec::new();
    for (tenants, per_tenant) in sizes {
        let namespaces = tenants * per_tenant;
        let yaml = workload::inventory_yaml(tenants, per_tenant);
        let inventory = out.join(format!("inventory-{namespaces}.yaml"));
        std::fs::write(&inventory, &yaml).map_err(|e| format!("{}: {e}", inventory.display()))?;
        println!(
            "\n== --inventory: {namespaces} namespaces across {tenants} tenants ({} KiB of YAML)",
            yaml.len() / 1024
        );
        let starts = measure(
            &rt,
            &http,
            &base,
            &["--inventory".into(), s(&inventory)],
            args.reps,
        )?;
        rows.push(row("`--inventory` file", tenants, namespaces, &starts));
        std::fs::remove_file(&inventory).map_err(|e| format!("{}: {e}", inventory.display()))?;
        if args.cluster {
            println!(
                "\n== --cluster: the same tenancy from the stand-in apiserver (--no-controller)"
            );
            let api = apiserver::ApiServer::new();
            for o in objects_of(&yaml)? {
                api.put_quietly(o);
            }
            let addr = rt.block_on(api.serve_http("tenantguard"));
            let kc = kubeconfig(&out, addr)?;
            let starts = measure(
                &rt,
                &http,
                &base,
                &[
                    "--cluster".into(),
                    "--no-controller".into(),
                    "--kubeconfig".into(),
                    s(&kc),
                ],
                args.reps,
            )?;
            rows.push(row("`--cluster` (stand-in)", tenants, namespaces, &starts));
        }
    }
    println!("\n| tenancy from | namespaces / tenants | ready | server CPU to ready | RSS when ready | peak RSS (VmHWM) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!("{r}");
    }
    println!(
        "\n1-minute load average after the run: {}",
        procs::load_average()
    );
    Ok(())
}
