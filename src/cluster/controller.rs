//! The onboarding controller: a kube-runtime `Controller` on Namespaces that
//! carry the tenant label, reconciling each to its [`baseline`] with
//! server-side apply (field manager `tenantguard`, forced, so drift made by
//! anyone else is taken back), and a status writer that keeps every Tenant's
//! `status` (Ready condition, namespaces, last error) current.
//!
//! Once the baseline is in place the namespace gets the annotation
//! `tenantguard.io/onboarded: <tenant>` (a merge patch, never a create): the
//! webhook holds new Pods back until then (the onboarding gate). Exempt
//! namespaces (the Settings' list and tenantguard's own, by the one shared
//! check) are never onboarded, whatever label they carry.
//!
//! Owners: a ServiceAccount owner gets into the owners' RoleBinding only
//! while its namespace belongs to the tenant, read fresh at each reconcile;
//! a change to such a namespace reconciles the tenant's namespaces again.
//!
//! Triggers: the namespace itself; its Tenant (a spec change reaches every
//! namespace of the tenant); any object labelled
//! `app.kubernetes.io/managed-by=tenantguard` that changes or disappears
//! (drift); a policy reload (Settings defaults); and a periodic resync.
//! A namespace whose tenant label is removed drops out of the watch, and the
//! controller leaves its objects alone: it never deletes anything.
//!
//! With `quota.scope: Tenant` the quota's `hard` is the namespace's share
//! of the tenant's budget, recomputed whenever the tenant's usage or
//! namespaces change ([`shared_quota`]).
//!
//! Failures are per namespace: an error is retried with exponential
//! backoff, counted in `tenantguard_reconciles_total{result="error"}`,
//! shown in the Tenant's status and announced by a Warning Event on the
//! Tenant (deduplicated and rate-limited, see [`announce`]); other
//! namespaces and tenants carry on.
//!
//! Reference: <https://kubernetes.io/docs/reference/using-api/server-side-apply/>.

mod announce;
mod shared_quota;
mod statuses;

use announce::Announcer;

use statuses::status_writer;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{
    Action, Config as ControllerConfig, Controller, Error as ControllerError,
};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{oneshot, watch, Notify};

use super::cache::{parse_tenant, ClusterTenancy};
use super::onboard::{baseline, BaselineError, FIELD_MANAGER};
use super::SettingsSource;
use crate::metrics::Metrics;
use crate::policy::{Owner, OwnerKind, Tenant, TenantSpec};
use crate::tenancy::{Inventory, TenancySource};
use crate::tenant_label;
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, ONBOARDED_ANNOTATION, TENANT_LABEL};

/// How often and how hard the controller works.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Every namespace is reconciled again after this long, drift or not.
    pub resync: Duration,
    /// First retry delay after a failure; doubles per failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Least time between two passes of the status writer.
    pub status_interval: Duration,
    /// Namespaces reconciled at once.
    pub concurrency: u16,
    /// A failure that lasts is announced by an Event again after this long.
    pub event_repeat: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            resync: Duration::from_secs(600),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            status_interval: Duration::from_secs(1),
            concurrency: 8,
            event_repeat: Duration::from_secs(1800),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading Tenant {tenant:?}: {source}")]
    ReadTenant { tenant: String, source: kube::Error },
    #[error("reading namespace {namespace:?} (of a ServiceAccount owner): {source}")]
    ReadNamespace {
        namespace: String,
        source: kube::Error,
    },
    #[error("marking the namespace {ONBOARDED_ANNOTATION}: {source}")]
    Mark { source: kube::Error },
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("reading the namespaces and ResourceQuotas of tenant {tenant:?} (quota.scope: Tenant): {source}")]
    ReadQuotas { tenant: String, source: kube::Error },
    #[error(transparent)]
    Budget(#[from] super::budget::BudgetError),
    #[error("server-side apply of {kind} {name:?} failed: {source}")]
    Apply {
        kind: String,
        name: String,
        source: kube::Error,
    },
}

#[derive(Debug, Clone)]
struct Record {
    result: Result<(), String>,
    failures: u32,
}

/// What reconciles share.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) tenancy: Arc<ClusterTenancy>,
    pub(crate) settings: SettingsSource,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) timing: Timing,
    /// tenantguard's own namespace: exempt whatever the Settings say.
    pub(crate) own_namespace: String,
    book: Mutex<HashMap<String, Record>>,
    /// Tenant-wide budgets (`quota.scope: Tenant`) as last computed.
    budgets: shared_quota::Budgets,
    wake: Arc<Notify>,
    announcer: Announcer,
}

impl Ctx {
    pub(crate) fn new(
        client: Client,
        tenancy: Arc<ClusterTenancy>,
        settings: SettingsSource,
        metrics: Arc<Metrics>,
        timing: Timing,
        own_namespace: String,
        instance: &str,
    ) -> Arc<Self> {
        let wake = tenancy.changed();
        Arc::new(Ctx {
            announcer: Announcer::new(client.clone(), instance, timing.event_repeat),
            client,
            tenancy,
            settings,
            metrics,
            timing,
            own_namespace,
            book: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            wake,
        })
    }

    fn record(&self, namespace: &str, result: Result<(), String>) -> u32 {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        let failures = match (&result, book.get(namespace)) {
            (Ok(()), _) => 0,
            (Err(_), Some(r)) => r.failures.saturating_add(1),
            (Err(_), None) => 1,
        };
        book.insert(namespace.to_string(), Record { result, failures });
        let failing = book.values().filter(|r| r.result.is_err()).count();
        self.metrics.reconcile_failing.set(failing as i64);
        drop(book);
        self.wake.notify_one();
        failures
    }
}

fn tenant_api(client: Client) -> Api<DynamicObject> {
    Api::all_with(client, &ApiResource::erase::<Tenant>(&()))
}

async fn apply<K>(client: &Client, namespace: &str, obj: &K) -> Result<(), ReconcileError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .map(|_| ())
    .map_err(|source| ReconcileError::Apply {
        kind: K::kind(&()).into_owned(),
        name,
        source,
    })
}

/// The owners that count: a ServiceAccount owner only while its namespace
/// is, right now, one of `tenant`'s (read from the apiserver, not the
/// cache, so a namespace just handed elsewhere is never granted `edit`).
async fn honoured(
    client: &Client,
    tenant: &str,
    owners: Vec<Owner>,
) -> Result<Vec<Owner>, ReconcileError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut out = Vec::with_capacity(owners.len());
    for o in owners {
        if o.kind == OwnerKind::ServiceAccount {
            let ns = o.namespace.clone().unwrap_or_default();
            let meta = api.get_metadata_opt(&ns).await.map_err(|source| {
                ReconcileError::ReadNamespace {
                    namespace: ns.clone(),
                    source,
                }
            })?;
            let theirs = meta.is_some_and(|m| tenant_label::in_map(m.labels()) == Some(tenant));
            if !theirs {
                tracing::warn!(tenant, owner = %o.name, namespace = %ns, "ServiceAccount owner outside the tenant's namespaces: not granted");
                continue;
            }
        }
        out.push(o);
    }
    Ok(out)
}

/// Sets `tenantguard.io/onboarded: <tenant>` unless it is set already.
async fn mark_onboarded(
    client: &Client,
    ns: &Namespace,
    tenant: &str,
) -> Result<(), ReconcileError> {
    if ns
        .annotations()
        .get(ONBOARDED_ANNOTATION)
        .map(String::as_str)
        == Some(tenant)
    {
        return Ok(());
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = json!({"metadata": {"annotations": {ONBOARDED_ANNOTATION: tenant}}});
    match api
        .patch(
            &ns.name_any(),
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Deleted meanwhile: nothing to mark.
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(source) => Err(ReconcileError::Mark { source }),
    }
}

/// Onboards `ns` ([`onboard`]) and announces how it went.
async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let result = onboard(&ns, &ctx).await;
    // Failures come only from a tenant namespace that is onboarded.
    if let (Some(tenant), Err(e)) = (tenant_label::in_map(ns.labels()), &result) {
        ctx.announcer.failed(tenant, &ns, e).await;
    }
    result
}

async fn onboard(ns: &Namespace, ctx: &Ctx) -> Result<Action, ReconcileError> {
    let name = ns.name_any();
    let tenant = tenant_label::in_map(ns.labels()).map(str::to_string);
    let settings = (ctx.settings)();
    let exempt = settings.is_exempt(&name, &ctx.own_namespace);
    let (Some(tenant), false, None) = (tenant, exempt, ns.metadata.deletion_timestamp.as_ref())
    else {
        // Not a tenant namespace (any more), exempt (even labelled: an
        // exempt namespace is never onboarded), or going away: hands off.
        return Ok(Action::await_change());
    };
    // Read the Tenant now rather than from the cache: the trigger may be
    // this very Tenant's change, which the cache may not have applied yet.
    let spec = match tenant_api(ctx.client.clone()).get_opt(&tenant).await {
        Ok(Some(obj)) => match parse_tenant(&obj) {
            Ok(t) => Some(t.spec),
            // Invalid: the last valid spec stays in force (the status says why).
            Err(_) => ctx
                .tenancy
                .snapshot()
                .tenant_entry(&tenant)
                .map(|e| TenantSpec::clone(&e.spec)),
        },
        Ok(None) => ctx.tenancy.file_tenant(&tenant),
        Err(source) => return Err(ReconcileError::ReadTenant { tenant, source }),
    };
    let mut one = Inventory::default();
    if let Some(mut spec) = spec {
        spec.owners = honoured(&ctx.client, &tenant, spec.owners).await?;
        one.add_tenant(&Tenant::new(&tenant, spec));
    }
    let t = one.tenant(&tenant, &settings);
    let mut b = baseline(&name, &t, &settings)?;
    match shared_quota::shared_hard(&t, &settings) {
        Some(hard) => {
            let share = shared_quota::share_of(ctx, &tenant, &name, hard, &settings).await?;
            if let Some(spec) = b.resource_quota.spec.as_mut() {
                spec.hard = Some(share);
            }
        }
        None => {
            ctx.budgets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&tenant);
        }
    }
    // The isolation NetworkPolicy first: it is what the gate waits for.
    apply(&ctx.client, &name, &b.network_policy).await?;
    apply(&ctx.client, &name, &b.resource_quota).await?;
    apply(&ctx.client, &name, &b.limit_range).await?;
    apply(&ctx.client, &name, &b.service_account).await?;
    apply(&ctx.client, &name, &b.role_binding).await?;
    mark_onboarded(&ctx.client, ns, &tenant).await?;
    ctx.metrics.reconciles.with_label_values(&["success"]).inc();
    ctx.record(&name, Ok(()));
    ctx.announcer.onboarded(&tenant, ns).await;
    tracing::debug!(namespace = %name, tenant = %tenant, "baseline applied");
    Ok(Action::requeue(ctx.timing.resync))
}

fn error_policy(ns: Arc<Namespace>, err: &ReconcileError, ctx: Arc<Ctx>) -> Action {
    let name = ns.name_any();
    ctx.metrics.reconciles.with_label_values(&["error"]).inc();
    let failures = ctx.record(&name, Err(err.to_string()));
    let delay = ctx
        .timing
        .retry_base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(ctx.timing.retry_max);
    tracing::warn!(namespace = %name, error = %err, failures, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// A stream that yields once per change of `rx` (not for its current value).
fn changes(mut rx: watch::Receiver<u64>) -> impl futures::Stream<Item = ()> + Send {
    rx.mark_unchanged();
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok().map(|_| ((), rx))
    })
}

fn hash_of(v: &serde_json::Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// Maps an event of a managed object to its namespace, except when only its
/// status moved: the quota controller rewrites a ResourceQuota's usage on
/// every pod change, which is not drift. A delete arrives with the content
/// and status last seen, so it still triggers (as does anything else).
fn drift_to_namespace<K: Resource + Serialize>(
) -> impl Fn(K) -> Option<ObjectRef<Namespace>> + Send + Sync + 'static {
    let seen: Mutex<HashMap<String, (u64, u64)>> = Mutex::new(HashMap::new());
    move |obj: K| {
        let ns = obj.meta().namespace.clone()?;
        let key = format!("{ns}/{}", obj.meta().name.as_deref().unwrap_or(""));
        let Ok(mut v) = serde_json::to_value(&obj) else {
            return Some(ObjectRef::new(&ns));
        };
        let status = v
            .as_object_mut()
            .and_then(|m| m.remove("status"))
            .unwrap_or_default();
        if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        let now = (hash_of(&v), hash_of(&status));
        let before = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, now);
        match before {
            Some((content, status)) if content == now.0 && status != now.1 => None,
            _ => Some(ObjectRef::new(&ns)),
        }
    }
}

/// Runs the controller and the status writer until `done` resolves.
async fn run_term(
    ctx: Arc<Ctx>,
    done: oneshot::Receiver<()>,
    status_done: oneshot::Receiver<()>,
    reconcile_all: watch::Receiver<u64>,
) {
    let c = ctx.client.clone();
    let managed =
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    let controller = Controller::new(
        Api::<Namespace>::all(c.clone()),
        watcher::Config::default().labels(TENANT_LABEL),
    )
    .with_config(ControllerConfig::default().concurrency(ctx.timing.concurrency));
    let store = controller.store();
    let owners_store = controller.store();
    let quota_store = controller.store();
    let tenancy = ctx.tenancy.clone();
    let owners_ctx = ctx.clone();
    // Every change of the counters reconciles every namespace: a policy
    // reload (Settings defaults), or a Tenant deleted (its namespaces fall
    // back to the defaults; the watch below cannot tell a delete apart).
    let bulk = futures::stream::select(
        changes(reconcile_all),
        changes(ctx.tenancy.tenants_deleted()),
    );
    // Spec changes bump the generation, status writes do not: without this
    // filter every status update would reconcile all the tenant's namespaces.
    let generations: Mutex<HashMap<String, i64>> = Mutex::new(HashMap::new());
    let controller = controller
        .watches_with(
            tenant_api(c.clone()),
            ApiResource::erase::<Tenant>(&()),
            watcher::Config::default(),
            move |t: DynamicObject| {
                let name = t.name_any();
                let generation = t.metadata.generation.unwrap_or(0);
                let seen = generations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), generation);
                if seen == Some(generation) {
                    return Vec::new();
                }
                store
                    .state()
                    .into_iter()
                    .filter(|ns| tenant_label::in_map(ns.labels()) == Some(name.as_str()))
                    .map(|ns| ObjectRef::from_obj(&*ns))
                    .collect::<Vec<_>>()
            },
        )
        // A namespace that is home to some tenant's ServiceAccount owner
        // changes (labelled, relabelled, deleted): that tenant's namespaces
        // get their owners' RoleBinding again.
        .watches(
            Api::<Namespace>::all(c.clone()),
            watcher::Config::default(),
            move |ns: Namespace| {
                let home = ns.name_any();
                let inv = tenancy.snapshot();
                let tenants: Vec<&str> = inv
                    .tenant_names()
                    .filter(|t| {
                        inv.tenant_entry(t).is_some_and(|e| {
                            e.spec.owners.iter().any(|o| {
                                o.kind == OwnerKind::ServiceAccount
                                    && o.namespace.as_deref() == Some(home.as_str())
                            })
                        })
                    })
                    .collect();
                let mut out = shared_quota::namespace_triggers(&owners_ctx, &owners_store, &ns);
                if tenants.is_empty() {
                    return out;
                }
                out.extend(
                    owners_store
                        .state()
                        .into_iter()
                        .filter(|n| {
                            tenant_label::in_map(n.labels()).is_some_and(|t| tenants.contains(&t))
                        })
                        .map(|n| ObjectRef::from_obj(&*n)),
                );
                out
            },
        )
        .watches(
            Api::<NetworkPolicy>::all(c.clone()),
            managed.clone(),
            drift_to_namespace(),
        )
        .watches(
            Api::<ResourceQuota>::all(c.clone()),
            managed.clone(),
            shared_quota::quota_triggers(ctx.clone(), quota_store),
        )
        .watches(
            Api::<LimitRange>::all(c.clone()),
            managed.clone(),
            drift_to_namespace(),
        )
        .watches(
            Api::<ServiceAccount>::all(c.clone()),
            managed.clone(),
            drift_to_namespace(),
        )
        .watches(Api::<RoleBinding>::all(c), managed, drift_to_namespace())
        .reconcile_all_on(bulk)
        .graceful_shutdown_on(async move {
            let _ = done.await;
        });
    let run = controller
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|r| async move {
            match r {
                Ok(_) => {}
                // A watch of the controller failed (RBAC, apiserver away):
                // it is retried with backoff; say so where operators look.
                Err(ControllerError::QueueError(e)) => {
                    tracing::warn!(error = %e, "a controller watch failed; retrying with backoff")
                }
                // Reconcile failures are logged by error_policy; a namespace
                // gone from the watch (label removed) is expected.
                Err(e) => tracing::debug!(error = %e, "controller event"),
            }
        });
    tokio::join!(run, status_writer(ctx, status_done));
}

/// While this replica leads (`leading` is true), runs the controller; stops
/// it when leadership is lost or `stop` turns true. `idle` is true whenever
/// no controller runs, so the Lease is released only after the last
/// reconcile (no overlap with the next leader on a graceful handover).
pub(crate) async fn run_when_leading(
    ctx: Arc<Ctx>,
    mut leading: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    reconcile_all: watch::Receiver<u64>,
    idle: watch::Sender<bool>,
) {
    loop {
        tokio::select! {
            r = leading.wait_for(|l| *l) => if r.is_err() { return },
            _ = super::stopped(&mut stop) => return,
        }
        tracing::info!("leading: the onboarding controller starts");
        idle.send_replace(false);
        ctx.metrics.leader.set(1);
        let (end_tx, end_rx) = oneshot::channel();
        let (status_tx, status_rx) = oneshot::channel();
        let term = tokio::spawn(run_term(
            ctx.clone(),
            end_rx,
            status_rx,
            reconcile_all.clone(),
        ));
        let stopping = tokio::select! {
            _ = leading.wait_for(|l| !*l) => false,
            _ = super::stopped(&mut stop) => true,
        };
        let _ = end_tx.send(());
        let _ = status_tx.send(());
        let _ = term.await;
        ctx.book.lock().unwrap_or_else(|e| e.into_inner()).clear();
        ctx.announcer.clear();
        ctx.metrics.leader.set(0);
        ctx.metrics.reconcile_failing.set(0);
        // Only the leader reports tenants; a follower's figures would go stale.
        ctx.budgets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        ctx.metrics.tenant_namespaces.reset();
        ctx.metrics.tenant_quota_hard.reset();
        ctx.metrics.tenant_quota_used.reset();
        idle.send_replace(true);
        tracing::info!("not leading: the onboarding controller stopped");
        if stopping {
            return;
        }
    }
}
