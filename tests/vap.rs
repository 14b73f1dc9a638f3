//! `tenantguard vap`, the CEL fallback.
//!
//! - The chart's `files/vap.yaml` is the generator's output for the chart's
//!   policies (fails when they drift; to fix:
//!   `cargo run -- vap --policies charts/tenantguard/policies > charts/tenantguard/files/vap.yaml`).
//! - Policies shape the output: `Off` rules give nothing, `Warn` binds with
//!   `[Warn]`, exclusions become matchConditions and namespace exclusions.
//! - Agreement: every generated expression is evaluated with a CEL
//!   interpreter on the captured requests in `tests/fixtures/real` and on
//!   hand-made ones, and must agree with the engine's verdict for the checks
//!   it covers. `pod-security` and `service-types` are compared with the
//!   engine once this build has them (their issues add them); every case
//!   also states the fallback's expected verdict, so both are always tested.

#[path = "vap/agreement.rs"]
mod agreement;
#[path = "vap/cases.rs"]
mod cases;
#[path = "vap/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use tenantguard::policy::{load_sources, PolicySet};
use tenantguard::tenancy::Inventory;
use tenantguard::vap;

use agreement::{engine_denies, World};
use cases::{container, pod_req};
use harness::{rule_of, verdicts, Req, Verdict};

const COMMITTED: &str = "charts/tenantguard/files/vap.yaml";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn options() -> vap::Options {
    vap::Options {
        own_namespace: "tenantguard-system".into(),
    }
}

fn generate(set: &PolicySet) -> Vec<Value> {
    let mut inv = Inventory::default();
    for t in &set.tenants {
        inv.add_tenant(t);
    }
    vap::generate(set, &inv, &options())
}

fn policies(yaml: &str) -> PolicySet {
    load_sources([("test.yaml", yaml)]).expect("test policies load")
}

#[test]
fn committed_fallback_matches_the_generator() {
    let set = tenantguard::policy::load_dir(&repo().join("charts/tenantguard/policies"))
        .expect("the chart's policies load");
    let generated = vap::to_yaml(&generate(&set)).expect("YAML");
    let committed = std::fs::read_to_string(repo().join(COMMITTED)).expect("the committed file");
    assert!(
        committed == generated,
        "{COMMITTED} differs from `tenantguard vap` for the chart's policies: regenerate it with \
         `cargo run -- vap --policies charts/tenantguard/policies > {COMMITTED}`"
    );
}

#[test]
fn cli_prints_the_same_objects() {
    let bin = env!("CARGO_BIN_EXE_tenantguard");
    let out = Command::new(bin)
        .args(["vap", "--policies"])
        .arg(repo().join("policies"))
        .output()
        .expect("run tenantguard vap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(repo().join(COMMITTED)).expect("the committed file");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "`tenantguard vap --policies policies` differs from {COMMITTED} (policies/ and the chart's copy must match)"
    );
    // A bad policies directory is exit 2 with the file named.
    let dir = std::env::temp_dir().join(format!("tg-vap-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.yaml"), "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: x}\nspec: {rule: no-such-rule}\n").unwrap();
    let out = Command::new(bin)
        .args(["vap", "--policies"])
        .arg(&dir)
        .output()
        .expect("run tenantguard vap");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml"));
}

fn by_rule<'a>(objects: &'a [Value], kind: &str, rule: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && rule_of(o) == rule)
}

#[test]
fn default_policies_cover_the_four_checks() {
    let objects = generate(&PolicySet::default());
    let rules: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "ValidatingAdmissionPolicy")
        .map(rule_of)
        .collect();
    assert_eq!(
        rules,
        [
            "require-limits",
            "pod-security",
            "service-types",
            "namespace-ownership"
        ]
    );
    for o in &objects {
        assert_eq!(o["apiVersion"], "admissionregistration.k8s.io/v1");
        let rule = rule_of(o);
        assert_eq!(o["metadata"]["name"], format!("tenantguard-{rule}"));
        if o["kind"] == "ValidatingAdmissionPolicy" {
            assert_eq!(o["spec"]["failurePolicy"], "Fail");
            for v in o["spec"]["validations"].as_array().unwrap() {
                assert!(
                    v["message"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("[{rule}] ")),
                    "{v}"
                );
            }
        } else {
            assert_eq!(o["spec"]["validationActions"], json!(["Deny"]));
            assert_eq!(o["spec"]["policyName"], o["metadata"]["name"]);
            let sel = &o["spec"]["matchResources"]["namespaceSelector"];
            if rule == "namespace-ownership" {
                assert!(
                    sel.is_null(),
                    "the Namespace policy binds every namespace: {sel}"
                );
            } else {
                let exprs = sel["matchExpressions"].as_array().unwrap();
                assert!(
                    exprs.contains(&json!({"key": "tenantguard.io/tenant", "operator": "Exists"}))
                );
                assert!(exprs.contains(&json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                    "values": ["kube-node-lease", "kube-public", "kube-system", "tenantguard-system"]})));
            }
        }
    }
}

#[test]
fn policies_shape_the_fallback() {
    let set = policies(
        r#"
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: require-limits}
spec:
  rule: require-limits
  action: Warn
  params: {resources: [memory]}
  exclude: {namespaces: [acme-batch], users: [ci-bot], groups: [platform]}
---
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: namespace-ownership}
spec: {rule: namespace-ownership, action: Off}
---
apiVersion: tenantguard.io/v1alpha1
kind: Settings
spec:
  exemptNamespaces: [kube-system, infra]
  admins: {users: [root], groups: []}
"#,
    );
    let objects = generate(&set);
    assert!(by_rule(&objects, "ValidatingAdmissionPolicy", "namespace-ownership").is_none());
    assert!(by_rule(
        &objects,
        "ValidatingAdmissionPolicyBinding",
        "namespace-ownership"
    )
    .is_none());
    let binding = by_rule(
        &objects,
        "ValidatingAdmissionPolicyBinding",
        "require-limits",
    )
    .unwrap();
    assert_eq!(binding["spec"]["validationActions"], json!(["Warn"]));
    let exprs = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"].clone();
    assert!(exprs.as_array().unwrap().contains(&json!({"key": "kubernetes.io/metadata.name",
        "operator": "NotIn", "values": ["acme-batch", "infra", "kube-system", "tenantguard-system"]})), "{exprs}");
    let policy = by_rule(&objects, "ValidatingAdmissionPolicy", "require-limits").unwrap();
    let message = policy["spec"]["validations"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("resources.limits.memory") && !message.contains("cpu"),
        "{message}"
    );
    assert_eq!(policy["spec"]["matchConditions"][0]["name"], "not-excluded");
    // Rules this build does not know yet keep their defaults: on, Deny.
    let ps = by_rule(&objects, "ValidatingAdmissionPolicyBinding", "pod-security").unwrap();
    assert_eq!(ps["spec"]["validationActions"], json!(["Deny"]));
}

#[test]
fn exclusions_and_actions_agree_with_the_engine() {
    let world = World::new(
        r#"
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: require-limits}
spec:
  rule: require-limits
  action: Warn
  params: {resources: [memory]}
  exclude: {namespaces: [acme-batch], users: [ci-bot], groups: [builders]}
"#,
    );
    let bare = json!({"containers": [container("app", json!({"cpu": "1"}))]});
    let mut by_bot = pod_req("acme-prod", bare.clone());
    by_bot.username = "ci-bot".into();
    let mut by_group = pod_req("acme-prod", bare.clone());
    by_group.groups.push("builders".into());
    let mut in_batch = pod_req("acme-prod", bare.clone());
    in_batch.namespace = "acme-batch".into();
    in_batch.namespace_labels["kubernetes.io/metadata.name"] = json!("acme-batch");
    let mut inv_batch = world.inv.clone();
    inv_batch.add_namespace("acme-batch", Some("acme"));
    let cpu_only = pod_req(
        "acme-prod",
        json!({"containers": [container("app", json!({"memory": "1Gi"}))]}),
    );
    let cases: Vec<(&str, Req, bool)> = vec![
        (
            "memory limit missing",
            pod_req("acme-prod", bare.clone()),
            true,
        ),
        ("only memory is required", cpu_only, false),
        ("excluded user", by_bot, false),
        ("excluded group", by_group, false),
    ];
    for (what, r, want) in &cases {
        let got = world.fallback_denies(what, r);
        assert_eq!(
            got.contains(&"require-limits".to_string()),
            *want,
            "{what}: {got:?}"
        );
    }
    // The excluded namespace: the binding leaves it out, the engine skips it.
    let verdict = verdicts(&world.objects, &in_batch);
    assert!(
        verdict
            .iter()
            .any(|(rule, v)| *rule == "require-limits" && *v == Verdict::NotApplied),
        "{verdict:?}"
    );
    let engine = engine_denies(
        &world.engine,
        &inv_batch,
        &world.set,
        &in_batch,
        "require-limits",
    );
    assert_eq!(engine, Some(false));
    // Warn binds with [Warn], as the engine warns instead of denying.
    let b = by_rule(
        &world.objects,
        "ValidatingAdmissionPolicyBinding",
        "require-limits",
    )
    .unwrap();
    assert_eq!(b["spec"]["validationActions"], json!(["Warn"]));
}
