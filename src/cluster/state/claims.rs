//! Host claims from the Ingress and Gateway API route watches, folded into
//! the master inventory's [`crate::hosts::HostClaims`]. Only the identity
//! and the parsed hosts of an object are kept, never the object: the index
//! stays small however large the Ingresses are.
//!
//! A re-list of one kind is buffered and replaces that kind's claims at
//! once on `InitDone`, like the namespace list.

use std::collections::HashMap;

use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use kube::ResourceExt;

use super::State;
use crate::hosts::{hosts_in, ClaimKind, ClaimRef, Host};

/// A re-list in progress, per kind.
pub type ClaimBuffers = HashMap<ClaimKind, HashMap<ClaimRef, Vec<Host>>>;

fn claim_of(kind: ClaimKind, obj: &DynamicObject) -> (ClaimRef, Vec<Host>) {
    let r = ClaimRef::new(&obj.namespace().unwrap_or_default(), kind, &obj.name_any());
    (r, hosts_in(kind, &obj.data))
}

impl State {
    /// Applies one watch event of `kind`; true when there is something to publish.
    pub fn claim_event(&mut self, kind: ClaimKind, event: Event<DynamicObject>) -> bool {
        match event {
            Event::Init => {
                self.claim_buffers.insert(kind, HashMap::new());
                false
            }
            Event::InitApply(o) => {
                let (r, hosts) = claim_of(kind, &o);
                self.claim_buffers.entry(kind).or_default().insert(r, hosts);
                false
            }
            Event::InitDone => {
                let listed = self.claim_buffers.remove(&kind).unwrap_or_default();
                let claims = self.inventory.claims_mut();
                for r in claims.refs(kind) {
                    if !listed.contains_key(&r) {
                        claims.remove(&r);
                    }
                }
                for (r, hosts) in listed {
                    claims.set(r, hosts);
                }
                true
            }
            Event::Apply(o) => {
                let (r, hosts) = claim_of(kind, &o);
                self.inventory.claims_mut().set(r, hosts);
                true
            }
            Event::Delete(o) => {
                let (r, _) = claim_of(kind, &o);
                self.inventory.claims_mut().remove(&r);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ingress(ns: &str, name: &str, hosts: &[&str]) -> DynamicObject {
        let rules: Vec<_> = hosts.iter().map(|h| json!({"host": h})).collect();
        serde_json::from_value(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns}, "spec": {"rules": rules}}),
        )
        .unwrap()
    }

    fn claimed(s: &State, host: &str) -> Vec<String> {
        let h = Host::parse(host).unwrap();
        s.inventory
            .claims()
            .overlapping(&h)
            .into_iter()
            .map(|(_, c)| c.to_string())
            .collect()
    }

    #[test]
    fn claims_follow_the_watch_and_relists_replace_them() {
        let mut s = State::new(vec![], false);
        let k = ClaimKind::Ingress;
        assert!(!s.claim_event(k, Event::Init));
        assert!(!s.claim_event(k, Event::InitApply(ingress("g", "web", &["a.example"]))));
        assert!(claimed(&s, "a.example").is_empty(), "not before InitDone");
        assert!(s.claim_event(k, Event::InitDone));
        assert_eq!(claimed(&s, "a.example"), ["Ingress g/web"]);
        s.claim_event(k, Event::Apply(ingress("g", "web", &["b.example"])));
        assert!(claimed(&s, "a.example").is_empty(), "an update replaces");
        assert_eq!(claimed(&s, "b.example"), ["Ingress g/web"]);
        s.claim_event(k, Event::Apply(ingress("h", "x", &["c.example"])));
        s.claim_event(k, Event::Delete(ingress("g", "web", &[])));
        assert!(claimed(&s, "b.example").is_empty());
        // A re-list without h/x forgets it; other kinds are untouched.
        let route: DynamicObject = serde_json::from_value(json!({"metadata": {"name": "r", "namespace": "g"}, "spec": {"hostnames": ["d.example"]}})).unwrap();
        s.claim_event(ClaimKind::HttpRoute, Event::Apply(route));
        s.claim_event(k, Event::Init);
        s.claim_event(k, Event::InitDone);
        assert!(claimed(&s, "c.example").is_empty());
        assert_eq!(
            claimed(&s, "d.example"),
            ["HTTPRoute g/r"],
            "a list item without apiVersion"
        );
    }
}
