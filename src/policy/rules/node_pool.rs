//! `node-pool` (mutating): Pods and pod templates of a tenant with dedicated
//! nodes (a Tenant `nodeSelector`) are steered onto them: each pair is added
//! to `spec.nodeSelector` where the key is missing, and a toleration
//! `{key, operator: Equal, value, effect: NoSchedule}` is added for the
//! matching taint unless an equivalent one is already there.
//!
//! A different value already set is never overwritten: the validating rule
//! `cross-tenant-selectors` rejects a pod aimed at another tenant's nodes,
//! so the user sees why. Applying twice changes nothing.
//!
//! Operations: CREATE, and UPDATE only when the update changes the pod spec
//! (see [`Ctx::changed`](super::Ctx::changed)): an edited template makes new pods that must land on
//! the same nodes, but an existing Pod's `nodeSelector` is immutable (adding
//! it would make the apiserver refuse the update) and a Deployment's template
//! changed on a mere scale would start a rollout nobody asked for.
//!
//! References:
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/>.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{Ctx, Draft, Effect, Kinds, Operation, Rule, Scope, Step};
use crate::podspec;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `node-pool`.
pub struct NodePool;

impl Rule for NodePool {
    const ID: &'static str = "node-pool";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Scheduling constraints go on when a pod is written; a DELETE carries no
    /// object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Mutate(mutate);
}

/// Whether toleration `t` already tolerates the NoSchedule taint `key=value`
/// ([`podspec::toleration_matches`], with effect NoSchedule or empty). A
/// keyless `Exists` toleration tolerates it too, so none is added beside it
/// (`cross-tenant-selectors` refuses such a toleration anyway).
fn tolerates(t: &Value, key: &str, value: &str) -> bool {
    podspec::toleration_matches(t, key, value)
        && matches!(
            t.get("effect").and_then(Value::as_str).unwrap_or(""),
            "" | "NoSchedule"
        )
}

pub fn mutate(ctx: &Ctx<'_>, draft: &mut Draft<'_>, _params: &Params) {
    let Some(pairs) = ctx.tenant.and_then(|t| t.node_selector()) else {
        return;
    };
    let Some(at) = podspec::locate(ctx.group, ctx.kind) else {
        return;
    };
    if !ctx.changed(&[at.spec_ptr]) {
        return;
    }
    // Decide on the pod spec as it stands, before writing anything.
    let (selector_missing, missing) = {
        let spec = draft.view().pointer(at.spec_ptr);
        // A pod without a spec is invalid anyway; do not make one up.
        if !spec.is_object() {
            return;
        }
        let selector = spec.get("nodeSelector").value();
        let selector_missing = |k: &str| match selector.as_deref() {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.get(k).is_none_or(Value::is_null),
            Some(_) => false,
        };
        let tolerations = spec.get("tolerations").value();
        let tolerated = |k: &str, v: &str| match tolerations.as_deref() {
            None | Some(Value::Null) => false,
            Some(Value::Array(ts)) => ts.iter().any(|t| tolerates(t, k, v)),
            // Not a list: leave it for the apiserver to reject.
            Some(_) => true,
        };
        let missing: Vec<(&String, &String)> =
            pairs.iter().filter(|(k, v)| !tolerated(k, v)).collect();
        (pairs.keys().any(|k| selector_missing(k)), missing)
    };
    if selector_missing {
        let path = Step::keys(at.spec_ptr).chain([Step::Key("nodeSelector")]);
        if let Some(selector) = draft.map_at(path) {
            for (k, v) in pairs {
                let entry = selector.entry(k.clone()).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = Value::String(v.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        return;
    }
    let path = Step::keys(at.spec_ptr).chain([Step::Key("tolerations")]);
    if let Some(tolerations) = draft.list_at(path) {
        for (k, v) in missing {
            tolerations
                .push(json!({"key": k, "operator": "Equal", "value": v, "effect": "NoSchedule"}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;

    const POOL: &str = "nodeSelector: {pool: acme, tier: gold}";

    fn run(w: &World, ns: &str, obj: &Value) -> Value {
        let mut draft = Draft::new(obj);
        mutate(&w.ctx(ns, obj), &mut draft, &Params::default());
        draft.to_value()
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    fn tol(k: &str, v: &str) -> Value {
        json!({"key": k, "operator": "Equal", "value": v, "effect": "NoSchedule"})
    }

    #[test]
    fn cases() {
        let w = World::new().with_tenant("acme", POOL);
        let both = json!({"pool": "acme", "tier": "gold"});
        let both_tols = json!([tol("pool", "acme"), tol("tier", "gold")]);
        // (name, spec in, expected nodeSelector, expected tolerations)
        let cases: Vec<(&str, Value, Value, Value)> = vec![
            (
                "bare pod gets selector and tolerations",
                json!({"containers": []}),
                both.clone(),
                both_tols.clone(),
            ),
            (
                "null selector and tolerations are replaced",
                json!({"nodeSelector": null, "tolerations": null}),
                both.clone(),
                both_tols.clone(),
            ),
            (
                "other selector keys and tolerations are kept",
                json!({"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "gpu", "operator": "Exists"}]}),
                json!({"disk": "ssd", "pool": "acme", "tier": "gold"}),
                json!([{"key": "gpu", "operator": "Exists"}, tol("pool", "acme"), tol("tier", "gold")]),
            ),
            (
                "a different value is never overwritten",
                json!({"nodeSelector": {"pool": "globex"}}),
                json!({"pool": "globex", "tier": "gold"}),
                both_tols.clone(),
            ),
            (
                "a null selector value counts as unset",
                json!({"nodeSelector": {"pool": null}}),
                both.clone(),
                both_tols.clone(),
            ),
            (
                "equivalent tolerations are not duplicated",
                json!({"tolerations": [
                    {"key": "pool", "value": "acme"},
                    {"key": "tier", "operator": "Exists", "effect": "NoSchedule"}]}),
                both.clone(),
                json!([{"key": "pool", "value": "acme"}, {"key": "tier", "operator": "Exists", "effect": "NoSchedule"}]),
            ),
            (
                "tolerations that do not match are not enough",
                json!({"tolerations": [
                    {"key": "pool", "operator": "Equal", "value": "globex", "effect": "NoSchedule"},
                    {"key": "tier", "operator": "Exists", "effect": "NoExecute"}]}),
                both.clone(),
                json!([
                    {"key": "pool", "operator": "Equal", "value": "globex", "effect": "NoSchedule"},
                    {"key": "tier", "operator": "Exists", "effect": "NoExecute"},
                    tol("pool", "acme"), tol("tier", "gold")]),
            ),
            (
                "selector not a map: left alone, tolerations added",
                json!({"nodeSelector": "pool=acme"}),
                json!("pool=acme"),
                both_tols.clone(),
            ),
            (
                "tolerations not a list: left alone",
                json!({"tolerations": {"key": "pool"}}),
                both.clone(),
                json!({"key": "pool"}),
            ),
        ];
        for (name, spec, selector, tolerations) in cases {
            let out = run(&w, "acme-prod", &pod(spec));
            assert_eq!(out["spec"]["nodeSelector"], selector, "{name}");
            assert_eq!(out["spec"]["tolerations"], tolerations, "{name}");
            assert_eq!(run(&w, "acme-prod", &out), out, "{name}: not idempotent");
        }
    }

    #[test]
    fn pod_templates() {
        let w = World::new().with_tenant("acme", "nodeSelector: {pool: acme}");
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": []}}}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": {"spec": {}}}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
        ];
        for (obj, ptr) in cases {
            let out = run(&w, "acme-prod", &obj);
            let spec = out.pointer(ptr).unwrap();
            assert_eq!(spec["nodeSelector"], json!({"pool": "acme"}), "{ptr}");
            assert_eq!(spec["tolerations"], json!([tol("pool", "acme")]), "{ptr}");
            assert!(
                out.pointer("/spec/nodeSelector").is_none(),
                "the workload's own spec is not a PodSpec"
            );
        }
    }

    #[test]
    fn update_only_when_the_pod_spec_changes() {
        let w = World::new().with_tenant("acme", "nodeSelector: {pool: acme}");
        let update = |old: &Value, new: &Value| {
            let mut ctx = w.ctx("acme-prod", new);
            ctx.operation = crate::policy::rules::Operation::Update;
            ctx.old_object = Some(old);
            let mut draft = Draft::new(new);
            mutate(&ctx, &mut draft, &Params::default());
            draft.to_value()
        };
        // An old pod (made before the tenant had dedicated nodes) being
        // relabelled, e.g. a finalizer removed: left alone.
        let old = pod(json!({"containers": [{"name": "a"}]}));
        let mut relabelled = old.clone();
        relabelled["metadata"]["labels"] = json!({"x": "y"});
        assert_eq!(update(&old, &relabelled), relabelled);
        // A template edit gets the selector.
        let d = |image: &str| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": image}]}}}})
        };
        let out = update(&d("app:1"), &d("app:2"));
        assert_eq!(
            out["spec"]["template"]["spec"]["nodeSelector"],
            json!({"pool": "acme"})
        );
    }

    #[test]
    fn left_alone() {
        let w = World::new().with_tenant("acme", POOL);
        let no_pool = World::new().with_tenant("acme", "containerDefaults: {limits: {cpu: '1'}}");
        let undeclared = World::new();
        let bare = pod(json!({"containers": []}));
        let cases: Vec<(&str, &World, &str, Value)> = vec![
            (
                "tenant without dedicated nodes",
                &no_pool,
                "acme-prod",
                bare.clone(),
            ),
            ("undeclared tenant", &undeclared, "acme-prod", bare.clone()),
            (
                "another tenant's namespace",
                &w,
                "globex-prod",
                bare.clone(),
            ),
            ("platform namespace", &w, "monitoring", bare.clone()),
            (
                "kind out of scope",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {}}),
            ),
            (
                "no spec: nothing created",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}}),
            ),
            (
                "deployment without template spec",
                &w,
                "acme-prod",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {}}}),
            ),
            (
                "already complete",
                &w,
                "acme-prod",
                pod(json!({"nodeSelector": {"pool": "acme", "tier": "gold"},
                "tolerations": [{"key": "pool", "operator": "Exists"}, {"key": "tier", "operator": "Exists"}]})),
            ),
        ];
        for (name, world, ns, obj) in cases {
            assert_eq!(run(world, ns, &obj), obj, "{name}");
        }
    }
}
