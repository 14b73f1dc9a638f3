//! `request.object` and `request.oldObject` read into a `Value`, less the
//! part no rule reads: `metadata.managedFields` (server-side apply's field
//! ownership, often a quarter of a real object). It is checked as JSON
//! (syntax and UTF-8, borrowed as a raw slice) and dropped without building
//! anything, so a malformed one still makes the body unreadable while a
//! well-formed one costs a scan. Everything else is built exactly as
//! `serde_json::Value` builds it (numbers, duplicate keys: the last wins).
//! No rule, the mutation diff or `oldObject` comparison looks at
//! `managedFields`: a patch never touches it, and two objects that differ
//! only there are alike to every rule. Since nothing is built from it, what
//! only building refuses (a number beyond f64, nesting deeper than
//! serde_json's recursion limit) no longer makes the object unreadable when
//! it sits inside `managedFields`; anywhere else it still does.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The object's metadata key, and the key skipped inside it.
const METADATA: &str = "metadata";
const MANAGED_FIELDS: &str = "managedFields";

/// An object as the rules see it (see the module comment).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ObjectValue(pub Value);

impl<'de> Deserialize<'de> for ObjectValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Level::Object).map(ObjectValue)
    }
}

/// Where in the object a value sits: the object itself (whose `metadata`
/// is read at [`Level::Metadata`]), its metadata (whose `managedFields` is
/// skipped), or anywhere else (built whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Object,
    Metadata,
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
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match (self, key.as_str()) {
                (Level::Object, METADATA) => map.next_value_seed(Level::Metadata)?,
                (Level::Metadata, MANAGED_FIELDS) => {
                    // Syntax and UTF-8 checked, nothing built.
                    map.next_value::<&'de RawValue>()?;
                    continue;
                }
                _ => map.next_value::<Value>()?,
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
