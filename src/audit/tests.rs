use serde_json::{json, Value};

use super::*;
use crate::policy::Action;

fn objects(docs: &[Value]) -> Vec<InputObject> {
    docs.iter()
        .enumerate()
        .map(|(i, o)| InputObject {
            source: format!("t.yaml#{}", i + 1),
            line: 1,
            object: o.clone(),
        })
        .collect()
}

fn tenancy() -> Inventory {
    let mut inv = Inventory::default();
    inv.add_namespace("acme-prod", Some("acme"));
    inv.add_namespace("monitoring", None);
    inv
}

fn pod(namespace: &str, limits: bool) -> Value {
    let resources = if limits {
        json!({"limits": {"cpu": "1", "memory": "1Gi"}})
    } else {
        json!({})
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}]}})
}

#[test]
fn only_validating_rules_that_do_not_judge_the_requester() {
    let judged: Vec<&str> = RuleId::ALL
        .into_iter()
        .filter(|r| is_judged(*r))
        .map(RuleId::as_str)
        .collect();
    for r in RuleId::ALL {
        let skipped = r.is_mutating() || SKIPPED_RULES.contains(&r.as_str());
        assert_eq!(judged.contains(&r.as_str()), !skipped, "{r}");
    }
    for id in ["namespace-ownership", "managed-objects", "tenant-labels"] {
        assert!(!judged.contains(&id), "{id}");
    }
    for id in [
        "require-limits",
        "cross-tenant-selectors",
        "restrict-egress",
    ] {
        assert!(judged.contains(&id), "{id}");
    }
    // Skipped by name: the id of a rule that may not be registered yet counts.
    assert!(SKIPPED_RULES.contains(&"namespace-metadata"));
    let e = engine(&Engine::default());
    assert!(e.policies.policies.iter().all(|p| is_judged(p.rule)));
    assert!(!e.policies.policies.is_empty());
}

#[test]
fn objects_are_judged_as_they_stand_without_mutation() {
    let e = engine(&Engine::default());
    let input = objects(&[
        pod("acme-prod", false),
        pod("acme-prod", true),
        pod("monitoring", false),
    ]);
    let report = run(&e, &tenancy(), &input, "default", &auditor(None, &[]));
    let r = &report.results;
    assert!(!r[0].allowed);
    assert!(r[0]
        .violations
        .iter()
        .all(|v| v.rule == "require-limits" && v.action == "Deny"));
    assert_eq!(
        r[0].violations[0].path,
        "spec.containers[0].resources.limits.cpu"
    );
    // A tenant Pod without its tenant label: check would add it; audit changes nothing.
    assert!(r.iter().all(|r| r.patch.is_empty()), "{r:?}");
    assert!(r[1].allowed && r[1].violations.is_empty());
    assert_eq!(r[1].tenant.as_deref(), Some("acme"));
    assert!(r[2].allowed && r[2].tenant.is_none());
    assert_eq!(
        (
            report.summary.objects,
            report.summary.denied,
            report.exit_code()
        ),
        (3, 1, 1)
    );
}

#[test]
fn requester_dependent_rules_are_skipped() {
    let full = Engine::default();
    let input = objects(&[json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "acme-new", "labels": {"tenantguard.io/tenant": "acme"}}})]);
    let stranger = auditor(Some("mallory"), &[]);
    // check as a stranger: namespace-ownership denies the namespace ...
    let checked = check::run(&full, &tenancy(), &input, "default", &stranger);
    assert!(checked.results[0]
        .violations
        .iter()
        .any(|v| v.rule == "namespace-ownership"));
    // ... the audit does not judge who made it.
    let audited = run(&engine(&full), &tenancy(), &input, "default", &stranger);
    assert!(audited.results[0].allowed, "{:?}", audited.results[0]);
    assert!(audited.results[0].violations.is_empty());
}

#[test]
fn warn_and_audit_actions_admit() {
    let mut full = Engine::default();
    for p in &mut full.policies.policies {
        if p.rule == RuleId::RequireLimits {
            p.action = Action::Warn;
        }
    }
    let report = run(
        &engine(&full),
        &tenancy(),
        &objects(&[pod("acme-prod", false)]),
        "default",
        &auditor(None, &[]),
    );
    let r = &report.results[0];
    assert!(r.allowed);
    assert_eq!(r.violations[0].action, "Warn");
    assert!(!r.warnings.is_empty());
    assert_eq!((report.summary.warned, report.exit_code()), (1, 0));
}

#[test]
fn the_auditor_is_no_admin() {
    let u = auditor(None, &[]);
    assert_eq!(u.username, AUDITOR);
    assert_eq!(u.groups, ["system:authenticated"]);
    let admins = &Engine::default().policies.settings.admins;
    assert!(!admins.users.contains(&u.username));
    assert!(u.groups.iter().all(|g| !admins.groups.contains(g)));
    let bob = auditor(Some("bob"), &["devs".into()]);
    assert_eq!(bob.groups, ["devs", "system:authenticated"]);
}
