//! The host-claims lookup behind `ingress-hosts`: the cost of finding the
//! claims that overlap one host, with 100 to 100,000 hosts claimed. It
//! should stay flat (a few hash lookups: the host, its parent's wildcard,
//! and for a wildcard the names directly under it).
//!
//! `cargo bench --bench hosts` (`-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tenantguard::hosts::{ClaimKind, ClaimRef, Host, HostClaims};

const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// `n` Ingresses, each claiming one name under its own parent, spread over
/// 1,000 tenant namespaces; one in ten also claims its parent's wildcard.
fn claims(n: usize) -> HostClaims {
    let mut c = HostClaims::new();
    for i in 0..n {
        let r = ClaimRef::new(
            &format!("t{}-prod", i % 1000),
            ClaimKind::Ingress,
            &format!("i{i}"),
        );
        let mut hosts = vec![Host::Exact(format!("h{i}.s{i}.example"))];
        if i % 10 == 0 {
            hosts.push(Host::Wildcard(format!("w{i}.example")));
        }
        c.set(r, hosts);
    }
    assert_eq!(c.len(), n + n.div_ceil(10));
    c
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("host-lookup");
    for n in SIZES {
        let idx = claims(n);
        let mid = n / 2;
        let queries = [
            (
                "exact-claimed",
                Host::Exact(format!("h{mid}.s{mid}.example")),
            ),
            ("exact-free", Host::Exact(format!("free.s{mid}.example"))),
            (
                "under-a-wildcard",
                Host::Exact(format!("x.w{}.example", mid / 10 * 10)),
            ),
            ("wildcard", Host::Wildcard(format!("s{mid}.example"))),
        ];
        for (name, q) in &queries {
            let found = idx.overlapping(q).len();
            assert_eq!(found, usize::from(*name != "exact-free"), "{name} at {n}");
            g.bench_with_input(BenchmarkId::new(*name, n), q, |b, q| {
                b.iter(|| black_box(idx.overlapping(black_box(q))).len())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
