//! `namespace-metadata` (validating): the labels and annotations of a tenant
//! namespace that decide its security are not the tenant's to edit. A tenant
//! owner who could set `pod-security.kubernetes.io/enforce: privileged` would
//! switch the built-in Pod Security admission off for the namespace; one who
//! could edit a label a platform NetworkPolicy selects on would open it.
//!
//! Protected keys of a tenant namespace (one whose tenant label is set in the
//! object or, on UPDATE, in the oldObject), labels and annotations alike:
//! - every key under `pod-security.kubernetes.io/` and `tenantguard.io/`;
//! - the keys of the Tenant's `namespaceLabels` (labels);
//! - Settings `protectedNamespaceKeys`: exact keys, or prefixes ending in `/`.
//!
//! A platform namespace's `tenantguard.io/` keys are protected too: the
//! onboarding mark `tenantguard.io/onboarded` put on one in advance would
//! open the onboarding gate the moment an admin hands it to a tenant.
//!
//! - UPDATE: adding, changing or removing a protected key is refused, through
//!   the `namespaces/status` and `namespaces/finalize` subresources too (the
//!   apiserver keeps the metadata they carry).
//! - CREATE: a protected key may only carry the value tenantguard itself
//!   injects (`namespace-labels`): `enforce` the tenant's `podSecurity`
//!   level, `enforce-version` `latest`, a `namespaceLabels` key its value.
//!   Every other protected key must be absent (the `audit` and `warn` PSA
//!   labels too: only the platform decides what the namespace reports).
//!
//! Settings admins and tenantguard's own service account (it sets
//! `tenantguard.io/onboarded` once a namespace's baseline objects exist) are
//! not judged. Exempt namespaces are not either: their other labels stay
//! free (DESIGN, Tenancy model).
//!
//! The tenant label itself is `namespace-ownership`'s: who may hand a
//! namespace to which tenant is its question, and one change is reported
//! once, under that id. `kubernetes.io/metadata.name` is the apiserver's.
//! Reference: <https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces>.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::namespace_labels::{psa_labels, PSA_PREFIX};
use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::tenancy::TenantRef;
use crate::tenant_label::{of_object as tenant_label, TenantLabel};
use crate::{NAME_LABEL, TENANT_LABEL};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `namespace-metadata`.
pub struct NamespaceMetadata;

impl Rule for NamespaceMetadata {
    const ID: &'static str = "namespace-metadata";
    const SCOPE: Scope = Scope::Namespaces;
    /// Labels and annotations are written on CREATE and UPDATE; deleting a
    /// namespace is namespace-ownership's question.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// Namespace objects themselves.
    const KINDS: Kinds = Kinds::Only(&[GroupKind::new("", "Namespace")]);
    /// Labels and annotations sent through `namespaces/status` or
    /// `namespaces/finalize` are kept by the apiserver, as namespace-ownership
    /// says.
    const SUBRESOURCES: &'static [&'static str] = super::namespace_ownership::NAMESPACE_WRITES;
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// The prefix of keys only tenantguard writes.
pub const TENANTGUARD_PREFIX: &str = "tenantguard.io/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Labels,
    Annotations,
}

impl Section {
    fn field(self) -> &'static str {
        match self {
            Section::Labels => "labels",
            Section::Annotations => "annotations",
        }
    }
}

/// What protects the keys of one namespace.
struct Protection<'a> {
    /// The tenants the namespace belongs to (old and new label), if any.
    tenants: Vec<TenantRef<'a>>,
    settings_keys: &'a [String],
}

impl Protection<'_> {
    /// Why `key` is protected, or None when it is free.
    fn why(&self, section: Section, key: &str) -> Option<String> {
        if section == Section::Labels && (key == TENANT_LABEL || key == NAME_LABEL) {
            return None;
        }
        if key.starts_with(TENANTGUARD_PREFIX) {
            return Some("tenantguard's own key".to_string());
        }
        if self.tenants.is_empty() {
            return None;
        }
        if key.starts_with(PSA_PREFIX) {
            return Some("it sets what the built-in Pod Security admission enforces".to_string());
        }
        if section == Section::Labels {
            for t in &self.tenants {
                if t.namespace_labels().is_some_and(|l| l.contains_key(key)) {
                    return Some(format!("a namespaceLabels key of tenant {}", t.name));
                }
            }
        }
        let listed = self
            .settings_keys
            .iter()
            .any(|p| p == key || (p.ends_with('/') && key.starts_with(p.as_str())));
        listed.then(|| "listed in the Settings' protectedNamespaceKeys".to_string())
    }

    /// The value tenantguard injects for `key` on CREATE, if any.
    fn injected(&self, section: Section, key: &str) -> Option<String> {
        if section != Section::Labels {
            return None;
        }
        let t = self.tenants.first()?;
        if key.starts_with(PSA_PREFIX) {
            return psa_labels(t.pod_security())
                .into_iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string());
        }
        t.namespace_labels()?.get(key).cloned()
    }
}

/// `labels` or `annotations` of a Namespace object: empty when absent; an
/// error (the path) when not a map.
fn section(obj: Option<&Value>, s: Section) -> Result<Option<&Map<String, Value>>, String> {
    match obj
        .and_then(|o| o.get("metadata"))
        .and_then(|m| m.get(s.field()))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("metadata.{}", s.field())),
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "unset".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    }
}

fn which(ctx: &Ctx<'_>) -> String {
    if ctx.namespace.is_empty() {
        "namespace".to_string()
    } else {
        format!("namespace {:?}", ctx.namespace)
    }
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    if !(ctx.group.is_empty() && ctx.kind == "Namespace")
        || ctx.is_exempt_namespace()
        || ctx.is_admin()
        || ctx.is_tenantguard()
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    if ctx.operation == Operation::Update && ctx.old_object.is_none() {
        out.push(Violation::new(
            "metadata",
            format!(
                "{}: the UPDATE carries no oldObject, so tenantguard cannot tell whether a protected label or annotation changed; only platform admins may send it",
                which(ctx)
            ),
        ));
        return out;
    }
    if !matches!(ctx.operation, Operation::Create | Operation::Update) {
        return out;
    }
    let mut names: Vec<&str> = Vec::new();
    for obj in [ctx.object, ctx.old_object] {
        if let TenantLabel::Tenant(t) = tenant_label(obj) {
            if !names.contains(&t) {
                names.push(t);
            }
        }
    }
    let protection = Protection {
        tenants: names
            .into_iter()
            .map(|t| ctx.inventory.tenant(t, ctx.settings))
            .collect(),
        settings_keys: &ctx.settings.protected_namespace_keys,
    };
    for s in [Section::Labels, Section::Annotations] {
        let (new, old) = match (section(ctx.object, s), section(ctx.old_object, s)) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(path), _) | (_, Err(path)) => {
                out.push(Violation::new(
                    path.clone(),
                    format!("{}: {path} is not a map, so its protected keys cannot be judged; fix its structure", which(ctx)),
                ));
                continue;
            }
        };
        match ctx.operation {
            Operation::Create => judge_create(ctx, &protection, s, new, &mut out),
            _ => judge_update(ctx, &protection, s, new, old, &mut out),
        }
    }
    out
}

fn judge_create(
    ctx: &Ctx<'_>,
    p: &Protection<'_>,
    s: Section,
    new: Option<&Map<String, Value>>,
    out: &mut Vec<Violation>,
) {
    for (key, v) in new.into_iter().flatten() {
        let Some(why) = p.why(s, key) else {
            continue;
        };
        let path = format!("metadata.{}.{key}", s.field());
        let message = match p.injected(s, key) {
            Some(want) if v.as_str() == Some(want.as_str()) => continue,
            Some(want) => format!(
                "{}: {key} is protected ({why}); it may only be {want:?}, the value tenantguard sets for tenant {}, and it is {}; set it to {want:?} or leave it out",
                which(ctx),
                p.tenants.first().map_or("", |t| t.name),
                show(Some(v)),
            ),
            None => format!(
                "{}: {key} is protected ({why}); only platform admins and tenantguard set it; leave it out",
                which(ctx)
            ),
        };
        out.push(Violation::new(path, message));
    }
}

fn judge_update(
    ctx: &Ctx<'_>,
    p: &Protection<'_>,
    s: Section,
    new: Option<&Map<String, Value>>,
    old: Option<&Map<String, Value>>,
    out: &mut Vec<Violation>,
) {
    let mut keys: Vec<&String> = new.into_iter().flatten().map(|(k, _)| k).collect();
    keys.extend(old.into_iter().flatten().map(|(k, _)| k));
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let (n, o) = (new.and_then(|m| m.get(key)), old.and_then(|m| m.get(key)));
        if n == o {
            continue;
        }
        let Some(why) = p.why(s, key) else {
            continue;
        };
        let what = match (o, n) {
            (None, _) => "only platform admins may add it; leave it out".to_string(),
            (_, None) => format!(
                "only platform admins may remove it; put it back ({})",
                show(o)
            ),
            _ => format!(
                "only platform admins may change it from {} to {}; keep it {}",
                show(o),
                show(n),
                show(o)
            ),
        };
        out.push(Violation::new(
            format!("metadata.{}.{key}", s.field()),
            format!("{}: {key} is protected ({why}); {what}", which(ctx)),
        ));
    }
}

#[cfg(test)]
mod tests;
