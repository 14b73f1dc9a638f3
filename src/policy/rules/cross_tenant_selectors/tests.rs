use super::*;
use crate::policy::rules::testing::World;
use crate::policy::rules::Operation;
use serde_json::json;

/// acme (acme-prod, acme-dev) may also reach partner-gw on egress and has its
/// own pool; globex has a dedicated pool, a numeric tier and shares one pool
/// with acme.
fn world() -> World {
    World::new()
        .with_tenant(
            "acme",
            "egress: {allowedNamespaces: [partner-gw]}\nnodeSelector: {pool: acme, zone: shared}",
        )
        .with_tenant(
            "globex",
            "nodeSelector: {pool: globex, dedicated: globex, gpu-tier: \"3\", zone: shared}",
        )
}

fn run(w: &World, ns: &str, obj: &Value) -> Vec<Violation> {
    validate(&w.ctx(ns, obj), &Params::default())
}

fn paths(ns: &str, obj: Value) -> Vec<String> {
    run(&world(), ns, &obj)
        .into_iter()
        .map(|v| v.path)
        .collect()
}

fn np(spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": spec})
}

fn ingress_from(sel: Value) -> Value {
    np(json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": sel}]}]}))
}

fn egress_to(sel: Value) -> Value {
    np(
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": sel}]}]}),
    )
}

fn expr(key: &str, op: &str, values: &[&str]) -> Value {
    json!({"matchExpressions": [{"key": key, "operator": op, "values": values}]})
}

fn names(ns: &[&str]) -> Value {
    expr(NAME_LABEL, "In", ns)
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": spec}}})
}

fn cronjob(spec: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}})
}

fn service(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})
}

const IN0: &str = "spec.ingress[0].from[0].namespaceSelector";
const EG0: &str = "spec.egress[0].to[0].namespaceSelector";

type Case = (&'static str, &'static str, Value, Vec<&'static str>);

#[test]
fn network_policy_cases() {
    let dns = np(
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    );
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("baseline DNS egress", "acme-prod", dns, vec![]),
        ("default deny", "acme-prod", np(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})), vec![]),
        ("podSelector-only peer stays in the namespace", "acme-prod", np(json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})), vec![]),
        ("ipBlock peer is restrict-egress's", "acme-prod", np(json!({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})), vec![]),
        ("null namespaceSelector is absent", "acme-prod", ingress_from(Value::Null), vec![]),
        ("pinned to own tenant by matchLabels", "acme-prod", ingress_from(json!({"matchLabels": {TENANT_LABEL: "acme"}})), vec![]),
        ("pinned to own tenant by In", "acme-prod", egress_to(expr(TENANT_LABEL, "In", &["acme"])), vec![]),
        ("pinned to own tenant with podSelector", "acme-prod", np(json!({"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {TENANT_LABEL: "acme", "env": "dev"}}, "podSelector": {"matchLabels": {"app": "x"}}}]}]})), vec![]),
        ("own namespace by name with the tenant pin", "acme-prod", ingress_from(json!({"matchLabels": {TENANT_LABEL: "acme", NAME_LABEL: "acme-dev"}})), vec![]),
        ("own namespaces In by name with the pin as In", "acme-prod", egress_to(json!({"matchExpressions": [
            {"key": TENANT_LABEL, "operator": "In", "values": ["acme"]}, {"key": NAME_LABEL, "operator": "In", "values": ["acme-dev", "acme-prod"]}]})), vec![]),
        ("own names and shared ones in separate peers", "acme-prod", np(json!({"ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {TENANT_LABEL: "acme", NAME_LABEL: "acme-dev"}}},
            {"namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}}}]}]})), vec![]),
        ("hole 6: own namespace by name alone (matchLabels)", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "acme-dev"}})), vec![IN0]),
        ("hole 6: own namespaces by name alone (In)", "acme-prod", ingress_from(names(&["acme-dev", "acme-prod"])), vec![IN0]),
        ("hole 6: the policy's own namespace by name alone", "acme-prod", egress_to(json!({"matchLabels": {NAME_LABEL: "acme-prod"}})), vec![EG0]),
        ("hole 6: own and shared names in one In", "acme-prod", ingress_from(names(&["kube-system", "acme-dev"])), vec![IN0]),
        ("hole 6: own, allowed and shared names in one egress In", "acme-prod", egress_to(names(&["partner-gw", "kube-system", "acme-dev"])), vec![EG0]),
        ("hole 6: own name by matchLabels and In together", "acme-prod", egress_to(json!({"matchLabels": {NAME_LABEL: "acme-dev"}, "matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": ["acme-dev", "kube-system"]}]})), vec![EG0]),
        ("hole 6: own name with a tenant Exists is no pin", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "acme-dev"}, "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]})), vec![IN0]),
        ("hole 6: own name with a tenant NotIn is no pin", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "acme-dev"}, "matchExpressions": [{"key": TENANT_LABEL, "operator": "NotIn", "values": ["globex"]}]})), vec![IN0]),
        ("hole 6: own name with a tenant DoesNotExist is no pin", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "acme-dev"}, "matchExpressions": [{"key": TENANT_LABEL, "operator": "DoesNotExist"}]})), vec![IN0]),
        ("hole 6: own name pinned to own and another tenant", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "acme-dev"}, "matchExpressions": [{"key": TENANT_LABEL, "operator": "In", "values": ["acme", "globex"]}]})), vec![IN0]),
        ("hole 6: another tenant's label narrowed to own names", "acme-prod", ingress_from(json!({"matchLabels": {TENANT_LABEL: "globex", NAME_LABEL: "acme-dev"}})), vec![IN0]),
        ("shared namespace narrowed by a NotIn on the tenant", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "kube-system"}, "matchExpressions": [{"key": TENANT_LABEL, "operator": "NotIn", "values": ["acme"]}]})), vec![]),
        ("shared namespace by name", "acme-prod", ingress_from(json!({"matchLabels": {NAME_LABEL: "kube-system"}})), vec![]),
        ("egress to a tenant-allowed namespace", "acme-prod", egress_to(names(&["partner-gw"])), vec![]),
        ("In [] on the name matches nothing", "acme-prod", ingress_from(names(&[])), vec![]),
        ("In and NotIn of own tenant match nothing", "acme-prod", ingress_from(json!({"matchExpressions": [
            {"key": TENANT_LABEL, "operator": "In", "values": ["acme"]}, {"key": TENANT_LABEL, "operator": "NotIn", "values": ["acme"]}]})), vec![]),
        ("{} in ingress", "acme-prod", ingress_from(json!({})), vec![IN0]),
        ("{} in egress", "acme-prod", egress_to(json!({})), vec![EG0]),
        ("empty matchLabels is {}", "acme-prod", ingress_from(json!({"matchLabels": {}})), vec![IN0]),
        ("another tenant's label", "acme-prod", ingress_from(json!({"matchLabels": {TENANT_LABEL: "globex"}})), vec![IN0]),
        ("In with another tenant", "acme-prod", egress_to(expr(TENANT_LABEL, "In", &["acme", "globex"])), vec![EG0]),
        ("NotIn on the tenant label", "acme-prod", ingress_from(expr(TENANT_LABEL, "NotIn", &["globex"])), vec![IN0]),
        ("Exists on the tenant label", "acme-prod", ingress_from(expr(TENANT_LABEL, "Exists", &[])), vec![IN0]),
        ("DoesNotExist on the tenant label", "acme-prod", ingress_from(expr(TENANT_LABEL, "DoesNotExist", &[])), vec![IN0]),
        ("an unrelated label only", "acme-prod", ingress_from(json!({"matchLabels": {"team": "acme"}})), vec![IN0]),
        ("another tenant's namespace by name", "acme-prod", ingress_from(names(&["acme-dev", "globex-prod"])), vec![IN0]),
        ("non-shared platform namespace by name", "acme-prod", egress_to(json!({"matchLabels": {NAME_LABEL: "monitoring"}})), vec![EG0]),
        ("unknown namespace by name", "acme-prod", ingress_from(names(&["nobody-knows"])), vec![IN0]),
        ("egress-only allowance does not open ingress", "acme-prod", ingress_from(names(&["partner-gw"])), vec![IN0]),
        ("NotIn on the name", "acme-prod", ingress_from(expr(NAME_LABEL, "NotIn", &["globex-prod"])), vec![IN0]),
        ("Exists on the name selects all", "acme-prod", egress_to(expr(NAME_LABEL, "Exists", &[])), vec![EG0]),
        ("malformed selector", "acme-prod", ingress_from(json!({"matchLabels": ["acme"]})), vec![IN0]),
        ("bad operator", "acme-prod", ingress_from(expr(TENANT_LABEL, "Like", &["acme"])), vec![IN0]),
        ("second rule, second peer", "acme-prod", np(json!({"ingress": [
            {"from": [{"podSelector": {}}]},
            {"from": [{"namespaceSelector": {"matchLabels": {TENANT_LABEL: "acme"}}}, {"namespaceSelector": {"matchLabels": {TENANT_LABEL: "globex"}}}]}]})),
            vec!["spec.ingress[1].from[1].namespaceSelector"]),
        ("ingress and egress both reported", "acme-prod", np(json!({
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
            "egress": [{"to": [{"namespaceSelector": {}}]}]})), vec![IN0, EG0]),
        ("ingress is not a list", "acme-prod", np(json!({"ingress": {"from": []}})), vec!["spec.ingress"]),
        ("from is not a list", "acme-prod", np(json!({"ingress": [{"from": {"namespaceSelector": {}}}]})), vec!["spec.ingress[0].from"]),
        ("globex's own selector", "globex-prod", ingress_from(json!({"matchLabels": {TENANT_LABEL: "globex"}})), vec![]),
        ("platform namespace is not judged", "monitoring", ingress_from(json!({})), vec![]),
        ("NetworkPolicy of another group is out of scope", "acme-prod",
            json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy", "spec": {"ingress": [{"from": [{"namespaceSelector": {}}]}]}}), vec![]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj), want, "{name}");
    }
}

#[test]
fn selector_messages_say_why_and_how() {
    let w = world();
    let msg = |obj: Value| run(&w, "acme-prod", &obj).remove(0).message;
    let m = msg(ingress_from(
        json!({"matchLabels": {TENANT_LABEL: "globex"}}),
    ));
    let want = format!("{IN0}: selects namespaces of tenant globex; pin it with matchLabels {{tenantguard.io/tenant: acme}}");
    assert!(m.starts_with(&want), "{m}");
    let m = msg(ingress_from(json!({})));
    assert!(m.contains("{} selects every namespace"), "{m}");
    let m = msg(ingress_from(names(&["globex-prod"])));
    assert!(
        m.contains("namespace \"globex-prod\" belongs to tenant globex"),
        "{m}"
    );
    let m = msg(egress_to(json!({})));
    assert!(m.contains("shared ones (kube-system, partner-gw)"), "{m}");
    let m = msg(ingress_from(expr(TENANT_LABEL, "NotIn", &["globex"])));
    assert!(m.contains("is not pinned to tenant acme"), "{m}");
    // Hole 6: the own tenant's name alone says what to add.
    let m = msg(ingress_from(names(&["acme-dev"])));
    assert_eq!(m, format!("{IN0}: names namespace \"acme-dev\" of tenant acme by kubernetes.io/metadata.name alone: a name outlives its namespace, and re-created by another tenant's owner it would select theirs; add matchLabels {{tenantguard.io/tenant: acme}} to this selector"));
    let m = msg(ingress_from(names(&[
        "kube-system",
        "acme-dev",
        "acme-prod",
    ])));
    assert!(
        m.contains("names namespaces \"acme-dev\", \"acme-prod\" of tenant acme"),
        "{m}"
    );
    assert!(m.ends_with("add matchLabels {tenantguard.io/tenant: acme} to this selector (the pin would drop kube-system, so name those in a peer of their own)"), "{m}");
    // A foreign name is the worse news and is the one reported.
    let m = msg(ingress_from(names(&["acme-dev", "globex-prod"])));
    assert!(
        m.contains("selects namespace \"globex-prod\" belongs to tenant globex"),
        "{m}"
    );
    assert!(
        m.contains("namespaces of tenant acme by name only together with that pin"),
        "{m}"
    );
}

#[test]
fn settings_shared_namespaces() {
    let mut w = world();
    w.settings.shared_namespaces.push("monitoring".into());
    let obj = ingress_from(names(&["monitoring", "kube-system"]));
    assert!(run(&w, "acme-prod", &obj).is_empty());
}

const REQ: &str = "requiredDuringSchedulingIgnoredDuringExecution";
const PREF: &str = "preferredDuringSchedulingIgnoredDuringExecution";

fn affinity(kind: &str, term: Value) -> Value {
    json!({"affinity": {kind: {REQ: [term]}}})
}

#[test]
fn pod_affinity_cases() {
    let lbl = json!({"matchLabels": {"app": "db"}});
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("own namespace implicitly", "acme-prod", pod(affinity("podAffinity", json!({"labelSelector": lbl, "topologyKey": "zone"}))), vec![]),
        ("own tenant's and shared namespaces", "acme-prod", pod(affinity("podAffinity", json!({"labelSelector": lbl, "namespaces": ["acme-dev", "acme-prod", "kube-system"], "topologyKey": "zone"}))), vec![]),
        ("namespaceSelector pinned to own tenant", "acme-prod", pod(affinity("podAntiAffinity", json!({"namespaceSelector": {"matchLabels": {TENANT_LABEL: "acme"}}, "topologyKey": "zone"}))), vec![]),
        ("namespaceSelector: own name with the pin", "acme-prod", pod(affinity("podAffinity", json!({"namespaceSelector": {"matchLabels": {TENANT_LABEL: "acme", NAME_LABEL: "acme-dev"}}, "topologyKey": "zone"}))), vec![]),
        ("namespaceSelector: shared name alone", "acme-prod", pod(affinity("podAffinity", json!({"namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}}, "topologyKey": "zone"}))), vec![]),
        ("hole 6: namespaceSelector with an own name alone", "acme-prod", pod(affinity("podAntiAffinity", json!({"namespaceSelector": names(&["acme-dev"]), "topologyKey": "zone"}))),
            vec!["spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector"]),
        ("another tenant's namespace", "acme-prod", pod(affinity("podAffinity", json!({"namespaces": ["acme-dev", "globex-prod"], "topologyKey": "zone"}))),
            vec!["spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[1]"]),
        ("platform namespace", "acme-prod", pod(affinity("podAntiAffinity", json!({"namespaces": ["monitoring"], "topologyKey": "zone"}))),
            vec!["spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]"]),
        ("egress allowance does not count", "acme-prod", pod(affinity("podAffinity", json!({"namespaces": ["partner-gw"], "topologyKey": "zone"}))),
            vec!["spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]"]),
        ("{} selects all namespaces", "acme-prod", pod(affinity("podAffinity", json!({"namespaceSelector": {}, "topologyKey": "zone"}))),
            vec!["spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector"]),
        ("preferred anti-affinity term", "acme-prod", pod(json!({"affinity": {"podAntiAffinity": {PREF: [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "zone"}},
            {"weight": 5, "podAffinityTerm": {"namespaceSelector": {"matchLabels": {TENANT_LABEL: "globex"}}, "topologyKey": "zone"}}]}}})),
            vec!["spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[1].podAffinityTerm.namespaceSelector"]),
        ("deployment template", "acme-prod", deployment(affinity("podAffinity", json!({"namespaces": ["globex-prod"], "topologyKey": "zone"}))),
            vec!["spec.template.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]"]),
        ("cronjob template", "acme-prod", cronjob(affinity("podAntiAffinity", json!({"namespaceSelector": expr(TENANT_LABEL, "Exists", &[]), "topologyKey": "zone"}))),
            vec!["spec.jobTemplate.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector"]),
        ("namespaces is not a list", "acme-prod", pod(affinity("podAffinity", json!({"namespaces": "globex-prod", "topologyKey": "zone"}))),
            vec!["spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces"]),
        ("affinity on a Service is ignored", "acme-prod", service(affinity("podAffinity", json!({"namespaceSelector": {}}))), vec![]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj), want, "{name}");
    }
}

fn node_terms(exprs: Value) -> Value {
    json!({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}}})
}

fn tolerate(t: Value) -> Value {
    json!({"tolerations": [t]})
}

#[test]
fn dedicated_node_cases() {
    let not_ready = json!([
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("own pool", "acme-prod", pod(json!({"nodeSelector": {"pool": "acme"},
            "tolerations": [{"key": "pool", "operator": "Equal", "value": "acme", "effect": "NoSchedule"}]})), vec![]),
        ("a pool both tenants declare", "acme-prod", pod(json!({"nodeSelector": {"zone": "shared"}, "tolerations": [{"key": "zone", "value": "shared", "effect": "NoSchedule"}]})), vec![]),
        ("unrelated labels", "acme-prod", pod(json!({"nodeSelector": {"pool": "acme", "disktype": "ssd"}})), vec![]),
        ("another value of the own pool key (own_pool)", "acme-prod", pod(json!({"nodeSelector": {"pool": "general", "disktype": "ssd"}})), vec!["spec.nodeSelector.pool"]),
        ("default not-ready tolerations", "acme-prod", pod(json!({"tolerations": not_ready})), vec![]),
        ("nodeSelector on another tenant's pool", "acme-prod", pod(json!({"nodeSelector": {"disktype": "ssd", "pool": "globex"}})), vec!["spec.nodeSelector.pool"]),
        ("required In another tenant's value", "acme-prod", pod(node_terms(json!([{"key": "pool", "operator": "In", "values": ["acme", "globex"]}]))),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]"]),
        ("required Exists on a foreign key", "acme-prod", pod(node_terms(json!([{"key": "disktype", "operator": "In", "values": ["ssd"]}, {"key": "dedicated", "operator": "Exists"}]))),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1]"]),
        ("Exists on a key own and foreign pools share", "acme-prod", pod(node_terms(json!([{"key": "pool", "operator": "Exists"}]))),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]"]),
        ("Gt reaching a numeric pool", "acme-prod", pod(node_terms(json!([{"key": "gpu-tier", "operator": "Gt", "values": ["2"]}]))),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]"]),
        ("Gt above the numeric pool", "acme-prod", pod(node_terms(json!([{"key": "gpu-tier", "operator": "Gt", "values": ["5"]}]))), vec![]),
        ("NotIn does not aim at a foreign pool", "acme-prod", pod(node_terms(json!([{"key": "dedicated", "operator": "NotIn", "values": ["globex"]}]))), vec![]),
        ("NotIn the own value leaves the own pool (own_pool)", "acme-prod", pod(node_terms(json!([{"key": "pool", "operator": "NotIn", "values": ["acme"]}]))),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]"]),
        ("In own value", "acme-prod", pod(node_terms(json!([{"key": "pool", "operator": "In", "values": ["acme"]}]))), vec![]),
        ("second term", "acme-prod", pod(json!({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["acme"]}]},
            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["globex"]}]}]}}}})),
            vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1].matchExpressions[0]"]),
        ("preferred In another tenant's value", "acme-prod", pod(json!({"affinity": {"nodeAffinity": {PREF: [
            {"weight": 1, "preference": {"matchExpressions": [{"key": "dedicated", "operator": "In", "values": ["globex"]}]}}]}}})),
            vec!["spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0]"]),
        ("toleration Equal NoSchedule", "acme-prod", pod(tolerate(json!({"key": "pool", "operator": "Equal", "value": "globex", "effect": "NoSchedule"}))), vec!["spec.tolerations[0]"]),
        ("toleration without operator and effect", "acme-prod", pod(tolerate(json!({"key": "pool", "value": "globex"}))), vec!["spec.tolerations[0]"]),
        ("toleration Exists on a foreign key", "acme-prod", pod(tolerate(json!({"key": "dedicated", "operator": "Exists"}))), vec!["spec.tolerations[0]"]),
        ("toleration for NoExecute only", "acme-prod", pod(tolerate(json!({"key": "pool", "value": "globex", "effect": "NoExecute"}))), vec![]),
        ("toleration for PreferNoSchedule only", "acme-prod", pod(tolerate(json!({"key": "pool", "operator": "Exists", "effect": "PreferNoSchedule"}))), vec![]),
        ("toleration of another value", "acme-prod", pod(tolerate(json!({"key": "pool", "value": "initech", "effect": "NoSchedule"}))), vec![]),
        ("keyless Exists", "acme-prod", pod(json!({"tolerations": [not_ready[0], {"operator": "Exists"}]})), vec!["spec.tolerations[1]"]),
        ("keyless Exists NoSchedule", "acme-prod", pod(tolerate(json!({"operator": "Exists", "effect": "NoSchedule"}))), vec!["spec.tolerations[0]"]),
        ("keyless Exists NoExecute only", "acme-prod", pod(tolerate(json!({"operator": "Exists", "effect": "NoExecute"}))), vec![]),
        ("keyless Exists in globex", "globex-prod", pod(tolerate(json!({"operator": "Exists"}))), vec!["spec.tolerations[0]"]),
        ("keyless Equal on a foreign value", "acme-prod", pod(tolerate(json!({"operator": "Equal", "value": "globex"}))), vec!["spec.tolerations[0]"]),
        ("unknown operator", "acme-prod", pod(tolerate(json!({"key": "pool", "operator": "exists"}))), vec!["spec.tolerations[0]"]),
        ("tolerations is not a list", "acme-prod", pod(json!({"tolerations": {"operator": "Exists"}})), vec!["spec.tolerations"]),
        ("deployment template", "acme-prod", deployment(json!({"nodeSelector": {"pool": "globex"}, "tolerations": [{"key": "pool", "value": "globex"}]})),
            vec!["spec.template.spec.nodeSelector.pool", "spec.template.spec.tolerations[0]"]),
        ("cronjob template", "acme-prod", cronjob(node_terms(json!([{"key": "pool", "operator": "In", "values": ["globex"]}]))),
            vec!["spec.jobTemplate.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]"]),
        ("daemonset template", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}}),
            vec!["spec.template.spec.tolerations[0]"]),
        ("globex on its own pool", "globex-prod", pod(json!({"nodeSelector": {"pool": "globex", "dedicated": "globex"}, "tolerations": [{"key": "dedicated", "operator": "Exists"}]})), vec![]),
        ("Exists on a key another tenant also uses", "globex-prod", pod(tolerate(json!({"key": "pool", "operator": "Exists", "effect": "NoSchedule"}))), vec!["spec.tolerations[0]"]),
        ("globex on acme's pool", "globex-prod", pod(json!({"nodeSelector": {"pool": "acme"}})), vec!["spec.nodeSelector.pool"]),
        ("nodeName skips the taints", "acme-prod", pod(json!({"nodeName": "node-7", "containers": []})), vec!["spec.nodeName"]),
        ("empty nodeName", "acme-prod", pod(json!({"nodeName": ""})), vec![]),
        ("nodeName in a template", "acme-prod", deployment(json!({"nodeName": "node-7"})), vec!["spec.template.spec.nodeName"]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj), want, "{name}");
    }
}

#[test]
fn node_name_only_matters_with_dedicated_nodes_and_on_create() {
    let w = world();
    let obj = pod(json!({"nodeName": "node-7"}));
    let mut ctx = w.ctx("acme-prod", &obj);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&obj);
    assert!(
        validate(&ctx, &Params::default()).is_empty(),
        "a bound pod being updated"
    );
    let plain = World::new();
    assert!(
        run(&plain, "acme-prod", &obj).is_empty(),
        "no dedicated nodes anywhere"
    );
}

#[test]
fn node_messages_name_the_tenant() {
    let w = world();
    let obj =
        pod(json!({"nodeSelector": {"pool": "globex"}, "tolerations": [{"operator": "Exists"}]}));
    let v = run(&w, "acme-prod", &obj);
    let want = "spec.nodeSelector.pool: \"globex\" selects the dedicated nodes of tenant globex;";
    assert!(v[0].message.starts_with(want), "{}", v[0].message);
    assert!(
        v[1].message.contains("tolerates every taint"),
        "{}",
        v[1].message
    );
}

#[test]
fn label_cases() {
    let claim = json!({"labels": {TENANT_LABEL: "globex", "app": "x"}});
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("own label", "acme-prod", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {TENANT_LABEL: "acme"}}}), vec![]),
        ("no label", "acme-prod", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "x"}}}), vec![]),
        ("pod claims another tenant", "acme-prod", json!({"apiVersion": "v1", "kind": "Pod", "metadata": claim}), vec!["metadata.labels.tenantguard.io/tenant"]),
        ("any kind claims another tenant", "acme-prod", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": claim}), vec!["metadata.labels.tenantguard.io/tenant"]),
        ("custom resource claims another tenant", "acme-prod", json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": claim}), vec!["metadata.labels.tenantguard.io/tenant"]),
        ("empty value is a missing label, not a claim", "acme-prod", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"labels": {TENANT_LABEL: ""}}}), vec![]),
        ("non-string value", "acme-prod", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"labels": {TENANT_LABEL: 5}}}), vec!["metadata.labels.tenantguard.io/tenant"]),
        ("non-string value", "acme-prod", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"labels": {TENANT_LABEL: 7}}}), vec!["metadata.labels.tenantguard.io/tenant"]),
        ("deployment template claims", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"labels": {TENANT_LABEL: "acme"}},
            "spec": {"template": {"metadata": claim, "spec": {}}}}), vec!["spec.template.metadata.labels.tenantguard.io/tenant"]),
        ("cronjob job and pod templates claim", "acme-prod", json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {},
            "spec": {"jobTemplate": {"metadata": claim, "spec": {"template": {"metadata": claim}}}}}),
            vec!["spec.jobTemplate.spec.template.metadata.labels.tenantguard.io/tenant", "spec.jobTemplate.metadata.labels.tenantguard.io/tenant"]),
        ("statefulset claim template", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {},
            "spec": {"template": {}, "volumeClaimTemplates": [{"metadata": {"name": "data"}}, {"metadata": claim}]}}),
            vec!["spec.volumeClaimTemplates[1].metadata.labels.tenantguard.io/tenant"]),
        ("service selector of another tenant", "acme-prod", service(json!({"selector": {"app": "db", TENANT_LABEL: "globex"}})), vec!["spec.selector.tenantguard.io/tenant"]),
        ("service selector of own tenant", "acme-prod", service(json!({"selector": {"app": "db", TENANT_LABEL: "acme"}})), vec![]),
        ("platform namespace is not judged", "monitoring", json!({"apiVersion": "v1", "kind": "Pod", "metadata": claim}), vec![]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj), want, "{name}");
    }
    let w = world();
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": claim});
    let m = &run(&w, "acme-prod", &obj)[0].message;
    assert_eq!(m, "metadata.labels.tenantguard.io/tenant: \"globex\" claims tenant globex, but namespace acme-prod belongs to tenant acme; remove it (tenantguard sets tenantguard.io/tenant) or set it to \"acme\"");
}

fn external(name: &str) -> Value {
    service(json!({"type": "ExternalName", "externalName": name}))
}

#[test]
fn service_cases() {
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("clusterIP service", "acme-prod", service(json!({"selector": {"app": "x"}, "ports": [{"port": 80}]})), vec![]),
        ("external name outside the cluster", "acme-prod", external("api.example.com"), vec![]),
        ("external name of own tenant", "acme-prod", external("db.acme-dev.svc.cluster.local"), vec![]),
        ("external name of a platform namespace", "acme-prod", external("prometheus.monitoring.svc"), vec![]),
        ("another tenant, full name", "acme-prod", external("db.globex-prod.svc.cluster.local"), vec!["spec.externalName"]),
        ("another tenant, no domain", "acme-prod", external("db.globex-prod.svc"), vec!["spec.externalName"]),
        ("another tenant, upper case and trailing dot", "acme-prod", external("DB.Globex-Prod.SVC.cluster.local."), vec!["spec.externalName"]),
        ("another tenant, custom cluster domain", "acme-prod", external("db.globex-prod.svc.corp.internal"), vec!["spec.externalName"]),
        ("another tenant, statefulset pod name", "acme-prod", external("db-0.db.globex-prod.svc.cluster.local"), vec!["spec.externalName"]),
        ("another tenant, pod record", "acme-prod", external("10-1-2-3.globex-prod.pod.cluster.local"), vec!["spec.externalName"]),
        ("another tenant, short form", "acme-prod", external("db.globex-prod"), vec!["spec.externalName"]),
        ("externalName ignored unless type ExternalName", "acme-prod", service(json!({"type": "ClusterIP", "externalName": "db.globex-prod.svc"})), vec![]),
        ("externalIPs", "acme-prod", service(json!({"externalIPs": ["198.51.100.7"]})), vec!["spec.externalIPs"]),
        ("empty externalIPs", "acme-prod", service(json!({"externalIPs": []})), vec![]),
        ("externalIPs not a list", "acme-prod", service(json!({"externalIPs": "198.51.100.7"})), vec!["spec.externalIPs"]),
        ("externalIPs in globex too", "globex-prod", service(json!({"externalIPs": ["198.51.100.7"]})), vec!["spec.externalIPs"]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj), want, "{name}");
    }
    let w = world();
    let m = &run(
        &w,
        "acme-prod",
        &external("db.globex-prod.svc.cluster.local"),
    )[0]
    .message;
    let want = "spec.externalName: \"db.globex-prod.svc.cluster.local\" points into namespace globex-prod of tenant globex;";
    assert!(m.starts_with(want), "{m}");
}

#[test]
fn operations() {
    let w = world();
    let obj = ingress_from(json!({}));
    let old = ingress_from(json!({"matchLabels": {TENANT_LABEL: "acme"}}));
    // UPDATE judges the new object as a whole.
    let mut ctx = w.ctx("acme-prod", &obj);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    // A DELETE carries no object: nothing to judge, no panic.
    let mut ctx = w.ctx("acme-prod", &obj);
    ctx.operation = Operation::Delete;
    ctx.object = None;
    ctx.old_object = Some(&obj);
    assert!(validate(&ctx, &Params::default()).is_empty());
}

#[test]
fn dns_names() {
    let cases = [
        ("a.b.svc", Some("b")),
        ("a.b.svc.cluster.local", Some("b")),
        ("x.a.b.svc.cluster.local", Some("b")),
        ("1-2-3-4.b.pod.cluster.local", Some("b")),
        ("a.b", Some("b")),
        ("a", None),
        ("a.svc.example.com", None),
        ("www.example.co.uk", None),
        ("", None),
    ];
    for (name, want) in cases {
        assert_eq!(dns_namespace(name).as_deref(), want, "{name}");
    }
}
