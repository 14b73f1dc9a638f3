//! `tenantguard check` as a CI job runs it: the real binary over
//! `tests/fixtures/manifests/` (mixed good and bad manifests with their
//! tenancy), every input form, every flag, the JSON contract, the text report
//! (compared with `tests/snapshots/`) and the exit codes 0/1/2.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test check_cli` rewrites the snapshot
//! after an intended change of the text report; review the diff.

#[path = "check_cli/allow_lists.rs"]
mod allow_lists;
#[path = "check_cli/bad_input.rs"]
mod bad_input;
mod common;

use common::{keys, tg, Run};
use std::collections::BTreeSet;

use serde_json::{json, Value};

const DIR: &str = "tests/fixtures/manifests";
const TENANCY: &str = "tests/fixtures/manifests/tenancy.yaml";

fn check(extra: &[&str], stdin: Option<&str>) -> Run {
    let mut args = vec!["check", "--policies", "policies"];
    args.extend_from_slice(extra);
    tg(&args, stdin)
}

fn result<'a>(report: &'a Value, source: &str, name: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == source && r["name"] == name)
        .unwrap_or_else(|| panic!("no result {source} {name} in {report:#}"))
}

fn rules(r: &Value) -> Vec<&str> {
    r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect()
}

/// Compares `actual` with the snapshot file, or rewrites the file when
/// `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(name: &str, actual: &str) {
    let path = common::repo().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} cannot be read ({e}); create it with UPDATE_SNAPSHOTS=1 cargo test --test check_cli",
            path.display()
        )
    });
    if expected != actual {
        let mut diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(10)
            .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
            .collect();
        if diff.is_empty() {
            let shorter = expected.lines().count().min(actual.lines().count());
            diff.push(format!(
                "the first {shorter} lines agree; one has more lines (or the line endings differ)"
            ));
        }
        panic!(
            "the text report differs from snapshot {} ({} vs {} lines); first differences:\n{}\n\nwhole output:\n{actual}\nIf the change is intended: UPDATE_SNAPSHOTS=1 cargo test --test check_cli, then review the diff.",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn mixed_directory_text_report_matches_the_snapshot() {
    let run = check(&["-f", DIR], None);
    assert_eq!(run.code, 1, "a denied object means exit 1: {}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_snapshot("check_manifests.txt", &run.stdout);
}

#[test]
fn mixed_directory_json_report_has_exactly_the_contract() {
    let run = check(&["-f", DIR, "-o", "json"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(keys(&report), BTreeSet::from(["results", "summary"]));
    let result_keys = BTreeSet::from([
        "source",
        "kind",
        "namespace",
        "name",
        "tenant",
        "allowed",
        "violations",
        "warnings",
        "patch",
    ]);
    let results = report["results"].as_array().unwrap();
    for r in results {
        assert_eq!(keys(r), result_keys, "{r:#}");
        let source = r["source"].as_str().unwrap();
        let (file, n) = source.rsplit_once('#').unwrap();
        assert!(
            file.starts_with(DIR) && n.parse::<usize>().unwrap() >= 1,
            "{source}"
        );
        assert!(r["tenant"].is_null() || r["tenant"].is_string(), "{r:#}");
        for v in r["violations"].as_array().unwrap() {
            assert_eq!(
                keys(v),
                BTreeSet::from(["rule", "action", "path", "message"])
            );
        }
        for op in r["patch"].as_array().unwrap() {
            assert!(op["path"].as_str().unwrap().starts_with('/'), "{op}");
        }
        // A denied object always says why.
        assert_eq!(
            r["allowed"] == false,
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["action"] == "Deny"),
            "{r:#}"
        );
    }
    assert_eq!(
        keys(&report["summary"]),
        BTreeSet::from(["objects", "denied", "warned"])
    );
    assert_eq!(
        report["summary"],
        json!({"objects": 24, "denied": 8, "warned": 0})
    );
    assert_eq!(results.len(), 24);

    // Nothing to change: `patch` is [] (not null, not absent).
    let web = result(&report, "tests/fixtures/manifests/good/pod.yaml#1", "web");
    assert_eq!((&web["allowed"], &web["patch"]), (&json!(true), &json!([])));
    assert_eq!(web["tenant"], "acme");

    // The mutation first, then validation of the mutated object.
    let api = result(
        &report,
        "tests/fixtures/manifests/good/deployment.yaml#1",
        "api",
    );
    assert_eq!(api["allowed"], true);
    assert!(api["patch"]
        .as_array()
        .unwrap()
        .contains(&json!({"op": "add", "path": "/spec/template/spec/containers/0/resources",
            "value": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}})));

    let batch = result(
        &report,
        "tests/fixtures/manifests/bad/pod-without-limits.yaml#1",
        "batch",
    );
    assert_eq!(batch["allowed"], false);
    assert_eq!(batch["tenant"], "globex");
    assert_eq!(
        batch["violations"][0],
        json!({"rule": "require-limits", "action": "Deny", "path": "spec.containers[0].resources.limits.cpu",
            "message": "spec.containers[0] \"batch\": resources.limits.cpu is not set; set it (or declare containerDefaults for the tenant so it is filled in)"})
    );
    let open = result(
        &report,
        "tests/fixtures/manifests/bad/networkpolicy-open-egress.yaml#1",
        "allow-all-egress",
    );
    assert_eq!(
        rules(open),
        [
            "cross-tenant-selectors",
            "restrict-egress",
            "restrict-egress"
        ]
    );
    let mitm = result(
        &report,
        "tests/fixtures/manifests/bad/service-cross-tenant.yaml#2",
        "mitm",
    );
    assert_eq!(rules(mitm), ["cross-tenant-selectors"]);
    let agent = result(
        &report,
        "tests/fixtures/manifests/bad/deployment-host-network.yaml#1",
        "agent",
    );
    // hostNetwork: restrict-egress and pod-security both report it (DESIGN).
    assert_eq!(
        rules(agent),
        ["restrict-egress", "vault-boundaries", "pod-security"]
    );

    // Outside tenant namespaces the tenant is null and nothing is judged.
    for (source, name, namespace) in [
        (
            "tests/fixtures/manifests/mixed.yaml#1",
            "coredns-extra",
            "kube-system",
        ),
        (
            "tests/fixtures/manifests/mixed.yaml#2",
            "scrape-config",
            "monitoring",
        ),
        ("tests/fixtures/manifests/mixed.yaml#3", "widget-reader", ""),
        (
            "tests/fixtures/manifests/mixed.yaml#4",
            "settings",
            "default",
        ),
    ] {
        let r = result(&report, source, name);
        assert_eq!(
            (&r["namespace"], &r["tenant"], &r["allowed"], &r["patch"]),
            (&json!(namespace), &Value::Null, &json!(true), &json!([])),
            "{r:#}"
        );
    }
    // List items share their List's source; an unknown kind is judged by its labels.
    let gadget = result(&report, "tests/fixtures/manifests/mixed.yaml#2", "gadget");
    assert_eq!(
        (&gadget["kind"], &gadget["allowed"]),
        (&json!("Widget"), &json!(true))
    );
    let claim = result(&report, "tests/fixtures/manifests/mixed.yaml#2", "claim");
    assert_eq!(rules(claim), ["cross-tenant-selectors"]);
    let initech = result(
        &report,
        "tests/fixtures/manifests/bad/namespace-undeclared-tenant.yaml#1",
        "initech-prod",
    );
    assert_eq!(rules(initech), ["namespace-ownership"]);
}

#[test]
fn exit_codes() {
    let good = check(
        &[
            "-f",
            "tests/fixtures/manifests/good",
            "--inventory",
            TENANCY,
        ],
        None,
    );
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout
            .ends_with("6 object(s): 6 allowed, 0 denied, 0 with warnings\n"),
        "{}",
        good.stdout
    );
    let bad = check(
        &[
            "-f",
            "tests/fixtures/manifests/bad/pod-without-limits.yaml",
            "--inventory",
            TENANCY,
        ],
        None,
    );
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    let usage = check(&["-f", DIR, "--output", "yaml"], None);
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.contains("invalid value 'yaml' for '--output"),
        "{}",
        usage.stderr
    );
    assert_eq!(tg(&["check"], None).code, 2);
}

#[test]
fn repeatable_f_with_files_directories_and_stdin() {
    let stdin = "apiVersion: v1\nkind: Pod\nmetadata: {name: from-stdin, namespace: acme-prod}\nspec: {containers: [{name: a}]}\n---\n# a comment only\n---\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: listed, namespace: globex-prod}\n  spec: {containers: [{name: b}]}\n";
    let run = check(
        &[
            "-f",
            "tests/fixtures/manifests/good/pod.yaml",
            "-f",
            "tests/fixtures/manifests/bad",
            "-f",
            "-",
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        Some(stdin),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let got: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["source"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("tests/fixtures/manifests/good/pod.yaml#1", "web"),
            (
                "tests/fixtures/manifests/bad/deployment-host-network.yaml#1",
                "agent"
            ),
            (
                "tests/fixtures/manifests/bad/namespace-undeclared-tenant.yaml#1",
                "initech-prod"
            ),
            (
                "tests/fixtures/manifests/bad/networkpolicy-open-egress.yaml#1",
                "allow-all-egress"
            ),
            (
                "tests/fixtures/manifests/bad/pod-privileged.yaml#1",
                "node-shell"
            ),
            (
                "tests/fixtures/manifests/bad/pod-without-limits.yaml#1",
                "batch"
            ),
            (
                "tests/fixtures/manifests/bad/service-cross-tenant.yaml#1",
                "steal"
            ),
            (
                "tests/fixtures/manifests/bad/service-cross-tenant.yaml#2",
                "mitm"
            ),
            ("-#1", "from-stdin"),
            ("-#2", "listed"),
        ]
    );
    // acme's defaults complete the stdin pod; globex has none.
    assert_eq!(result(&report, "-#1", "from-stdin")["allowed"], true);
    assert_eq!(
        rules(result(&report, "-#2", "listed")),
        ["require-limits", "require-limits"]
    );
}

#[test]
fn tenancy_from_the_input_from_inventory_and_namespace_flag() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n";
    // No tenancy at all: nothing is a tenant namespace, and the report says so.
    let none = check(&["-f", "-"], Some(pod));
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stdout
            .contains("note  not judged: namespace \"default\" has no tenantguard.io/tenant label"),
        "{}",
        none.stdout
    );
    assert!(
        none.stdout
            .contains("note: no object is in a tenant namespace"),
        "{}",
        none.stdout
    );
    // --namespace places the object; --inventory says whose namespace it is.
    let inv = check(
        &[
            "-f",
            "-",
            "-n",
            "globex-prod",
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        Some(pod),
    );
    assert_eq!(inv.code, 1, "{}", inv.stderr);
    let r = &inv.json()["results"][0];
    assert_eq!(
        (&r["namespace"], &r["tenant"]),
        (&json!("globex-prod"), &json!("globex"))
    );
    // The same tenancy given as Namespaces and Tenants in the input.
    let input = format!(
        "{}---\n{pod}",
        std::fs::read_to_string(common::repo().join(TENANCY)).unwrap()
    );
    let run = check(&["-f", "-", "-n", "acme-prod", "-o", "json"], Some(&input));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = result(&run.json(), "-#6", "p").clone();
    assert_eq!(r["tenant"], "acme");
    assert!(
        !r["patch"].as_array().unwrap().is_empty(),
        "acme's containerDefaults apply: {r:#}"
    );
    // An object's own namespace wins over --namespace.
    let own = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: acme-prod}\n";
    let run = check(
        &[
            "-f",
            "-",
            "-n",
            "globex-prod",
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        Some(own),
    );
    assert_eq!(run.json()["results"][0]["namespace"], "acme-prod");
}

#[test]
fn as_and_as_group_name_the_requester() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: acme-dev}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: acme-dev}\nspec: {containers: [{name: a}]}\n";
    let inv = ["--inventory", TENANCY, "-o", "json", "-f", "-"];
    // An owner's new namespace gets the tenant label, and its pods are acme's.
    let mut args = vec!["--as", "alice", "--as-group", "acme-admins"];
    args.extend_from_slice(&inv);
    let alice = check(&args, Some(ns));
    assert_eq!(alice.code, 0, "{}", alice.stderr);
    let report = alice.json();
    assert!(report["results"][0]["patch"]
        .as_array()
        .unwrap()
        .contains(&json!({"op": "add", "path": "/metadata/labels", "value": {"tenantguard.io/tenant": "acme", "team": "acme",
            "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest"}})));
    assert_eq!(report["results"][1]["tenant"], "acme");
    // Someone who owns no tenant may not create a namespace without one.
    let mut args = vec!["--as", "bob"];
    args.extend_from_slice(&inv);
    let bob = check(&args, Some(ns));
    assert_eq!(bob.code, 1, "{}", bob.stderr);
    assert_eq!(rules(&bob.json()["results"][0]), ["namespace-ownership"]);
    // Without --as the requester is an admin: a platform namespace is fine.
    let admin = check(&inv, Some(ns));
    assert_eq!(admin.code, 0, "{}", admin.stderr);
    assert_eq!(admin.json()["results"][1]["tenant"], Value::Null);
    // As in kubectl, --as-group needs --as.
    let lone = check(&["--as-group", "acme-admins", "-f", "-"], Some(ns));
    assert_eq!(lone.code, 2);
    assert!(lone.stderr.contains("--as <USER>"), "{}", lone.stderr);
}

#[test]
fn policies_flag_changes_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(common::repo().join("policies")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("require-limits.yaml"),
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: require-limits}\nspec: {rule: require-limits, action: Audit}\n",
    )
    .unwrap();
    let pod = "tests/fixtures/manifests/bad/pod-without-limits.yaml";
    let policies = dir.path().to_str().unwrap();
    let run = tg(
        &[
            "check",
            "--policies",
            policies,
            "-f",
            pod,
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = &run.json()["results"][0];
    assert_eq!(r["allowed"], true);
    assert_eq!(r["violations"][0]["action"], "Audit");
    assert_eq!(r["warnings"], json!([]));

    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: no-such-rule}\n",
    )
    .unwrap();
    let run = tg(&["check", "--policies", policies, "-f", pod], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("broken.yaml") && run.stderr.contains("no-such-rule"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let run = tg(
        &["check", "--policies", "/nonexistent/policies", "-f", pod],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/policies"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_kinds_and_cluster_scoped_objects_are_not_errors() {
    let input = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: acme-prod}\n---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\nspec: {acme: {}}\n";
    let run = check(&["-f", "-", "--inventory", TENANCY], Some(input));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("ALLOWED Widget acme-prod/w  (tenant acme)\n  from  -#1, line 1\n  note  no rule is specific to example.com/Widget: only its labels were judged\n"), "{}", run.stdout);
    assert!(run.stdout.contains("ALLOWED ClusterIssuer letsencrypt\n  from  -#2, line 5\n  note  not judged: cluster-scoped, no rule applies\n"), "{}", run.stdout);
}

#[test]
fn json_files_and_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("stream.json");
    std::fs::write(&p, "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\", \"namespace\": \"acme-prod\"}}\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n\t\"metadata\": {\"name\": \"b\", \"namespace\": \"acme-prod\"}}\n").unwrap();
    let run = check(
        &[
            "-f",
            p.to_str().unwrap(),
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let sources: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    let prefix = p.to_str().unwrap();
    assert_eq!(sources, [format!("{prefix}#1"), format!("{prefix}#2")]);
}
