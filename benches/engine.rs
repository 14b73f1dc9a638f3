//! The engine alone, without HTTP or TLS: decode + every baseline rule +
//! encode (`tenantguard::admission::review`) for a few realistic objects,
//! `/mutate` and `/validate` separately, against the 10,000-namespace,
//! 1,000-tenant inventory of the load benchmark. In the same run, the floor's
//! work on the same body (`serde_json::from_slice::<Value>` + encoding an
//! allow response), so the ratio tenantguard/floor comes from one run.
//!
//! `cargo bench --bench engine` (add `-- pod-5k` to run one object).
//!
//! `/validate` is measured on the object as `/mutate` left it, because that is
//! what the apiserver sends to validation; every case is checked to be
//! admitted before it is timed, so no benchmark measures an error path.

#[path = "../bench/workload.rs"]
mod workload;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use tenantguard::admission::{self, Endpoint};
use tenantguard::config;
use tenantguard::engine::Engine;
use tenantguard::policy::rules::Identity;
use tenantguard::tenancy::Inventory;

/// One object: the body `/mutate` receives and the one `/validate` receives.
struct Case {
    name: &'static str,
    mutate: Vec<u8>,
    validate: Vec<u8>,
}

fn setup() -> (Engine, Inventory, Vec<Case>) {
    let dir = tempfile::tempdir().expect("a temporary directory for the inventory");
    let inv_path = workload::write_inventory(dir.path()).expect("write the inventory");
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let (set, _) =
        config::load_policies(Some(&policies)).expect("the baseline policies/ must load");
    let inventory =
        config::load_inventory(&set, Some(&inv_path)).expect("the generated inventory must load");
    assert_eq!(
        inventory.namespace_count(),
        workload::TENANTS * workload::NAMESPACES_PER_TENANT + 2
    );
    let engine = Engine::new(set, Identity::default());

    let ns = workload::bench_namespace();
    let tenant = workload::tenant_name(workload::BENCH_TENANT);
    let json = |v: Value| serde_json::to_vec(&v).expect("serialize");
    let fixture =
        |rel| workload::review_from_fixture(rel, Some(&ns)).unwrap_or_else(|e| panic!("{e}"));
    let raw: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "pod-small",
            json(fixture(
                "pod/create-two-containers-no-resources-minimal.json",
            )),
        ),
        (
            "pod-5k",
            workload::load_test_pod(&ns).unwrap_or_else(|e| panic!("{e}")),
        ),
        (
            "deployment",
            json(fixture("deployment/create-kubectl-apply.json")),
        ),
        (
            "networkpolicy",
            json(workload::network_policy_review(
                &ns,
                &tenant,
                &workload::tenant_cidr(workload::BENCH_TENANT),
            )),
        ),
        (
            "namespace",
            json(workload::namespace_review(&tenant).unwrap_or_else(|e| panic!("{e}"))),
        ),
    ];
    let cases = raw
        .into_iter()
        .map(|(name, mutate)| {
            let m = admission::review(&mutate, Endpoint::Mutate, &engine, &inventory)
                .unwrap_or_else(|e| panic!("{name}: /mutate cannot decode: {e}"));
            let after = workload::apply_mutation(&mutate, &m.body)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let validate = json(after);
            let v = admission::review(&validate, Endpoint::Validate, &engine, &inventory)
                .unwrap_or_else(|e| panic!("{name}: /validate cannot decode: {e}"));
            assert!(
                v.outcome.allowed && v.outcome.tenant.as_deref() == Some(tenant.as_str()),
                "{name}: the mutated object must be admitted for tenant {tenant}: {:?}",
                v.outcome
            );
            Case {
                name,
                mutate,
                validate,
            }
        })
        .collect();
    (engine, inventory, cases)
}

fn engine(c: &mut Criterion) {
    let (engine, inventory, cases) = setup();
    for case in &cases {
        let mut g = c.benchmark_group(case.name);
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
    // Short windows: 20 benchmarks stay near a minute on a 2-core machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = engine
}
criterion_main!(benches);
