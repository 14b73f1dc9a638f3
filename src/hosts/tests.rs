use proptest::prelude::*;
use serde_json::json;

use super::*;

fn h(s: &str) -> Host {
    Host::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
#[rustfmt::skip]
fn parse_and_normalise() {
    let ok = [
        ("Shop.ACME.example", Host::Exact("shop.acme.example".into())),
        ("shop.acme.example.", Host::Exact("shop.acme.example".into())),
        ("*.Acme.Example.", Host::Wildcard("acme.example".into())),
        ("localhost", Host::Exact("localhost".into())),
        ("*.com", Host::Wildcard("com".into())),
        ("a-1.b2.example", Host::Exact("a-1.b2.example".into())),
    ];
    for (s, want) in ok {
        assert_eq!(Host::parse(s), Ok(want), "{s}");
    }
    let bad = [
        ("", HostError::Empty),
        (".", HostError::Empty),
        ("*", HostError::MisplacedWildcard),
        ("*.", HostError::MisplacedWildcard),
        ("a.*.example", HostError::MisplacedWildcard),
        ("*a.example", HostError::MisplacedWildcard),
        ("**.example", HostError::MisplacedWildcard),
        ("*.*.example", HostError::MisplacedWildcard),
        ("a..example", HostError::BadLabel("".into())),
        ("a.example..", HostError::BadLabel("".into())),
        ("-a.example", HostError::BadLabel("-a".into())),
        ("a_b.example", HostError::BadLabel("a_b".into())),
        ("a b.example", HostError::BadLabel("a b".into())),
        ("shöp.example", HostError::BadLabel("shöp".into())),
        ("a%2eexample", HostError::BadLabel("a%2eexample".into())),
        ("10.0.0.1:80", HostError::BadLabel("1:80".into())),
    ];
    for (s, want) in bad {
        assert_eq!(Host::parse(s), Err(want), "{s:?}");
    }
    assert_eq!(Host::parse(&"a".repeat(64)), Err(HostError::BadLabel("a".repeat(64))));
    let long = vec!["a".repeat(63); 4].join(".");
    assert_eq!(Host::parse(&long), Err(HostError::TooLong));
    assert_eq!(h("*.Acme.example").to_string(), "*.acme.example");
}

#[test]
#[rustfmt::skip]
fn overlaps_table() {
    let cases = [
        ("a.acme.example", "a.acme.example", true),
        ("A.acme.example.", "a.acme.example", true),
        ("a.acme.example", "b.acme.example", false),
        ("*.acme.example", "a.acme.example", true),
        ("*.acme.example", "acme.example", false),
        ("*.acme.example", "a.b.acme.example", false),
        ("*.acme.example", "a.acme.example.evil", false),
        ("*.acme.example", "xacme.example", false),
        ("*.acme.example", "*.acme.example", true),
        ("*.acme.example", "*.a.acme.example", false),
        ("*.acme.example", "*.example", false),
        ("*.acme.example", "*.globex.example", false),
    ];
    for (a, b, want) in cases {
        assert_eq!(h(a).overlaps(&h(b)), want, "{a} ~ {b}");
        assert_eq!(h(b).overlaps(&h(a)), want, "{b} ~ {a} (symmetric)");
    }
}

#[test]
#[rustfmt::skip]
fn patterns_allow() {
    let cases = [
        ("*.acme.example", "shop.acme.example", true),
        ("*.acme.example", "SHOP.acme.example.", true),
        ("*.acme.example", "acme.example", false),
        ("*.acme.example", "a.shop.acme.example", false),
        ("*.acme.example", "shop.acme.example.evil.example", false),
        ("*.acme.example", "shopacme.example", false),
        ("*.acme.example", "*.acme.example", true),
        ("*.acme.example", "*.shop.acme.example", false),
        ("*.acme.example", "*.example", false),
        ("acme.apps.example.com", "acme.apps.example.com", true),
        ("acme.apps.example.com", "x.acme.apps.example.com", false),
        ("acme.apps.example.com", "*.apps.example.com", false),
    ];
    for (p, host, want) in cases {
        assert_eq!(pattern_allows(&[p], &h(host)), want, "{p} allows {host}");
    }
    assert!(!pattern_allows::<&str>(&[], &h("a.example")), "no pattern, nothing allowed");
    assert!(!pattern_allows(&["not a pattern"], &h("a.example")));
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?"
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

fn host() -> impl Strategy<Value = Host> {
    (name(), any::<bool>()).prop_map(|(n, w)| if w { Host::Wildcard(n) } else { Host::Exact(n) })
}

/// Whether two claims overlap, by brute force over the names they match
/// with one extra label from a small alphabet (what a wildcard covers).
fn matched(host: &Host, name: &str) -> bool {
    match host {
        Host::Exact(h) => h == name,
        Host::Wildcard(s) => name
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == s),
    }
}

proptest! {
    #[test]
    fn normalising_is_idempotent_and_case_blind(n in name(), w in any::<bool>(), dot in any::<bool>()) {
        let raw = format!("{}{n}{}", if w { "*." } else { "" }, if dot { "." } else { "" });
        let parsed = Host::parse(&raw.to_ascii_uppercase()).unwrap();
        prop_assert_eq!(&parsed, &Host::parse(&raw).unwrap());
        prop_assert_eq!(Host::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn overlap_means_a_shared_name(a in host(), b in host(), first in label()) {
        // Every name either could match: the exact ones and one label under each suffix.
        let mut names = Vec::new();
        for x in [&a, &b] {
            match x {
                Host::Exact(n) => names.push(n.clone()),
                Host::Wildcard(s) => names.push(format!("{first}.{s}")),
            }
        }
        let shared = names.iter().any(|n| matched(&a, n) && matched(&b, n));
        prop_assert_eq!(a.overlaps(&b), shared, "{} ~ {}", a, b);
    }

    #[test]
    fn an_allowed_host_only_matches_names_the_pattern_matches(p in host(), x in host(), first in label()) {
        if p.allows(&x) {
            let n = match &x {
                Host::Exact(n) => n.clone(),
                Host::Wildcard(s) => format!("{first}.{s}"),
            };
            prop_assert!(matched(&p, &n), "{} allows {} but not {}", p, x, n);
        }
    }

    #[test]
    fn the_index_finds_what_brute_force_finds(claims in prop::collection::vec((host(), 0u8..4), 0..30), q in host()) {
        let mut idx = HostClaims::new();
        for (hst, obj) in &claims {
            let r = ClaimRef::new("ns", ClaimKind::Ingress, &format!("o{obj}"));
            let mut hs = idx.claimed_by(&r).to_vec();
            hs.push(hst.clone());
            hs.sort();
            hs.dedup();
            idx.set(r, hs);
        }
        let mut found: Vec<_> = idx.overlapping(&q).into_iter().map(|(h, c)| (h.clone(), c.name.clone())).collect();
        found.sort();
        let mut want: Vec<_> = claims.iter().filter(|(hst, _)| hst.overlaps(&q)).map(|(hst, o)| (hst.clone(), format!("o{o}"))).collect();
        want.sort();
        want.dedup();
        prop_assert_eq!(found, want);
    }
}

#[test]
fn claims_follow_updates_and_deletes() {
    let mut idx = HostClaims::new();
    let web = ClaimRef::new("globex-prod", ClaimKind::Ingress, "web");
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "globex-prod"},
        "spec": {"rules": [{"host": "Shop.Globex.example."}, {}],
                 "tls": [{"hosts": ["shop.globex.example", "*.globex.example"]}]}});
    assert!(idx.absorb(&ing));
    assert_eq!(
        idx.claimed_by(&web),
        [h("shop.globex.example"), h("*.globex.example")]
    );
    assert_eq!(idx.overlapping(&h("x.globex.example")).len(), 1);
    assert_eq!(
        idx.overlapping(&h("*.globex.example")).len(),
        2,
        "the wildcard and the name under it"
    );
    // An update replaces what it claimed.
    let mut moved = ing.clone();
    moved["spec"] = json!({"rules": [{"host": "new.globex.example"}]});
    idx.absorb(&moved);
    assert!(idx.overlapping(&h("shop.globex.example")).is_empty());
    assert_eq!(idx.overlapping(&h("*.globex.example")).len(), 1);
    idx.remove(&web);
    assert!(idx.is_empty());
    assert!(
        idx.overlapping(&h("*.globex.example")).is_empty(),
        "children forgotten too"
    );
    // Gateways and other kinds claim nothing.
    let gw = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "infra"},
        "spec": {"listeners": [{"hostname": "*.apps.example"}]}});
    assert!(!idx.absorb(&gw));
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "acme-prod"}, "spec": {"hostnames": ["a.apps.example"]}});
    assert!(idx.absorb(&route));
    assert_eq!(idx.objects(), 1);
}

#[test]
fn fields_and_their_paths() {
    let ing = json!({"spec": {"rules": [{"host": "a.example"}, {"http": {}}, {"host": 5}],
        "tls": [{"hosts": ["a.example", ""]}, {}], "defaultBackend": {"service": {}}}});
    let got: Vec<(String, HostValue)> = host_fields("networking.k8s.io", "Ingress", &ing)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.value))
        .collect();
    assert_eq!(
        got,
        [
            ("spec.rules[0].host".into(), HostValue::Named("a.example")),
            (
                "spec.rules[1].host".into(),
                HostValue::CatchAll(CatchAll::IngressRule)
            ),
            ("spec.rules[2].host".into(), HostValue::Malformed),
            ("spec.tls[0].hosts[0]".into(), HostValue::Named("a.example")),
            (
                "spec.defaultBackend".into(),
                HostValue::CatchAll(CatchAll::DefaultBackend)
            ),
        ]
    );
    let route = |spec| {
        let obj = json!({"spec": spec});
        host_fields(GATEWAY_GROUP, "HTTPRoute", &obj)
            .unwrap()
            .into_iter()
            .map(|f| (f.path, format!("{:?}", f.value)))
            .collect::<Vec<_>>()
    };
    let catch_all = ("spec.hostnames".to_string(), "CatchAll(Route)".to_string());
    assert_eq!(route(json!({})), std::slice::from_ref(&catch_all));
    assert_eq!(route(json!({"hostnames": []})), [catch_all]);
    assert_eq!(
        route(json!({"hostnames": "a"})),
        [("spec.hostnames".to_string(), "Malformed".to_string())]
    );
    let gw = json!({"spec": {"listeners": [{"hostname": "*.a.example"}, {"name": "all"}]}});
    let gw = host_fields(GATEWAY_GROUP, "Gateway", &gw).unwrap();
    assert_eq!(gw[1].path, "spec.listeners[1].hostname");
    assert_eq!(gw[1].value, HostValue::CatchAll(CatchAll::Listener));
    assert!(!gw[0].claims);
    assert!(host_fields("", "Service", &json!({})).is_none());
    assert!(host_fields(GATEWAY_GROUP, "TCPRoute", &json!({})).is_none());
}

/// ingress-nginx serves the names of a `server-alias` annotation as hosts
/// of the Ingress: each is a host field, under any annotation prefix; the
/// key is matched exactly, as the controller looks it up.
#[test]
fn server_aliases_are_hosts() {
    let key = "nginx.ingress.kubernetes.io/server-alias";
    let ing = json!({"metadata": {"annotations": {
        key: " shop.globex.example ,, *.globex.example,",
        "tg.example/server-alias": "b.example",
        "nginx.ingress.kubernetes.io/Server-Alias": "ignored.example",
        "nginx.ingress.kubernetes.io/server-aliases": "ignored.example",
        "x/server-alias": 7}},
        "spec": {"rules": [{"host": "a.example"}]}});
    let got: Vec<(String, HostValue)> = host_fields("networking.k8s.io", "Ingress", &ing)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.value))
        .collect();
    let at = |k: &str| format!("metadata.annotations.{k}");
    assert_eq!(
        got,
        [
            ("spec.rules[0].host".into(), HostValue::Named("a.example")),
            (at(key), HostValue::Named("shop.globex.example")),
            (at(key), HostValue::Named("*.globex.example")),
            (at("tg.example/server-alias"), HostValue::Named("b.example")),
            (at("x/server-alias"), HostValue::Malformed),
        ]
    );
    // An alias is a claim like a rule's host.
    let mut idx = HostClaims::new();
    let web = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "globex-prod", "annotations": {key: "alias.globex.example"}},
        "spec": {"rules": [{"host": "shop.globex.example"}]}});
    assert!(idx.absorb(&web));
    assert_eq!(idx.overlapping(&h("alias.globex.example")).len(), 1);
}

#[test]
#[rustfmt::skip]
fn reaches_domain_table() {
    let cases = [
        ("acme.example", "acme.example", true),
        ("shop.acme.example", "acme.example", true),
        ("a.b.acme.example", "acme.example", true),
        ("evilacme.example", "acme.example", false),
        ("acme.example.evil", "acme.example", false),
        ("example", "acme.example", false),
        ("*.acme.example", "acme.example", true),
        ("*.b.acme.example", "acme.example", true),
        ("*.example", "acme.example", true),
        ("*.com", "acme.example", false),
        ("*.evilacme.example", "acme.example", false),
        ("*.other.example", "acme.example", false),
    ];
    for (host, root, want) in cases {
        assert_eq!(h(host).reaches_domain(root), want, "{host} ~ {root}");
    }
    assert_eq!(suffixes("a.b.c").collect::<Vec<_>>(), ["a.b.c", "b.c", "c"]);
    assert_eq!(h("*.Acme.example").name(), "acme.example");
}

#[test]
fn domains_index() {
    let mut d: Domains<&str> = Domains::default();
    assert!(d.is_empty());
    d.insert(&"acme", "acme.example");
    d.insert(&"acme", "acme.apps.example.com");
    d.insert(&"hooli", "shared.acme.example");
    fn owners<'a>(d: &Domains<&'a str>, host: &str) -> Vec<&'a str> {
        let host = h(host);
        let mut v: Vec<&str> = d.reached_by(&host).copied().collect();
        v.sort();
        v.dedup();
        v
    }
    assert_eq!(owners(&d, "shop.acme.example"), ["acme"]);
    assert_eq!(owners(&d, "x.shared.acme.example"), ["acme", "hooli"]);
    assert_eq!(owners(&d, "*.example"), ["acme", "hooli"]);
    assert_eq!(owners(&d, "*.acme.example"), ["acme", "hooli"]);
    assert_eq!(owners(&d, "*.apps.example.com"), ["acme"]);
    assert_eq!(owners(&d, "*.com"), ["acme"]);
    assert!(owners(&d, "apps.example.com").is_empty());
    assert!(owners(&d, "evilacme.example").is_empty());
    d.remove(&"acme", "acme.example");
    assert_eq!(owners(&d, "*.example"), ["hooli"]);
    assert!(owners(&d, "shop.acme.example").is_empty());
    d.remove(&"acme", "acme.apps.example.com");
    d.remove(&"hooli", "shared.acme.example");
    assert!(d.is_empty());
}
