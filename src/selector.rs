//! Label-selector semantics (`matchLabels` and `matchExpressions`), pure and
//! tenant-agnostic: rules combine it with the tenancy view.
//!
//! Reference: <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors>.
//! A selector is a conjunction of requirements; `{}` selects everything. What
//! rules need is not only "does it match these labels" but "which values can
//! a key take in anything it matches", which [`LabelSelector::allowed_values`]
//! answers by reasoning over the requirements instead of comparing strings.

use std::collections::BTreeSet;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Operator,
    pub values: Vec<String>,
}

/// A parsed `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses a selector; the error says which part is malformed.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let mut requirements = Vec::new();
        match v {
            Value::Null => return Ok(Self::default()),
            Value::Object(_) => {}
            _ => return Err("a label selector must be an object".into()),
        }
        if let Some(ml) = v.get("matchLabels").filter(|m| !m.is_null()) {
            let map = ml.as_object().ok_or("matchLabels must be a map")?;
            for (k, val) in map {
                let s = val
                    .as_str()
                    .ok_or_else(|| format!("matchLabels.{k} must be a string"))?;
                requirements.push(Requirement {
                    key: k.clone(),
                    op: Operator::In,
                    values: vec![s.to_string()],
                });
            }
        }
        if let Some(me) = v.get("matchExpressions").filter(|m| !m.is_null()) {
            let list = me.as_array().ok_or("matchExpressions must be a list")?;
            for (i, e) in list.iter().enumerate() {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("matchExpressions[{i}].key is missing"))?;
                let op = match e.get("operator").and_then(Value::as_str) {
                    Some("In") => Operator::In,
                    Some("NotIn") => Operator::NotIn,
                    Some("Exists") => Operator::Exists,
                    Some("DoesNotExist") => Operator::DoesNotExist,
                    other => {
                        return Err(format!(
                            "matchExpressions[{i}].operator {other:?} is not In, NotIn, Exists or DoesNotExist"
                        ))
                    }
                };
                let values = match e.get("values") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| {
                            x.as_str().map(str::to_string).ok_or_else(|| {
                                format!("matchExpressions[{i}].values must be strings")
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(format!("matchExpressions[{i}].values must be a list")),
                };
                requirements.push(Requirement {
                    key: key.to_string(),
                    op,
                    values,
                });
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// `{}`: selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether the selector matches an object with these labels.
    pub fn matches<'a>(&self, mut label: impl FnMut(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| {
            let v = label(&r.key);
            match r.op {
                Operator::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Operator::NotIn => v.is_none_or(|v| !r.values.iter().any(|x| x == v)),
                Operator::Exists => v.is_some(),
                Operator::DoesNotExist => v.is_none(),
            }
        })
    }

    /// The values `key` can have on anything this selector matches: `None`
    /// when the selector does not constrain the key to a finite set (it may
    /// then be absent or take any value); an empty set when nothing can match.
    pub fn allowed_values(&self, key: &str) -> Option<BTreeSet<&str>> {
        let mut allowed: Option<BTreeSet<&str>> = None;
        let mut excluded: BTreeSet<&str> = BTreeSet::new();
        let mut absent = false;
        for r in self.requirements.iter().filter(|r| r.key == key) {
            match r.op {
                Operator::In => {
                    let set: BTreeSet<&str> = r.values.iter().map(String::as_str).collect();
                    allowed = Some(match allowed {
                        Some(a) => a.intersection(&set).copied().collect(),
                        None => set,
                    });
                }
                Operator::NotIn => excluded.extend(r.values.iter().map(String::as_str)),
                Operator::DoesNotExist => absent = true,
                Operator::Exists => {}
            }
        }
        let mut allowed = allowed?;
        if absent {
            // In requires the key, DoesNotExist forbids it: matches nothing.
            allowed.clear();
        }
        allowed.retain(|v| !excluded.contains(v));
        Some(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(v: Value) -> LabelSelector {
        LabelSelector::from_value(&v).unwrap()
    }

    #[test]
    fn allowed_values_reasoning() {
        let k = "t";
        let cases: Vec<(&str, Value, Option<Vec<&str>>)> = vec![
            ("empty selector", json!({}), None),
            (
                "matchLabels pins",
                json!({"matchLabels": {"t": "a"}}),
                Some(vec!["a"]),
            ),
            (
                "In pins",
                json!({"matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]}),
                Some(vec!["a", "b"]),
            ),
            (
                "In and matchLabels intersect",
                json!({"matchLabels": {"t": "a"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]}),
                Some(vec!["a"]),
            ),
            (
                "NotIn alone does not pin",
                json!({"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["b"]}]}),
                None,
            ),
            (
                "NotIn narrows In",
                json!({"matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}, {"key": "t", "operator": "NotIn", "values": ["b"]}]}),
                Some(vec!["a"]),
            ),
            (
                "Exists does not pin",
                json!({"matchExpressions": [{"key": "t", "operator": "Exists"}]}),
                None,
            ),
            (
                "In with DoesNotExist matches nothing",
                json!({"matchLabels": {"t": "a"}, "matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]}),
                Some(vec![]),
            ),
            ("other key only", json!({"matchLabels": {"x": "a"}}), None),
        ];
        for (name, v, want) in cases {
            let s = sel(v);
            let got = s
                .allowed_values(k)
                .map(|s| s.into_iter().collect::<Vec<_>>());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn matching() {
        let s = sel(json!({"matchLabels": {"a": "1"}, "matchExpressions": [
            {"key": "b", "operator": "NotIn", "values": ["x"]},
            {"key": "c", "operator": "DoesNotExist"}]}));
        let labels = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v)
        };
        assert!(s.matches(labels(&[("a", "1")])));
        assert!(s.matches(labels(&[("a", "1"), ("b", "y")])));
        assert!(!s.matches(labels(&[("a", "1"), ("b", "x")])));
        assert!(!s.matches(labels(&[("a", "1"), ("c", "")])));
        assert!(!s.matches(labels(&[("a", "2")])));
        assert!(sel(json!({})).matches(labels(&[])));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for v in [
            json!("x"),
            json!({"matchLabels": []}),
            json!({"matchLabels": {"a": 1}}),
            json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
            json!({"matchExpressions": [{"operator": "In", "values": ["a"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": "a"}]}),
        ] {
            assert!(LabelSelector::from_value(&v).is_err(), "{v}");
        }
    }
}
