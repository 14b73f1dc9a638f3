//! Instructions per request of the engine alone, for callgrind: decodes,
//! judges and encodes one benchmark body N times for `/mutate`, N times for
//! `/validate`, and the floor's parse-and-allow N times on each body, each
//! inside its own `measured_*` function, so the counts exclude set-up and
//! one run gives all four (`bench/count.sh` reads them).
//!
//! ```sh
//! cargo build --release --example enginecount
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='enginecount::measured_*' \
//!     target/release/examples/enginecount pod-1000c 5
//! callgrind_annotate --inclusive=yes callgrind.out.* | grep measured_
//! target/release/examples/enginecount --list    # the cases and their sizes
//! ```
//!
//! Cases and bodies are those of `benches/engine.rs` (`bench/workload.rs`).

#[path = "../bench/workload.rs"]
mod workload;

use std::hint::black_box;
use std::process::ExitCode;

use tenantguard::admission::{self, Endpoint};
use tenantguard::engine::Engine;
use tenantguard::tenancy::Inventory;

/// `/mutate` N times.
#[inline(never)]
fn measured_mutate(body: &[u8], n: usize, engine: &Engine, inv: &Inventory) -> usize {
    (0..n)
        .map(|_| {
            admission::review(black_box(body), Endpoint::Mutate, engine, inv)
                .map_or(0, |r| r.body.len())
        })
        .sum()
}

/// `/validate` N times.
#[inline(never)]
fn measured_validate(body: &[u8], n: usize, engine: &Engine, inv: &Inventory) -> usize {
    (0..n)
        .map(|_| {
            admission::review(black_box(body), Endpoint::Validate, engine, inv)
                .map_or(0, |r| r.body.len())
        })
        .sum()
}

/// The floor on the `/mutate` body N times.
#[inline(never)]
fn measured_floor_mutate(body: &[u8], n: usize) -> usize {
    (0..n)
        .map(|_| workload::floor_answer(black_box(body)).map_or(0, |b| b.len()))
        .sum()
}

/// The floor on the `/validate` body N times. (Not the same code as
/// `measured_floor_mutate`, so the linker cannot fold the two into one
/// symbol and callgrind counts each apart.)
#[inline(never)]
fn measured_floor_validate(body: &[u8], n: usize) -> usize {
    (0..n)
        .map(|_| workload::floor_answer(black_box(body)).map_or(1, |b| b.len() + 1))
        .sum()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: enginecount CASE [N] | enginecount --list";
    let run = || -> Result<(), String> {
        let (engine, inv) = workload::engine_setup()?;
        let cases = workload::engine_cases(&engine, &inv)?;
        if args.first().map(String::as_str) == Some("--list") {
            for c in &cases {
                println!(
                    "{:<16} /mutate {:>9} bytes  /validate {:>9} bytes",
                    c.name,
                    c.mutate.len(),
                    c.validate.len()
                );
            }
            return Ok(());
        }
        let [case, rest @ ..] = args.as_slice() else {
            return Err(usage.into());
        };
        let n: usize = rest
            .first()
            .map_or(Ok(10), |s| s.parse())
            .map_err(|e| format!("N: {e}"))?;
        let c = cases
            .iter()
            .find(|c| &c.name == case)
            .ok_or_else(|| format!("no case {case}; --list shows them"))?;
        let out = measured_mutate(&c.mutate, n, &engine, &inv)
            + measured_validate(&c.validate, n, &engine, &inv)
            + measured_floor_mutate(&c.mutate, n)
            + measured_floor_validate(&c.validate, n);
        println!("{case}: {n} requests of each kind, {out} bytes answered");
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enginecount: {e}");
            ExitCode::from(2)
        }
    }
}
