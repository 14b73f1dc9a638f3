//! The request vocabulary every layer speaks: what kind of object, which
//! operation, who asks, and what is wrong. The bottom layer: it imports no
//! other module of the crate, and everything else may import it.

/// A Kubernetes API group and kind, e.g. `apps`/`Deployment` (the core group
/// is `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    pub group: &'static str,
    pub kind: &'static str,
}

impl GroupKind {
    pub const fn new(group: &'static str, kind: &'static str) -> Self {
        GroupKind { group, kind }
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group == group
    }
}
