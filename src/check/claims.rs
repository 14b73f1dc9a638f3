//! The hosts the input's Ingresses and routes claim (DESIGN, "Claims
//! offline": they are existing claims for the other objects, besides those
//! of `--inventory`).
//!
//! An input object claims the hosts it could hold once applied: those its
//! tenant's patterns allow and that no other tenant already claims in the
//! inventory. A manifest trying to take a host that is already another
//! tenant's is denied, and would never exist in the cluster; counting its
//! claim would also deny the rightful owner's object in the same input.
//! Two new objects of different tenants on the same host both claim it, and
//! both are denied: neither is the rightful owner, and each side learns of
//! the collision.

use crate::engine::Engine;
use crate::hosts::{hosts_of, pattern_allows, ClaimRef, HostClaims};
use crate::tenancy::Inventory;

use super::InputObject;

/// Adds the claims of the input's objects to `inv`, which already holds the
/// inventory's claims and the input's namespaces. An object without
/// `metadata.namespace` claims in `namespace` (`--namespace`), where it
/// would be created, so it never collides with itself.
pub fn absorb(engine: &Engine, inv: &mut Inventory, objects: &[InputObject], namespace: &str) {
    let existing: HostClaims = inv.claims().clone();
    let settings = &engine.policies.settings;
    let mut found = Vec::new();
    for o in objects {
        let Some(mut claim) = ClaimRef::of_object(&o.object) else {
            continue;
        };
        if claim.namespace.is_empty() {
            claim.namespace = namespace.to_string();
        }
        let mut hosts = hosts_of(&o.object);
        if let Some(t) = inv.tenant_of(&claim.namespace) {
            let patterns = inv.tenant(t, settings).ingress_hostnames();
            hosts.retain(|h| {
                let in_patterns = patterns.is_empty() || pattern_allows(&patterns, h);
                let taken = existing
                    .overlapping(h)
                    .into_iter()
                    .any(|(_, c)| *c != claim && inv.tenant_of(&c.namespace) != Some(t));
                in_patterns && !taken
            });
        }
        found.push((claim, hosts));
    }
    let claims = inv.claims_mut();
    for (claim, hosts) in found {
        // The input's version of an object replaces the inventory's.
        claims.set(claim, hosts);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::hosts::{ClaimKind, Host};

    fn ingress(ns: Option<&str>, name: &str, host: &str) -> Value {
        let mut meta = json!({"name": name});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
            "spec": {"rules": [{"host": host}]}})
    }

    /// The hosts each input object claims after [`absorb`].
    fn claimed(docs: &[Value]) -> Vec<Vec<String>> {
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        inv.add_namespace("globex-prod", Some("globex"));
        inv.add_namespace("monitoring", None);
        let acme: crate::policy::TenantSpec =
            serde_yaml_ng::from_str("ingress: {hostnames: ['*.acme.example', dup.example, twice.example, shop.globex.example]}").unwrap();
        inv.add_tenant(&crate::policy::Tenant::new("acme", acme));
        inv.claims_mut()
            .absorb(&ingress(Some("globex-prod"), "web", "shop.globex.example"));
        let input: Vec<InputObject> = docs
            .iter()
            .map(|o| InputObject {
                source: "t.yaml#1".into(),
                line: 1,
                object: o.clone(),
            })
            .collect();
        absorb(&Engine::default(), &mut inv, &input, "acme-prod");
        docs.iter()
            .map(|o| {
                let mut r = ClaimRef::of_object(o).unwrap();
                if r.namespace.is_empty() {
                    r.namespace = "acme-prod".into();
                }
                inv.claims()
                    .claimed_by(&r)
                    .iter()
                    .map(Host::to_string)
                    .collect()
            })
            .collect()
    }

    /// name, input objects, the hosts each claims.
    type Case = (&'static str, Vec<Value>, Vec<Vec<&'static str>>);

    #[test]
    #[rustfmt::skip]
    fn input_objects_claim_what_they_could_hold() {
        let cases: Vec<Case> = vec![
            ("two tenants, one new host: both claim it (both are denied)",
                vec![ingress(Some("acme-prod"), "a", "dup.example"), ingress(Some("globex-prod"), "b", "DUP.example.")],
                vec![vec!["dup.example"], vec!["dup.example"]]),
            ("one tenant twice, one without a namespace",
                vec![ingress(Some("acme-prod"), "a", "twice.example"), ingress(None, "b", "twice.example")],
                vec![vec!["twice.example"], vec!["twice.example"]]),
            ("an attempt on another tenant's inventory host claims nothing",
                vec![ingress(Some("acme-prod"), "steal", "shop.globex.example"), ingress(Some("globex-prod"), "web", "shop.globex.example")],
                vec![vec![], vec!["shop.globex.example"]]),
            ("a host outside the tenant's patterns claims nothing",
                vec![ingress(Some("acme-prod"), "out", "elsewhere.example")],
                vec![vec![]]),
            ("a platform object claims what it names",
                vec![ingress(Some("monitoring"), "g", "shop.globex.example")],
                vec![vec!["shop.globex.example"]]),
        ];
        for (name, docs, want) in cases {
            assert_eq!(claimed(&docs), want, "{name}");
        }
        let r = ClaimRef::new("acme-prod", ClaimKind::Ingress, "b");
        assert_eq!(r.to_string(), "Ingress acme-prod/b");
    }
}
