//! Red team (p19d): the command line as DESIGN.md "Command line" and
//! "Policy files" name it, written from DESIGN.md alone: `check`'s input
//! forms, requester flags, output contract and exit codes; `audit`; `review`;
//! `vap`; `certs`; bad policy files.

mod common;

use common::{keys, tg, Run};
use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

/// Two declared tenants: acme (owners: group acme-admins, containerDefaults)
/// and globex (no defaults); a platform namespace.
const TENANCY: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: Group, name: acme-admins}, {kind: User, name: alice}]
  containerDefaults:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 512Mi}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  owners: [{kind: Group, name: globex-admins}]
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-prod, labels: {tenantguard.io/tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: globex-prod, labels: {tenantguard.io/tenant: globex}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
";

/// A compliant, already-labelled pod of globex: nothing to add, nothing wrong.
const GOOD_POD: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: globex-prod, labels: {tenantguard.io/tenant: globex}}
spec:
  containers:
  - name: app
    image: nginx
    resources: {limits: {cpu: 100m, memory: 64Mi}}
";

/// A globex pod without limits (globex has no containerDefaults).
const BAD_POD: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: globex-prod, labels: {tenantguard.io/tenant: globex}}
spec:
  containers:
  - name: app
    image: nginx
";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tenancy.yaml"), TENANCY).unwrap();
        Env { dir }
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
    fn inv(&self) -> String {
        self.dir
            .path()
            .join("tenancy.yaml")
            .to_str()
            .unwrap()
            .to_string()
    }
    /// `<verb> --policies policies --inventory <tenancy> <extra>`.
    fn run(&self, verb: &str, extra: &[&str], stdin: Option<&str>) -> Run {
        let inv = self.inv();
        let mut args = vec![verb, "--policies", "policies", "--inventory", &inv];
        args.extend_from_slice(extra);
        tg(&args, stdin)
    }
}

fn results(report: &Value) -> &Vec<Value> {
    report["results"].as_array().unwrap()
}

fn by_name<'a>(report: &'a Value, name: &str) -> &'a Value {
    results(report)
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name} in {report:#}"))
}

fn deny_rules(r: &Value) -> Vec<&str> {
    r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["action"] == "Deny")
        .map(|v| v["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn check_reads_every_input_form_with_sources() {
    let env = Env::new();
    let a = env.write("a.yaml", GOOD_POD);
    // Multi-document with an empty document and a comment in between: the
    // documents still count from 1 by position.
    let multi = env.write(
        "multi.yaml",
        &format!("{GOOD_POD}---\n# a comment only\n---\n{}", BAD_POD),
    );
    // A List object holding two items.
    let list = env.write(
        "dir/list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s1, namespace: globex-prod, labels: {tenantguard.io/tenant: globex}}, spec: {ports: [{port: 80}]}}\n- {apiVersion: v1, kind: Service, metadata: {name: s2, namespace: globex-prod, labels: {tenantguard.io/tenant: globex}}, spec: {ports: [{port: 80}]}}\n",
    );
    let dir = env.dir.path().join("dir");
    env.write(
        "dir/one.yml",
        &GOOD_POD.replace("name: good", "name: in-dir"),
    );
    let run = env.run(
        "check",
        &[
            "-f",
            &a,
            "-f",
            &multi,
            "-f",
            dir.to_str().unwrap(),
            "-f",
            "-",
            "-o",
            "json",
        ],
        Some(&GOOD_POD.replace("name: good", "name: from-stdin")),
    );
    assert_eq!(
        run.code, 1,
        "one denied object: {}{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    let got: BTreeSet<(String, String)> = results(&report)
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let one = dir.join("one.yml");
    let want: BTreeSet<(String, String)> = [
        (format!("{a}#1"), "good"),
        (format!("{multi}#1"), "good"),
        (format!("{list}#1"), "s1"),
        (format!("{list}#1"), "s2"),
        (format!("{}#1", one.to_str().unwrap()), "in-dir"),
        ("-#1".to_string(), "from-stdin"),
    ]
    .into_iter()
    .map(|(s, n)| (s, n.to_string()))
    .collect();
    for w in &want {
        assert!(got.contains(w), "missing {w:?} in {got:#?}");
    }
    // The bad pod is the 2nd (or, counting the comment-only document, 3rd)
    // document of multi.yaml; DESIGN: N-th document. Accept either but it
    // must be of that file.
    let bad = by_name(&report, "bad");
    let src = bad["source"].as_str().unwrap();
    assert!(
        src == format!("{multi}#2") || src == format!("{multi}#3"),
        "{src}"
    );
    assert_eq!(results(&report).len(), 7, "{report:#}");
    // Inventory objects (Tenants, Namespaces) are context, not results.
    assert!(results(&report)
        .iter()
        .all(|r| r["kind"] != "Namespace" && r["kind"] != "Tenant"));
    assert_eq!(
        report["summary"],
        json!({"objects": 7, "denied": 1, "warned": 0})
    );
}

#[test]
fn check_json_contract_paths_tenant_and_patch() {
    let env = Env::new();
    let deploy = env.write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: globex-prod, labels: {tenantguard.io/tenant: globex}}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api, tenantguard.io/tenant: globex}}\n    spec:\n      containers:\n      - {name: ok, image: nginx, resources: {limits: {cpu: 100m, memory: 64Mi}}}\n      - {name: nocpu, image: nginx, resources: {limits: {memory: 64Mi}}}\n",
    );
    let platform = env.write(
        "platform.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: plat, namespace: monitoring}\nspec: {containers: [{name: a, image: nginx}]}\n",
    );
    let good = env.write("good.yaml", GOOD_POD);
    let mutated = env.write(
        "mutated.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: mut, namespace: acme-prod}\nspec: {containers: [{name: a, image: nginx}]}\n",
    );
    let run = env.run(
        "check",
        &[
            "-f", &deploy, "-f", &platform, "-f", &good, "-f", &mutated, "--output", "json",
        ],
        None,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(keys(&report), BTreeSet::from(["results", "summary"]));
    for r in results(&report) {
        assert_eq!(
            keys(r),
            BTreeSet::from([
                "source",
                "kind",
                "namespace",
                "name",
                "tenant",
                "allowed",
                "violations",
                "warnings",
                "patch"
            ]),
            "{r:#}"
        );
        assert!(r["warnings"].is_array() && r["patch"].is_array(), "{r:#}");
    }
    let api = by_name(&report, "api");
    assert_eq!(api["kind"], "Deployment");
    assert_eq!(api["namespace"], "globex-prod");
    assert_eq!(api["tenant"], "globex");
    assert_eq!(api["allowed"], false);
    let v = &api["violations"][0];
    assert_eq!(
        keys(v),
        BTreeSet::from(["rule", "action", "path", "message"])
    );
    assert_eq!(v["rule"], "require-limits");
    assert_eq!(v["action"], "Deny");
    assert_eq!(
        v["path"],
        "spec.template.spec.containers[1].resources.limits.cpu"
    );
    assert_eq!(api["violations"].as_array().unwrap().len(), 1, "{api:#}");

    // Outside tenant namespaces: tenant is null (not "", not absent), no rule.
    let plat = by_name(&report, "plat");
    assert_eq!(plat["tenant"], Value::Null);
    assert_eq!(plat["allowed"], true);
    assert_eq!(plat["patch"], json!([]));

    // Nothing to change: patch is [].
    let g = by_name(&report, "good");
    assert_eq!((&g["allowed"], &g["patch"]), (&json!(true), &json!([])));

    // A pod of acme gets its label and defaults, then validates: admitted,
    // with an RFC 6902 patch.
    let m = by_name(&report, "mut");
    assert_eq!(m["allowed"], true, "{m:#}");
    let ops = m["patch"].as_array().unwrap();
    assert!(!ops.is_empty());
    for op in ops {
        assert!(op["op"].is_string() && op["path"].as_str().unwrap().starts_with('/'));
    }
    // Applying the patch gives a labelled pod.
    let mut obj: Value = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "mut", "namespace": "acme-prod"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let patch: json_patch::Patch = serde_json::from_value(m["patch"].clone()).unwrap();
    json_patch::patch(&mut obj, &patch).unwrap();
    assert_eq!(obj["metadata"]["labels"]["tenantguard.io/tenant"], "acme");
    assert_eq!(
        obj["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    assert_eq!(
        report["summary"],
        json!({"objects": 4, "denied": 1, "warned": 0})
    );

    // All admitted: exit 0; text output is the default and names nothing denied.
    let ok = env.run("check", &["-f", &good], None);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let text = env.run("check", &["-f", &deploy, "--output", "text"], None);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("require-limits")
            && text.stdout.contains("spec.template.spec.containers[1]"),
        "{}",
        text.stdout
    );
}

#[test]
fn check_warn_and_audit_actions_admit_and_exit_0() {
    let env = Env::new();
    let pol = env.dir.path().join("pol");
    std::fs::create_dir(&pol).unwrap();
    copy_policies(&pol);
    let bad = env.write("bad.yaml", BAD_POD);
    let inv = env.inv();
    // Warn admits with a warning and counts as warned; Audit admits
    // silently: the violation is listed, no warning, not warned.
    for (action, warned) in [("Warn", 1), ("Audit", 0)] {
        std::fs::write(
            pol.join("require-limits.yaml"),
            format!("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {{name: require-limits}}\nspec: {{rule: require-limits, action: {action}}}\n"),
        )
        .unwrap();
        let args = [
            "check",
            "--policies",
            pol.to_str().unwrap(),
            "--inventory",
            &inv,
        ];
        let run = tg(&[&args[..], &["-f", &bad, "-o", "json"]].concat(), None);
        assert_eq!(run.code, 0, "{action} admits: {}{}", run.stdout, run.stderr);
        let report = run.json();
        let r = by_name(&report, "bad");
        assert_eq!(r["allowed"], true);
        assert_eq!(r["violations"][0]["action"], action);
        assert_eq!(
            r["warnings"].as_array().unwrap().is_empty(),
            warned == 0,
            "{r:#}"
        );
        assert_eq!(
            report["summary"],
            json!({"objects": 1, "denied": 0, "warned": warned})
        );
    }
}

fn copy_policies(to: &Path) {
    for e in std::fs::read_dir(common::repo().join("policies")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn check_requester_flags() {
    let env = Env::new();
    let ns = env.write(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: acme-dev, labels: {tenantguard.io/tenant: acme}}\n",
    );
    let cases: Vec<(&str, Vec<&str>, bool)> = vec![
        ("no --as: an admin", vec![], true),
        ("a stranger", vec!["--as", "bob"], false),
        ("owner by user", vec!["--as", "alice"], true),
        (
            "owner by group, --as-group repeatable",
            vec![
                "--as",
                "carol",
                "--as-group",
                "devs",
                "--as-group",
                "acme-admins",
            ],
            true,
        ),
        (
            "another tenant's owner",
            vec!["--as", "dave", "--as-group", "globex-admins"],
            false,
        ),
    ];
    for (what, flags, allowed) in cases {
        let mut args = vec!["-f", ns.as_str(), "-o", "json"];
        args.extend(flags);
        let run = env.run("check", &args, None);
        assert_eq!(
            run.code,
            if allowed { 0 } else { 1 },
            "{what}: {}{}",
            run.stdout,
            run.stderr
        );
        let report = run.json();
        let r = by_name(&report, "acme-dev");
        assert_eq!(r["allowed"], allowed, "{what}: {r:#}");
        if !allowed {
            assert!(
                deny_rules(r).contains(&"namespace-ownership"),
                "{what}: {r:#}"
            );
        }
    }
}

#[test]
fn check_usage_and_input_errors_are_exit_2() {
    let env = Env::new();
    let good = env.write("good.yaml", GOOD_POD);
    let bad_yaml = env.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
    );
    let missing = env.dir.path().join("nope.yaml");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("bad YAML", vec!["-f", &bad_yaml]),
        ("missing file", vec!["-f", missing]),
        ("unknown flag", vec!["-f", &good, "--frobnicate"]),
        ("unknown output", vec!["-f", &good, "--output", "yaml"]),
        ("-f without a value", vec!["-f"]),
    ];
    for (what, extra) in cases {
        let run = env.run("check", &extra, None);
        assert_eq!(run.code, 2, "{what}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty(), "{what}: says why");
    }
    // An unknown verb is a usage error too.
    assert_eq!(tg(&["frobnicate"], None).code, 2);
    // Missing file in audit: same codes.
    let run = env.run("audit", &["-f", missing], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = env.run("audit", &["-f", &good, "--output", "xml"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[path = "redteam_cli/other_commands.rs"]
mod other_commands;
