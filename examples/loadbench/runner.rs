//! One measurement at a time: h2load against a server with its CPU time
//! around the run, the answer checks before any load, and the RSS soak.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::h2load::{self, Mode, Proto, Spec};
use crate::procs;
use crate::report::{self, Endpoint, Run, Soak, Which};
use crate::workload;

/// Concurrency at saturation: 16 requests in flight either way.
pub fn saturation(proto: Proto, requests: u64) -> Mode {
    match proto {
        Proto::H1 => Mode::Count {
            requests,
            clients: 16,
            streams: 1,
        },
        Proto::H2 => Mode::Count {
            requests,
            clients: 4,
            streams: 4,
        },
    }
}

/// Everything one measurement needs besides the server.
pub struct Bench {
    pub client: crate::client::Client,
    pub rt: tokio::runtime::Runtime,
    pub server_cpu: Option<usize>,
    pub load_cpu: Option<usize>,
    pub clk: f64,
    pub tmp: PathBuf,
    pub mutate_body: PathBuf,
    pub validate_body: PathBuf,
}

impl Bench {
    pub fn body(&self, ep: Endpoint) -> PathBuf {
        match ep {
            Endpoint::Validate => self.validate_body.clone(),
            Endpoint::Mutate => self.mutate_body.clone(),
        }
    }

    pub fn spec(&self, s: &procs::Server, ep: Endpoint, proto: Proto, mode: Mode) -> Spec {
        Spec {
            url: format!("https://{}{}", s.addr, ep.path()),
            body: self.body(ep),
            proto,
            mode,
            log: Some(self.tmp.join("h2load.tsv")),
            cpu: self.load_cpu,
        }
    }

    /// One h2load run against `s`, with the server's CPU time around it.
    pub fn measure(
        &self,
        s: &mut procs::Server,
        which: Which,
        ep: Endpoint,
        proto: Proto,
        mode: Mode,
    ) -> Result<Run, String> {
        s.check_alive()?;
        let ticks0 = procs::cpu_ticks(s.pid)?;
        let core0 = self.server_cpu.and_then(procs::cpu_core_ticks);
        let load0 = self.load_cpu.and_then(procs::cpu_core_ticks);
        let out = h2load::run(&self.spec(s, ep, proto, mode))?;
        let ticks1 = procs::cpu_ticks(s.pid)?;
        let core1 = self.server_cpu.and_then(procs::cpu_core_ticks);
        let load1 = self.load_cpu.and_then(procs::cpu_core_ticks);
        if out.succeeded != out.done || out.status_2xx != out.done || out.done == 0 {
            return Err(format!(
                "{} {} {}: {} done, {} succeeded, {} 2xx; its log:\n{}",
                which.label(),
                proto.label(),
                ep.path(),
                out.done,
                out.succeeded,
                out.status_2xx,
                s.log_tail()
            ));
        }
        let server_ticks = (ticks1 - ticks0) as f64;
        let cpu_s = server_ticks / self.clk;
        let saturation = matches!(mode, Mode::Count { .. });
        // Shares of each core over the run: what the server used of its
        // core, what other processes took from it, how busy h2load's was.
        let share = |a: Option<(u64, u64)>, b: Option<(u64, u64)>, minus: f64| match (a, b) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                Some(((b1 - b0) as f64 - minus).max(0.0) / (t1 - t0) as f64 * 100.0)
            }
            _ => None,
        };
        let others = share(core0, core1, server_ticks);
        let load_busy = share(load0, load1, 0.0);
        let run = Run {
            which,
            proto,
            endpoint: ep,
            saturation,
            req_per_s: out.req_per_s,
            cpu_us: saturation.then(|| cpu_s * 1e6 / out.done as f64),
            p50_us: out.percentile(50.0),
            p99_us: out.percentile(99.0),
            server_busy_pct: cpu_s / out.seconds.max(1e-9) * 100.0,
            others_pct: others,
        };
        let ms =
            |v: Option<u64>| v.map_or("-".into(), |us| format!("{:.2} ms", us as f64 / 1000.0));
        let pct = |label: &str, v: Option<f64>| {
            v.map_or(String::new(), |p| format!(", {label} {p:>3.0}%"))
        };
        println!(
            "  {:<11} {:<8} {:<9} {:>8} req/s  {}p50 {:>8}  p99 {:>8}  server {:>3.0}% of its core{}{}",
            which.label(),
            proto.label(),
            ep.path(),
            report::thousands(out.req_per_s.round() as u64),
            run.cpu_us.map_or(String::new(), |c| format!("CPU {c:>5.1} µs/req  ")),
            ms(run.p50_us),
            ms(run.p99_us),
            run.server_busy_pct,
            pct("others on it", others),
            pct("h2load's core busy", load_busy),
        );
        Ok(run)
    }
}

pub fn pick<'a>(
    w: Which,
    floor: &'a mut procs::Server,
    tg: &'a mut procs::Server,
) -> &'a mut procs::Server {
    match w {
        Which::Floor => floor,
        Which::Tenantguard => tg,
    }
}

/// Checks every answer the load will ask for, and writes the `/validate`
/// body: the pod as tenantguard's `/mutate` patched it.
pub fn check_answers(
    bench: &Bench,
    floor: &procs::Server,
    tg: &procs::Server,
    mutate_body: &[u8],
) -> Result<(), String> {
    let c = &bench.client;
    let json = |b: &[u8]| -> Result<Value, String> {
        serde_json::from_slice(b).map_err(|e| format!("answer is not JSON: {e}"))
    };
    let f = json(
        &bench
            .rt
            .block_on(c.review(floor.addr, "/validate", mutate_body))?,
    )?;
    if f["response"]["allowed"] != true || f["response"]["uid"] != "$req_uid" {
        return Err(format!("the floor answered {f}"));
    }
    let m = bench
        .rt
        .block_on(c.review(tg.addr, "/mutate", mutate_body))?;
    let patched = workload::apply_mutation(mutate_body, &m)?;
    if patched == json(mutate_body)? {
        return Err(
            "tenantguard's /mutate changed nothing: the bench namespace is not a tenant namespace"
                .into(),
        );
    }
    let validate_body = workload::to_pretty4(&patched);
    std::fs::write(&bench.validate_body, &validate_body).map_err(|e| e.to_string())?;
    let v = json(
        &bench
            .rt
            .block_on(c.review(tg.addr, "/validate", &validate_body))?,
    )?;
    if v["response"]["allowed"] != true {
        return Err(format!(
            "tenantguard denies the mutated pod: {}",
            v["response"]["status"]["message"]
        ));
    }
    let d = json(
        &bench
            .rt
            .block_on(c.review(tg.addr, "/validate", mutate_body))?,
    )?;
    let why = d["response"]["status"]["message"].as_str().unwrap_or("");
    println!(
        "\nchecked: floor admits; tenantguard /mutate patches the pod (tenant label, limits), /validate admits the patched pod{}",
        if d["response"]["allowed"] == false {
            format!(" and denies the unpatched one ({}…)", why.chars().take(60).collect::<String>())
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Loads tenantguard for `seconds` (HTTP/2 to /mutate and HTTP/1.1 to
/// /validate at once, as fast as it answers) while sampling its RSS.
pub fn soak_rss(bench: &mut Bench, tg: &mut procs::Server, seconds: u64) -> Result<Soak, String> {
    println!("\n== RSS of tenantguard under {seconds} s of load (h2 /mutate + http/1.1 /validate together)");
    let mut specs = Vec::new();
    for (ep, proto, clients, streams) in [
        (Endpoint::Mutate, Proto::H2, 2, 4),
        (Endpoint::Validate, Proto::H1, 8, 1),
    ] {
        let mut spec = bench.spec(
            tg,
            ep,
            proto,
            Mode::Duration {
                seconds,
                clients,
                streams,
            },
        );
        spec.log = None;
        specs.push(spec);
    }
    let start = Instant::now();
    let running: Vec<h2load::Running> =
        specs.iter().map(h2load::spawn).collect::<Result<_, _>>()?;
    let mut soak = Soak::default();
    let mut next = 0.0;
    while start.elapsed().as_secs_f64() < seconds as f64 {
        let t = start.elapsed().as_secs_f64();
        if t >= next {
            soak.samples.push((t, procs::status_kib(tg.pid, "VmRSS")?));
            next += 1.0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    soak.samples.push((
        start.elapsed().as_secs_f64(),
        procs::status_kib(tg.pid, "VmRSS")?,
    ));
    for r in running {
        let out = r.finish()?;
        if out.succeeded != out.done {
            return Err(format!(
                "soak: {} of {} requests failed",
                out.done - out.succeeded,
                out.done
            ));
        }
        soak.requests += out.done;
    }
    tg.check_alive()?;
    let line: Vec<String> = soak
        .samples
        .iter()
        .step_by((soak.samples.len() / 12).max(1))
        .map(|(t, k)| format!("{t:.0}s {:.1}", *k as f64 / 1024.0))
        .collect();
    println!("  {} requests; RSS MiB: {}", soak.requests, line.join(", "));
    Ok(soak)
}
