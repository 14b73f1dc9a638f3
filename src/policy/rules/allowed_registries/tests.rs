//! The case tables of `allowed-registries`: prefixes with their look-alike
//! neighbours, every place an image hides, and the lists' inheritance.

use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::Operation;
use serde_json::json;

/// acme may pull from its registry path and GHCR org; globex declares
/// nothing (Settings decide); initech may pull nothing.
fn world() -> World {
    let mut w = World::new()
        .with_tenant(
            "acme",
            "allowed: {registries: [registry.example.com/acme/, ghcr.io/acme, docker.io/library]}",
        )
        .with_tenant("globex", "{}")
        .with_tenant("initech", "allowed: {registries: []}");
    w.inventory.add_namespace("initech-prod", Some("initech"));
    w
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn one(image: &str) -> Value {
    pod(json!({"containers": [{"name": "app", "image": image}]}))
}

fn paths(w: &World, ns: &str, obj: &Value) -> Vec<String> {
    validate(&w.ctx(ns, obj), &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect()
}

const C0: &str = "spec.containers[0].image";

#[test]
fn images_against_prefixes() {
    let w = world();
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        ("own registry path", "registry.example.com/acme/app:1.0", vec![]),
        ("deeper under the path", "registry.example.com/acme/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", vec![]),
        ("host in capitals", "Registry.Example.COM/acme/app", vec![]),
        ("GHCR org without trailing slash in the list", "ghcr.io/acme/tool", vec![]),
        ("official image, short form", "nginx", vec![]),
        ("official image with tag", "nginx:1.27-alpine", vec![]),
        ("official image, long form", "docker.io/library/redis:7", vec![]),
        ("official image, legacy host", "index.docker.io/library/redis", vec![]),
        ("a name extending the path", "registry.example.com/acme-evil/app", vec![C0]),
        ("a path glued to the name", "registry.example.com/acmeevil", vec![C0]),
        ("a host extending the registry", "registry.example.com.evil.io/acme/app", vec![C0]),
        ("the registry as a path", "evil.io/registry.example.com/acme/app", vec![C0]),
        ("another port", "registry.example.com:5000/acme/app", vec![C0]),
        ("a Docker Hub user", "bitnami/nginx", vec![C0]),
        ("a Docker Hub user named like the org", "acme/app", vec![C0]),
        ("another GHCR org", "ghcr.io/acme-evil/app", vec![C0]),
        ("localhost", "localhost:5000/acme/app", vec![C0]),
        ("uppercase path is no reference", "registry.example.com/ACME/app", vec![C0]),
        ("leading space", " nginx", vec![C0]),
        ("bad tag", "nginx:", vec![C0]),
    ];
    for (name, image, want) in cases {
        assert_eq!(paths(&w, "acme-prod", &one(image)), want, "{name}: {image}");
    }
}

#[test]
fn every_place_an_image_hides() {
    let w = world();
    let bad = "evil.io/x";
    let good = "ghcr.io/acme/ok";
    let p = pod(json!({
        "initContainers": [{"name": "init", "image": good}, {"name": "init2", "image": bad}],
        "containers": [{"name": "a", "image": good}, {"name": "b", "image": bad}],
        "ephemeralContainers": [{"name": "debug", "image": bad}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "model", "image": {"reference": bad, "pullPolicy": "IfNotPresent"}},
            {"name": "tools", "image": {"reference": good}},
        ],
    }));
    assert_eq!(
        paths(&w, "acme-prod", &p),
        [
            "spec.containers[1].image",
            "spec.initContainers[1].image",
            "spec.ephemeralContainers[0].image",
            "spec.volumes[1].image.reference",
        ]
    );
    // The same pod in every workload kind, at the template's paths.
    let spec = p["spec"].clone();
    let template = json!({"metadata": {}, "spec": spec});
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}});
    let got = paths(&w, "acme-prod", &cron);
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3],
        "spec.jobTemplate.spec.template.spec.volumes[1].image.reference"
    );
    for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
        let d = json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "d"}, "spec": {"template": template}});
        let got = paths(&w, "acme-prod", &d);
        assert_eq!(got[0], "spec.template.spec.containers[1].image", "{kind}");
        assert_eq!(got.len(), 4, "{kind}");
    }
}

#[test]
fn unset_and_malformed_images() {
    let w = world();
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("no image (a template may leave it to tooling)", pod(json!({"containers": [{"name": "a"}]})), vec![]),
        ("empty image", pod(json!({"containers": [{"name": "a", "image": ""}]})), vec![]),
        ("image not a string", pod(json!({"containers": [{"name": "a", "image": 5}]})), vec![C0]),
        ("volume reference not a string", pod(json!({"containers": [], "volumes": [{"name": "v", "image": {"reference": ["x"]}}]})), vec!["spec.volumes[0].image.reference"]),
        ("image volume without reference", pod(json!({"volumes": [{"name": "v", "image": {}}]})), vec![]),
        ("no spec", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}), vec![]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "acme-prod", &obj), want, "{name}");
    }
}

#[test]
fn lists_and_scope() {
    let mut w = world();
    let evil = one("evil.io/x");
    // No list anywhere: anything goes.
    assert!(paths(&w, "globex-prod", &evil).is_empty());
    // An empty list: nothing goes, not even official images.
    assert_eq!(paths(&w, "initech-prod", &one("nginx")), [C0]);
    // Platform namespaces and other kinds are not judged.
    assert!(paths(&w, "monitoring", &evil).is_empty());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "evil.io/x"}});
    assert!(paths(&w, "acme-prod", &cm).is_empty());
    // The Settings' list is inherited by tenants without one.
    w.settings.allowed.registries = Some(vec!["registry.example.com".into()]);
    assert!(paths(&w, "globex-prod", &one("registry.example.com/globex/app")).is_empty());
    assert_eq!(paths(&w, "globex-prod", &evil), [C0]);
    // acme's own list replaces it.
    assert_eq!(
        paths(&w, "acme-prod", &one("registry.example.com/globex/app")),
        [C0]
    );
}

#[test]
fn updates_and_ephemeral_containers() {
    let w = world();
    let old = one("ghcr.io/acme/app");
    // kubectl debug: pods/ephemeralcontainers UPDATE carrying the whole Pod.
    let mut debug = old.clone();
    debug["spec"]["ephemeralContainers"] = json!([{"name": "debugger", "image": "busybox"}]);
    let mut ctx = w.ctx("acme-prod", &debug);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    assert!(validate(&ctx, &Params::default()).is_empty());
    debug["spec"]["ephemeralContainers"][0]["image"] = json!("evil.io/debugger");
    let mut ctx = w.ctx("acme-prod", &debug);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    let v = validate(&ctx, &Params::default());
    assert_eq!(v[0].path, "spec.ephemeralContainers[0].image");
    // An image changed in place is judged.
    let swapped = one("evil.io/app");
    let mut ctx = w.ctx("acme-prod", &swapped);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    // A pod from before the list, on its way out: its finalizer removal passes.
    let mut dying = one("evil.io/app");
    dying["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let mut done = dying.clone();
    done["metadata"]["finalizers"] = json!([]);
    let mut ctx = w.ctx("acme-prod", &done);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&dying);
    assert!(validate(&ctx, &Params::default()).is_empty());
}

#[test]
fn messages_name_the_image_and_the_prefixes() {
    let w = world();
    let v = validate(
        &w.ctx("acme-prod", &one("registry.example.com/acme-evil/app:1")),
        &Params::default(),
    );
    assert_eq!(
        v[0].message,
        "spec.containers[0] \"app\": image \"registry.example.com/acme-evil/app:1\" (registry.example.com/acme-evil/app) is not from a registry tenant acme may pull from (allowed: registry.example.com/acme/, ghcr.io/acme, docker.io/library); use an image under one of those prefixes, or ask a platform admin to add its registry to Tenant acme's spec.allowed.registries"
    );
    let v = validate(
        &w.ctx("acme-prod", &one("registry.example.com/Acme/app")),
        &Params::default(),
    );
    assert!(
        v[0].message.contains("\"Acme\" has uppercase letters"),
        "{}",
        v[0].message
    );
    let v = validate(&w.ctx("initech-prod", &one("nginx")), &Params::default());
    assert!(v[0].message.contains("(allowed: none)"), "{}", v[0].message);
}
