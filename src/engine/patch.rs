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

use json_patch::jsonptr::{PointerBuf, Token};
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::Value;

use crate::policy::draft::{Draft, Edit};

/// Operations turning the object as sent into the draft. The values the
/// rules wrote move into the operations: nothing is copied again.
pub fn of(draft: Draft<'_>) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    let sent = draft.sent();
    if let Some(edit) = draft.into_edit() {
        edits(sent, edit, &mut Path::default(), &mut out);
    }
    out
}

/// Operations turning `from` into `to` (what the edits would be if the
/// whole object had been copied and changed; the tests' oracle).
#[cfg(test)]
pub fn diff(from: &Value, to: &Value) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    walk(from, to.clone(), &mut Path::default(), &mut out);
    out
}

/// One step from the root.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Seg<'a> {
    fn token(self) -> Token<'a> {
        match self {
            Seg::Key(k) => Token::new(k),
            Seg::Index(i) => Token::from(i),
        }
    }
}

/// Where the walk is: the steps from the root, borrowed from the object as
/// sent and encoded only when an operation needs its pointer.
#[derive(Default)]
struct Path<'a>(Vec<Seg<'a>>);

impl<'a> Path<'a> {
    /// The pointer to here, or to `last` below here, encoded (`~0`, `~1`)
    /// in one pass into one string.
    fn at(&self, last: Option<Seg<'_>>) -> PointerBuf {
        let steps = || self.0.iter().copied().chain(last);
        let mut s = String::with_capacity(steps().map(|seg| seg.len() + 1).sum());
        for seg in steps() {
            s.push('/');
            match seg {
                Seg::Key(k) if k.bytes().any(|b| b == b'~' || b == b'/') => {
                    for c in k.chars() {
                        match c {
                            '~' => s.push_str("~0"),
                            '/' => s.push_str("~1"),
                            c => s.push(c),
                        }
                    }
                }
                Seg::Key(k) => s.push_str(k),
                Seg::Index(i) => push_index(&mut s, i),
            }
        }
        // What was just encoded always parses; should it not, the library
        // encodes it again.
        PointerBuf::parse(s).unwrap_or_else(|_| PointerBuf::from_tokens(steps().map(Seg::token)))
    }
}

/// The decimal digits of `i`, without going through `core::fmt` (a few
/// hundred instructions a call, once per list index of every operation).
fn push_index(s: &mut String, mut i: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (i % 10) as u8;
        i /= 10;
        if i == 0 {
            break;
        }
    }
    s.extend(digits[start..].iter().map(|&d| char::from(d)));
}

impl Seg<'_> {
    /// The length encoded, at least.
    fn len(self) -> usize {
        match self {
            Seg::Key(k) => k.len(),
            Seg::Index(_) => 4,
        }
    }
}

/// The operations of `edit` over `sent`, in the order [`walk`] gives them
/// for the same change: changed keys first, then added ones, each in key
/// order.
fn edits<'a>(sent: &'a Value, edit: Edit<'_>, path: &mut Path<'a>, out: &mut Vec<PatchOperation>) {
    match (edit, sent) {
        (Edit::Set(v), _) => walk(sent, v, path, out),
        (Edit::Keys(m), Value::Object(o)) => {
            let mut added = Vec::new();
            for (k, e) in m {
                match (o.get_key_value(k.as_ref()), e) {
                    (Some((k, s)), e) => {
                        path.0.push(Seg::Key(k));
                        edits(s, e, path, out);
                        path.0.pop();
                    }
                    (None, Edit::Set(v)) => added.push((k, v)),
                    // Edits below a key are only made where it was sent.
                    (None, _) => {}
                }
            }
            for (k, v) in added {
                out.push(PatchOperation::Add(AddOperation {
                    path: path.at(Some(Seg::Key(&k))),
                    value: v,
                }));
            }
        }
        (Edit::Items(m), Value::Array(a)) => {
            for (i, e) in m {
                if let Some(s) = a.get(i) {
                    path.0.push(Seg::Index(i));
                    edits(s, e, path, out);
                    path.0.pop();
                }
            }
        }
        // Edits are only made through values of their shape.
        _ => {}
    }
}

/// The operations turning `from` into `to`, which they take their values from.
fn walk<'a>(from: &'a Value, to: Value, path: &mut Path<'a>, out: &mut Vec<PatchOperation>) {
    match (from, to) {
        (Value::Object(a), Value::Object(mut b)) => {
            for (k, va) in a {
                match b.remove(k) {
                    // Most of an object is untouched: compare before paying
                    // for a path segment.
                    Some(vb) if *va == vb => {}
                    Some(vb) => {
                        path.0.push(Seg::Key(k));
                        walk(va, vb, path, out);
                        path.0.pop();
                    }
                    None => out.push(PatchOperation::Remove(RemoveOperation {
                        path: path.at(Some(Seg::Key(k))),
                    })),
                }
            }
            // What is left of `to` is what `from` did not have.
            for (k, vb) in b {
                out.push(PatchOperation::Add(AddOperation {
                    path: path.at(Some(Seg::Key(&k))),
                    value: vb,
                }));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if *va == vb {
                    continue;
                }
                path.0.push(Seg::Index(i));
                walk(va, vb, path, out);
                path.0.pop();
            }
        }
        (from, to) => {
            if *from != to {
                out.push(PatchOperation::Replace(ReplaceOperation {
                    path: path.at(None),
                    value: to,
                }));
            }
        }
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
    fn indexes_and_keys_encode_as_the_library_does() {
        for (steps, want) in [
            (vec![Seg::Index(0)], "/0"),
            (
                vec![Seg::Key("a"), Seg::Index(1234567), Seg::Key("")],
                "/a/1234567/",
            ),
            (vec![Seg::Key("x~/y"), Seg::Index(10)], "/x~0~1y/10"),
            (vec![Seg::Index(9), Seg::Index(100)], "/9/100"),
            (
                vec![Seg::Key("é/"), Seg::Index(usize::MAX)],
                "/é~1/18446744073709551615",
            ),
        ] {
            let path = Path(steps.clone());
            assert_eq!(path.at(None).as_str(), want);
            assert_eq!(
                path.at(None),
                PointerBuf::from_tokens(steps.into_iter().map(Seg::token))
            );
        }
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
