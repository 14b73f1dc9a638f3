//! The object the mutating rules change, kept as the object as sent plus a
//! sparse overlay of what they changed: no copy of the whole object is ever
//! made, and the engine builds the JSON Patch from the overlay alone
//! (`engine::patch`), so an object no rule changes costs only the rules'
//! reads.
//!
//! Rules read through [`View`]s, which see what earlier rules wrote, in
//! rule order, exactly as if they had changed one copy of the object in
//! place. They write by asking for the map or list at a path
//! ([`Draft::map_at`], [`Draft::list_at`]): the edit owns a copy of that
//! map or list only (a labels map, one container's `resources`), made from
//! the object as sent the first time it is asked for. A missing or null step
//! on the way is made `{}`, the way `podspec::map_at` does on a whole object
//! (a null is what kubectl and Helm write for an empty field); a step of
//! another type stops the write (`None`), leaving the object alone.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::iter::Peekable;

use serde_json::{Map, Value};

/// One step of a path into the object: a key of an object, or an index of
/// a list (which is never made: it must be there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'s> {
    Key(&'s str),
    Index(usize),
}

impl<'s> Step<'s> {
    /// The steps of a JSON pointer made of object keys, e.g. `/spec/template`
    /// (no `~` escapes: the rules' pointers are fixed field paths).
    pub fn keys(ptr: &'s str) -> impl Iterator<Item = Step<'s>> + Clone {
        debug_assert!(!ptr.contains('~'), "{ptr}: escaped pointer");
        ptr.split('/').skip(1).map(Step::Key)
    }
}

/// What the rules changed at one place of the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit<'a> {
    /// The value here now (made by a rule, or copied from the object as sent
    /// and changed): the patch turns the value sent here into this one.
    Set(Value),
    /// The object sent here, unchanged but for the edits below some keys
    /// (keys sent are borrowed from the object).
    Keys(BTreeMap<Cow<'a, str>, Edit<'a>>),
    /// The list sent here (same length), unchanged but for the edits in some
    /// items.
    Items(BTreeMap<usize, Edit<'a>>),
}

impl<'a> Edit<'a> {
    /// The edit for a value sent that a write goes through: an object or a
    /// list is kept as sent with edits below, anything else is replaced.
    fn through(sent: &Value) -> Option<Edit<'a>> {
        match sent {
            Value::Object(_) => Some(Edit::Keys(BTreeMap::new())),
            Value::Array(_) => Some(Edit::Items(BTreeMap::new())),
            _ => None,
        }
    }

    /// Whether anything below differs from what was sent (an edit made on
    /// the way to a write that then found nothing to do changes nothing).
    fn changes(&self) -> bool {
        match self {
            Edit::Set(_) => true,
            Edit::Keys(m) => m.values().any(Edit::changes),
            Edit::Items(m) => m.values().any(Edit::changes),
        }
    }

    /// `sent` with this edit applied.
    fn applied(&self, sent: &Value) -> Value {
        let mut out = sent.clone();
        self.apply(&mut out);
        out
    }

    fn apply(&self, target: &mut Value) {
        match (self, target) {
            (Edit::Set(v), target) => *target = v.clone(),
            (Edit::Keys(m), Value::Object(o)) => {
                for (k, e) in m {
                    match o.get_mut(k.as_ref()) {
                        Some(t) => e.apply(t),
                        None => {
                            if let Edit::Set(v) = e {
                                o.insert(k.to_string(), v.clone());
                            }
                        }
                    }
                }
            }
            (Edit::Items(m), Value::Array(a)) => {
                for (i, e) in m {
                    if let Some(t) = a.get_mut(*i) {
                        e.apply(t);
                    }
                }
            }
            // Edits are only made through values of their shape.
            _ => {}
        }
    }
}

/// The object as sent and the rules' edits to it.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    sent: &'a Value,
    /// None: nothing written yet.
    edit: Option<Edit<'a>>,
}

/// What a write wants at the end of its path, made when missing or null.
#[derive(Clone, Copy)]
enum Shape {
    Map,
    List,
}

impl Shape {
    fn empty(self) -> Value {
        match self {
            Shape::Map => Value::Object(Map::new()),
            Shape::List => Value::Array(Vec::new()),
        }
    }

    fn fits(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Shape::Map, Value::Object(_)) | (Shape::List, Value::Array(_))
        )
    }
}

impl<'a> Draft<'a> {
    /// The object as sent, nothing changed yet.
    pub fn new(sent: &'a Value) -> Self {
        Draft { sent, edit: None }
    }

    /// A draft that starts with a copy of the whole object (the engine's
    /// earlier clone-and-diff path, kept as the oracle of the tests).
    #[cfg(test)]
    pub fn whole(sent: &'a Value) -> Self {
        Draft {
            sent,
            edit: Some(Edit::Set(sent.clone())),
        }
    }

    /// The object as sent.
    pub fn sent(&self) -> &'a Value {
        self.sent
    }

    /// The rules' edits, None when there are none.
    pub fn edit(&self) -> Option<&Edit<'a>> {
        self.edit.as_ref().filter(|e| e.changes())
    }

    /// The rules' edits, taken out of the draft.
    pub fn into_edit(self) -> Option<Edit<'a>> {
        self.edit.filter(Edit::changes)
    }

    /// The object as changed so far.
    pub fn view(&self) -> View<'_> {
        View {
            sent: Some(self.sent),
            edit: self.edit.as_ref(),
        }
    }

    /// The object with every edit applied (a copy: for tests and tools).
    pub fn to_value(&self) -> Value {
        match &self.edit {
            None => self.sent.clone(),
            Some(e) => e.applied(self.sent),
        }
    }

    /// The map at `path`, each missing or null step made `{}`; None when
    /// something of another type is on the way or there.
    pub fn map_at<'s, I>(&mut self, path: I) -> Option<&mut Map<String, Value>>
    where
        I: IntoIterator<Item = Step<'s>>,
    {
        self.reach(path, Shape::Map)?.as_object_mut()
    }

    /// The list at `path`: as [`Draft::map_at`], the last step made `[]`
    /// when missing or null.
    pub fn list_at<'s, I>(&mut self, path: I) -> Option<&mut Vec<Value>>
    where
        I: IntoIterator<Item = Step<'s>>,
    {
        self.reach(path, Shape::List)?.as_array_mut()
    }

    fn reach<'s, I>(&mut self, path: I, shape: Shape) -> Option<&mut Value>
    where
        I: IntoIterator<Item = Step<'s>>,
    {
        let sent = self.sent;
        let edit = match &mut self.edit {
            Some(e) => e,
            slot => slot.insert(Edit::through(sent)?),
        };
        reach(Some(sent), edit, &mut path.into_iter().peekable(), shape)
    }
}

/// What a write makes of a missing or null value before `next` (the step
/// after it, None at the end of the path): None when it makes nothing (an
/// index is never made up).
fn made(next: Option<&Step<'_>>, shape: Shape) -> Option<Value> {
    match next {
        None => Some(shape.empty()),
        Some(Step::Key(_)) => Some(Value::Object(Map::new())),
        Some(Step::Index(_)) => None,
    }
}

/// Follows `path` from a place whose value sent is `sent` and whose edit is
/// `edit`, making what is missing, and returns the value at its end, which
/// from then on is owned by an `Edit::Set`.
fn reach<'a, 'e, 's, I>(
    sent: Option<&'a Value>,
    edit: &'e mut Edit<'a>,
    path: &mut Peekable<I>,
    shape: Shape,
) -> Option<&'e mut Value>
where
    I: Iterator<Item = Step<'s>>,
{
    if let Edit::Set(v) = edit {
        return reach_owned(v, path, shape);
    }
    let Some(step) = path.next() else {
        // The end of the path, sent as an object or list with edits below:
        // the write owns a copy from now on.
        let sent = sent.filter(|s| shape.fits(s))?;
        *edit = Edit::Set(edit.applied(sent));
        return match edit {
            Edit::Set(v) => Some(v),
            _ => None,
        };
    };
    match (edit, step) {
        (Edit::Keys(children), Step::Key(k)) => {
            let sent_entry = sent
                .and_then(Value::as_object)
                .and_then(|o| o.get_key_value(k));
            let sent_child = sent_entry.map(|(_, v)| v);
            if !children.contains_key(k) {
                let child = match sent_child {
                    None | Some(Value::Null) => Edit::Set(made(path.peek(), shape)?),
                    Some(v) if path.peek().is_none() && !shape.fits(v) => return None,
                    Some(v) => Edit::through(v)?,
                };
                // The key as sent is borrowed; a new one is made.
                let key = match sent_entry {
                    Some((key, _)) => Cow::Borrowed(key.as_str()),
                    None => Cow::Owned(k.to_string()),
                };
                children.insert(key, child);
            }
            reach(sent_child, children.get_mut(k)?, path, shape)
        }
        (Edit::Items(children), Step::Index(i)) => {
            let sent_child = sent.and_then(|s| s.get(i))?;
            if path.peek().is_none() && !shape.fits(sent_child) {
                return None;
            }
            let child = match children.entry(i) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(Edit::through(sent_child)?),
            };
            reach(Some(sent_child), child, path, shape)
        }
        _ => None,
    }
}

/// Follows `path` inside a value the edits own, making what is missing as
/// `podspec::map_at` does.
fn reach_owned<'e, 's, I>(
    mut cur: &'e mut Value,
    path: &mut Peekable<I>,
    shape: Shape,
) -> Option<&'e mut Value>
where
    I: Iterator<Item = Step<'s>>,
{
    while let Some(step) = path.next() {
        cur = match step {
            Step::Key(k) => {
                let map = cur.as_object_mut()?;
                if map.get(k).is_none_or(Value::is_null) {
                    map.insert(k.to_string(), made(path.peek(), shape)?);
                }
                map.get_mut(k)?
            }
            Step::Index(i) => cur.as_array_mut()?.get_mut(i)?,
        };
    }
    shape.fits(cur).then_some(cur)
}

/// A place in the object as changed so far: what is sent there, with what
/// the rules wrote over it. Copy, cheap, read-only.
#[derive(Debug, Clone, Copy)]
pub struct View<'d> {
    sent: Option<&'d Value>,
    edit: Option<&'d Edit<'d>>,
}

impl<'d> View<'d> {
    const MISSING: View<'static> = View {
        sent: None,
        edit: None,
    };

    /// The value at key `k` (missing when this is not an object).
    pub fn get(self, k: &str) -> View<'d> {
        match self.edit {
            None => View {
                sent: self.sent.and_then(|s| s.get(k)),
                edit: None,
            },
            Some(Edit::Set(v)) => View {
                sent: v.get(k),
                edit: None,
            },
            Some(Edit::Keys(m)) => View {
                sent: self.sent.and_then(|s| s.get(k)),
                edit: m.get(k),
            },
            Some(Edit::Items(_)) => View::MISSING,
        }
    }

    /// The item at index `i` (missing when this is not a list).
    pub fn at(self, i: usize) -> View<'d> {
        match self.edit {
            None => View {
                sent: self.sent.and_then(|s| s.get(i)),
                edit: None,
            },
            Some(Edit::Set(v)) => View {
                sent: v.get(i),
                edit: None,
            },
            Some(Edit::Items(m)) => View {
                sent: self.sent.and_then(|s| s.get(i)),
                edit: m.get(&i),
            },
            Some(Edit::Keys(_)) => View::MISSING,
        }
    }

    /// The value at a pointer of object keys (see [`Step::keys`]).
    pub fn pointer(self, ptr: &str) -> View<'d> {
        Step::keys(ptr).fold(self, |v, s| match s {
            Step::Key(k) => v.get(k),
            Step::Index(i) => v.at(i),
        })
    }

    /// The value here, None when missing: borrowed unless rules wrote
    /// below it (then a copy with their edits).
    pub fn value(self) -> Option<Cow<'d, Value>> {
        match self.edit {
            None => self.sent.map(Cow::Borrowed),
            Some(Edit::Set(v)) => Some(Cow::Borrowed(v)),
            Some(e) => {
                let sent = self.sent?;
                Some(if e.changes() {
                    Cow::Owned(e.applied(sent))
                } else {
                    Cow::Borrowed(sent)
                })
            }
        }
    }

    /// The value here when no rule wrote below it (the common case); what
    /// rules wrote is only ever inside maps and lists they asked for, so a
    /// scalar is always available this way.
    fn plain(self) -> Option<&'d Value> {
        match self.edit {
            None => self.sent,
            Some(Edit::Set(v)) => Some(v),
            Some(_) => None,
        }
    }

    /// Whether nothing (or null) is here.
    pub fn is_unset(self) -> bool {
        match self.edit {
            None | Some(Edit::Set(_)) => self.plain().is_none_or(Value::is_null),
            // Edits are made only through objects and lists.
            Some(_) => false,
        }
    }

    /// Whether an object is here.
    pub fn is_object(self) -> bool {
        match self.edit {
            Some(Edit::Keys(_)) => true,
            Some(Edit::Items(_)) => false,
            None | Some(Edit::Set(_)) => self.plain().is_some_and(Value::is_object),
        }
    }

    /// The length of the list here, None when this is not a list.
    pub fn list_len(self) -> Option<usize> {
        match self.edit {
            Some(Edit::Items(_)) => self.sent?.as_array().map(Vec::len),
            Some(Edit::Keys(_)) => None,
            None | Some(Edit::Set(_)) => self.plain()?.as_array().map(Vec::len),
        }
    }

    /// The string here, if it is one.
    pub fn as_str(self) -> Option<&'d str> {
        self.plain()?.as_str()
    }
}

#[cfg(test)]
mod tests;
