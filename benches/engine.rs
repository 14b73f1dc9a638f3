//! The engine alone, without HTTP or TLS: decode + every baseline rule +
//! encode (`tenantguard::admission::review`) for a few realistic objects and
//! the generated cost-vs-size series (pods of 10 to 1,000 containers,
//! NetworkPolicies of 1,000 and 5,000 egress peers, ConfigMaps of 64 KiB and
//! 1 MiB), `/mutate` and `/validate` separately, against the 10,000-namespace,
//! 1,000-tenant inventory of the load benchmark. In the same run, the floor's
//! work on the same body (`serde_json::from_slice::<Value>` + encoding an
//! allow response), so the ratio tenantguard/floor comes from one run.
//!
//! `cargo bench --bench engine` (add `-- pod-1000c` to run one object).
//! Instruction counts of one case: `examples/enginecount.rs`.
//!
//! `/validate` is measured on the object as `/mutate` left it, because that is
//! what the apiserver sends to validation; every case is checked to be
//! admitted before it is timed, so no benchmark measures an error path.

#[path = "../bench/workload.rs"]
mod workload;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tenantguard::admission::{self, Endpoint};

fn engine(c: &mut Criterion) {
    let (engine, inventory) = workload::engine_setup().unwrap_or_else(|e| panic!("{e}"));
    let cases = workload::engine_cases(&engine, &inventory).unwrap_or_else(|e| panic!("{e}"));
    for case in &cases {
        let mut g = c.benchmark_group(case.name.as_str());
        if case.mutate.len() > 100_000 {
            g.sample_size(10);
        }
        g.throughput(Throughput::Bytes(case.mutate.len() as u64));
        g.bench_function("mutate", |b| {
            b.iter(|| {
                admission::review(
                    black_box(&case.mutate),
                    Endpoint::Mutate,
                    &engine,
                    &inventory,
                )
            })
        });
        g.bench_function("floor-mutate-body", |b| {
            b.iter(|| workload::floor_answer(black_box(&case.mutate)))
        });
        g.throughput(Throughput::Bytes(case.validate.len() as u64));
        g.bench_function("validate", |b| {
            b.iter(|| {
                admission::review(
                    black_box(&case.validate),
                    Endpoint::Validate,
                    &engine,
                    &inventory,
                )
            })
        });
        g.bench_function("floor-validate-body", |b| {
            b.iter(|| workload::floor_answer(black_box(&case.validate)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    // Short windows: 48 benchmarks stay near a few minutes on a 2-core machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = engine
}
criterion_main!(benches);
