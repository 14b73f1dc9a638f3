//! The status a Tenant shows (`kubectl get tenants`: READY, NAMESPACES):
//! computed, purely, from whether the Tenant object is valid, which
//! namespaces carry its label and how each one's last reconcile went.
//!
//! Ready is `True` only when the spec is valid and the baseline is applied
//! in every namespace. Otherwise the reason says which of `InvalidSpec`
//! (first: nothing else matters until it is fixed), `InvalidOwners` (a
//! ServiceAccount owner outside the tenant's namespaces: the Tenant is
//! invalid, and that owner is not honoured while it is), `ReconcileFailed`
//! (with `lastError` naming the namespace) or `Reconciling` holds.
//! `lastTransitionTime` moves only when Ready's status changes.
//!
//! Reference: <https://kubernetes.io/docs/reference/using-api/api-concepts/> and the
//! API conventions on conditions:
//! <https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties>.

use std::collections::HashMap;

use crate::policy::{Condition, TenantStatus};

/// At most this many namespace names in a Tenant's status (the count is exact).
pub const STATUS_NAMESPACES_MAX: usize = 256;

/// What the status of one Tenant is computed from.
#[derive(Debug, Clone, Copy)]
pub struct StatusInput<'a> {
    /// Why the Tenant object is invalid, if it is.
    pub invalid: Option<&'a str>,
    /// Whether an earlier valid spec is still in force (only when invalid).
    pub last_valid_in_force: bool,
    /// Owners that do not count, one message each naming its field (see
    /// [`crate::tenancy::Inventory::owner_problems`]).
    pub owner_problems: &'a [String],
    /// The tenant's namespaces, sorted.
    pub namespaces: &'a [String],
    /// The last reconcile of each namespace; absent: not reconciled yet.
    pub results: &'a HashMap<String, Result<(), String>>,
}

/// The status the Tenant should show. `previous` keeps the Ready
/// condition's transition time when its status does not change; `now` is
/// an RFC 3339 time.
pub fn tenant_status(
    input: StatusInput<'_>,
    previous: Option<&TenantStatus>,
    now: &str,
) -> TenantStatus {
    let total = input.namespaces.len();
    let failed: Vec<(&String, &String)> = input
        .namespaces
        .iter()
        .filter_map(|ns| match input.results.get(ns) {
            Some(Err(e)) => Some((ns, e)),
            _ => None,
        })
        .collect();
    let pending = input
        .namespaces
        .iter()
        .filter(|ns| !input.results.contains_key(*ns))
        .count();
    let (ready, reason, message, last_error) = if let Some(why) = input.invalid {
        let keep = if input.last_valid_in_force {
            "the last valid spec stays in force"
        } else {
            "its namespaces get the Settings' defaults"
        };
        (
            "False",
            "InvalidSpec",
            format!("the Tenant is invalid: {why}; {keep} until it is fixed"),
            Some(why.to_string()),
        )
    } else if !input.owner_problems.is_empty() {
        let why = input.owner_problems.join("; ");
        (
            "False",
            "InvalidOwners",
            format!("the Tenant is invalid: {why}; the rest of the spec is in force"),
            Some(why),
        )
    } else if let Some((ns, err)) = failed.first() {
        (
            "False",
            "ReconcileFailed",
            format!(
                "the baseline failed in {} of {total} namespaces; retrying with backoff",
                failed.len()
            ),
            Some(format!("namespace {ns}: {err}")),
        )
    } else if pending > 0 {
        (
            "False",
            "Reconciling",
            format!("{pending} of {total} namespaces not reconciled yet"),
            None,
        )
    } else {
        (
            "True",
            "Reconciled",
            format!("the baseline is applied in all {total} namespaces"),
            None,
        )
    };
    let since = previous
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == ready)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    TenantStatus {
        conditions: vec![Condition {
            type_: "Ready".to_string(),
            status: ready.to_string(),
            reason: reason.to_string(),
            message,
            last_transition_time: Some(since),
        }],
        namespaces: input
            .namespaces
            .iter()
            .take(STATUS_NAMESPACES_MAX)
            .cloned()
            .collect(),
        namespace_count: total as i64,
        last_error,
        quota: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(pairs: &[(&str, Result<(), &str>)]) -> HashMap<String, Result<(), String>> {
        pairs
            .iter()
            .map(|(n, r)| (n.to_string(), r.map_err(str::to_string)))
            .collect()
    }

    #[test]
    fn status_cases() {
        let ns = vec!["acme-dev".to_string(), "acme-prod".to_string()];
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            HashMap<String, Result<(), String>>,
            &'a str,
            &'a str,
            Option<&'a str>,
        );
        let cases: [Case; 5] = [
            (
                "all applied",
                None,
                results(&[("acme-dev", Ok(())), ("acme-prod", Ok(()))]),
                "True",
                "Reconciled",
                None,
            ),
            (
                "one pending",
                None,
                results(&[("acme-dev", Ok(()))]),
                "False",
                "Reconciling",
                None,
            ),
            (
                "one failed",
                None,
                results(&[("acme-dev", Ok(())), ("acme-prod", Err("forbidden"))]),
                "False",
                "ReconcileFailed",
                Some("namespace acme-prod: forbidden"),
            ),
            (
                "invalid spec wins",
                Some("spec.quota.hard.cpu: bad"),
                results(&[("acme-dev", Ok(())), ("acme-prod", Ok(()))]),
                "False",
                "InvalidSpec",
                Some("spec.quota.hard.cpu: bad"),
            ),
            (
                "owner outside the tenant",
                None,
                results(&[("acme-dev", Ok(())), ("acme-prod", Ok(()))]),
                "False",
                "InvalidOwners",
                Some("spec.owners[1]: not honoured"),
            ),
        ];
        for (name, invalid, res, status, reason, error) in cases {
            let problems = if reason == "InvalidOwners" {
                vec!["spec.owners[1]: not honoured".to_string()]
            } else {
                vec![]
            };
            let s = tenant_status(
                StatusInput {
                    invalid,
                    last_valid_in_force: true,
                    owner_problems: &problems,
                    namespaces: &ns,
                    results: &res,
                },
                None,
                "2025-01-01T00:00:00Z",
            );
            let c = &s.conditions[0];
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                (status, reason),
                "{name}"
            );
            assert_eq!(s.last_error.as_deref(), error, "{name}");
            assert_eq!(s.namespace_count, 2, "{name}");
            assert_eq!(s.namespaces, ns, "{name}");
        }
    }

    #[test]
    fn transition_time_moves_only_when_ready_changes() {
        let ns = vec!["acme-prod".to_string()];
        let ok = results(&[("acme-prod", Ok(()))]);
        let input = StatusInput {
            invalid: None,
            last_valid_in_force: false,
            owner_problems: &[],
            namespaces: &ns,
            results: &ok,
        };
        let first = tenant_status(input, None, "T1");
        let same = tenant_status(input, Some(&first), "T2");
        assert_eq!(same, first);
        let failed = results(&[("acme-prod", Err("boom"))]);
        let flipped = tenant_status(
            StatusInput {
                results: &failed,
                ..input
            },
            Some(&first),
            "T3",
        );
        assert_eq!(
            flipped.conditions[0].last_transition_time.as_deref(),
            Some("T3")
        );
    }
}
