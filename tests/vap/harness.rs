//! Evaluates generated ValidatingAdmissionPolicies the way the apiserver
//! does, with a CEL interpreter (`cel` 0.12): the policy's resourceRules,
//! the binding's namespaceSelector (for a Namespace: its own labels, the old
//! object's on DELETE), matchConditions, then the variables in order and
//! the validations. Also builds the engine's view of the same request.

use std::collections::HashMap;

use serde_json::{json, Value};
use tenantguard::engine::{Request, Resource};
use tenantguard::policy::rules::{Operation, User};
use tenantguard::selector::LabelSelector;

/// One admission request, as both the apiserver's CEL and the engine see it.
#[derive(Debug, Clone)]
pub struct Req {
    pub operation: String,
    pub group: String,
    pub kind: String,
    /// Plural resource, e.g. `pods`.
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub username: String,
    pub groups: Vec<String>,
    pub object: Value,
    pub old_object: Value,
    /// Labels of the request's namespace (unused for Namespace objects).
    pub namespace_labels: Value,
}

impl Req {
    /// The `request` variable.
    fn request(&self) -> Value {
        json!({"operation": self.operation, "namespace": self.namespace, "name": self.name,
            "subResource": self.subresource,
            "userInfo": {"username": self.username, "groups": self.groups},
            "kind": {"group": self.group, "version": "v1", "kind": self.kind},
            "resource": {"group": self.group, "version": "v1", "resource": self.resource}})
    }

    /// The labels the binding's namespaceSelector is matched against.
    fn selected_labels(&self) -> Value {
        if self.kind == "Namespace" && self.group.is_empty() {
            let o = if self.operation == "DELETE" {
                &self.old_object
            } else {
                &self.object
            };
            let mut labels = o["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            labels["kubernetes.io/metadata.name"] = json!(self.name);
            labels
        } else {
            self.namespace_labels.clone()
        }
    }

    /// The same request for the engine.
    pub fn engine(&self) -> Request {
        Request {
            uid: "vap-agreement".into(),
            group: self.group.clone(),
            version: "v1".into(),
            kind: self.kind.clone(),
            resource: Resource {
                group: self.group.clone(),
                resource: self.resource.clone(),
                subresource: self.subresource.clone(),
            },
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            operation: self.operation.parse().unwrap_or(Operation::Connect),
            user: User {
                username: self.username.clone(),
                groups: self.groups.clone(),
            },
            dry_run: false,
            object: (!self.object.is_null()).then(|| self.object.clone()),
            old_object: (!self.old_object.is_null()).then(|| self.old_object.clone()),
        }
    }
}

fn cel(v: &Value) -> cel::Value {
    cel::to_value(v).expect("JSON converts to CEL")
}

fn run(ctx: &cel::Context<'_>, expr: &str, what: &str) -> cel::Value {
    let program = cel::Program::compile(expr).unwrap_or_else(|e| panic!("{what}: {expr}: {e:?}"));
    program
        .execute(ctx)
        .unwrap_or_else(|e| panic!("{what}: {expr}: {e:?}"))
}

fn truth(v: cel::Value, what: &str) -> bool {
    match v {
        cel::Value::Bool(b) => b,
        other => panic!("{what} gave {other:?}, not a bool"),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether one of the policy's resourceRules matches the request.
fn rules_match(policy: &Value, r: &Req) -> bool {
    let resource = if r.subresource.is_empty() {
        r.resource.clone()
    } else {
        format!("{}/{}", r.resource, r.subresource)
    };
    policy["spec"]["matchConstraints"]["resourceRules"]
        .as_array()
        .expect("resourceRules")
        .iter()
        .any(|rule| {
            strings(&rule["apiGroups"]).contains(&r.group.as_str())
                && strings(&rule["resources"]).contains(&resource.as_str())
                && strings(&rule["operations"]).contains(&r.operation.as_str())
        })
}

fn binding_selects(binding: &Value, r: &Req) -> bool {
    let Some(sel) = binding["spec"]["matchResources"].get("namespaceSelector") else {
        return true;
    };
    let sel = LabelSelector::from_value(sel).expect("a valid namespaceSelector");
    let labels = r.selected_labels();
    sel.matches(|k| labels.get(k).and_then(Value::as_str))
}

/// What one policy with its binding makes of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Its resourceRules do not match: a check it does not cover.
    NotCovered,
    /// Matched, but its binding or matchConditions leave the request out.
    NotApplied,
    /// The messages of the failed validations (empty: admitted).
    Judged(Vec<String>),
}

impl Verdict {
    pub fn denies(&self) -> bool {
        matches!(self, Verdict::Judged(m) if !m.is_empty())
    }
}

/// Evaluates one policy with its binding.
pub fn evaluate(policy: &Value, binding: &Value, r: &Req) -> Verdict {
    if !rules_match(policy, r) {
        return Verdict::NotCovered;
    }
    if !binding_selects(binding, r) {
        return Verdict::NotApplied;
    }
    let name = policy["metadata"]["name"].as_str().unwrap_or("");
    let mut ctx = cel::Context::default();
    ctx.add_variable_from_value("request", cel(&r.request()));
    ctx.add_variable_from_value("object", cel(&r.object));
    ctx.add_variable_from_value("oldObject", cel(&r.old_object));
    let ns_object = json!({"metadata": {"name": r.namespace, "labels": r.namespace_labels}});
    ctx.add_variable_from_value("namespaceObject", cel(&ns_object));
    for c in policy["spec"]["matchConditions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let expr = c["expression"].as_str().expect("expression");
        if !truth(run(&ctx, expr, name), name) {
            return Verdict::NotApplied;
        }
    }
    let mut vars: HashMap<String, cel::Value> = HashMap::new();
    for v in policy["spec"]["variables"].as_array().into_iter().flatten() {
        let var = v["name"].as_str().expect("name");
        ctx.add_variable_from_value("variables", vars.clone());
        let value = run(
            &ctx,
            v["expression"].as_str().expect("expression"),
            &format!("{name} variable {var}"),
        );
        vars.insert(var.to_string(), value);
    }
    ctx.add_variable_from_value("variables", vars);
    let mut failed = Vec::new();
    for v in policy["spec"]["validations"]
        .as_array()
        .expect("validations")
    {
        let expr = v["expression"].as_str().expect("expression");
        if !truth(run(&ctx, expr, name), name) {
            failed.push(v["message"].as_str().unwrap_or("").to_string());
        }
    }
    Verdict::Judged(failed)
}

/// The rule a generated object expresses.
pub fn rule_of(o: &Value) -> &str {
    o["metadata"]["labels"]["tenantguard.io/rule"]
        .as_str()
        .unwrap_or("")
}

/// Each generated rule's verdict on the request.
pub fn verdicts<'a>(objects: &'a [Value], r: &Req) -> Vec<(&'a str, Verdict)> {
    let find = |kind: &str, rule: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && rule_of(o) == rule)
    };
    objects
        .iter()
        .filter(|o| o["kind"] == "ValidatingAdmissionPolicy")
        .map(|p| {
            let rule = rule_of(p);
            let binding = find("ValidatingAdmissionPolicyBinding", rule)
                .unwrap_or_else(|| panic!("no binding for {rule}"));
            (rule, evaluate(p, binding, r))
        })
        .collect()
}
