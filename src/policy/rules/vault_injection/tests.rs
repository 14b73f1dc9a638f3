//! vault-injection: the tables of cases.
use super::*;
use crate::policy::rules::testing::World;
use serde_json::json;

const VAULT_TENANT: &str = "vault: {role: acme-app, secretsPath: kv/data/acme/, authPath: auth/k8s-acme, namespace: acme-ns}";

fn world() -> World {
    World::new().with_tenant("acme", VAULT_TENANT)
}

fn run_in(w: &World, ns: &str, obj: &Value) -> Value {
    let mut draft = Draft::new(obj);
    mutate(&w.ctx(ns, obj), &mut draft, &Params::default());
    draft.to_value()
}

fn pod(annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations}, "spec": {"containers": [{"name": "app"}]}})
}

fn deployment(annotations: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "app"}]}}}})
}

fn annotations_of(obj: &Value, ptr: &str) -> Value {
    obj.pointer(ptr).cloned().unwrap_or(Value::Null)
}

#[test]
fn cases() {
    let w = world();
    let plain = World::new();
    let full_inject = json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "acme-app",
        "vault.hashicorp.com/auth-path": "auth/k8s-acme",
        "vault.hashicorp.com/namespace": "acme-ns",
    });
    let with = |extra: Value| {
        let mut m = full_inject.as_object().cloned().unwrap();
        m.extend(extra.as_object().cloned().unwrap());
        Value::Object(m)
    };
    let p = "/metadata/annotations";
    let t = "/spec/template/metadata/annotations";
    let cj = "/spec/jobTemplate/spec/template/metadata/annotations";
    // (name, world, namespace, object, pointer to the pod's annotations, expected annotations)
    let cases: Vec<(&str, &World, &str, Value, &str, Value)> = vec![
        (
            "agent-inject true gets role, auth path and namespace",
            &w,
            "acme-prod",
            pod(json!({"vault.hashicorp.com/agent-inject": "true"})),
            p,
            full_inject.clone(),
        ),
        (
            "agent-inject in another spelling Go reads as true",
            &w,
            "acme-prod",
            pod(json!({"vault.hashicorp.com/agent-inject": "True"})),
            p,
            with(json!({"vault.hashicorp.com/agent-inject": "True"})),
        ),
        (
            "vault-secrets alone turns injection on and adds each secret",
            &w,
            "acme-prod",
            pod(json!({"tenantguard.io/vault-secrets": " db, api-key ,,db"})),
            p,
            with(json!({
                "tenantguard.io/vault-secrets": " db, api-key ,,db",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/data/acme/db",
                "vault.hashicorp.com/agent-inject-secret-api-key": "kv/data/acme/api-key",
            })),
        ),
        (
            "invalid names are skipped, valid ones added",
            &w,
            "acme-prod",
            pod(json!({"tenantguard.io/vault-secrets": "ok.json,../globex,a/b,bad-,x y"})),
            p,
            with(json!({
                "tenantguard.io/vault-secrets": "ok.json,../globex,a/b,bad-,x y",
                "vault.hashicorp.com/agent-inject-secret-ok.json": "kv/data/acme/ok.json",
            })),
        ),
        (
            "empty vault-secrets still asks for Vault",
            &w,
            "acme-prod",
            pod(json!({"tenantguard.io/vault-secrets": ""})),
            p,
            with(json!({"tenantguard.io/vault-secrets": ""})),
        ),
        (
            "explicit false wins: nothing is added",
            &w,
            "acme-prod",
            pod(
                json!({"vault.hashicorp.com/agent-inject": "false", "tenantguard.io/vault-secrets": "db"}),
            ),
            p,
            json!({"vault.hashicorp.com/agent-inject": "false", "tenantguard.io/vault-secrets": "db"}),
        ),
        (
            "a value the Injector cannot read is left alone",
            &w,
            "acme-prod",
            pod(
                json!({"vault.hashicorp.com/agent-inject": "yes", "tenantguard.io/vault-secrets": "db"}),
            ),
            p,
            json!({"vault.hashicorp.com/agent-inject": "yes", "tenantguard.io/vault-secrets": "db"}),
        ),
        (
            "set values are never overwritten",
            &w,
            "acme-prod",
            pod(json!({"tenantguard.io/vault-secrets": "db",
                "vault.hashicorp.com/role": "globex",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/data/globex/db",
                "vault.hashicorp.com/auth-path": "auth/other",
                "vault.hashicorp.com/namespace": "globex-ns"})),
            p,
            json!({"tenantguard.io/vault-secrets": "db",
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "globex",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/data/globex/db",
                "vault.hashicorp.com/auth-path": "auth/other",
                "vault.hashicorp.com/namespace": "globex-ns"}),
        ),
        (
            "a null value counts as unset",
            &w,
            "acme-prod",
            pod(
                json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": null}),
            ),
            p,
            full_inject.clone(),
        ),
        (
            "undeclared tenant: Settings defaults, no Vault namespace",
            &plain,
            "acme-prod",
            pod(json!({"tenantguard.io/vault-secrets": "db"})),
            p,
            json!({"tenantguard.io/vault-secrets": "db",
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "acme",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants/acme/db",
                "vault.hashicorp.com/auth-path": "auth/kubernetes"}),
        ),
        (
            "no Vault annotations: untouched",
            &w,
            "acme-prod",
            pod(json!({"other": "x"})),
            p,
            json!({"other": "x"}),
        ),
        (
            "deployment template",
            &w,
            "acme-prod",
            deployment(json!({"tenantguard.io/vault-secrets": "db"})),
            t,
            with(json!({"tenantguard.io/vault-secrets": "db",
                "vault.hashicorp.com/agent-inject-secret-db": "kv/data/acme/db"})),
        ),
        (
            "cronjob template",
            &w,
            "acme-prod",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {
                "metadata": {"annotations": {"vault.hashicorp.com/agent-inject": "true"}}}}}}}),
            cj,
            full_inject.clone(),
        ),
    ];
    for (name, world, ns, obj, ptr, want) in cases {
        let out = run_in(world, ns, &obj);
        assert_eq!(annotations_of(&out, ptr), want, "{name}");
        assert_eq!(run_in(world, ns, &out), out, "{name}: not idempotent");
    }
}

/// name, world, object, pointer to the pod's annotations, the four agent annotations.
type AgentCase<'a> = (&'a str, &'a World, Value, &'a str, Vec<Option<&'a str>>);

/// `agentResources`: the tenant's, else the Settings', each key only
/// where it is unset, exact strings, and only on pods that ask for Vault.
#[test]
fn agent_resources() {
    let full = "vault: {agentResources: {requests: {cpu: 25m, memory: 32Mi}, limits: {cpu: \"0.1\", memory: 64Mi}}}";
    let tenant = World::new().with_tenant("acme", full);
    let mut settings = World::new().with_tenant("acme", "{}");
    settings.settings.vault.agent_resources = Some(crate::policy::AgentResources {
        requests: [("cpu".to_string(), "50m".to_string())].into(),
        limits: [("memory".to_string(), "128Mi".to_string())].into(),
    });
    let mut both = World::new().with_tenant("acme", "vault: {agentResources: {limits: {cpu: 1}}}");
    both.settings.vault.agent_resources = settings.settings.vault.agent_resources.clone();
    let none = World::new();
    let rq_cpu = "vault.hashicorp.com/agent-requests-cpu";
    let rq_mem = "vault.hashicorp.com/agent-requests-mem";
    let lim_cpu = "vault.hashicorp.com/agent-limits-cpu";
    let lim_mem = "vault.hashicorp.com/agent-limits-mem";
    let asks = json!({"vault.hashicorp.com/agent-inject": "true"});
    let keys = [rq_cpu, rq_mem, lim_cpu, lim_mem];
    // (name, world, object, pointer to the pod's annotations, expected agent annotations)
    let cases: Vec<AgentCase> = vec![
        (
            "tenant's four, exact strings",
            &tenant,
            pod(asks.clone()),
            "/metadata/annotations",
            vec![Some("25m"), Some("32Mi"), Some("0.1"), Some("64Mi")],
        ),
        (
            "vault-secrets alone asks too",
            &tenant,
            pod(json!({"tenantguard.io/vault-secrets": "db"})),
            "/metadata/annotations",
            vec![Some("25m"), Some("32Mi"), Some("0.1"), Some("64Mi")],
        ),
        (
            "Settings' when the tenant has none; only the keys declared",
            &settings,
            pod(asks.clone()),
            "/metadata/annotations",
            vec![Some("50m"), None, None, Some("128Mi")],
        ),
        (
            "the tenant's replace the Settings' whole",
            &both,
            pod(asks.clone()),
            "/metadata/annotations",
            vec![None, None, Some("1"), None],
        ),
        (
            "none declared anywhere: the Injector's own defaults",
            &none,
            pod(asks.clone()),
            "/metadata/annotations",
            vec![None, None, None, None],
        ),
        (
            "set values are never overwritten",
            &tenant,
            pod(json!({"vault.hashicorp.com/agent-inject": "true", rq_cpu: "10m", lim_mem: "1Gi"})),
            "/metadata/annotations",
            vec![Some("10m"), Some("32Mi"), Some("0.1"), Some("1Gi")],
        ),
        (
            "a null value counts as unset",
            &tenant,
            pod(json!({"vault.hashicorp.com/agent-inject": "true", rq_cpu: null})),
            "/metadata/annotations",
            vec![Some("25m"), Some("32Mi"), Some("0.1"), Some("64Mi")],
        ),
        (
            "no Vault asked: nothing",
            &tenant,
            pod(json!({"other": "x"})),
            "/metadata/annotations",
            vec![None, None, None, None],
        ),
        (
            "agent-inject false: nothing",
            &tenant,
            pod(json!({"vault.hashicorp.com/agent-inject": "false"})),
            "/metadata/annotations",
            vec![None, None, None, None],
        ),
        (
            "deployment template",
            &tenant,
            deployment(asks.clone()),
            "/spec/template/metadata/annotations",
            vec![Some("25m"), Some("32Mi"), Some("0.1"), Some("64Mi")],
        ),
    ];
    for (name, w, obj, ptr, want) in cases {
        let out = run_in(w, "acme-prod", &obj);
        let got: Vec<Option<&str>> = keys
            .iter()
            .map(|k| {
                out.pointer(ptr)
                    .and_then(|a| a.get(*k))
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(run_in(w, "acme-prod", &out), out, "{name}: not idempotent");
    }
    let out = run_in(&tenant, "monitoring", &pod(asks));
    assert!(
        out["metadata"]["annotations"].get(rq_cpu).is_none(),
        "platform namespace"
    );
}

#[test]
fn left_alone() {
    let w = world();
    let asks = json!({"vault.hashicorp.com/agent-inject": "true"});
    let cases: Vec<(&str, &str, Value)> = vec![
        ("platform namespace", "monitoring", pod(asks.clone())),
        (
            "kind out of scope",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"annotations": asks.clone()}}),
        ),
        (
            "deployment annotations are not the pod's",
            "acme-prod",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"annotations": asks.clone()}, "spec": {"template": {}}}),
        ),
        (
            "no metadata",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {}}),
        ),
        (
            "annotations not a map",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": "x"}}),
        ),
        (
            "metadata not a map",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": 5}),
        ),
    ];
    for (name, ns, obj) in cases {
        assert_eq!(run_in(&w, ns, &obj), obj, "{name}");
    }
}

#[test]
fn update_only_when_the_pod_changes() {
    let w = world();
    let d = |replicas: u32, image: &str| {
        let mut d = deployment(json!({"vault.hashicorp.com/agent-inject": "true"}));
        d["spec"]["replicas"] = json!(replicas);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
        d
    };
    let update = |old: &Value, new: &Value| {
        let mut ctx = w.ctx("acme-prod", new);
        ctx.operation = crate::policy::rules::Operation::Update;
        ctx.old_object = Some(old);
        let mut draft = Draft::new(new);
        mutate(&ctx, &mut draft, &Params::default());
        draft.to_value()
    };
    let scaled = d(3, "app:1");
    assert_eq!(update(&d(1, "app:1"), &scaled), scaled);
    let edited = update(&d(1, "app:1"), &d(1, "app:2"));
    assert_eq!(
        edited["spec"]["template"]["metadata"]["annotations"]["vault.hashicorp.com/role"],
        "acme-app"
    );
}

#[test]
fn injected_names_are_valid_annotation_keys() {
    let longest = "a".repeat(43);
    assert_eq!(invalid_name_reason(&longest), None);
    assert_eq!(
        format!("{SECRET_PREFIX}{longest}").len() - "vault.hashicorp.com/".len(),
        63
    );
    let cases = [
        ("db", true),
        ("db.json", true),
        ("DB_1", true),
        ("_x", true),
        ("..", false),
        (".", false),
        ("db-", false),
        ("a/b", false),
        ("a b", false),
        ("é", false),
        ("a\"b", false),
    ];
    for (name, ok) in cases {
        assert_eq!(invalid_name_reason(name).is_none(), ok, "{name}");
    }
    assert!(invalid_name_reason(&"a".repeat(44))
        .unwrap()
        .contains("at most 43"));
    assert_eq!(secret_names(" a ,b,, a ,"), ["a", "b"]);
}

#[test]
fn key_with_slash_is_set_where_expected() {
    let w = world();
    let out = run_in(
        &w,
        "acme-dev",
        &pod(json!({"tenantguard.io/vault-secrets": "db"})),
    );
    assert_eq!(
        out.pointer("/metadata/annotations/vault.hashicorp.com~1agent-inject-secret-db"),
        Some(&json!("kv/data/acme/db"))
    );
}
