use serde_json::json;

use super::*;
use crate::engine::{CannotJudge, Finding};
use crate::policy::rules::RuleId;

fn pod(name: &str) -> ObjectRef {
    ObjectRef::of(&json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "acme-prod", "uid": format!("uid-{name}")}}))
}

fn finding(rule: RuleId, action: Action, path: &str) -> Finding {
    Finding {
        rule,
        action,
        path: path.to_string(),
        message: format!("{path} is wrong; fix it"),
    }
}

fn outcome(findings: Vec<Finding>) -> Outcome {
    Outcome {
        allowed: !findings.iter().any(|f| f.action == Action::Deny),
        findings,
        ..Default::default()
    }
}

#[test]
fn an_empty_report_when_nothing_is_wrong() {
    let mut r = NamespaceReport::new("acme-prod", 1_700_000_000);
    r.add(&pod("a"), &outcome(vec![]));
    r.add(&pod("b"), &outcome(vec![]));
    let v = r.to_object();
    assert_eq!(
        (
            v["apiVersion"].as_str(),
            v["kind"].as_str(),
            v["metadata"]["name"].as_str(),
            v["metadata"]["namespace"].as_str()
        ),
        (
            Some("wgpolicyk8s.io/v1alpha2"),
            Some("PolicyReport"),
            Some("tenantguard"),
            Some("acme-prod")
        )
    );
    assert_eq!(
        v["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "tenantguard"})
    );
    assert_eq!(v["results"], json!([]));
    assert_eq!(
        v["summary"],
        json!({"pass": 2, "fail": 0, "warn": 0, "error": 0, "skip": 0})
    );
    assert_eq!(v["metadata"]["annotations"][OMITTED_ANNOTATION], "0");
}

#[test]
fn one_result_per_violation() {
    let mut r = NamespaceReport::new("acme-prod", 1_700_000_000);
    r.add(
        &pod("web"),
        &outcome(vec![
            finding(
                RuleId::RequireLimits,
                Action::Deny,
                "spec.containers[0].resources.limits.cpu",
            ),
            finding(RuleId::RestrictEgress, Action::Warn, "spec.hostNetwork"),
        ]),
    );
    r.add(
        &pod("db"),
        &outcome(vec![finding(
            RuleId::VaultBoundaries,
            Action::Audit,
            "metadata.annotations",
        )]),
    );
    r.add(&pod("ok"), &outcome(vec![]));
    let v = r.to_object();
    assert_eq!(
        v["summary"],
        json!({"pass": 1, "fail": 1, "warn": 2, "error": 0, "skip": 0})
    );
    assert_eq!(
        v["results"][0],
        json!({
            "source": "tenantguard",
            "policy": "require-limits",
            "rule": "require-limits",
            "result": "fail",
            "message": "spec.containers[0].resources.limits.cpu is wrong; fix it",
            "properties": {"path": "spec.containers[0].resources.limits.cpu", "action": "Deny"},
            "resources": [{"apiVersion": "v1", "kind": "Pod", "namespace": "acme-prod",
                "name": "web", "uid": "uid-web"}],
            "timestamp": {"seconds": 1_700_000_000, "nanos": 0},
        })
    );
    let results: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["policy"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("require-limits", "fail"),
            ("restrict-egress", "warn"),
            ("vault-boundaries", "warn")
        ]
    );
    assert_eq!(
        r.violations_by_policy()
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [
            ("require-limits", 1),
            ("restrict-egress", 1),
            ("vault-boundaries", 1)
        ]
    );
}

#[test]
fn an_object_that_cannot_be_judged_is_an_error_result() {
    let mut r = NamespaceReport::new("acme-prod", 0);
    r.add(
        &pod("odd"),
        &Outcome::cannot_judge(CannotJudge::Internal("boom".into())),
    );
    let v = r.to_object();
    assert_eq!(v["summary"]["error"], 1);
    assert_eq!(v["summary"]["pass"], 0);
    assert_eq!(v["results"][0]["result"], "error");
    assert_eq!(v["results"][0]["policy"], "cannot-judge");
}

#[test]
fn a_report_too_large_is_capped_with_true_counts() {
    let mut r = NamespaceReport::with_budget("acme-prod", 0, 2000);
    for i in 0..50 {
        r.add(
            &pod(&format!("p{i}")),
            &outcome(vec![finding(RuleId::RequireLimits, Action::Deny, "spec")]),
        );
    }
    let v = r.to_object();
    let kept = v["results"].as_array().unwrap().len();
    assert!(kept > 0 && kept < 50, "{kept}");
    assert_eq!(v["summary"]["fail"], 50);
    assert_eq!(r.omitted(), 50 - kept as u64);
    assert_eq!(
        v["metadata"]["annotations"][OMITTED_ANNOTATION],
        (50 - kept).to_string()
    );
    assert!(v["results"].to_string().len() <= 2000);
}

#[test]
fn the_real_budget_keeps_every_report_under_the_object_limit() {
    let mut r = NamespaceReport::new("acme-prod", 1_700_000_000);
    let long = "x".repeat(300);
    for i in 0..5_000 {
        let obj = pod(&format!("{long}-{i}"));
        r.add(
            &obj,
            &outcome(vec![
                finding(RuleId::RequireLimits, Action::Deny, &long),
                finding(RuleId::CrossTenantSelectors, Action::Warn, &long),
            ]),
        );
    }
    let bytes = serde_json::to_vec(&r.to_object()).unwrap().len();
    assert!(bytes < MAX_OBJECT_BYTES - 128 * 1024, "{bytes}");
    assert!(r.omitted() > 0);
    let s = r.summary();
    assert_eq!((s.fail, s.warn), (5_000, 5_000));
}
