//! `allowed-classes` (validating): the shared classes a tenant's objects name
//! must be ones it was granted in `allowed` (the Tenant's list, else the
//! Settings'; declared nowhere: anything; an empty list: nothing):
//!
//! | object | field | list |
//! | --- | --- | --- |
//! | Ingress (`networking.k8s.io`) | `spec.ingressClassName`, annotation `kubernetes.io/ingress.class` | `ingressClasses` |
//! | PersistentVolumeClaim | `spec.storageClassName`, annotation `volume.beta.kubernetes.io/storage-class` | `storageClasses` |
//! | StatefulSet | the same in each of `spec.volumeClaimTemplates[]` | `storageClasses` |
//! | Pods and pod templates | the same in each generic ephemeral volume's `volumes[].ephemeral.volumeClaimTemplate` | `storageClasses` |
//! | Pods and pod templates | `priorityClassName` | `priorityClasses` |
//! | Pods and pod templates | `runtimeClassName` | `runtimeClasses` |
//! | Gateway (`gateway.networking.k8s.io`) | `spec.gatewayClassName` | `gatewayClasses` |
//!
//! Whatever the lists say, priority classes under Kubernetes' reserved
//! `system-` prefix (`system-node-critical`, `system-cluster-critical`) are
//! refused in tenant namespaces: a pod with them preempts every other
//! tenant's pods and is the last the kubelet evicts.
//!
//! Class names compare exactly (Kubernetes object names are lowercase; the
//! reserved prefix is matched in any case). A field that is unset, null or
//! `""` names no class and is not judged: the pod gets the default priority
//! and runtime, and the apiserver refuses an empty Ingress or Gateway class.
//! Storage is the exception, as DESIGN sets it:
//! - a claim without `storageClassName` gets the cluster's default class
//!   (the apiserver fills it in before webhooks run, so in a cluster this
//!   case is rare); offline it is judged as Settings `defaultStorageClass`
//!   when that names one, and not judged otherwise;
//! - an explicit `storageClassName: ""` asks for no class at all: static
//!   binding to a pre-provisioned PersistentVolume without one. That is
//!   storage outside every class, so a tenant with a `storageClasses` list
//!   may not ask for it (with no list, anything goes).
//!
//! - the beta annotation `volume.beta.kubernetes.io/storage-class` still
//!   names a claim's class: Kubernetes' PV controller and the external
//!   provisioners read it before `storageClassName`, and the apiserver sets
//!   no default class when it is there. So it is judged as the field is
//!   (`""` too), at its own path, beside the field; a claim with only the
//!   annotation is not also judged as the default class.
//!
//! An Ingress without a class (neither field) is not judged either: it is
//! served by the default IngressClass, which the apiserver fills in when
//! one is marked default.
//!
//! Operations: CREATE and UPDATE (the registry's default): a class can be
//! changed on an Ingress, a Gateway or a workload's template. As in
//! `require-limits`, an UPDATE of a Pod already being deleted that leaves
//! its spec alone is admitted, so a pod from before a list is never stuck
//! in Terminating.
//!
//! References: <https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class>,
//! <https://kubernetes.io/docs/concepts/storage/persistent-volumes/#class-1>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/>,
//! <https://kubernetes.io/docs/concepts/containers/runtime-class/>,
//! <https://gateway-api.sigs.k8s.io/api-types/gateway/>.

use serde::Deserialize;
use serde_json::Value;

use super::require_limits::terminating_pod_untouched;
use super::service_types::{grant_hint, listed};
use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::model::AllowList;
use crate::podspec;
use crate::tenancy::TenantRef;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// Pods and workloads (priority and runtime classes, ephemeral volumes'
/// claim templates; StatefulSet claim templates), Ingresses,
/// PersistentVolumeClaims and Gateways.
const JUDGED: [GroupKind; 12] = podspec::pod_kinds_and(&[
    GroupKind::new("networking.k8s.io", "Ingress"),
    GroupKind::new("", "PersistentVolumeClaim"),
    GroupKind::new("gateway.networking.k8s.io", "Gateway"),
]);

/// `allowed-classes`.
pub struct AllowedClasses;

impl Rule for AllowedClasses {
    const ID: &'static str = "allowed-classes";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Classes are named on CREATE and can be changed by an UPDATE (see the
    /// module comment for the one UPDATE left alone); a DELETE carries no
    /// object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    const KINDS: Kinds = Kinds::Only(&JUDGED);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// The legacy annotation that named an Ingress's class before `ingressClassName`.
pub const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The beta annotation that names a claim's storage class; Kubernetes' PV
/// controller reads it before `spec.storageClassName`.
pub const STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The priority class prefix Kubernetes reserves for its own critical pods.
const RESERVED_PRIORITY_PREFIX: &str = "system-";

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(tenant), Some(obj)) = (ctx.tenant, ctx.object) else {
        return Vec::new();
    };
    let judge = Judge { ctx, tenant };
    let mut out = Vec::new();
    match (ctx.group, ctx.kind) {
        ("networking.k8s.io", "Ingress") => {
            let class = crate::podspec::pointer(obj, "/spec/ingressClassName");
            judge.class(
                AllowList::IngressClasses,
                class,
                "spec.ingressClassName",
                &mut out,
            );
            let annotation = obj
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION));
            let path = format!("metadata.annotations.{INGRESS_CLASS_ANNOTATION}");
            judge.class(AllowList::IngressClasses, annotation, &path, &mut out);
        }
        ("gateway.networking.k8s.io", "Gateway") => {
            let class = crate::podspec::pointer(obj, "/spec/gatewayClassName");
            judge.class(
                AllowList::GatewayClasses,
                class,
                "spec.gatewayClassName",
                &mut out,
            );
        }
        ("", "PersistentVolumeClaim") => {
            judge.claim(obj, "", &mut out);
        }
        _ => {}
    }
    if ctx.group == "apps" && ctx.kind == "StatefulSet" {
        let templates = obj
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array);
        for (i, t) in templates.into_iter().flatten().enumerate() {
            let at = format!("spec.volumeClaimTemplates[{i}].");
            judge.claim(t, &at, &mut out);
        }
    }
    if let Some(pod) = ctx.pod() {
        if !terminating_pod_untouched(ctx, pod.at.spec_ptr) {
            let at = pod.at.spec_path;
            // An unset class is fine at every level: no path to write.
            let priority = pod.spec.get("priorityClassName");
            if !matches!(named(priority), Named::Nothing) {
                let path = format!("{at}.priorityClassName");
                if !judge.reserved_priority(priority, &path, &mut out) {
                    judge.class(AllowList::PriorityClasses, priority, &path, &mut out);
                }
            }
            let runtime = pod.spec.get("runtimeClassName");
            if !matches!(named(runtime), Named::Nothing) {
                let path = format!("{at}.runtimeClassName");
                judge.class(AllowList::RuntimeClasses, runtime, &path, &mut out);
            }
            // Generic ephemeral volumes: the claim the controller makes from
            // each template, judged now rather than left Pending later.
            let volumes = pod.spec.get("volumes").and_then(Value::as_array);
            for (i, v) in volumes.into_iter().flatten().enumerate() {
                let template = v
                    .get("ephemeral")
                    .and_then(|e| e.get("volumeClaimTemplate"));
                if let Some(t) = template.filter(|t| !t.is_null()) {
                    let at = format!("{at}.volumes[{i}].ephemeral.volumeClaimTemplate.");
                    judge.claim(t, &at, &mut out);
                }
            }
        }
    }
    out
}

/// What a class field holds.
enum Named<'v> {
    /// Unset, null or `""`.
    Nothing,
    Class(&'v str),
    NotAString(&'v Value),
}

fn named(v: Option<&Value>) -> Named<'_> {
    match v {
        None | Some(Value::Null) => Named::Nothing,
        Some(Value::String(s)) if s.is_empty() => Named::Nothing,
        Some(Value::String(s)) => Named::Class(s),
        Some(v) => Named::NotAString(v),
    }
}

/// The noun of a list in messages.
fn noun(which: AllowList) -> &'static str {
    match which {
        AllowList::IngressClasses => "ingress class",
        AllowList::StorageClasses => "storage class",
        AllowList::PriorityClasses => "priority class",
        AllowList::RuntimeClasses => "runtime class",
        AllowList::GatewayClasses => "gateway class",
        AllowList::Registries => "registry",
        AllowList::ServiceTypes => "Service type",
    }
}

struct Judge<'c, 'a> {
    ctx: &'c Ctx<'a>,
    tenant: TenantRef<'a>,
}

impl Judge<'_, '_> {
    /// A class name at `path` against the tenant's list for it.
    fn class(&self, which: AllowList, v: Option<&Value>, path: &str, out: &mut Vec<Violation>) {
        match named(v) {
            Named::Nothing => {}
            Named::NotAString(v) => out.push(not_a_string(which, v, path)),
            Named::Class(name) => self.name(which, name, path, "", out),
        }
    }

    /// `name` against the list; `why` explains where the name came from.
    fn name(&self, which: AllowList, name: &str, path: &str, why: &str, out: &mut Vec<Violation>) {
        let Some(allowed) = self.tenant.allowed(which) else {
            return;
        };
        if allowed.iter().any(|a| a == name) {
            return;
        }
        let what = noun(which);
        out.push(Violation::new(
            path,
            format!(
                "{path}: {what} {name:?}{why} is not one tenant {} may use (allowed: {}); use one of those, or ask a platform admin to grant {name:?} in {}",
                self.tenant.name,
                listed(&allowed),
                grant_hint(&self.tenant, self.ctx.settings, which),
            ),
        ));
    }

    /// The storage class of a claim (a PersistentVolumeClaim, or a claim
    /// template whose paths start with `at`): its beta annotation and its
    /// `spec.storageClassName`.
    fn claim(&self, claim: &Value, at: &str, out: &mut Vec<Violation>) {
        let annotation = claim
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(STORAGE_CLASS_ANNOTATION));
        let annotated = annotation.is_some_and(|v| !v.is_null());
        if annotated {
            let path = format!("{at}metadata.annotations.{STORAGE_CLASS_ANNOTATION}");
            self.storage(annotation, &path, false, out);
        }
        let field = claim.get("spec").and_then(|s| s.get("storageClassName"));
        self.storage(
            field,
            &format!("{at}spec.storageClassName"),
            !annotated,
            out,
        );
    }

    /// A claim's storage class `v` at `path`, with DESIGN's default and
    /// static-binding semantics (see the module docs); `defaulted`: an
    /// unset class gets the cluster's default.
    fn storage(&self, v: Option<&Value>, path: &str, defaulted: bool, out: &mut Vec<Violation>) {
        let path = path.to_string();
        let which = AllowList::StorageClasses;
        match v {
            None | Some(Value::Null) => {
                let default = self.ctx.settings.default_storage_class.as_str();
                if defaulted && !default.is_empty() {
                    let why = " (no storageClassName, so the cluster's default class, Settings defaultStorageClass)";
                    self.name(which, default, &path, why, out);
                }
            }
            Some(Value::String(s)) if s.is_empty() => {
                let Some(allowed) = self.tenant.allowed(which) else {
                    return;
                };
                out.push(Violation::new(
                    path.clone(),
                    format!(
                        "{path}: \"\" asks for no storage class (static binding to a pre-provisioned PersistentVolume without one), and tenant {} may use only its storage classes (allowed: {}); name one of those, or leave storageClassName out for the cluster's default",
                        self.tenant.name,
                        listed(&allowed),
                    ),
                ));
            }
            Some(Value::String(s)) => self.name(which, s, &path, "", out),
            Some(v) => out.push(not_a_string(which, v, &path)),
        }
    }

    /// Refuses the reserved `system-` priority classes; true when it did.
    fn reserved_priority(&self, v: Option<&Value>, path: &str, out: &mut Vec<Violation>) -> bool {
        let Named::Class(name) = named(v) else {
            return false;
        };
        let reserved = name
            .get(..RESERVED_PRIORITY_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PRIORITY_PREFIX));
        if reserved {
            out.push(Violation::new(
                path,
                format!(
                    "{path}: priority class {name:?} is reserved for the cluster's own critical pods (system-node-critical, system-cluster-critical preempt every tenant's pods and are evicted last), so no tenant may use it; use one of tenant {}'s priority classes or none",
                    self.tenant.name
                ),
            ));
        }
        reserved
    }
}

fn not_a_string(which: AllowList, v: &Value, path: &str) -> Violation {
    Violation::new(
        path,
        format!(
            "{path}: {v} is not a {} name, so it cannot be judged; write the name as a string",
            noun(which)
        ),
    )
}

#[cfg(test)]
mod tests;
