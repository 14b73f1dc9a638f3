//! HTTPS end-to-end cases of `ingress-hosts`, through the real server.

use super::*;

/// `ingress-hosts` over HTTPS: claims from `--inventory` (another tenant's
/// Ingress), the tenant's host patterns, catch-all routes, snippets, an
/// UPDATE keeping its own hosts, names inside another tenant's patterns and
/// annotations naming another namespace's Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_hosts_over_https() {
    let claims = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  ingress: {hostnames: ['*.acme.example', '*.shared.example']}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: globex-prod}
spec:
  rules: [{host: shop.shared.example}]
";
    let (_s, mut c, _dir) = common::serve_tenancy(claims).await;
    let user = ["acme-admins", "system:authenticated"];
    let ingress = |ns: &str, name: &str, host: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": host, "http": {"paths": []}}]}})
    };
    let ing = |op: &str, obj: Value, old: Option<Value>| {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        review(
            op,
            "networking.k8s.io",
            "Ingress",
            &ns,
            &user,
            Some(obj),
            old,
        )
    };

    // Inside its patterns and free: admitted.
    allowed(
        &c.post_json(
            "/validate",
            &ing(
                "CREATE",
                ingress("acme-prod", "a", "Shop.Acme.example."),
                None,
            ),
        )
        .await
        .json(),
    );
    // Another tenant's host (from --inventory), in another case: denied, and
    // the message does not name the other tenant.
    let v = c
        .post_json(
            "/validate",
            &ing(
                "CREATE",
                ingress("acme-prod", "a", "SHOP.shared.example"),
                None,
            ),
        )
        .await
        .json();
    denied_by(&v, "ingress-hosts");
    assert!(message(&v).contains("shop.shared.example"), "{v}");
    assert!(!message(&v).contains("globex"), "{v}");
    // Outside its patterns.
    denied_by(
        &c.post_json(
            "/validate",
            &ing("CREATE", ingress("acme-prod", "a", "acme.example"), None),
        )
        .await
        .json(),
        "ingress-hosts",
    );
    // A snippet annotation.
    let mut snippet = ingress("acme-prod", "a", "a.acme.example");
    snippet["metadata"]["annotations"] =
        json!({"nginx.ingress.kubernetes.io/server-snippet": "location / {}"});
    denied_by(
        &c.post_json("/validate", &ing("CREATE", snippet, None))
            .await
            .json(),
        "ingress-hosts",
    );
    // A route without hostnames catches every host.
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "acme-prod"}, "spec": {"rules": []}});
    let r = review(
        "CREATE",
        "gateway.networking.k8s.io",
        "HTTPRoute",
        "acme-prod",
        &user,
        Some(route),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "ingress-hosts");
    assert!(message(&v).contains("spec.hostnames"), "{v}");
    // globex updating its own Ingress keeps its host.
    let own = ingress("globex-prod", "web", "shop.shared.example");
    let r = review(
        "UPDATE",
        "networking.k8s.io",
        "Ingress",
        "globex-prod",
        &["globex-admins", "system:authenticated"],
        Some(own.clone()),
        Some(own),
    );
    allowed(&c.post_json("/validate", &r).await.json());
    // ... but globex (no patterns) takes no new name inside acme's.
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "Ingress",
        "globex-prod",
        &["globex-admins", "system:authenticated"],
        Some(ingress("globex-prod", "web2", "new.shared.example")),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "ingress-hosts");
    assert!(!message(&v).contains("acme"), "{v}");
    // An ingress-nginx annotation naming kube-system's Secret.
    let mut foreign = ingress("acme-prod", "a", "b.acme.example");
    foreign["metadata"]["annotations"] =
        json!({"nginx.ingress.kubernetes.io/auth-tls-secret": "kube-system/ca"});
    let v = c
        .post_json("/validate", &ing("CREATE", foreign, None))
        .await
        .json();
    denied_by(&v, "ingress-hosts");
    assert!(message(&v).contains("auth-tls-secret"), "{v}");
}
