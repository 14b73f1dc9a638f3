//! namespace-metadata: the tables of cases.
use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::User;
use crate::ONBOARDED_ANNOTATION;
use serde_json::json;

const ACME: &str = r#"
owners: [{kind: Group, name: acme-admins}]
namespaceLabels: {team: acme, netpol.example.com/zone: tenants}
"#;

type Who = (&'static str, &'static [&'static str]);
const DAVE: Who = ("dave", &["system:authenticated", "acme-admins"]);
const MALLORY: Who = ("mallory", &["system:authenticated"]);
const ROOT: Who = ("root", &["system:masters"]);
const TENANTGUARD: Who = (
    "system:serviceaccount:tenantguard-system:tenantguard",
    &["system:serviceaccounts"],
);
const FOREIGN_TENANTGUARD: Who = ("system:serviceaccount:acme-prod:tenantguard", &[]);

fn world((name, groups): Who) -> World {
    let mut w = World::new().with_tenant("acme", ACME).with_tenant(
        "globex",
        "{owners: [{kind: Group, name: globex-admins}], podSecurity: restricted}",
    );
    w.settings.protected_namespace_keys = vec!["billing.example.com/".into(), "owner".into()];
    w.user = User {
        username: name.to_string(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    w
}

/// A Namespace with these labels and annotations.
fn ns(name: &str, labels: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels, "annotations": annotations}})
}

/// The labels acme's namespaces get from namespace-labels.
fn acme(extra: Value) -> Value {
    let mut l = json!({TENANT_LABEL: "acme", "team": "acme", "netpol.example.com/zone": "tenants",
        "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest"});
    json_patch::merge(&mut l, &extra);
    l
}

fn run(who: Who, op: Operation, old: Option<&Value>, new: &Value) -> Vec<String> {
    let w = world(who);
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut ctx = w.ctx(name, new);
    ctx.operation = op;
    ctx.old_object = old;
    validate(&ctx, &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect()
}

const ENFORCE: &str = "metadata.labels.pod-security.kubernetes.io/enforce";
const ONBOARDED: &str = "metadata.annotations.tenantguard.io/onboarded";

#[test]
#[rustfmt::skip]
fn create_cases() {
    let none = json!({});
    let cases: Vec<(&str, Who, Value, Vec<&str>)> = vec![
        ("what namespace-labels injects", DAVE, ns("acme-x", acme(json!({})), none.clone()), vec![]),
        ("free labels and annotations", DAVE, ns("acme-x", acme(json!({"app": "web", "example.com/x": "y"})), json!({"note": "hi"})), vec![]),
        ("enforce privileged", DAVE, ns("acme-x", acme(json!({"pod-security.kubernetes.io/enforce": "privileged"})), none.clone()), vec![ENFORCE]),
        ("enforce in another case", DAVE, ns("acme-x", acme(json!({"pod-security.kubernetes.io/enforce": "Baseline"})), none.clone()), vec![ENFORCE]),
        ("enforce-version pinned to an old release", DAVE, ns("acme-x", acme(json!({"pod-security.kubernetes.io/enforce-version": "v1.22"})), none.clone()),
            vec!["metadata.labels.pod-security.kubernetes.io/enforce-version"]),
        ("warn label", DAVE, ns("acme-x", acme(json!({"pod-security.kubernetes.io/warn": "restricted"})), none.clone()),
            vec!["metadata.labels.pod-security.kubernetes.io/warn"]),
        ("a restricted tenant's level", ("gina", &["globex-admins"]),
            ns("globex-x", json!({TENANT_LABEL: "globex", "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}), none.clone()), vec![]),
        ("a restricted tenant asking for baseline", ("gina", &["globex-admins"]),
            ns("globex-x", json!({TENANT_LABEL: "globex", "pod-security.kubernetes.io/enforce": "baseline"}), none.clone()), vec![ENFORCE]),
        ("namespaceLabels value changed", DAVE, ns("acme-x", acme(json!({"team": "globex"})), none.clone()), vec!["metadata.labels.team"]),
        ("namespaceLabels key with a prefix", DAVE, ns("acme-x", acme(json!({"netpol.example.com/zone": "platform"})), none.clone()),
            vec!["metadata.labels.netpol.example.com/zone"]),
        ("tenantguard.io label", DAVE, ns("acme-x", acme(json!({"tenantguard.io/exempt": "true"})), none.clone()), vec!["metadata.labels.tenantguard.io/exempt"]),
        ("already onboarded", DAVE, ns("acme-x", acme(json!({})), json!({ONBOARDED_ANNOTATION: "acme"})), vec![ONBOARDED]),
        ("PSA annotation", DAVE, ns("acme-x", acme(json!({})), json!({"pod-security.kubernetes.io/enforce": "privileged"})),
            vec!["metadata.annotations.pod-security.kubernetes.io/enforce"]),
        ("Settings prefix", DAVE, ns("acme-x", acme(json!({"billing.example.com/plan": "free"})), none.clone()), vec!["metadata.labels.billing.example.com/plan"]),
        ("Settings exact key", DAVE, ns("acme-x", acme(json!({"owner": "me"})), json!({"owner": "me"})), vec!["metadata.labels.owner", "metadata.annotations.owner"]),
        ("Settings exact key is no prefix", DAVE, ns("acme-x", acme(json!({"owner-team": "me", "billing.example.com": "x"})), none.clone()), vec![]),
        ("several at once", DAVE, ns("acme-x", acme(json!({"pod-security.kubernetes.io/enforce": "privileged", "team": "x"})), json!({ONBOARDED_ANNOTATION: "y"})),
            vec![ENFORCE, "metadata.labels.team", ONBOARDED]),
        ("the tenant label is namespace-ownership's", MALLORY, ns("acme-x", acme(json!({})), none.clone()), vec![]),
        ("admin", ROOT, ns("acme-x", acme(json!({"pod-security.kubernetes.io/enforce": "privileged"})), json!({ONBOARDED_ANNOTATION: "acme"})), vec![]),
        ("tenantguard", TENANTGUARD, ns("acme-x", acme(json!({})), json!({ONBOARDED_ANNOTATION: "acme"})), vec![]),
        ("a platform namespace's tenantguard.io keys", MALLORY, ns("tools", json!({"team": "x"}), json!({ONBOARDED_ANNOTATION: "acme"})), vec![ONBOARDED]),
        ("a platform namespace's other keys are free", MALLORY, ns("tools", json!({"pod-security.kubernetes.io/enforce": "privileged", "owner": "x"}), none.clone()), vec![]),
        ("exempt namespace", DAVE, ns("kube-public", acme(json!({"pod-security.kubernetes.io/enforce": "privileged"})), none.clone()), vec![]),
        ("labels not a map", DAVE, ns("acme-x", json!(["x"]), none.clone()), vec!["metadata.labels"]),
    ];
    for (name, who, obj, want) in cases {
        assert_eq!(run(who, Operation::Create, None, &obj), want, "{name}");
    }
}

#[test]
#[rustfmt::skip]
fn update_cases() {
    let none = json!({});
    let base = ns("acme-prod", acme(json!({})), json!({ONBOARDED_ANNOTATION: "acme"}));
    let with = |labels: Value, annotations: Value| ns("acme-prod", acme(labels), annotations);
    let onboarded = json!({ONBOARDED_ANNOTATION: "acme"});
    let cases: Vec<(&str, Who, Value, Value, Vec<&str>)> = vec![
        ("unrelated label added", DAVE, base.clone(), with(json!({"app": "web"}), onboarded.clone()), vec![]),
        ("unchanged", DAVE, base.clone(), base.clone(), vec![]),
        ("enforce changed", DAVE, base.clone(), with(json!({"pod-security.kubernetes.io/enforce": "privileged"}), onboarded.clone()), vec![ENFORCE]),
        ("enforce removed", DAVE, base.clone(), with(json!({"pod-security.kubernetes.io/enforce": null}), onboarded.clone()), vec![ENFORCE]),
        ("audit added", DAVE, base.clone(), with(json!({"pod-security.kubernetes.io/audit": "privileged"}), onboarded.clone()),
            vec!["metadata.labels.pod-security.kubernetes.io/audit"]),
        ("namespaceLabels key removed", DAVE, base.clone(), with(json!({"team": null}), onboarded.clone()), vec!["metadata.labels.team"]),
        ("namespaceLabels key as annotation is free", DAVE, base.clone(), with(json!({}), json!({ONBOARDED_ANNOTATION: "acme", "team": "x"})), vec![]),
        ("onboarded mark removed", DAVE, base.clone(), with(json!({}), none.clone()), vec![ONBOARDED]),
        ("onboarded mark changed", DAVE, base.clone(), with(json!({}), json!({ONBOARDED_ANNOTATION: "x"})), vec![ONBOARDED]),
        ("onboarded mark added", DAVE, ns("acme-prod", acme(json!({})), none.clone()), base.clone(), vec![ONBOARDED]),
        ("Settings key added", DAVE, base.clone(), with(json!({"billing.example.com/tier": "gold"}), onboarded.clone()), vec!["metadata.labels.billing.example.com/tier"]),
        ("labels removed altogether", DAVE, base.clone(), ns("acme-prod", json!({TENANT_LABEL: "acme"}), onboarded.clone()),
            vec!["metadata.labels.netpol.example.com/zone", ENFORCE, "metadata.labels.pod-security.kubernetes.io/enforce-version", "metadata.labels.team"]),
        ("a stranger marks a platform namespace in advance", MALLORY, ns("tools", json!({}), none.clone()), ns("tools", json!({}), onboarded.clone()), vec![ONBOARDED]),
        ("a platform namespace's PSA labels are free", MALLORY, ns("tools", json!({}), none.clone()),
            ns("tools", json!({"pod-security.kubernetes.io/enforce": "privileged"}), none.clone()), vec![]),
        ("a tenant label removed: still judged as the tenant's", DAVE, base.clone(),
            ns("acme-prod", json!({"team": "acme", "netpol.example.com/zone": "tenants"}), onboarded.clone()),
            vec![ENFORCE, "metadata.labels.pod-security.kubernetes.io/enforce-version"]),
        ("admin changes them", ROOT, base.clone(), with(json!({"pod-security.kubernetes.io/enforce": "privileged"}), none.clone()), vec![]),
        ("tenantguard marks it", TENANTGUARD, ns("acme-prod", acme(json!({})), none.clone()), base.clone(), vec![]),
        ("a foreign tenantguard account is no tenantguard", FOREIGN_TENANTGUARD, ns("acme-prod", acme(json!({})), none.clone()), base.clone(), vec![ONBOARDED]),
        ("exempt namespace", DAVE, ns("kube-system", json!({}), none.clone()), ns("kube-system", json!({"pod-security.kubernetes.io/enforce": "privileged"}), none.clone()), vec![]),
    ];
    for (name, who, old, new, want) in cases {
        assert_eq!(run(who, Operation::Update, Some(&old), &new), want, "{name}");
    }
}

#[test]
fn operations_and_messages() {
    let obj = ns("acme-prod", acme(json!({})), json!({}));
    // UPDATE without oldObject: nothing can be compared.
    assert_eq!(run(DAVE, Operation::Update, None, &obj), ["metadata"]);
    assert!(run(ROOT, Operation::Update, None, &obj).is_empty());
    // DELETE is namespace-ownership's.
    let w = world(DAVE);
    let mut ctx = w.ctx("acme-prod", &obj);
    ctx.operation = Operation::Delete;
    ctx.object = None;
    ctx.old_object = Some(&obj);
    assert!(validate(&ctx, &Params::default()).is_empty());
    // Other kinds.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}});
    assert!(validate(&w.ctx("acme-prod", &cm), &Params::default()).is_empty());

    let msg = |op: Operation, old: Option<&Value>, new: &Value| {
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut ctx = w.ctx(name, new);
        ctx.operation = op;
        ctx.old_object = old;
        validate(&ctx, &Params::default()).remove(0).message
    };
    let bad = ns(
        "acme-x",
        acme(json!({"pod-security.kubernetes.io/enforce": "privileged"})),
        json!({}),
    );
    assert_eq!(
        msg(Operation::Create, None, &bad),
        "namespace \"acme-x\": pod-security.kubernetes.io/enforce is protected (it sets what the built-in Pod Security admission enforces); it may only be \"baseline\", the value tenantguard sets for tenant acme, and it is \"privileged\"; set it to \"baseline\" or leave it out"
    );
    let changed = ns(
        "acme-prod",
        acme(json!({"pod-security.kubernetes.io/enforce": "privileged"})),
        json!({}),
    );
    assert_eq!(
        msg(Operation::Update, Some(&obj), &changed),
        "namespace \"acme-prod\": pod-security.kubernetes.io/enforce is protected (it sets what the built-in Pod Security admission enforces); only platform admins may change it from \"baseline\" to \"privileged\"; keep it \"baseline\""
    );
}

/// The captured CREATE with PSA labels, after namespace-labels: an acme
/// owner may keep enforce baseline (acme's level) but not the warn/audit
/// labels; for globex (restricted) enforce is wrong too.
#[test]
fn captured_psa_labels() {
    let path = format!(
        "{}/tests/fixtures/real/namespace/create-psa-labels.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let req: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut obj = req["object"].clone();
    obj["apiVersion"] = json!("v1");
    obj["kind"] = json!("Namespace");
    let psa = |k: &str| format!("metadata.labels.pod-security.kubernetes.io/{k}");
    let mut acme_ns = obj.clone();
    json_patch::merge(
        &mut acme_ns["metadata"]["labels"],
        &json!({TENANT_LABEL: "acme", "team": "acme", "netpol.example.com/zone": "tenants"}),
    );
    assert_eq!(
        run(DAVE, Operation::Create, None, &acme_ns),
        [
            psa("audit"),
            psa("audit-version"),
            psa("warn"),
            psa("warn-version")
        ]
    );
    let mut globex_ns = obj.clone();
    globex_ns["metadata"]["labels"][TENANT_LABEL] = json!("globex");
    let got = run(
        ("gina", &["globex-admins"]),
        Operation::Create,
        None,
        &globex_ns,
    );
    assert_eq!(got[2], psa("enforce"), "{got:?}");
    assert_eq!(got.len(), 5, "{got:?}");
}
