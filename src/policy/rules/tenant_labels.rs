//! `tenant-labels` (mutating): Pods, Services and workloads (and their pod
//! templates) in tenant namespaces get `tenantguard.io/tenant=<tenant>`
//! where missing. An empty (or null) value is a missing one and is
//! replaced (DESIGN, "Labels"). A different value is never overwritten:
//! the validating rule `cross-tenant-selectors` rejects it, so the user
//! sees why; a value that is not a string is left for it too.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Draft, Effect, GroupKind, Kinds, Operation, Rule, Scope, Step};
use crate::podspec;
use crate::tenant_label::{self, TenantLabel};
use crate::TENANT_LABEL;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// Services besides pods and workloads.
const JUDGED: [GroupKind; 10] = podspec::pod_kinds_and(&[GroupKind::new("", "Service")]);

/// `tenant-labels`.
pub struct TenantLabels;

impl Rule for TenantLabels {
    const ID: &'static str = "tenant-labels";
    const SCOPE: Scope = Scope::TenantObjects;
    /// The labels go on when an object is written; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(&JUDGED);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Mutate(mutate);
}

fn in_scope(group: &str, kind: &str) -> bool {
    (group.is_empty() && kind == "Service") || podspec::locate(group, kind).is_some()
}

/// Adds the label to the labels at `meta_ptr` (made as needed) when absent.
fn add_label(draft: &mut Draft<'_>, meta_ptr: &str, tenant: &str) {
    let absent = {
        let current = draft
            .view()
            .pointer(meta_ptr)
            .get("labels")
            .get(TENANT_LABEL)
            .value();
        tenant_label::from_value(current.as_deref()) == TenantLabel::Absent
    };
    if !absent {
        return;
    }
    let path = Step::keys(meta_ptr).chain([Step::Key("labels")]);
    if let Some(labels) = draft.map_at(path) {
        labels.insert(TENANT_LABEL.to_string(), Value::String(tenant.to_string()));
    }
}

pub fn mutate(ctx: &Ctx<'_>, draft: &mut Draft<'_>, _params: &Params) {
    let Some(tenant) = ctx.tenant_name() else {
        return;
    };
    if !in_scope(ctx.group, ctx.kind) {
        return;
    }
    add_label(draft, "/metadata", tenant);
    if let Some(at) = podspec::locate(ctx.group, ctx.kind) {
        // A template label added on UPDATE to an untouched template would
        // roll the workload out (or be refused: Job templates are immutable).
        if at.meta_ptr != "/metadata" && ctx.changed(&[at.meta_ptr, at.spec_ptr]) {
            add_label(draft, at.meta_ptr, tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    fn run(ns: &str, obj: Value) -> Value {
        let w = World::new();
        let mut draft = Draft::new(&obj);
        mutate(&w.ctx(ns, &obj), &mut draft, &Params::default());
        draft.to_value()
    }

    #[test]
    fn cases() {
        let label =
            |v: &Value, ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(str::to_string);
        let t = "/metadata/labels/tenantguard.io~1tenant";
        let tt = "/spec/template/metadata/labels/tenantguard.io~1tenant";
        // pod without labels gets one
        let pod = run(
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
        );
        assert_eq!(label(&pod, t).as_deref(), Some("acme"));
        // a null labels map is replaced
        let pod = run(
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": null}}),
        );
        assert_eq!(label(&pod, t).as_deref(), Some("acme"));
        // an empty or null value is a missing one: filled in
        for missing in [json!(""), Value::Null] {
            let pod = run(
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"tenantguard.io/tenant": missing, "app": "x"}}}),
            );
            assert_eq!(label(&pod, t).as_deref(), Some("acme"), "{missing}");
            assert_eq!(pod["metadata"]["labels"]["app"], "x");
        }
        // a non-string value is left for validation to reject
        let pod = run(
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"tenantguard.io/tenant": 5}}}),
        );
        assert_eq!(pod["metadata"]["labels"]["tenantguard.io/tenant"], 5);
        // a different value is never overwritten
        let pod = run(
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"tenantguard.io/tenant": "globex"}}}),
        );
        assert_eq!(label(&pod, t).as_deref(), Some("globex"));
        // deployment: object and template
        let d = run(
            "acme-prod",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {}}}}),
        );
        assert_eq!(label(&d, t).as_deref(), Some("acme"));
        assert_eq!(label(&d, tt).as_deref(), Some("acme"));
        // cronjob: the pod template inside the job template
        let c = run(
            "acme-prod",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {}, "spec": {"jobTemplate": {"spec": {"template": {}}}}}),
        );
        assert_eq!(
            label(
                &c,
                "/spec/jobTemplate/spec/template/metadata/labels/tenantguard.io~1tenant"
            )
            .as_deref(),
            Some("acme")
        );
        // service
        let s = run(
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {}}),
        );
        assert_eq!(label(&s, t).as_deref(), Some("acme"));
        // out of scope kind
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(run("acme-prod", cm.clone()), cm);
        // platform namespace: no tenant, no change
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}});
        assert_eq!(run("monitoring", pod.clone()), pod);
        // malformed metadata is left alone
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": 5});
        assert_eq!(run("acme-prod", bad.clone()), bad);
    }

    #[test]
    fn update_of_an_untouched_template_only_labels_the_object() {
        let w = World::new();
        let old = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "spec": {"template": {"spec": {"containers": []}}}});
        let mut ctx = w.ctx("acme-prod", &old);
        ctx.operation = crate::policy::rules::Operation::Update;
        ctx.old_object = Some(&old);
        let mut draft = Draft::new(&old);
        mutate(&ctx, &mut draft, &Params::default());
        let out = draft.to_value();
        assert_eq!(out["metadata"]["labels"]["tenantguard.io/tenant"], "acme");
        assert!(out.pointer("/spec/template/metadata").is_none(), "{out}");
    }

    #[test]
    fn idempotent() {
        let once = run(
            "acme-prod",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": {"template": {}}}),
        );
        assert_eq!(run("acme-prod", once.clone()), once);
    }
}
