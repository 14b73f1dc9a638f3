//! The properties the fuzz targets check, one function per target. The same
//! file is included by `tests/fuzz_regressions.rs`, so every committed corpus
//! input and crash reproducer replays through exactly this code in the
//! normal test suite.
//!
//! - `review`: AdmissionReview bytes → `admission::review` on both endpoints.
//!   Never panics; an answer is JSON echoing the uid; nothing is admitted
//!   that could not be judged; a denial says why; a patch applies.
//! - `policy`: policy file text → `policy::load_sources`. An error names the
//!   file and a line inside it; a set that loads can judge requests.
//! - `engine`: an arbitrary JSON object as a Pod, workload, Service,
//!   NetworkPolicy or Namespace in tenant, platform, exempt or unknown
//!   namespaces. The mutation patch applies, applying it twice changes
//!   nothing more, mutating the result adds nothing (the apiserver's
//!   reinvocation), and mutate-then-validate equals `admit`.
//! - `vault_path`: a Vault path → the `vault-boundaries` path judge. What it
//!   admits holds no query, fragment or leftover `%` once decoded and lies
//!   inside the secrets path; percent-encoding characters never changes the
//!   verdict; a path passed on undecoded is admitted only without `%`.

use std::sync::LazyLock;

use serde_json::Value;
use tenantguard::admission::{self, Endpoint};
use tenantguard::engine::{Engine, Outcome, Request};
use tenantguard::policy::rules::{Identity, Operation, User};
use tenantguard::policy::{self, Action, PolicySet};
use tenantguard::tenancy::Inventory;

/// Settings, two declared tenants with every per-tenant setting, and
/// policies using Warn, Audit and exclusions, so every path is reachable.
const WORLD_POLICIES: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Settings
spec:
  exemptNamespaces: [kube-system]
  admins: {users: [root], groups: [platform-admins]}
  sharedNamespaces: [kube-system, monitoring]
  vault: {secretsPathPrefix: secret/data/tenants, authPath: auth/kubernetes}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: User, name: alice}, {kind: Group, name: acme-admins}]
  namespaceLabels: {team: acme, cost.example/center: a-1}
  containerDefaults:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 512Mi}
  vault: {role: acme, secretsPath: kv/data/acme, namespace: acme}
  egress: {allowedCIDRs: [203.0.113.0/24, 2001:db8::/32], allowedNamespaces: [shared]}
  nodeSelector: {pool: acme}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  owners: [{kind: User, name: bob}]
  nodeSelector: {pool: globex}
---
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: vault-boundaries}
spec: {rule: vault-boundaries, action: Warn}
---
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: restrict-egress}
spec: {rule: restrict-egress, action: Audit, exclude: {users: [carol]}}
---
apiVersion: tenantguard.io/v1alpha1
kind: Policy
metadata: {name: require-limits}
spec: {rule: require-limits, action: Deny, params: {resources: [cpu, memory]}, exclude: {namespaces: [acme-batch]}}
";

/// (namespace, tenant label).
const NAMESPACES: [(&str, Option<&str>); 6] = [
    ("acme-prod", Some("acme")),
    ("acme-batch", Some("acme")),
    ("globex-prod", Some("globex")),
    ("monitoring", None),
    ("shared", None),
    ("stray", Some("not-declared")),
];

struct World {
    engine: Engine,
    inventory: Inventory,
}

fn inventory_for(set: &PolicySet) -> Inventory {
    let mut inv = Inventory::default();
    for (ns, tenant) in NAMESPACES {
        inv.add_namespace(ns, tenant);
    }
    for t in &set.tenants {
        inv.add_tenant(t);
    }
    inv
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let set = policy::load_sources([("world.yaml", WORLD_POLICIES)])
        .unwrap_or_else(|e| panic!("the fuzz world's policies: {e}"));
    World {
        inventory: inventory_for(&set),
        engine: Engine::new(set, Identity::default()),
    }
});

/// Target `admission_review`.
pub fn review(data: &[u8]) {
    let w = &*WORLD;
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let Ok(r) = admission::review(data, endpoint, &w.engine, &w.inventory) else {
            continue;
        };
        let out: Value = serde_json::from_slice(&r.body).expect("the answer is JSON");
        let resp = &out["response"];
        assert_eq!(resp["allowed"].as_bool(), Some(r.outcome.allowed));
        assert!(resp["uid"].as_str().is_some_and(|u| !u.is_empty()));
        check_outcome(&r.outcome);
        if !r.outcome.allowed {
            assert!(
                resp["status"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "a denial says why: {out}"
            );
        }
        if let Some(req) = &r.request {
            assert_eq!(resp["uid"], req.uid.as_str());
            if endpoint == Endpoint::Mutate {
                check_mutation(&w.engine, &w.inventory, req, &r.outcome);
            }
        }
    }
}

/// Target `policy_load`.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match policy::load_sources([("fuzz.yaml", text)]) {
        Err(e) => {
            let msg = e.to_string();
            let line = msg
                .strip_prefix("fuzz.yaml:")
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("the error names no fuzz.yaml:line: {msg}"));
            // The line as the YAML parser counts it (editors mostly agree).
            let lines = yaml_lines(text);
            assert!(
                (1..=lines + 1).contains(&line),
                "line {line} outside the {lines}-line file: {msg}"
            );
        }
        Ok(set) => {
            let inv = inventory_for(&set);
            let engine = Engine::new(set, Identity::default());
            for req in sample_requests() {
                let m = engine.mutate(&req, &inv);
                check_outcome(&m);
                check_mutation(&engine, &inv, &req, &m);
                check_outcome(&engine.validate(&req, &inv));
            }
        }
    }
}

/// Lines as the YAML parser (libyaml) counts them: `\r\n`, `\n`, a lone
/// `\r`, NEL (U+0085), LS (U+2028) and PS (U+2029) each end a line.
fn yaml_lines(text: &str) -> usize {
    let mut chars = text.chars().peekable();
    let mut lines = 1;
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                lines += 1;
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => lines += 1,
            _ => {}
        }
    }
    lines
}

const KINDS: [(&str, &str); 10] = [
    ("", "Pod"),
    ("apps", "Deployment"),
    ("", "Service"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("", "Namespace"),
    ("batch", "CronJob"),
    ("batch", "Job"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("", "ConfigMap"),
];

const REQUEST_NAMESPACES: [&str; 8] = [
    "acme-prod",
    "acme-prod",
    "acme-batch",
    "globex-prod",
    "monitoring",
    "kube-system",
    "nowhere",
    "stray",
];

const USERS: [(&str, &str); 4] = [
    ("alice", "acme-admins"),
    ("bob", "system:authenticated"),
    ("root", "platform-admins"),
    (
        "system:serviceaccount:tenantguard-system:tenantguard",
        "system:serviceaccounts",
    ),
];

/// Target `engine`: two selector bytes, then the object as JSON.
pub fn engine(data: &[u8]) {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let Ok(object) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let w = &*WORLD;
    let (group, kind) = KINDS[*a as usize % KINDS.len()];
    let namespace = REQUEST_NAMESPACES[(*a as usize / KINDS.len()) % REQUEST_NAMESPACES.len()];
    let operation = [
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Create,
    ][(*b & 3) as usize];
    let (username, group_name) = USERS[((*b >> 2) & 3) as usize];
    // UPDATE compares with the old object: none, the same, or an empty one.
    let old_object = match (operation, (*b >> 4) & 3) {
        (Operation::Create, _) => None,
        (_, 0) => Some(object.clone()),
        (_, 1) => Some(Value::Object(Default::default())),
        _ => None,
    };
    let object = (operation != Operation::Delete || *b & 0x40 != 0).then_some(object);
    let name = object
        .as_ref()
        .and_then(|o| o.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let req = Request {
        uid: "fuzz".into(),
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        resource: Default::default(),
        namespace: if kind == "Namespace" {
            String::new()
        } else {
            namespace.into()
        },
        name,
        operation,
        user: User {
            username: username.into(),
            groups: vec![group_name.into()],
        },
        dry_run: *b & 0x80 != 0,
        object,
        old_object,
    };
    let m = w.engine.mutate(&req, &w.inventory);
    check_outcome(&m);
    check_mutation(&w.engine, &w.inventory, &req, &m);
    let v = w.engine.validate(&req, &w.inventory);
    check_outcome(&v);
    let admitted = w.engine.admit(&req, &w.inventory);
    check_outcome(&admitted);
    if m.error.is_none() {
        let mut after = req.clone();
        if let Some(o) = after.object.as_mut() {
            json_patch::patch(o, &m.patch).expect("checked in check_mutation");
        }
        let v2 = w.engine.validate(&after, &w.inventory);
        assert_eq!(admitted.allowed, v2.allowed, "admit = mutate then validate");
        assert_eq!(admitted.findings, v2.findings);
        assert_eq!(admitted.patch, m.patch);
    }
}

/// The secrets path `vault_path` judges against.
const VAULT_BASE: &str = "secret/data/customers/acme";

/// Percent-encodes the characters of `raw` picked by the bits of `mask`
/// (cycled), every byte of a character, upper case when `upper`.
fn percent_encode(raw: &str, mask: u8, upper: bool) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if mask.rotate_right(i as u32 % 8) & 1 == 0 {
            out.push(c);
            continue;
        }
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            });
        }
    }
    out
}

/// Target `vault_path`: a mask byte, then the path (UTF-8).
pub fn vault_path(data: &[u8]) {
    use tenantguard::policy::rules::vault_boundaries::paths::{
        judge, segments, Decoding, PathError,
    };
    let [mask, rest @ ..] = data else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let verdict = judge(raw, VAULT_BASE, Decoding::Once);
    if verdict.is_ok() {
        let segs = segments(raw, Decoding::Once).expect("admitted paths have segments");
        assert!(
            segs.starts_with(&["secret", "data", "customers", "acme"].map(String::from)),
            "{raw:?} admitted outside: {segs:?}"
        );
        assert!(
            !segs
                .iter()
                .any(|s| s.contains(['?', '#', '%']) || s == "." || s == ".."),
            "{raw:?} admitted with {segs:?}"
        );
    }
    if judge(raw, VAULT_BASE, Decoding::Never).is_ok() {
        assert!(!raw.contains('%'), "{raw:?} admitted undecoded with a %");
    }
    // Encoding characters of a path without escapes of its own never changes
    // the verdict (an encoded '?' or '#' is refused all the same).
    if !raw.contains('%') {
        let encoded = percent_encode(raw, *mask, mask & 0x80 != 0);
        let again = judge(&encoded, VAULT_BASE, Decoding::Once);
        match (&verdict, &again) {
            (
                Err(PathError::QueryOrFragment { c, .. }),
                Err(PathError::QueryOrFragment { c: c2, .. }),
            ) => assert_eq!(c, c2, "{raw:?} vs {encoded:?}"),
            _ => assert_eq!(verdict, again, "{raw:?} vs {encoded:?}"),
        }
    }
}

/// What every outcome must satisfy.
fn check_outcome(o: &Outcome) {
    if o.error.is_some() {
        assert!(
            !o.allowed,
            "admitted although it could not be judged: {o:?}"
        );
        return;
    }
    let denied = o.findings.iter().any(|f| f.action == Action::Deny);
    assert_eq!(
        o.allowed, !denied,
        "the verdict follows the findings: {o:?}"
    );
    let warned = o
        .findings
        .iter()
        .filter(|f| f.action == Action::Warn)
        .count();
    assert_eq!(o.warnings.len(), warned, "one warning per Warn finding");
    if !o.allowed {
        assert!(!o.denial_message().is_empty());
    }
}

/// The patch of an admitted mutation applies, applying it twice changes
/// nothing more, and mutating the result adds nothing.
fn check_mutation(engine: &Engine, inv: &Inventory, req: &Request, o: &Outcome) {
    if !o.allowed || o.patch.is_empty() {
        return;
    }
    let original = req.object.as_ref().expect("a patch needs an object");
    let mut once = original.clone();
    json_patch::patch(&mut once, &o.patch)
        .unwrap_or_else(|e| panic!("the patch does not apply: {e}\n{:?}", o.patch));
    let mut twice = once.clone();
    json_patch::patch(&mut twice, &o.patch)
        .unwrap_or_else(|e| panic!("the patch does not apply twice: {e}"));
    assert_eq!(twice, once, "applying the patch twice changed more");
    let mut again = req.clone();
    again.object = Some(once);
    let second = engine.mutate(&again, inv);
    assert!(
        second.patch.is_empty(),
        "mutating the mutated object changed it again: {:?}",
        second.patch
    );
}

/// A few requests a policy set that loads must be able to judge.
fn sample_requests() -> Vec<Request> {
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"tenantguard.io/vault-secrets": "db"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}});
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "acme-new", "labels": {"tenantguard.io/tenant": "acme"}}});
    let req = |kind: &str, namespace: &str, object: Value| Request {
        uid: "sample".into(),
        group: String::new(),
        version: "v1".into(),
        kind: kind.into(),
        resource: Default::default(),
        namespace: namespace.into(),
        name: "p".into(),
        operation: Operation::Create,
        user: User {
            username: "alice".into(),
            groups: vec!["acme-admins".into()],
        },
        dry_run: false,
        object: Some(object),
        old_object: None,
    };
    vec![
        req("Pod", "acme-prod", pod.clone()),
        req("Pod", "monitoring", pod),
        req("Namespace", "", ns),
    ]
}
