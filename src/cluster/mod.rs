//! The Kubernetes side, over the kube client.
//!
//! - [`fetch_inventory`]: `check --cluster` lists Namespaces, Tenants and
//!   the hosts Ingresses and routes claim, once.
//! - [`cache`]: `serve` in a cluster watches them into the tenancy snapshots
//!   the webhook judges with (no inventory file), and looks a namespace it
//!   has not seen yet up directly.
//! - [`onboard`] and the controller: every tenant namespace gets its
//!   baseline (NetworkPolicy, ResourceQuota, LimitRange, ServiceAccount,
//!   owners' RoleBinding) by server-side apply, and every Tenant a
//!   [`status`].
//! - [`leader`]: a Lease elects the one replica that runs the controller.
//! - [`selftls`]: TLS `mode: self`, the CA and serving certificate in a
//!   Secret and the webhook `caBundle`s kept in step, on every replica.
//!
//! [`Cluster::start`] wires them for `serve`; nothing here is on the request path
//! except a snapshot read and, for an unknown namespace, one bounded GET.

pub mod audit_scan;
pub mod budget;
pub mod cache;
mod controller;
pub mod leader;
pub mod onboard;
pub mod selftls;
mod state;
pub mod status;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cache::ClusterTenancy;
pub use controller::Timing;
pub use leader::LeaseConfig;

use crate::cli::ServeArgs;
use crate::hosts::{hosts_in, ClaimKind, ClaimRef};
use crate::metrics::Metrics;
use crate::policy::{Settings, Tenant};
use crate::tenancy::{Inventory, UnknownNamespaces};
use crate::tenant_label;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no usable kubeconfig or in-cluster configuration: {0}; set KUBECONFIG (serve: --kubeconfig) or drop --cluster"
    )]
    Config(String),
    #[error("the cluster did not answer within {0:?}; is it reachable? (kubectl cluster-info)")]
    Timeout(Duration),
    #[error("listing {what} failed: {source}")]
    List {
        what: &'static str,
        source: kube::Error,
    },
    #[error("--{flag} must be a positive number of seconds, got {value}")]
    Seconds { flag: &'static str, value: f64 },
    #[error("{0}")]
    SelfTls(String),
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// A client from `kubeconfig`'s current context, or else from the
/// in-cluster configuration or the default kubeconfig.
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, ClusterError> {
    let make = async {
        let config = match kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| {
                    ClusterError::Config(format!("cannot read {}: {e}", path.display()))
                })?;
                Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
            }
            None => Config::infer()
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?,
        };
        Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))
    };
    tokio::time::timeout(TIMEOUT, make)
        .await
        .map_err(|_| ClusterError::Timeout(TIMEOUT))?
}

/// Lists every Namespace and Tenant of the current context, and the hosts
/// its Ingresses and routes claim. Tenants and routes are optional: a
/// cluster without their CRDs simply has none.
pub async fn fetch_inventory() -> Result<Inventory, ClusterError> {
    let client = client(None).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = tokio::time::timeout(TIMEOUT, namespaces.list_metadata(&ListParams::default()))
        .await
        .map_err(|_| ClusterError::Timeout(TIMEOUT))?
        .map_err(|source| ClusterError::List {
            what: "namespaces",
            source,
        })?;
    let mut inv = Inventory::new(UnknownNamespaces::Platform);
    for ns in list.items {
        let Some(name) = ns.metadata.name.as_deref() else {
            continue;
        };
        let tenant = ns.metadata.labels.as_ref().and_then(tenant_label::in_map);
        inv.add_namespace(name, tenant);
    }
    let tenants: Api<Tenant> = Api::all(client.clone());
    match tokio::time::timeout(TIMEOUT, tenants.list(&ListParams::default())).await {
        Err(_) => return Err(ClusterError::Timeout(TIMEOUT)),
        Ok(Ok(list)) => {
            for t in list.items.iter().filter(|t| t.validate().is_ok()) {
                inv.add_tenant(t);
            }
        }
        // 404: the Tenant CRD is not installed; no tenants are declared.
        Ok(Err(kube::Error::Api(e))) if e.code == 404 => {}
        Ok(Err(source)) => {
            return Err(ClusterError::List {
                what: "tenants.tenantguard.io",
                source,
            })
        }
    }
    for kind in ClaimKind::ALL.into_iter().filter(|k| k.claims()) {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &cache::claim_resource(kind));
        let list = match tokio::time::timeout(TIMEOUT, api.list(&ListParams::default())).await {
            Err(_) => return Err(ClusterError::Timeout(TIMEOUT)),
            Ok(Ok(list)) => list,
            // 404: the Gateway API CRDs are not installed; no routes.
            Ok(Err(kube::Error::Api(e))) if e.code == 404 && kind != ClaimKind::Ingress => continue,
            Ok(Err(source)) => {
                return Err(ClusterError::List {
                    what: kind.as_str(),
                    source,
                })
            }
        };
        let claims = inv.claims_mut();
        for o in &list.items {
            let ns = o.metadata.namespace.as_deref().unwrap_or("");
            let name = o.metadata.name.as_deref().unwrap_or("");
            claims.set(ClaimRef::new(ns, kind, name), hosts_in(kind, &o.data));
        }
    }
    Ok(inv)
}

/// The Settings in force (they change on a policy reload).
pub type SettingsSource = Arc<dyn Fn() -> Settings + Send + Sync>;

/// Whether `serve` takes its tenancy from the cluster: `--cluster`, or
/// running in a pod without `--inventory`.
pub fn wanted(args: &ServeArgs, in_cluster: bool) -> bool {
    args.policy.inventory.is_none() && (args.cluster.cluster || in_cluster)
}

/// What `serve` in a cluster runs, validated from the flags.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Run the onboarding controller (on the Lease holder only). Also turns
    /// the onboarding gate on, on every replica.
    pub controller: bool,
    /// tenantguard's own namespace: exempt everywhere, never onboarded.
    pub own_namespace: String,
    pub lease: LeaseConfig,
    /// Longest direct lookup of a namespace the cache has not seen.
    pub lookup_timeout: Duration,
    pub timing: Timing,
}

impl ClusterOptions {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ClusterError> {
        let a = &args.cluster;
        let lookup = a.namespace_lookup_timeout;
        if !(lookup > 0.0 && lookup < 60.0) {
            return Err(ClusterError::Seconds {
                flag: "namespace-lookup-timeout",
                value: lookup,
            });
        }
        let identity = a
            .leader_identity
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(leader::default_identity);
        Ok(ClusterOptions {
            controller: !a.no_controller,
            own_namespace: args.own_namespace.clone(),
            lease: LeaseConfig::new(&a.lease_name, &args.own_namespace, &identity),
            lookup_timeout: Duration::from_secs_f64(lookup),
            timing: Timing::default(),
        })
    }
}

/// Resolves once `rx` turns true (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The running cluster side of `serve`.
pub struct Cluster {
    client: Client,
    tenancy: Arc<ClusterTenancy>,
    reconcile_all: Arc<watch::Sender<u64>>,
    /// Whether this replica holds the Lease (only with the controller).
    leading: Option<watch::Receiver<bool>>,
    stop: watch::Receiver<bool>,
    /// This replica's holder identity in the Lease.
    identity: String,
    tasks: Vec<JoinHandle<()>>,
}

/// Hands policy reloads to the cluster side (cheap to clone into a closure).
#[derive(Clone)]
pub struct Reloader {
    tenancy: Arc<ClusterTenancy>,
    reconcile_all: Arc<watch::Sender<u64>>,
}

impl Reloader {
    /// New Tenants from the policies directory, and new Settings: every
    /// tenant namespace is reconciled again.
    pub fn policies_reloaded(&self, file_tenants: Vec<Tenant>) {
        self.tenancy.set_file_tenants(file_tenants);
        self.reconcile_all.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Cluster {
    /// Starts the caches and, when enabled, leader election and the
    /// controller; everything stops when `stop` turns true. Needs a Tokio runtime.
    pub fn start(
        client: Client,
        opts: ClusterOptions,
        settings: SettingsSource,
        file_tenants: Vec<Tenant>,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Cluster {
        let identity = opts.lease.identity.clone();
        let tenancy = ClusterTenancy::new(
            client.clone(),
            opts.lookup_timeout,
            file_tenants,
            metrics.clone(),
            opts.controller,
        );
        let mut tasks = tenancy.spawn(stop.clone());
        let (reconcile_all, all_rx) = watch::channel(0u64);
        let mut leading = None;
        if opts.controller {
            tracing::info!(lease = %opts.lease.name, namespace = %opts.lease.namespace, identity = %opts.lease.identity, "onboarding controller enabled: campaigning for the Lease");
            let (leading_tx, leading_rx) = watch::channel(false);
            leading = Some(leading_tx.subscribe());
            let (idle_tx, idle_rx) = watch::channel(true);
            let elector = leader::LeaderElector::new(client.clone(), opts.lease.clone());
            tasks.push(tokio::spawn(elector.run(leading_tx, stop.clone(), idle_rx)));
            let ctx = controller::Ctx::new(
                client.clone(),
                tenancy.clone(),
                settings,
                metrics,
                opts.timing,
                opts.own_namespace,
                &identity,
            );
            tasks.push(tokio::spawn(controller::run_when_leading(
                ctx,
                leading_rx,
                stop.clone(),
                all_rx,
                idle_tx,
            )));
        }
        Cluster {
            client,
            tenancy,
            reconcile_all: Arc::new(reconcile_all),
            leading,
            stop,
            identity,
            tasks,
        }
    }

    /// Starts the audit's background scan on the Lease holder (see
    /// [`audit_scan`]); false when it does not run: a zero
    /// interval, or no controller (then no replica campaigns for the Lease).
    pub fn start_audit(
        &mut self,
        engine: audit_scan::EngineSource,
        opts: audit_scan::ScanOptions,
        registry: &crate::metrics::Families,
    ) -> bool {
        let Some(leading) = self.leading.clone() else {
            return false;
        };
        if opts.interval.is_zero() {
            return false;
        }
        let scanner = audit_scan::Scanner::new(
            self.client.clone(),
            self.tenancy.clone(),
            engine,
            Arc::new(crate::audit::metrics::AuditMetrics::new(registry)),
            opts,
            &self.identity,
        );
        self.tasks
            .push(tokio::spawn(scanner.run(leading, self.stop.clone())));
        true
    }

    /// Starts TLS `mode: self` (see [`selftls`]): `serve` is handed the
    /// Secret's certificate once it has been read, and each new one.
    pub fn start_self_tls(
        &mut self,
        opts: selftls::SelfTlsOptions,
        serve: selftls::ServeCert,
        metrics: Arc<Metrics>,
    ) {
        self.tasks.push(selftls::spawn(
            self.client.clone(),
            opts,
            serve,
            metrics,
            self.stop.clone(),
        ));
    }

    pub fn tenancy(&self) -> Arc<ClusterTenancy> {
        self.tenancy.clone()
    }

    pub fn reloader(&self) -> Reloader {
        Reloader {
            tenancy: self.tenancy.clone(),
            reconcile_all: self.reconcile_all.clone(),
        }
    }

    /// Waits (at most `within`) for the tasks to end after `stop` turned
    /// true: the controller finishes its reconciles, the Lease is released.
    pub async fn stopped(self, within: Duration) {
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("the cluster tasks did not stop in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::testing::serve;

    #[test]
    fn cluster_mode_when_asked_or_in_a_pod_without_inventory() {
        let cases = [
            ("plain, outside a pod", vec![], false, false),
            ("plain, in a pod", vec![], true, true),
            ("--cluster", vec!["--cluster"], false, true),
            (
                "--inventory in a pod",
                vec!["--inventory", "i.yaml"],
                true,
                false,
            ),
        ];
        for (name, args, in_pod, want) in cases {
            assert_eq!(wanted(&serve(&args), in_pod), want, "{name}");
        }
    }

    #[test]
    fn options_from_flags() {
        let o = ClusterOptions::from_args(&serve(&[
            "--own-namespace",
            "tg",
            "--leader-identity",
            "tg-0",
            "--no-controller",
        ]))
        .unwrap();
        assert!(!o.controller);
        assert_eq!(
            (
                o.lease.name.as_str(),
                o.lease.namespace.as_str(),
                o.lease.identity.as_str()
            ),
            ("tenantguard-controller", "tg", "tg-0")
        );
        assert!(o.lease.renew_deadline < o.lease.lease_duration);
        let err =
            ClusterOptions::from_args(&serve(&["--namespace-lookup-timeout", "0"])).unwrap_err();
        assert!(
            err.to_string().contains("--namespace-lookup-timeout"),
            "{err}"
        );
        // Without POD_NAME the hostname (the pod name in a pod) is the identity.
        let o = ClusterOptions::from_args(&serve(&[])).unwrap();
        assert!(!o.lease.identity.is_empty());
    }
}
