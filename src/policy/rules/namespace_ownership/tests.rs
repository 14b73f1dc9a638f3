//! namespace-ownership: the tables of cases.
use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::User;
use serde_json::json;

// `ci` lives in acme-ci, a namespace of acme; `deploy` in globex's
// namespace and `bot` in one nobody created yet: those two never count.
const ACME: &str = r#"
owners:
  - {kind: Group, name: acme-admins}
  - {kind: User, name: alice@acme.example}
  - {kind: ServiceAccount, name: ci, namespace: acme-ci}
  - {kind: ServiceAccount, name: deploy, namespace: globex-prod}
  - {kind: ServiceAccount, name: bot, namespace: unborn}
"#;
const GLOBEX: &str = "owners: [{kind: Group, name: globex-admins}]";

fn user(name: &str, groups: &[&str]) -> User {
    User {
        username: name.to_string(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

// acme owners (by User, Group, ServiceAccount), an owner of both
// tenants, a globex owner, nobody, and a Settings admin.
type Who = (&'static str, &'static [&'static str]);
const ALICE: Who = ("alice@acme.example", &["system:authenticated"]);
const DAVE: Who = ("dave", &["system:authenticated", "acme-admins"]);
const CI: Who = (
    "system:serviceaccount:acme-ci:ci",
    &["system:serviceaccounts"],
);
const DEPLOY: Who = (
    "system:serviceaccount:globex-prod:deploy",
    &["system:serviceaccounts"],
);
const BOT: Who = (
    "system:serviceaccount:unborn:bot",
    &["system:serviceaccounts"],
);
const CAROL: Who = ("carol", &["acme-admins", "globex-admins"]);
const GINA: Who = ("gina", &["globex-admins"]);
const MALLORY: Who = ("mallory", &["system:authenticated"]);
const ROOT: Who = ("root", &["system:masters"]);
const TENANTGUARD: Who = (
    "system:serviceaccount:tenantguard-system:tenantguard",
    &["system:serviceaccounts"],
);

fn world(declared: bool, (name, groups): Who) -> World {
    let mut w = World::new();
    w.inventory.add_namespace("acme-ci", Some("acme"));
    if declared {
        w = w.with_tenant("acme", ACME).with_tenant("globex", GLOBEX);
    }
    w.user = user(name, groups);
    w
}

/// A Namespace named `name` with a tenant label (None: no tenant label).
fn ns(name: &str, tenant: Option<Value>) -> Value {
    let mut labels = json!({"team": "x"});
    if let Some(t) = tenant {
        labels[TENANT_LABEL] = t;
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn t(name: &str) -> Option<Value> {
    Some(json!(name))
}

/// Runs the rule; `old`/`new` as the admission request carries them.
fn run(w: &World, op: Operation, old: Option<&Value>, new: Option<&Value>) -> Vec<Violation> {
    let any = new.or(old).expect("a test object");
    let name = any.pointer("/metadata/name").and_then(Value::as_str);
    let mut ctx = w.ctx(name.unwrap_or(""), any);
    ctx.operation = op;
    ctx.object = new;
    ctx.old_object = old;
    validate(&ctx, &Params::default())
}

/// A DELETE of namespace `name`: no object, `old` as oldObject.
fn delete(w: &World, name: &str, old: Option<&Value>) -> Vec<Violation> {
    let shell = ns(name, None);
    let mut ctx = w.ctx(name, &shell);
    ctx.operation = Operation::Delete;
    ctx.object = None;
    ctx.old_object = old;
    validate(&ctx, &Params::default())
}

fn paths(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.path.as_str()).collect()
}

/// name, tenants declared, requester, oldObject, object, expected paths.
type UpdateCase<'a> = (
    &'a str,
    bool,
    Who,
    Option<&'a Value>,
    &'a Value,
    Vec<&'a str>,
);
/// name, tenants declared, requester, oldObject, namespace, expected paths.
type DeleteCase<'a> = (&'a str, bool, Who, Option<&'a Value>, &'a str, Vec<&'a str>);

const L: &str = LABEL_PATH;
const M: &str = "metadata";

#[test]
#[rustfmt::skip]
fn create_cases() {
    let cases: Vec<(&str, bool, Who, Value, Vec<&str>)> = vec![
        ("owner via Group", true, DAVE, ns("acme-x", t("acme")), vec![]),
        ("owner via User", true, ALICE, ns("acme-x", t("acme")), vec![]),
        ("owner via ServiceAccount", true, CI, ns("acme-x", t("acme")), vec![]),
        ("ServiceAccount owner in another tenant's namespace", true, DEPLOY, ns("acme-x", t("acme")), vec![L]),
        ("ServiceAccount owner in a namespace not created yet", true, BOT, ns("acme-x", t("acme")), vec![L]),
        ("same ServiceAccount name in another namespace", true,
            ("system:serviceaccount:evil:ci", &[]), ns("acme-x", t("acme")), vec![L]),
        ("user name is not a group", true, ("acme-admins", &[]), ns("acme-x", t("acme")), vec![L]),
        ("non-owner names a tenant", true, MALLORY, ns("acme-x", t("acme")), vec![L]),
        ("acme owner names globex", true, DAVE, ns("globex-x", t("globex")), vec![L]),
        ("owner of two names one of them", true, CAROL, ns("globex-x", t("globex")), vec![]),
        ("owner of two without a label", true, CAROL, ns("x", None), vec![L]),
        ("owner of one without a label (namespace-labels off)", true, DAVE, ns("x", None), vec![L]),
        ("nobody without a label", true, MALLORY, ns("x", None), vec![L]),
        ("empty label is no label", true, MALLORY, ns("x", t("")), vec![L]),
        ("null label is no label", true, MALLORY, ns("x", Some(Value::Null)), vec![L]),
        ("non-string label", true, ROOT, ns("x", Some(json!(5))), vec![L]),
        ("admin without a label: platform namespace", true, ROOT, ns("platform-x", None), vec![]),
        ("admin for any declared tenant", true, ROOT, ns("globex-x", t("globex")), vec![]),
        ("admin for an undeclared tenant", true, ROOT, ns("initech-x", t("initech")), vec![L]),
        ("owner for an undeclared tenant", true, DAVE, ns("initech-x", t("initech")), vec![L]),
        ("case matters in tenant names", true, ROOT, ns("acme-x", t("Acme")), vec![L]),
        ("none declared: admin names any tenant", false, ROOT, ns("initech-x", t("initech")), vec![]),
        ("none declared: nobody owns anything", false, DAVE, ns("initech-x", t("initech")), vec![L]),
        ("none declared: admin platform namespace", false, ROOT, ns("x", None), vec![]),
        ("none declared: non-admin without a label", false, MALLORY, ns("x", None), vec![L]),
    ];
    for (name, declared, who, obj, want) in cases {
        let w = world(declared, who);
        let got = run(&w, Operation::Create, None, Some(&obj));
        assert_eq!(paths(&got), want, "{name}: {got:?}");
    }
}

#[test]
#[rustfmt::skip]
fn update_cases() {
    let acme = ns("acme-prod", t("acme"));
    let mut acme_more = acme.clone();
    acme_more["metadata"]["labels"]["team"] = json!("y");
    acme_more["metadata"]["annotations"] = json!({"a": "b"});
    let globex = ns("acme-prod", t("globex"));
    let initech = ns("acme-prod", t("initech"));
    let plain = ns("acme-prod", None);
    let empty = ns("acme-prod", t(""));
    let cases: Vec<UpdateCase> = vec![
        ("owner, label unchanged", true, DAVE, Some(&acme), &acme_more, vec![]),
        ("non-owner, label unchanged: not judged", true, MALLORY, Some(&acme), &acme_more, vec![]),
        ("unchanged undeclared label: not judged", true, MALLORY, Some(&initech), &initech, vec![]),
        ("empty to absent is no change", true, MALLORY, Some(&empty), &plain, vec![]),
        ("owner of both relabels", true, CAROL, Some(&acme), &globex, vec![L]),
        ("owner relabels into another tenant", true, DAVE, Some(&acme), &globex, vec![L]),
        ("owner removes the label", true, DAVE, Some(&acme), &plain, vec![L]),
        ("owner empties the label", true, DAVE, Some(&acme), &empty, vec![L]),
        ("non-admin labels a platform namespace", true, DAVE, Some(&plain), &acme, vec![L]),
        ("admin relabels to a declared tenant", true, ROOT, Some(&acme), &globex, vec![]),
        ("admin relabels to an undeclared tenant", true, ROOT, Some(&acme), &initech, vec![L]),
        ("admin removes the label", true, ROOT, Some(&acme), &plain, vec![]),
        ("admin labels a platform namespace", true, ROOT, Some(&plain), &acme, vec![]),
        ("none declared: admin relabels anywhere", false, ROOT, Some(&acme), &initech, vec![]),
        ("none declared: non-admin relabel", false, DAVE, Some(&acme), &initech, vec![L]),
        ("no oldObject: non-admin", true, DAVE, None, &acme, vec![L]),
        ("no oldObject: admin, declared tenant", true, ROOT, None, &acme, vec![]),
        ("no oldObject: admin, undeclared tenant", true, ROOT, None, &initech, vec![L]),
    ];
    for (name, declared, who, old, new, want) in cases {
        let w = world(declared, who);
        let got = run(&w, Operation::Update, old, Some(new));
        assert_eq!(paths(&got), want, "{name}: {got:?}");
    }
}

#[test]
#[rustfmt::skip]
fn delete_cases() {
    let acme = ns("acme-prod", t("acme"));
    let platform = ns("monitoring", None);
    let cases: Vec<DeleteCase> = vec![
        ("owner deletes", true, DAVE, Some(&acme), "acme-prod", vec![]),
        ("owner via ServiceAccount deletes", true, CI, Some(&acme), "acme-prod", vec![]),
        ("foreign ServiceAccount owner deletes", true, DEPLOY, Some(&acme), "acme-prod", vec![M]),
        ("unborn ServiceAccount owner deletes", true, BOT, Some(&acme), "acme-prod", vec![M]),
        ("non-owner deletes", true, MALLORY, Some(&acme), "acme-prod", vec![M]),
        ("other tenant's owner deletes", true, GINA, Some(&acme), "acme-prod", vec![M]),
        ("admin deletes", true, ROOT, Some(&acme), "acme-prod", vec![]),
        ("platform namespace", true, MALLORY, Some(&platform), "monitoring", vec![]),
        ("none declared: non-admin", false, DAVE, Some(&acme), "acme-prod", vec![M]),
        ("no oldObject: inventory says tenant", true, MALLORY, None, "acme-prod", vec![M]),
        ("no oldObject: inventory says owner's tenant", true, DAVE, None, "acme-prod", vec![]),
        ("no oldObject: inventory says platform", true, MALLORY, None, "monitoring", vec![]),
    ];
    for (name, declared, who, old, ns_name, want) in cases {
        let w = world(declared, who);
        let got = delete(&w, ns_name, old);
        assert_eq!(paths(&got), want, "{name}: {got:?}");
    }
}

#[test]
fn delete_of_unknown_namespace_without_old_object() {
    let mut w = world(true, MALLORY);
    assert!(
        delete(&w, "new-ns", None).is_empty(),
        "an inventory file lists the world"
    );
    w.inventory.unknown = UnknownNamespaces::Deny;
    assert_eq!(
        paths(&delete(&w, "new-ns", None)),
        [M],
        "a cluster cache may be behind"
    );
    w.user = user(ROOT.0, ROOT.1);
    assert!(delete(&w, "new-ns", None).is_empty());
}

#[test]
fn out_of_scope() {
    let w = world(true, MALLORY);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {TENANT_LABEL: "acme"}}});
    assert!(run(&w, Operation::Create, None, Some(&cm)).is_empty());
    let ns = ns("x", None);
    assert!(run(&w, Operation::Connect, None, Some(&ns)).is_empty());
}

#[test]
#[rustfmt::skip]
fn messages() {
    let msg = |declared: bool, who: Who, op: Operation, old: Option<&Value>, new: &Value| {
        let w = world(declared, who);
        run(&w, op, old, Some(new)).remove(0).message
    };
    let m = msg(true, ROOT, Operation::Create, None, &ns("initech-x", t("initech")));
    assert_eq!(m, "namespace \"initech-x\": tenant \"initech\" is not declared; declared tenants: acme, globex. Set tenantguard.io/tenant to one of them, or declare a Tenant named \"initech\" first");
    let m = msg(true, DAVE, Operation::Create, None, &ns("globex-x", t("globex")));
    assert_eq!(m, "namespace \"globex-x\": labelled for tenant \"globex\", which \"dave\" does not own; set tenantguard.io/tenant: acme (the tenant \"dave\" owns)");
    let m = msg(true, MALLORY, Operation::Create, None, &ns("acme-x", t("acme")));
    assert!(m.ends_with("\"mallory\" owns no tenant: ask a platform admin to create it"), "{m}");
    let m = msg(true, CAROL, Operation::Create, None, &ns("x", None));
    assert!(m.starts_with("namespace \"x\": has no tenantguard.io/tenant label"), "{m}");
    assert!(m.contains("\"carol\" owns several tenants (acme, globex): set tenantguard.io/tenant to the one this namespace is for"), "{m}");
    let m = msg(true, DAVE, Operation::Create, None, &ns("x", None));
    assert!(m.ends_with("platform admins create those; set tenantguard.io/tenant: acme (the tenant \"dave\" owns)"), "{m}");
    let acme = ns("acme-prod", t("acme"));
    let m = msg(true, DAVE, Operation::Update, Some(&acme), &ns("acme-prod", t("globex")));
    assert_eq!(m, "namespace \"acme-prod\": tenantguard.io/tenant cannot be changed from \"acme\" to \"globex\": only platform admins move a namespace between tenants; keep it \"acme\"");
    let m = msg(true, DAVE, Operation::Update, Some(&acme), &ns("acme-prod", None));
    assert!(m.contains("cannot be removed (it is \"acme\")"), "{m}");
    let m = msg(true, DAVE, Operation::Update, Some(&ns("p", None)), &ns("p", t("acme")));
    assert!(m.contains("cannot be added (\"acme\") to a platform namespace"), "{m}");
    let w = world(true, MALLORY);
    let v = delete(&w, "acme-prod", Some(&acme));
    assert_eq!(v[0].message, "namespace \"acme-prod\": belongs to tenant \"acme\", which \"mallory\" does not own; only its owners and platform admins may delete it");
}

#[test]
fn generate_name_and_long_tenant_lists() {
    let mut w = World::new();
    for i in 0..15 {
        w = w.with_tenant(&format!("t{i:02}"), "{}");
    }
    w.user = user(ROOT.0, ROOT.1);
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "tmp-", "labels": {TENANT_LABEL: "nope"}}});
    let m = run(&w, Operation::Create, None, Some(&obj))
        .remove(0)
        .message;
    assert!(
        m.starts_with("namespace (generateName \"tmp-\"): tenant \"nope\""),
        "{m}"
    );
    assert!(
        m.contains("t00, t01, t02, t03, t04, t05, t06, t07, t08, t09 and 5 more."),
        "{m}"
    );
}

/// name, requester, operation, oldObject, object, expected paths.
type ExemptCase<'a> = (
    &'a str,
    Who,
    Operation,
    Option<Value>,
    Option<Value>,
    Vec<&'a str>,
);

/// The ServiceAccount owner counts from the moment its namespace is
/// acme's, and stops counting when it is handed elsewhere.
#[test]
fn service_account_owner_follows_its_namespace() {
    let mut w = world(true, BOT);
    let obj = ns("acme-x", t("acme"));
    assert_eq!(paths(&run(&w, Operation::Create, None, Some(&obj))), [L]);
    w.inventory.add_namespace("unborn", Some("acme"));
    assert!(run(&w, Operation::Create, None, Some(&obj)).is_empty());
    w.inventory.add_namespace("unborn", Some("globex"));
    assert_eq!(paths(&run(&w, Operation::Create, None, Some(&obj))), [L]);
    let m = run(&w, Operation::Create, None, Some(&obj))
        .remove(0)
        .message;
    assert!(m.contains("owns no tenant"), "{m}");
}

/// Exempt namespaces (defaults and tenantguard's own): only admins touch
/// their tenant label or delete them; other labels stay free.
#[test]
#[rustfmt::skip]
fn exempt_namespace_cases() {
    let mut kube_other = ns("kube-system", None);
    kube_other["metadata"]["labels"]["team"] = json!("y");
    let cases: Vec<ExemptCase> = vec![
        ("owner labels kube-system for acme", DAVE, Operation::Update,
            Some(ns("kube-system", None)), Some(ns("kube-system", t("acme"))), vec![L]),
        ("owner labels tenantguard's namespace for acme", DAVE, Operation::Update,
            Some(ns("tenantguard-system", None)), Some(ns("tenantguard-system", t("acme"))), vec![L]),
        ("stranger labels kube-public", MALLORY, Operation::Update,
            Some(ns("kube-public", None)), Some(ns("kube-public", t("globex"))), vec![L]),
        ("owner changes an admin's label", DAVE, Operation::Update,
            Some(ns("kube-system", t("globex"))), Some(ns("kube-system", t("acme"))), vec![L]),
        ("owner removes an admin's label", GINA, Operation::Update,
            Some(ns("kube-system", t("globex"))), Some(ns("kube-system", None)), vec![L]),
        ("empty label is no label", DAVE, Operation::Update,
            Some(ns("kube-system", None)), Some(ns("kube-system", t(""))), vec![]),
        ("other labels are free", MALLORY, Operation::Update,
            Some(ns("kube-system", None)), Some(kube_other.clone()), vec![]),
        ("other labels free beside an admin's tenant label", DAVE, Operation::Update,
            Some(ns("kube-system", t("acme"))), Some(ns("kube-system", t("acme"))), vec![]),
        ("tenantguard itself is no admin here", TENANTGUARD, Operation::Update,
            Some(ns("tenantguard-system", None)), Some(ns("tenantguard-system", t("acme"))), vec![L]),
        ("owner creates kube-node-lease with a label", DAVE, Operation::Create,
            None, Some(ns("kube-node-lease", t("acme"))), vec![L]),
        ("stranger creates kube-node-lease without one", MALLORY, Operation::Create,
            None, Some(ns("kube-node-lease", None)), vec![]),
        ("owner deletes kube-system", DAVE, Operation::Delete, Some(ns("kube-system", None), ), None, vec![M]),
        ("owner deletes tenantguard's namespace", DAVE, Operation::Delete, Some(ns("tenantguard-system", t("acme"))), None, vec![M]),
        ("admin labels kube-system", ROOT, Operation::Update,
            Some(ns("kube-system", None)), Some(ns("kube-system", t("acme"))), vec![]),
        ("admin labels it for an undeclared tenant", ROOT, Operation::Update,
            Some(ns("kube-system", None)), Some(ns("kube-system", t("initech"))), vec![L]),
        ("admin deletes kube-public", ROOT, Operation::Delete, Some(ns("kube-public", None)), None, vec![]),
        ("admin creates it labelled", ROOT, Operation::Create, None, Some(ns("kube-public", t("globex"))), vec![]),
    ];
    for (name, who, op, old, new, want) in cases {
        let w = world(true, who);
        let got = run(&w, op, old.as_ref(), new.as_ref());
        assert_eq!(paths(&got), want, "{name}: {got:?}");
    }
    let w = world(true, DAVE);
    let m = run(&w, Operation::Update, Some(&ns("kube-system", None)), Some(&ns("kube-system", t("acme"))))
        .remove(0)
        .message;
    assert_eq!(m, "namespace \"kube-system\" is exempt (tenantguard never judges the objects in it): only platform admins may add, change or remove its tenantguard.io/tenant label (a tenant label would hand it, and what runs in it, to that tenant); remove it");
    // A namespace the Settings list as exempt, and the own namespace under another name.
    let mut w = world(true, DAVE);
    w.settings.exempt_namespaces = vec!["infra".into()];
    w.identity.namespace = "guard".into();
    for name in ["infra", "guard"] {
        let got = run(&w, Operation::Update, Some(&ns(name, None)), Some(&ns(name, t("acme"))));
        assert_eq!(paths(&got), [L], "{name}");
    }
    let got = run(&w, Operation::Update, Some(&ns("kube-system", None)), Some(&ns("kube-system", t("acme"))));
    assert!(
        got[0].message.contains("to a platform namespace"),
        "no longer exempt: judged as any platform namespace: {got:?}"
    );
}

/// name, cap, requester, operation, oldObject, object, expected paths.
type CapCase<'a> = (
    &'a str,
    u32,
    Who,
    Operation,
    Option<Value>,
    Value,
    Vec<&'a str>,
);

/// `maxNamespaces`: acme has acme-ci, acme-prod and acme-dev (globex's
/// and the platform namespaces do not count).
fn capped(who: Who, cap: u32) -> World {
    let mut w = World::new()
        .with_tenant("acme", &format!("{ACME}maxNamespaces: {cap}\n"))
        .with_tenant("globex", GLOBEX);
    w.inventory.add_namespace("acme-ci", Some("acme"));
    w.user = user(who.0, who.1);
    w
}

#[test]
#[rustfmt::skip]
fn max_namespaces_cases() {
    let named = |name: &str, t: Option<&str>| ns(name, t.map(|t| json!(t)));
    let mut generated = named("", Some("acme"));
    generated["metadata"] = json!({"generateName": "acme-", "labels": {TENANT_LABEL: "acme"}});
    let cases: Vec<CapCase> = vec![
        ("owner at the cap", 3, DAVE, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("admin at the cap: admins raise it instead", 3, ROOT, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("ServiceAccount owner at the cap", 3, CI, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("generateName at the cap", 3, DAVE, Operation::Create, None, generated.clone(), vec![L]),
        ("owner below the cap", 4, DAVE, Operation::Create, None, named("acme-x", Some("acme")), vec![]),
        ("generateName below the cap", 4, DAVE, Operation::Create, None, generated, vec![]),
        ("cap lowered below the count", 2, DAVE, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("a cap of zero", 0, ROOT, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("other tenant's namespaces do not count", 3, GINA, Operation::Create, None, named("globex-x", Some("globex")), vec![]),
        ("platform namespace by an admin", 3, ROOT, Operation::Create, None, named("tools", None), vec![]),
        ("the namespace itself, known already, is not counted twice", 3, DAVE, Operation::Create, None, named("acme-prod", Some("acme")), vec![]),
        ("non-owner at the cap: one violation, no count shown", 3, MALLORY, Operation::Create, None, named("acme-x", Some("acme")), vec![L]),
        ("update is not judged by the cap", 3, DAVE, Operation::Update, Some(named("acme-prod", Some("acme"))), named("acme-prod", Some("acme")), vec![]),
        ("admin relabels into a capped tenant: CREATE only", 3, ROOT, Operation::Update, Some(named("monitoring", None)), named("monitoring", Some("acme")), vec![]),
    ];
    for (name, cap, who, op, old, new, want) in cases {
        let w = capped(who, cap);
        let got = run(&w, op, old.as_ref(), Some(&new));
        assert_eq!(paths(&got), want, "{name}: {got:?}");
    }
    let m = run(&capped(DAVE, 3), Operation::Create, None, Some(&named("acme-x", Some("acme")))).remove(0).message;
    assert_eq!(m, "namespace \"acme-x\": tenant \"acme\" already has 3 namespaces and its maxNamespaces is 3; delete one of its namespaces first, or have a platform admin raise spec.maxNamespaces of Tenant \"acme\"");
    let m = run(&capped(MALLORY, 3), Operation::Create, None, Some(&named("acme-x", Some("acme")))).remove(0).message;
    assert!(!m.contains("maxNamespaces"), "a stranger learns nothing of acme's namespaces: {m}");
    // Deleting one makes room; no cap, no limit.
    let mut w = capped(DAVE, 3);
    w.inventory.remove_namespace("acme-ci");
    assert!(run(&w, Operation::Create, None, Some(&named("acme-x", Some("acme")))).is_empty());
    let mut w = world(true, DAVE);
    for i in 0..50 {
        w.inventory.add_namespace(&format!("acme-{i}"), Some("acme"));
    }
    assert!(run(&w, Operation::Create, None, Some(&named("acme-x", Some("acme")))).is_empty());
}

/// Red-team finding: the apiserver keeps the labels of `namespaces/status`
/// and `namespaces/finalize` UPDATEs, so both Namespace rules list those
/// subresources (the engine runs a rule only for the subresources it lists;
/// `engine::tests::namespace_relabels_through_subresources_are_judged` sends
/// the requests).
#[test]
fn namespace_rules_judge_the_subresources_that_keep_labels() {
    use crate::policy::rules::RuleId;
    for rule in [RuleId::NamespaceOwnership, RuleId::NamespaceMetadata] {
        assert_eq!(rule.subresources(), &["status", "finalize"], "{rule}");
    }
}
