//! The case tables of `allowed-classes`: each class field with an allowed
//! neighbour, the lists' inheritance, the storage defaults and the reserved
//! priority classes.

use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::Operation;
use serde_json::json;

/// acme has every list; globex none (Settings decide); initech empty lists.
fn world() -> World {
    let mut w = World::new()
        .with_tenant(
            "acme",
            "allowed: {ingressClasses: [nginx], storageClasses: [standard, fast], priorityClasses: [tenant-low, tenant-high], runtimeClasses: [gvisor], gatewayClasses: [shared-gw]}",
        )
        .with_tenant("globex", "{}")
        .with_tenant(
            "initech",
            "allowed: {ingressClasses: [], storageClasses: [], priorityClasses: [], runtimeClasses: [], gatewayClasses: []}",
        );
    w.inventory.add_namespace("initech-prod", Some("initech"));
    w
}

fn paths(w: &World, ns: &str, obj: &Value) -> Vec<String> {
    validate(&w.ctx(ns, obj), &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect()
}

fn ingress(annotations: Value, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "annotations": annotations}, "spec": spec})
}

fn pvc(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": spec})
}

fn annotated_pvc(class: Value, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": class}}, "spec": spec})
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn gateway(class: Value) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": class, "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}})
}

const ICN: &str = "spec.ingressClassName";
const ANN: &str = "metadata.annotations.kubernetes.io/ingress.class";
const SCN: &str = "spec.storageClassName";
const SCA: &str = "metadata.annotations.volume.beta.kubernetes.io/storage-class";
const PCN: &str = "spec.priorityClassName";
const RCN: &str = "spec.runtimeClassName";
const GCN: &str = "spec.gatewayClassName";

type Case = (&'static str, &'static str, Value, Vec<&'static str>);

#[test]
fn cases() {
    let w = world();
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("allowed ingress class", "acme-prod", ingress(json!({}), json!({"ingressClassName": "nginx"})), vec![]),
        ("other ingress class", "acme-prod", ingress(json!({}), json!({"ingressClassName": "public"})), vec![ICN]),
        ("ingress class differs in case", "acme-prod", ingress(json!({}), json!({"ingressClassName": "NGINX"})), vec![ICN]),
        ("allowed legacy annotation", "acme-prod", ingress(json!({"kubernetes.io/ingress.class": "nginx"}), json!({})), vec![]),
        ("other legacy annotation", "acme-prod", ingress(json!({"kubernetes.io/ingress.class": "public"}), json!({})), vec![ANN]),
        ("good field, bad annotation", "acme-prod", ingress(json!({"kubernetes.io/ingress.class": "public"}), json!({"ingressClassName": "nginx"})), vec![ANN]),
        ("both bad", "acme-prod", ingress(json!({"kubernetes.io/ingress.class": "public"}), json!({"ingressClassName": "internal"})), vec![ICN, ANN]),
        ("ingress without class: the default class", "acme-prod", ingress(json!({}), json!({"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}})), vec![]),
        ("ingress class not a string", "acme-prod", ingress(json!({}), json!({"ingressClassName": {"name": "nginx"}})), vec![ICN]),
        ("no list: any ingress class", "globex-prod", ingress(json!({}), json!({"ingressClassName": "public"})), vec![]),
        ("empty list: no ingress class", "initech-prod", ingress(json!({}), json!({"ingressClassName": "nginx"})), vec![ICN]),
        ("allowed storage class", "acme-prod", pvc(json!({"storageClassName": "fast"})), vec![]),
        ("other storage class", "acme-prod", pvc(json!({"storageClassName": "premium-ssd"})), vec![SCN]),
        ("no storage class, no Settings default", "acme-prod", pvc(json!({"resources": {"requests": {"storage": "1Gi"}}})), vec![]),
        ("static binding with a list", "acme-prod", pvc(json!({"storageClassName": "", "volumeName": "pv-1"})), vec![SCN]),
        ("static binding without a list", "globex-prod", pvc(json!({"storageClassName": ""})), vec![]),
        ("storage class not a string", "acme-prod", pvc(json!({"storageClassName": 7})), vec![SCN]),
        // The beta annotation the PV controller reads before the field.
        ("beta annotation alone", "acme-prod", annotated_pvc(json!("premium-ssd"), json!({})), vec![SCA]),
        ("beta annotation beside an allowed field", "acme-prod", annotated_pvc(json!("premium-ssd"), json!({"storageClassName": "standard"})), vec![SCA]),
        ("allowed beta annotation, other field", "acme-prod", annotated_pvc(json!("fast"), json!({"storageClassName": "premium-ssd"})), vec![SCN]),
        ("allowed beta annotation and field", "acme-prod", annotated_pvc(json!("fast"), json!({"storageClassName": "fast"})), vec![]),
        ("beta annotation: static binding with a list", "acme-prod", annotated_pvc(json!(""), json!({})), vec![SCA]),
        ("null beta annotation is none", "acme-prod", annotated_pvc(Value::Null, json!({"storageClassName": "fast"})), vec![]),
        ("no list: any beta annotation", "globex-prod", annotated_pvc(json!("premium-ssd"), json!({})), vec![]),
        ("empty list: no beta annotation", "initech-prod", annotated_pvc(json!("standard"), json!({})), vec![SCA]),
        ("allowed priority class", "acme-prod", pod(json!({"priorityClassName": "tenant-high"})), vec![]),
        ("other priority class", "acme-prod", pod(json!({"priorityClassName": "platform-high"})), vec![PCN]),
        ("system-node-critical", "acme-prod", pod(json!({"priorityClassName": "system-node-critical"})), vec![PCN]),
        ("system-cluster-critical, no list", "globex-prod", pod(json!({"priorityClassName": "system-cluster-critical"})), vec![PCN]),
        ("reserved prefix in capitals", "globex-prod", pod(json!({"priorityClassName": "System-Node-Critical"})), vec![PCN]),
        ("no priority class", "acme-prod", pod(json!({"containers": []})), vec![]),
        ("empty priority class is none", "initech-prod", pod(json!({"priorityClassName": ""})), vec![]),
        ("allowed runtime class", "acme-prod", pod(json!({"runtimeClassName": "gvisor"})), vec![]),
        ("other runtime class", "acme-prod", pod(json!({"runtimeClassName": "runc"})), vec![RCN]),
        ("runtime and priority both bad", "acme-prod", pod(json!({"runtimeClassName": "kata", "priorityClassName": "system-node-critical"})), vec![PCN, RCN]),
        ("no list: any runtime class", "globex-prod", pod(json!({"runtimeClassName": "kata"})), vec![]),
        ("allowed gateway class", "acme-prod", gateway(json!("shared-gw")), vec![]),
        ("other gateway class", "acme-prod", gateway(json!("internal-gw")), vec![GCN]),
        ("empty list: no gateway class", "initech-prod", gateway(json!("shared-gw")), vec![GCN]),
        ("platform namespace", "monitoring", pod(json!({"priorityClassName": "system-node-critical"})), vec![]),
        ("an Ingress of another group", "acme-prod", json!({"apiVersion": "example.com/v1", "kind": "Ingress", "metadata": {"name": "x"}, "spec": {"ingressClassName": "public"}}), vec![]),
        ("a Gateway of another group", "acme-prod", json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "x"}, "spec": {"gatewayClassName": "x"}}), vec![]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(&w, ns, &obj), want, "{name}");
    }
}

#[test]
fn workloads_and_claim_templates() {
    let w = world();
    let template = json!({"metadata": {}, "spec": {"priorityClassName": "system-node-critical", "runtimeClassName": "gvisor", "containers": []}});
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {
    "template": template,
    "volumeClaimTemplates": [
        {"metadata": {"name": "ok"}, "spec": {"storageClassName": "standard"}},
        {"metadata": {"name": "bad"}, "spec": {"storageClassName": "premium"}},
        {"metadata": {"name": "default"}, "spec": {}},
        {"metadata": {"name": "static"}, "spec": {"storageClassName": ""}},
        {"metadata": {"name": "beta", "annotations": {"volume.beta.kubernetes.io/storage-class": "premium"}}, "spec": {"storageClassName": "fast"}},
    ]}});
    assert_eq!(
        paths(&w, "acme-prod", &sts),
        [
            "spec.volumeClaimTemplates[1].spec.storageClassName",
            "spec.volumeClaimTemplates[3].spec.storageClassName",
            "spec.volumeClaimTemplates[4].metadata.annotations.volume.beta.kubernetes.io/storage-class",
            "spec.template.spec.priorityClassName",
        ]
    );
    // Generic ephemeral volumes make a claim from their template.
    let eph =
        |claim: Value| json!({"name": "scratch", "ephemeral": {"volumeClaimTemplate": claim}});
    let p = pod(json!({"volumes": [
        {"name": "tmp", "emptyDir": {}},
        eph(json!({"spec": {"storageClassName": "fast"}})),
        eph(json!({"spec": {"storageClassName": "premium"}})),
        eph(json!({"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "premium"}}, "spec": {}})),
        eph(Value::Null),
    ], "containers": []}));
    assert_eq!(
        paths(&w, "acme-prod", &p),
        [
            "spec.volumes[2].ephemeral.volumeClaimTemplate.spec.storageClassName",
            "spec.volumes[3].ephemeral.volumeClaimTemplate.metadata.annotations.volume.beta.kubernetes.io/storage-class",
        ]
    );
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {
        "volumes": [eph(json!({"spec": {"storageClassName": "premium"}}))]}}}});
    assert_eq!(
        paths(&w, "acme-prod", &job),
        ["spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.spec.storageClassName"]
    );
    assert!(paths(&w, "globex-prod", &p).is_empty());
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"runtimeClassName": "kata"}}}}}});
    assert_eq!(
        paths(&w, "acme-prod", &cron),
        ["spec.jobTemplate.spec.template.spec.runtimeClassName"]
    );
    // volumeClaimTemplates only mean claims in a StatefulSet.
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"volumeClaimTemplates": [{"spec": {"storageClassName": "premium"}}], "template": {"spec": {}}}});
    assert!(paths(&w, "acme-prod", &d).is_empty());
}

#[test]
fn settings_lists_and_default_storage_class() {
    let mut w = world();
    w.settings.allowed.storage_classes = Some(vec!["standard".into()]);
    w.settings.allowed.ingress_classes = Some(vec!["shared".into()]);
    w.settings.default_storage_class = "premium".into();
    let no_class = pvc(json!({"resources": {"requests": {"storage": "1Gi"}}}));
    // globex inherits the Settings' lists; a claim without a class is the default one.
    assert_eq!(paths(&w, "globex-prod", &no_class), [SCN]);
    // The beta annotation names the class instead: the apiserver sets no default.
    let annotated = annotated_pvc(json!("standard"), json!({}));
    assert!(paths(&w, "globex-prod", &annotated).is_empty());
    assert!(paths(
        &w,
        "globex-prod",
        &pvc(json!({"storageClassName": "standard"}))
    )
    .is_empty());
    assert_eq!(
        paths(
            &w,
            "globex-prod",
            &ingress(json!({}), json!({"ingressClassName": "nginx"}))
        ),
        [ICN]
    );
    // acme's own list replaces the Settings'.
    assert!(paths(
        &w,
        "acme-prod",
        &ingress(json!({}), json!({"ingressClassName": "nginx"}))
    )
    .is_empty());
    assert_eq!(paths(&w, "acme-prod", &no_class), [SCN]);
    w.settings.default_storage_class = "fast".into();
    assert!(paths(&w, "acme-prod", &no_class).is_empty());
    let v = validate(&w.ctx("globex-prod", &no_class), &Params::default());
    assert_eq!(
        v[0].message,
        "spec.storageClassName: storage class \"fast\" (no storageClassName, so the cluster's default class, Settings defaultStorageClass) is not one tenant globex may use (allowed: standard); use one of those, or ask a platform admin to grant \"fast\" in Tenant globex's spec.allowed.storageClasses (it now inherits the Settings' allowed.storageClasses, which a Tenant's list replaces)"
    );
}

#[test]
fn captured_runtime_class_pod() {
    let req: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/real/pod/create-runtimeclass.json"
    ))
    .unwrap();
    let pod = &req["object"];
    let w = world();
    // acme runs only gvisor; the captured pod asks for "runC".
    assert_eq!(paths(&w, "acme-prod", pod), [RCN]);
    // globex has no list; initech's is empty.
    assert!(paths(&w, "globex-prod", pod).is_empty());
    assert_eq!(paths(&w, "initech-prod", pod), [RCN]);
    let w = World::new().with_tenant("acme", "allowed: {runtimeClasses: [runC]}");
    assert!(paths(&w, "acme-prod", pod).is_empty());
}

#[test]
fn updates_are_judged_but_dying_pods_pass() {
    let w = world();
    let old = ingress(json!({}), json!({"ingressClassName": "nginx"}));
    let new = ingress(json!({}), json!({"ingressClassName": "public"}));
    let mut ctx = w.ctx("acme-prod", &new);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    assert_eq!(validate(&ctx, &Params::default()).len(), 1);

    let mut dying = pod(json!({"priorityClassName": "system-node-critical"}));
    dying["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let mut done = dying.clone();
    done["metadata"]["finalizers"] = json!([]);
    let mut ctx = w.ctx("acme-prod", &done);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&dying);
    assert!(validate(&ctx, &Params::default()).is_empty());
}

#[test]
fn messages() {
    let w = world();
    let p = pod(json!({"priorityClassName": "system-node-critical"}));
    let v = validate(&w.ctx("acme-prod", &p), &Params::default());
    assert_eq!(
        v[0].message,
        "spec.priorityClassName: priority class \"system-node-critical\" is reserved for the cluster's own critical pods (system-node-critical, system-cluster-critical preempt every tenant's pods and are evicted last), so no tenant may use it; use one of tenant acme's priority classes or none"
    );
    let i = ingress(json!({}), json!({"ingressClassName": "public"}));
    let v = validate(&w.ctx("acme-prod", &i), &Params::default());
    assert_eq!(
        v[0].message,
        "spec.ingressClassName: ingress class \"public\" is not one tenant acme may use (allowed: nginx); use one of those, or ask a platform admin to grant \"public\" in Tenant acme's spec.allowed.ingressClasses"
    );
    let s = pvc(json!({"storageClassName": ""}));
    let v = validate(&w.ctx("acme-prod", &s), &Params::default());
    assert!(v[0].message.contains("static binding"), "{}", v[0].message);
}
