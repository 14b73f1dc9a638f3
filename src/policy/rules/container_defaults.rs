//! `container-defaults` (mutating): containers and initContainers of Pods and
//! pod templates get the tenant's `containerDefaults` where they lack a
//! request or a limit, key by key, the way Kubernetes' LimitRanger does:
//! - a missing `limits[k]` gets the default limit;
//! - a missing `requests[k]` gets the container's own `limits[k]` when the
//!   user set it (as the API's defaulting does), else the default request,
//!   else the default limit; never more than the container's limit.
//!
//! A value already set is never overwritten (`require-limits` rejects a bad
//! one, so the user sees why), and applying twice changes nothing. A limit
//! of zero is set: it is kept (and its request follows it), and
//! `require-limits` rejects it, since a zero limit is no limit.
//! Ephemeral containers are left alone: Kubernetes forbids resources there.
//!
//! Operations: CREATE, and UPDATE only when the update changes the pod spec
//! (see [`Ctx::changed`](super::Ctx::changed)): a workload whose template is edited makes new pods
//! that need defaults as much, but a Pod's containers (and a Job's template)
//! are immutable, so filling them on, say, the UPDATE that removes a
//! finalizer would make the apiserver refuse it; and filling a Deployment's
//! template on a mere scale would start a rollout nobody asked for.
//!
//! References:
//! <https://kubernetes.io/docs/concepts/policy/limit-range/>,
//! <https://kubernetes.io/docs/tasks/administer-cluster/manage-resources/memory-default-namespace/>.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Ctx, Draft, Effect, Kinds, Operation, Rule, Scope, Step, View};
use crate::podspec::{self, map_at, ContainerList};
use crate::policy::ContainerDefaults as Defaults;
use crate::quantity::Quantity;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `container-defaults`.
pub struct ContainerDefaults;

impl Rule for ContainerDefaults {
    const ID: &'static str = "container-defaults";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Defaults fill in what a pod is written with; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Mutate(mutate);
}

const FILLED: [ContainerList; 2] = [ContainerList::Containers, ContainerList::InitContainers];

fn is_set(map: Option<&Map<String, Value>>, key: &str) -> bool {
    map.and_then(|m| m.get(key)).is_some_and(|v| !v.is_null())
}

/// What one container lacks of `defaults`, decided before anything is
/// written so that a complete container stays untouched: the limits to add,
/// the requests to fill in, and which limits the user set. None when the
/// container is complete or cannot be filled.
struct Missing<'d> {
    limits: Vec<(&'d String, &'d String)>,
    requests: BTreeSet<&'d String>,
    user_limits: BTreeSet<&'d String>,
}

fn missing<'d>(container: View<'_>, defaults: &'d Defaults) -> Option<Missing<'d>> {
    if !container.is_object() {
        return None;
    }
    let resources = container.get("resources").value();
    let (user_limits, user_requests) = match resources.as_deref() {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(r)) => {
            let section = |s: &str| r.get(s).and_then(Value::as_object);
            (section("limits"), section("requests"))
        }
        // Not a map: the apiserver rejects it; leave it for the user to see.
        Some(_) => return None,
    };
    // Most containers lack nothing: say so before collecting anything.
    let lacks_limit = defaults.limits.keys().any(|k| !is_set(user_limits, k));
    let lacks_request = (defaults.requests.keys())
        .chain(defaults.limits.keys())
        .any(|k| !is_set(user_requests, k));
    if !lacks_limit && !lacks_request {
        return None;
    }
    let limits: Vec<(&String, &String)> = defaults
        .limits
        .iter()
        .filter(|(k, _)| !is_set(user_limits, k))
        .collect();
    let requests: BTreeSet<&String> = defaults
        .requests
        .keys()
        .chain(defaults.limits.keys())
        .filter(|k| !is_set(user_requests, k))
        .collect();
    let user_limits = requests
        .iter()
        .copied()
        .filter(|k| is_set(user_limits, k))
        .collect();
    Some(Missing {
        limits,
        requests,
        user_limits,
    })
}

/// The resources whose default request is above their default limit (so a
/// request filled in beside a default limit is capped at it): the same for
/// every container, decided once.
fn capped_requests(defaults: &Defaults) -> BTreeSet<&String> {
    defaults
        .requests
        .iter()
        .filter(|(k, req)| {
            let limit = defaults.limits.get(*k);
            match (
                req.parse::<Quantity>(),
                limit.map(|l| l.parse::<Quantity>()),
            ) {
                (Ok(r), Some(Ok(l))) => r > l,
                _ => false,
            }
        })
        .map(|(k, _)| k)
        .collect()
}

/// Fills one container's `resources` (made as needed) with what it lacks.
fn fill(
    resources: &mut Map<String, Value>,
    missing: Missing<'_>,
    defaults: &Defaults,
    capped: &BTreeSet<&String>,
) {
    if !missing.limits.is_empty() {
        if let Some(limits) = map_at(resources, "limits") {
            for (k, v) in missing.limits {
                limits.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    if missing.requests.is_empty() {
        return;
    }
    let limits = resources.get("limits").and_then(Value::as_object);
    let values: Vec<(&String, Value)> = missing
        .requests
        .into_iter()
        .filter_map(|k| {
            let limit = limits.and_then(|l| l.get(k)).filter(|v| !v.is_null());
            let value = if missing.user_limits.contains(k) {
                // The API's defaulting: a request left out equals the limit set.
                limit.cloned()
            } else {
                // The limit here, if any, is the default one.
                match (defaults.requests.get(k), limit) {
                    // Never above the limit: a default request larger than the
                    // limit would make the container invalid.
                    (Some(_), Some(lim)) if capped.contains(k) => Some(lim.clone()),
                    (Some(req), _) => Some(Value::String(req.clone())),
                    (None, lim) => lim.cloned(),
                }
            };
            value.map(|v| (k, v))
        })
        .collect();
    let Some(requests) = map_at(resources, "requests") else {
        return;
    };
    for (k, v) in values {
        requests.insert(k.clone(), v);
    }
}

pub fn mutate(ctx: &Ctx<'_>, draft: &mut Draft<'_>, _params: &Params) {
    let Some(defaults) = ctx.tenant.and_then(|t| t.container_defaults()) else {
        return;
    };
    let Some(at) = podspec::locate(ctx.group, ctx.kind) else {
        return;
    };
    if !ctx.changed(&[at.spec_ptr]) {
        return;
    }
    // Decided when a first container lacks something.
    let mut capped = None;
    for list in FILLED {
        // Decided on one view of the list; written after.
        let todo: Vec<(usize, Missing<'_>)> = {
            let items = draft.view().pointer(at.spec_ptr).get(list.field());
            (0..items.list_len().unwrap_or(0))
                .filter_map(|i| Some((i, missing(items.at(i), defaults)?)))
                .collect()
        };
        for (i, missing) in todo {
            let path = Step::keys(at.spec_ptr).chain([
                Step::Key(list.field()),
                Step::Index(i),
                Step::Key("resources"),
            ]);
            if let Some(resources) = draft.map_at(path) {
                let capped = capped.get_or_insert_with(|| capped_requests(defaults));
                fill(resources, missing, defaults, capped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    const DEFAULTS: &str =
        "containerDefaults: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}";

    fn run(w: &World, ns: &str, obj: &Value) -> Value {
        let mut draft = Draft::new(obj);
        mutate(&w.ctx(ns, obj), &mut draft, &Params::default());
        draft.to_value()
    }

    fn pod(container: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}})
    }

    fn resources(obj: &Value, ptr: &str) -> Value {
        obj.pointer(ptr).cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn cases() {
        let w = World::new().with_tenant("acme", DEFAULTS);
        let limits_only = World::new().with_tenant(
            "acme",
            "containerDefaults: {limits: {cpu: 500m, memory: 512Mi}}",
        );
        let upside_down = World::new().with_tenant("acme", "containerDefaults: {requests: {cpu: '2', memory: 1Gi}, limits: {cpu: 500m, memory: 512Mi}}");
        let requests_only =
            World::new().with_tenant("acme", "containerDefaults: {requests: {cpu: 100m}}");
        let full = json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}});
        let c0 = "/spec/containers/0/resources";
        // (name, world, object, pointer to the resources, expected resources)
        let cases: Vec<(&str, &World, Value, &str, Value)> = vec![
            (
                "no resources: all defaults",
                &w,
                pod(json!({"name": "app"})),
                c0,
                full.clone(),
            ),
            (
                "null resources and maps are replaced",
                &w,
                pod(json!({"name": "app", "resources": null})),
                c0,
                full.clone(),
            ),
            (
                "null maps",
                &w,
                pod(json!({"name": "app", "resources": {"limits": null, "requests": null}})),
                c0,
                full.clone(),
            ),
            (
                "a null value counts as unset",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"cpu": null}}})),
                c0,
                full.clone(),
            ),
            (
                "user limit becomes the request, never the default request",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"cpu": "2"}}})),
                c0,
                json!({"limits": {"cpu": "2", "memory": "512Mi"}, "requests": {"cpu": "2", "memory": "128Mi"}}),
            ),
            (
                "user limit below the default request",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"memory": "64Mi"}}})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}),
            ),
            (
                "a numeric user limit is copied as is",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"cpu": 1}}})),
                c0,
                json!({"limits": {"cpu": 1, "memory": "512Mi"}, "requests": {"cpu": 1, "memory": "128Mi"}}),
            ),
            (
                "a zero cpu limit is set: kept, and its request follows it",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"cpu": "0"}}})),
                c0,
                json!({"limits": {"cpu": "0", "memory": "512Mi"}, "requests": {"cpu": "0", "memory": "128Mi"}}),
            ),
            (
                "zero limits in other spellings are kept too",
                &w,
                pod(
                    json!({"name": "app", "resources": {"limits": {"cpu": "0m", "memory": "0Gi"}}}),
                ),
                c0,
                json!({"limits": {"cpu": "0m", "memory": "0Gi"}, "requests": {"cpu": "0m", "memory": "0Gi"}}),
            ),
            (
                "a numeric zero limit is kept",
                &w,
                pod(
                    json!({"name": "app", "resources": {"limits": {"memory": 0}, "requests": {"memory": "64Mi"}}}),
                ),
                c0,
                json!({"limits": {"cpu": "500m", "memory": 0}, "requests": {"cpu": "100m", "memory": "64Mi"}}),
            ),
            (
                "a zero request is set: kept",
                &w,
                pod(json!({"name": "app", "resources": {"requests": {"cpu": "0"}}})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "0", "memory": "128Mi"}}),
            ),
            (
                "an unreadable limit is kept for validation to reject",
                &w,
                pod(json!({"name": "app", "resources": {"limits": {"memory": "lots"}}})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "lots"}, "requests": {"cpu": "100m", "memory": "lots"}}),
            ),
            (
                "user request kept, limit filled",
                &w,
                pod(json!({"name": "app", "resources": {"requests": {"cpu": "250m"}}})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}}),
            ),
            (
                "everything set: untouched",
                &w,
                pod(
                    json!({"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}),
                ),
                c0,
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}),
            ),
            (
                "other resources are kept",
                &w,
                pod(
                    json!({"name": "app", "resources": {"limits": {"nvidia.com/gpu": 1}, "claims": [{"name": "c"}]}}),
                ),
                c0,
                json!({"limits": {"nvidia.com/gpu": 1, "cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}, "claims": [{"name": "c"}]}),
            ),
            (
                "defaults with limits only: requests follow the limits",
                &limits_only,
                pod(json!({"name": "app"})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}}),
            ),
            (
                "a default request above the limit is capped at the limit",
                &upside_down,
                pod(json!({"name": "app"})),
                c0,
                json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}}),
            ),
            (
                "the user's limit wins over a larger default request",
                &upside_down,
                pod(
                    json!({"name": "app", "resources": {"requests": {"memory": "1Gi"}, "limits": {"cpu": "1"}}}),
                ),
                c0,
                json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "1", "memory": "1Gi"}}),
            ),
            (
                "defaults with requests only: no limits map created",
                &requests_only,
                pod(json!({"name": "app"})),
                c0,
                json!({"requests": {"cpu": "100m"}}),
            ),
            (
                "init container",
                &w,
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [], "initContainers": [{"name": "init"}]}}),
                "/spec/initContainers/0/resources",
                full.clone(),
            ),
            (
                "ephemeral container left alone",
                &w,
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"ephemeralContainers": [{"name": "debug"}]}}),
                "/spec/ephemeralContainers/0/resources",
                Value::Null,
            ),
            (
                "deployment template",
                &w,
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}}),
                "/spec/template/spec/containers/1/resources",
                full.clone(),
            ),
            (
                "cronjob template",
                &w,
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}),
                "/spec/jobTemplate/spec/template/spec/containers/0/resources",
                full.clone(),
            ),
            (
                "resources not a map: left for validation",
                &w,
                pod(json!({"name": "app", "resources": "big"})),
                c0,
                json!("big"),
            ),
            (
                "limits not a map: requests still filled",
                &w,
                pod(json!({"name": "app", "resources": {"limits": []}})),
                c0,
                json!({"limits": [], "requests": {"cpu": "100m", "memory": "128Mi"}}),
            ),
        ];
        for (name, world, obj, ptr, want) in cases {
            let out = run(world, "acme-prod", &obj);
            assert_eq!(resources(&out, ptr), want, "{name}");
            assert_eq!(run(world, "acme-prod", &out), out, "{name}: not idempotent");
        }
    }

    #[test]
    fn left_alone() {
        let w = World::new().with_tenant("acme", DEFAULTS);
        let no_defaults = World::new().with_tenant("acme", "nodeSelector: {pool: acme}");
        let undeclared = World::new();
        let empty = World::new().with_tenant("acme", "containerDefaults: {}");
        let bare = pod(json!({"name": "app"}));
        let cases: Vec<(&str, &World, &str, Value)> = vec![
            (
                "tenant without defaults",
                &no_defaults,
                "acme-prod",
                bare.clone(),
            ),
            (
                "undeclared tenant, no Settings defaults",
                &undeclared,
                "acme-prod",
                bare.clone(),
            ),
            ("platform namespace", &w, "monitoring", bare.clone()),
            (
                "kind out of scope",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"containers": [{}]}}),
            ),
            (
                "no spec: nothing created",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod"}),
            ),
            ("empty defaults", &empty, "acme-prod", bare.clone()),
            (
                "containers not a list",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"a": {}}}}),
            ),
            (
                "container not a map",
                &w,
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": ["x", null]}}),
            ),
        ];
        for (name, world, ns, obj) in cases {
            assert_eq!(run(world, ns, &obj), obj, "{name}");
        }
    }

    #[test]
    fn update_fills_only_a_changed_pod_spec() {
        let w = World::new().with_tenant("acme", DEFAULTS);
        let deployment = |image: &str, replicas: u32| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": replicas,
                "template": {"spec": {"containers": [{"name": "a", "image": image}]}}}})
        };
        let update = |old: &Value, new: &Value| {
            let mut ctx = w.ctx("acme-prod", new);
            ctx.operation = super::super::Operation::Update;
            ctx.old_object = Some(old);
            let mut draft = Draft::new(new);
            mutate(&ctx, &mut draft, &Params::default());
            draft.to_value()
        };
        let r = "/spec/template/spec/containers/0/resources";
        // A scale leaves the template (and the rollout) alone.
        let (old, scaled) = (deployment("app:1", 1), deployment("app:1", 3));
        assert_eq!(update(&old, &scaled), scaled);
        // An edited template is filled in.
        let edited = deployment("app:2", 1);
        assert_eq!(
            resources(&update(&old, &edited), r)["limits"]["cpu"],
            "500m"
        );
        // A Pod's containers are immutable: relabelling an old pod without
        // resources must not make the apiserver refuse the update.
        let old_pod = pod(json!({"name": "app"}));
        let mut relabelled = old_pod.clone();
        relabelled["metadata"]["labels"] = json!({"x": "y"});
        assert_eq!(update(&old_pod, &relabelled), relabelled);
        // No oldObject to compare with: filled as on CREATE.
        let mut ctx = w.ctx("acme-prod", &old_pod);
        ctx.operation = crate::policy::rules::Operation::Update;
        let mut draft = Draft::new(&old_pod);
        mutate(&ctx, &mut draft, &Params::default());
        assert_ne!(draft.to_value(), old_pod);
    }

    #[test]
    fn settings_defaults_apply_to_undeclared_tenants() {
        let mut w = World::new();
        w.settings.tenant_defaults.container_defaults = Some(Defaults {
            requests: [("cpu".to_string(), "50m".to_string())].into(),
            limits: [("cpu".to_string(), "1".to_string())].into(),
        });
        let out = run(&w, "acme-prod", &pod(json!({"name": "app"})));
        assert_eq!(
            resources(&out, "/spec/containers/0/resources"),
            json!({"limits": {"cpu": "1"}, "requests": {"cpu": "50m"}})
        );
    }
}
