//! The onboarding controller's status writer: every Tenant object's
//! `status` (Ready condition, namespaces, last error) computed by
//! [`super::super::status`] from the cache, the reconcile book and the
//! owners the tenancy honours, and written with a merge patch when it
//! changed.

use std::collections::HashMap;
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
    loop {
        write_statuses(&ctx, &api).await;
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

async fn write_statuses(ctx: &Ctx, api: &Api<DynamicObject>) {
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
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (name, record) in ctx.tenancy.cluster_tenants() {
        let mut namespaces = by_tenant.remove(name.as_str()).unwrap_or_default();
        namespaces.sort();
        let owner_problems = inv.owner_problems(&name);
        let desired = tenant_status(
            StatusInput {
                invalid: record.error.as_deref(),
                last_valid_in_force: record.spec.is_some(),
                owner_problems: &owner_problems,
                namespaces: &namespaces,
                results: &results,
            },
            record.status.as_ref(),
            &now,
        );
        if record.status.as_ref() == Some(&desired) {
            continue;
        }
        if let Err(e) = patch_status(api, &name, &desired).await {
            tracing::warn!(tenant = %name, error = %e, "could not update the Tenant's status");
        }
    }
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
