//! `quota.scope: Tenant` in the onboarding controller: before the baseline
//! is applied, the namespace's `tenantguard-quota` `hard` becomes its share
//! of the tenant's budget ([`crate::cluster::budget`]), read from every
//! namespace of the tenant as the apiserver has them right now (a deleted
//! namespace no longer counts: its share returns to the others).
//!
//! Triggers, besides the controller's own: a change of any of the tenant's
//! quotas' `status.used` (written by the ResourceQuota controller on every
//! pod change) and any event of one of its Namespaces (created, deleted)
//! reconcile all of the tenant's namespaces, but only for tenants whose
//! scope is `Tenant`: with `Namespace` a status change is not drift.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use kube::api::ListParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};

use super::{drift_to_namespace, hash_of, Ctx, ReconcileError};
use crate::cluster::budget::Budget;
use crate::cluster::onboard::RESOURCE_QUOTA;
use crate::policy::{QuotaScope, Settings, TenantQuotaStatus};
use crate::quantity::Quantity;
use crate::tenancy::{TenancySource, TenantRef};
use crate::{tenant_label, MANAGED_BY_LABEL, MANAGED_BY_VALUE, TENANT_LABEL};

/// A tenant-wide budget as last computed: `hard` and the sum of `used`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Figures {
    pub(crate) hard: BTreeMap<String, Quantity>,
    pub(crate) used: BTreeMap<String, Quantity>,
}

impl Figures {
    pub(crate) fn status(&self) -> TenantQuotaStatus {
        let text = |m: &BTreeMap<String, Quantity>| {
            m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
        };
        TenantQuotaStatus {
            hard: text(&self.hard),
            used: text(&self.used),
        }
    }
}

/// Tenant -> its figures, for the status writer and the metrics.
pub(crate) type Budgets = Mutex<HashMap<String, Figures>>;

/// The tenant's `quota.hard` when it is one budget for all its namespaces.
pub(super) fn shared_hard<'a>(
    tenant: &TenantRef<'a>,
    settings: &'a Settings,
) -> Option<&'a BTreeMap<String, String>> {
    if tenant.quota_scope() != QuotaScope::Tenant {
        return None;
    }
    tenant
        .spec()
        .and_then(|s| s.quota.as_ref())
        .or(settings.tenant_defaults.quota.as_ref())
        .map(|q| &q.hard)
        .filter(|h| !h.is_empty())
}

/// `namespace`'s share of `tenant`'s budget `hard`; records the tenant's figures.
pub(super) async fn share_of(
    ctx: &Ctx,
    tenant: &str,
    namespace: &str,
    hard: &BTreeMap<String, String>,
    settings: &Settings,
) -> Result<BTreeMap<String, KubeQuantity>, ReconcileError> {
    let read = |source| ReconcileError::ReadQuotas {
        tenant: tenant.to_string(),
        source,
    };
    let by_tenant = ListParams::default().labels(&format!("{TENANT_LABEL}={tenant}"));
    let mut namespaces: BTreeSet<String> = Api::<Namespace>::all(ctx.client.clone())
        .list_metadata(&by_tenant)
        .await
        .map_err(read)?
        .items
        .iter()
        .map(|m| m.name_any())
        .filter(|n| !settings.is_exempt(n, &ctx.own_namespace))
        .collect();
    namespaces.insert(namespace.to_string());
    let managed = ListParams::default().labels(&format!(
        "{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{TENANT_LABEL}={tenant}"
    ));
    let quotas = Api::<ResourceQuota>::all(ctx.client.clone())
        .list(&managed)
        .await
        .map_err(read)?;
    let mut used: BTreeMap<String, BTreeMap<String, String>> = namespaces
        .iter()
        .map(|n| (n.clone(), BTreeMap::new()))
        .collect();
    for q in quotas.items {
        let ns = q.namespace().unwrap_or_default();
        if q.name_any() != RESOURCE_QUOTA || !namespaces.contains(&ns) {
            continue;
        }
        let own = q
            .status
            .and_then(|s| s.used)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        used.insert(ns, own);
    }
    let budget = Budget::new(hard, &used)?;
    let share = budget.share(namespace)?;
    ctx.budgets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            tenant.to_string(),
            Figures {
                hard: budget.hard,
                used: budget.used,
            },
        );
    Ok(share
        .into_iter()
        .map(|(k, v)| (k, KubeQuantity(v.to_string())))
        .collect())
}

/// Whether `tenant` (as the cache has it) shares one budget.
fn shares_budget(ctx: &Ctx, tenant: &str) -> bool {
    let settings = (ctx.settings)();
    let inv = ctx.tenancy.snapshot();
    let t = inv.tenant(tenant, &settings);
    shared_hard(&t, &settings).is_some()
}

/// Every namespace of `tenant` the controller watches.
fn namespaces_of(store: &Store<Namespace>, tenant: &str) -> Vec<ObjectRef<Namespace>> {
    store
        .state()
        .into_iter()
        .filter(|ns| tenant_label::in_map(ns.labels()) == Some(tenant))
        .map(|ns| ObjectRef::from_obj(&*ns))
        .collect()
}

/// What a ResourceQuota event reconciles: its own namespace on drift (as
/// for every managed object) and, for a tenant sharing one budget, all of
/// the tenant's namespaces when its `status.used` moved.
pub(super) fn quota_triggers(
    ctx: Arc<Ctx>,
    store: Store<Namespace>,
) -> impl Fn(ResourceQuota) -> Vec<ObjectRef<Namespace>> + Send + Sync + 'static {
    let drift = drift_to_namespace::<ResourceQuota>();
    let seen: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    move |q: ResourceQuota| {
        let tenant = tenant_label::in_map(q.labels()).map(str::to_string);
        let key = format!("{}/{}", q.namespace().unwrap_or_default(), q.name_any());
        let used = hash_of(&serde_json::json!(q
            .status
            .as_ref()
            .and_then(|s| s.used.as_ref())));
        let mut out: Vec<_> = drift(q).into_iter().collect();
        let Some(tenant) = tenant.filter(|t| shares_budget(&ctx, t)) else {
            return out;
        };
        let before = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, used);
        if before != Some(used) {
            out.extend(namespaces_of(&store, &tenant));
        }
        out
    }
}

/// A Namespace event of a tenant sharing one budget (created, relabelled,
/// deleted) moves every share: all of the tenant's namespaces.
pub(super) fn namespace_triggers(
    ctx: &Ctx,
    store: &Store<Namespace>,
    ns: &Namespace,
) -> Vec<ObjectRef<Namespace>> {
    match tenant_label::in_map(ns.labels()) {
        Some(t) if shares_budget(ctx, t) => namespaces_of(store, t),
        _ => Vec::new(),
    }
}
