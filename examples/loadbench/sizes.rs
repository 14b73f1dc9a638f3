//! Cost vs size: the generated bodies of `bench/workload.rs` (pods of 10,
//! 100 and 1,000 containers, NetworkPolicies of 1,000 and 5,000 egress
//! peers, ConfigMaps of 64 KiB and 1 MiB) at saturation over HTTP/1.1, floor
//! and tenantguard alternating, with each server's CPU time per request. The
//! table gives tenantguard's throughput per server core as a ratio to the
//! floor's on the same body, and per series how that ratio moves from the
//! smallest body to the largest (linear cost keeps it within 20%).

use std::fmt::Write as _;

use serde_json::Value;

use crate::h2load::{Mode, Proto};
use crate::procs;
use crate::report::{median, Endpoint, Which};
use crate::runner::{pick, Bench};
use crate::workload::{self, SizeCase, COST_VS_SIZE};

/// CPU µs per request of both servers on both endpoints, for one body.
struct Row {
    case: SizeCase,
    mutate_bytes: usize,
    validate_bytes: usize,
    /// (floor, tenantguard) medians, /validate then /mutate.
    validate_us: (f64, f64),
    mutate_us: (f64, f64),
}

/// Requests per run: about `budget` bytes of bodies, at least 200.
fn requests_for(bytes: usize, budget: u64) -> u64 {
    (budget / bytes.max(1) as u64).clamp(200, 20_000)
}

pub fn run(
    bench: &mut Bench,
    floor: &mut procs::Server,
    tg: &mut procs::Server,
    reps: usize,
    budget: u64,
) -> Result<String, String> {
    println!(
        "\n== cost vs size: http/1.1, 16 connections, {reps} repetition(s), about {} MiB of bodies per run",
        budget / (1024 * 1024)
    );
    let saved = (bench.mutate_body.clone(), bench.validate_body.clone());
    let mut rows = Vec::new();
    for case in COST_VS_SIZE {
        let name = case.name();
        let mutate = serde_json::to_vec(&case.review()).map_err(|e| e.to_string())?;
        bench.mutate_body = bench.tmp.join(format!("{name}-mutate.json"));
        bench.validate_body = bench.tmp.join(format!("{name}-validate.json"));
        std::fs::write(&bench.mutate_body, &mutate).map_err(|e| e.to_string())?;
        // The /validate body: the object as tenantguard's /mutate patched it.
        let answer = bench
            .rt
            .block_on(bench.client.review(tg.addr, "/mutate", &mutate))?;
        let patched = workload::apply_mutation(&mutate, &answer)?;
        let validate = serde_json::to_vec(&patched).map_err(|e| e.to_string())?;
        std::fs::write(&bench.validate_body, &validate).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&bench.rt.block_on(bench.client.review(
            tg.addr,
            "/validate",
            &validate,
        ))?)
        .map_err(|e| format!("{name}: /validate answer: {e}"))?;
        if v["response"]["allowed"] != true {
            return Err(format!(
                "{name}: tenantguard denies the mutated object: {}",
                v["response"]["status"]["message"]
            ));
        }
        let requests = requests_for(mutate.len(), budget);
        let mut samples: [[Vec<f64>; 2]; 2] = Default::default();
        for rep in 0..reps {
            for (e, ep) in [Endpoint::Validate, Endpoint::Mutate]
                .into_iter()
                .enumerate()
            {
                let order = if rep % 2 == 0 {
                    [Which::Floor, Which::Tenantguard]
                } else {
                    [Which::Tenantguard, Which::Floor]
                };
                for which in order {
                    print!("  {name:<16}");
                    let mode = Mode::Count {
                        requests,
                        clients: 16,
                        streams: 1,
                    };
                    let r = bench.measure(pick(which, floor, tg), which, ep, Proto::H1, mode)?;
                    let w = usize::from(which == Which::Tenantguard);
                    samples[e][w].extend(r.cpu_us);
                }
            }
        }
        let med = |v: &Vec<f64>| median(v.clone()).unwrap_or(f64::NAN);
        rows.push(Row {
            case,
            mutate_bytes: mutate.len(),
            validate_bytes: validate.len(),
            validate_us: (med(&samples[0][0]), med(&samples[0][1])),
            mutate_us: (med(&samples[1][0]), med(&samples[1][1])),
        });
    }
    bench.mutate_body = saved.0;
    bench.validate_body = saved.1;
    Ok(render(&rows))
}

fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| body | /mutate bytes | floor µs/req | /validate ÷ floor | /mutate ÷ floor |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    // Ratios are throughput per server core: floor CPU / tenantguard CPU.
    let ratio = |(f, t): (f64, f64)| f / t;
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} (validate {}) | {:.0} / {:.0} | {:.2}× | {:.2}× |",
            r.case.name(),
            r.mutate_bytes,
            r.validate_bytes,
            r.validate_us.0,
            r.mutate_us.0,
            ratio(r.validate_us),
            ratio(r.mutate_us),
        );
    }
    let _ = writeln!(
        out,
        "\nLinear cost: per series, the ratio at the largest body ÷ the ratio at the smallest (target: within 20%, i.e. ≥ 0.80)."
    );
    let mut series: Vec<&str> = rows.iter().map(|r| r.case.series()).collect();
    series.dedup();
    for s in series {
        let of: Vec<&Row> = rows.iter().filter(|r| r.case.series() == s).collect();
        let (Some(first), Some(last)) = (of.first(), of.last()) else {
            continue;
        };
        let drift = |f: fn(&Row) -> (f64, f64)| ratio(f(last)) / ratio(f(first));
        let v = drift(|r| r.validate_us);
        let m = drift(|r| r.mutate_us);
        let ok = |d: f64| if d >= 0.8 { "met" } else { "NOT met" };
        let _ = writeln!(
            out,
            "- {s} ({} → {}): /validate {v:.2} ({}), /mutate {m:.2} ({})",
            first.case.name(),
            last.case.name(),
            ok(v),
            ok(m)
        );
    }
    out
}
