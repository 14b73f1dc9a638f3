//! The chart's RBAC (`charts/tenantguard/templates/rbac.yaml`) as data, and
//! a check that every request a test saw is one it grants: the stand-in
//! apiserver authorizes nothing itself, so this is where a missing verb shows.
#![allow(dead_code)]

use serde_json::Value;

use super::apiserver::Call;

/// tenantguard's namespace in the tests (the Role's rules apply only there).
pub const OWN_NAMESPACE: &str = "tenantguard-system";

#[derive(Debug)]
pub struct Rule {
    groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    names: Vec<String>,
    /// Empty: cluster-wide (ClusterRole); else the Role's namespace.
    namespace: String,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The template with its directives dropped and its expressions blanked:
/// what is left of rbac.yaml is plain YAML.
pub fn chart_rules() -> Vec<Rule> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts/tenantguard/templates/rbac.yaml");
    let text = std::fs::read_to_string(&path).expect("the chart's rbac.yaml");
    let mut plain = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("{{") {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            plain.push_str(&rest[..start]);
            plain.push('x');
            rest = rest[start..]
                .find("}}")
                .map_or("", |e| &rest[start + e + 2..]);
        }
        plain.push_str(rest);
        plain.push('\n');
    }
    let mut rules = Vec::new();
    for doc in plain.split("\n---") {
        let v: Value = serde_yaml_ng::from_str(doc).expect("rbac.yaml without its template parts");
        let namespace = match v["kind"].as_str() {
            Some("ClusterRole") => String::new(),
            Some("Role") => OWN_NAMESPACE.to_string(),
            _ => continue,
        };
        for r in v["rules"].as_array().into_iter().flatten() {
            rules.push(Rule {
                groups: strings(r, "apiGroups"),
                resources: strings(r, "resources"),
                verbs: strings(r, "verbs"),
                names: strings(r, "resourceNames"),
                namespace: namespace.clone(),
            });
        }
    }
    assert!(!rules.is_empty(), "no rules found in {}", path.display());
    rules
}

fn grants(rules: &[Rule], call: &Call, verb: &str) -> bool {
    let resource = if call.subresource.is_empty() {
        call.resource.clone()
    } else {
        format!("{}/{}", call.resource, call.subresource)
    };
    rules.iter().any(|r| {
        r.groups.contains(&call.group)
            && r.resources.contains(&resource)
            && r.verbs.iter().any(|v| v == verb)
            && (r.names.is_empty() || r.names.contains(&call.name))
            && (r.namespace.is_empty() || r.namespace == call.namespace)
    })
}

/// Panics naming every call the chart's RBAC would refuse.
pub fn assert_allowed(calls: &[Call]) {
    let rules = chart_rules();
    let mut refused = Vec::new();
    for c in calls {
        let mut verbs = vec![c.verb];
        if c.created {
            verbs.push("create");
        }
        // Binding a ClusterRole needs `bind` on it (RBAC escalation check).
        if c.resource == "rolebindings" && matches!(c.verb, "create" | "update" | "patch") {
            let role = c
                .body
                .as_ref()
                .and_then(|b| b.pointer("/roleRef/name"))
                .and_then(Value::as_str);
            let bind = Call {
                group: "rbac.authorization.k8s.io".into(),
                resource: "clusterroles".into(),
                subresource: String::new(),
                namespace: String::new(),
                name: role.unwrap_or("").into(),
                ..c.clone()
            };
            if !grants(&rules, &bind, "bind") {
                refused.push(format!("bind clusterroles {:?}", bind.name));
            }
        }
        for v in verbs {
            if !grants(&rules, c, v) {
                refused.push(format!(
                    "{v} {}/{}{} in {:?} ({:?})",
                    c.group,
                    c.resource,
                    if c.subresource.is_empty() {
                        String::new()
                    } else {
                        format!("/{}", c.subresource)
                    },
                    c.namespace,
                    c.name
                ));
            }
        }
    }
    refused.sort();
    refused.dedup();
    assert!(refused.is_empty(), "the chart's RBAC refuses: {refused:#?}");
}

/// Every verb the chart grants, as (group, resource, verb, resourceName).
fn granted(rules: &[Rule]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for r in rules {
        for g in &r.groups {
            for res in &r.resources {
                for v in &r.verbs {
                    let names = if r.names.is_empty() {
                        vec![String::new()]
                    } else {
                        r.names.clone()
                    };
                    for n in names {
                        out.push((g.clone(), res.clone(), v.clone(), n));
                    }
                }
            }
        }
    }
    out
}

/// One replica through everything it does: sync, a direct lookup, the
/// controller (apply, create, status, bind), the Lease (create, renew,
/// release), the audit (list every audited kind, apply reports, delete a
/// stale one) and TLS mode self (its Secret and webhook configurations). The
/// chart must grant all of it and nothing it does not use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_grants_exactly_what_is_used() {
    use tenantguard::tenancy::TenancySource;
    let server = super::world();
    server.put(
        serde_json::json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "tenantguard", "namespace": "monitoring",
            "labels": {"app.kubernetes.io/managed-by": "tenantguard"}}}),
    );
    // A pod without limits: the audit sends an Event about it.
    server.put(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "acme-prod"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}}));
    let mut replica = super::Replica::start(&server, "replica-a", true);
    let registry = replica.metrics.registry.clone();
    let engine = std::sync::Arc::new(tenantguard::engine::Engine::default());
    assert!(replica.cluster.start_audit(
        std::sync::Arc::new(move || engine.clone()),
        tenantguard::cluster::audit_scan::ScanOptions::new(std::time::Duration::from_secs(3600)),
        &registry,
    ));
    super::eventually("the audit's Event", || {
        server
            .calls()
            .iter()
            .any(|c| c.resource == "events" && c.verb == "create")
            .then_some(())
    })
    .await;
    super::eventually("the audit to remove a stale report", || {
        server
            .get("policyreports", "monitoring", "tenantguard")
            .is_none()
            .then_some(())
    })
    .await;
    let tenancy = replica.cluster.tenancy();
    super::eventually("the baseline and a status", || {
        let t = server.get("tenants", "", "acme")?;
        (server
            .get("rolebindings", "acme-prod", "tenantguard-owners")
            .is_some()
            && !t["status"].is_null())
        .then_some(())
    })
    .await;
    // A renewal (update) of the Lease, and a namespace the cache has not seen.
    super::eventually("a renewal", || {
        server
            .calls()
            .iter()
            .any(|c| c.resource == "leases" && c.verb == "update")
            .then_some(())
    })
    .await;
    tenancy.resolve("not-yet-cached").await;
    // TLS mode self, with the names the blanked template expressions read
    // as: the Secret (create, get, update) and both configurations (get, patch).
    super::selftls::exercise(&server, "x").await;
    replica.stop().await;
    let calls = server.calls();
    assert_allowed(&calls);
    let rules = chart_rules();
    let used = |(g, r, v, n): &(String, String, String, String)| {
        calls.iter().any(|c| {
            let res = if c.subresource.is_empty() {
                c.resource.clone()
            } else {
                format!("{}/{}", c.resource, c.subresource)
            };
            let bind = v == "bind"
                && c.resource == "rolebindings"
                && c.body
                    .as_ref()
                    .and_then(|b| b.pointer("/roleRef/name"))
                    .and_then(Value::as_str)
                    == Some(n.as_str());
            bind || (c.group == *g
                && res == *r
                && (c.verb == v || (v == "create" && c.created))
                && (n.is_empty() || c.name == *n))
        })
    };
    let unused: Vec<_> = granted(&rules).into_iter().filter(|g| !used(g)).collect();
    assert!(
        unused.is_empty(),
        "the chart grants what tenantguard never uses: {unused:#?}"
    );
}
