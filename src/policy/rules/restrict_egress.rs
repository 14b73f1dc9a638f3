//! `restrict-egress` (validating): a tenant's NetworkPolicies may open egress
//! only to named peers, and its pods may not step around NetworkPolicy.
//!
//! It owns, for `networking.k8s.io` NetworkPolicies whose egress is in force
//! (`spec.policyTypes` lists Egress, or is absent and `spec.egress` is set,
//! as the apiserver defaults it):
//! - an egress rule with no `to` (or an empty one): it allows every
//!   destination;
//! - an `ipBlock.cidr` not inside one of the tenant's `egress.allowedCIDRs`,
//!   compared as networks (IPv4 and IPv6). `except` only cuts holes, so
//!   `0.0.0.0/0` with an `except` is still the internet;
//! - an egress peer with `namespaceSelector: {}` (every namespace). Which
//!   namespaces a narrower selector reaches is `cross-tenant-selectors`'s
//!   concern; the same object may violate both and each reports its own.
//!
//! And, for Pods and pod templates, `hostNetwork: true`: such a pod uses the
//! node's network namespace, where NetworkPolicy does not apply.
//!
//! Operations: CREATE and UPDATE (the registry's default): a policy widened
//! by an update opens egress as much as one created wide. A DELETE carries no
//! object (deleting a policy only removes an allowance, or a deny-all the
//! tenant owns).
//!
//! References:
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource>,
//! <https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/>.

use std::fmt::Display;

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

use super::cross_tenant_selectors::{list_at, peer_fields};
use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::podspec::{self, Field, Item};
use crate::selector::{LabelSelector, Operator};
use crate::tenancy::TenantRef;
use crate::{NAME_LABEL, TENANT_LABEL};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// NetworkPolicies, and pods and workloads (`hostNetwork`).
const JUDGED: [GroupKind; 10] =
    podspec::pod_kinds_and(&[GroupKind::new("networking.k8s.io", "NetworkPolicy")]);

/// `restrict-egress`.
pub struct RestrictEgress;

impl Rule for RestrictEgress {
    const ID: &'static str = "restrict-egress";
    const SCOPE: Scope = Scope::TenantObjects;
    /// A policy widened by an update opens egress as much as one created
    /// wide; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(&JUDGED);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// Whether the policy's egress rules are in force.
fn egress_in_force(spec: &Value) -> bool {
    let has_egress = spec.get("egress").is_some_and(|e| !e.is_null());
    match spec.get("policyTypes").and_then(Value::as_array) {
        // The apiserver fills in an absent or empty list: Ingress, plus
        // Egress when there are egress rules.
        None => has_egress,
        Some(types) if types.is_empty() => has_egress,
        Some(types) => types.iter().any(|t| t.as_str() == Some("Egress")),
    }
}

/// A selector that selects every namespace: `{}`, or one that only asks for
/// `kubernetes.io/metadata.name` to exist (every namespace has it).
fn selects_every_namespace(sel: &LabelSelector) -> bool {
    sel.requirements
        .iter()
        .all(|r| r.key == NAME_LABEL && r.op == Operator::Exists)
}

/// `path` (and every path below) is formatted only into a violation.
fn ip_block(own: &TenantRef<'_>, block: &Value, path: &dyn Display, out: &mut Vec<Violation>) {
    let cidr_path = Field(path, "cidr");
    let Some(cidr) = block.get("cidr").and_then(Value::as_str) else {
        out.push(Violation::new(
            cidr_path.to_string(),
            format!("{cidr_path}: is missing, so the ipBlock cannot be judged; set a CIDR inside tenant {}'s egress.allowedCIDRs", own.name),
        ));
        return;
    };
    let net: IpNet = match cidr.parse() {
        Ok(n) => n,
        Err(_) => {
            out.push(Violation::new(
                cidr_path.to_string(),
                format!(
                    "{cidr_path}: {cidr:?} is not a CIDR such as 203.0.113.0/24 or 2001:db8::/64"
                ),
            ));
            return;
        }
    };
    let allowed = own.allowed_cidrs();
    let net = net.trunc();
    if allowed.iter().any(|a| a.contains(&net)) {
        return;
    }
    let what = if net.prefix_len() == 0 {
        format!("{cidr:?} is the whole internet (an except list does not close it)")
    } else {
        format!(
            "{cidr:?} is outside the networks tenant {} may reach",
            own.name
        )
    };
    let fix = if allowed.is_empty() {
        format!(
            "tenant {} has no egress.allowedCIDRs, so no ipBlock is allowed; reach in-cluster peers by selector, or ask the platform team to add the network to the Tenant",
            own.name
        )
    } else {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        format!(
            "use a block inside egress.allowedCIDRs ({}) or ask the platform team to add it to the Tenant",
            list.join(", ")
        )
    };
    out.push(Violation::new(
        cidr_path.to_string(),
        format!("{cidr_path}: {what}; {fix}"),
    ));
}

fn peer(own: &TenantRef<'_>, peer: &Value, path: &dyn Display, out: &mut Vec<Violation>) {
    let [ns_sel, pod_sel, block] = peer_fields(peer);
    if ns_sel.is_none() && pod_sel.is_none() && block.is_none() {
        out.push(Violation::new(
            path.to_string(),
            format!("{path}: names no podSelector, namespaceSelector or ipBlock, so it cannot be judged; name the peer"),
        ));
    }
    if let Some(block) = block {
        ip_block(own, block, &Field(path, "ipBlock"), out);
    }
    if let Some(sel) = ns_sel {
        let sel_path = Field(path, "namespaceSelector");
        match LabelSelector::from_value(sel) {
            Ok(s) if selects_every_namespace(&s) => out.push(Violation::new(
                sel_path.to_string(),
                // The same fix cross-tenant-selectors asks for: the own
                // tenant's namespaces only with the tenant pin (a name alone
                // outlives its namespace), shared ones by name.
                format!("{sel_path}: {{}} opens egress to every namespace, other tenants' included; select the namespaces it needs (the tenant's own with matchLabels {{{TENANT_LABEL}: {t}}}, shared ones by matchLabels {{{NAME_LABEL}: <namespace>}})", t = own.name),
            )),
            Ok(_) => {}
            Err(e) => out.push(Violation::new(
                sel_path.to_string(),
                format!("{sel_path}: cannot be judged ({e}); fix the selector"),
            )),
        }
    }
}

fn network_policy(own: &TenantRef<'_>, obj: &Value, out: &mut Vec<Violation>) {
    let Some(spec) = obj.get("spec") else {
        return;
    };
    if !egress_in_force(spec) {
        return;
    }
    for (i, rule) in list_at(spec.get("egress"), "spec.egress", out)
        .iter()
        .enumerate()
    {
        let rule_path = Item(&"spec.egress", i);
        let to_path = Field(&rule_path, "to");
        let open = match rule.get("to") {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if open {
            out.push(Violation::new(
                rule_path.to_string(),
                format!("{rule_path}: has no `to`, so it allows egress to every destination (the internet and every tenant); list the peers it may reach"),
            ));
            continue;
        }
        for (j, p) in list_at(rule.get("to"), to_path, out).iter().enumerate() {
            peer(own, p, &Item(&to_path, j), out);
        }
    }
}

fn host_network(ctx: &Ctx<'_>, out: &mut Vec<Violation>) {
    let Some(pod) = ctx.pod() else {
        return;
    };
    let path = Field(&pod.at.spec_path, "hostNetwork");
    match pod.spec.get("hostNetwork") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => out.push(Violation::new(
            path.to_string(),
            format!("{path}: a pod on the host network bypasses NetworkPolicy and reaches anything the node can; remove hostNetwork"),
        )),
        Some(v) => out.push(Violation::new(
            path.to_string(),
            format!("{path}: {v} is not a boolean, so it cannot be judged; remove hostNetwork"),
        )),
    }
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(own), Some(obj)) = (ctx.tenant, ctx.object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if ctx.group == "networking.k8s.io" && ctx.kind == "NetworkPolicy" {
        network_policy(&own, obj, &mut out);
    }
    host_network(ctx, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::Operation;
    use serde_json::json;

    fn world() -> World {
        World::new().with_tenant(
            "acme",
            "egress: {allowedCIDRs: [203.0.113.0/24, \"2001:db8:ace::/48\"]}",
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

    /// An Egress policy with one rule going to `peers`.
    fn to(peers: Value) -> Value {
        np(json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": peers}]}))
    }

    fn cidr(c: &str) -> Value {
        to(json!([{"ipBlock": {"cidr": c}}]))
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    const CIDR0: &str = "spec.egress[0].to[0].ipBlock.cidr";
    const NS0: &str = "spec.egress[0].to[0].namespaceSelector";

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
            ("baseline DNS rule", "acme-prod", dns, vec![]),
            ("default deny", "acme-prod", np(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})), vec![]),
            ("egress to pods of the own namespace", "acme-prod", to(json!([{"podSelector": {"matchLabels": {"app": "db"}}}])), vec![]),
            ("allowed CIDR", "acme-prod", cidr("203.0.113.0/24"), vec![]),
            ("inside an allowed CIDR", "acme-prod", cidr("203.0.113.128/25"), vec![]),
            ("host inside an allowed CIDR", "acme-prod", cidr("203.0.113.7/32"), vec![]),
            ("host bits set inside an allowed CIDR", "acme-prod", cidr("203.0.113.77/26"), vec![]),
            ("allowed IPv6", "acme-prod", cidr("2001:db8:ace:1::/64"), vec![]),
            ("no to", "acme-prod", np(json!({"policyTypes": ["Egress"], "egress": [{"ports": [{"port": 443}]}]})), vec!["spec.egress[0]"]),
            ("empty to", "acme-prod", to(json!([])), vec!["spec.egress[0]"]),
            ("null to", "acme-prod", to(Value::Null), vec!["spec.egress[0]"]),
            ("an empty rule", "acme-prod", np(json!({"policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}, {}]})), vec!["spec.egress[1]"]),
            ("the IPv4 internet", "acme-prod", cidr("0.0.0.0/0"), vec![CIDR0]),
            ("the internet with except", "acme-prod", to(json!([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}])), vec![CIDR0]),
            ("the IPv6 internet", "acme-prod", cidr("::/0"), vec![CIDR0]),
            ("wider than the allowed CIDR", "acme-prod", cidr("203.0.112.0/23"), vec![CIDR0]),
            ("host bits hide a wider block", "acme-prod", cidr("203.0.113.1/8"), vec![CIDR0]),
            ("a neighbouring block", "acme-prod", cidr("203.0.114.0/24"), vec![CIDR0]),
            ("string-prefix lookalike", "acme-prod", cidr("203.0.113.0/2"), vec![CIDR0]),
            ("cluster network", "acme-prod", cidr("10.0.0.0/8"), vec![CIDR0]),
            ("IPv4-mapped IPv6 internet", "acme-prod", cidr("::ffff:0:0/96"), vec![CIDR0]),
            ("IPv6 outside", "acme-prod", cidr("2001:db8:beef::/48"), vec![CIDR0]),
            ("not a CIDR", "acme-prod", cidr("203.0.113.0"), vec![CIDR0]),
            ("garbage CIDR", "acme-prod", cidr("anywhere"), vec![CIDR0]),
            ("missing cidr", "acme-prod", to(json!([{"ipBlock": {"except": []}}])), vec![CIDR0]),
            ("second peer", "acme-prod", to(json!([{"ipBlock": {"cidr": "203.0.113.0/24"}}, {"ipBlock": {"cidr": "198.51.100.0/24"}}])), vec!["spec.egress[0].to[1].ipBlock.cidr"]),
            ("namespaceSelector naming a namespace", "acme-prod", to(json!([{"namespaceSelector": {"matchLabels": {NAME_LABEL: "acme-dev"}}}])), vec![]),
            ("namespaceSelector {}", "acme-prod", to(json!([{"namespaceSelector": {}}])), vec![NS0]),
            ("namespaceSelector {} with a podSelector", "acme-prod", to(json!([{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "x"}}}])), vec![NS0]),
            ("namespaceSelector with empty parts", "acme-prod", to(json!([{"namespaceSelector": {"matchLabels": {}, "matchExpressions": []}}])), vec![NS0]),
            ("namespaceSelector: every namespace has a name", "acme-prod", to(json!([{"namespaceSelector": {"matchExpressions": [{"key": NAME_LABEL, "operator": "Exists"}]}}])), vec![NS0]),
            ("malformed namespaceSelector", "acme-prod", to(json!([{"namespaceSelector": {"matchLabels": "all"}}])), vec![NS0]),
            ("a peer naming nothing", "acme-prod", to(json!([{}])), vec!["spec.egress[0].to[0]"]),
            ("egress is not a list", "acme-prod", np(json!({"policyTypes": ["Egress"], "egress": {"to": []}})), vec!["spec.egress"]),
            ("to is not a list", "acme-prod", to(json!({"ipBlock": {"cidr": "0.0.0.0/0"}})), vec!["spec.egress[0].to"]),
            ("policyTypes absent, egress present", "acme-prod", np(json!({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})), vec![CIDR0]),
            ("policyTypes empty, egress present", "acme-prod", np(json!({"policyTypes": [], "egress": [{}]})), vec!["spec.egress[0]"]),
            ("Ingress-only policy ignores egress rules", "acme-prod", np(json!({"policyTypes": ["Ingress"], "egress": [{}]})), vec![]),
            ("ingress rule with no from is not egress", "acme-prod", np(json!({"ingress": [{}]})), vec![]),
            ("several at once", "acme-prod", np(json!({"policyTypes": ["Egress"], "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"namespaceSelector": {}}]}, {"ports": [{"port": 53}]}]})),
                vec![CIDR0, "spec.egress[0].to[1].namespaceSelector", "spec.egress[1]"]),
            ("globex has no allowed CIDRs", "globex-prod", cidr("203.0.113.0/24"), vec![CIDR0]),
            ("platform namespace is not judged", "monitoring", cidr("0.0.0.0/0"), vec![]),
            ("other kinds are out of scope", "acme-prod", json!({"apiVersion": "v1", "kind": "Service", "spec": {"egress": [{}]}}), vec![]),
            ("NetworkPolicy of another group is out of scope", "acme-prod",
                json!({"apiVersion": "cilium.io/v2", "kind": "NetworkPolicy", "spec": {"policyTypes": ["Egress"], "egress": [{}]}}), vec![]),
        ];
        for (name, ns, obj, want) in cases {
            assert_eq!(paths(ns, obj), want, "{name}");
        }
    }

    #[test]
    fn host_network_cases() {
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("pod network", "acme-prod", pod(json!({"containers": [{"name": "app"}]})), vec![]),
            ("hostNetwork false", "acme-prod", pod(json!({"hostNetwork": false})), vec![]),
            ("hostNetwork true", "acme-prod", pod(json!({"hostNetwork": true})), vec!["spec.hostNetwork"]),
            ("hostNetwork not a boolean", "acme-prod", pod(json!({"hostNetwork": "true"})), vec!["spec.hostNetwork"]),
            ("deployment template", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"hostNetwork": true}}}}), vec!["spec.template.spec.hostNetwork"]),
            ("daemonset template", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": {"spec": {"hostNetwork": true}}}}), vec!["spec.template.spec.hostNetwork"]),
            ("cronjob template", "acme-prod", json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostNetwork": true}}}}}}), vec!["spec.jobTemplate.spec.template.spec.hostNetwork"]),
            ("a Service's spec is no pod", "acme-prod", json!({"apiVersion": "v1", "kind": "Service", "spec": {"hostNetwork": true}}), vec![]),
            ("platform namespace is not judged", "monitoring", pod(json!({"hostNetwork": true})), vec![]),
        ];
        for (name, ns, obj, want) in cases {
            assert_eq!(paths(ns, obj), want, "{name}");
        }
    }

    #[test]
    fn messages() {
        let w = world();
        let msg = |ns: &str, obj: Value| run(&w, ns, &obj).remove(0).message;
        let m = msg("acme-prod", cidr("0.0.0.0/0"));
        assert!(
            m.starts_with(&format!("{CIDR0}: \"0.0.0.0/0\" is the whole internet")),
            "{m}"
        );
        assert!(m.contains("203.0.113.0/24, 2001:db8:ace::/48"), "{m}");
        let m = msg("acme-prod", cidr("::/0"));
        assert!(m.contains("\"::/0\" is the whole internet"), "{m}");
        let m = msg("acme-prod", cidr("10.0.0.0/8"));
        assert!(
            m.contains("\"10.0.0.0/8\" is outside the networks tenant acme may reach"),
            "{m}"
        );
        let m = msg("globex-prod", cidr("203.0.113.0/24"));
        assert!(
            m.contains("tenant globex has no egress.allowedCIDRs"),
            "{m}"
        );
        let m = msg("acme-prod", to(json!([])));
        assert!(
            m.starts_with("spec.egress[0]: has no `to`, so it allows egress to every destination"),
            "{m}"
        );
        let m = msg("acme-prod", to(json!([{"namespaceSelector": {}}])));
        assert!(
            m.contains("the tenant's own with matchLabels {tenantguard.io/tenant: acme}, shared ones by matchLabels {kubernetes.io/metadata.name: <namespace>}"),
            "{m}"
        );
        let m = msg("acme-prod", pod(json!({"hostNetwork": true})));
        assert!(
            m.starts_with("spec.hostNetwork: a pod on the host network bypasses NetworkPolicy"),
            "{m}"
        );
    }

    #[test]
    fn settings_default_cidrs() {
        let mut w = World::new();
        w.settings.tenant_defaults.egress = Some(crate::policy::TenantEgress {
            allowed_cidrs: vec!["198.51.100.0/24".into()],
            allowed_namespaces: vec![],
        });
        assert!(run(&w, "globex-prod", &cidr("198.51.100.0/25")).is_empty());
        assert_eq!(run(&w, "globex-prod", &cidr("198.51.0.0/16")).len(), 1);
    }

    #[test]
    fn operations() {
        let w = world();
        let obj = cidr("0.0.0.0/0");
        let old = cidr("203.0.113.0/24");
        let mut ctx = w.ctx("acme-prod", &obj);
        ctx.operation = Operation::Update;
        ctx.old_object = Some(&old);
        let got = validate(&ctx, &Params::default());
        assert_eq!(got.len(), 1, "an update that widens egress");
        let mut ctx = w.ctx("acme-prod", &obj);
        ctx.operation = Operation::Delete;
        ctx.object = None;
        ctx.old_object = Some(&obj);
        let got = validate(&ctx, &Params::default());
        assert!(got.is_empty(), "a delete carries no object");
    }
}
