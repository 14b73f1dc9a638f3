//! The namespace side of an inventory: name → tenant (and the onboarded
//! bit), in 32 bytes a namespace. A name of up to 22 bytes (most: Kubernetes
//! namespaces are DNS labels, usually short) is kept inline in its key, a
//! longer one in a box; the tenant is an index into the tenant names seen,
//! each kept once however many namespaces carry it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::tenant_label;

/// Longest name kept inline.
const INLINE: usize = 22;

/// A namespace name: inline when short, else boxed. Hashes and compares as
/// its `str`, so the map is looked up with a `&str`.
#[derive(Clone)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<str>),
}

impl Name {
    fn new(s: &str) -> Name {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Name::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Name::Boxed(s.into())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a `str` whole: always UTF-8.
            Name::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Name::Boxed(s) => s,
        }
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// A namespace's tenant (an index into [`Namespaces::tenants`], or none:
/// a platform namespace) and its onboarded bit (the top bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot(u32);

const ONBOARDED: u32 = 1 << 31;
const PLATFORM: u32 = ONBOARDED - 1;

impl Slot {
    fn new(tenant: Option<u32>, onboarded: bool) -> Slot {
        match tenant {
            Some(id) if onboarded => Slot(id | ONBOARDED),
            Some(id) => Slot(id),
            None => Slot(PLATFORM),
        }
    }

    fn tenant(self) -> Option<usize> {
        let id = self.0 & !ONBOARDED;
        (id != PLATFORM).then_some(id as usize)
    }

    fn onboarded(self) -> bool {
        self.0 & ONBOARDED != 0
    }
}

/// Every known namespace with its tenant, and the tenants seen on them.
#[derive(Debug, Clone, Default)]
pub(super) struct Namespaces {
    by_name: HashMap<Name, Slot>,
    /// Tenant names seen on namespaces, by index (bounded by the namespaces
    /// seen): the names that may appear as metric labels.
    tenants: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
    /// How many known namespaces carry each tenant's label, by index (kept
    /// in step with `by_name`, so `maxNamespaces` costs one lookup).
    counts: Vec<usize>,
}

impl Namespaces {
    /// An empty set of namespaces that keeps the tenant names `self` has seen.
    pub(super) fn emptied(&self) -> Namespaces {
        Namespaces {
            by_name: HashMap::new(),
            tenants: self.tenants.clone(),
            ids: self.ids.clone(),
            counts: vec![0; self.tenants.len()],
        }
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.by_name.reserve(n);
    }

    fn intern(&mut self, tenant: &str) -> u32 {
        if let Some(id) = self.ids.get(tenant) {
            return *id;
        }
        let id = self.tenants.len() as u32;
        let name: Arc<str> = Arc::from(tenant);
        self.tenants.push(name.clone());
        self.ids.insert(name, id);
        self.counts.push(0);
        id
    }

    /// Records a namespace, its tenant label and the onboarded bit (kept
    /// only for tenant namespaces); "" names no tenant.
    pub(super) fn record(&mut self, name: &str, tenant: Option<&str>, onboarded: bool) {
        let tenant = tenant.and_then(tenant_label::name).map(|t| self.intern(t));
        if let Some(id) = tenant {
            self.counts[id as usize] += 1;
        }
        let slot = Slot::new(tenant, onboarded);
        let old = match self.by_name.get_mut(name) {
            Some(s) => Some(std::mem::replace(s, slot)),
            None => {
                self.by_name.insert(Name::new(name), slot);
                None
            }
        };
        self.uncount(old);
    }

    pub(super) fn remove(&mut self, name: &str) {
        let old = self.by_name.remove(name);
        self.uncount(old);
    }

    /// Takes a namespace that is gone (or re-recorded) off its tenant's count.
    fn uncount(&mut self, old: Option<Slot>) {
        if let Some(id) = old.and_then(Slot::tenant) {
            self.counts[id] = self.counts[id].saturating_sub(1);
        }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_name.is_empty() && self.tenants.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// `None`: unknown; `Some(None)`: a platform namespace.
    pub(super) fn tenant_of(&self, name: &str) -> Option<Option<&str>> {
        let slot = self.by_name.get(name)?;
        Some(slot.tenant().map(|id| &*self.tenants[id]))
    }

    pub(super) fn is_onboarded(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|s| s.onboarded())
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>, bool)> {
        self.by_name.iter().map(|(n, s)| {
            (
                n.as_str(),
                s.tenant().map(|id| &*self.tenants[id]),
                s.onboarded(),
            )
        })
    }

    pub(super) fn is_seen(&self, tenant: &str) -> bool {
        self.ids.contains_key(tenant)
    }

    pub(super) fn count(&self, tenant: &str) -> usize {
        self.ids
            .get(tenant)
            .map_or(0, |id| self.counts[*id as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inline_and_boxed_look_up_alike() {
        let long = "a-namespace-name-longer-than-twenty-two-bytes";
        let mut ns = Namespaces::default();
        let names = [
            "",
            "a",
            "exactly-twenty-two-by",
            "exactly-twenty-two-byt",
            long,
            "ünïcødé-名前",
        ];
        for name in names {
            ns.record(name, Some("acme"), true);
        }
        for name in names {
            assert_eq!(ns.tenant_of(name), Some(Some("acme")), "{name:?}");
            assert!(ns.is_onboarded(name), "{name:?}");
        }
        assert_eq!(ns.tenant_of("exactly-twenty-two-b"), None);
        assert!(matches!(Name::new(long), Name::Boxed(_)));
        assert!(matches!(
            Name::new("exactly-twenty-two-byt"),
            Name::Inline { .. }
        ));
        let mut names: Vec<&str> = ns.iter().map(|(n, _, _)| n).collect();
        names.sort_unstable();
        assert_eq!(names.len(), 6);
        assert!(names.contains(&long));
        assert_eq!(ns.count("acme"), 6);
    }
}
