//! Agreement of the fallback with the engine: the world both judge in, the
//! engine's verdict on the checks the fallback covers, and the captured
//! requests of `tests/fixtures/real`.

use std::path::Path;

use serde_json::{json, Value};
use tenantguard::engine::Engine;
use tenantguard::policy::rules::Identity;
use tenantguard::policy::{PolicySet, RuleId};
use tenantguard::tenancy::Inventory;
use tenantguard::vap;

use super::harness::{verdicts, Req, Verdict};
use super::{options, policies, repo};

/// What the engine says about the checks the fallback covers for `rule`:
/// None when this build has no such rule.
pub fn engine_denies(
    engine: &Engine,
    inv: &Inventory,
    set: &PolicySet,
    r: &Req,
    rule: &str,
) -> Option<bool> {
    let id: RuleId = rule.parse().ok()?;
    let outcome = engine.validate(&r.engine(), inv);
    let resources: Vec<String> = match &set.policy(RuleId::RequireLimits).params {
        tenantguard::policy::RuleParams::RequireLimits(p) => p.resources.clone(),
        _ => Vec::new(),
    };
    Some(outcome.findings.iter().any(|f| {
        f.rule == id
            && f.action != tenantguard::policy::Action::Off
            && match rule {
                // Missing, zero or negative required limits (not requests above limits).
                "require-limits" => resources
                    .iter()
                    .any(|res| f.path.ends_with(&format!(".resources.limits.{res}"))),
                "pod-security" => {
                    [
                        "hostNetwork",
                        "hostPID",
                        "hostIPC",
                        "securityContext.privileged",
                    ]
                    .iter()
                    .any(|s| f.path.ends_with(s))
                        || f.path.contains("hostPath")
                }
                "namespace-ownership" => f.path == "metadata.labels.tenantguard.io/tenant",
                _ => true,
            }
    }))
}

pub struct World {
    pub set: PolicySet,
    pub inv: Inventory,
    pub engine: Engine,
    pub objects: Vec<Value>,
}

impl World {
    pub fn new(yaml: &str) -> World {
        let set = if yaml.is_empty() {
            PolicySet::default()
        } else {
            policies(yaml)
        };
        let mut inv = Inventory::default();
        for t in &set.tenants {
            inv.add_tenant(t);
        }
        for (ns, tenant) in [
            ("acme-prod", Some("acme")),
            ("wild-prod", Some("wild")),
            ("platform-tools", None),
            ("kube-system", Some("acme")),
        ] {
            inv.add_namespace(ns, tenant);
        }
        let objects = vap::generate(&set, &inv, &options());
        let engine = Engine::new(set.clone(), Identity::default());
        World {
            set,
            inv,
            engine,
            objects,
        }
    }

    /// The rules whose fallback policy denies `r`; asserts agreement with
    /// the engine for every rule the engine has.
    pub fn fallback_denies(&self, what: &str, r: &Req) -> Vec<String> {
        let mut denied = Vec::new();
        for (rule, verdict) in verdicts(&self.objects, r) {
            if verdict == Verdict::NotCovered {
                continue;
            }
            let cel_denies = verdict.denies();
            if let Some(engine) = engine_denies(&self.engine, &self.inv, &self.set, r, rule) {
                assert_eq!(
                    cel_denies,
                    engine,
                    "{what}: the fallback's {rule} {} but the engine {} ({verdict:?})",
                    if cel_denies { "denies" } else { "admits" },
                    if engine { "denies" } else { "admits" },
                );
            }
            if cel_denies {
                denied.push(rule.to_string());
            }
        }
        denied
    }
}

/// A request from a captured fixture (review or bare request), moved into
/// the tenant namespace `acme-prod`.
fn fixture(path: &Path) -> Req {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = if v.get("request").is_some() {
        v["request"].clone()
    } else {
        v
    };
    let s = |p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let kind = s("/kind/kind");
    let mut object = r["object"].clone();
    let mut old_object = r["oldObject"].clone();
    let namespace = if kind == "Namespace" {
        s("/name")
    } else {
        for o in [&mut object, &mut old_object] {
            if o.is_object() {
                o["metadata"]["namespace"] = json!("acme-prod");
            }
        }
        "acme-prod".to_string()
    };
    Req {
        operation: s("/operation"),
        group: s("/kind/group"),
        kind,
        resource: s("/resource/resource"),
        subresource: s("/subResource"),
        name: s("/name"),
        namespace: namespace.clone(),
        username: s("/userInfo/username"),
        groups: r
            .pointer("/userInfo/groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        object,
        old_object,
        namespace_labels: json!({"kubernetes.io/metadata.name": namespace, "tenantguard.io/tenant": "acme"}),
    }
}

#[test]
fn fallback_agrees_with_the_engine_on_captured_requests() {
    // The fallback's expected denials for each captured request in a tenant
    // namespace (read from the fixtures themselves).
    let expected: &[(&str, &[&str])] = &[
        (
            "deployment/create-customer-namespace-labels.json",
            &["require-limits"],
        ),
        (
            "deployment/create-hostnetwork-hostpid.json",
            &["require-limits", "pod-security"],
        ),
        ("deployment/create-kubectl-apply.json", &["require-limits"]),
        ("deployment/create-no-resources.json", &["require-limits"]),
        ("deployment/create-with-limits.json", &[]),
        ("deployment/delete-with-oldobject.json", &[]),
        ("deployment/review-create-minimal.json", &["require-limits"]),
        ("deployment/update-kubectl-patch.json", &["require-limits"]),
        ("namespace/create-no-labels.json", &[]),
        ("namespace/create-partial-request-fields.json", &[]),
        ("namespace/create-psa-labels.json", &[]),
        ("namespace/create-rancher-project-annotations.json", &[]),
        (
            "pod/create-by-replicaset-controller.json",
            &["require-limits"],
        ),
        (
            "pod/create-ephemeral-container.json",
            &["require-limits", "pod-security"],
        ),
        (
            "pod/create-hostnetwork-hostpid.json",
            &["require-limits", "pod-security"],
        ),
        (
            "pod/create-hostpath-volumes-two-init.json",
            &["require-limits", "pod-security"],
        ),
        (
            "pod/create-privileged-init-container.json",
            &["require-limits", "pod-security"],
        ),
        ("pod/create-runtimeclass.json", &["require-limits"]),
        (
            "pod/create-sidecar-and-init-container.json",
            &["require-limits"],
        ),
        ("pod/create-sysctls.json", &["require-limits"]),
        (
            "pod/create-two-containers-no-resources-minimal.json",
            &["require-limits"],
        ),
        ("pod/create-two-containers-with-resources.json", &[]),
        ("pod/delete-with-oldobject.json", &[]),
        (
            "pod/review-create-load-test-template.json",
            &["require-limits", "pod-security"],
        ),
        (
            "pod/review-create-two-containers.json",
            &["require-limits", "pod-security"],
        ),
        ("service/create-clusterip.json", &[]),
        ("service/create-loadbalancer.json", &["service-types"]),
        ("service/create-nodeport.json", &["service-types"]),
        (
            "service/review-create-loadbalancer.json",
            &["service-types"],
        ),
    ];
    let world = World::new("");
    let dir = repo().join("tests/fixtures/real");
    let mut seen = 0;
    for (file, want) in expected {
        let r = fixture(&dir.join(file));
        let got = world.fallback_denies(file, &r);
        assert_eq!(got, *want, "{file}: the fallback denies {got:?}");
        seen += 1;
    }
    // Every captured Pod, workload, Service and Namespace request is listed.
    let mut all = 0;
    for kind in ["pod", "deployment", "service", "namespace"] {
        all += std::fs::read_dir(dir.join(kind)).unwrap().count();
    }
    assert_eq!(
        seen, all,
        "a fixture under tests/fixtures/real is missing from the table"
    );
}
