//! Mutation then validation over generated Pods and Deployments, through the
//! real engine, as the apiserver runs them: an object whose defaults the
//! mutation completed never fails `require-limits`, mutating the result
//! again changes nothing, and the patch applied twice gives the same object.
//!
//! The generator only writes resources Kubernetes itself would accept after
//! LimitRanger-style defaulting: a request the user sets is at most the limit
//! the container ends up with (its own, or the default). Everything else is
//! random: which containers and initContainers exist, which requests and
//! limits are set and in which notation (`500m`, `0.5`, `1`, `1Gi`,
//! `1024Mi`), null or empty maps, and the tenant's defaults themselves
//! (including a default request above the default limit).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use tenantguard::engine::{Engine, Request};
use tenantguard::policy::rules::{Operation, RuleId, User};
use tenantguard::policy::{ContainerDefaults, Tenant, TenantSpec};
use tenantguard::tenancy::Inventory;

const RESOURCES: [&str; 2] = ["cpu", "memory"];

/// Levels on a ladder of quantities in ascending order (0..LEVELS), each
/// level in several notations.
const LEVELS: usize = 6;

fn notations(resource: &str, level: usize) -> Vec<Value> {
    let forms: &[&str] = match (resource, level) {
        ("cpu", 0) => &["50m", "0.05"],
        ("cpu", 1) => &["100m", "0.1"],
        ("cpu", 2) => &["250m"],
        ("cpu", 3) => &["500m", "0.5"],
        ("cpu", 4) => &["1", "1000m", "#1"],
        ("cpu", _) => &["2", "2000m", "#2"],
        (_, 0) => &["64Mi", "67108864"],
        (_, 1) => &["128Mi"],
        (_, 2) => &["256Mi", "268435456"],
        (_, 3) => &["512Mi", "0.5Gi"],
        (_, 4) => &["1Gi", "1024Mi"],
        (_, _) => &["2Gi"],
    };
    // `#n` stands for a JSON number, as YAML `cpu: 1` gives.
    forms
        .iter()
        .map(|f| match f.strip_prefix('#') {
            Some(n) => json!(n.parse::<u64>().unwrap()),
            None => json!(f),
        })
        .collect()
}

fn quantity(resource: &str, level: usize, notation: usize) -> Value {
    let forms = notations(resource, level);
    forms[notation % forms.len()].clone()
}

/// One resource of one container as generated: levels on the ladder.
#[derive(Debug, Clone)]
struct Amounts {
    limit: Option<usize>,
    request: Option<usize>,
    notation: usize,
}

/// How a container writes resources it does not set.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Omitted,
    EmptyMaps,
    NullMaps,
    NullResources,
}

#[derive(Debug, Clone)]
struct Container {
    amounts: Vec<Amounts>,
    shape: Shape,
}

#[derive(Debug, Clone)]
struct Defaults {
    limits: Vec<usize>,
    requests: Vec<Option<usize>>,
    ephemeral_storage: bool,
}

fn amounts() -> impl Strategy<Value = Amounts> {
    (
        proptest::option::of(0..LEVELS),
        proptest::option::of(0..LEVELS),
        0..3usize,
    )
        .prop_map(|(limit, request, notation)| Amounts {
            limit,
            request,
            notation,
        })
}

fn container() -> impl Strategy<Value = Container> {
    (
        proptest::collection::vec(amounts(), RESOURCES.len()),
        prop_oneof![
            Just(Shape::Omitted),
            Just(Shape::EmptyMaps),
            Just(Shape::NullMaps),
            Just(Shape::NullResources)
        ],
    )
        .prop_map(|(amounts, shape)| Container { amounts, shape })
}

fn defaults() -> impl Strategy<Value = Defaults> {
    (
        proptest::collection::vec(0..LEVELS, RESOURCES.len()),
        proptest::collection::vec(proptest::option::of(0..LEVELS), RESOURCES.len()),
        any::<bool>(),
    )
        .prop_map(|(limits, requests, ephemeral_storage)| Defaults {
            limits,
            requests,
            ephemeral_storage,
        })
}

impl Defaults {
    fn spec(&self) -> ContainerDefaults {
        let mut out = ContainerDefaults::default();
        let text = |v: Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        for (i, r) in RESOURCES.iter().enumerate() {
            out.limits
                .insert(r.to_string(), text(quantity(r, self.limits[i], 0)));
            if let Some(level) = self.requests[i] {
                out.requests
                    .insert(r.to_string(), text(quantity(r, level, 0)));
            }
        }
        if self.ephemeral_storage {
            out.limits.insert("ephemeral-storage".into(), "2Gi".into());
            out.requests
                .insert("ephemeral-storage".into(), "1Gi".into());
        }
        out
    }
}

impl Container {
    fn to_json(&self, name: String, defaults: &Defaults) -> Value {
        let mut limits = Map::new();
        let mut requests = Map::new();
        for (i, r) in RESOURCES.iter().enumerate() {
            let a = &self.amounts[i];
            // What Kubernetes would accept: a request no higher than the limit
            // the container ends up with.
            let effective = a.limit.unwrap_or(defaults.limits[i]);
            if let Some(l) = a.limit {
                limits.insert(r.to_string(), quantity(r, l, a.notation));
            }
            if let Some(q) = a.request {
                requests.insert(r.to_string(), quantity(r, q.min(effective), a.notation + 1));
            }
        }
        let section = |m: Map<String, Value>| match self.shape {
            _ if !m.is_empty() => Some(Value::Object(m)),
            Shape::Omitted | Shape::NullResources => None,
            Shape::EmptyMaps => Some(json!({})),
            Shape::NullMaps => Some(Value::Null),
        };
        let mut resources = Map::new();
        if let Some(l) = section(limits) {
            resources.insert("limits".into(), l);
        }
        if let Some(r) = section(requests) {
            resources.insert("requests".into(), r);
        }
        let mut c = json!({"name": name, "image": "registry.example/app:1"});
        match (self.shape, resources.is_empty()) {
            (Shape::NullResources, true) => c["resources"] = Value::Null,
            (Shape::Omitted, true) => {}
            _ => c["resources"] = Value::Object(resources),
        }
        c
    }
}

#[derive(Debug, Clone)]
struct Case {
    deployment: bool,
    containers: Vec<Container>,
    init_containers: Vec<Container>,
    defaults: Defaults,
    vault_secrets: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        proptest::collection::vec(container(), 1..4),
        proptest::collection::vec(container(), 0..3),
        defaults(),
        any::<bool>(),
    )
        .prop_map(
            |(deployment, containers, init_containers, defaults, vault_secrets)| Case {
                deployment,
                containers,
                init_containers,
                defaults,
                vault_secrets,
            },
        )
}

impl Case {
    fn object(&self) -> Value {
        let list = |cs: &[Container], prefix: &str| -> Value {
            cs.iter()
                .enumerate()
                .map(|(i, c)| c.to_json(format!("{prefix}{i}"), &self.defaults))
                .collect()
        };
        let mut spec = json!({"containers": list(&self.containers, "app")});
        if !self.init_containers.is_empty() {
            spec["initContainers"] = list(&self.init_containers, "init");
        }
        let mut meta = json!({"labels": {"app": "web"}});
        if self.vault_secrets {
            meta["annotations"] = json!({"tenantguard.io/vault-secrets": "db, api-key"});
        }
        if self.deployment {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": meta, "spec": spec}}})
        } else {
            meta["name"] = json!("web");
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        }
    }

    fn inventory(&self) -> Inventory {
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        inv.add_namespace("globex-prod", Some("globex"));
        let spec = TenantSpec {
            container_defaults: Some(self.defaults.spec()),
            node_selector: BTreeMap::from([("pool".to_string(), "acme".to_string())]),
            ..Default::default()
        };
        let tenant = Tenant::new("acme", spec);
        tenant.validate().expect("generated tenant is valid");
        inv.add_tenant(&tenant);
        inv
    }
}

fn request(obj: Value) -> Request {
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let group = if kind == "Deployment" { "apps" } else { "" };
    Request {
        uid: "proptest".into(),
        group: group.into(),
        version: "v1".into(),
        kind,
        resource: Default::default(),
        namespace: "acme-prod".into(),
        name: "web".into(),
        operation: Operation::Create,
        user: User {
            username: "system:serviceaccount:kube-system:replicaset-controller".into(),
            groups: vec!["system:serviceaccounts".into()],
        },
        dry_run: false,
        object: Some(obj),
        old_object: None,
    }
}

fn containers_of(obj: &Value) -> Vec<&Value> {
    let spec = obj
        .pointer("/spec/template/spec")
        .or_else(|| obj.get("spec"))
        .expect("a pod spec");
    ["containers", "initContainers"]
        .iter()
        .filter_map(|l| spec.get(*l).and_then(Value::as_array))
        .flatten()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutate_then_validate(case in case()) {
        let engine = Engine::default();
        let inv = case.inventory();
        let original = case.object();

        let first = engine.mutate(&request(original.clone()), &inv);
        prop_assert!(first.allowed, "mutation refused: {:?}", first.error);
        let mut mutated = original.clone();
        json_patch::patch(&mut mutated, &first.patch).expect("the patch applies");

        // The mutation completed the object: every container has its limits...
        for c in containers_of(&mutated) {
            for r in RESOURCES {
                prop_assert!(c.pointer(&format!("/resources/limits/{r}")).is_some_and(|v| !v.is_null()),
                    "{} has no limits.{r} after mutation: {mutated}", c["name"]);
            }
        }
        // ...and require-limits has nothing to say about it.
        let verdict = engine.validate(&request(mutated.clone()), &inv);
        let limits: Vec<_> = verdict.findings.iter().filter(|f| f.rule == RuleId::RequireLimits).collect();
        prop_assert!(limits.is_empty(), "require-limits after mutation: {limits:?}\nobject: {mutated}");
        // Nothing a mutation adds (labels, resources, Vault annotations, the
        // node pool) is something pod-security refuses at the default level.
        let psa: Vec<_> = verdict.findings.iter().filter(|f| f.rule == RuleId::PodSecurity).collect();
        prop_assert!(psa.is_empty(), "pod-security after mutation: {psa:?}\nobject: {mutated}");

        // Mutating the mutated object changes nothing.
        let second = engine.mutate(&request(mutated.clone()), &inv);
        prop_assert!(second.patch.is_empty(), "second patch not empty: {:?}\nobject: {mutated}", second.patch);

        // The patch applied twice gives the same object.
        let mut twice = mutated.clone();
        json_patch::patch(&mut twice, &first.patch).expect("the patch applies twice");
        prop_assert_eq!(twice, mutated);
    }
}

/// A pod that already has tolerations gets the tenant's appended. The
/// engine's patch must still be idempotent when applied twice (DESIGN.md:
/// "applying them twice changes nothing more").
#[test]
fn appended_tolerations_patch_is_idempotent() {
    let case = Case {
        deployment: false,
        containers: vec![],
        init_containers: vec![],
        defaults: Defaults {
            limits: vec![3, 3],
            requests: vec![None, None],
            ephemeral_storage: false,
        },
        vault_secrets: false,
    };
    let inv = case.inventory();
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [], "tolerations": [{"key": "gpu", "operator": "Exists"}]}});
    let out = Engine::default().mutate(&request(obj.clone()), &inv);
    let mut once = obj.clone();
    json_patch::patch(&mut once, &out.patch).unwrap();
    let mut twice = once.clone();
    json_patch::patch(&mut twice, &out.patch).unwrap();
    assert_eq!(twice, once);
}

/// Security fields a generated pod may carry, each from a pool of values
/// that pass and fail the Pod Security Standards at either level.
fn security_value(field: &str, pick: usize) -> Value {
    let pool: Vec<Value> = match field {
        "privileged" | "allowPrivilegeEscalation" | "runAsNonRoot" => {
            vec![Value::Null, json!(true), json!(false)]
        }
        "runAsUser" => vec![Value::Null, json!(0), json!(1000)],
        "seccompProfile" => vec![
            Value::Null,
            json!({"type": "RuntimeDefault"}),
            json!({"type": "Localhost", "localhostProfile": "p.json"}),
            json!({"type": "Unconfined"}),
        ],
        "capabilities" => vec![
            Value::Null,
            json!({"drop": ["ALL"]}),
            json!({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
            json!({"drop": ["ALL"], "add": ["CHOWN"]}),
            json!({"add": ["SYS_ADMIN"]}),
        ],
        "procMount" => vec![Value::Null, json!("Default"), json!("Unmasked")],
        "seLinuxOptions" => vec![
            Value::Null,
            json!({"type": "container_t"}),
            json!({"type": "spc_t"}),
            json!({"user": "system_u"}),
        ],
        "volume" => vec![
            json!({"name": "v", "emptyDir": {}}),
            json!({"name": "v", "hostPath": {"path": "/"}}),
            json!({"name": "v", "nfs": {"server": "s", "path": "/"}}),
            json!({"name": "v", "projected": {"sources": []}}),
        ],
        _ => vec![Value::Null, json!(true)],
    };
    pool[pick % pool.len()].clone()
}

const CONTAINER_FIELDS: [&str; 7] = [
    "privileged",
    "allowPrivilegeEscalation",
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile",
    "capabilities",
    "procMount",
];
const POD_FIELDS: [&str; 4] = [
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile",
    "seLinuxOptions",
];

/// A pod from the picks: pod-level fields, a volume, host namespaces and
/// one to three containers across the three lists.
fn security_pod(picks: &[usize], lists: &[usize]) -> Value {
    let mut next = picks.iter().copied().cycle();
    let mut take = || next.next().unwrap_or(0);
    let mut psc = Map::new();
    for f in POD_FIELDS {
        psc.insert(f.to_string(), security_value(f, take()));
    }
    let mut spec = json!({"securityContext": psc, "volumes": [security_value("volume", take())],
        "hostPID": security_value("hostPID", take()), "containers": []});
    for (i, list) in lists.iter().enumerate() {
        let mut sc = Map::new();
        for f in CONTAINER_FIELDS {
            sc.insert(f.to_string(), security_value(f, take()));
        }
        let c = json!({"name": format!("c{i}"), "image": "x", "securityContext": sc});
        let field = ["containers", "initContainers", "ephemeralContainers"][list % 3];
        match spec[field].as_array_mut() {
            Some(a) => a.push(c),
            None => spec[field] = json!([c]),
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The levels are cumulative: whatever passes `restricted` passes
    /// `baseline`, and whatever passes `baseline` passes `privileged`.
    #[test]
    fn restricted_implies_baseline(
        picks in proptest::collection::vec(0..8usize, 48),
        lists in proptest::collection::vec(0..3usize, 1..4),
    ) {
        use tenantguard::policy::rules::pod_security::judge;
        use tenantguard::policy::PodSecurityLevel;
        let obj = security_pod(&picks, &lists);
        let pod = tenantguard::podspec::pod("", "Pod", &obj).expect("a pod");
        let restricted = judge(&pod, PodSecurityLevel::Restricted);
        let baseline = judge(&pod, PodSecurityLevel::Baseline);
        prop_assert!(judge(&pod, PodSecurityLevel::Privileged).is_empty());
        if restricted.is_empty() {
            prop_assert!(baseline.is_empty(), "passes restricted, not baseline: {baseline:?}\n{obj}");
        }
        // Every baseline finding's field is refused at restricted too.
        for b in &baseline {
            prop_assert!(restricted.iter().any(|r| r.path == b.path), "{} only at baseline\n{obj}", b.path);
        }
    }
}
