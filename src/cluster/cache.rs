//! The tenancy view in a cluster: kube-runtime watchers on Namespaces
//! (metadata only: the tenant label and the onboarding mark are all
//! tenantguard reads) and Tenants,
//! folded into one [`Inventory`] behind [`TenancySource`].
//!
//! Events are applied incrementally to a master inventory; a new immutable
//! snapshot is published once per batch of events that arrived together
//! (one clone per batch, never per event, so a 10k-namespace initial list
//! costs a few clones), and lookups stay hash-map lookups on a snapshot the
//! request path only has to `Arc::clone`.
//!
//! Faults: a watch that fails is dropped and started again after a backoff
//! with a full re-list (which replaces the cache atomically when it
//! completes); meanwhile the webhook keeps judging with the last snapshot,
//! and `tenantguard_cache_age_seconds` counts how long the cache has been
//! unconfirmed. Readiness needs both initial lists; a cluster without the
//! Tenant CRD (404) simply declares no tenants.
//!
//! Ingresses and the Gateway API routes (`HTTPRoute`, `GRPCRoute`,
//! `TLSRoute`) are watched for the hosts they claim (`ingress-hosts`); only
//! their identity and hosts are kept ([`super::state`]). Readiness waits for
//! their lists too; a cluster without the Gateway API CRDs (404 on the list)
//! has no routes, and that kind counts as listed.
//!
//! Tenant objects are read as dynamic objects and parsed one by one, so one
//! invalid Tenant (unknown field, bad quantity or CIDR) never breaks the
//! list: it keeps its last valid spec in force (like a bad policy reload)
//! and the controller reports it in its status.
//!
//! Reference: <https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes>.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use super::state::State;
pub use super::state::{parse_tenant, TenantRecord};
use crate::hosts::ClaimKind;
use crate::metrics::Metrics;
use crate::policy::{Tenant, TenantSpec};
use crate::swap::Swap;
use crate::tenancy::{BoxFuture, Inventory, TenancySource};

/// Backoff between restarts of a failed watch.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Direct namespace lookups in flight at once (each is one GET).
const LOOKUPS_IN_FLIGHT: usize = 16;

/// Which watch a health mark is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Namespaces = 0,
    Tenants = 1,
    Ingresses = 2,
    HttpRoutes = 3,
    GrpcRoutes = 4,
    TlsRoutes = 5,
}

/// How many watches there are.
const WATCHES: usize = 6;

/// The watches of objects that claim hosts, with the kind each claims as.
const CLAIM_WATCHES: [(Resource, ClaimKind); 4] = [
    (Resource::Ingresses, ClaimKind::Ingress),
    (Resource::HttpRoutes, ClaimKind::HttpRoute),
    (Resource::GrpcRoutes, ClaimKind::GrpcRoute),
    (Resource::TlsRoutes, ClaimKind::TlsRoute),
];

impl Resource {
    const ALL: [Resource; WATCHES] = [
        Resource::Namespaces,
        Resource::Tenants,
        Resource::Ingresses,
        Resource::HttpRoutes,
        Resource::GrpcRoutes,
        Resource::TlsRoutes,
    ];

    fn label(self) -> &'static str {
        match self {
            Resource::Namespaces => "namespaces",
            Resource::Tenants => "tenants",
            Resource::Ingresses => "ingresses",
            Resource::HttpRoutes => "httproutes",
            Resource::GrpcRoutes => "grpcroutes",
            Resource::TlsRoutes => "tlsroutes",
        }
    }

    /// Kinds a cluster may not serve (their CRD is optional): a 404 on the
    /// list means "none", not a broken watch.
    fn optional(self) -> bool {
        !matches!(self, Resource::Namespaces | Resource::Ingresses)
    }
}

/// The API resource of a kind that claims hosts, at the version watched
/// (TLSRoute is only served as v1alpha2 in the Gateway API's channels).
pub fn claim_resource(kind: ClaimKind) -> ApiResource {
    let (version, plural) = match kind {
        ClaimKind::Ingress => ("v1", "ingresses"),
        ClaimKind::Gateway => ("v1", "gateways"),
        ClaimKind::HttpRoute => ("v1", "httproutes"),
        ClaimKind::GrpcRoute => ("v1", "grpcroutes"),
        ClaimKind::TlsRoute => ("v1alpha2", "tlsroutes"),
    };
    ApiResource {
        group: kind.group().to_string(),
        version: version.to_string(),
        api_version: format!("{}/{version}", kind.group()),
        kind: kind.as_str().to_string(),
        plural: plural.to_string(),
    }
}

/// The cluster tenancy source: caches fed by watches, plus direct lookups.
pub struct ClusterTenancy {
    client: Client,
    lookup_timeout: Duration,
    lookups: Semaphore,
    state: Mutex<State>,
    current: Swap<Inventory>,
    synced: [AtomicBool; WATCHES],
    /// When each watch broke, while it is broken.
    broken: Mutex<[Option<Instant>; WATCHES]>,
    changed: Arc<Notify>,
    /// Counts Tenant objects deleted (the controller reconciles everything then).
    deleted: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl ClusterTenancy {
    /// `gate`: the onboarding controller runs (on some replica), so Pods in
    /// tenant namespaces it has not onboarded yet are held back.
    pub fn new(
        client: Client,
        lookup_timeout: Duration,
        file_tenants: Vec<Tenant>,
        metrics: Arc<Metrics>,
        gate: bool,
    ) -> Arc<Self> {
        let state = State::new(file_tenants, gate);
        let current = Swap::new(state.inventory.clone());
        for r in Resource::ALL {
            metrics.cache_synced.with_label_values(&[r.label()]).set(0);
        }
        Arc::new(ClusterTenancy {
            client,
            lookup_timeout,
            lookups: Semaphore::new(LOOKUPS_IN_FLIGHT),
            state: Mutex::new(state),
            current,
            synced: Default::default(),
            broken: Mutex::new([None; WATCHES]),
            changed: Arc::new(Notify::new()),
            deleted: watch::channel(0).0,
            metrics,
        })
    }

    /// Starts the watches and the cache-age gauge; they end when `stop` turns true.
    pub fn spawn(self: &Arc<Self>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        // Metadata only: labels and annotations are all tenantguard reads of a Namespace.
        let ns_api: Api<PartialObjectMeta<Namespace>> = Api::all(self.client.clone());
        let ar = ApiResource::erase::<Tenant>(&());
        let tenant_api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let me = self.clone();
        let namespaces = tokio::spawn(me.clone().follow(
            Resource::Namespaces,
            move || watcher::watcher(ns_api.clone(), watcher::Config::default()).boxed(),
            |s, e| s.namespace_event(e),
            stop.clone(),
        ));
        let tenants = tokio::spawn(me.clone().follow(
            Resource::Tenants,
            move || watcher::watcher(tenant_api.clone(), watcher::Config::default()).boxed(),
            |s, e| s.tenant_event(e),
            stop.clone(),
        ));
        let mut tasks = vec![namespaces, tenants];
        for (which, kind) in CLAIM_WATCHES {
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &claim_resource(kind));
            tasks.push(tokio::spawn(me.clone().follow(
                which,
                move || watcher::watcher(api.clone(), watcher::Config::default()).boxed(),
                move |s, e| s.claim_event(kind, e),
                stop.clone(),
            )));
        }
        tasks.push(tokio::spawn(me.age_ticker(stop)));
        tasks
    }

    /// Runs one watch until `stop`, restarting it (with a fresh list) after failures.
    async fn follow<K, S>(
        self: Arc<Self>,
        which: Resource,
        start: impl Fn() -> S + Send,
        apply: impl Fn(&mut State, Event<K>) -> bool + Send,
        mut stop: watch::Receiver<bool>,
    ) where
        S: Stream<Item = Result<Event<K>, watcher::Error>> + Send + Unpin,
        K: Send,
    {
        let mut backoff = BACKOFF_MIN;
        loop {
            let mut stream = start();
            loop {
                let next = tokio::select! {
                    n = stream.next() => n,
                    _ = super::stopped(&mut stop) => return,
                };
                let (listed, failure) = match next {
                    Some(Ok(ev)) => self.apply_batch(which, &apply, ev, &mut stream),
                    Some(Err(e)) => (false, Some(e)),
                    // Watcher streams do not end; if one does, start over.
                    None => break,
                };
                if listed {
                    // A complete list: the watch works again.
                    backoff = BACKOFF_MIN;
                }
                if let Some(e) = failure {
                    self.failed(which, &e);
                    break;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = super::stopped(&mut stop) => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Applies `first` and every event already waiting, then publishes once.
    /// Returns whether a list completed, and the error that ended the batch.
    fn apply_batch<K, S>(
        &self,
        which: Resource,
        apply: &impl Fn(&mut State, Event<K>) -> bool,
        first: Event<K>,
        stream: &mut S,
    ) -> (bool, Option<watcher::Error>)
    where
        S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
    {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let deletions = state.deletions();
        let mut done = matches!(first, Event::InitDone);
        let mut publish = apply(&mut state, first);
        let mut failure = None;
        while let Some(Some(next)) = stream.next().now_or_never() {
            match next {
                Ok(ev) => {
                    done |= matches!(ev, Event::InitDone);
                    publish |= apply(&mut state, ev);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Publish before saying synced: a reader that sees `ready()` must
        // also see what the list brought (a claimed host, a namespace).
        if publish {
            self.publish(&state);
        }
        if done {
            self.synced[which as usize].store(true, Ordering::Release);
            self.metrics
                .cache_synced
                .with_label_values(&[which.label()])
                .set(1);
            self.broken.lock().unwrap_or_else(|e| e.into_inner())[which as usize] = None;
            tracing::info!(
                resource = which.label(),
                namespaces = state.inventory.namespace_count(),
                "tenancy cache synced"
            );
        }
        if state.deletions() != deletions {
            self.deleted.send_modify(|n| *n = n.wrapping_add(1));
        }
        (done, failure)
    }

    fn failed(&self, which: Resource, e: &watcher::Error) {
        let not_found = matches!(
            e,
            watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 404
        );
        if which.optional() && not_found {
            // No Tenant CRD: no tenants are declared; no Gateway API CRDs:
            // no routes. Keep trying, quietly, in case it gets installed.
            if !self.synced[which as usize].swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    resource = which.label(),
                    "not served by this cluster (CRD not installed): there are none"
                );
                self.metrics
                    .cache_synced
                    .with_label_values(&[which.label()])
                    .set(1);
            }
            return;
        }
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        broken[which as usize].get_or_insert_with(Instant::now);
        tracing::warn!(resource = which.label(), error = %e, "watch failed; serving from the cache and re-listing after a backoff");
    }

    fn publish(&self, state: &State) {
        let inv = Arc::new(state.inventory.clone());
        self.metrics
            .inventory_namespaces
            .set(inv.namespace_count() as i64);
        self.metrics
            .inventory_tenants
            .set(inv.tenant_count() as i64);
        self.current.store_arc(inv);
        self.changed.notify_one();
    }

    /// Keeps `tenantguard_cache_age_seconds` current: 0 while both watches
    /// run, else the seconds since the first one broke.
    async fn age_ticker(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = super::stopped(&mut stop) => return,
            }
            let age = self
                .broken
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .flatten()
                .min()
                .map_or(0.0, |t| t.elapsed().as_secs_f64());
            self.metrics.cache_age.set(age);
        }
    }

    /// Replaces the Tenants read from the policies directory.
    pub fn set_file_tenants(&self, tenants: Vec<Tenant>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.set_files(tenants);
        self.publish(&state);
    }

    /// The spec of a Tenant declared in the policies directory.
    pub fn file_tenant(&self, name: &str) -> Option<TenantSpec> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.file_tenant(name)
    }

    /// Every Tenant object in the cluster, by name.
    pub fn cluster_tenants(&self) -> Vec<(String, TenantRecord)> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.cluster_tenants()
    }

    /// Changes whenever a Tenant object goes away.
    pub fn tenants_deleted(&self) -> watch::Receiver<u64> {
        self.deleted.subscribe()
    }

    /// Pinged whenever the cache changes (the controller's status writer waits on it).
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Looks one namespace up with a GET; true when found (it is then cached).
    async fn lookup(&self, namespace: &str) -> Result<bool, String> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let get = async {
            let _permit = self.lookups.acquire().await;
            api.get_metadata_opt(namespace).await
        };
        match tokio::time::timeout(self.lookup_timeout, get).await {
            Err(_) => Err(format!("no answer within {:?}", self.lookup_timeout)),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(None)) => Ok(false),
            Ok(Ok(Some(meta))) => {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.namespace_event(Event::Apply(meta));
                self.publish(&state);
                Ok(true)
            }
        }
    }
}

impl TenancySource for ClusterTenancy {
    fn snapshot(&self) -> Arc<Inventory> {
        self.current.load()
    }

    fn ready(&self) -> bool {
        self.synced.iter().all(|s| s.load(Ordering::Acquire))
    }

    fn resolve<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Arc<Inventory>> {
        Box::pin(async move {
            match self.lookup(namespace).await {
                Ok(true) => tracing::info!(namespace, "namespace not cached yet: looked it up"),
                Ok(false) => tracing::warn!(namespace, "namespace not found in the cluster"),
                Err(e) => {
                    tracing::warn!(namespace, error = %e, "direct namespace lookup failed; denying")
                }
            }
            self.snapshot()
        })
    }
}
