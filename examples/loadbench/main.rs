//! The load benchmark: tenantguard against a do-nothing floor webhook
//! (`examples/floor.rs`, same stack, parse-and-allow) in one run, so the
//! figures that matter are ratios measured under the same conditions.
//!
//! ```sh
//! bench/load.sh            # = bench/setup.sh (h2load) + cargo run --release --example loadbench
//! bench/load.sh --quick    # about a minute
//! ```
//!
//! It builds the release binaries, generates certificates (`tenantguard
//! certs`) and the 10,000-namespace inventory into a temp dir, measures
//! start-up to `/readyz` of each server, then starts both on 127.0.0.1,
//! pinned to one core while h2load runs on another (when two exist), checks
//! their answers, and drives each over TLS with HTTP/1.1 and HTTP/2,
//! alternating floor and tenantguard, several repetitions, at saturation and
//! at a fixed rate. Last it loads tenantguard for a minute while sampling its
//! RSS. The table (medians of the repetitions) is printed and written to
//! `target/loadbench-last.md`.
//!
//! Bodies: `/mutate` gets the 5.4 KB captured pod AdmissionReview moved into
//! a tenant namespace; `/validate` gets that pod as tenantguard's `/mutate`
//! patched it, which is what the apiserver sends to validation (the
//! unpatched pod has no limits and would be denied).

#[path = "../../bench/workload.rs"]
mod workload;

mod client;
mod h2load;
mod procs;
mod report;
mod runner;
mod sizes;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Parser;

use h2load::{Mode, Proto};
use report::{Endpoint, Footprint, Which};
use runner::{check_answers, pick, saturation, soak_rss, Bench};

/// tenantguard vs. a parse-and-allow floor webhook, over TLS with h2load.
#[derive(Parser, Debug)]
struct Args {
    /// About a minute: one repetition, fewer requests, short fixed-rate and soak phases.
    #[arg(long)]
    quick: bool,
    /// Repetitions of every measurement [default: 3; --quick: 1].
    #[arg(long)]
    reps: Option<usize>,
    /// Requests per saturation run [default: 20000; --quick: 5000].
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds per fixed-rate run, after a 1 s warm-up [default: 5; --quick: 3].
    #[arg(long)]
    rate_seconds: Option<u64>,
    /// The fixed rate, requests per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Seconds of load while tenantguard's RSS is sampled [default: 60; --quick: 10].
    #[arg(long)]
    soak_seconds: Option<u64>,
    /// Leave out the cost-vs-size table (generated large bodies).
    #[arg(long, conflicts_with = "only_cost_vs_size")]
    skip_cost_vs_size: bool,
    /// Only the cost-vs-size table (after the answer checks): no start-up,
    /// 7.4 KB-pod, fixed-rate or soak measurements.
    #[arg(long)]
    only_cost_vs_size: bool,
    /// Use the release binaries as they are (no `cargo build --release`).
    #[arg(long)]
    no_build: bool,
    /// Only write the inputs into DIR and exit: certs/, inventory-10k.yaml,
    /// mutate.json and validate.json (what bench/profile.sh feeds callgrind).
    #[arg(long, value_name = "DIR")]
    prepare: Option<PathBuf>,
}

struct Plan {
    reps: usize,
    requests: u64,
    warmup: u64,
    rate: u64,
    rate_seconds: u64,
    soak_seconds: u64,
    startups: usize,
}

impl Plan {
    fn new(a: &Args) -> Plan {
        let q = a.quick;
        Plan {
            reps: a.reps.unwrap_or(if q { 1 } else { 3 }).max(1),
            requests: a
                .requests
                .unwrap_or(if q { 5_000 } else { 20_000 })
                .max(100),
            warmup: if q { 1_000 } else { 3_000 },
            rate: a.rate.max(1),
            rate_seconds: a.rate_seconds.unwrap_or(if q { 3 } else { 5 }).max(1),
            soak_seconds: a.soak_seconds.unwrap_or(if q { 10 } else { 60 }).max(6),
            startups: if q { 3 } else { 5 },
        }
    }
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadbench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes certificates, the inventory and both bodies into `dir`. The
/// `/validate` body comes from the library's own `/mutate` answer (the same
/// code the server runs), so no server is needed.
fn prepare(dir: &Path, tg_bin: &Path, repo: &Path) -> Result<(), String> {
    use tenantguard::admission::{self, Endpoint as Ep};
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    procs::make_certs(tg_bin, &dir.join("certs"))?;
    let inventory = workload::write_inventory(dir).map_err(|e| format!("inventory: {e}"))?;
    let (set, _) = tenantguard::config::load_policies(Some(&repo.join("policies")))
        .map_err(|e| e.to_string())?;
    let inv =
        tenantguard::config::load_inventory(&set, Some(&inventory)).map_err(|e| e.to_string())?;
    let engine = tenantguard::engine::Engine::new(set, Default::default());
    let body = workload::load_test_pod(&workload::bench_namespace())?;
    let m = admission::review(&body, Ep::Mutate, &engine, &inv).map_err(|e| e.to_string())?;
    let validate = workload::to_pretty4(&workload::apply_mutation(&body, &m.body)?);
    let v = admission::review(&validate, Ep::Validate, &engine, &inv).map_err(|e| e.to_string())?;
    if !v.outcome.allowed {
        return Err(format!(
            "the mutated pod is denied: {}",
            v.outcome.denial_message()
        ));
    }
    for (name, bytes) in [("mutate.json", &body), ("validate.json", &validate)] {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    println!(
        "wrote {0}/certs, {0}/inventory-10k.yaml, {0}/mutate.json, {0}/validate.json",
        dir.display()
    );
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let plan = Plan::new(args);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    println!(
        "tenantguard load benchmark ({} mode)",
        if args.quick { "quick" } else { "full" }
    );
    println!("machine: {}", procs::machine_line());
    println!("h2load: {}", procs::first_line_of("h2load", &["--version"]));
    let load_before = procs::load_average();
    println!("1-minute load average before the run: {load_before}");
    if !args.no_build {
        procs::build_release(&repo, &["--bin", "tenantguard", "--example", "floor"])?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate target/release")?
        .to_path_buf();
    let tg_bin = release.join("tenantguard");
    let floor_bin = release.join("examples").join("floor");
    for b in [&tg_bin, &floor_bin] {
        if !b.is_file() {
            return Err(format!(
                "{} is missing; run without --no-build",
                b.display()
            ));
        }
    }

    if let Some(dir) = &args.prepare {
        return prepare(dir, &tg_bin, &repo);
    }
    let tmpdir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let tmp = tmpdir.path().to_path_buf();
    let certs = tmp.join("certs");
    procs::make_certs(&tg_bin, &certs)?;
    let inventory = workload::write_inventory(&tmp).map_err(|e| format!("inventory: {e}"))?;
    println!(
        "inventory: {} namespaces across {} tenants ({} KiB of YAML, generated into {})",
        workload::TENANTS * workload::NAMESPACES_PER_TENANT,
        workload::TENANTS,
        std::fs::metadata(&inventory).map_or(0, |m| m.len() / 1024),
        tmp.display()
    );
    let ns = workload::bench_namespace();
    let mutate_bytes = workload::load_test_pod(&ns)?;
    let mutate_body = tmp.join("mutate.json");
    std::fs::write(&mutate_body, &mutate_bytes).map_err(|e| e.to_string())?;

    let cpus = procs::allowed_cpus();
    let taskset = Command::new("taskset").arg("-V").output().is_ok();
    let (server_cpu, load_cpu) = if cpus.len() >= 2 && taskset {
        println!(
            "pinning: servers on CPU {} (taskset -a: every thread, checked in /proc), h2load on CPU {} (one thread)",
            cpus[0], cpus[1]
        );
        (Some(cpus[0]), Some(cpus[1]))
    } else {
        println!(
            "NOT pinned: {} CPU(s) available{}; server and h2load share the machine",
            cpus.len(),
            if taskset { "" } else { " and no taskset" }
        );
        (None, None)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let mut bench = Bench {
        client: client::Client::new(&certs.join("ca.crt"))?,
        rt,
        server_cpu,
        load_cpu,
        clk: procs::clock_ticks_per_second() as f64,
        tmp: tmp.clone(),
        mutate_body,
        validate_body: tmp.join("validate.json"),
    };

    let s = |p: &Path| p.display().to_string();
    let mut tg_cmd = procs::serve_command(&tg_bin, &certs, &repo);
    tg_cmd.extend(["--inventory".into(), s(&inventory)]);
    let floor_cmd = vec![
        s(&floor_bin),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--tls-cert".into(),
        s(&certs.join("tls.crt")),
        "--tls-key".into(),
        s(&certs.join("tls.key")),
    ];
    let cmd_of = |w: Which| match w {
        Which::Floor => &floor_cmd,
        Which::Tenantguard => &tg_cmd,
    };

    let mut fp_floor = Footprint::default();
    let mut fp_tg = Footprint::default();
    let startups = if args.only_cost_vs_size {
        0
    } else {
        plan.startups
    };
    if startups > 0 {
        println!("\n== start-up to /readyz ({startups} starts each)");
    }
    for _ in 0..startups {
        for which in [Which::Floor, Which::Tenantguard] {
            let srv = procs::start(which.label(), cmd_of(which), server_cpu)?;
            let ready = bench
                .rt
                .block_on(bench.client.wait_ready(srv.addr, Duration::from_secs(20)))?;
            let ms = ready.duration_since(srv.spawned_at).as_secs_f64() * 1000.0;
            let rss = procs::status_kib(srv.pid, "VmRSS")?;
            println!(
                "  {:<11} ready in {ms:>6.1} ms, RSS {:.1} MiB",
                which.label(),
                rss as f64 / 1024.0
            );
            let fp = if which == Which::Floor {
                &mut fp_floor
            } else {
                &mut fp_tg
            };
            fp.startup_ms.push(ms);
            fp.idle_rss_kib.push(rss);
        }
    }

    let mut floor = procs::start("floor", &floor_cmd, server_cpu)?;
    let mut tg = procs::start("tenantguard", &tg_cmd, server_cpu)?;
    for srv in [&floor, &tg] {
        bench
            .rt
            .block_on(bench.client.wait_ready(srv.addr, Duration::from_secs(20)))?;
    }
    check_answers(&bench, &floor, &tg, &mutate_bytes)?;
    // Bytes of bodies per cost-vs-size run: the large bodies get fewer
    // requests, so every row takes about as long.
    let size_budget: u64 = if args.quick { 64 << 20 } else { 256 << 20 };
    if args.only_cost_vs_size {
        let table = sizes::run(&mut bench, &mut floor, &mut tg, plan.reps, size_budget)?;
        let header = format!(
            "machine: {}\n{}\nload average (1 min) before/after: {} / {}\n",
            procs::machine_line(),
            pin_line(server_cpu, load_cpu),
            load_before,
            procs::load_average()
        );
        println!("\n== cost vs size\n\n{header}\n{table}");
        let last = release
            .parent()
            .unwrap_or(&release)
            .join("loadbench-sizes-last.md");
        if std::fs::write(&last, format!("{header}\n{table}")).is_ok() {
            println!("(also written to {})", last.display());
        }
        return Ok(());
    }

    println!(
        "\n== warm-up ({} requests per server, protocol and endpoint; not counted)",
        plan.warmup
    );
    for srv in [&floor, &tg] {
        for proto in [Proto::H1, Proto::H2] {
            for ep in [Endpoint::Validate, Endpoint::Mutate] {
                h2load::run(&bench.spec(srv, ep, proto, saturation(proto, plan.warmup)))?;
            }
        }
    }

    let mut runs = Vec::new();
    let order = |rep: usize| {
        if rep % 2 == 0 {
            [Which::Floor, Which::Tenantguard]
        } else {
            [Which::Tenantguard, Which::Floor]
        }
    };
    for rep in 0..plan.reps {
        println!(
            "\n== saturation, repetition {}/{}: {} requests, 16 in flight (http/1.1: 16 connections; h2: 4 connections × 4 streams)",
            rep + 1,
            plan.reps,
            plan.requests
        );
        for proto in [Proto::H1, Proto::H2] {
            for ep in [Endpoint::Validate, Endpoint::Mutate] {
                for which in order(rep) {
                    runs.push(bench.measure(
                        pick(which, &mut floor, &mut tg),
                        which,
                        ep,
                        proto,
                        saturation(proto, plan.requests),
                    )?);
                }
            }
        }
        println!(
            "\n== fixed rate, repetition {}/{}: {} req/s for {} s (4 connections, after 1 s warm-up)",
            rep + 1,
            plan.reps,
            plan.rate,
            plan.rate_seconds
        );
        for proto in [Proto::H1, Proto::H2] {
            for ep in [Endpoint::Validate, Endpoint::Mutate] {
                for which in order(rep) {
                    let mode = Mode::Rate {
                        per_second: plan.rate,
                        clients: 4,
                        seconds: plan.rate_seconds,
                    };
                    let srv = pick(which, &mut floor, &mut tg);
                    runs.push(bench.measure(srv, which, ep, proto, mode)?);
                }
            }
        }
    }

    let sizes_table = if args.skip_cost_vs_size {
        String::new()
    } else {
        format!(
            "\n## Cost vs size\n\n{}",
            sizes::run(&mut bench, &mut floor, &mut tg, plan.reps, size_budget)?
        )
    };

    let soak = soak_rss(&mut bench, &mut tg, plan.soak_seconds)?;
    floor.check_alive()?;
    tg.check_alive()?;
    fp_floor.peak_rss_kib = procs::status_kib(floor.pid, "VmHWM")?;
    fp_tg.peak_rss_kib = procs::status_kib(tg.pid, "VmHWM")?;

    let table = report::render(&runs, &fp_floor, &fp_tg, &soak, plan.rate) + &sizes_table;
    let header = format!(
        "machine: {}\nh2load: {}; {}\nbodies: /mutate {} bytes (captured pod, pretty JSON), /validate {} bytes (the same pod after tenantguard's patch)\nmedians of {} repetition(s); saturation {} requests; fixed rate {} req/s for {} s; soak {} s\nload average (1 min) before/after: {} / {}; {}\n",
        procs::machine_line(),
        procs::first_line_of("h2load", &["--version"]),
        pin_line(server_cpu, load_cpu),
        mutate_bytes.len(),
        std::fs::metadata(&bench.validate_body).map_or(0, |m| m.len()),
        plan.reps,
        plan.requests,
        plan.rate,
        plan.rate_seconds,
        plan.soak_seconds,
        load_before,
        procs::load_average(),
        match report::interference(&runs) {
            Some((sat, fixed)) => format!(
                "other processes took {sat:.0}% (saturation) and {fixed:.0}% (fixed rate) of the server's core (medians)"
            ),
            None => "interference not measured (not pinned)".into(),
        },
    );
    println!("\n== results\n\n{header}\n{table}");
    let last = release
        .parent()
        .unwrap_or(&release)
        .join("loadbench-last.md");
    if std::fs::write(&last, format!("{header}\n{table}")).is_ok() {
        println!("(also written to {})", last.display());
    }
    drop(tmpdir);
    Ok(())
}

fn pin_line(server_cpu: Option<usize>, load_cpu: Option<usize>) -> String {
    match (server_cpu, load_cpu) {
        (Some(s), Some(l)) => {
            format!(
                "servers pinned with all their threads to CPU {s} (taskset -a), h2load to CPU {l}"
            )
        }
        _ => "not pinned".into(),
    }
}
