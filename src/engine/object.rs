//! `request.object` and `request.oldObject` read into a `Value`, less what
//! no rule reads.
//!
//! - `metadata.managedFields` (server-side apply's field ownership, often a
//!   quarter of a real object) is checked as JSON (syntax and UTF-8,
//!   borrowed as a raw slice) and dropped without building anything, so a
//!   malformed one still makes the body unreadable while a well-formed one
//!   costs a scan. No rule, the mutation diff or `oldObject` comparison
//!   looks at it: a patch never touches it, and two objects that differ
//!   only there are alike to every rule.
//! - The parts in [`UNREAD_OBJECT_KEYS`] (a ConfigMap's or Secret's data)
//!   and, in every container of a pod or pod template, the fields in [`UNREAD_CONTAINER_KEYS`] (`env`, `command`,
//!   `volumeMounts`, ...: often most of a workload), and in every
//!   NetworkPolicy peer the [`UNREAD_PEER_KEYS`] (`podSelector`) are
//!   checked as JSON and kept as one string holding their JSON text (a
//!   `null` stays null), not built as a tree. So
//!   two objects still compare equal exactly when these parts are the same
//!   text, which is what [`Ctx::changed`](crate::policy::rules::Ctx::changed)
//!   needs (an UPDATE that only edits a container's `env` is still a change
//!   of the pod spec, and judged as one); whitespace-only differences count
//!   as changes, which can only make a rule judge more. No rule reads these
//!   fields (a test scans the rules' sources for their names), and no rule
//!   writes through them or replaces a list holding them, so the strings
//!   never reach a patch.
//!
//! Everything else is built exactly as `serde_json::Value` builds it
//! (numbers, duplicate keys: the last wins). Since nothing is built from
//! the skipped parts, what only building refuses (a number beyond f64,
//! nesting deeper than serde_json's recursion limit) no longer makes the
//! object unreadable when it sits inside them; anywhere else it still does.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::podspec::ContainerList;

/// The object's metadata key, and the key skipped inside it.
const METADATA: &str = "metadata";
const MANAGED_FIELDS: &str = "managedFields";

/// Top-level fields of an object kept as their JSON text: what a ConfigMap
/// or Secret holds.
pub(crate) const UNREAD_OBJECT_KEYS: [&str; 3] = ["data", "binaryData", "stringData"];

/// Fields of a container kept as their JSON text. A rule that comes to read
/// one of them takes it off this list (the scan in the tests says so).
pub(crate) const UNREAD_CONTAINER_KEYS: [&str; 9] = [
    "env",
    "envFrom",
    "command",
    "args",
    "workingDir",
    "volumeMounts",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
];

/// Fields of a NetworkPolicy peer (`spec.ingress[].from[]`,
/// `spec.egress[].to[]`) kept as their JSON text: a peer's `podSelector`
/// selects pods of the policy's own namespace (or of the namespaces its
/// `namespaceSelector` picks), so the rules only ask whether it is there
/// (`cross_tenant_selectors::peer_fields`, the one reader the scan in the
/// tests allows), never what it selects. Often most of a policy's bytes.
pub(crate) const UNREAD_PEER_KEYS: [&str; 1] = ["podSelector"];

/// An object as the rules see it (see the module comment).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectValue(pub Value);

impl<'de> Deserialize<'de> for ObjectValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Level::Object).map(ObjectValue)
    }
}

/// Where in the object a value sits, as far as skipping goes; anything
/// below a place not named here is built whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The object itself.
    Object,
    /// Its `metadata` (whose `managedFields` is skipped).
    Metadata,
    /// A PodSpec, or a spec holding a pod template: the object's `spec`, a
    /// template's `spec` (a Deployment's, a CronJob's Job template's).
    Spec,
    /// A pod or Job template: the object's `template` (a PodTemplate), a
    /// spec's `template` or `jobTemplate`.
    Template,
    /// A list of containers in a PodSpec.
    Containers,
    /// One container.
    Container,
    /// A list of NetworkPolicy rules: a spec's `ingress` or `egress`.
    PolicyRules,
    /// One NetworkPolicy rule.
    PolicyRule,
    /// A rule's peers: its `from` or `to`.
    Peers,
    /// One peer.
    Peer,
}

impl Level {
    /// Where the value of `key` in a map at this level sits, or None when
    /// it is kept as its JSON text.
    fn below(self, key: &str) -> Option<Option<Level>> {
        let next = match (self, key) {
            (Level::Object, METADATA) => Level::Metadata,
            (Level::Object, "spec") | (Level::Template, "spec") => Level::Spec,
            (Level::Object, "template") | (Level::Spec, "template" | "jobTemplate") => {
                Level::Template
            }
            (Level::Spec, k) if ContainerList::ALL.iter().any(|l| l.field() == k) => {
                Level::Containers
            }
            (Level::Spec, "ingress" | "egress") => Level::PolicyRules,
            (Level::PolicyRule, "from" | "to") => Level::Peers,
            (Level::Peer, k) if UNREAD_PEER_KEYS.contains(&k) => return None,
            (Level::Object, k) if UNREAD_OBJECT_KEYS.contains(&k) => return None,
            (Level::Container, k) if UNREAD_CONTAINER_KEYS.contains(&k) => return None,
            _ => return Some(None),
        };
        Some(Some(next))
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let item = match self {
            Level::Containers => Some(Level::Container),
            Level::PolicyRules => Some(Level::PolicyRule),
            Level::Peers => Some(Level::Peer),
            _ => None,
        };
        if let Some(item) = item {
            while let Some(v) = seq.next_element_seed(item)? {
                out.push(v);
            }
        } else {
            while let Some(v) = seq.next_element::<Value>()? {
                out.push(v);
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self == Level::Metadata && key == MANAGED_FIELDS {
                // Syntax and UTF-8 checked, nothing built.
                map.next_value::<&'de RawValue>()?;
                continue;
            }
            let value = match self.below(&key) {
                Some(Some(level)) => map.next_value_seed(level)?,
                Some(None) => map.next_value::<Value>()?,
                // Syntax and UTF-8 checked, kept as text; a null stays
                // null (absent and null are alike to the rules).
                None => match map.next_value::<&'de RawValue>()?.get() {
                    "null" => Value::Null,
                    text => Value::String(text.to_owned()),
                },
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Result<Value, String> {
        serde_json::from_str::<ObjectValue>(text)
            .map(|o| o.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn managed_fields_of_the_object_are_left_out() {
        let text = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","managedFields":[{"manager":"kubectl","fieldsV1":{"f:spec":{}}}],"labels":{"a":"b"}},"spec":{"managedFields":1,"x":[1,-2,3.5,"s",null,true]}}"#;
        assert_eq!(
            read(text).unwrap(),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
                "spec": {"managedFields": 1, "x": [1, -2, 3.5, "s", null, true]}})
        );
    }

    #[test]
    fn everything_else_is_read_as_serde_json_reads_it() {
        for text in [
            "null",
            "true",
            "-12",
            "18446744073709551615",
            "1e400",
            "\"a\\u00e9\\n\"",
            "[1,[2,{\"metadata\":{\"managedFields\":3}}]]",
            r#"{"metadata":null}"#,
            r#"{"metadata":[{"managedFields":1}]}"#,
            r#"{"a":1,"a":2,"metadata":{"name":"x","name":"y"}}"#,
        ] {
            let want = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
            assert_eq!(read(text), want, "{text}");
        }
    }

    #[test]
    fn unread_parts_are_kept_as_their_text() {
        let c = r#"{"name":"app","image":"nginx","env":[{"name":"A","value":"1"}],"command":["sh", "-c"],"resources":{"limits":{"cpu":"1"}},"ports":[{"hostPort":80}]}"#;
        let read_c = json!({"name": "app", "image": "nginx", "env": r#"[{"name":"A","value":"1"}]"#,
            "command": r#"["sh", "-c"]"#, "resources": {"limits": {"cpu": "1"}}, "ports": [{"hostPort": 80}]});
        let pod = |spec: &str| {
            format!(
                r#"{{"containers":[{c}],"initContainers":[{c}],"ephemeralContainers":[{c}],"volumes":[{{"name":"v","hostPath":{{"path":"/"}}}}]{spec}}}"#
            )
        };
        let read_pod = json!({"containers": [read_c], "initContainers": [read_c], "ephemeralContainers": [read_c],
            "volumes": [{"name": "v", "hostPath": {"path": "/"}}]});
        let cases = [
            (format!(r#"{{"kind":"Pod","spec":{},"status":{{"phase":"Running"}}}}"#, pod("")),
                json!({"kind": "Pod", "spec": read_pod, "status": {"phase": "Running"}})),
            (format!(r#"{{"kind":"Deployment","spec":{{"replicas":1,"template":{{"metadata":{{"labels":{{"a":"b"}}}},"spec":{}}}}}}}"#, pod("")),
                json!({"kind": "Deployment", "spec": {"replicas": 1, "template": {"metadata": {"labels": {"a": "b"}}, "spec": read_pod}}})),
            (format!(r#"{{"kind":"CronJob","spec":{{"jobTemplate":{{"spec":{{"template":{{"spec":{}}}}}}}}}}}"#, pod("")),
                json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": read_pod}}}}})),
            (format!(r#"{{"kind":"PodTemplate","template":{{"spec":{}}}}}"#, pod("")),
                json!({"kind": "PodTemplate", "template": {"spec": read_pod}})),
            (r#"{"kind":"ConfigMap","data":{"a":"b"},"binaryData":{"c":"ZA=="},"metadata":{"name":"m"}}"#.to_string(),
                json!({"kind": "ConfigMap", "data": r#"{"a":"b"}"#, "binaryData": r#"{"c":"ZA=="}"#, "metadata": {"name": "m"}})),
            // Only where a pod keeps its containers: elsewhere built whole.
            (r#"{"spec":{"other":{"containers":[{"env":[1]}]}},"env":[2],"metadata":{"env":[3],"data":4}}"#.to_string(),
                json!({"spec": {"other": {"containers": [{"env": [1]}]}}, "env": [2], "metadata": {"env": [3], "data": 4}})),
            // A list that is not a list, a container that is not a map: as sent.
            (r#"{"spec":{"containers":{"env":[1]},"initContainers":["env",[1],null]}}"#.to_string(),
                json!({"spec": {"containers": {"env": [1]}, "initContainers": ["env", [1], null]}})),
        ];
        for (text, want) in cases {
            assert_eq!(read(&text).unwrap(), want, "{text}");
        }
        // Same text, same value; any other text differs, so an UPDATE that
        // edits only an `env` is still a change of the spec.
        let env =
            |e: &str| read(&format!(r#"{{"spec":{{"containers":[{{"env":{e}}}]}}}}"#)).unwrap();
        assert_eq!(env(r#"[{"name":"A"}]"#), env(r#"[{"name":"A"}]"#));
        assert_ne!(env(r#"[{"name":"A"}]"#), env(r#"[{"name":"B"}]"#));
    }

    #[test]
    fn network_policy_peers_keep_their_pod_selector_as_text() {
        let text = r#"{"kind":"NetworkPolicy","spec":{"podSelector":{"matchLabels":{"a":"b"}},
            "ingress":[{"from":[{"podSelector":{"matchLabels":{"x":"y"}}},{"podSelector":null,"namespaceSelector":{}}],"ports":[{"port":80}]}],
            "egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}]},{"to":null},{}]}}"#;
        let want = json!({"kind": "NetworkPolicy", "spec": {"podSelector": {"matchLabels": {"a": "b"}},
            "ingress": [{"from": [{"podSelector": r#"{"matchLabels":{"x":"y"}}"#}, {"podSelector": null, "namespaceSelector": {}}],
                "ports": [{"port": 80}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": "{}"}]}, {"to": null}, {}]}});
        assert_eq!(read(text).unwrap(), want);
        // Pod affinity's selectors and a pod's own fields are built whole.
        let pod = r#"{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{},"podSelector":{"a":1}}]}}}}"#;
        assert_eq!(
            read(pod).unwrap(),
            serde_json::from_str::<Value>(pod).unwrap()
        );
        // A null unread part stays null, as any absent one reads.
        assert_eq!(
            read(r#"{"spec":{"containers":[{"env":null}]}}"#).unwrap(),
            json!({"spec": {"containers": [{"env": null}]}})
        );
    }

    #[test]
    fn a_malformed_unread_part_is_still_an_error() {
        for bad in [
            r#"{"spec":{"containers":[{"env":[1,]}]}}"#,
            r#"{"spec":{"template":{"spec":{"initContainers":[{"command":["a"}]}}}}"#,
            r#"{"data":{"a" "b"}}"#,
            r#"{"stringData":tru}"#,
            r#"{"spec":{"egress":[{"to":[{"podSelector":{"a":}}]}]}}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let bytes = b"{\"spec\":{\"containers\":[{\"env\":\"\xff\"}]}}";
        assert!(serde_json::from_slice::<ObjectValue>(bytes).is_err());
    }

    /// No rule reads what the decode keeps as text: the sources that read
    /// objects for the rules never name those fields (outside their tests).
    #[test]
    fn no_rule_reads_an_unread_part() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.join("podspec.rs"), src.join("selector.rs")];
        let mut dirs = vec![src.join("policy")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() > 20, "{files:?}");
        let keys = UNREAD_OBJECT_KEYS
            .iter()
            .chain(&UNREAD_CONTAINER_KEYS)
            .chain(&UNREAD_PEER_KEYS);
        // The one read that only asks whether a field is there (a string
        // is there as much as a map): `peer_fields`' match arm.
        let presence_only = [("cross_tenant_selectors.rs", "\"podSelector\" => 1,")];
        let mut found = Vec::new();
        for f in &files {
            if f.file_name().is_some_and(|n| n == "tests.rs")
                || f.components().any(|c| c.as_os_str() == "tests")
            {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap();
            // The code, not the tests at the end of the file.
            let mut code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            for (file, read) in presence_only {
                if f.file_name().is_some_and(|n| n == file) {
                    assert_eq!(code.matches(read).count(), 1, "{}: {read}", f.display());
                    code = code.replace(read, "");
                }
            }
            for k in keys.clone() {
                for form in [format!("\"{k}\""), format!("/{k}/"), format!("/{k}\"")] {
                    if code.contains(&form) {
                        found.push(format!("{}: {form}", f.display()));
                    }
                }
            }
        }
        assert!(found.is_empty(), "rules read fields the decode keeps as text (take them off UNREAD_*_KEYS in src/engine/object.rs): {found:?}");
    }

    #[test]
    fn a_malformed_managed_fields_is_still_an_error() {
        for bad in [
            r#"{"metadata":{"managedFields":[1,}}"#,
            r#"{"metadata":{"managedFields":{"a" 1}}}"#,
            r#"{"metadata":{"managedFields":tru}}"#,
            r#"{"metadata":{"managedFields":"unterminated}}"#,
            r#"{"metadata":{"managedFields":}}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let bytes = b"{\"metadata\":{\"managedFields\":[\"\xff\"]}}";
        assert!(serde_json::from_slice::<ObjectValue>(bytes).is_err());
    }
}
