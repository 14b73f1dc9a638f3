//! `tenantguard audit` as a team runs it before switching a rule to `Deny`:
//! the real binary over `tests/fixtures/audit/` (objects as they stand in a
//! cluster, with their tenancy), the JSON contract (`check`'s, with `patch`
//! always `[]`), the skipped requester-dependent rules and exit codes 0/1/2.

mod common;

use common::{tg, Run};

use serde_json::Value;

const TENANCY: &str = "tests/fixtures/audit/tenancy.yaml";
const STANDING: &str = "tests/fixtures/audit/standing.yaml";
const NAMESPACES: &str = "tests/fixtures/audit/namespaces.yaml";

/// `audit --policies policies --inventory <tenancy> <extra>`.
fn audit(extra: &[&str], stdin: Option<&str>) -> Run {
    let mut args = vec!["audit", "--policies", "policies", "--inventory", TENANCY];
    args.extend_from_slice(extra);
    tg(&args, stdin)
}

fn deny_rules(r: &Value) -> Vec<(String, String)> {
    r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["action"] == "Deny")
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn objects_as_they_stand_json_and_exit_1() {
    let run = audit(&["-f", STANDING, "-o", "json"], None);
    assert_eq!(
        run.code, 1,
        "a violation that would be denied: exit 1: {}",
        run.stderr
    );
    let report = run.json();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{report:#}");
    let sources: Vec<&str> = results
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        (1..=4)
            .map(|n| format!("{STANDING}#{n}"))
            .collect::<Vec<_>>()
    );
    for r in results {
        // Nothing is mutated: not even the tenant label check would add.
        assert_eq!(r["patch"], serde_json::json!([]), "{r:#}");
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "allowed",
                "kind",
                "name",
                "namespace",
                "patch",
                "source",
                "tenant",
                "violations",
                "warnings"
            ]
        );
    }
    assert_eq!(results[0]["allowed"], true, "{:#}", results[0]);
    assert_eq!(results[0]["tenant"], "acme");
    assert_eq!(results[1]["allowed"], false);
    assert_eq!(
        deny_rules(&results[1]),
        [
            (
                "require-limits".to_string(),
                "spec.template.spec.containers[0].resources.limits.cpu".to_string()
            ),
            (
                "require-limits".to_string(),
                "spec.template.spec.containers[0].resources.limits.memory".to_string()
            )
        ]
    );
    assert_eq!(results[2]["tenant"], "globex");
    assert!(deny_rules(&results[2])
        .iter()
        .all(|(rule, _)| rule == "restrict-egress"));
    assert!(!deny_rules(&results[2]).is_empty());
    assert_eq!(results[3]["allowed"], true);
    assert_eq!(results[3]["tenant"], Value::Null);
    assert_eq!(
        report["summary"],
        serde_json::json!({"objects": 4, "denied": 2, "warned": 0})
    );
}

#[test]
fn check_mutates_what_audit_judges_as_it_stands() {
    // The same Pod: check adds its tenant label, audit leaves it be.
    let checked = tg(
        &[
            "check",
            "--policies",
            "policies",
            "--inventory",
            TENANCY,
            "-f",
            STANDING,
            "-o",
            "json",
        ],
        None,
    );
    assert_ne!(checked.json()["results"][0]["patch"], serde_json::json!([]));
}

#[test]
fn requester_dependent_rules_are_skipped() {
    // As a stranger, check denies the namespace (namespace-ownership) ...
    let checked = tg(
        &[
            "check",
            "--policies",
            "policies",
            "--inventory",
            TENANCY,
            "-f",
            NAMESPACES,
            "--as",
            "mallory",
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(checked.code, 1, "{}", checked.stdout);
    // ... the audit, as anyone, does not ask who made it.
    for who in [&[][..], &["--as", "mallory"][..]] {
        let mut args = vec!["-f", NAMESPACES, "-o", "json"];
        args.extend_from_slice(who);
        let run = audit(&args, None);
        assert_eq!(run.code, 0, "{who:?}: {}{}", run.stdout, run.stderr);
        let r = &run.json()["results"][0];
        assert_eq!(r["allowed"], true);
        assert_eq!(r["violations"], serde_json::json!([]));
    }
}

#[test]
fn clean_input_exits_0_and_text_names_rules() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: acme-prod}\nspec:\n  containers:\n    - {name: a, image: nginx, resources: {limits: {cpu: 100m, memory: 64Mi}}}\n";
    let run = audit(&["-f", "-"], Some(pod));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = audit(&["-f", STANDING], None);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("[require-limits]"), "{}", run.stdout);
    assert!(run.stdout.contains("restrict-egress"), "{}", run.stdout);
}

#[test]
fn bad_input_or_usage_exits_2() {
    let cases: [(&str, Vec<&str>, Option<&str>); 4] = [
        ("no input at all", vec!["audit"], None),
        ("a missing file", vec!["audit", "-f", "no/such.yaml"], None),
        (
            "YAML that does not parse",
            vec!["audit", "-f", "-"],
            Some("kind: [unclosed\n"),
        ),
        (
            "an unknown output",
            vec!["audit", "-f", STANDING, "-o", "xml"],
            None,
        ),
    ];
    for (what, args, stdin) in cases {
        let run = tg(&args, stdin);
        assert_eq!(run.code, 2, "{what}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty(), "{what}: says why");
    }
}
