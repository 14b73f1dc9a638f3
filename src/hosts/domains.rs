//! [`Domains`]: which owners were handed which DNS domains, indexed so that
//! finding the owners whose domain a host reaches costs one hash lookup per
//! label of the host, however many domains are handed out.
//!
//! A domain is a root name and every name below it (`acme.example`,
//! `shop.acme.example`, `a.b.acme.example`, … but not `evilacme.example`).
//! The tenancy index keeps the domains of the tenants' host patterns here:
//! a pattern `*.acme.example` or `acme.example` hands out the domain rooted
//! at `acme.example` (see [`super::Host::name`]).

use std::collections::HashMap;

use super::Host;

/// Whether `name` is `root` or a name below it, at a label boundary.
pub fn is_at_or_below(name: &str, root: &str) -> bool {
    match name.strip_suffix(root) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

/// `name` and every name above it, itself first: `a.b.c`, `b.c`, `c`.
pub fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| n.split_once('.').map(|(_, rest)| rest))
}

/// Owners (`K`) by the domains handed to them.
#[derive(Debug, Clone)]
pub struct Domains<K> {
    /// Owners by the root of each domain.
    roots: HashMap<Box<str>, Vec<K>>,
    /// Owners by every name strictly above one of their roots, so that a
    /// wildcard finds the domains below its suffix.
    above: HashMap<Box<str>, Vec<K>>,
}

impl<K> Default for Domains<K> {
    fn default() -> Self {
        Domains {
            roots: HashMap::new(),
            above: HashMap::new(),
        }
    }
}

fn push<K: PartialEq>(map: &mut HashMap<Box<str>, Vec<K>>, key: &str, owner: K) {
    let list = map.entry(key.into()).or_default();
    if !list.contains(&owner) {
        list.push(owner);
    }
}

fn drop_owner<K: PartialEq>(map: &mut HashMap<Box<str>, Vec<K>>, key: &str, owner: &K) {
    if let Some(list) = map.get_mut(key) {
        list.retain(|o| o != owner);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

impl<K: Clone + PartialEq> Domains<K> {
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty() && self.above.is_empty()
    }

    /// Hands the domain rooted at `root` (normalised, see [`Host`]) to `owner`.
    pub fn insert(&mut self, owner: &K, root: &str) {
        push(&mut self.roots, root, owner.clone());
        for above in suffixes(root).skip(1) {
            push(&mut self.above, above, owner.clone());
        }
    }

    /// Takes the domain rooted at `root` back from `owner`.
    pub fn remove(&mut self, owner: &K, root: &str) {
        drop_owner(&mut self.roots, root, owner);
        for above in suffixes(root).skip(1) {
            drop_owner(&mut self.above, above, owner);
        }
    }

    /// The owners of a domain `host` reaches into ([`Host::reaches_domain`]),
    /// an owner once per domain it reaches.
    pub fn reached_by<'a>(&'a self, host: &'a Host) -> impl Iterator<Item = &'a K> + 'a {
        let at_or_above = suffixes(host.name())
            .filter_map(|s| self.roots.get(s))
            .flatten();
        let below = match host {
            Host::Wildcard(s) => self.above.get(s.as_str()),
            Host::Exact(_) => None,
        };
        at_or_above.chain(below.into_iter().flatten())
    }
}
