//! The onboarding controller's status writer: every Tenant object's
//! `status` (Ready condition, namespaces, last error) computed by
//! [`super::super::status`] from the cache, the reconcile book and the
//! owners the tenancy honours, and written with a merge patch when it
//! changed. The per-tenant metrics (namespaces; budget and use with
//! `quota.scope: Tenant`) are set from the same figures in the same pass.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::Api;
use tokio::sync::oneshot;

use super::super::status::{tenant_status, StatusInput};
use super::{tenant_api, Ctx};
use crate::policy::TenantStatus;
use crate::tenancy::TenancySource;

/// Keeps Tenant statuses current: a pass after every change (at most one
/// per `status_interval`), and one per minute regardless.
pub(super) async fn status_writer(ctx: Arc<Ctx>, mut done: oneshot::Receiver<()>) {
    let api = tenant_api(ctx.client.clone());
    let mut gauged = Gauged::default();
    loop {
        write_statuses(&ctx, &api, &mut gauged).await;
        tokio::select! {
            _ = tokio::time::sleep(ctx.timing.status_interval) => {}
            _ = &mut done => return,
        }
        tokio::select! {
            _ = ctx.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = &mut done => return,
        }
    }
}

/// The label sets the per-tenant gauges carry, so that a tenant (or a
/// resource) gone from one pass is removed rather than left stale.
#[derive(Default)]
struct Gauged {
    tenants: HashSet<String>,
    resources: HashSet<(String, String)>,
}

async fn write_statuses(ctx: &Ctx, api: &Api<DynamicObject>, gauged: &mut Gauged) {
    let inv = ctx.tenancy.snapshot();
    let mut by_tenant: HashMap<&str, Vec<String>> = HashMap::new();
    for (ns, t) in inv.namespaces() {
        if let Some(t) = t {
            by_tenant.entry(t).or_default().push(ns.to_string());
        }
    }
    let results: HashMap<String, Result<(), String>> = ctx
        .book
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(n, r)| (n.clone(), r.result.clone()))
        .collect();
    let budgets = ctx
        .budgets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut now_gauged = Gauged::default();
    let m = &ctx.metrics;
    for (name, record) in ctx.tenancy.cluster_tenants() {
        let mut namespaces = by_tenant.remove(name.as_str()).unwrap_or_default();
        namespaces.sort();
        let owner_problems = inv.owner_problems(&name);
        let mut desired = tenant_status(
            StatusInput {
                invalid: record.error.as_deref(),
                last_valid_in_force: record.spec.is_some(),
                owner_problems: &owner_problems,
                namespaces: &namespaces,
                results: &results,
            },
            record.status.as_deref(),
            &now,
        );
        let figures = budgets.get(&name);
        desired.quota = figures.map(|f| f.status());
        m.tenant_namespaces
            .with_label_values(&[name.as_str()])
            .set(namespaces.len() as i64);
        now_gauged.tenants.insert(name.clone());
        if let Some(f) = figures {
            for (resource, hard) in &f.hard {
                let labels = [name.as_str(), resource.as_str()];
                m.tenant_quota_hard
                    .with_label_values(&labels)
                    .set(hard.to_f64_lossy());
                let used = f.used.get(resource).map_or(0.0, |u| u.to_f64_lossy());
                m.tenant_quota_used.with_label_values(&labels).set(used);
                now_gauged
                    .resources
                    .insert((name.clone(), resource.clone()));
            }
        }
        if let Some(ready) = desired.conditions.first() {
            ctx.announcer
                .tenant_condition(&name, &ready.reason, &ready.message)
                .await;
        }
        if record.status.as_deref() == Some(&desired) {
            continue;
        }
        if let Err(e) = patch_status(api, &name, &desired).await {
            tracing::warn!(tenant = %name, error = %e, "could not update the Tenant's status");
        }
    }
    for gone in gauged.tenants.difference(&now_gauged.tenants) {
        let _ = m.tenant_namespaces.remove_label_values(&[gone.as_str()]);
    }
    for (t, r) in gauged.resources.difference(&now_gauged.resources) {
        let _ = m
            .tenant_quota_hard
            .remove_label_values(&[t.as_str(), r.as_str()]);
        let _ = m
            .tenant_quota_used
            .remove_label_values(&[t.as_str(), r.as_str()]);
    }
    *gauged = now_gauged;
}

async fn patch_status(
    api: &Api<DynamicObject>,
    name: &str,
    status: &TenantStatus,
) -> Result<(), kube::Error> {
    let mut value = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    if let Some(obj) = value.as_object_mut() {
        // A merge patch removes a field only when told to with null.
        obj.entry("lastError").or_insert(serde_json::Value::Null);
        obj.entry("quota").or_insert(serde_json::Value::Null);
    }
    let patch = serde_json::json!({ "status": value });
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
