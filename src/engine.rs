//! The policy engine: runs the rules that apply to a request and merges their
//! denials, warnings and patches. Synchronous and pure: it knows nothing of
//! HTTP, TLS or Kubernetes clients, so `check`, `review` and `serve` share
//! every decision.
//!
//! Order as in the kube-apiserver: mutation first, then validation judges the
//! mutated object (`check` does both; `/validate` judges what it is sent).

mod patch;

use serde_json::Value;

use crate::policy::rules::{self, Ctx, Identity, Operation, RuleId, RuleParams, Scope, User};
use crate::policy::{Action, Policy, PolicySet};
use crate::tenancy::{Inventory, NamespaceTenancy, UnknownNamespaces};
use crate::TENANT_LABEL;

/// An admission request, decoded and ready to judge.
#[derive(Debug, Clone)]
pub struct Request {
    pub uid: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The request's namespace (it wins over the object's).
    pub namespace: String,
    pub name: String,
    pub operation: Operation,
    pub user: User,
    pub dry_run: bool,
    pub object: Option<Value>,
    pub old_object: Option<Value>,
}

/// One violation found, with the policy's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    pub action: Action,
    pub path: String,
    pub message: String,
}

impl Finding {
    /// `[rule] message`: how denials and warnings show a finding.
    pub fn display(&self) -> String {
        format!("[{}] {}", self.rule, self.message)
    }
}

/// Where a request stands before any rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Exempt namespace, platform namespace or cluster-scoped object: no rule applies.
    OutOfScope,
    /// A namespaced object in a tenant namespace.
    Tenant(String),
    /// A Namespace object, with the tenant its label names (if any).
    Namespace(Option<String>),
    /// A namespace tenantguard does not know and will not guess.
    Unknown(String),
}

/// The verdict on one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub allowed: bool,
    /// The tenant the request was judged for.
    pub tenant: Option<String>,
    pub findings: Vec<Finding>,
    /// Admission warnings (from `Warn` policies), each at most 256 characters.
    pub warnings: Vec<String>,
    /// RFC 6902 operations (mutation only); empty when nothing changes.
    pub patch: Vec<json_patch::PatchOperation>,
    /// Why the request could not be judged, when it could not.
    pub error: Option<String>,
}

impl Outcome {
    fn allow(tenant: Option<String>) -> Self {
        Outcome {
            allowed: true,
            tenant,
            ..Default::default()
        }
    }

    /// A denial for a request that could not be judged.
    pub fn cannot_judge(reason: impl Into<String>) -> Self {
        Outcome {
            allowed: false,
            error: Some(reason.into()),
            ..Default::default()
        }
    }

    /// The denial message: every `Deny` finding, in rule order.
    pub fn denial_message(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        self.findings
            .iter()
            .filter(|f| f.action == Action::Deny)
            .map(Finding::display)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Most characters of one admission warning (kubectl shows these comfortably;
/// the apiserver truncates longer ones).
pub const MAX_WARNING_CHARS: usize = 256;

fn truncate_warning(s: String) -> String {
    if s.chars().count() <= MAX_WARNING_CHARS {
        return s;
    }
    let mut out: String = s.chars().take(MAX_WARNING_CHARS - 1).collect();
    out.push('…');
    out
}

/// What `prepare` finds: the rules' scope, the tenant, and the namespace
/// exclusions are matched against.
type Prepared = (Scope, Option<String>, String);

/// Rules plus their configuration.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub policies: PolicySet,
    pub identity: Identity,
}

impl Engine {
    pub fn new(policies: PolicySet, identity: Identity) -> Self {
        Engine { policies, identity }
    }

    fn is_exempt(&self, namespace: &str) -> bool {
        namespace == self.identity.namespace
            || self
                .policies
                .settings
                .exempt_namespaces
                .iter()
                .any(|n| n == namespace)
    }

    /// Where the request stands: which rules can apply, for which tenant.
    pub fn standing(&self, req: &Request, inv: &Inventory) -> Standing {
        if req.group.is_empty() && req.kind == "Namespace" {
            let name = if req.name.is_empty() {
                meta_str(req.object.as_ref().or(req.old_object.as_ref()), "name")
            } else {
                Some(req.name.as_str())
            };
            if name.is_some_and(|n| self.is_exempt(n)) {
                return Standing::OutOfScope;
            }
            let obj = match req.operation {
                Operation::Delete => req.old_object.as_ref(),
                _ => req.object.as_ref(),
            };
            return Standing::Namespace(tenant_label(obj).map(str::to_string));
        }
        if req.namespace.is_empty() || self.is_exempt(&req.namespace) {
            return Standing::OutOfScope;
        }
        match inv.namespace(&req.namespace) {
            NamespaceTenancy::Tenant(t) => Standing::Tenant(t.to_string()),
            NamespaceTenancy::Platform => Standing::OutOfScope,
            NamespaceTenancy::Unknown => match inv.unknown {
                UnknownNamespaces::Platform => Standing::OutOfScope,
                UnknownNamespaces::Deny => Standing::Unknown(req.namespace.clone()),
            },
        }
    }

    fn applies(&self, policy: &Policy, scope: Scope, req: &Request, scope_ns: &str) -> bool {
        policy.action != Action::Off
            && policy.rule.scope() == scope
            && policy.rule.operations().contains(&req.operation)
            && !policy
                .exclude
                .matches(scope_ns, &req.user.username, &req.user.groups)
    }

    /// Runs the mutating rules; the outcome carries the JSON patch.
    pub fn mutate(&self, req: &Request, inv: &Inventory) -> Outcome {
        let (scope, tenant, scope_ns) = match self.prepare(req, inv) {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::allow(None),
            Err(reason) => return Outcome::cannot_judge(reason),
        };
        let Some(original) = req.object.as_ref() else {
            // DELETE and CONNECT carry nothing to mutate.
            return Outcome::allow(tenant);
        };
        if !mutable_kind(&req.group, &req.kind) {
            // No mutating rule touches this kind: skip the copy and the diff.
            return Outcome::allow(tenant);
        }
        let mut working = original.clone();
        for policy in &self.policies.policies {
            if !policy.rule.is_mutating() || !self.applies(policy, scope, req, &scope_ns) {
                continue;
            }
            let ctx = self.ctx(req, inv, tenant.as_deref(), &scope_ns);
            match &policy.params {
                RuleParams::TenantLabels(p) => rules::tenant_labels::mutate(&ctx, &mut working, p),
                RuleParams::NamespaceLabels(p) => {
                    rules::namespace_labels::mutate(&ctx, &mut working, p)
                }
                RuleParams::ContainerDefaults(p) => {
                    rules::container_defaults::mutate(&ctx, &mut working, p)
                }
                RuleParams::VaultInjection(p) => {
                    rules::vault_injection::mutate(&ctx, &mut working, p)
                }
                RuleParams::NodePool(p) => rules::node_pool::mutate(&ctx, &mut working, p),
                _ => {}
            }
        }
        let patch = patch::diff(original, &working);
        Outcome {
            allowed: true,
            tenant,
            patch,
            ..Default::default()
        }
    }

    /// Runs the validating rules.
    pub fn validate(&self, req: &Request, inv: &Inventory) -> Outcome {
        let (scope, tenant, scope_ns) = match self.prepare(req, inv) {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::allow(None),
            Err(reason) => return Outcome::cannot_judge(reason),
        };
        let mut findings = Vec::new();
        for policy in &self.policies.policies {
            if policy.rule.is_mutating() || !self.applies(policy, scope, req, &scope_ns) {
                continue;
            }
            let ctx = self.ctx(req, inv, tenant.as_deref(), &scope_ns);
            let violations = match &policy.params {
                RuleParams::RequireLimits(p) => rules::require_limits::validate(&ctx, p),
                RuleParams::CrossTenantSelectors(p) => {
                    rules::cross_tenant_selectors::validate(&ctx, p)
                }
                RuleParams::RestrictEgress(p) => rules::restrict_egress::validate(&ctx, p),
                RuleParams::NamespaceOwnership(p) => rules::namespace_ownership::validate(&ctx, p),
                RuleParams::VaultBoundaries(p) => rules::vault_boundaries::validate(&ctx, p),
                RuleParams::ManagedObjects(p) => rules::managed_objects::validate(&ctx, p),
                _ => Vec::new(),
            };
            findings.extend(violations.into_iter().map(|v| Finding {
                rule: policy.rule,
                action: policy.action,
                path: v.path,
                message: v.message,
            }));
        }
        let warnings = findings
            .iter()
            .filter(|f| f.action == Action::Warn)
            .map(|f| truncate_warning(f.display()))
            .collect();
        Outcome {
            allowed: !findings.iter().any(|f| f.action == Action::Deny),
            tenant,
            findings,
            warnings,
            patch: Vec::new(),
            error: None,
        }
    }

    /// Mutation then validation of the mutated object, as the apiserver would
    /// for this request: what `check` reports.
    pub fn admit(&self, req: &Request, inv: &Inventory) -> Outcome {
        let mutated = self.mutate(req, inv);
        if mutated.error.is_some() {
            return mutated;
        }
        let mut after = req.clone();
        if let (Some(obj), false) = (after.object.as_mut(), mutated.patch.is_empty()) {
            if let Err(e) = json_patch::patch(obj, &mutated.patch) {
                return Outcome::cannot_judge(format!(
                    "internal error: the mutation patch does not apply to the object: {e}"
                ));
            }
        }
        let mut verdict = self.validate(&after, inv);
        verdict.patch = mutated.patch;
        if verdict.tenant.is_none() {
            verdict.tenant = mutated.tenant;
        }
        verdict
    }

    /// The rule scope, tenant and namespace used for exclusions, or None when
    /// no rule applies, or why the request cannot be judged.
    fn prepare(&self, req: &Request, inv: &Inventory) -> Result<Option<Prepared>, String> {
        if matches!(req.operation, Operation::Create | Operation::Update) {
            match &req.object {
                None => {
                    return Err(format!(
                        "the {} request carries no object; tenantguard cannot judge it",
                        req.operation.as_str()
                    ))
                }
                Some(Value::Object(_)) => {}
                Some(_) => {
                    return Err(
                        "request.object is not a JSON object; tenantguard cannot judge it".into(),
                    )
                }
            }
        }
        match self.standing(req, inv) {
            Standing::OutOfScope => Ok(None),
            Standing::Tenant(t) => Ok(Some((Scope::TenantObjects, Some(t), req.namespace.clone()))),
            Standing::Namespace(t) => {
                let name = if req.name.is_empty() {
                    meta_str(req.object.as_ref().or(req.old_object.as_ref()), "name")
                        .unwrap_or("")
                        .to_string()
                } else {
                    req.name.clone()
                };
                Ok(Some((Scope::Namespaces, t, name)))
            }
            Standing::Unknown(ns) => Err(format!(
                "namespace {ns:?} is not known to tenantguard yet, so its tenant cannot be determined; retry in a moment"
            )),
        }
    }

    fn ctx<'a>(
        &'a self,
        req: &'a Request,
        inv: &'a Inventory,
        tenant: Option<&'a str>,
        scope_ns: &'a str,
    ) -> Ctx<'a> {
        let settings = &self.policies.settings;
        Ctx {
            group: &req.group,
            kind: &req.kind,
            operation: req.operation,
            namespace: scope_ns,
            name: &req.name,
            user: &req.user,
            object: req.object.as_ref(),
            old_object: req.old_object.as_ref(),
            tenant: tenant.map(|t| inv.tenant(t, settings)),
            inventory: inv,
            settings,
            identity: &self.identity,
        }
    }
}

/// Kinds some mutating rule may change: Pods and workloads (every rule),
/// Services (`tenant-labels`) and Namespaces (`namespace-labels`).
fn mutable_kind(group: &str, kind: &str) -> bool {
    crate::podspec::locate(group, kind).is_some()
        || (group.is_empty() && matches!(kind, "Service" | "Namespace"))
}

fn meta_str<'a>(obj: Option<&'a Value>, field: &str) -> Option<&'a str> {
    obj?.get("metadata")?.get(field)?.as_str()
}

fn tenant_label(obj: Option<&Value>) -> Option<&str> {
    obj?.get("metadata")?
        .get("labels")?
        .get(TENANT_LABEL)?
        .as_str()
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load_sources;
    use serde_json::json;

    fn world() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        inv.add_namespace("monitoring", None);
        inv
    }

    fn req(ns: &str, obj: Value) -> Request {
        Request {
            uid: "u".into(),
            group: String::new(),
            version: "v1".into(),
            kind: obj["kind"].as_str().unwrap_or("").into(),
            namespace: ns.into(),
            name: "p".into(),
            operation: Operation::Create,
            user: User::default(),
            dry_run: false,
            object: Some(obj),
            old_object: None,
        }
    }

    fn bare_pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}})
    }

    #[test]
    fn scope_table() {
        let e = Engine::default();
        let inv = world();
        let cases = [
            ("tenant namespace", "acme-prod", false),
            ("exempt namespace", "kube-system", true),
            ("own namespace", "tenantguard-system", true),
            ("platform namespace", "monitoring", true),
            ("unknown namespace with a file inventory", "elsewhere", true),
        ];
        for (name, ns, allowed) in cases {
            let o = e.validate(&req(ns, bare_pod()), &inv);
            assert_eq!(o.allowed, allowed, "{name}: {o:?}");
        }
    }

    #[test]
    fn unknown_namespace_denied_when_source_cannot_guess() {
        let e = Engine::default();
        let mut inv = world();
        inv.unknown = UnknownNamespaces::Deny;
        let o = e.validate(&req("elsewhere", bare_pod()), &inv);
        assert!(!o.allowed);
        assert!(o.denial_message().contains("not known to tenantguard"));
    }

    #[test]
    fn denial_lists_every_violation() {
        let o = Engine::default().validate(&req("acme-prod", bare_pod()), &world());
        assert!(!o.allowed);
        assert_eq!(
            o.denial_message(),
            "[require-limits] spec.containers[0] \"app\": resources.limits.cpu is not set; set it (or declare containerDefaults for the tenant so it is filled in); [require-limits] spec.containers[0] \"app\": resources.limits.memory is not set; set it (or declare containerDefaults for the tenant so it is filled in)"
        );
    }

    fn engine_with(policy: &str) -> Engine {
        Engine::new(
            load_sources([("p.yaml", policy)]).unwrap(),
            Identity::default(),
        )
    }

    #[test]
    fn actions_warn_audit_off_and_exclusions() {
        let inv = world();
        let p = |action: &str| {
            format!("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {{rule: require-limits, action: {action}}}\n")
        };
        let warn = engine_with(&p("Warn")).validate(&req("acme-prod", bare_pod()), &inv);
        assert!(warn.allowed);
        assert_eq!(warn.warnings.len(), 2);
        assert!(warn.warnings[0].starts_with("[require-limits] spec.containers[0]"));
        let audit = engine_with(&p("Audit")).validate(&req("acme-prod", bare_pod()), &inv);
        assert!(audit.allowed && audit.warnings.is_empty() && audit.findings.len() == 2);
        let off = engine_with(&p("Off")).validate(&req("acme-prod", bare_pod()), &inv);
        assert!(off.allowed && off.findings.is_empty());
        let excluded = engine_with("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: require-limits, exclude: {namespaces: [acme-prod]}}\n")
            .validate(&req("acme-prod", bare_pod()), &inv);
        assert!(excluded.allowed);
    }

    #[test]
    fn long_warnings_are_truncated() {
        let w = truncate_warning("x".repeat(1000));
        assert_eq!(w.chars().count(), MAX_WARNING_CHARS);
    }

    #[test]
    fn create_without_object_is_never_admitted() {
        let mut r = req("acme-prod", bare_pod());
        r.object = None;
        let o = Engine::default().validate(&r, &world());
        assert!(!o.allowed);
        let m = Engine::default().mutate(&r, &world());
        assert!(!m.allowed);
    }

    #[test]
    fn delete_without_object_is_fine() {
        let mut r = req("acme-prod", bare_pod());
        r.object = None;
        r.operation = Operation::Delete;
        assert!(Engine::default().validate(&r, &world()).allowed);
    }

    #[test]
    fn mutation_patch_adds_label_and_is_idempotent() {
        let e = Engine::default();
        let inv = world();
        let r = req("acme-prod", bare_pod());
        let o = e.mutate(&r, &inv);
        assert!(!o.patch.is_empty());
        let mut obj = r.object.clone().unwrap();
        json_patch::patch(&mut obj, &o.patch).unwrap();
        assert_eq!(obj["metadata"]["labels"][TENANT_LABEL], "acme");
        let again = e.mutate(&req("acme-prod", obj), &inv);
        assert!(again.patch.is_empty(), "{:?}", again.patch);
    }
}
