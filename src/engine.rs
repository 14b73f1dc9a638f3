//! The policy engine: runs the rules that apply to a request and merges their
//! denials, warnings and patches. Synchronous and pure: it knows nothing of
//! HTTP, TLS or Kubernetes clients, so `check`, `review` and `serve` share
//! every decision.
//!
//! Order as in the kube-apiserver: mutation first, then validation judges the
//! mutated object (`check` does both; `/validate` judges what it is sent).

mod cause;
mod object;
mod patch;
mod sent;

use serde_json::Value;

pub use cause::{CannotJudge, Unsent};
pub use object::ObjectValue;
pub use sent::resource_of;

use crate::policy::rules::{Ctx, Draft, Identity, Operation, RuleId, Scope, User};
use crate::policy::{Action, Policy, PolicySet};
use crate::tenancy::{Inventory, NamespaceTenancy, UnknownNamespaces};
use crate::tenant_label::{self, TenantLabel};

/// The resource a request is about (`request.resource`, `subResource`).
/// Empty when not given: offline `check` builds requests from objects alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub group: String,
    /// The plural resource, e.g. `pods`.
    pub resource: String,
    /// e.g. `status`, `ephemeralcontainers`; empty for the resource itself.
    pub subresource: String,
}

/// An admission request, decoded and ready to judge.
#[derive(Debug, Clone)]
pub struct Request {
    pub uid: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub resource: Resource,
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
    /// A Namespace object, with the tenant its label names (if any). An
    /// exempt namespace is one too: exemption covers the objects in it,
    /// never its own tenant label (`namespace-ownership` judges that).
    Namespace(Option<String>),
    /// A namespace tenantguard does not know and will not guess.
    Unknown(String),
    /// The request's object carries a tenant label that is not a string.
    MalformedLabel { field: &'static str, value: String },
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
    pub error: Option<CannotJudge>,
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
    pub fn cannot_judge(cause: CannotJudge) -> Self {
        Outcome {
            allowed: false,
            error: Some(cause),
            ..Default::default()
        }
    }

    /// The denial message: every `Deny` finding, in rule order.
    pub fn denial_message(&self) -> String {
        if let Some(e) = &self.error {
            return e.to_string();
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

    /// Whether objects in `namespace` are exempt (Settings' list, and
    /// tenantguard's own namespace whatever the list says).
    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.policies
            .settings
            .is_exempt(namespace, &self.identity.namespace)
    }

    /// Where the request stands: which rules can apply, for which tenant.
    pub fn standing(&self, req: &Request, inv: &Inventory) -> Standing {
        if req.group.is_empty() && req.kind == "Namespace" {
            let obj = match req.operation {
                Operation::Delete => req.old_object.as_ref(),
                _ => req.object.as_ref(),
            };
            return match tenant_label::of_object(obj) {
                TenantLabel::Malformed(v) => Standing::MalformedLabel {
                    field: if req.operation == Operation::Delete {
                        "oldObject"
                    } else {
                        "object"
                    },
                    value: v.to_string(),
                },
                label => Standing::Namespace(label.tenant().map(str::to_string)),
            };
        }
        if req.namespace.is_empty() || self.is_exempt(&req.namespace) {
            return Standing::OutOfScope;
        }
        match inv.namespace(&req.namespace) {
            NamespaceTenancy::Tenant(t) => {
                // In a tenant namespace the object's own tenant label is read
                // as a claim; a non-string one cannot be read at all.
                for (field, obj) in [("object", &req.object), ("oldObject", &req.old_object)] {
                    if let TenantLabel::Malformed(v) = tenant_label::of_object(obj.as_ref()) {
                        return Standing::MalformedLabel {
                            field,
                            value: v.to_string(),
                        };
                    }
                }
                Standing::Tenant(t.to_string())
            }
            NamespaceTenancy::Platform => Standing::OutOfScope,
            NamespaceTenancy::Unknown => match inv.unknown {
                UnknownNamespaces::Platform => Standing::OutOfScope,
                UnknownNamespaces::Deny => Standing::Unknown(req.namespace.clone()),
            },
        }
    }

    /// Whether `policy` judges this request: on, of the request's scope,
    /// operation, kind and subresource, and not excluded.
    fn applies(&self, policy: &Policy, scope: Scope, req: &Request, scope_ns: &str) -> bool {
        let rule = policy.rule;
        policy.action != Action::Off
            && rule.scope() == scope
            && rule.operations().contains(&req.operation)
            && rule.kinds().contains(&req.group, &req.kind)
            && (req.resource.subresource.is_empty()
                || rule
                    .subresources()
                    .contains(&req.resource.subresource.as_str()))
            && !policy
                .exclude
                .matches(scope_ns, &req.user.username, &req.user.groups)
    }

    /// Whether some mutating rule that is on judges this kind.
    fn mutable_kind(&self, group: &str, kind: &str) -> bool {
        self.policies.policies.iter().any(|p| {
            p.action != Action::Off && p.rule.is_mutating() && p.rule.kinds().contains(group, kind)
        })
    }

    /// Runs the mutating rules; the outcome carries the JSON patch.
    pub fn mutate(&self, req: &Request, inv: &Inventory) -> Outcome {
        self.mutate_from(req, inv, Draft::new)
    }

    /// [`Engine::mutate`] the way it was done before drafts: a copy of the
    /// whole object, changed in place, diffed with the original. The
    /// differential tests' oracle.
    #[cfg(test)]
    fn mutate_whole(&self, req: &Request, inv: &Inventory) -> Outcome {
        self.mutate_from(req, inv, Draft::whole)
    }

    /// `start` makes the draft the rules change.
    fn mutate_from<'a>(
        &self,
        req: &'a Request,
        inv: &Inventory,
        start: fn(&'a Value) -> Draft<'a>,
    ) -> Outcome {
        let (scope, tenant, scope_ns) = match self.prepare(req, inv) {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::allow(None),
            Err(cause) => return Outcome::cannot_judge(cause),
        };
        let Some(original) = req.object.as_ref() else {
            // DELETE and CONNECT carry nothing to mutate.
            return Outcome::allow(tenant);
        };
        if !self.mutable_kind(&req.group, &req.kind) {
            // No mutating rule touches this kind: skip the rules.
            return Outcome::allow(tenant);
        }
        // The rules record their edits over the object as sent; the patch
        // is made from the edits alone.
        let mut draft = start(original);
        // One context for every rule (it looks the tenant up), made when a
        // first rule applies.
        let mut ctx = None;
        for policy in &self.policies.policies {
            if !policy.rule.is_mutating() || !self.applies(policy, scope, req, &scope_ns) {
                continue;
            }
            let ctx = ctx.get_or_insert_with(|| self.ctx(req, inv, tenant.as_deref(), &scope_ns));
            policy.params.mutate(ctx, &mut draft);
        }
        let patch = patch::of(draft);
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
            Err(cause) => return Outcome::cannot_judge(cause),
        };
        let mut findings = Vec::new();
        // One context for every rule (it is Copy): the tenant is looked up
        // once, and only when some rule applies.
        let mut ctx = None;
        for policy in &self.policies.policies {
            if policy.rule.is_mutating() || !self.applies(policy, scope, req, &scope_ns) {
                continue;
            }
            let ctx = ctx.get_or_insert_with(|| self.ctx(req, inv, tenant.as_deref(), &scope_ns));
            let violations = policy.params.validate(ctx);
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
                return Outcome::cannot_judge(CannotJudge::Internal(format!(
                    "the mutation patch does not apply to the object: {e}"
                )));
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
    fn prepare(&self, req: &Request, inv: &Inventory) -> Result<Option<Prepared>, CannotJudge> {
        if matches!(req.operation, Operation::Create | Operation::Update) {
            match &req.object {
                None => return Err(CannotJudge::NoObject(req.operation)),
                Some(Value::Object(_)) => {}
                Some(_) => return Err(CannotJudge::ObjectNotAnObject),
            }
        }
        sent::check(req).map_err(CannotJudge::Unsent)?;
        match self.standing(req, inv) {
            Standing::OutOfScope => Ok(None),
            Standing::Tenant(t) => {
                if gated(req, inv) {
                    return Err(CannotJudge::NotOnboarded {
                        namespace: req.namespace.clone(),
                        tenant: t,
                    });
                }
                Ok(Some((Scope::TenantObjects, Some(t), req.namespace.clone())))
            }
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
            Standing::Unknown(ns) => Err(CannotJudge::UnknownNamespace(ns)),
            Standing::MalformedLabel { field, value } => {
                Err(CannotJudge::MalformedTenantLabel { field, value })
            }
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
            subresource: &req.resource.subresource,
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

/// The onboarding gate (DESIGN, "Onboarding gate"): with the onboarding
/// controller running, a new Pod in a tenant namespace it has not onboarded
/// yet must wait, so that no pod ever runs before its namespace's isolation
/// NetworkPolicy. Only Pods and only CREATE: an UPDATE starts nothing, and
/// workloads make their pods through controllers that retry. Admins wait
/// too: the gate is about the network, not about who asks.
fn gated(req: &Request, inv: &Inventory) -> bool {
    inv.onboarding_gate
        && req.operation == Operation::Create
        && req.group.is_empty()
        && req.kind == "Pod"
        && req.resource.subresource.is_empty()
        && !inv.is_onboarded(&req.namespace)
}

fn meta_str<'a>(obj: Option<&'a Value>, field: &str) -> Option<&'a str> {
    obj?.get("metadata")?.get(field)?.as_str()
}

#[cfg(test)]
mod tests;
