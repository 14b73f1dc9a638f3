//! Why a request could not be judged: typed, so callers branch on the
//! cause (the server looks a namespace up again for the retryable ones)
//! and the message is made here, at the edge. Every cause is a denial:
//! tenantguard never admits what it could not judge.

use std::fmt;

use crate::policy::rules::Operation;
use crate::TENANT_LABEL;

/// A request the kube-apiserver would never send (DESIGN: "Requests the
/// apiserver would never send are denied as unjudgeable"): it can only come
/// from something else, and judging it by one of its disagreeing parts
/// would judge the wrong thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsent {
    /// A namespaced kind with no `request.namespace`: it would be taken for
    /// a cluster-scoped object, which no rule judges.
    NoNamespace { kind: String },
    /// `object`/`oldObject` (`field`) says another kind or apiVersion than
    /// `request.kind`.
    ObjectMismatch {
        field: &'static str,
        request: String,
        object: String,
    },
    /// `request.name` is not the name of `object`/`oldObject` (`field`).
    NameMismatch {
        field: &'static str,
        request: String,
        object: String,
    },
    /// `request.resource` is not where `request.kind` lives.
    ResourceMismatch { kind: String, resource: String },
}

impl fmt::Display for Unsent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsent::NoNamespace { kind } => write!(
                f,
                "request.namespace is empty, but {kind} is a namespaced kind; the kube-apiserver always names the namespace"
            ),
            Unsent::ObjectMismatch {
                field,
                request,
                object,
            } => write!(
                f,
                "request.kind is {request} but request.{field} is {object}; the kube-apiserver sends an object of the kind it names"
            ),
            Unsent::NameMismatch {
                field,
                request,
                object,
            } => write!(
                f,
                "request.name is {request:?} but request.{field}.metadata.name is {object:?}; the kube-apiserver names the object it sends"
            ),
            Unsent::ResourceMismatch { kind, resource } => write!(
                f,
                "request.kind is {kind} but request.resource is {resource}; the kube-apiserver never sends {kind} for that resource"
            ),
        }
    }
}

/// Why a request could not be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CannotJudge {
    /// The review was read but is not one tenantguard can judge (a missing
    /// or unknown operation or kind, an unreadable object): the reason as
    /// the decoder words it.
    Review(String),
    /// A CREATE or UPDATE without `object`.
    NoObject(Operation),
    /// `object` is JSON, but not a JSON object.
    ObjectNotAnObject,
    /// The request's object (`field`) carries a tenant label that is not a
    /// string; the apiserver rejects those, so it cannot be judged.
    MalformedTenantLabel { field: &'static str, value: String },
    /// See [`Unsent`].
    Unsent(Unsent),
    /// A namespace tenantguard does not know yet: its tenant is never
    /// guessed. Retryable: the server looks it up once and judges again.
    UnknownNamespace(String),
    /// The onboarding gate: a Pod in a tenant namespace whose baseline
    /// (isolation NetworkPolicy first) is not in place yet. Not a policy
    /// finding and so no rule id, but a "cannot judge yet" like an unknown
    /// namespace: the pod may well be fine, it just may not run before its
    /// namespace is isolated. Controllers retry pod creation on their own.
    NotOnboarded { namespace: String, tenant: String },
    /// tenantguard's own fault (a mutation patch that does not apply).
    Internal(String),
}

impl CannotJudge {
    /// The field path the cause is about, where there is one (dotted, as
    /// violation paths are); empty otherwise.
    pub fn path(&self) -> &'static str {
        match self {
            CannotJudge::MalformedTenantLabel {
                field: "object", ..
            } => "metadata.labels.tenantguard.io/tenant",
            _ => "",
        }
    }

    /// The namespace to look up at the source before judging once more,
    /// for the causes a fresher view of the cluster may clear.
    pub fn retry_namespace(&self) -> Option<&str> {
        match self {
            CannotJudge::UnknownNamespace(ns) => Some(ns),
            CannotJudge::NotOnboarded { namespace, .. } => Some(namespace),
            _ => None,
        }
    }
}

impl fmt::Display for CannotJudge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CannotJudge::Review(reason) => f.write_str(reason),
            CannotJudge::NoObject(op) => write!(
                f,
                "the {} request carries no object; tenantguard cannot judge it",
                op.as_str()
            ),
            CannotJudge::ObjectNotAnObject => {
                f.write_str("request.object is not a JSON object; tenantguard cannot judge it")
            }
            CannotJudge::MalformedTenantLabel { field, value } => write!(
                f,
                "request.{field}.metadata.labels[\"{TENANT_LABEL}\"] is {value}, not a string; tenantguard cannot judge it (label values are strings: set it to a tenant's name or remove it)"
            ),
            CannotJudge::Unsent(u) => write!(f, "{u}; tenantguard cannot judge it"),
            CannotJudge::UnknownNamespace(ns) => write!(
                f,
                "namespace {ns:?} is not known to tenantguard yet, so its tenant cannot be determined; retry in a moment"
            ),
            CannotJudge::NotOnboarded { namespace, tenant } => write!(
                f,
                "namespace {namespace:?} of tenant {tenant:?} is not onboarded yet: no pod may start before its isolation NetworkPolicy and quota exist (the onboarding controller sets the {} annotation once they do); retry in a moment",
                crate::ONBOARDED_ANNOTATION
            ),
            CannotJudge::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}
