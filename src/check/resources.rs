//! What a pod will ask of its namespace's quota, as `check` shows it (text
//! output only): its effective requests and limits of cpu and memory,
//! including the Vault Agent containers the Agent Injector adds to a pod
//! that asks for Vault. An agent the quota or LimitRange cannot take fails
//! only after injection, inside the apiserver, where the pod's author never
//! sees it coming; `check` shows it before.
//!
//! Effective, as the scheduler and ResourceQuota count a pod: per resource,
//! the larger of the sum over its containers and the largest init container
//! (init containers run one at a time, before the others). A missing
//! request is the container's limit (the apiserver's defaulting), else zero;
//! a missing limit makes the total unbounded. Restartable init containers
//! (`restartPolicy: Always`, native sidecars) run beside the containers and
//! are summed with them.
//!
//! The Injector adds `vault-agent-init` (unless `agent-pre-populate` is
//! false) and the `vault-agent` sidecar (unless `agent-pre-populate-only` is
//! true), both sized by the `agent-requests-*`/`agent-limits-*` annotations,
//! which `vault-injection` sets from `vault.agentResources`; where one is
//! unset the Injector's own default applies (requests 250m / 64Mi, limits
//! 500m / 128Mi). Reference:
//! <https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations>.

use serde_json::{Map, Value};

use crate::podspec::{self, ContainerList};
use crate::policy::rules::vault_injection::{is_false, is_true, INJECT};
use crate::quantity::Quantity;

const PARTS: [&str; 2] = ["requests", "limits"];
const RESOURCES: [&str; 2] = ["cpu", "memory"];
const PRE_POPULATE: &str = "vault.hashicorp.com/agent-pre-populate";
const PRE_POPULATE_ONLY: &str = "vault.hashicorp.com/agent-pre-populate-only";

/// The Agent Injector's own defaults (vault-k8s), by (part, resource).
fn injector_default(part: &str, resource: &str) -> &'static str {
    match (part, resource) {
        ("requests", "cpu") => "250m",
        ("requests", _) => "64Mi",
        (_, "cpu") => "500m",
        _ => "128Mi",
    }
}

fn annotation_key(part: &str, resource: &str) -> String {
    let short = if resource == "memory" {
        "mem"
    } else {
        resource
    };
    format!("vault.hashicorp.com/agent-{part}-{short}")
}

/// A total: a sum so far, unbounded, or not readable.
#[derive(Debug, Clone, PartialEq)]
enum Total {
    Exactly(Quantity),
    Unbounded,
    Unreadable,
}

impl Total {
    fn combine(self, other: Total, op: fn(Quantity, Quantity) -> Option<Quantity>) -> Total {
        match (self, other) {
            (Total::Unreadable, _) | (_, Total::Unreadable) => Total::Unreadable,
            (Total::Unbounded, _) | (_, Total::Unbounded) => Total::Unbounded,
            (Total::Exactly(a), Total::Exactly(b)) => {
                op(a, b).map_or(Total::Unreadable, Total::Exactly)
            }
        }
    }

    fn plus(self, other: Total) -> Total {
        self.combine(other, |a, b| a.checked_add(&b))
    }

    fn max(self, other: Total) -> Total {
        self.combine(other, |a, b| Some(a.max(b)))
    }

    fn show(&self) -> String {
        match self {
            Total::Exactly(q) => q.to_string(),
            Total::Unbounded => "unbounded".to_string(),
            Total::Unreadable => "unreadable".to_string(),
        }
    }
}

fn read(v: Option<&Value>) -> Option<Total> {
    v.filter(|v| !v.is_null())
        .map(|v| Quantity::from_json(v).map_or(Total::Unreadable, Total::Exactly))
}

/// One container's amount of `resource` in `part`.
fn container_amount(c: &Value, part: &str, resource: &str) -> Total {
    let res = c.get("resources");
    let get = |p: &str| read(res.and_then(|r| r.get(p)).and_then(|m| m.get(resource)));
    match part {
        "requests" => get("requests")
            .or_else(|| get("limits"))
            .unwrap_or(Total::Exactly(Quantity::zero_value())),
        _ => get("limits").unwrap_or(Total::Unbounded),
    }
}

/// The Vault Agent containers the Injector will add: (sidecar, init).
fn agent_containers(annotations: Option<&Map<String, Value>>) -> Option<(bool, bool)> {
    let a = annotations?;
    let flag = |k: &str| a.get(k).and_then(Value::as_str);
    if !flag(INJECT).is_some_and(is_true) {
        return None;
    }
    let init = !flag(PRE_POPULATE).is_some_and(is_false);
    let sidecar = !flag(PRE_POPULATE_ONLY).is_some_and(is_true);
    Some((sidecar, init))
}

/// The pod's effective requests and limits as text lines, when `obj` (as
/// mutated) holds a pod that asks for Vault; None otherwise.
pub fn describe(group: &str, kind: &str, obj: &Value) -> Option<Vec<String>> {
    let pod = podspec::pod(group, kind, obj)?;
    let annotations = pod.annotations();
    let (sidecar, init) = agent_containers(annotations)?;
    let agent = |part: &str, resource: &str| {
        let key = annotation_key(part, resource);
        read(annotations.and_then(|a| a.get(&key))).unwrap_or_else(|| {
            Total::Exactly(
                Quantity::from_json(&Value::from(injector_default(part, resource)))
                    .unwrap_or_else(|_| Quantity::zero_value()),
            )
        })
    };
    let mut pod_line = Vec::new();
    let mut agent_line = Vec::new();
    for part in PARTS {
        let mut pod_part = Vec::new();
        let mut agent_part = Vec::new();
        for resource in RESOURCES {
            let mut sum = Total::Exactly(Quantity::zero_value());
            let mut init_max = Total::Exactly(Quantity::zero_value());
            for c in pod.containers(&[ContainerList::Containers, ContainerList::InitContainers]) {
                let amount = container_amount(c.value, part, resource);
                let restartable =
                    c.value.get("restartPolicy").and_then(Value::as_str) == Some("Always");
                if c.list == ContainerList::Containers || restartable {
                    sum = sum.plus(amount);
                } else {
                    init_max = init_max.max(amount);
                }
            }
            let a = agent(part, resource);
            if sidecar {
                sum = sum.plus(a.clone());
            }
            if init {
                init_max = init_max.max(a.clone());
            }
            pod_part.push(format!("{resource} {}", sum.max(init_max).show()));
            agent_part.push(format!("{resource} {}", a.show()));
        }
        pod_line.push(format!("{part} {}", pod_part.join(", ")));
        agent_line.push(format!("{part} {}", agent_part.join(", ")));
    }
    let which = match (sidecar, init) {
        (true, true) => "sidecar and init container, each",
        (true, false) => "sidecar",
        (false, true) => "init container",
        (false, false) => "no container",
    };
    Some(vec![
        format!("{} (with the Vault Agent)", pod_line.join("; ")),
        format!("Vault Agent ({which}): {}", agent_line.join("; ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: Value, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations}, "spec": spec})
    }

    fn limited(cpu: &str, mem: &str) -> Value {
        json!({"name": "app", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": cpu, "memory": mem}}})
    }

    const AGENT: &str = "25m";

    #[test]
    fn cases() {
        let sized = json!({
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/agent-requests-cpu": AGENT,
            "vault.hashicorp.com/agent-requests-mem": "32Mi",
            "vault.hashicorp.com/agent-limits-cpu": "100m",
            "vault.hashicorp.com/agent-limits-mem": "64Mi",
        });
        let with = |extra: Value| {
            let mut m = sized.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        let one = json!({"containers": [limited("500m", "512Mi")]});
        let cases: Vec<(&str, Value, Option<[&str; 2]>)> = vec![
            ("sidecar and init: sum with the sidecar", pod(sized.clone(), one.clone()), Some([
                "requests cpu 125m, memory 160Mi; limits cpu 600m, memory 576Mi (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi",
            ])),
            ("Injector defaults where unset", pod(json!({"vault.hashicorp.com/agent-inject": "true"}), one.clone()), Some([
                "requests cpu 350m, memory 192Mi; limits cpu 1, memory 640Mi (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 250m, memory 64Mi; limits cpu 500m, memory 128Mi",
            ])),
            ("pre-populate only: the init container alone, below the app", pod(with(json!({PRE_POPULATE_ONLY: "true"})), one.clone()), Some([
                "requests cpu 100m, memory 128Mi; limits cpu 500m, memory 512Mi (with the Vault Agent)",
                "Vault Agent (init container): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi",
            ])),
            ("a large init container wins over the sum", pod(sized.clone(), json!({"containers": [limited("500m", "512Mi")],
                "initContainers": [limited("2", "1Gi")]})), Some([
                "requests cpu 125m, memory 160Mi; limits cpu 2, memory 1Gi (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi",
            ])),
            ("a native sidecar is summed; a missing request is the limit", pod(sized.clone(), json!({"containers": [limited("500m", "512Mi")],
                "initContainers": [{"name": "s", "restartPolicy": "Always", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]})), Some([
                "requests cpu 1125m, memory 1184Mi; limits cpu 1600m, memory 1600Mi (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi",
            ])),
            ("a container without limits: unbounded", pod(sized.clone(), json!({"containers": [{"name": "a"}]})), Some([
                "requests cpu 25m, memory 32Mi; limits cpu unbounded, memory unbounded (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu 100m, memory 64Mi",
            ])),
            ("an unreadable quantity", pod(with(json!({"vault.hashicorp.com/agent-limits-cpu": "lots"})), one.clone()), Some([
                "requests cpu 125m, memory 160Mi; limits cpu unreadable, memory 576Mi (with the Vault Agent)",
                "Vault Agent (sidecar and init container, each): requests cpu 25m, memory 32Mi; limits cpu unreadable, memory 64Mi",
            ])),
            ("no Vault asked", pod(json!({}), one.clone()), None),
            ("agent-inject false", pod(json!({"vault.hashicorp.com/agent-inject": "false"}), one.clone()), None),
        ];
        for (name, obj, want) in cases {
            let got = describe("", "Pod", &obj);
            assert_eq!(got, want.map(|w| w.map(str::to_string).to_vec()), "{name}");
        }
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {
            "metadata": {"annotations": sized}, "spec": one}}});
        assert!(
            describe("apps", "Deployment", &d).is_some(),
            "pod templates too"
        );
        assert!(describe("", "Service", &d).is_none());
    }
}
