//! The chart's ValidatingAdmissionPolicy for exempt namespaces, rendered by
//! the real `helm template` and evaluated with a CEL interpreter against
//! Namespace CREATE, UPDATE and DELETE requests as the apiserver builds them
//! (`request`, `object`, `oldObject`, lazily evaluated `variables`). The
//! expressions come from the render, so this cannot drift from the chart.
//!
//! `helm` must be on PATH or in `.tools/bin` (`scripts/setup-tools.sh`; the
//! kubectl plugin tests need their tools the same way): a machine without
//! it fails here rather than skipping the test.

mod common;

use std::collections::HashMap;

use serde_json::{json, Value};

/// The policy and its binding, rendered with `args`.
fn render(args: &[&str]) -> (Value, Value) {
    let show = ["--show-only", "templates/exempt-namespaces-policy.yaml"];
    let text = common::helm_template(&[&show[..], args].concat());
    let docs: Vec<Value> = text
        .split("\n---")
        .filter_map(|d| serde_yaml_ng::from_str::<Value>(d).ok())
        .filter(|d| d.is_object())
        .collect();
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} in\n{text}"))
    };
    (
        find("ValidatingAdmissionPolicy"),
        find("ValidatingAdmissionPolicyBinding"),
    )
}

fn cel(v: &Value) -> cel::Value {
    cel::to_value(v).expect("JSON converts to CEL")
}

/// Evaluates `expression` with `variables` evaluated first, in order, as
/// the apiserver makes them available.
fn eval(
    policy: &Value,
    request: &Value,
    object: &Value,
    old: &Value,
    expression: &str,
) -> cel::Value {
    let mut ctx = cel::Context::default();
    ctx.add_variable_from_value("request", cel(request));
    ctx.add_variable_from_value("object", cel(object));
    ctx.add_variable_from_value("oldObject", cel(old));
    let mut vars: HashMap<String, cel::Value> = HashMap::new();
    for v in policy["spec"]["variables"].as_array().expect("variables") {
        let name = v["name"].as_str().expect("name");
        let expr = v["expression"].as_str().expect("expression");
        let program = cel::Program::compile(expr).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        ctx.add_variable_from_value("variables", vars.clone());
        let value = program
            .execute(&ctx)
            .unwrap_or_else(|e| panic!("variable {name} ({expr}): {e:?}"));
        vars.insert(name.to_string(), value);
    }
    ctx.add_variable_from_value("variables", vars);
    let program =
        cel::Program::compile(expression).unwrap_or_else(|e| panic!("{expression}: {e:?}"));
    program
        .execute(&ctx)
        .unwrap_or_else(|e| panic!("{expression}: {e:?}"))
}

/// Whether the policy admits the request, and its message when it does not.
fn admits(
    policy: &Value,
    op: &str,
    user: &Value,
    old: Option<Value>,
    new: Option<Value>,
) -> (bool, String) {
    let name = new
        .as_ref()
        .or(old.as_ref())
        .and_then(|o| o["metadata"]["name"].as_str())
        .unwrap_or("")
        .to_string();
    let request = json!({"operation": op, "name": name, "namespace": name, "userInfo": user,
        "kind": {"group": "", "version": "v1", "kind": "Namespace"},
        "resource": {"group": "", "version": "v1", "resource": "namespaces"}});
    let object = new.unwrap_or(Value::Null);
    let old = old.unwrap_or(Value::Null);
    for v in policy["spec"]["validations"]
        .as_array()
        .expect("validations")
    {
        let expr = v["expression"].as_str().expect("expression");
        match eval(policy, &request, &object, &old, expr) {
            cel::Value::Bool(true) => {}
            cel::Value::Bool(false) => {
                let message = match v["messageExpression"].as_str() {
                    Some(m) => match eval(policy, &request, &object, &old, m) {
                        cel::Value::String(s) => s.to_string(),
                        other => panic!("messageExpression gave {other:?}"),
                    },
                    None => v["message"].as_str().unwrap_or("").to_string(),
                };
                return (false, message);
            }
            other => panic!("{expr} gave {other:?}, not a bool"),
        }
    }
    (true, String::new())
}

fn ns(name: &str, labels: Value) -> Option<Value> {
    Some(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
    )
}

fn bare(name: &str) -> Option<Value> {
    Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

fn user(name: &str, groups: &[&str]) -> Value {
    json!({"username": name, "groups": groups})
}

const T: &str = "tenantguard.io/tenant";

#[test]
#[rustfmt::skip]
fn default_render_protects_the_exempt_namespaces() {
    let (policy, binding) = render(&[]);
    assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
    assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
    assert_eq!(policy["spec"]["failurePolicy"], "Fail");
    let rules = &policy["spec"]["matchConstraints"]["resourceRules"];
    assert_eq!(rules, &json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["namespaces"]}]));

    let owner = user("dave", &["acme-admins", "system:authenticated"]);
    let no_groups = json!({"username": "dave"});
    let admin = user("root", &["system:masters", "system:authenticated"]);
    let tg = user("system:serviceaccount:tenantguard-system:tg-tenantguard", &["system:serviceaccounts"]);
    type Case = (&'static str, &'static str, Value, Option<Value>, Option<Value>, bool);
    let cases: Vec<Case> = vec![
        // The takeover: a tenant owner hands tenantguard's own namespace or kube-system to acme.
        ("owner labels tenantguard-system", "UPDATE", owner.clone(), ns("tenantguard-system", json!({"a": "b"})), ns("tenantguard-system", json!({T: "acme", "a": "b"})), false),
        ("owner labels kube-system", "UPDATE", owner.clone(), bare("kube-system"), ns("kube-system", json!({T: "acme"})), false),
        ("owner without groups labels kube-public", "UPDATE", no_groups.clone(), bare("kube-public"), ns("kube-public", json!({T: "acme"})), false),
        ("owner changes an admin's label", "UPDATE", owner.clone(), ns("kube-system", json!({T: "globex"})), ns("kube-system", json!({T: "acme"})), false),
        ("owner removes an admin's label", "UPDATE", owner.clone(), ns("kube-system", json!({T: "globex"})), ns("kube-system", json!({})), false),
        ("owner drops the whole labels map", "UPDATE", owner.clone(), ns("kube-system", json!({T: "globex"})), bare("kube-system"), false),
        ("owner creates kube-node-lease labelled", "CREATE", owner.clone(), None, ns("kube-node-lease", json!({T: "acme"})), false),
        ("owner deletes kube-system", "DELETE", owner.clone(), bare("kube-system"), None, false),
        ("owner deletes tenantguard-system", "DELETE", owner.clone(), ns("tenantguard-system", json!({T: "acme"})), None, false),
        ("tenantguard's own account is no admin", "UPDATE", tg, bare("tenantguard-system"), ns("tenantguard-system", json!({T: "acme"})), false),
        // Clean neighbours.
        ("other labels are free", "UPDATE", owner.clone(), ns("kube-system", json!({"a": "b"})), ns("kube-system", json!({"a": "c", "team": "x"})), true),
        ("other labels beside an admin's tenant label", "UPDATE", owner.clone(), ns("kube-system", json!({T: "acme"})), ns("kube-system", json!({T: "acme", "x": "y"})), true),
        ("an empty tenant label is none", "UPDATE", owner.clone(), bare("kube-system"), ns("kube-system", json!({T: ""})), true),
        ("creating an exempt namespace without a label", "CREATE", owner.clone(), None, bare("kube-node-lease"), true),
        ("admin labels kube-system", "UPDATE", admin.clone(), bare("kube-system"), ns("kube-system", json!({T: "acme"})), true),
        ("admin deletes kube-public", "DELETE", admin.clone(), bare("kube-public"), None, true),
        ("admin creates it labelled", "CREATE", admin, None, ns("kube-public", json!({T: "acme"})), true),
        // Not exempt: the webhook's business, never this policy's.
        ("owner labels a platform namespace", "UPDATE", owner.clone(), bare("monitoring"), ns("monitoring", json!({T: "acme"})), true),
        ("owner deletes a tenant namespace", "DELETE", owner.clone(), ns("acme-prod", json!({T: "acme"})), None, true),
        ("owner creates a tenant namespace", "CREATE", owner, None, ns("acme-new", json!({T: "acme"})), true),
    ];
    for (name, op, who, old, new, want) in cases {
        let (got, message) = admits(&policy, op, &who, old, new);
        assert_eq!(got, want, "{name}: {message}");
        if !got {
            assert!(message.starts_with("namespace "), "{name}: {message}");
            assert!(message.contains(" is exempt from tenantguard: only platform admins may "), "{name}: {message}");
        }
    }
    let (_, m) = admits(&policy, "DELETE", &user("dave", &[]), bare("kube-system"), None);
    assert_eq!(m, "namespace kube-system is exempt from tenantguard: only platform admins may delete it");
}

/// The exempt list and the admins follow the Settings the server reads,
/// and webhook.exemptNamespaces and the release namespace are always in.
#[test]
fn settings_and_values_shape_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        "webhook:\n  exemptNamespaces: [monitoring]\npolicies:\n  extra:\n    settings.yaml: |\n      apiVersion: tenantguard.io/v1alpha1\n      kind: Settings\n      metadata: {name: settings}\n      spec:\n        exemptNamespaces: [infra]\n        admins: {users: [\"root@platform\"], groups: [platform-admins]}\n",
    )
    .unwrap();
    let (policy, _) = render(&["-f", values.to_str().unwrap()]);
    let owner = user("dave", &["acme-admins"]);
    let label = |name: &str| (bare(name), ns(name, json!({T: "acme"})));
    for (name, exempt) in [
        ("infra", true),
        ("monitoring", true),
        ("tenantguard-system", true),
        ("kube-system", true),
        ("acme-prod", false),
    ] {
        let (old, new) = label(name);
        let (allowed, m) = admits(&policy, "UPDATE", &owner, old, new);
        assert_eq!(allowed, !exempt, "{name}: {m}");
    }
    for (who, want) in [
        (user("root@platform", &[]), true),
        (user("x", &["platform-admins"]), true),
        (user("x", &["system:masters"]), false),
    ] {
        let (old, new) = label("infra");
        let (allowed, m) = admits(&policy, "UPDATE", &who, old, new);
        assert_eq!(allowed, want, "{who}: {m}");
    }
}

#[test]
fn it_can_be_turned_off() {
    let text = common::helm_template(&["--set", "exemptNamespacePolicy.enabled=false"]);
    assert!(!text.contains("kind: ValidatingAdmissionPolicy"), "{text}");
}

/// The validating entry for namespaced objects skips the endpoint
/// controllers' own Endpoints and EndpointSlices (the rule admits them; sent
/// anyway, an outage would freeze every tenant Service's endpoints) and
/// nothing else. The users are read from the rule's source, so the two lists
/// cannot drift apart.
#[test]
fn the_endpoint_controllers_writes_are_not_sent() {
    let text = common::helm_template(&["--show-only", "templates/webhooks.yaml"]);
    let config = text
        .split("\n---")
        .filter_map(|d| serde_yaml_ng::from_str::<Value>(d).ok())
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .expect("a ValidatingWebhookConfiguration");
    let entries = config["webhooks"].as_array().expect("webhooks");
    for e in entries {
        let conditions = e["matchConditions"].as_array().map_or(0, Vec::len);
        let want = usize::from(e["name"] == "objects.validate.tenantguard.io");
        assert_eq!(conditions, want, "matchConditions of {}", e["name"]);
    }
    let entry = entries
        .iter()
        .find(|e| e["name"] == "objects.validate.tenantguard.io")
        .expect("the objects entry");
    let expression = entry["matchConditions"][0]["expression"]
        .as_str()
        .expect("an expression");

    let source = std::fs::read_to_string(
        common::repo().join("src/policy/rules/cross_tenant_selectors/endpoints.rs"),
    )
    .expect("the rule's source");
    let list = source
        .split_once("pub const ENDPOINT_CONTROLLERS")
        .and_then(|(_, rest)| rest.split_once("];"))
        .map(|(list, _)| list)
        .expect("ENDPOINT_CONTROLLERS in endpoints.rs");
    let controllers: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    assert!(controllers.len() >= 3, "{controllers:?}");

    let sent = |group: &str, resource: &str, username: &str| {
        let mut ctx = cel::Context::default();
        let request = json!({
            "resource": {"group": group, "version": "v1", "resource": resource},
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "operation": "UPDATE",
        });
        ctx.add_variable_from_value("request", cel(&request));
        let program = cel::Program::compile(expression).expect("the matchCondition compiles");
        match program.execute(&ctx).expect("the matchCondition evaluates") {
            cel::Value::Bool(b) => b,
            other => panic!("{expression} gave {other:?}"),
        }
    };
    for user in &controllers {
        assert!(!sent("", "endpoints", user), "{user}: Endpoints");
        assert!(
            !sent("discovery.k8s.io", "endpointslices", user),
            "{user}: EndpointSlices"
        );
        assert!(
            sent("networking.k8s.io", "ingresses", user),
            "{user}: other kinds stay sent"
        );
    }
    for user in [
        "alice@acme.example",
        "system:serviceaccount:acme-prod:endpoint-controller",
        "system:serviceaccount:kube-system:endpoint-controller-evil",
    ] {
        assert!(sent("", "endpoints", user), "{user}: Endpoints are sent");
        assert!(
            sent("discovery.k8s.io", "endpointslices", user),
            "{user}: EndpointSlices are sent"
        );
    }
}
