//! `require-limits` (validating): every container and initContainer of a Pod
//! or pod template sets `limits` for the configured resources (default cpu
//! and memory), and no request is above its limit.
//!
//! CREATE and UPDATE (DESIGN: every rule judges both), with one exception:
//! an UPDATE of a Pod that is already being deleted (`deletionTimestamp` in
//! `oldObject`) whose spec it leaves as it was. That update can only be a
//! finalizer or status-like change on the way out; denying it would leave a
//! pod created before this policy stuck in Terminating. A pod's resources
//! cannot grow through it, and a workload's template is always judged.
//! Quantities that cannot be read or compared are violations too: nothing
//! is admitted unjudged.
//! Ephemeral containers are not judged: Kubernetes forbids resources on them.
//! Reference: <https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/>.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Violation};
use crate::podspec::ContainerList;
use crate::quantity::Quantity;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The resources whose limits must be set.
    #[serde(default = "default_resources")]
    pub resources: Vec<String>,
}

fn default_resources() -> Vec<String> {
    vec!["cpu".to_string(), "memory".to_string()]
}

impl Default for Params {
    fn default() -> Self {
        Params {
            resources: default_resources(),
        }
    }
}

impl Params {
    pub fn check(&self) -> Result<(), String> {
        for r in &self.resources {
            if r.is_empty() || r.contains(char::is_whitespace) {
                return Err(format!(
                    "resources: {r:?} is not a resource name such as cpu, memory or ephemeral-storage"
                ));
            }
        }
        Ok(())
    }
}

const JUDGED: [ContainerList; 2] = [ContainerList::Containers, ContainerList::InitContainers];

fn resource<'a>(c: &'a Value, section: &str, name: &str) -> Option<&'a Value> {
    c.get("resources")?.get(section)?.get(name)
}

fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// An UPDATE of a Pod already being deleted that leaves its spec alone.
fn terminating_pod_untouched(ctx: &Ctx<'_>, spec_ptr: &str) -> bool {
    ctx.kind == "Pod"
        && ctx.group.is_empty()
        && ctx
            .old_object
            .and_then(|o| o.pointer("/metadata/deletionTimestamp"))
            .is_some_and(|t| !t.is_null())
        && !ctx.changed(&[spec_ptr])
}

pub fn validate(ctx: &Ctx<'_>, params: &Params) -> Vec<Violation> {
    let Some(pod) = ctx.pod() else {
        return Vec::new();
    };
    if terminating_pod_untouched(ctx, pod.at.spec_ptr) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in pod.containers(&JUDGED) {
        let path = c.path(pod.at.spec_path);
        let who = c.label(pod.at.spec_path);
        for r in &params.resources {
            match resource(c.value, "limits", r) {
                None | Some(Value::Null) => out.push(Violation::new(
                    format!("{path}.resources.limits.{r}"),
                    format!(
                        "{who}: resources.limits.{r} is not set; set it (or declare containerDefaults for the tenant so it is filled in)"
                    ),
                )),
                Some(v) if quantity(v).is_none() => out.push(Violation::new(
                    format!("{path}.resources.limits.{r}"),
                    format!("{who}: resources.limits.{r} {v} is not a quantity such as 500m or 256Mi"),
                )),
                Some(_) => {}
            }
        }
        let requests = c
            .value
            .get("resources")
            .and_then(|r| r.get("requests"))
            .and_then(Value::as_object);
        for (name, req) in requests.into_iter().flatten() {
            let Some(rq) = quantity(req) else {
                out.push(Violation::new(
                    format!("{path}.resources.requests.{name}"),
                    format!(
                        "{who}: resources.requests.{name} {req} is not a quantity tenantguard can compare (examples: 500m, 256Mi, 2)"
                    ),
                ));
                continue;
            };
            let Some(lim) = resource(c.value, "limits", name).and_then(quantity) else {
                continue;
            };
            if rq > lim {
                let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
                out.push(Violation::new(
                    format!("{path}.resources.requests.{name}"),
                    format!(
                        "{who}: resources.requests.{name} ({}) is above resources.limits.{name} ({}); lower the request or raise the limit",
                        show(req),
                        resource(c.value, "limits", name).map_or_else(String::new, show),
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use serde_json::json;

    fn paths(ns: &str, obj: Value, params: &Params) -> Vec<String> {
        let w = World::new();
        validate(&w.ctx(ns, &obj), params)
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": containers})
    }

    const FULL: &str = r#"{"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}"#;

    #[test]
    fn cases() {
        let full: Value = serde_json::from_str(FULL).unwrap();
        let p = Params::default();
        let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
            (
                "clean pod",
                "acme-prod",
                pod(json!({"containers": [{"name": "app", "resources": full}]})),
                vec![],
            ),
            (
                "no resources",
                "acme-prod",
                pod(json!({"containers": [{"name": "app"}]})),
                vec![
                    "spec.containers[0].resources.limits.cpu",
                    "spec.containers[0].resources.limits.memory",
                ],
            ),
            (
                "memory only",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}),
                ),
                vec!["spec.containers[0].resources.limits.cpu"],
            ),
            (
                "second container and init container",
                "acme-prod",
                pod(json!({
                "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "1"}}}],
                "containers": [{"name": "a", "resources": full}, {"name": "b", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]})),
                vec!["spec.initContainers[0].resources.limits.memory"],
            ),
            (
                "request above limit",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "2", "memory": "1024Mi"}}}]}),
                ),
                vec!["spec.containers[0].resources.requests.cpu"],
            ),
            (
                "bad quantity",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "lots", "memory": "1Gi"}}}]}),
                ),
                vec!["spec.containers[0].resources.limits.cpu"],
            ),
            (
                "bad request quantity",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"memory": "2gi"}}}]}),
                ),
                vec!["spec.containers[0].resources.requests.memory"],
            ),
            (
                "request too large to compare",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1e30"}}}]}),
                ),
                vec!["spec.containers[0].resources.requests.cpu"],
            ),
            (
                "ephemeral containers are not judged",
                "acme-prod",
                pod(
                    json!({"containers": [{"name": "app", "resources": full}], "ephemeralContainers": [{"name": "debug"}]}),
                ),
                vec![],
            ),
            (
                "deployment template",
                "acme-prod",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}),
                vec![
                    "spec.template.spec.containers[0].resources.limits.cpu",
                    "spec.template.spec.containers[0].resources.limits.memory",
                ],
            ),
            (
                "cronjob template",
                "acme-prod",
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "resources": {"limits": {"cpu": "1"}}}]}}}}}}),
                vec!["spec.jobTemplate.spec.template.spec.containers[0].resources.limits.memory"],
            ),
            (
                "kind out of scope",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {}}),
                vec![],
            ),
            (
                "no spec at all",
                "acme-prod",
                json!({"apiVersion": "v1", "kind": "Pod"}),
                vec![],
            ),
        ];
        for (name, ns, obj, want) in cases {
            assert_eq!(paths(ns, obj, &p), want, "{name}");
        }
    }

    #[test]
    fn message_names_container_and_fix() {
        let w = World::new();
        let obj = pod(json!({"containers": [{"name": "app"}]}));
        let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
        assert!(
            v[1].message
                .starts_with("spec.containers[0] \"app\": resources.limits.memory is not set"),
            "{}",
            v[1].message
        );
    }

    #[test]
    fn update_is_judged_except_a_terminating_pods_finalizer_removal() {
        use crate::policy::rules::Operation::Update;
        let w = World::new();
        let run = |new: &Value, old: &Value| {
            let mut ctx = w.ctx("acme-prod", new);
            ctx.operation = Update;
            ctx.old_object = Some(old);
            validate(&ctx, &Params::default()).len()
        };
        let old = pod(json!({"containers": [{"name": "app"}]}));
        let mut relabelled = old.clone();
        relabelled["metadata"]["labels"] = json!({"x": "y"});
        assert_eq!(run(&relabelled, &old), 2, "UPDATE is judged");
        let mut dying = old.clone();
        dying["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        dying["metadata"]["finalizers"] = json!(["example.com/x"]);
        let mut released = dying.clone();
        released["metadata"]["finalizers"] = json!([]);
        assert_eq!(
            run(&released, &dying),
            0,
            "finalizer removal on the way out"
        );
        let mut dying_changed = released.clone();
        dying_changed["spec"]["containers"][0]["image"] = json!("new");
        assert_eq!(
            run(&dying_changed, &dying),
            2,
            "a spec change is judged even then"
        );
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 5,
            "template": {"spec": {"containers": [{"name": "web"}]}}}});
        assert_eq!(
            run(&deploy, &deploy),
            2,
            "a workload template is always judged"
        );
    }

    #[test]
    fn resources_parameter() {
        let p = Params {
            resources: vec!["memory".into()],
        };
        let obj = pod(
            json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}),
        );
        assert!(paths("acme-prod", obj, &p).is_empty());
        assert!(Params {
            resources: vec!["".into()]
        }
        .check()
        .is_err());
    }
}
