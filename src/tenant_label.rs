//! The tenant label (`tenantguard.io/tenant`) of an object or a Namespace,
//! read one way everywhere: the engine, the rules, the inventory loaders,
//! the cluster cache and the onboarding controller all call this module, so
//! an edge case is decided once.
//!
//! Decisions:
//! - An empty value (`""`) is a missing label (DESIGN, "Labels"), and so is
//!   `null`: `tenant-labels` fills it in on Pods, Services and workloads, and
//!   no rule reads it as a claim on a tenant named "".
//! - A value that is not a string cannot come from the apiserver (labels are
//!   `map[string]string`; it rejects anything else before admission), so it
//!   can only be forged or offline input. It is never read as "no label"
//!   (that would make a namespace a platform one, where no rule applies):
//!   on a request's object the engine denies the request as unjudgeable,
//!   and an inventory file holding one fails to load.
//!
//! Reference: <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set>.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::TENANT_LABEL;

/// The tenant label as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantLabel<'a> {
    /// Absent, `null` or `""`.
    Absent,
    Tenant(&'a str),
    /// Not a string.
    Malformed(&'a Value),
}

impl<'a> TenantLabel<'a> {
    /// The tenant it names, if any (a malformed label names none).
    pub fn tenant(self) -> Option<&'a str> {
        match self {
            TenantLabel::Tenant(t) => Some(t),
            _ => None,
        }
    }
}

/// A label value as a tenant name: `""` names no tenant.
pub fn name(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// Reads the label's value (the entry of a labels map, if present).
pub fn from_value(value: Option<&Value>) -> TenantLabel<'_> {
    match value {
        None | Some(Value::Null) => TenantLabel::Absent,
        Some(Value::String(s)) => name(s).map_or(TenantLabel::Absent, TenantLabel::Tenant),
        Some(v) => TenantLabel::Malformed(v),
    }
}

/// Reads the label from a labels map (`metadata.labels`, a template's
/// labels, a selector's `matchLabels`); anything but a map has no label.
pub fn in_labels(labels: Option<&Value>) -> TenantLabel<'_> {
    from_value(labels.and_then(|l| l.get(TENANT_LABEL)))
}

/// Reads the label of an object (`metadata.labels`).
pub fn of_object(obj: Option<&Value>) -> TenantLabel<'_> {
    in_labels(
        obj.and_then(|o| o.get("metadata"))
            .and_then(|m| m.get("labels")),
    )
}

/// The tenant a typed labels map names (Kubernetes clients hand labels out
/// as `BTreeMap<String, String>`, where nothing is malformed).
pub fn in_map(labels: &BTreeMap<String, String>) -> Option<&str> {
    labels.get(TENANT_LABEL).and_then(|t| name(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cases() {
        let cases: Vec<(&str, Value, TenantLabel<'_>)> = vec![
            ("no metadata", json!({}), TenantLabel::Absent),
            ("no labels", json!({"metadata": {}}), TenantLabel::Absent),
            (
                "null labels",
                json!({"metadata": {"labels": null}}),
                TenantLabel::Absent,
            ),
            (
                "labels not a map",
                json!({"metadata": {"labels": ["x"]}}),
                TenantLabel::Absent,
            ),
            (
                "other labels only",
                json!({"metadata": {"labels": {"a": "b"}}}),
                TenantLabel::Absent,
            ),
            (
                "null value",
                json!({"metadata": {"labels": {TENANT_LABEL: null}}}),
                TenantLabel::Absent,
            ),
            (
                "empty value is missing",
                json!({"metadata": {"labels": {TENANT_LABEL: ""}}}),
                TenantLabel::Absent,
            ),
            (
                "a tenant",
                json!({"metadata": {"labels": {TENANT_LABEL: "acme"}}}),
                TenantLabel::Tenant("acme"),
            ),
            (
                "spaces are not trimmed",
                json!({"metadata": {"labels": {TENANT_LABEL: " "}}}),
                TenantLabel::Tenant(" "),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(of_object(Some(&obj)), want, "{name}");
        }
        for bad in [json!(5), json!(true), json!({"a": 1}), json!(["acme"])] {
            let obj = json!({"metadata": {"labels": {TENANT_LABEL: bad.clone()}}});
            assert_eq!(of_object(Some(&obj)), TenantLabel::Malformed(&bad), "{bad}");
            assert_eq!(of_object(Some(&obj)).tenant(), None);
        }
        assert_eq!(of_object(None), TenantLabel::Absent);
        let typed: BTreeMap<String, String> = [(TENANT_LABEL.to_string(), String::new())].into();
        assert_eq!(in_map(&typed), None, "typed maps follow the same rule");
        let typed: BTreeMap<String, String> = [(TENANT_LABEL.to_string(), "acme".into())].into();
        assert_eq!(in_map(&typed), Some("acme"));
    }
}
