//! The audit of what already exists (DESIGN, "Audit of what already
//! exists"): objects judged as they stand, with the validating rules only.
//!
//! - `tenantguard audit -f PATH|- | --cluster` (`commands::audit`) reports like
//!   `check`, with the same flags, JSON and exit codes (`patch` is always
//!   `[]`: nothing is mutated).
//! - [`report`] turns the verdicts on one namespace's objects into its
//!   `PolicyReport`.
//!
//! How an object is judged: as the `CREATE` of the object as it stands
//! (it carries every field it has; there is no old object to compare
//! with), through the engine's validation ([`Engine::validate`]), with the
//! mutating rules left out and the rules that judge *who* writes rather
//! than *what* is written skipped ([`SKIPPED_RULES`]): after the fact the
//! writer is unknown. The requester is no admin and no one in particular
//! (`--as`/`--as-group` name one, for policy exclusions by user or group).
//! Exclusions by namespace apply as they do in admission.

pub mod events;
pub mod kinds;
pub mod metrics;
pub mod report;

use crate::check::{self, InputObject, Report};
use crate::engine::{Engine, Outcome, Request};
use crate::policy::rules::{RuleId, User};
use crate::tenancy::Inventory;

/// Rules an audit never runs, by id: they judge the requester (who may
/// create, relabel or change an object), and after the fact there is none.
/// By id so a rule added later under one of these names is skipped too.
pub const SKIPPED_RULES: &[&str] = &[
    "namespace-ownership",
    "namespace-metadata",
    "managed-objects",
];

/// The requester an audit judges as when no `--as` is given: no admin, in
/// no group but the one every authenticated user has.
pub const AUDITOR: &str = "tenantguard:audit";

/// Whether the audit runs `rule`: validating, and not requester-dependent.
pub fn is_judged(rule: RuleId) -> bool {
    !rule.is_mutating() && !SKIPPED_RULES.contains(&rule.as_str())
}

/// `full` with only the rules the audit runs.
pub fn engine(full: &Engine) -> Engine {
    let mut policies = full.policies.clone();
    policies.policies.retain(|p| is_judged(p.rule));
    Engine::new(policies, full.identity.clone())
}

/// The requester: `--as`/`--as-group`, or [`AUDITOR`].
pub fn auditor(as_user: Option<&str>, as_groups: &[String]) -> User {
    let mut groups = as_groups.to_vec();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_string());
    }
    User {
        username: as_user.unwrap_or(AUDITOR).to_string(),
        groups,
    }
}

/// The verdict on one object as it stands. `engine` is an audit engine
/// ([`engine`]); `inv` must not gate Pods on onboarding (an existing Pod
/// is judged, not held back).
pub fn judge(engine: &Engine, req: &Request, inv: &Inventory) -> Outcome {
    engine.validate(req, inv)
}

/// Judges every object of the input, in input order: `check`'s report,
/// from the validating rules alone. Namespaces in the input count with the
/// labels they have (nothing mutates them); Ingresses and routes in the
/// input claim their hosts, so two tenants' objects on one host collide.
pub fn run(
    audit_engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    default_namespace: &str,
    user: &User,
) -> Report {
    let mut inv = inv.clone();
    check::absorb_claims(audit_engine, &mut inv, objects, default_namespace);
    check::report(
        audit_engine,
        &inv,
        objects,
        default_namespace,
        user,
        |req, inv| judge(audit_engine, req, inv),
    )
}

#[cfg(test)]
mod tests;
