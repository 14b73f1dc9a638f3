//! The RFC 6902 patch from the object as sent to the mutated object, made
//! from the mutating rules' edits ([`Draft`]) alone: only the places they
//! wrote are compared, never the whole object.
//!
//! The operations are those a diff of the whole object would give. Unlike a
//! general-purpose diff, this one never emits an operation whose
//! effect depends on how often it is applied: objects are diffed key by key
//! (`add` on an existing key replaces it), arrays of the same length element
//! by element, and an array whose length changed is replaced whole. Applying
//! the patch twice therefore changes nothing more, as the apiserver and
//! reinvocation expect. JSON-pointer escaping (`~0`, `~1`) comes from jsonptr.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::Value;

use crate::policy::draft::{Draft, Edit};

/// Operations turning the object as sent into the draft.
pub fn of(draft: &Draft<'_>) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    if let Some(edit) = draft.edit() {
        edits(draft.sent(), edit, &mut PointerBuf::new(), &mut out);
    }
    out
}

/// Operations turning `from` into `to` (what the edits would be if the
/// whole object had been copied and changed; the tests' oracle).
#[cfg(test)]
pub fn diff(from: &Value, to: &Value) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    walk(from, to, &mut PointerBuf::new(), &mut out);
    out
}

/// The operations of `edit` over `sent`, in the order [`walk`] gives them
/// for the same change: changed keys first, then added ones, each in key
/// order.
fn edits(sent: &Value, edit: &Edit, path: &mut PointerBuf, out: &mut Vec<PatchOperation>) {
    match (edit, sent) {
        (Edit::Set(v), _) => walk(sent, v, path, out),
        (Edit::Keys(m), Value::Object(o)) => {
            for (k, e) in m {
                if let Some(s) = o.get(k) {
                    path.push_back(k.as_str());
                    edits(s, e, path, out);
                    path.pop_back();
                }
            }
            for (k, e) in m {
                if let (false, Edit::Set(v)) = (o.contains_key(k), e) {
                    path.push_back(k.as_str());
                    out.push(PatchOperation::Add(AddOperation {
                        path: path.clone(),
                        value: v.clone(),
                    }));
                    path.pop_back();
                }
            }
        }
        (Edit::Items(m), Value::Array(a)) => {
            for (i, e) in m {
                if let Some(s) = a.get(*i) {
                    path.push_back(*i);
                    edits(s, e, path, out);
                    path.pop_back();
                }
            }
        }
        // Edits are only made through values of their shape.
        _ => {}
    }
}

fn walk(from: &Value, to: &Value, path: &mut PointerBuf, out: &mut Vec<PatchOperation>) {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    // Most of an object is untouched: compare before paying
                    // for a path segment.
                    Some(vb) if va == vb => continue,
                    Some(vb) => {
                        path.push_back(k.as_str());
                        walk(va, vb, path, out);
                    }
                    None => {
                        path.push_back(k.as_str());
                        out.push(PatchOperation::Remove(RemoveOperation {
                            path: path.clone(),
                        }));
                    }
                }
                path.pop_back();
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    path.push_back(k.as_str());
                    out.push(PatchOperation::Add(AddOperation {
                        path: path.clone(),
                        value: vb.clone(),
                    }));
                    path.pop_back();
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if va == vb {
                    continue;
                }
                path.push_back(i);
                walk(va, vb, path, out);
                path.pop_back();
            }
        }
        _ if from != to => out.push(PatchOperation::Replace(ReplaceOperation {
            path: path.clone(),
            value: to.clone(),
        })),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(from: Value, to: Value) -> Vec<PatchOperation> {
        let ops = diff(&from, &to);
        let mut once = from.clone();
        json_patch::patch(&mut once, &ops).unwrap();
        assert_eq!(once, to, "patch gives the target");
        let mut twice = once.clone();
        json_patch::patch(&mut twice, &ops).unwrap();
        assert_eq!(twice, to, "applying twice changes nothing more");
        ops
    }

    #[test]
    fn cases() {
        assert!(check(json!({"a": 1}), json!({"a": 1})).is_empty());
        check(json!({"a": 1}), json!({"a": 2}));
        check(json!({"a": {"b": 1}}), json!({"a": {"b": 1, "c": 2}}));
        // (rules never remove a key; a removal is exact but, by RFC 6902,
        // fails when applied a second time)
        let ops = diff(&json!({"a": 1, "b": 2}), &json!({"a": 1}));
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([{"op": "remove", "path": "/b"}])
        );
        // appending to an array replaces it whole (an `add /arr/1` would
        // insert again on a second application)
        let ops = check(json!({"t": [1]}), json!({"t": [1, 2]}));
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([{"op": "replace", "path": "/t", "value": [1, 2]}])
        );
        // same-length arrays are diffed in place
        let ops = check(
            json!({"c": [{"n": "a"}, {"n": "b"}]}),
            json!({"c": [{"n": "a"}, {"n": "b", "r": {}}]}),
        );
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([{"op": "add", "path": "/c/1/r", "value": {}}])
        );
    }

    #[test]
    fn keys_with_slash_and_tilde_are_escaped() {
        let ops = check(
            json!({"labels": {}}),
            json!({"labels": {"tenantguard.io/tenant": "a", "x~y": "b"}}),
        );
        let v = serde_json::to_value(&ops).unwrap();
        let paths: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["path"].as_str().unwrap())
            .collect();
        assert!(
            paths.contains(&"/labels/tenantguard.io~1tenant"),
            "{paths:?}"
        );
        assert!(paths.contains(&"/labels/x~0y"), "{paths:?}");
    }
}
