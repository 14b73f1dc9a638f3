//! `namespace-ownership` (validating): who may create, relabel and delete a
//! tenant's Namespaces. The `tenantguard.io/tenant` label is the single
//! source of truth for tenancy, so whoever writes it decides which tenant's
//! NetworkPolicies, Vault paths and nodes the namespace's pods get.
//!
//! - CREATE: a namespace labelled for tenant `t` needs `t` declared (when any
//!   Tenant is declared, for everyone, admins included) and a requester who
//!   is a Settings admin or one of `t`'s owners. A namespace without the
//!   label is a platform namespace: only admins create those.
//!   With the Tenant's `maxNamespaces` set, a CREATE that would give the
//!   tenant more namespaces than that is denied, admins included (they
//!   raise the cap instead). Only CREATE counts: relabelling by an admin
//!   and namespaces that existed before the cap was lowered are left alone.
//! - UPDATE: only the tenant label is judged (the namespace controller and
//!   others update namespaces all the time). Changing, adding or removing it
//!   is for admins only, and only to a declared tenant. UPDATEs of the
//!   `namespaces/status` and `namespaces/finalize` subresources are judged
//!   the same: the apiserver keeps the labels they carry.
//! - DELETE: a tenant namespace may be deleted by its tenant's owners and by
//!   admins; a platform namespace is not this rule's concern.
//! - Exempt namespaces (the Settings' list and tenantguard's own): exemption
//!   covers the objects *in* them, never their own tenant label. Only admins
//!   put a tenant label on one, change or remove it, or delete one; every
//!   other label (and creating one without a tenant label) stays free. A
//!   tenant owner who labelled `tenantguard-system` would otherwise get
//!   `edit` there from the onboarding controller, and the isolation policy
//!   would cut the webhook off from the apiserver.
//! - Every other protected label and annotation (the Pod Security labels,
//!   `tenantguard.io/` keys such as the onboarding mark, `namespaceLabels`)
//!   is `namespace-metadata`'s.
//!
//! Owners count as [`crate::tenancy::Inventory::honours`] says: a
//! ServiceAccount owner only while its namespace is one of the tenant's, so
//! ownership can never be gained by creating or being handed that namespace.
//! Reference: <https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/>
//! and the admission request's `userInfo`:
//! <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request>.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::tenancy::{NamespaceTenancy, UnknownNamespaces};
use crate::tenant_label::{of_object as tenant_label, TenantLabel};
use crate::TENANT_LABEL;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `namespace-ownership`.
pub struct NamespaceOwnership;

impl Rule for NamespaceOwnership {
    const ID: &'static str = "namespace-ownership";
    const SCOPE: Scope = Scope::Namespaces;
    /// Who may create, relabel and delete a tenant's namespaces.
    const OPERATIONS: &'static [Operation] =
        &[Operation::Create, Operation::Update, Operation::Delete];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(&[GroupKind::new("", "Namespace")]);
    /// The apiserver keeps the labels of a `namespaces/status` or
    /// `namespaces/finalize` UPDATE (their strategies only put back `spec`
    /// or `status`), so a relabel sent through either is a relabel.
    const SUBRESOURCES: &'static [&'static str] = NAMESPACE_WRITES;
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// The Namespace subresources whose UPDATEs can change its labels and
/// annotations: the apiserver resets only `spec` (status) or `status`
/// (finalize) of what they send, never `metadata`.
pub(crate) const NAMESPACE_WRITES: &[&str] = &["status", "finalize"];

/// Where violations about the tenant label point.
const LABEL_PATH: &str = "metadata.labels.tenantguard.io/tenant";

/// At most this many tenant names in one message (clusters hold thousands).
const MAX_NAMES: usize = 10;

/// Whether the requester is one of `tenant`'s owners (that count).
pub(crate) fn owns(ctx: &Ctx<'_>, tenant: &str) -> bool {
    ctx.inventory
        .is_owner(tenant, &ctx.user.username, &ctx.user.groups)
}

/// The tenants the requester owns, sorted (the inventory's order is not stable).
pub(crate) fn owned_tenants<'a>(ctx: &Ctx<'a>) -> Vec<&'a str> {
    let mut owned: Vec<&'a str> = ctx
        .inventory
        .owned_tenants(&ctx.user.username, &ctx.user.groups)
        .collect();
    owned.sort_unstable();
    owned.dedup();
    owned
}

/// `a, b, c` (and how many more, past [`MAX_NAMES`]).
fn name_list(mut names: Vec<&str>) -> String {
    names.sort_unstable();
    let more = names.len().saturating_sub(MAX_NAMES);
    let mut out = names
        .iter()
        .take(MAX_NAMES)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

/// `namespace "x"` for messages (a CREATE may only carry `generateName`).
fn which(ctx: &Ctx<'_>) -> String {
    if !ctx.namespace.is_empty() {
        return format!("namespace {:?}", ctx.namespace);
    }
    match ctx
        .object
        .and_then(|o| o.pointer("/metadata/generateName"))
        .and_then(Value::as_str)
    {
        Some(g) if !g.is_empty() => format!("namespace (generateName {g:?})"),
        _ => "namespace".to_string(),
    }
}

fn requester(ctx: &Ctx<'_>) -> String {
    format!("{:?}", ctx.user.username)
}

/// The violation for a tenant that does not exist while tenants are declared.
fn undeclared(ctx: &Ctx<'_>, tenant: &str) -> Violation {
    Violation::new(
        LABEL_PATH,
        format!(
            "{}: tenant {tenant:?} is not declared; declared tenants: {}. Set {TENANT_LABEL} to one of them, or declare a Tenant named {tenant:?} first",
            which(ctx),
            name_list(ctx.inventory.tenant_names().collect()),
        ),
    )
}

fn malformed(ctx: &Ctx<'_>, v: &Value) -> Violation {
    Violation::new(
        LABEL_PATH,
        format!(
            "{}: {TENANT_LABEL} is {v}, not a string; set it to the name of a tenant",
            which(ctx)
        ),
    )
}

/// Whether `tenant` may be named at all: declared, or no tenant is declared.
fn nameable(ctx: &Ctx<'_>, tenant: &str) -> bool {
    !ctx.inventory.tenants_declared() || ctx.inventory.is_declared(tenant)
}

/// What a non-admin can do instead, from the tenants they own; `unlabelled`:
/// the namespace names no tenant yet.
fn own_hint(ctx: &Ctx<'_>, unlabelled: bool) -> String {
    let who = requester(ctx);
    match owned_tenants(ctx).as_slice() {
        [] => format!("{who} owns no tenant: ask a platform admin to create it"),
        [one] => format!("set {TENANT_LABEL}: {one} (the tenant {who} owns)"),
        many if unlabelled => format!(
            "{who} owns several tenants ({}): set {TENANT_LABEL} to the one this namespace is for",
            name_list(many.to_vec())
        ),
        many => format!(
            "set {TENANT_LABEL} to a tenant {who} owns ({})",
            name_list(many.to_vec())
        ),
    }
}

fn judge_create(ctx: &Ctx<'_>) -> Option<Violation> {
    match tenant_label(ctx.object) {
        TenantLabel::Malformed(v) => Some(malformed(ctx, v)),
        TenantLabel::Tenant(t) if !nameable(ctx, t) => Some(undeclared(ctx, t)),
        TenantLabel::Tenant(t) if ctx.is_admin() || owns(ctx, t) => over_cap(ctx, t),
        TenantLabel::Tenant(t) => Some(Violation::new(
            LABEL_PATH,
            format!(
                "{}: labelled for tenant {t:?}, which {} does not own; {}",
                which(ctx),
                requester(ctx),
                own_hint(ctx, false),
            ),
        )),
        TenantLabel::Absent if ctx.is_admin() => None,
        TenantLabel::Absent => Some(Violation::new(
            LABEL_PATH,
            format!(
                "{}: has no {TENANT_LABEL} label, which would make it a platform namespace, and only platform admins create those; {}",
                which(ctx),
                own_hint(ctx, true),
            ),
        )),
    }
}

/// `maxNamespaces`: a new namespace for `tenant` when the tenant already
/// has that many. The count is the inventory's (the Namespace cache in a
/// cluster; `--inventory` and the input offline) less the namespace itself
/// when it is already known under that tenant (offline, an input Namespace
/// is both context and the object judged). Admins are held to it as well:
/// the cap is the tenant's budget, and an admin raises it instead. In a
/// cluster the count is the Namespace cache's, which may lag the apiserver
/// by a moment: namespaces created for the same tenant at the same instant
/// can each see the count before the others (the cap is a budget, not a
/// lock).
fn over_cap(ctx: &Ctx<'_>, tenant: &str) -> Option<Violation> {
    let cap = ctx
        .inventory
        .tenant(tenant, ctx.settings)
        .max_namespaces()?;
    let itself =
        !ctx.namespace.is_empty() && ctx.inventory.tenant_of(ctx.namespace) == Some(tenant);
    let count = ctx
        .inventory
        .tenant_namespace_count(tenant)
        .saturating_sub(usize::from(itself));
    if count < cap as usize {
        return None;
    }
    Some(Violation::new(
        LABEL_PATH,
        format!(
            "{}: tenant {tenant:?} already has {count} namespace{} and its maxNamespaces is {cap}; delete one of its namespaces first, or have a platform admin raise spec.maxNamespaces of Tenant {tenant:?}",
            which(ctx),
            if count == 1 { "" } else { "s" },
        ),
    ))
}

fn show(label: TenantLabel<'_>) -> String {
    match label {
        TenantLabel::Absent => "none".to_string(),
        TenantLabel::Tenant(t) => format!("{t:?}"),
        TenantLabel::Malformed(v) => v.to_string(),
    }
}

fn judge_update(ctx: &Ctx<'_>) -> Option<Violation> {
    let new = tenant_label(ctx.object);
    let Some(old_obj) = ctx.old_object else {
        // The apiserver always sends oldObject on UPDATE; without it a change
        // of tenant cannot be ruled out, so only an admin's request, judged on
        // the new label alone, is admitted.
        if !ctx.is_admin() {
            return Some(Violation::new(
                LABEL_PATH,
                format!(
                    "{}: the UPDATE carries no oldObject, so tenantguard cannot tell whether {TENANT_LABEL} changed; only platform admins may send it",
                    which(ctx)
                ),
            ));
        }
        return judge_new_label(ctx, new);
    };
    let old = tenant_label(Some(old_obj));
    if old == new {
        return None;
    }
    if ctx.is_admin() {
        return judge_new_label(ctx, new);
    }
    let what = match (old, new) {
        (TenantLabel::Absent, _) => format!(
            "cannot be added ({}) to a platform namespace: only platform admins hand a namespace to a tenant; remove the label",
            show(new)
        ),
        (_, TenantLabel::Absent) => format!(
            "cannot be removed (it is {}): only platform admins turn a tenant namespace into a platform namespace; put it back",
            show(old),
        ),
        _ => format!(
            "cannot be changed from {} to {}: only platform admins move a namespace between tenants; keep it {}",
            show(old),
            show(new),
            show(old),
        ),
    };
    Some(Violation::new(
        LABEL_PATH,
        format!("{}: {TENANT_LABEL} {what}", which(ctx)),
    ))
}

/// An admin's new label: a declared tenant (when any is declared) or none.
fn judge_new_label(ctx: &Ctx<'_>, new: TenantLabel<'_>) -> Option<Violation> {
    match new {
        TenantLabel::Malformed(v) => Some(malformed(ctx, v)),
        TenantLabel::Tenant(t) if !nameable(ctx, t) => Some(undeclared(ctx, t)),
        _ => None,
    }
}

fn judge_delete(ctx: &Ctx<'_>) -> Option<Violation> {
    let tenant = match ctx.old_object {
        Some(old) => match tenant_label(Some(old)) {
            TenantLabel::Tenant(t) => t,
            // The engine treats both as platform namespaces.
            TenantLabel::Absent | TenantLabel::Malformed(_) => return None,
        },
        // No oldObject: fall back on what the inventory knows of the namespace.
        None => match ctx.inventory.namespace(ctx.namespace) {
            NamespaceTenancy::Tenant(t) => t,
            NamespaceTenancy::Platform => return None,
            NamespaceTenancy::Unknown => {
                if ctx.inventory.unknown == UnknownNamespaces::Deny && !ctx.is_admin() {
                    return Some(Violation::new(
                        "metadata",
                        format!(
                            "{}: the DELETE carries no oldObject and tenantguard does not know the namespace yet, so it cannot tell whose it is; retry in a moment",
                            which(ctx)
                        ),
                    ));
                }
                return None;
            }
        },
    };
    if ctx.is_admin() || owns(ctx, tenant) {
        return None;
    }
    Some(Violation::new(
        "metadata",
        format!(
            "{}: belongs to tenant {tenant:?}, which {} does not own; only its owners and platform admins may delete it",
            which(ctx),
            requester(ctx),
        ),
    ))
}

/// An exempt namespace: only admins add, change or remove its tenant label
/// or delete it (and an admin's label still names a declared tenant).
fn judge_exempt(ctx: &Ctx<'_>) -> Option<Violation> {
    let new = tenant_label(ctx.object);
    let old = ctx.old_object.map(|o| tenant_label(Some(o)));
    let changed = match ctx.operation {
        Operation::Create => new != TenantLabel::Absent,
        Operation::Update => old != Some(new),
        Operation::Delete | Operation::Connect => false,
    };
    let exempt = format!(
        "{} is exempt (tenantguard never judges the objects in it)",
        which(ctx)
    );
    if ctx.is_admin() {
        return changed.then(|| judge_new_label(ctx, new)).flatten();
    }
    match ctx.operation {
        Operation::Delete => Some(Violation::new(
            "metadata",
            format!(
                "{exempt}: only platform admins may delete it, and {} is not one",
                requester(ctx)
            ),
        )),
        _ if changed => Some(Violation::new(
            LABEL_PATH,
            format!(
                "{exempt}: only platform admins may add, change or remove its {TENANT_LABEL} label (a tenant label would hand it, and what runs in it, to that tenant); {}",
                match old {
                    Some(TenantLabel::Tenant(t)) => format!("keep it {t:?}"),
                    Some(TenantLabel::Malformed(v)) => format!("keep it {v}"),
                    _ => "remove it".to_string(),
                }
            ),
        )),
        _ => None,
    }
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    if !(ctx.group.is_empty() && ctx.kind == "Namespace") {
        return Vec::new();
    }
    if ctx.is_exempt_namespace() {
        return judge_exempt(ctx).into_iter().collect();
    }
    let found = match ctx.operation {
        Operation::Create => judge_create(ctx),
        Operation::Update => judge_update(ctx),
        Operation::Delete => judge_delete(ctx),
        Operation::Connect => None,
    };
    found.into_iter().collect()
}

#[cfg(test)]
mod tests;
