//! The cluster side of `serve` (watch caches, direct namespace lookups, the
//! onboarding controller, leader election) against a stand-in
//! kube-apiserver: kube's real `Client`, watcher and `Controller` over a
//! tower service that answers from in-memory objects loaded from
//! `tests/fixtures/cluster/` (see `cluster/apiserver.rs`). No cluster needed;
//! nothing leaves the process.
//!
//! Waits poll with a bounded deadline; nothing sleeps for a fixed time or
//! asserts on timing.

#[path = "cluster/apiserver.rs"]
mod apiserver;
#[path = "cluster/audit.rs"]
mod audit;
#[path = "cluster/cache.rs"]
mod cache;
#[path = "common/mod.rs"]
mod common;
#[path = "cluster/gate.rs"]
mod gate;
#[path = "cluster/hosts.rs"]
mod hosts;
#[path = "cluster/leader.rs"]
mod leader;
#[path = "cluster/onboarding.rs"]
mod onboarding;
#[path = "cluster/onboarding_events.rs"]
mod onboarding_events;
#[path = "cluster/quota.rs"]
mod quota;
#[path = "cluster/rbac.rs"]
mod rbac;
#[path = "cluster/selftls.rs"]
mod selftls;
#[path = "cluster/serve.rs"]
mod serve;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tenantguard::cluster::{Cluster, ClusterOptions, LeaseConfig, SettingsSource, Timing};
use tenantguard::metrics::Metrics;
use tenantguard::policy::Settings;
use tokio::sync::watch;

use apiserver::ApiServer;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A kubeconfig for the stand-in at `addr`, written into `dir`: what the
/// tests that run the real binary against the stand-in point it at.
pub fn kubeconfig_file(dir: &std::path::Path, addr: std::net::SocketAddr) -> std::path::PathBuf {
    common::write_file(dir, "kubeconfig", &apiserver::kubeconfig(addr))
}

/// The fixture cluster: its namespaces and the Tenants acme and globex.
pub fn world() -> ApiServer {
    let server = ApiServer::new();
    server.put_list(&fixture("namespaces.json"));
    server.put_list(&fixture("tenants.json"));
    server
}

/// A Namespace as the apiserver stores it, with the tenant label or not.
pub fn namespace(name: &str, tenant: Option<&str>) -> Value {
    let mut labels = json!({"kubernetes.io/metadata.name": name});
    if let Some(t) = tenant {
        labels["tenantguard.io/tenant"] = json!(t);
    }
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// Polls `f` until it returns `Some`, at most [`DEADLINE`].
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no client has called (Leases aside) for a few polls in a row. Only used to
/// let triggers from the controller's own writes die down before a test
/// changes one thing: if it ends too early the test can pass for the wrong
/// reason, never fail for one.
pub async fn quiet(server: &ApiServer) {
    let mut last = usize::MAX;
    let mut same = 0;
    eventually("the clients to go quiet", || {
        // Lease renewals never stop; they are not what this waits for.
        let n = server
            .calls()
            .iter()
            .filter(|c| c.resource != "leases")
            .count();
        same = if n == last { same + 1 } else { 0 };
        last = n;
        (same >= 10).then_some(())
    })
    .await;
}

/// Short lease timings so handovers happen within a test's deadline.
pub fn lease(identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(200),
        ..LeaseConfig::new("tenantguard-controller", rbac::OWN_NAMESPACE, identity)
    }
}

pub fn options(identity: &str, controller: bool) -> ClusterOptions {
    ClusterOptions {
        controller,
        own_namespace: rbac::OWN_NAMESPACE.to_string(),
        lease: lease(identity),
        lookup_timeout: Duration::from_millis(500),
        timing: Timing {
            resync: Duration::from_secs(600),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(800),
            status_interval: Duration::from_millis(50),
            concurrency: 4,
            event_repeat: Duration::from_secs(1800),
        },
    }
}

/// One replica's cluster side.
pub struct Replica {
    pub cluster: Cluster,
    pub metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
}

impl Replica {
    /// Starts the caches (and the controller under the Lease when asked),
    /// its calls logged as `identity`.
    pub fn start(server: &ApiServer, identity: &str, controller: bool) -> Replica {
        Self::start_with(server, identity, controller, Arc::new(Settings::default))
    }

    /// [`Replica::start`] with the Settings `settings` returns (a policy reload changes them).
    pub fn start_with(
        server: &ApiServer,
        identity: &str,
        controller: bool,
        settings: SettingsSource,
    ) -> Replica {
        let metrics = Arc::new(Metrics::new());
        let (stop, stop_rx) = watch::channel(false);
        let cluster = Cluster::start(
            server.client(identity),
            options(identity, controller),
            settings,
            vec![],
            metrics.clone(),
            stop_rx,
        );
        Replica {
            cluster,
            metrics,
            stop,
        }
    }

    /// Stops everything and waits for it (the Lease is released).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.cluster.stopped(DEADLINE).await;
    }

    /// A sample's value in the Prometheus text, e.g. `tenantguard_cache_synced{resource="tenants"}`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        self.metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|v| v.trim().parse().ok()))
    }
}
