//! The fallback's checks on Pods and pod templates: `require-limits` and the
//! `pod-security` baseline host namespaces, privileged and hostPath checks.
//!
//! The pod spec is found the way [`crate::podspec`] finds it: `spec` of a
//! Pod, `spec.jobTemplate.spec.template.spec` of a CronJob, and
//! `spec.template.spec` of the other workloads. The apiserver hands
//! validating admission the decoded object, so quantities arrive in their
//! canonical form (every zero is `0`, a negative one starts with `-`); the
//! expressions rely on that. Left to the webhook: requests above limits,
//! and the rest of the Pod Security Standards.

use serde_json::{json, Value};

use super::{configured, list, lit, Draft, Input};
use crate::policy::{PodSecurityLevel, RuleId, RuleParams};
use crate::TENANT_LABEL;

/// Pods and every workload with a pod template (what `podspec` knows).
fn pod_kinds(operations: &[&str], pod_subresources: &[&str]) -> Value {
    let mut pods = vec!["pods".to_string(), "replicationcontrollers".to_string()];
    pods.extend(pod_subresources.iter().map(|s| format!("pods/{s}")));
    json!([
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations, "resources": pods},
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": operations,
         "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": operations,
         "resources": ["jobs", "cronjobs"]},
    ])
}

/// The pod spec of the object (an empty map when a template is missing).
const POD_SPEC: &str = "object.kind == 'Pod' ? object.spec \
    : object.kind == 'CronJob' ? (has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) \
        && has(object.spec.jobTemplate.spec.template) && has(object.spec.jobTemplate.spec.template.spec) \
        ? object.spec.jobTemplate.spec.template.spec : {}) \
    : (has(object.spec.template) && has(object.spec.template.spec) ? object.spec.template.spec : {})";

/// The containers of `lists` of the pod spec, concatenated.
fn containers(lists: &[&str]) -> String {
    lists
        .iter()
        .map(|l| format!("(has(variables.spec.{l}) ? variables.spec.{l} : [])"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Whether the canonical quantity string `q` is zero or negative: no digit
/// but 0 (a canonical zero is `0`), or a sign.
fn not_positive(q: &str) -> String {
    format!("({q}.startsWith('-') || !['1', '2', '3', '4', '5', '6', '7', '8', '9'].exists(d, {q}.contains(d)))")
}

/// `require-limits`: each container and initContainer sets a limit above
/// zero for every resource of the policy's `resources` param. An UPDATE of
/// a Pod already being deleted that leaves its spec alone is admitted, as
/// the rule does (a finalizer removal must not leave it stuck).
pub(crate) fn require_limits(input: &Input<'_>) -> Draft {
    let resources = match configured(input.set, "require-limits").1.map(|p| &p.params) {
        Some(RuleParams::RequireLimits(p)) => p.resources.clone(),
        _ => match RuleParams::default_for(RuleId::RequireLimits) {
            RuleParams::RequireLimits(p) => p.resources,
            _ => vec!["cpu".into(), "memory".into()],
        },
    };
    let limit = "string(c.resources.limits[r])";
    let check = format!(
        "variables.terminating || variables.containers.all(c, {res}.all(r, has(c.resources) && has(c.resources.limits) \
         && r in c.resources.limits && !{zero}))",
        res = list(&resources),
        zero = not_positive(limit),
    );
    let fields: Vec<String> = resources
        .iter()
        .map(|r| format!("resources.limits.{r}"))
        .collect();
    Draft {
        rule: "require-limits",
        resource_rules: pod_kinds(&["CREATE", "UPDATE"], &[]),
        variables: vec![
            ("spec", POD_SPEC.to_string()),
            ("containers", containers(&["containers", "initContainers"])),
            (
                "terminating",
                "request.operation == 'UPDATE' && object.kind == 'Pod' && has(oldObject.metadata.deletionTimestamp) \
                 && oldObject.spec == object.spec"
                    .to_string(),
            ),
        ],
        validations: vec![(
            check,
            format!(
                "[require-limits] every container and initContainer must set {} (a zero limit is no limit)",
                fields.join(" and ")
            ),
        )],
        tenant_namespaces: true,
    }
}

/// The tenant of the object's namespace (the binding only selects
/// namespaces that have one).
pub(crate) fn tenant_variable() -> (&'static str, String) {
    let label = lit(TENANT_LABEL);
    (
        "tenant",
        format!(
            "has(namespaceObject.metadata.labels) && {label} in namespaceObject.metadata.labels \
             ? namespaceObject.metadata.labels[{label}] : ''"
        ),
    )
}

/// The level a pod is judged at: its tenant's `podSecurity` from the
/// declared Tenants, else the Settings' default. (A Tenant that exists only
/// in the cluster is not known here: regenerate after declaring one.)
fn level_expression(input: &Input<'_>) -> String {
    let default = input.set.settings.pod_security;
    let mut entries: Vec<String> = input
        .inventory
        .tenant_names()
        .map(|t| (t, input.inventory.tenant(t, &input.set.settings)))
        .filter(|(_, r)| r.pod_security() != default)
        .map(|(t, r)| format!("{}: {}", lit(t), lit(r.pod_security().as_str())))
        .collect();
    entries.sort();
    if entries.is_empty() {
        return lit(default.as_str());
    }
    let map = format!("{{{}}}", entries.join(", "));
    format!(
        "variables.tenant in {map} ? {map}[variables.tenant] : {}",
        lit(default.as_str())
    )
}

/// `pod-security`, the part CEL expresses: at `baseline` and `restricted`,
/// no host namespaces, no privileged container (containers, initContainers
/// and ephemeralContainers), no hostPath volume. `privileged` checks nothing.
pub(crate) fn pod_security(input: &Input<'_>) -> Draft {
    let privileged = lit(PodSecurityLevel::Privileged.as_str());
    let guard = |check: &str| format!("variables.level == {privileged} || ({check})");
    let mut validations = Vec::new();
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        validations.push((
            guard(&format!(
                "!has(variables.spec.{field}) || variables.spec.{field} != true"
            )),
            format!(
                "[pod-security] spec.{field}: host namespaces are forbidden at the tenant's Pod Security level (baseline); remove {field}: true"
            ),
        ));
    }
    validations.push((
        guard("!variables.containers.exists(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged == true)"),
        "[pod-security] securityContext.privileged: privileged containers are forbidden at the tenant's Pod Security level (baseline); remove privileged: true".to_string(),
    ));
    validations.push((
        guard("!has(variables.spec.volumes) || !variables.spec.volumes.exists(v, has(v.hostPath))"),
        "[pod-security] spec.volumes: hostPath volumes are forbidden at the tenant's Pod Security level (baseline); use a PersistentVolumeClaim or another volume type".to_string(),
    ));
    Draft {
        rule: "pod-security",
        resource_rules: pod_kinds(&["CREATE", "UPDATE"], &["ephemeralcontainers"]),
        variables: vec![
            ("spec", POD_SPEC.to_string()),
            (
                "containers",
                containers(&["containers", "initContainers", "ephemeralContainers"]),
            ),
            tenant_variable(),
            ("level", level_expression(input)),
        ],
        validations,
        tenant_namespaces: true,
    }
}
