//! `quota.scope: Tenant`: one `quota.hard` shared by all of a tenant's
//! namespaces. Pure: the controller lists the tenant's ResourceQuotas and
//! hands their `status.used` here; what comes back is each namespace's
//! `hard` and the tenant-wide figures for the status and the metrics.
//!
//! Per resource of the tenant's `hard`: a namespace's share is its own
//! `used` plus what the tenant has left, `hard − Σ used` over its
//! namespaces (never below zero, so a share is never below the namespace's
//! own use). The ResourceQuota admission of each namespace then refuses
//! what would take that namespace past its share.
//!
//! The window: quota admission is per namespace. Two namespaces that each
//! take the whole remainder before the next reconcile both get it, so the
//! tenant can overshoot by at most (namespaces − 1) × the remainder at that
//! moment. The next reconcile, triggered by the change of `status.used`,
//! lowers every other namespace's `hard` to its own `used`: nothing new is
//! admitted anywhere until the tenant is back under its budget.
//!
//! Arithmetic is exact ([`crate::quantity`]), never floating point.

use std::collections::BTreeMap;

use crate::quantity::Quantity;

/// The tenant-wide budget: `hard`, the sum of `used`, and each namespace's
/// own `used`, per resource of `hard`.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub hard: BTreeMap<String, Quantity>,
    pub used: BTreeMap<String, Quantity>,
    /// Namespace -> its own `used` (resources of `hard` only).
    pub by_namespace: BTreeMap<String, BTreeMap<String, Quantity>>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    #[error("quota.hard.{resource}: {message}; fix the Tenant, or tenantDefaults in the Settings")]
    Hard { resource: String, message: String },
    #[error("ResourceQuota tenantguard-quota in namespace {namespace:?}: status.used.{resource}: {message}")]
    Used {
        namespace: String,
        resource: String,
        message: String,
    },
    #[error("quota.hard.{resource}: the sum of its namespaces' use cannot be computed exactly (values too far apart in scale)")]
    Range { resource: String },
}

impl Budget {
    /// `hard`: the tenant's `quota.hard`; `used`: namespace -> its
    /// ResourceQuota's `status.used` (a namespace whose quota has no
    /// status yet uses nothing). Resources outside `hard` are ignored.
    pub fn new(
        hard: &BTreeMap<String, String>,
        used: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Budget, BudgetError> {
        let hard: BTreeMap<String, Quantity> = hard
            .iter()
            .map(|(r, v)| {
                v.parse::<Quantity>()
                    .map(|q| (r.clone(), q))
                    .map_err(|e| BudgetError::Hard {
                        resource: r.clone(),
                        message: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        let mut by_namespace = BTreeMap::new();
        let mut total: BTreeMap<String, Quantity> = hard
            .keys()
            .map(|r| (r.clone(), Quantity::zero_value()))
            .collect();
        for (ns, map) in used {
            let mut own = BTreeMap::new();
            for (r, v) in map.iter().filter(|(r, _)| hard.contains_key(*r)) {
                let q = v.parse::<Quantity>().map_err(|e| BudgetError::Used {
                    namespace: ns.clone(),
                    resource: r.clone(),
                    message: e.to_string(),
                })?;
                let sum = total
                    .get(r)
                    .and_then(|t| t.checked_add(&q))
                    .ok_or_else(|| BudgetError::Range {
                        resource: r.clone(),
                    })?;
                total.insert(r.clone(), sum);
                own.insert(r.clone(), q);
            }
            by_namespace.insert(ns.clone(), own);
        }
        Ok(Budget {
            hard,
            used: total,
            by_namespace,
        })
    }

    /// What the tenant has left of `resource`: `hard − Σ used`, at least zero.
    pub fn left(&self, resource: &str) -> Result<Quantity, BudgetError> {
        let zero = Quantity::zero_value();
        let hard = self.hard.get(resource).unwrap_or(&zero);
        let used = self.used.get(resource).unwrap_or(&zero);
        let left = hard.checked_sub(used).ok_or_else(|| BudgetError::Range {
            resource: resource.to_string(),
        })?;
        Ok(if left.is_negative() { zero } else { left })
    }

    /// The `hard` of `namespace`'s ResourceQuota: per resource, its own
    /// `used` plus what the tenant has left.
    pub fn share(&self, namespace: &str) -> Result<BTreeMap<String, Quantity>, BudgetError> {
        let none = BTreeMap::new();
        let own = self.by_namespace.get(namespace).unwrap_or(&none);
        self.hard
            .keys()
            .map(|r| {
                let zero = Quantity::zero_value();
                let mine = own.get(r).unwrap_or(&zero);
                let share = mine
                    .checked_add(&self.left(r)?)
                    .ok_or_else(|| BudgetError::Range {
                        resource: r.clone(),
                    })?;
                Ok((r.clone(), share))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn texts(m: &BTreeMap<String, Quantity>) -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
    }

    fn used(per: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, String>> {
        per.iter().map(|(ns, m)| (ns.to_string(), map(m))).collect()
    }

    #[test]
    fn three_namespaces_share_one_budget() {
        let hard = map(&[
            ("requests.cpu", "4"),
            ("requests.memory", "8Gi"),
            ("pods", "10"),
        ]);
        // Nothing used yet: each namespace may take all of it.
        let b = Budget::new(&hard, &used(&[("a", &[]), ("b", &[]), ("c", &[])])).unwrap();
        for ns in ["a", "b", "c", "unknown"] {
            assert_eq!(
                texts(&b.share(ns).unwrap()),
                map(&[
                    ("pods", "10"),
                    ("requests.cpu", "4"),
                    ("requests.memory", "8Gi")
                ]),
                "{ns}"
            );
        }
        // a uses 1500m and 3Gi, b 500m: 2 cpu and 5Gi left.
        let b = Budget::new(
            &hard,
            &used(&[
                (
                    "a",
                    &[
                        ("requests.cpu", "1500m"),
                        ("requests.memory", "3Gi"),
                        ("pods", "3"),
                        ("services", "9"),
                    ],
                ),
                (
                    "b",
                    &[
                        ("requests.cpu", "500m"),
                        ("requests.memory", "0"),
                        ("pods", "1"),
                    ],
                ),
                ("c", &[]),
            ]),
        )
        .unwrap();
        assert_eq!(
            texts(&b.used),
            map(&[
                ("pods", "4"),
                ("requests.cpu", "2"),
                ("requests.memory", "3Gi")
            ])
        );
        assert_eq!(
            texts(&b.share("a").unwrap()),
            map(&[
                ("pods", "9"),
                ("requests.cpu", "3500m"),
                ("requests.memory", "8Gi")
            ])
        );
        assert_eq!(
            texts(&b.share("b").unwrap()),
            map(&[
                ("pods", "7"),
                ("requests.cpu", "2500m"),
                ("requests.memory", "5Gi")
            ])
        );
        assert_eq!(
            texts(&b.share("c").unwrap()),
            map(&[
                ("pods", "6"),
                ("requests.cpu", "2"),
                ("requests.memory", "5Gi")
            ])
        );
    }

    #[test]
    fn overshoot_never_lowers_a_share_below_its_own_use() {
        let hard = map(&[("requests.cpu", "4")]);
        // a and b both took the 3 left at once: 6 of 4 used.
        let b = Budget::new(
            &hard,
            &used(&[
                ("a", &[("requests.cpu", "3")]),
                ("b", &[("requests.cpu", "3")]),
                ("c", &[]),
            ]),
        )
        .unwrap();
        assert_eq!(b.left("requests.cpu").unwrap(), Quantity::zero_value());
        assert_eq!(texts(&b.share("a").unwrap()), map(&[("requests.cpu", "3")]));
        assert_eq!(texts(&b.share("c").unwrap()), map(&[("requests.cpu", "0")]));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Budget::new(&map(&[("cpu", "lots")]), &BTreeMap::new()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("quota.hard.cpu: \"lots\" is not a Kubernetes quantity"),
            "{e}"
        );
        let e = Budget::new(&map(&[("cpu", "1")]), &used(&[("a", &[("cpu", "x")])])).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "ResourceQuota tenantguard-quota in namespace \"a\": status.used.cpu:"
            ),
            "{e}"
        );
        // Unreadable usage outside hard is not read at all.
        assert!(Budget::new(&map(&[("cpu", "1")]), &used(&[("a", &[("pods", "x")])])).is_ok());
        let e = Budget::new(
            &map(&[("cpu", "1e100000")]),
            &used(&[("a", &[("cpu", "1m")])]),
        )
        .unwrap()
        .share("a")
        .unwrap_err();
        assert_eq!(
            e,
            BudgetError::Range {
                resource: "cpu".into()
            }
        );
    }
}
