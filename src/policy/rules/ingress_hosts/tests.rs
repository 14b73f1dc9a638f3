use serde_json::{json, Value};

use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::Operation;

fn ingress(ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn rules(hosts: &[&str]) -> Value {
    let rules: Vec<Value> = hosts
        .iter()
        .map(|h| json!({"host": h, "http": {"paths": []}}))
        .collect();
    json!({"rules": rules})
}

fn gateway_api(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
        "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// acme (acme-prod, acme-dev), globex (globex-prod), platform monitoring, and
/// the claims of the objects already there.
fn world(acme_spec: &str) -> World {
    let mut w = World::new()
        .with_tenant("acme", acme_spec)
        .with_tenant("globex", "{}");
    w.inventory.add_namespace("legacy", None);
    for obj in [
        ingress(
            "globex-prod",
            "web",
            rules(&["shop.globex.example", "*.wild.example"]),
        ),
        gateway_api(
            "HTTPRoute",
            "globex-prod",
            "api",
            json!({"hostnames": ["api.shared.example"]}),
        ),
        ingress("monitoring", "grafana", rules(&["grafana.example.com"])),
        ingress("acme-dev", "old", rules(&["reuse.acme.example"])),
        ingress("acme-prod", "web", rules(&["web.acme.example"])),
        // A Gateway's listener claims nothing.
        gateway_api(
            "Gateway",
            "legacy",
            "shared",
            json!({"listeners": [{"name": "l", "hostname": "*.gw.example"}]}),
        ),
    ] {
        w.inventory.claims_mut().absorb(&obj);
    }
    w
}

fn paths(w: &World, ns: &str, obj: &Value) -> Vec<String> {
    validate(&w.ctx(ns, obj), &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect()
}

type Case = (&'static str, Value, Vec<&'static str>);

#[test]
#[rustfmt::skip]
fn patterns_catch_alls_and_snippets() {
    let w = world("ingress: {hostnames: ['*.acme.example', acme.apps.example.com]}");
    let r0 = "spec.rules[0].host";
    let cases: Vec<Case> = vec![
        ("host under the wildcard", ingress("acme-prod", "i", rules(&["shop.acme.example"])), vec![]),
        ("exact pattern", ingress("acme-prod", "i", rules(&["acme.apps.example.com"])), vec![]),
        ("case and trailing dot", ingress("acme-prod", "i", rules(&["SHOP.Acme.Example."])), vec![]),
        ("its own wildcard", ingress("acme-prod", "i", rules(&["*.acme.example"])), vec![]),
        ("outside the patterns", ingress("acme-prod", "i", rules(&["shop.initech.example"])), vec![r0]),
        ("two labels under the wildcard", ingress("acme-prod", "i", rules(&["a.b.acme.example"])), vec![r0]),
        ("the wildcard's apex", ingress("acme-prod", "i", rules(&["acme.example"])), vec![r0]),
        ("a suffix look-alike", ingress("acme-prod", "i", rules(&["shop.evilacme.example"])), vec![r0]),
        ("the pattern as a prefix", ingress("acme-prod", "i", rules(&["shop.acme.example.evil.example"])), vec![r0]),
        ("a wider wildcard", ingress("acme-prod", "i", rules(&["*.example"])), vec![r0]),
        ("a narrower wildcard", ingress("acme-prod", "i", rules(&["*.shop.acme.example"])), vec![r0]),
        ("under the exact pattern", ingress("acme-prod", "i", rules(&["x.acme.apps.example.com"])), vec![r0]),
        ("one bad among good", ingress("acme-prod", "i", rules(&["a.acme.example", "evil.example", "b.acme.example"])), vec!["spec.rules[1].host"]),
        ("rule without host", ingress("acme-prod", "i", json!({"rules": [{"http": {"paths": []}}]})), vec![r0]),
        ("rule with an empty host", ingress("acme-prod", "i", rules(&[""])), vec![r0]),
        ("default backend", ingress("acme-prod", "i", json!({"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}})), vec!["spec.defaultBackend"]),
        ("tls host outside", ingress("acme-prod", "i", json!({"rules": [{"host": "a.acme.example"}], "tls": [{"hosts": ["a.acme.example", "shop.globex.example"], "secretName": "s"}]})), vec!["spec.tls[0].hosts[1]", "spec.tls[0].hosts[1]"]),
        ("not a hostname", ingress("acme-prod", "i", rules(&["a..acme.example"])), vec![r0]),
        ("a wildcard in the middle", ingress("acme-prod", "i", rules(&["a.*.acme.example"])), vec![r0]),
        ("percent-encoded dot", ingress("acme-prod", "i", rules(&["a%2eacme.example"])), vec![r0]),
        ("host not a string", ingress("acme-prod", "i", json!({"rules": [{"host": ["a.acme.example"]}]})), vec![r0]),
        ("rules not a list", ingress("acme-prod", "i", json!({"rules": {"host": "a.acme.example"}})), vec!["spec.rules"]),
        ("no rules at all", ingress("acme-prod", "i", json!({})), vec![]),
        ("configuration snippet", {
            let mut i = ingress("acme-prod", "i", rules(&["a.acme.example"]));
            i["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;",
                "nginx.ingress.kubernetes.io/rewrite-target": "/"});
            i
        }, vec!["metadata.annotations.nginx.ingress.kubernetes.io/configuration-snippet"]),
        ("every snippet, any prefix or case", {
            let mut i = ingress("acme-prod", "i", rules(&["a.acme.example"]));
            i["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/server-snippet": "x",
                "nginx.ingress.kubernetes.io/Auth-Snippet": "x", "custom.example/stream-snippet": "x", "nginx.org/location-snippets": "x",
                "nginx.ingress.kubernetes.io/snippet-allowed": "x"});
            i
        }, vec!["metadata.annotations.custom.example/stream-snippet", "metadata.annotations.nginx.ingress.kubernetes.io/Auth-Snippet",
                "metadata.annotations.nginx.ingress.kubernetes.io/server-snippet", "metadata.annotations.nginx.org/location-snippets"]),
        ("HTTPRoute inside", gateway_api("HTTPRoute", "acme-prod", "r", json!({"hostnames": ["a.acme.example"]})), vec![]),
        ("HTTPRoute outside", gateway_api("HTTPRoute", "acme-prod", "r", json!({"hostnames": ["a.acme.example", "a.example"]})), vec!["spec.hostnames[1]"]),
        ("HTTPRoute without hostnames", gateway_api("HTTPRoute", "acme-prod", "r", json!({"rules": []})), vec!["spec.hostnames"]),
        ("HTTPRoute with empty hostnames", gateway_api("HTTPRoute", "acme-prod", "r", json!({"hostnames": []})), vec!["spec.hostnames"]),
        ("GRPCRoute without hostnames", gateway_api("GRPCRoute", "acme-prod", "r", json!({})), vec!["spec.hostnames"]),
        ("TLSRoute outside", gateway_api("TLSRoute", "acme-prod", "r", json!({"hostnames": ["db.example"]})), vec!["spec.hostnames[0]"]),
        ("Gateway listeners", gateway_api("Gateway", "acme-prod", "g", json!({"listeners": [{"name": "a", "hostname": "*.acme.example"}, {"name": "b"}, {"name": "c", "hostname": "x.example"}]})),
            vec!["spec.listeners[1].hostname", "spec.listeners[2].hostname"]),
        ("TCPRoute keeps no hosts", gateway_api("TCPRoute", "acme-prod", "r", json!({})), vec![]),
        ("a Service is out of scope", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}), vec![]),
        ("an Ingress of another group", json!({"apiVersion": "example.com/v1", "kind": "Ingress", "metadata": {"name": "s"}, "spec": {"rules": [{}]}}), vec![]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "acme-prod", &obj), want, "{name}");
    }
}

#[test]
#[rustfmt::skip]
fn other_tenants_claims() {
    // acme declares no patterns: any host no one else claims.
    let w = world("{}");
    let r0 = "spec.rules[0].host";
    let cases: Vec<Case> = vec![
        ("a free host", ingress("acme-prod", "i", rules(&["shop.acme.example"])), vec![]),
        ("another tenant's host", ingress("acme-prod", "i", rules(&["shop.globex.example"])), vec![r0]),
        ("in another case, with a dot", ingress("acme-prod", "i", rules(&["Shop.GLOBEX.example."])), vec![r0]),
        ("a wildcard over another tenant's host", ingress("acme-prod", "i", rules(&["*.globex.example"])), vec![r0]),
        ("a host under another tenant's wildcard", ingress("acme-prod", "i", rules(&["a.wild.example"])), vec![r0]),
        ("the same wildcard", ingress("acme-prod", "i", rules(&["*.wild.example"])), vec![r0]),
        ("a neighbour two labels down", ingress("acme-prod", "i", rules(&["a.b.wild.example"])), vec![]),
        ("a wildcard that does not overlap", ingress("acme-prod", "i", rules(&["*.b.wild.example"])), vec![]),
        ("the wildcard's apex", ingress("acme-prod", "i", rules(&["wild.example"])), vec![]),
        ("a sibling of a claimed name", ingress("acme-prod", "i", rules(&["cart.globex.example"])), vec![]),
        ("a route's host", ingress("acme-prod", "i", rules(&["api.shared.example"])), vec![r0]),
        ("a platform namespace's host", ingress("acme-prod", "i", rules(&["grafana.example.com"])), vec![r0]),
        ("a Gateway listener claims nothing", ingress("acme-prod", "i", rules(&["a.gw.example"])), vec![]),
        ("its own tenant's host elsewhere", ingress("acme-prod", "i", rules(&["reuse.acme.example"])), vec![]),
        ("tls host of another tenant", ingress("acme-prod", "i", json!({"rules": [{"host": "a.acme.example"}], "tls": [{"hosts": ["shop.globex.example"]}]})), vec!["spec.tls[0].hosts[0]"]),
        ("one bad among good", ingress("acme-prod", "i", rules(&["a.acme.example", "b.acme.example", "shop.globex.example"])), vec!["spec.rules[2].host"]),
        ("an HTTPRoute on another tenant's host", gateway_api("HTTPRoute", "acme-prod", "r", json!({"hostnames": ["ok.acme.example", "SHOP.globex.example"]})), vec!["spec.hostnames[1]"]),
        ("a GRPCRoute under another tenant's wildcard", gateway_api("GRPCRoute", "acme-prod", "r", json!({"hostnames": ["x.wild.example"]})), vec!["spec.hostnames[0]"]),
        ("a Gateway listener on another tenant's host", gateway_api("Gateway", "acme-prod", "g", json!({"listeners": [{"name": "a", "hostname": "shop.globex.example"}]})), vec!["spec.listeners[0].hostname"]),
        ("an object with the same name in another namespace", ingress("acme-prod", "web", rules(&["shop.globex.example"])), vec![r0]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "acme-prod", &obj), want, "{name}");
    }
    // globex may use its own hosts, and acme's are now taken for it.
    assert!(paths(&w, "globex-prod", &ingress("globex-prod", "new", rules(&["shop.globex.example"]))).is_empty());
    assert_eq!(paths(&w, "globex-prod", &ingress("globex-prod", "new", rules(&["web.acme.example"]))), ["spec.rules[0].host"]);
}

#[test]
fn an_update_keeps_its_own_hosts() {
    let mut w = world("{}");
    // Another tenant's object of the same name elsewhere does not count as itself.
    let own = ingress(
        "globex-prod",
        "web",
        rules(&["shop.globex.example", "*.wild.example"]),
    );
    let mut ctx = w.ctx("globex-prod", &own);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&own);
    assert!(validate(&ctx, &Params::default()).is_empty());
    // Even when the claim is all the index knows of the namespace (e.g. its
    // namespace was relabelled since): the object is itself.
    w.inventory.add_namespace("globex-prod", Some("acme"));
    let mut ctx = w.ctx("globex-prod", &own);
    ctx.operation = Operation::Update;
    assert!(validate(&ctx, &Params::default()).is_empty());
    let other = ingress("globex-prod", "web2", rules(&["grafana.example.com"]));
    assert_eq!(paths(&w, "globex-prod", &other), ["spec.rules[0].host"]);
}

#[test]
fn settings_patterns_with_the_tenant_name() {
    let mut w = world("ingress: {hostnames: [acme.example]}");
    w.settings.ingress_hostnames = vec!["*.{tenant}.apps.example.com".into()];
    let i = |host: &str| ingress("globex-prod", "i", rules(&[host]));
    assert!(paths(&w, "globex-prod", &i("shop.globex.apps.example.com")).is_empty());
    assert_eq!(
        paths(&w, "globex-prod", &i("shop.acme.apps.example.com")),
        ["spec.rules[0].host"]
    );
    // The Tenant's own list replaces the Settings' patterns.
    let a = |host: &str| ingress("acme-prod", "i", rules(&[host]));
    assert!(paths(&w, "acme-prod", &a("acme.example")).is_empty());
    assert_eq!(
        paths(&w, "acme-prod", &a("shop.acme.apps.example.com")),
        ["spec.rules[0].host"]
    );
}

#[test]
fn messages_name_the_host_not_the_other_tenant() {
    let w = world("ingress: {hostnames: ['*.acme.example']}");
    let obj = ingress("acme-prod", "i", rules(&["x.wild.example"]));
    let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
    let msgs: Vec<&str> = v.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "spec.rules[0].host: host x.wild.example is outside the hostnames of tenant \"acme\" (*.acme.example); use a host they cover, or ask the platform team to add it to the Tenant's spec.ingress.hostnames",
            "spec.rules[0].host: host x.wild.example is already claimed by an Ingress or route outside tenant \"acme\" (it overlaps *.wild.example); a shared ingress controller would send one tenant's traffic to the other. Choose another host",
        ]
    );
    assert!(msgs.iter().all(|m| !m.contains("globex")), "{msgs:?}");
    let obj = ingress("acme-prod", "i", json!({"rules": [{}]}));
    let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
    assert_eq!(v[0].message, "spec.rules[0].host: this Ingress rule has no host, so it catches every host, other tenants' included; set host");
}

fn annotated(ns: &str, annotations: Value) -> Value {
    let mut i = ingress(ns, "i", rules(&["x.acme.example"]));
    i["metadata"]["annotations"] = annotations;
    i
}

#[test]
#[rustfmt::skip]
fn annotations_naming_another_namespace() {
    // acme owns acme-prod and acme-dev; kube-system and monitoring are the
    // platform's; globex-prod is globex's; nowhere is unknown.
    let mut w = world("{}");
    w.inventory.add_namespace("acme-system", Some("acme"));
    w.settings.exempt_namespaces.push("acme-system".into());
    let a = |k: &str| format!("metadata.annotations.nginx.ingress.kubernetes.io/{k}");
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        ("a bare name", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret": "htpasswd"})), vec![]),
        ("its own namespace", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-tls-secret": "acme-prod/ca"})), vec![]),
        ("another namespace of the tenant", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/proxy-ssl-secret": "acme-dev/client"})), vec![]),
        ("an empty namespace is the own", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/custom-headers": "/headers"})), vec![]),
        ("an empty value", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret": ""})), vec![]),
        ("another tenant's Secret", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret": "globex-prod/htpasswd"})), vec![a("auth-secret")]),
        ("kube-system", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-tls-secret": "kube-system/ca"})), vec![a("auth-tls-secret")]),
        ("a platform namespace", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/proxy-ssl-secret": "monitoring/client"})), vec![a("proxy-ssl-secret")]),
        ("an unknown namespace", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-proxy-set-headers": "nowhere/h"})), vec![a("auth-proxy-set-headers")]),
        ("an exempt namespace labelled for the tenant", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/fastcgi-params-configmap": "acme-system/p"})), vec![a("fastcgi-params-configmap")]),
        ("padded with spaces and newlines", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/custom-headers": "  globex-prod/h \n"})), vec![a("custom-headers")]),
        ("a custom prefix", annotated("acme-prod", json!({"custom.example/auth-secret": "globex-prod/htpasswd"})), vec!["metadata.annotations.custom.example/auth-secret".to_string()]),
        ("the old prefix", annotated("acme-prod", json!({"ingress.kubernetes.io/auth-secret": "kube-system/x"})), vec!["metadata.annotations.ingress.kubernetes.io/auth-secret".to_string()]),
        ("a case the controller never reads", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/Auth-Secret": "globex-prod/htpasswd"})), vec![]),
        ("a look-alike name", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret-type": "globex-prod/x", "nginx.ingress.kubernetes.io/my-auth-secret": "globex-prod/x"})), vec![]),
        ("two slashes cannot be read", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret": "acme-prod/a/b"})), vec![a("auth-secret")]),
        ("not a string", annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-secret": ["globex-prod/x"]})), vec![a("auth-secret")]),
        ("one bad among good", annotated("acme-prod", json!({
            "nginx.ingress.kubernetes.io/auth-secret": "htpasswd",
            "nginx.ingress.kubernetes.io/auth-tls-secret": "globex-prod/ca",
            "nginx.ingress.kubernetes.io/proxy-ssl-secret": "acme-dev/client",
            "nginx.ingress.kubernetes.io/custom-headers": "kube-system/h"})), vec![a("auth-tls-secret"), a("custom-headers")]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "acme-prod", &obj), want, "{name}");
    }
    // Only Ingresses carry them: a route's annotations mean nothing to ingress-nginx.
    let mut r = gateway_api("HTTPRoute", "acme-prod", "r", json!({"hostnames": ["x.acme.example"]}));
    r["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/auth-secret": "globex-prod/x"});
    assert!(paths(&w, "acme-prod", &r).is_empty());
    // The message names the annotation, what it names, why and the fix.
    let obj = annotated("acme-prod", json!({"nginx.ingress.kubernetes.io/auth-tls-secret": "kube-system/ca"}));
    let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
    assert_eq!(v[0].message, "metadata.annotations.nginx.ingress.kubernetes.io/auth-tls-secret: names Secret \"ca\" in namespace \"kube-system\", which is not a namespace of tenant \"acme\"; the shared ingress controller reads it with its own cluster-wide access, so this Ingress would use another tenant's (or the platform's) Secret. Create the Secret in namespace \"acme-prod\" and name it without a namespace (\"ca\")");
}

/// acme holds `*.acme.example` and `acme.apps.example.com`, initech nothing,
/// hooli `*.hooli.example` and `*.shared.acme.example` (inside acme's).
fn domains_world() -> World {
    let mut w = World::new()
        .with_tenant(
            "acme",
            "ingress: {hostnames: ['*.acme.example', acme.apps.example.com]}",
        )
        .with_tenant("initech", "{}")
        .with_tenant(
            "hooli",
            "ingress: {hostnames: ['*.hooli.example', '*.shared.acme.example']}",
        );
    w.inventory.add_namespace("initech-prod", Some("initech"));
    w.inventory.add_namespace("hooli-prod", Some("hooli"));
    w
}

#[test]
#[rustfmt::skip]
fn hosts_inside_another_tenants_patterns() {
    let w = domains_world();
    let r0 = "spec.rules[0].host";
    let i = |host: &str| ingress("initech-prod", "i", rules(&[host]));
    let cases: Vec<Case> = vec![
        ("a name under acme's wildcard", i("shop.acme.example"), vec![r0]),
        ("in another case with a dot", i("SHOP.Acme.Example."), vec![r0]),
        ("acme's wildcard itself", i("*.acme.example"), vec![r0]),
        ("a wider wildcard over acme's domain", i("*.example"), vec![r0]),
        ("the apex of acme's wildcard", i("acme.example"), vec![r0]),
        ("two labels under acme's wildcard", i("a.b.acme.example"), vec![r0]),
        ("a narrower wildcard inside acme's domain", i("*.b.acme.example"), vec![r0]),
        ("acme's exact pattern", i("acme.apps.example.com"), vec![r0]),
        ("a name under acme's exact pattern", i("x.acme.apps.example.com"), vec![r0]),
        ("a wildcard over acme's exact pattern", i("*.apps.example.com"), vec![r0]),
        ("a look-alike suffix", i("shop.evilacme.example"), vec![]),
        ("the pattern as a prefix", i("shop.acme.example.evil.example"), vec![]),
        ("a sibling of acme's exact pattern", i("globex.apps.example.com"), vec![]),
        ("the parent of acme's exact pattern", i("apps.example.com"), vec![]),
        ("an unrelated wildcard", i("*.initech.example"), vec![]),
        ("an unrelated name", i("shop.initech.example"), vec![]),
        ("one bad among good", ingress("initech-prod", "i", rules(&["a.initech.example", "a.hooli.example", "b.initech.example"])), vec!["spec.rules[1].host"]),
        ("tls hosts too", ingress("initech-prod", "i", json!({"rules": [{"host": "a.initech.example"}], "tls": [{"hosts": ["a.initech.example", "*.acme.example"]}]})), vec!["spec.tls[0].hosts[1]"]),
        ("an HTTPRoute", gateway_api("HTTPRoute", "initech-prod", "r", json!({"hostnames": ["ok.initech.example", "api.acme.example"]})), vec!["spec.hostnames[1]"]),
        ("a GRPCRoute", gateway_api("GRPCRoute", "initech-prod", "r", json!({"hostnames": ["*.hooli.example"]})), vec!["spec.hostnames[0]"]),
        ("a TLSRoute", gateway_api("TLSRoute", "initech-prod", "r", json!({"hostnames": ["db.acme.apps.example.com"]})), vec!["spec.hostnames[0]"]),
        ("a Gateway listener", gateway_api("Gateway", "initech-prod", "g", json!({"listeners": [{"name": "a", "hostname": "*.acme.example"}, {"name": "b", "hostname": "x.initech.example"}]})), vec!["spec.listeners[0].hostname"]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "initech-prod", &obj), want, "{name}");
    }
    // Overlapping grants stay allowed: hooli's own pattern covers a name
    // inside acme's domain, and acme's own covers it too.
    let h = |host: &str| ingress("hooli-prod", "i", rules(&[host]));
    assert!(paths(&w, "hooli-prod", &h("x.shared.acme.example")).is_empty());
    assert!(paths(&w, "acme-prod", &ingress("acme-prod", "i", rules(&["shared.acme.example"]))).is_empty());
    // A tenant with patterns is held to its own (one violation, not two).
    assert_eq!(paths(&w, "hooli-prod", &h("shop.acme.example")), [r0]);
    // The message does not name the other tenant or its patterns.
    let v = validate(&w.ctx("initech-prod", &i("*.example")), &Params::default());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "spec.rules[0].host: host *.example reaches into the hostnames the platform handed to another tenant; the names under them are that tenant's even before it uses them. Choose a host outside them, or ask the platform team to give tenant \"initech\" hostnames of its own (the Tenant's spec.ingress.hostnames)");
    assert!(!v[0].message.contains("acme"));
    // An UPDATE keeps the hosts the object had (acme's patterns may have
    // grown since it took them); a host it adds is judged.
    let before = ingress("initech-prod", "web", rules(&["shop.acme.example", "*.initech.example"]));
    let after = ingress("initech-prod", "web", rules(&["SHOP.acme.example.", "*.initech.example", "new.acme.example"]));
    let mut ctx = w.ctx("initech-prod", &after);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&before);
    let got: Vec<String> = validate(&ctx, &Params::default()).into_iter().map(|v| v.path).collect();
    assert_eq!(got, ["spec.rules[2].host"]);
    let listener = |h: &str| gateway_api("Gateway", "initech-prod", "g", json!({"listeners": [{"name": "a", "hostname": h}]}));
    let (before, after) = (listener("*.acme.example"), listener("*.acme.example"));
    let mut ctx = w.ctx("initech-prod", &after);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&before);
    assert!(validate(&ctx, &Params::default()).is_empty());
    // A CREATE carrying an old object (never sent) keeps nothing.
    let mut ctx = w.ctx("initech-prod", &after);
    ctx.old_object = Some(&before);
    assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    // Once acme's Tenant is gone, its domain is free.
    let mut w = w;
    w.inventory.remove_tenant("acme");
    assert!(paths(&w, "initech-prod", &i("shop.acme.example")).is_empty());
    assert_eq!(paths(&w, "initech-prod", &i("shop.hooli.example")), [r0]);
}

#[test]
#[rustfmt::skip]
fn hosts_inside_the_settings_patterns_of_another_tenant() {
    // globex takes the Settings' patterns; initech opted out with an empty list.
    let mut w = World::new()
        .with_tenant("globex", "{}")
        .with_tenant("initech", "ingress: {hostnames: []}");
    w.inventory.add_namespace("initech-prod", Some("initech"));
    w.settings.ingress_hostnames = vec!["*.{tenant}.apps.example.com".into(), "shared.example.com".into()];
    let r0 = "spec.rules[0].host";
    let i = |host: &str| ingress("initech-prod", "i", rules(&[host]));
    let cases: Vec<Case> = vec![
        ("a name in globex's domain", i("shop.globex.apps.example.com"), vec![r0]),
        ("globex's wildcard", i("*.globex.apps.example.com"), vec![r0]),
        ("the apex of globex's", i("globex.apps.example.com"), vec![r0]),
        ("a wildcard over every tenant's", i("*.apps.example.com"), vec![r0]),
        ("a wildcard over all of it", i("*.example.com"), vec![r0]),
        ("the shared exact pattern", i("shared.example.com"), vec![r0]),
        ("under the shared exact pattern", i("x.shared.example.com"), vec![r0]),
        ("a tenant that does not exist", i("shop.nobody.apps.example.com"), vec![]),
        ("its own name in the template", i("shop.initech.apps.example.com"), vec![]),
        ("an unrelated host", i("shop.initech.example"), vec![]),
        ("a wildcard cutting into the name of no tenant", i("*.x.apps.example.com"), vec![]),
    ];
    for (name, obj, want) in cases {
        assert_eq!(paths(&w, "initech-prod", &obj), want, "{name}");
    }
    // A tenant name with a dot, under a wildcard that cuts into it.
    let mut w = w.with_tenant("eu.hooli", "{}");
    assert_eq!(paths(&w, "initech-prod", &i("*.hooli.apps.example.com")), [r0]);
    // Every other tenant with patterns of its own: the Settings' hand out nothing.
    w.inventory.remove_tenant("globex");
    w.inventory.remove_tenant("eu.hooli");
    assert!(paths(&w, "initech-prod", &i("shop.globex.apps.example.com")).is_empty());
    assert!(paths(&w, "initech-prod", &i("*.apps.example.com")).is_empty());
}
