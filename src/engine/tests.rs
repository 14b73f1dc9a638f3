//! Engine tests: scope, actions, cannot-judge causes, mutation.

mod differential;

use super::*;
use crate::policy::load_sources;
use crate::TENANT_LABEL;
use serde_json::json;

fn world() -> Inventory {
    let mut inv = Inventory::default();
    inv.add_namespace("acme-prod", Some("acme"));
    inv.add_namespace("monitoring", None);
    inv
}

fn req(ns: &str, obj: Value) -> Request {
    Request {
        uid: "u".into(),
        group: String::new(),
        version: "v1".into(),
        kind: obj["kind"].as_str().unwrap_or("").into(),
        resource: Default::default(),
        namespace: ns.into(),
        name: "p".into(),
        operation: Operation::Create,
        user: User::default(),
        dry_run: false,
        object: Some(obj),
        old_object: None,
    }
}

fn bare_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}})
}

#[test]
fn scope_table() {
    let e = Engine::default();
    let inv = world();
    let cases = [
        ("tenant namespace", "acme-prod", false),
        ("exempt namespace", "kube-system", true),
        ("own namespace", "tenantguard-system", true),
        ("platform namespace", "monitoring", true),
        ("unknown namespace with a file inventory", "elsewhere", true),
    ];
    for (name, ns, allowed) in cases {
        let o = e.validate(&req(ns, bare_pod()), &inv);
        assert_eq!(o.allowed, allowed, "{name}: {o:?}");
    }
}

#[test]
fn unknown_namespace_denied_when_source_cannot_guess() {
    let e = Engine::default();
    let mut inv = world();
    inv.unknown = UnknownNamespaces::Deny;
    let o = e.validate(&req("elsewhere", bare_pod()), &inv);
    assert!(!o.allowed);
    assert!(o.denial_message().contains("not known to tenantguard"));
}

#[test]
fn denial_lists_every_violation() {
    let o = Engine::default().validate(&req("acme-prod", bare_pod()), &world());
    assert!(!o.allowed);
    assert_eq!(
        o.denial_message(),
        "[require-limits] spec.containers[0] \"app\": resources.limits.cpu is not set; set it (or declare containerDefaults for the tenant so it is filled in); [require-limits] spec.containers[0] \"app\": resources.limits.memory is not set; set it (or declare containerDefaults for the tenant so it is filled in)"
    );
}

fn engine_with(policy: &str) -> Engine {
    Engine::new(
        load_sources([("p.yaml", policy)]).unwrap(),
        Identity::default(),
    )
}

#[test]
fn actions_warn_audit_off_and_exclusions() {
    let inv = world();
    let p = |action: &str| {
        format!("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {{rule: require-limits, action: {action}}}\n")
    };
    let warn = engine_with(&p("Warn")).validate(&req("acme-prod", bare_pod()), &inv);
    assert!(warn.allowed);
    assert_eq!(warn.warnings.len(), 2);
    assert!(warn.warnings[0].starts_with("[require-limits] spec.containers[0]"));
    let audit = engine_with(&p("Audit")).validate(&req("acme-prod", bare_pod()), &inv);
    assert!(audit.allowed && audit.warnings.is_empty() && audit.findings.len() == 2);
    let off = engine_with(&p("Off")).validate(&req("acme-prod", bare_pod()), &inv);
    assert!(off.allowed && off.findings.is_empty());
    let excluded = engine_with("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: require-limits, exclude: {namespaces: [acme-prod]}}\n")
        .validate(&req("acme-prod", bare_pod()), &inv);
    assert!(excluded.allowed);
}

#[test]
fn long_warnings_are_truncated() {
    let w = truncate_warning("x".repeat(1000));
    assert_eq!(w.chars().count(), MAX_WARNING_CHARS);
}

#[test]
fn create_without_object_is_never_admitted() {
    let mut r = req("acme-prod", bare_pod());
    r.object = None;
    let o = Engine::default().validate(&r, &world());
    assert!(!o.allowed);
    let m = Engine::default().mutate(&r, &world());
    assert!(!m.allowed);
}

#[test]
fn delete_without_object_is_fine() {
    let mut r = req("acme-prod", bare_pod());
    r.object = None;
    r.operation = Operation::Delete;
    assert!(Engine::default().validate(&r, &world()).allowed);
}

#[test]
fn mutation_patch_adds_label_and_is_idempotent() {
    let e = Engine::default();
    let inv = world();
    let r = req("acme-prod", bare_pod());
    let o = e.mutate(&r, &inv);
    assert!(!o.patch.is_empty());
    let mut obj = r.object.clone().unwrap();
    json_patch::patch(&mut obj, &o.patch).unwrap();
    assert_eq!(obj["metadata"]["labels"][TENANT_LABEL], "acme");
    let again = e.mutate(&req("acme-prod", obj), &inv);
    assert!(again.patch.is_empty(), "{:?}", again.patch);
}

fn namespace_req(op: Operation, user: User, old: Option<Value>, new: Option<Value>) -> Request {
    let any = new.as_ref().or(old.as_ref()).cloned().unwrap_or_default();
    let name = any["metadata"]["name"].as_str().unwrap_or("").to_string();
    Request {
        kind: "Namespace".into(),
        namespace: name.clone(),
        name,
        operation: op,
        user,
        object: new,
        old_object: old,
        ..req("", any)
    }
}

fn ns(name: &str, tenant: Option<&str>) -> Value {
    let mut labels = json!({"kubernetes.io/metadata.name": name});
    if let Some(t) = tenant {
        labels[TENANT_LABEL] = json!(t);
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

/// Hole 1: the Namespace object of an exempt namespace is judged (its
/// tenant label, its deletion); the objects in it are not.
#[test]
#[rustfmt::skip]
fn exempt_namespace_objects_are_judged() {
    let e = Engine::default();
    let inv = world();
    let owner = User { username: "dave".into(), groups: vec!["acme-admins".into()] };
    let admin = User { username: "root".into(), groups: vec!["system:masters".into()] };
    let cases: Vec<(&str, Request, bool)> = vec![
        ("owner labels tenantguard-system", namespace_req(Operation::Update, owner.clone(),
            Some(ns("tenantguard-system", None)), Some(ns("tenantguard-system", Some("acme")))), false),
        ("owner labels kube-system", namespace_req(Operation::Update, owner.clone(),
            Some(ns("kube-system", None)), Some(ns("kube-system", Some("acme")))), false),
        ("owner deletes kube-public", namespace_req(Operation::Delete, owner.clone(),
            Some(ns("kube-public", None)), None), false),
        ("owner changes another label of kube-system", namespace_req(Operation::Update, owner.clone(),
            Some(ns("kube-system", None)), Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "labels": {"x": "y"}}}))), true),
        ("admin labels kube-system", namespace_req(Operation::Update, admin.clone(),
            Some(ns("kube-system", None)), Some(ns("kube-system", Some("acme")))), true),
        ("a pod in an exempt namespace is still not judged", req("kube-system", bare_pod()), true),
    ];
    for (name, r, allowed) in cases {
        let o = e.validate(&r, &inv);
        assert_eq!(o.allowed, allowed, "{name}: {o:?}");
        if !allowed {
            assert!(o.denial_message().starts_with("[namespace-ownership]"), "{name}: {o:?}");
        }
    }
    // namespace-labels never hands an exempt namespace to the owner's tenant.
    let mut inv = world();
    inv.add_tenant(&crate::policy::Tenant::new("acme", serde_yaml_ng::from_str("owners: [{kind: Group, name: acme-admins}]").unwrap()));
    let create = namespace_req(Operation::Create, owner.clone(), None, Some(ns("kube-public", None)));
    assert!(e.mutate(&create, &inv).patch.is_empty());
    let create = namespace_req(Operation::Create, owner, None, Some(ns("acme-new", None)));
    assert!(!e.mutate(&create, &inv).patch.is_empty(), "a normal namespace is labelled");
}

/// Hole 8: the onboarding gate.
#[test]
fn onboarding_gate() {
    let e = Engine::default();
    let mut inv = world();
    let limited = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
    let pod = req("acme-prod", limited.clone());
    assert!(e.validate(&pod, &inv).allowed, "no controller, no gate");
    inv.onboarding_gate = true;
    for o in [e.validate(&pod, &inv), e.mutate(&pod, &inv)] {
        assert!(!o.allowed);
        assert_eq!(
            o.error,
            Some(CannotJudge::NotOnboarded {
                namespace: "acme-prod".into(),
                tenant: "acme".into()
            })
        );
        assert_eq!(
            o.error.as_ref().and_then(|c| c.retry_namespace()),
            Some("acme-prod")
        );
        assert!(o.denial_message().contains("not onboarded yet"), "{o:?}");
        assert!(o.denial_message().ends_with("retry in a moment"), "{o:?}");
    }
    // Only new Pods wait: updates, other kinds, subresources and platform
    // namespaces do not.
    let mut update = pod.clone();
    update.operation = Operation::Update;
    update.old_object = Some(limited.clone());
    assert!(e.validate(&update, &inv).allowed);
    let svc = req(
        "acme-prod",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
    );
    assert!(e.validate(&svc, &inv).allowed);
    let mut status = pod.clone();
    status.resource = Resource {
        group: String::new(),
        resource: "pods".into(),
        subresource: "status".into(),
    };
    assert!(e.validate(&status, &inv).allowed);
    assert!(
        e.validate(&req("monitoring", limited.clone()), &inv)
            .allowed
    );
    // Onboarded: admitted.
    inv.record_namespace("acme-prod", Some("acme"), true);
    assert!(e.validate(&pod, &inv).allowed);
}

/// Hole 9a: a non-string tenant label on a request's object cannot be judged.
#[test]
fn malformed_tenant_labels_cannot_be_judged() {
    let e = Engine::default();
    let inv = world();
    let mut pod = bare_pod();
    pod["metadata"]["labels"] = json!({TENANT_LABEL: 5});
    let o = e.validate(&req("acme-prod", pod.clone()), &inv);
    assert!(
        matches!(
            o.error,
            Some(CannotJudge::MalformedTenantLabel {
                field: "object",
                ..
            })
        ),
        "{o:?}"
    );
    assert!(o.denial_message().contains("is 5, not a string"), "{o:?}");
    // Out of scope (a platform namespace): nothing is read, nothing denied.
    assert!(e.validate(&req("monitoring", pod), &inv).allowed);
    let r = namespace_req(
        Operation::Create,
        User::default(),
        None,
        Some(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {TENANT_LABEL: ["acme"]}}}),
        ),
    );
    let o = e.validate(&r, &inv);
    assert!(
        matches!(o.error, Some(CannotJudge::MalformedTenantLabel { .. })),
        "{o:?}"
    );
    // An empty one is a missing one: filled on a pod.
    let mut pod = bare_pod();
    pod["metadata"]["labels"] = json!({TENANT_LABEL: ""});
    let m = e.mutate(&req("acme-prod", pod), &inv);
    assert_eq!(
        serde_json::to_value(&m.patch).unwrap(),
        json!([{"op": "replace", "path": "/metadata/labels/tenantguard.io~1tenant", "value": "acme"}])
    );
}

/// Hole 9d: what the apiserver never sends is denied, in every endpoint.
#[test]
fn unsent_requests_cannot_be_judged() {
    let e = Engine::default();
    let inv = world();
    let mut no_ns = req("", bare_pod());
    no_ns.resource = Resource {
        group: String::new(),
        resource: "pods".into(),
        subresource: String::new(),
    };
    let mut mismatch = req("acme-prod", bare_pod());
    mismatch.kind = "Service".into();
    for (name, r) in [("no namespace", no_ns), ("kind disagrees", mismatch)] {
        for o in [e.validate(&r, &inv), e.mutate(&r, &inv), e.admit(&r, &inv)] {
            assert!(!o.allowed, "{name}");
            assert!(
                matches!(o.error, Some(CannotJudge::Unsent(_))),
                "{name}: {o:?}"
            );
            assert_eq!(o.error.as_ref().and_then(|c| c.retry_namespace()), None);
        }
    }
}

/// The registry's kinds and subresources decide which rules run: a rule is
/// not called for a kind it does not declare, nor for a subresource it does
/// not list, and no mutation copy is made for a kind no mutating rule judges.
#[test]
fn rules_run_only_for_their_kinds_and_subresources() {
    let e = Engine::default();
    let inv = world();
    // A pod without limits: require-limits denies the resource itself...
    let pod = req("acme-prod", bare_pod());
    let o = e.validate(&pod, &inv);
    assert_eq!(
        o.findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        vec![RuleId::RequireLimits, RuleId::RequireLimits]
    );
    // ...but no rule lists pods/status, so a status write is not judged.
    let mut status = pod.clone();
    status.operation = Operation::Update;
    status.old_object = status.object.clone();
    status.resource = Resource {
        group: String::new(),
        resource: "pods".into(),
        subresource: "status".into(),
    };
    let o = e.validate(&status, &inv);
    assert!(o.allowed && o.findings.is_empty(), "{o:?}");
    assert!(e.mutate(&status, &inv).patch.is_empty());
    // A ConfigMap is no mutating rule's kind: no patch, even though it has
    // no tenant label (a Service, judged by tenant-labels, gets one).
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert!(!e.mutable_kind("", "ConfigMap"));
    assert!(e.mutate(&req("acme-prod", cm), &inv).patch.is_empty());
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
    assert!(e.mutable_kind("", "Service"));
    assert_eq!(e.mutate(&req("acme-prod", svc), &inv).patch.len(), 1);
    // A ConfigMap claiming another tenant is still judged: cross-tenant-
    // selectors judges every kind.
    let claim = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {TENANT_LABEL: "globex"}}});
    let o = e.validate(&req("acme-prod", claim), &inv);
    assert_eq!(
        o.findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        vec![RuleId::CrossTenantSelectors],
        "{o:?}"
    );
}

/// The apiserver keeps the metadata of `namespaces/status` and
/// `namespaces/finalize` UPDATEs, so a relabel through them is judged as one
/// through the namespace; the namespace controller's own writes through them
/// (labels unchanged) stay admitted.
#[test]
fn namespace_relabels_through_subresources_are_judged() {
    let e = Engine::default();
    let inv = world();
    let ns = |labels: Value| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-prod", "labels": labels}});
    let update = |sub: &str, old: Value, new: Value| {
        let mut r = req("acme-prod", new);
        r.name = "acme-prod".into();
        r.operation = Operation::Update;
        r.old_object = Some(old);
        r.user = User {
            username: "alice".into(),
            groups: vec!["system:authenticated".into()],
        };
        r.resource = Resource {
            group: String::new(),
            resource: "namespaces".into(),
            subresource: sub.into(),
        };
        r
    };
    let acme = ns(json!({TENANT_LABEL: "acme", "pod-security.kubernetes.io/enforce": "baseline"}));
    let cases = [
        (
            "relabel",
            ns(json!({TENANT_LABEL: "globex", "pod-security.kubernetes.io/enforce": "baseline"})),
            vec![RuleId::NamespaceOwnership],
        ),
        (
            "unlabel",
            ns(json!({"pod-security.kubernetes.io/enforce": "baseline"})),
            vec![RuleId::NamespaceOwnership],
        ),
        (
            "Pod Security off",
            ns(json!({TENANT_LABEL: "acme", "pod-security.kubernetes.io/enforce": "privileged"})),
            vec![RuleId::NamespaceMetadata],
        ),
        ("labels unchanged", acme.clone(), vec![]),
    ];
    for sub in ["", "status", "finalize"] {
        for (name, new, want) in &cases {
            let o = e.validate(&update(sub, acme.clone(), new.clone()), &inv);
            let got: Vec<RuleId> = o.findings.iter().map(|f| f.rule).collect();
            assert_eq!(&got, want, "{sub:?} {name}: {o:?}");
            assert_eq!(o.allowed, want.is_empty(), "{sub:?} {name}");
        }
    }
}

#[test]
fn a_rule_turned_off_makes_no_mutation_copy_for_its_kinds() {
    let set = load_sources([(
        "p.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: tenant-labels, action: Off}\n",
    )])
    .expect("policies");
    let e = Engine::new(set, Identity::default());
    assert!(
        !e.mutable_kind("", "Service"),
        "only tenant-labels mutates Services"
    );
    assert!(e.mutable_kind("", "Pod"));
}
