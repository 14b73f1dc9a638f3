//! The tenancy index: lookups, counts, owners, snapshots.

use super::*;
use std::collections::BTreeMap;

use crate::model::{Tenant, TenantEgress, TenantSpec, TenantVault};

fn tenant(name: &str, spec: TenantSpec) -> Tenant {
    Tenant::new(name, spec)
}

#[test]
fn lookups() {
    let mut inv = Inventory::default();
    inv.add_namespace("acme-prod", Some("acme"));
    inv.add_namespace("monitoring", None);
    assert_eq!(inv.namespace("acme-prod"), NamespaceTenancy::Tenant("acme"));
    assert_eq!(inv.namespace("monitoring"), NamespaceTenancy::Platform);
    assert_eq!(inv.namespace("nope"), NamespaceTenancy::Unknown);
    assert!(!inv.tenants_declared());
}

#[test]
fn tenant_settings_fall_back_to_defaults() {
    let settings = Settings::default();
    let mut inv = Inventory::default();
    inv.add_tenant(&tenant(
        "acme",
        TenantSpec {
            vault: Some(TenantVault {
                role: Some("acme-role".into()),
                ..Default::default()
            }),
            egress: Some(TenantEgress {
                allowed_cidrs: vec!["203.0.113.0/24".into()],
                allowed_namespaces: vec![],
            }),
            ..Default::default()
        },
    ));
    let t = inv.tenant("acme", &settings);
    assert_eq!(t.vault_role(), "acme-role");
    assert_eq!(t.vault_secrets_path(), "secret/data/tenants/acme");
    assert_eq!(t.vault_auth_path(), Some("auth/kubernetes"));
    assert_eq!(t.allowed_cidrs().len(), 1);
    let other = inv.tenant("globex", &settings);
    assert!(!other.is_declared());
    assert_eq!(other.vault_role(), "globex");
    assert!(other.allowed_cidrs().is_empty());
}

#[test]
fn foreign_pairs_exclude_own() {
    let mut inv = Inventory::default();
    let mut sel = BTreeMap::new();
    sel.insert("pool".to_string(), "acme".to_string());
    inv.add_tenant(&tenant(
        "acme",
        TenantSpec {
            node_selector: sel,
            ..Default::default()
        },
    ));
    assert_eq!(inv.foreign_node_pairs("acme").count(), 0);
    assert_eq!(
        inv.foreign_node_pairs("globex").collect::<Vec<_>>(),
        [("acme", "pool", "acme")]
    );
}

#[test]
fn owners_and_onboarding() {
    let spec: TenantSpec = serde_yaml_ng::from_str(
        "owners: [{kind: Group, name: acme-admins}, {kind: ServiceAccount, name: ci, namespace: acme-ci}]",
    )
    .unwrap();
    let mut inv = Inventory::default();
    inv.add_tenant(&tenant("acme", spec));
    let ci = "system:serviceaccount:acme-ci:ci";
    let none: Vec<String> = vec![];
    // acme-ci does not exist yet: whoever creates it would control `ci`.
    assert!(!inv.is_owner("acme", ci, &none));
    assert_eq!(inv.owned_tenants(ci, &none).count(), 0);
    assert_eq!(inv.owner_problems("acme").len(), 1);
    inv.add_namespace("acme-ci", Some("globex"));
    assert!(
        !inv.is_owner("acme", ci, &none),
        "another tenant's namespace"
    );
    inv.record_namespace("acme-ci", Some("acme"), true);
    assert!(inv.is_owner("acme", ci, &none));
    assert!(inv.owner_problems("acme").is_empty());
    assert!(inv.is_owner("acme", "x", &["acme-admins".to_string()]));
    // Onboarded is kept per namespace, and only for tenant namespaces.
    assert!(inv.is_onboarded("acme-ci"));
    inv.record_namespace("monitoring", None, true);
    assert!(!inv.is_onboarded("monitoring"));
    inv.record_namespace("empty", Some(""), true);
    assert_eq!(
        inv.namespace("empty"),
        NamespaceTenancy::Platform,
        "\"\" names no tenant"
    );
    let mut copy = Inventory::default();
    copy.merge(inv.clone());
    assert!(
        copy.is_onboarded("acme-ci"),
        "merge keeps the onboarded bit"
    );
}

/// The per-tenant count follows every add, relabel and removal.
#[test]
fn tenant_namespace_counts() {
    let mut inv = Inventory::default();
    inv.add_namespace("a1", Some("acme"));
    inv.add_namespace("a2", Some("acme"));
    inv.add_namespace("g1", Some("globex"));
    inv.add_namespace("p", None);
    inv.add_namespace("e", Some(""));
    assert_eq!(inv.tenant_namespace_count("acme"), 2);
    assert_eq!(inv.tenant_namespace_count("globex"), 1);
    assert_eq!(inv.tenant_namespace_count(""), 0);
    inv.add_namespace("a2", Some("acme"));
    assert_eq!(
        inv.tenant_namespace_count("acme"),
        2,
        "re-recorded, not added"
    );
    inv.add_namespace("a2", Some("globex"));
    assert_eq!(inv.tenant_namespace_count("acme"), 1);
    assert_eq!(inv.tenant_namespace_count("globex"), 2);
    inv.add_namespace("p", Some("acme"));
    inv.add_namespace("a1", None);
    assert_eq!(inv.tenant_namespace_count("acme"), 1);
    inv.remove_namespace("g1");
    inv.remove_namespace("g1");
    inv.remove_namespace("nope");
    assert_eq!(inv.tenant_namespace_count("globex"), 1);
    let mut copy = Inventory::default();
    copy.add_namespace("p", Some("globex"));
    copy.merge(inv.clone());
    assert_eq!(copy.tenant_namespace_count("acme"), 1);
    assert_eq!(copy.tenant_namespace_count("globex"), 1);
    assert_eq!(
        copy.tenant_namespace_count("acme") + copy.tenant_namespace_count("globex"),
        copy.namespaces().filter(|(_, t)| t.is_some()).count()
    );
}

/// The owner index finds exactly the tenants a scan of every tenant's
/// owners finds: users, groups and ServiceAccounts (by the username they
/// authenticate as), each tenant once, and it follows re-declarations.
#[test]
fn owned_tenants_from_the_index() {
    let spec = |owners: &str| -> TenantSpec {
        serde_yaml_ng::from_str(&format!("owners: {owners}")).unwrap()
    };
    let mut inv = Inventory::default();
    inv.add_namespace("acme-ci", Some("acme"));
    inv.add_namespace("globex-ci", Some("globex"));
    inv.add_tenant(&tenant("acme", spec("[{kind: User, name: alice}, {kind: Group, name: devs}, {kind: ServiceAccount, name: ci, namespace: acme-ci}]")));
    inv.add_tenant(&tenant(
        "globex",
        spec("[{kind: Group, name: devs}, {kind: Group, name: ops}]"),
    ));
    // A ServiceAccount owner in another tenant's namespace is not honoured.
    inv.add_tenant(&tenant(
        "initech",
        spec("[{kind: ServiceAccount, name: ci, namespace: globex-ci}]"),
    ));
    let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("a user", "alice", &[], &["acme"]),
        (
            "a user in a group of both",
            "alice",
            &["devs"],
            &["acme", "globex"],
        ),
        ("a group", "bob", &["ops", "other"], &["globex"]),
        (
            "a ServiceAccount",
            "system:serviceaccount:acme-ci:ci",
            &[],
            &["acme"],
        ),
        (
            "a ServiceAccount not honoured",
            "system:serviceaccount:globex-ci:ci",
            &[],
            &[],
        ),
        ("a user named like a group", "devs", &[], &[]),
        ("nobody", "mallory", &["ALICE", "Devs"], &[]),
    ];
    for (name, user, g, want) in cases {
        let g = groups(g);
        let mut got: Vec<&str> = inv.owned_tenants(user, &g).collect();
        let mut scan: Vec<&str> = inv
            .tenant_names()
            .filter(|t| inv.is_owner(t, user, &g))
            .collect();
        got.sort_unstable();
        scan.sort_unstable();
        assert_eq!(got, *want, "{name}");
        assert_eq!(got, scan, "{name}: the index agrees with a scan");
    }
    // Re-declared without alice, then removed: the index follows.
    inv.add_tenant(&tenant("acme", spec("[{kind: Group, name: devs}]")));
    assert_eq!(inv.owned_tenants("alice", &[]).count(), 0);
    assert_eq!(inv.owned_tenants("x", &groups(&["devs"])).count(), 2);
    inv.remove_tenant("globex");
    assert_eq!(
        inv.owned_tenants("x", &groups(&["devs", "ops"]))
            .collect::<Vec<_>>(),
        ["acme"]
    );
}

/// A snapshot is a clone of a few pointers; changing the master afterwards
/// copies what changes and never shows through the snapshot.
#[test]
fn snapshots_do_not_see_later_changes() {
    let mut master = Inventory::default();
    master.add_namespace("a1", Some("acme"));
    master.add_tenant(&tenant("acme", TenantSpec::default()));
    let snapshot = master.clone();
    master.add_namespace("a2", Some("acme"));
    master.add_namespace("a1", Some("globex"));
    master.remove_tenant("acme");
    master.claims_mut();
    assert_eq!(snapshot.namespace_count(), 1);
    assert_eq!(snapshot.tenant_of("a1"), Some("acme"));
    assert!(snapshot.is_declared("acme"));
    assert_eq!(snapshot.tenant_namespace_count("acme"), 1);
    assert_eq!(master.tenant_of("a1"), Some("globex"));
    assert_eq!(master.tenant_namespace_count("acme"), 1);
    assert!(!master.is_declared("acme"));
}

/// A re-list replaces every namespace (and the counts) at once; tenant
/// names seen before stay known, for metric labels.
#[test]
fn replace_namespaces_is_a_relist() {
    let mut inv = Inventory::default();
    inv.add_namespace("old", Some("initech"));
    inv.add_namespace("a1", Some("acme"));
    inv.replace_namespaces([
        ("a1", Some("globex"), true),
        ("a2", Some("acme"), false),
        ("a2", Some("acme"), true),
        ("p", None, true),
        ("e", Some(""), true),
    ]);
    assert_eq!(inv.namespace_count(), 4);
    assert_eq!(inv.namespace("old"), NamespaceTenancy::Unknown);
    assert_eq!(inv.tenant_of("a1"), Some("globex"));
    assert!(inv.is_onboarded("a1") && inv.is_onboarded("a2"));
    assert!(!inv.is_onboarded("p") && !inv.is_onboarded("e"));
    assert_eq!(inv.namespace("e"), NamespaceTenancy::Platform);
    assert_eq!(inv.tenant_namespace_count("acme"), 1, "a2 counted once");
    assert_eq!(inv.tenant_namespace_count("globex"), 1);
    assert_eq!(inv.tenant_namespace_count("initech"), 0);
    assert!(inv.is_known_tenant("initech"), "seen before the re-list");
}

/// Dedicated-node pairs keep the order tenants were declared in, through a
/// merge, a re-declaration and a removal.
#[test]
fn dedicated_pairs_in_declaration_order() {
    let pool = |v: &str| TenantSpec {
        node_selector: [("pool".to_string(), v.to_string())].into(),
        ..Default::default()
    };
    let mut staged = Inventory::default();
    for t in ["c", "a", "d", "b"] {
        staged.add_tenant(&tenant(t, pool(t)));
    }
    staged.add_tenant(&tenant("plain", TenantSpec::default()));
    let mut inv = Inventory::default();
    inv.add_tenant(&tenant("z", pool("z")));
    inv.merge(staged);
    let order = |inv: &Inventory| {
        inv.foreign_node_pairs("a")
            .map(|(t, _, _)| t.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&inv), ["z", "c", "d", "b"]);
    inv.add_tenant(&tenant("c", pool("c2")));
    inv.remove_tenant("d");
    assert_eq!(order(&inv), ["z", "b", "c"]);
    assert_eq!(
        inv.foreign_node_pairs("b")
            .find(|(t, _, _)| *t == "c")
            .map(|(_, k, v)| (k, v)),
        Some(("pool", "c2"))
    );
}

#[test]
fn node_pairs_by_key_agree_with_the_full_list() {
    let spec = |pairs: &[(&str, &str)]| TenantSpec {
        node_selector: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let agree = |inv: &Inventory| {
        for own in ["a", "b", "c", "nobody"] {
            for key in ["pool", "zone", "gpu", "absent"] {
                let keyed: Vec<_> = inv.foreign_node_pairs_with_key(own, key).collect();
                let scanned: Vec<_> = inv
                    .foreign_node_pairs(own)
                    .filter(|(_, k, _)| *k == key)
                    .collect();
                assert_eq!(keyed, scanned, "own {own}, key {key}");
            }
        }
    };
    let mut inv = Inventory::default();
    inv.add_tenant(&tenant("a", spec(&[("pool", "a"), ("zone", "east")])));
    inv.add_tenant(&tenant("b", spec(&[("pool", "b")])));
    inv.add_tenant(&tenant("c", spec(&[("gpu", "yes"), ("zone", "west")])));
    agree(&inv);
    assert_eq!(
        inv.foreign_node_pairs_with_key("a", "zone")
            .collect::<Vec<_>>(),
        [("c", "zone", "west")]
    );
    // A changed spec replaces the tenant's pairs: the old key is gone.
    inv.add_tenant(&tenant("a", spec(&[("gpu", "a")])));
    agree(&inv);
    assert_eq!(inv.foreign_node_pairs_with_key("b", "pool").count(), 0);
    inv.remove_tenant("c");
    agree(&inv);
    assert_eq!(inv.foreign_node_pairs_with_key("b", "zone").count(), 0);
    let mut staged = Inventory::default();
    staged.add_tenant(&tenant("c", spec(&[("zone", "north")])));
    inv.merge(staged);
    agree(&inv);
    assert_eq!(
        inv.foreign_node_pairs_with_key("b", "gpu")
            .collect::<Vec<_>>(),
        [("a", "gpu", "a")]
    );
}

/// The domains of declared tenants' own host patterns follow every change
/// of their Tenants; tenants without `ingress` are counted as on the
/// Settings' patterns.
#[test]
fn hostname_domains_follow_the_tenants() {
    let hosts =
        |yaml: &str| -> TenantSpec { serde_yaml_ng::from_str(yaml).expect("test tenant spec") };
    let h = |s: &str| crate::hosts::Host::parse(s).expect("test host");
    let owners = |inv: &Inventory, host: &str| {
        let host = h(host);
        let mut v: Vec<String> = inv.hostname_owners(&host).map(String::from).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut inv = Inventory::default();
    inv.add_tenant(&tenant(
        "acme",
        hosts("ingress: {hostnames: ['*.acme.example', 'ACME.example.']}"),
    ));
    inv.add_tenant(&tenant("globex", TenantSpec::default()));
    inv.add_tenant(&tenant("initech", hosts("ingress: {hostnames: []}")));
    assert_eq!(owners(&inv, "shop.acme.example"), ["acme"]);
    assert_eq!(owners(&inv, "*.example"), ["acme"]);
    assert_eq!(inv.tenants_on_settings_hostnames(), 1);
    assert!(inv.is_on_settings_hostnames("globex"));
    assert!(!inv.is_on_settings_hostnames("initech"));
    assert!(!inv.is_on_settings_hostnames("nobody"));
    // Re-declared with other patterns, and globex given its own.
    inv.add_tenant(&tenant(
        "acme",
        hosts("ingress: {hostnames: ['*.acme.test']}"),
    ));
    inv.add_tenant(&tenant(
        "globex",
        hosts("ingress: {hostnames: [globex.example]}"),
    ));
    assert!(owners(&inv, "shop.acme.example").is_empty());
    assert_eq!(owners(&inv, "a.acme.test"), ["acme"]);
    assert_eq!(owners(&inv, "*.example"), ["globex"]);
    assert_eq!(inv.tenants_on_settings_hostnames(), 0);
    inv.remove_tenant("acme");
    inv.remove_tenant("globex");
    assert!(owners(&inv, "*.test").is_empty());
    assert!(owners(&inv, "*.example").is_empty());
}
