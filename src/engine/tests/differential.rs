//! Differential test of the mutation path: for every captured request under
//! `tests/fixtures/real` and every object and request of the acceptance
//! suite, in tenant, platform and other tenants' namespaces, as several
//! requesters and on each acceptance inventory, the patch made from the
//! rules' edits ([`Engine::mutate`]) is the patch of the earlier path (a
//! copy of the whole object changed in place, diffed with the original:
//! [`Engine::mutate_whole`]), and applying it gives the same object.

use std::path::{Path, PathBuf};

use crate::engine::ObjectValue;
use crate::engine::*;
use crate::model::split_api_version;
use crate::policy::rules::{Identity, Operation, User};
use serde_json::json;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// The YAML documents of an acceptance file (split on `---` lines).
fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---\n")
        .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
        .filter(Value::is_object)
        .collect()
}

/// A request from an AdmissionRequest (`kind`, `operation`, `object`, …;
/// left-out fields are read from the object).
fn request_of(r: &Value) -> Option<Request> {
    let object = r.get("object").filter(|o| !o.is_null()).cloned();
    let old_object = r.get("oldObject").filter(|o| !o.is_null()).cloned();
    let obj = object.as_ref().or(old_object.as_ref())?;
    let (group, version, kind) = match r.get("kind") {
        Some(k) => (
            k["group"].as_str().unwrap_or("").to_string(),
            k["version"].as_str().unwrap_or("").to_string(),
            k["kind"].as_str().unwrap_or("").to_string(),
        ),
        None => {
            let (g, v) = split_api_version(obj["apiVersion"].as_str().unwrap_or(""));
            (
                g.to_string(),
                v.to_string(),
                obj["kind"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    let meta = |f: &str| obj["metadata"][f].as_str().unwrap_or("").to_string();
    let str_of = |f: &str| r.get(f).and_then(Value::as_str).map(str::to_string);
    Some(Request {
        uid: "u".into(),
        group,
        version,
        kind,
        resource: Resource {
            subresource: str_of("subResource").unwrap_or_default(),
            ..Default::default()
        },
        namespace: str_of("namespace").unwrap_or_else(|| meta("namespace")),
        name: str_of("name").unwrap_or_else(|| meta("name")),
        operation: str_of("operation")
            .and_then(|o| o.parse().ok())
            .unwrap_or(Operation::Create),
        user: User::default(),
        dry_run: false,
        object,
        old_object,
    })
}

/// Every request to try: the captured and acceptance requests, each in its
/// own namespace and in tenant namespaces of the acceptance inventories.
fn requests() -> Vec<(String, Request)> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    files(&root().join("tests/fixtures/real"), "json", &mut paths);
    for p in &paths {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let r = v.get("request").unwrap_or(&v);
        if let Some(req) = request_of(r) {
            out.push((p.display().to_string(), req));
        }
    }
    let acceptance = root().join("tests/acceptance");
    for dir in ["check", "review", "ambiguous"] {
        let mut paths = Vec::new();
        files(&acceptance.join(dir), "yaml", &mut paths);
        for p in &paths {
            for (i, doc) in yaml_docs(p).into_iter().enumerate() {
                // A review document is a request; a check document an object.
                let r = if doc.get("operation").is_some() || doc.get("object").is_some() {
                    doc
                } else {
                    json!({"object": doc})
                };
                if let Some(req) = request_of(&r) {
                    out.push((format!("{}#{}", p.display(), i + 1), req));
                }
            }
        }
    }
    let mut varied = Vec::new();
    for (name, req) in out {
        let mut namespaces = vec![req.namespace.clone()];
        if req.kind != "Namespace" {
            namespaces.extend(
                [
                    "acme-prod",
                    "globex-prod",
                    "initech-prod",
                    "zeta-prod",
                    "monitoring",
                ]
                .map(String::from),
            );
        }
        for ns in namespaces {
            let r = Request {
                namespace: ns,
                ..req.clone()
            };
            varied.push((format!("{name} in {:?}", r.namespace), r));
        }
    }
    varied
}

fn users() -> Vec<User> {
    let user = |name: &str, groups: &[&str]| User {
        username: name.to_string(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    vec![
        User::default(),
        user("root@platform", &["system:masters"]),
        user("alice@acme.example", &[]),
        user("dave", &["acme-admins"]),
        user("carol", &[]),
    ]
}

/// The baseline policies with the acceptance suite's settings.
fn engine() -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let mut policies = Vec::new();
    files(&root().join("policies"), "yaml", &mut policies);
    for p in policies {
        let name = p.file_name().unwrap();
        std::fs::copy(&p, dir.path().join(name)).unwrap();
    }
    std::fs::copy(
        root().join("tests/acceptance/settings.yaml"),
        dir.path().join("settings.yaml"),
    )
    .unwrap();
    // The policy layer's loader, not `config` (which sits above the engine).
    let set = crate::policy::load_dir(dir.path()).unwrap();
    Engine::new(set, Identity::default())
}

#[test]
fn edits_patch_as_the_whole_object_diff_did() {
    let engine = engine();
    let requests = requests();
    assert!(requests.len() > 200, "{} requests", requests.len());
    let (mut judged, mut patched) = (0, 0);
    for inventory in [
        "inventory.yaml",
        "inventory-undeclared.yaml",
        "inventory-budget.yaml",
        "inventory-allowed.yaml",
    ] {
        let path = root().join("tests/acceptance").join(inventory);
        // As `serve --inventory` builds it, from the layers below the engine.
        let mut inv = crate::tenancy::load_inventory(&path).unwrap();
        for t in &engine.policies.tenants {
            inv.add_tenant(t);
        }
        crate::tenancy::check_owners(&inv).unwrap();
        for (name, req) in &requests {
            for user in users() {
                let req = Request {
                    user,
                    ..req.clone()
                };
                let new = engine.mutate(&req, &inv);
                let old = engine.mutate_whole(&req, &inv);
                let at = format!("{name} as {:?} on {inventory}", req.user.username);
                assert_eq!(new, old, "{at}");
                judged += 1;
                let Some(obj) = req.object.as_ref().filter(|_| !new.patch.is_empty()) else {
                    continue;
                };
                patched += 1;
                let (mut a, mut b) = (obj.clone(), obj.clone());
                json_patch::patch(&mut a, &new.patch).unwrap_or_else(|e| panic!("{at}: {e}"));
                json_patch::patch(&mut b, &old.patch).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(a, b, "{at}");
                // Applied twice, the patch changes nothing more.
                let mut twice = a.clone();
                json_patch::patch(&mut twice, &new.patch).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(twice, a, "{at}");
            }
        }
    }
    // The inputs do reach the mutating rules.
    assert!(patched > 500, "{patched} of {judged} requests patched");
}

/// `old` with one more `env` entry in every container of its pod (a field
/// no rule reads): an UPDATE that only edits a container's environment.
fn env_edited(old: &Value) -> Value {
    let mut old = old.clone();
    for spec in [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
        "/template/spec",
    ] {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let Some(items) = old
                .pointer_mut(&format!("{spec}/{list}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in items.iter_mut().filter_map(Value::as_object_mut) {
                let env = c.entry("env").or_insert_with(|| json!([]));
                if let Some(env) = env.as_array_mut() {
                    env.push(json!({"name": "EDITED", "value": "1"}));
                }
            }
        }
    }
    old
}

/// The object as the webhook reads it from a request body.
fn as_decoded(v: &Option<Value>) -> Option<Value> {
    v.as_ref().map(|v| {
        let text = serde_json::to_string(v).unwrap();
        serde_json::from_str::<ObjectValue>(&text).unwrap().0
    })
}

/// The parts of an object the webhook keeps as text (`engine::object`)
/// change no verdict and no patch: every request judged with its objects
/// read whole and read as the webhook reads them, and as an UPDATE whose
/// old object differs only in a container's `env`.
#[test]
fn objects_read_as_the_webhook_reads_them_judge_alike() {
    let engine = engine();
    let requests = requests();
    let mut updates = 0;
    for inventory in ["inventory.yaml", "inventory-allowed.yaml"] {
        let path = root().join("tests/acceptance").join(inventory);
        let mut inv = crate::tenancy::load_inventory(&path).unwrap();
        for t in &engine.policies.tenants {
            inv.add_tenant(t);
        }
        for (name, req) in &requests {
            let mut variants = vec![req.clone()];
            if let Some(obj) = req
                .object
                .as_ref()
                .filter(|_| req.operation != Operation::Delete)
            {
                let old = env_edited(obj);
                if &old != obj {
                    updates += 1;
                    variants.push(Request {
                        operation: Operation::Update,
                        old_object: Some(old),
                        ..req.clone()
                    });
                }
            }
            for whole in variants {
                for user in users() {
                    let whole = Request {
                        user,
                        ..whole.clone()
                    };
                    let read = Request {
                        object: as_decoded(&whole.object),
                        old_object: as_decoded(&whole.old_object),
                        ..whole.clone()
                    };
                    let at = format!(
                        "{name} ({:?} as {:?}) on {inventory}",
                        whole.operation, whole.user.username
                    );
                    assert_eq!(
                        engine.validate(&read, &inv),
                        engine.validate(&whole, &inv),
                        "{at}"
                    );
                    assert_eq!(
                        engine.mutate(&read, &inv),
                        engine.mutate(&whole, &inv),
                        "{at}"
                    );
                }
            }
        }
    }
    assert!(updates > 100, "{updates} env-only updates");
}
