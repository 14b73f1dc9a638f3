//! `tenantguard vap`: the CEL fallback. ValidatingAdmissionPolicies and their
//! bindings (`admissionregistration.k8s.io/v1`) that the kube-apiserver
//! evaluates itself, so the checks CEL can express hold while the webhook is
//! unreachable (or its entries run with `failurePolicy: Ignore`).
//!
//! Generated from the loaded policies, Settings and declared Tenants, one
//! policy per rule it covers (see [`pods`] and [`objects`] for what each
//! expresses and what it leaves to the webhook):
//!
//! | rule | objects | what the CEL judges |
//! | --- | --- | --- |
//! | `require-limits` | Pods and pod templates | each container and initContainer sets the `resources` param's limits, above zero |
//! | `pod-security` | Pods (and `pods/ephemeralcontainers`), pod templates | baseline host namespaces, privileged containers, hostPath volumes |
//! | `service-types` | Services | `type` in the tenant's `allowed.serviceTypes` |
//! | `namespace-ownership` | Namespaces (UPDATE) | the tenant label is added, changed or removed by admins only |
//!
//! A rule whose policy is `Off` produces nothing; `Deny`, `Warn` and `Audit`
//! become the binding's `validationActions`. Every binding but the
//! Namespace one selects tenant namespaces only (a non-empty tenant label,
//! minus the exempt ones, tenantguard's own and the policy's
//! `exclude.namespaces`); `exclude.users`/`groups` become `matchConditions`.
//! Messages start with `[rule-id]`, like the webhook's.
//!
//! A rule this build does not know yet (its own issue adds it) is generated
//! with its defaults: on, `Deny`, no exclusions.
//!
//! Reference: <https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/>.

mod objects;
mod pods;

use serde_json::{json, Value};

use crate::policy::{Action, Exclude, Policy, PolicySet, RuleId};
use crate::tenancy::Inventory;
use crate::{NAME_LABEL, TENANT_LABEL};

/// Label on every generated object naming the rule it expresses.
pub const RULE_LABEL: &str = "tenantguard.io/rule";
/// Prefix of every generated object's name.
pub const NAME_PREFIX: &str = "tenantguard-";

/// What the generator needs besides the policies.
#[derive(Debug, Clone)]
pub struct Options {
    /// tenantguard's own namespace: never judged.
    pub own_namespace: String,
}

/// Everything one rule's policy needs from the loaded configuration.
pub(crate) struct Input<'a> {
    pub set: &'a PolicySet,
    pub inventory: &'a Inventory,
    pub options: &'a Options,
}

/// The action and exclusions of the rule `id`: from its policy when this
/// build knows the rule, else the defaults every validating rule has.
pub(crate) fn configured<'a>(set: &'a PolicySet, id: &str) -> (Action, Option<&'a Policy>) {
    match id.parse::<RuleId>() {
        Ok(rule) => {
            let p = set.policy(rule);
            (p.action, Some(p))
        }
        Err(()) => (Action::Deny, None),
    }
}

/// The binding's `validationActions` for a validating action; None for `Off`.
fn validation_actions(action: Action) -> Option<&'static str> {
    match action {
        Action::Deny => Some("Deny"),
        Action::Warn => Some("Warn"),
        Action::Audit => Some("Audit"),
        // A validating rule is never `Apply`; both mean "nothing to enforce".
        Action::Off | Action::Apply => None,
    }
}

/// A CEL string literal (JSON's escapes are CEL's).
pub(crate) fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| unreachable!("a str always serializes"))
}

/// A CEL list literal of strings.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| lit(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

/// `request.userInfo` is one of `users` or in one of `groups`.
pub(crate) fn requester_in(users: &[String], groups: &[String]) -> String {
    format!(
        "request.userInfo.username in {} || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in {}))",
        list(users),
        list(groups)
    )
}

/// One rule's ValidatingAdmissionPolicy before its binding is made.
pub(crate) struct Draft {
    pub rule: &'static str,
    pub resource_rules: Value,
    pub variables: Vec<(&'static str, String)>,
    /// (expression, message): each must be true to admit.
    pub validations: Vec<(String, String)>,
    /// Bind only to tenant namespaces (else: to every namespace).
    pub tenant_namespaces: bool,
}

fn labels(rule: &str) -> Value {
    json!({"app.kubernetes.io/part-of": "tenantguard", RULE_LABEL: rule})
}

/// The policy and binding for `draft`, or nothing when the rule is `Off`.
fn finish(input: &Input<'_>, draft: Draft) -> Vec<Value> {
    let (action, policy) = configured(input.set, draft.rule);
    let Some(actions) = validation_actions(action) else {
        return Vec::new();
    };
    let exclude = policy.map(|p| p.exclude.clone()).unwrap_or_default();
    let name = format!("{NAME_PREFIX}{}", draft.rule);
    let mut spec = json!({
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": draft.resource_rules},
        "variables": draft.variables.iter()
            .map(|(n, e)| json!({"name": n, "expression": e}))
            .collect::<Vec<_>>(),
        "validations": draft.validations.iter()
            .map(|(e, m)| json!({"expression": e, "message": m, "reason": "Forbidden"}))
            .collect::<Vec<_>>(),
    });
    if !exclude.users.is_empty() || !exclude.groups.is_empty() {
        spec["matchConditions"] = json!([{
            "name": "not-excluded",
            "expression": format!("!({})", requester_in(&exclude.users, &exclude.groups)),
        }]);
    }
    let mut binding = json!({"policyName": name, "validationActions": [actions]});
    if let Some(selector) = namespace_selector(input, &exclude, draft.tenant_namespaces) {
        binding["matchResources"] = json!({"namespaceSelector": selector});
    }
    vec![
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": labels(draft.rule)},
            "spec": spec,
        }),
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": labels(draft.rule)},
            "spec": binding,
        }),
    ]
}

/// The binding's namespaceSelector. Tenant namespaces: a non-empty tenant
/// label, minus the exempt ones, tenantguard's own and the policy's
/// excluded namespaces. Otherwise only the excluded namespaces are left out
/// (None when there are none).
fn namespace_selector(input: &Input<'_>, exclude: &Exclude, tenants: bool) -> Option<Value> {
    let mut names: Vec<String> = Vec::new();
    if tenants {
        names.extend(input.set.settings.exempt_namespaces.iter().cloned());
        names.push(input.options.own_namespace.clone());
    }
    names.extend(exclude.namespaces.iter().cloned());
    names.sort();
    names.dedup();
    let mut exprs = Vec::new();
    if tenants {
        exprs.push(json!({"key": TENANT_LABEL, "operator": "Exists"}));
        exprs.push(json!({"key": TENANT_LABEL, "operator": "NotIn", "values": [""]}));
    }
    if !names.is_empty() {
        exprs.push(json!({"key": NAME_LABEL, "operator": "NotIn", "values": names}));
    }
    (!exprs.is_empty()).then(|| json!({"matchExpressions": exprs}))
}

/// Every policy and binding of the fallback, in a stable order.
pub fn generate(set: &PolicySet, inventory: &Inventory, options: &Options) -> Vec<Value> {
    let input = Input {
        set,
        inventory,
        options,
    };
    [
        pods::require_limits(&input),
        pods::pod_security(&input),
        objects::service_types(&input),
        objects::namespace_tenant_label(&input),
    ]
    .into_iter()
    .flat_map(|d| finish(&input, d))
    .collect()
}

/// The objects as one multi-document YAML stream, with a header saying
/// where it came from.
pub fn to_yaml(objects: &[Value]) -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::from(
        "# tenantguard's CEL fallback, generated by `tenantguard vap`: do not edit.\n",
    );
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml_ng::to_string(o)?);
    }
    Ok(out)
}
