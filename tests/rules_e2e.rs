//! One case per rule over HTTPS against the real server, with the baseline
//! `policies/` and declared tenants: what each rule does reaches the
//! apiserver as it should (denial text with the rule id, or a patch).

mod common;

#[path = "rules_e2e/allow_lists.rs"]
mod allow_lists;
#[path = "rules_e2e/ingress_hosts.rs"]
mod ingress_hosts;
#[path = "rules_e2e/pod_security.rs"]
mod pod_security;

use common::{start, Client, Opts, Proto};
use serde_json::{json, Value};

const TENANTS: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: Group, name: acme-admins}]
  namespaceLabels: {team: acme}
  containerDefaults:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 512Mi}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: globex}
spec:
  owners: [{kind: Group, name: globex-admins}]
  nodeSelector: {pool: globex}
";

fn review(
    op: &str,
    group: &str,
    kind: &str,
    ns: &str,
    groups: &[&str],
    object: Option<Value>,
    old: Option<Value>,
) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("{kind}-{op}"), "kind": {"group": group, "version": "v1", "kind": kind},
        "namespace": ns, "operation": op,
        "name": object.as_ref().or(old.as_ref()).and_then(|o| o["metadata"]["name"].as_str()).unwrap_or(""),
        "userInfo": {"username": "dave", "groups": groups},
        "object": object, "oldObject": old}})
}

fn pod(annotations: Value, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "annotations": annotations}, "spec": {"containers": containers}})
}

fn limited() -> Value {
    json!([{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])
}

/// The object after the response's patch.
fn patched(r: &Value, v: &Value) -> Value {
    let mut obj = r["request"]["object"].clone();
    let p = common::patch_of(v).unwrap_or_else(|| panic!("expected a patch: {v}"));
    json_patch::patch(&mut obj, &p).unwrap();
    obj
}

fn denied_by(v: &Value, rule: &str) {
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(&format!("[{rule}]")),
        "expected [{rule}] in {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_over_https() {
    let (_s, mut c, _dir) = common::serve_tenancy(TENANTS).await;
    let user = ["acme-admins", "system:authenticated"];

    // tenant-labels: a Service gets the tenant label.
    let r = review(
        "CREATE",
        "",
        "Service",
        "acme-prod",
        &user,
        Some(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}})),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    assert_eq!(
        patched(&r, &v)["metadata"]["labels"]["tenantguard.io/tenant"],
        "acme"
    );

    // namespace-labels: an acme owner's new namespace gets acme's labels.
    let r = review(
        "CREATE",
        "",
        "Namespace",
        "",
        &user,
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-new"}})),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let ns = patched(&r, &v);
    assert_eq!(ns["metadata"]["labels"]["tenantguard.io/tenant"], "acme");
    assert_eq!(ns["metadata"]["labels"]["team"], "acme");

    // container-defaults: missing resources are filled from the Tenant.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(json!({}), json!([{"name": "app"}]))),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let p = patched(&r, &v);
    assert_eq!(
        p["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    assert_eq!(
        p["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "100m"
    );

    // vault-injection: vault-secrets become Injector annotations.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(
            json!({"tenantguard.io/vault-secrets": "db, api"}),
            limited(),
        )),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let a = &patched(&r, &v)["metadata"]["annotations"];
    assert_eq!(a["vault.hashicorp.com/agent-inject"], "true");
    assert_eq!(a["vault.hashicorp.com/role"], "acme");
    assert_eq!(
        a["vault.hashicorp.com/agent-inject-secret-api"],
        "secret/data/tenants/acme/api"
    );

    // node-pool: globex pods go to globex's nodes.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "globex-prod",
        &["globex-admins"],
        Some(pod(json!({}), limited())),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    let p = patched(&r, &v);
    assert_eq!(p["spec"]["nodeSelector"]["pool"], "globex");
    assert_eq!(p["spec"]["tolerations"][0]["key"], "pool");

    // require-limits
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(json!({}), json!([{"name": "app"}]))),
        None,
    );
    denied_by(&c.post_json("/validate", &r).await.json(), "require-limits");

    // require-limits, issue 11 holes 4 and 5: a zero limit is no limit and is
    // kept by /mutate; quantities compare exactly; unreadable ones are denied
    // at their path; a zero request under real limits is admitted.
    let limits_case = |resources: Value| {
        review(
            "CREATE",
            "",
            "Pod",
            "acme-prod",
            &user,
            Some(pod(
                json!({}),
                json!([{"name": "app", "resources": resources}]),
            )),
            None,
        )
    };
    let r = limits_case(json!({"limits": {"cpu": "0", "memory": "0Gi"}}));
    let v = c.post_json("/mutate", &r).await.json();
    let res = &patched(&r, &v)["spec"]["containers"][0]["resources"];
    assert_eq!(
        res["limits"],
        json!({"cpu": "0", "memory": "0Gi"}),
        "kept: {v}"
    );
    assert_eq!(res["requests"], json!({"cpu": "0", "memory": "0Gi"}), "{v}");
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "require-limits");
    let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("a zero limit is no limit"), "{msg}");
    assert!(
        msg.contains("resources.limits.cpu") && msg.contains("resources.limits.memory"),
        "{msg}"
    );
    for (requests, path) in [
        (
            json!({"memory": "170141183460469231731687303715884105727e-29"}),
            "resources.requests.memory",
        ),
        (json!({"cpu": "1e1000000"}), "resources.requests.cpu"),
        (json!({"memory": "1.5.Gi"}), "resources.requests.memory"),
    ] {
        let r =
            limits_case(json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": requests}));
        let v = c.post_json("/validate", &r).await.json();
        denied_by(&v, "require-limits");
        let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(path), "{requests}: {msg}");
    }
    let r = limits_case(
        json!({"limits": {"cpu": "1k", "memory": "512Mi"}, "requests": {"cpu": "1e3", "memory": "0"}}),
    );
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // cross-tenant-selectors: ingress from every namespace.
    let np = |spec: Value| json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": spec});
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "cross-tenant-selectors",
    );

    // restrict-egress: egress to the internet.
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "restrict-egress",
    );

    // The baseline DNS policy passes both.
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(np(
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
        )),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // namespace-ownership: an acme owner labelling a namespace for globex.
    let r = review(
        "CREATE",
        "",
        "Namespace",
        "",
        &user,
        Some(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sneaky", "labels": {"tenantguard.io/tenant": "globex"}}}),
        ),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "namespace-ownership",
    );

    // vault-boundaries: another tenant's role.
    let r = review(
        "CREATE",
        "",
        "Pod",
        "acme-prod",
        &user,
        Some(pod(
            json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "globex"}),
            limited(),
        )),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "vault-boundaries",
    );

    // managed-objects: a tenant deleting the controller's NetworkPolicy.
    let mut managed = np(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
    managed["metadata"]["labels"] =
        json!({"app.kubernetes.io/managed-by": "tenantguard", "tenantguard.io/tenant": "acme"});
    let r = review(
        "DELETE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        None,
        Some(managed),
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "managed-objects",
    );
}

/// `policies/` with Settings that name the cluster's pod and Service ranges.
fn policies_with_cluster_cidrs(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("policies");
    std::fs::create_dir(&out).unwrap();
    for entry in std::fs::read_dir(common::repo().join("policies")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, out.join(p.file_name().unwrap())).unwrap();
    }
    let settings = std::fs::read_to_string(out.join("settings.yaml")).unwrap();
    let settings = settings.replace(
        "clusterCIDRs: []",
        "clusterCIDRs: [10.42.0.0/16, 10.43.0.0/16]",
    );
    assert!(
        settings.contains("10.42.0.0/16"),
        "settings.yaml names clusterCIDRs"
    );
    std::fs::write(out.join("settings.yaml"), settings).unwrap();
    out
}

fn allowed(v: &Value) {
    assert_eq!(v["response"]["allowed"], true, "{v}");
}

fn message(v: &Value) -> &str {
    v["response"]["status"]["message"].as_str().unwrap_or("")
}

/// Issue 11, holes 6, 9b and 9c, as the apiserver would send them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_holes_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(
        dir.path(),
        "inv.yaml",
        &format!("{}---\n{TENANTS}", common::INVENTORY),
    );
    let policies = policies_with_cluster_cidrs(dir.path());
    let s = start(Opts {
        inventory: Some(&inv),
        policies: Some(&policies),
        ..Default::default()
    });
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let user = ["acme-admins", "system:authenticated"];

    // Hole 6: acme's own namespace `default` by name alone, then with the pin.
    let np = |sel: Value| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": sel}]}]}})
    };
    let by_name = np(json!({"matchLabels": {"kubernetes.io/metadata.name": "default"}}));
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(by_name),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "cross-tenant-selectors");
    assert!(
        message(&v).contains(
            "names namespace \"default\" of tenant acme by kubernetes.io/metadata.name alone"
        ),
        "{v}"
    );
    let pinned = np(
        json!({"matchLabels": {"kubernetes.io/metadata.name": "default", "tenantguard.io/tenant": "acme"}}),
    );
    let r = review(
        "CREATE",
        "networking.k8s.io",
        "NetworkPolicy",
        "acme-prod",
        &user,
        Some(pinned),
        None,
    );
    allowed(&c.post_json("/validate", &r).await.json());

    // Hole 9b: globex (pool=globex) choosing another pool, by nodeSelector
    // and by required node affinity; its own pool is fine.
    let gpod = |spec: Value| {
        let mut p = pod(json!({}), limited());
        for (k, v) in spec.as_object().unwrap() {
            p["spec"][k] = v.clone();
        }
        p
    };
    let globex = ["globex-admins", "system:authenticated"];
    let r = review(
        "CREATE",
        "",
        "Pod",
        "globex-prod",
        &globex,
        Some(gpod(json!({"nodeSelector": {"pool": "general"}}))),
        None,
    );
    let v = c.post_json("/validate", &r).await.json();
    denied_by(&v, "cross-tenant-selectors");
    assert!(
        message(&v).contains(
            "spec.nodeSelector.pool: \"general\" is another value of tenant globex's pool key pool"
        ),
        "{v}"
    );
    let leave = json!({"nodeSelector": {"pool": "globex"}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["globex"]}]}]}}}});
    let r = review(
        "CREATE",
        "",
        "Pod",
        "globex-prod",
        &globex,
        Some(gpod(leave)),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "cross-tenant-selectors",
    );
    let stay = json!({"nodeSelector": {"pool": "globex", "disktype": "ssd"},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "globex", "effect": "NoSchedule"}]});
    let r = review(
        "CREATE",
        "",
        "Pod",
        "globex-prod",
        &globex,
        Some(gpod(stay)),
        None,
    );
    allowed(&c.post_json("/validate", &r).await.json());

    // Hole 9c, from a captured request: as captured (kube-system) it is not
    // judged; moved into acme-prod with another tenant's pod address it is
    // denied unless the endpoint controller wrote it.
    let captured: Value =
        serde_json::from_str(
            &std::fs::read_to_string(common::repo().join(
                "tests/fixtures/real/endpoints/update-leader-election-by-serviceaccount.json",
            ))
            .unwrap(),
        )
        .unwrap();
    let wrap = |req: &Value| json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req});
    allowed(&c.post_json("/validate", &wrap(&captured)).await.json());
    let mut moved = captured.clone();
    moved["namespace"] = json!("acme-prod");
    for o in ["object", "oldObject"] {
        moved[o]["metadata"]["namespace"] = json!("acme-prod");
    }
    allowed(&c.post_json("/validate", &wrap(&moved)).await.json());
    moved["object"]["subsets"] = json!([{"addresses": [{"ip": "203.0.113.9"}], "notReadyAddresses": [{"ip": "10.42.7.1"}], "ports": [{"port": 80}]}]);
    let v = c.post_json("/validate", &wrap(&moved)).await.json();
    denied_by(&v, "cross-tenant-selectors");
    assert_eq!(v["response"]["uid"], captured["uid"], "{v}");
    assert!(message(&v).contains("subsets[0].notReadyAddresses[0].ip: 10.42.7.1 is inside the cluster's range 10.42.0.0/16"), "{v}");
    moved["userInfo"]["username"] = json!("system:serviceaccount:kube-system:endpoint-controller");
    allowed(&c.post_json("/validate", &wrap(&moved)).await.json());

    // An EndpointSlice labelled as the controller's, written by a tenant.
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "x", "labels": {"kubernetes.io/service-name": "db", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.43.0.10"]}]});
    let r = review(
        "CREATE",
        "discovery.k8s.io",
        "EndpointSlice",
        "acme-prod",
        &user,
        Some(slice),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "cross-tenant-selectors",
    );
}

/// Issue 11, holes 2 and 3, over HTTPS: Vault paths are judged as the Agent
/// reads them (URLs), templates with the delimiters the pod sets, and only
/// the Injector annotations tenantguard can judge are admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_paths_delimiters_and_annotations_over_https() {
    let (_s, mut c, _dir) = common::serve_tenancy(TENANTS).await;
    let user = ["acme-admins", "system:authenticated"];
    let validate = |annotations: Value| {
        review(
            "CREATE",
            "",
            "Pod",
            "acme-prod",
            &user,
            Some(pod(annotations, limited())),
            None,
        )
    };
    let denied = [
        // %-escapes decoded, then ".." resolved: globex's secret.
        json!({"vault.hashicorp.com/agent-inject-secret-db":
            "secret/data/tenants/acme/%2e%2E/%2e%2e/tenants/globex/db"}),
        // A query hides the real path.
        json!({"vault.hashicorp.com/agent-inject-secret-db":
            "secret/data/tenants/globex/db?x=/../../acme/db"}),
        // Custom delimiters hide a foreign read.
        json!({
            "vault.hashicorp.com/agent-template-left-delim-db": "[[",
            "vault.hashicorp.com/agent-template-right-delim-db": "]]",
            "vault.hashicorp.com/agent-inject-template-db":
                "[[ with secret \"secret/data/tenants/globex/db\" ]][[ .Data.data.password ]][[ end ]]",
        }),
        // Annotations off the allow-list.
        json!({"vault.hashicorp.com/auth-config-role": "globex"}),
        json!({"vault.hashicorp.com/agent-inject-command-db": "sh -c id"}),
    ];
    for annotations in denied {
        let v = c
            .post_json("/validate", &validate(annotations.clone()))
            .await
            .json();
        denied_by(&v, "vault-boundaries");
        let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
        let key = annotations
            .as_object()
            .and_then(|m| m.keys().find(|k| !k.contains("delim")))
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains(&key), "{key} not named in {msg}");
    }
    // The clean neighbours: the own path with empty segments and escapes, read
    // with custom delimiters, and annotations that only shape the agent.
    let v = c
        .post_json(
            "/validate",
            &validate(json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "acme",
                "vault.hashicorp.com/agent-inject-secret-db": "secret/data/tenants//%61cme//db",
                "vault.hashicorp.com/agent-template-left-delim-db": "[[",
                "vault.hashicorp.com/agent-template-right-delim-db": "]]",
                "vault.hashicorp.com/agent-inject-template-db":
                    "[[ with secret \"secret/data/tenants/acme/db\" ]][[ .Data.data.password ]][[ end ]]",
                "vault.hashicorp.com/agent-requests-cpu": "50m",
                "vault.hashicorp.com/agent-limits-mem": "128Mi",
                "vault.hashicorp.com/agent-inject-status": "injected",
            })),
        )
        .await
        .json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}

/// A review from `user`, with `resource` as the apiserver sets it.
fn review_as(
    user: (&str, &[&str]),
    op: &str,
    kind: (&str, &str),
    resource: &str,
    ns: &str,
    object: Option<Value>,
    old: Option<Value>,
) -> Value {
    let (group, kind) = kind;
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("{kind}-{op}-{ns}"), "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "namespace": ns, "operation": op,
        "name": object.as_ref().or(old.as_ref()).and_then(|o| o["metadata"]["name"].as_str()).unwrap_or(""),
        "userInfo": {"username": user.0, "groups": user.1},
        "object": object, "oldObject": old}})
}

fn namespace(name: &str, tenant: Option<&str>) -> Value {
    let mut labels = json!({"kubernetes.io/metadata.name": name});
    if let Some(t) = tenant {
        labels["tenantguard.io/tenant"] = json!(t);
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn unjudgeable(v: &Value) -> String {
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert_eq!(v["response"]["status"]["code"], 400, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(!msg.starts_with('['), "no rule id: {msg}");
    msg.to_string()
}

/// Issue 11's holes over HTTPS against the real server: exempt namespaces
/// (1), ServiceAccount owners (7), empty tenant labels (9a) and reviews the
/// apiserver never sends (9d). The onboarding gate (8) needs the cluster's
/// controller: `tests/cluster/serve.rs` covers it over HTTPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_review_holes_over_https() {
    let tenants = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  owners: [{kind: Group, name: acme-admins}, {kind: ServiceAccount, name: ci, namespace: acme-ci}]
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-ci, labels: {tenantguard.io/tenant: acme}}
";
    let (_s, mut c, _dir) = common::serve_tenancy(tenants).await;
    let owner: (&str, &[&str]) = ("dave", &["acme-admins", "system:authenticated"]);
    let admin: (&str, &[&str]) = ("root", &["system:masters", "system:authenticated"]);
    let ns_kind = ("", "Namespace");

    // 1: an owner hands tenantguard's own namespace (or kube-system) to acme.
    for name in ["tenantguard-system", "kube-system"] {
        let r = review_as(
            owner,
            "UPDATE",
            ns_kind,
            "namespaces",
            name,
            Some(namespace(name, Some("acme"))),
            Some(namespace(name, None)),
        );
        denied_by(
            &c.post_json("/validate", &r).await.json(),
            "namespace-ownership",
        );
        let r = review_as(
            owner,
            "DELETE",
            ns_kind,
            "namespaces",
            name,
            None,
            Some(namespace(name, None)),
        );
        denied_by(
            &c.post_json("/validate", &r).await.json(),
            "namespace-ownership",
        );
    }
    let mut relabelled = namespace("kube-system", None);
    relabelled["metadata"]["labels"]["team"] = json!("platform");
    let r = review_as(
        owner,
        "UPDATE",
        ns_kind,
        "namespaces",
        "kube-system",
        Some(relabelled),
        Some(namespace("kube-system", None)),
    );
    assert_eq!(
        c.post_json("/validate", &r).await.json()["response"]["allowed"],
        true,
        "other labels are free"
    );
    let r = review_as(
        admin,
        "UPDATE",
        ns_kind,
        "namespaces",
        "kube-system",
        Some(namespace("kube-system", Some("acme"))),
        Some(namespace("kube-system", None)),
    );
    assert_eq!(
        c.post_json("/validate", &r).await.json()["response"]["allowed"],
        true,
        "admins may"
    );

    // 7: the ServiceAccount owner counts in its tenant's namespace only.
    let ci: (&str, &[&str]) = (
        "system:serviceaccount:acme-ci:ci",
        &["system:serviceaccounts"],
    );
    let r = review_as(
        ci,
        "CREATE",
        ns_kind,
        "namespaces",
        "",
        Some(namespace("acme-new", Some("acme"))),
        None,
    );
    assert_eq!(
        c.post_json("/validate", &r).await.json()["response"]["allowed"],
        true
    );
    let other: (&str, &[&str]) = (
        "system:serviceaccount:globex-prod:ci",
        &["system:serviceaccounts"],
    );
    let r = review_as(
        other,
        "CREATE",
        ns_kind,
        "namespaces",
        "",
        Some(namespace("acme-new", Some("acme"))),
        None,
    );
    denied_by(
        &c.post_json("/validate", &r).await.json(),
        "namespace-ownership",
    );

    // 9a: an empty tenant label is filled in, and not read as a claim.
    let mut p = pod(json!({}), limited());
    p["metadata"]["labels"] = json!({"tenantguard.io/tenant": ""});
    let r = review_as(
        owner,
        "CREATE",
        ("", "Pod"),
        "pods",
        "acme-prod",
        Some(p.clone()),
        None,
    );
    let v = c.post_json("/mutate", &r).await.json();
    assert_eq!(
        patched(&r, &v)["metadata"]["labels"]["tenantguard.io/tenant"],
        "acme"
    );
    assert_eq!(
        c.post_json("/validate", &r).await.json()["response"]["allowed"],
        true
    );

    // 9d: what the apiserver never sends.
    let bad_pod = pod(json!({}), json!([{"name": "app"}]));
    let r = review_as(
        owner,
        "CREATE",
        ("", "Pod"),
        "pods",
        "",
        Some(bad_pod.clone()),
        None,
    );
    for ep in ["/mutate", "/validate"] {
        let m = unjudgeable(&c.post_json(ep, &r).await.json());
        assert!(m.contains("namespaced kind"), "{m}");
    }
    let r = review_as(
        owner,
        "CREATE",
        ("", "Service"),
        "services",
        "acme-prod",
        Some(bad_pod.clone()),
        None,
    );
    let m = unjudgeable(&c.post_json("/validate", &r).await.json());
    assert!(
        m.contains(
            "request.kind is v1, Kind=Service but request.object is apiVersion v1, kind Pod"
        ),
        "{m}"
    );
    let r = review_as(
        owner,
        "CREATE",
        ("", "Pod"),
        "services",
        "acme-prod",
        Some(bad_pod),
        None,
    );
    let m = unjudgeable(&c.post_json("/validate", &r).await.json());
    assert!(m.contains("request.resource is \"services\""), "{m}");
    let mut renamed = review_as(
        owner,
        "DELETE",
        ns_kind,
        "namespaces",
        "kube-system",
        None,
        Some(namespace("kube-system", None)),
    );
    renamed["request"]["name"] = json!("elsewhere");
    let m = unjudgeable(&c.post_json("/validate", &renamed).await.json());
    assert!(m.contains("request.name is \"elsewhere\""), "{m}");
    let mut eph = review_as(
        owner,
        "UPDATE",
        ("", "Pod"),
        "pods",
        "acme-prod",
        Some(p.clone()),
        Some(p),
    );
    eph["request"]["subResource"] = json!("ephemeralcontainers");
    assert_eq!(
        c.post_json("/validate", &eph).await.json()["response"]["allowed"],
        true,
        "pods/ephemeralcontainers carries a Pod"
    );
}
