//! Endpoints (v1) and EndpointSlices (`discovery.k8s.io/v1`) in tenant
//! namespaces may not point at cluster-internal addresses (Settings
//! `clusterCIDRs`: the pod and Service ranges) unless the endpoint
//! controllers wrote them. Otherwise a selector-less Service would front
//! another tenant's pods, and whatever trusts that Service (an Ingress
//! controller, a LoadBalancer, the tenant's own pods) would reach them past
//! their NetworkPolicies (CVE-2021-25740).
//!
//! The controllers are known by the requesting user only, never by a label
//! such as `endpointslice.kubernetes.io/managed-by`, which any writer can
//! set: their service accounts when kube-controller-manager runs with
//! `--use-service-account-credentials`, and `system:kube-controller-manager`
//! when it does not.
//!
//! What is judged: every `subsets[].addresses[].ip` and
//! `subsets[].notReadyAddresses[].ip` of an Endpoints (not-ready addresses
//! become ready without another write), and every `endpoints[].addresses[]`
//! of an EndpointSlice. `IPv4` and `IPv6` slices hold IP addresses; an
//! IPv4-mapped IPv6 address is also compared as the IPv4 address it is, and
//! IPv4 octets with leading zeros are read as decimal, as kube-proxy reads
//! them. `FQDN` slices hold DNS names that consumers resolve themselves, just
//! like an ExternalName Service's target, and are judged the same way: a
//! cluster DNS name in another tenant's namespace is rejected (an IP literal
//! is still an IP). Anything that cannot be read is rejected, never skipped.
//!
//! UPDATE judges the whole new object, as the rest of the rule does: an
//! address a writer keeps is as live as one it adds.
//!
//! References:
//! <https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoints-v1/>,
//! <https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/>,
//! <https://kubernetes.io/docs/reference/access-authn-authz/rbac/#write-access-for-endpoints>.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use super::{dns_namespace, list_at};
use crate::policy::rules::{Ctx, Violation};

/// The users the endpoint controllers write as.
pub const ENDPOINT_CONTROLLERS: [&str; 4] = [
    "system:serviceaccount:kube-system:endpoint-controller",
    "system:serviceaccount:kube-system:endpointslice-controller",
    "system:serviceaccount:kube-system:endpointslicemirroring-controller",
    "system:kube-controller-manager",
];

fn by_endpoint_controller(ctx: &Ctx<'_>) -> bool {
    ENDPOINT_CONTROLLERS.contains(&ctx.user.username.as_str())
}

/// An IP address as Kubernetes' sloppy parser reads it: the standard forms,
/// plus dotted IPv4 whose octets carry leading zeros (read as decimal, not
/// octal).
fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    let octets: Vec<u8> = s
        .split('.')
        .map(|o| {
            if o.is_empty() || o.len() > 3 || !o.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            o.parse().ok()
        })
        .collect::<Option<_>>()?;
    let [a, b, c, d] = octets.as_slice() else {
        return None;
    };
    Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)))
}

/// The violation for the address `raw` at `path`, if it is cluster-internal
/// or cannot be read.
fn address(ctx: &Ctx<'_>, kind: &str, raw: Option<&Value>, path: &str, out: &mut Vec<Violation>) {
    let Some(text) = raw.and_then(Value::as_str) else {
        let what = raw.map_or("is missing".to_string(), |v| format!("{v} is not a string"));
        out.push(Violation::new(
            path,
            format!("{path}: {what}, so the address cannot be judged; set an IP address outside the cluster"),
        ));
        return;
    };
    let Some(ip) = parse_ip(text.trim()) else {
        out.push(Violation::new(
            path,
            format!("{path}: {text:?} is not an IP address such as 203.0.113.7 or 2001:db8::7, so it cannot be judged"),
        ));
        return;
    };
    let canonical = ip.to_canonical();
    let Some(range) = ctx
        .settings
        .cluster_cidrs
        .iter()
        .find(|n| n.contains(&ip) || n.contains(&canonical))
    else {
        return;
    };
    out.push(Violation::new(
        path,
        format!(
            "{path}: {text} is inside the cluster's range {range} (clusterCIDRs): {kind} written by hand may not point at pods or Services, or a selector-less Service fronts another tenant's pods (CVE-2021-25740); point it at an address outside the cluster, or give the Service a selector so the endpoint controllers fill it in"
        ),
    ));
}

/// An `FQDN` slice address: judged like an ExternalName target.
fn fqdn(ctx: &Ctx<'_>, own: &str, raw: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(name) = raw.as_str() else {
        address(ctx, "EndpointSlices", Some(raw), path, out);
        return;
    };
    if parse_ip(name.trim()).is_some() {
        address(ctx, "EndpointSlices", Some(raw), path, out);
        return;
    }
    let Some(ns) = dns_namespace(name) else {
        return;
    };
    if let Some(t) = ctx.inventory.tenant_of(&ns).filter(|t| *t != own) {
        out.push(Violation::new(
            path,
            format!(
                "{path}: {name:?} points into namespace {ns} of tenant {t}; an EndpointSlice may only point at services of tenant {own} or outside the cluster"
            ),
        ));
    }
}

/// `subsets[].addresses[].ip` and `subsets[].notReadyAddresses[].ip`.
pub(crate) fn endpoints(ctx: &Ctx<'_>, _own: &str, obj: &Value, out: &mut Vec<Violation>) {
    if by_endpoint_controller(ctx) {
        return;
    }
    for (i, subset) in list_at(obj.get("subsets"), "subsets", out)
        .iter()
        .enumerate()
    {
        for field in ["addresses", "notReadyAddresses"] {
            let list_path = format!("subsets[{i}].{field}");
            for (j, a) in list_at(subset.get(field), &list_path, out)
                .iter()
                .enumerate()
            {
                let path = format!("{list_path}[{j}].ip");
                address(ctx, "Endpoints", a.get("ip"), &path, out);
            }
        }
    }
}

/// `endpoints[].addresses[]`, read by the slice's `addressType`.
pub(crate) fn endpoint_slice(ctx: &Ctx<'_>, own: &str, obj: &Value, out: &mut Vec<Violation>) {
    if by_endpoint_controller(ctx) {
        return;
    }
    let address_type = obj.get("addressType").and_then(Value::as_str);
    if !matches!(address_type, Some("IPv4" | "IPv6" | "FQDN")) {
        let what = obj
            .get("addressType")
            .map_or("is missing".to_string(), |v| {
                format!("{v} is not IPv4, IPv6 or FQDN")
            });
        out.push(Violation::new(
            "addressType",
            format!("addressType: {what}, so the addresses cannot be judged; set IPv4 or IPv6"),
        ));
        return;
    }
    for (i, ep) in list_at(obj.get("endpoints"), "endpoints", out)
        .iter()
        .enumerate()
    {
        let list_path = format!("endpoints[{i}].addresses");
        for (j, a) in list_at(ep.get("addresses"), &list_path, out)
            .iter()
            .enumerate()
        {
            let path = format!("{list_path}[{j}]");
            if address_type == Some("FQDN") {
                fqdn(ctx, own, a, &path, out);
            } else {
                address(ctx, "EndpointSlices", Some(a), &path, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{validate, Params};
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::Operation;
    use serde_json::json;

    fn world() -> World {
        let mut w = World::new();
        w.settings.cluster_cidrs = ["10.42.0.0/16", "10.43.0.0/16", "fd00:42::/56"]
            .iter()
            .map(|c| c.parse().expect("test CIDR"))
            .collect();
        w
    }

    fn eps(subsets: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db"}, "subsets": subsets})
    }

    fn ready(ips: &[&str]) -> Value {
        let addrs: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        eps(json!([{"addresses": addrs, "ports": [{"port": 5432}]}]))
    }

    fn slice(address_type: &str, addrs: &[&str]) -> Value {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "db-x", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": address_type, "endpoints": [{"addresses": addrs}], "ports": [{"port": 5432}]})
    }

    fn paths_as(mut w: World, user: &str, ns: &str, obj: &Value) -> Vec<String> {
        w.user.username = user.to_string();
        validate(&w.ctx(ns, obj), &Params::default())
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    const TENANT: &str = "alice";

    #[test]
    fn endpoint_cases() {
        let spoofed = {
            let mut s = slice("IPv4", &["10.42.1.9"]);
            s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] =
                json!("endpointslice-controller.k8s.io");
            s
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, &str, Value, Vec<&str>)> = vec![
            ("outside the cluster", TENANT, "acme-prod", ready(&["203.0.113.7", "198.51.100.1"]), vec![]),
            ("no subsets (leader election)", TENANT, "acme-prod", eps(Value::Null), vec![]),
            ("a pod address", TENANT, "acme-prod", ready(&["203.0.113.7", "10.42.3.4"]), vec!["subsets[0].addresses[1].ip"]),
            ("a Service address", TENANT, "acme-prod", ready(&["10.43.0.10"]), vec!["subsets[0].addresses[0].ip"]),
            ("not ready addresses too", TENANT, "acme-prod", eps(json!([{"notReadyAddresses": [{"ip": "10.42.9.9"}]}])), vec!["subsets[0].notReadyAddresses[0].ip"]),
            ("second subset", TENANT, "acme-prod", eps(json!([{"addresses": [{"ip": "203.0.113.7"}]}, {"addresses": [{"ip": "10.42.0.1"}]}])), vec!["subsets[1].addresses[0].ip"]),
            ("leading zeros read as decimal", TENANT, "acme-prod", ready(&["010.042.000.005"]), vec!["subsets[0].addresses[0].ip"]),
            ("IPv4-mapped IPv6", TENANT, "acme-prod", ready(&["::ffff:10.42.0.5"]), vec!["subsets[0].addresses[0].ip"]),
            ("IPv6 pod address", TENANT, "acme-prod", ready(&["fd00:42::17"]), vec!["subsets[0].addresses[0].ip"]),
            ("IPv6 outside", TENANT, "acme-prod", ready(&["2001:db8::7"]), vec![]),
            ("missing ip", TENANT, "acme-prod", eps(json!([{"addresses": [{"hostname": "db-0"}]}])), vec!["subsets[0].addresses[0].ip"]),
            ("garbage ip", TENANT, "acme-prod", ready(&["ten.forty-two"]), vec!["subsets[0].addresses[0].ip"]),
            ("subsets not a list", TENANT, "acme-prod", eps(json!({"addresses": []})), vec!["subsets"]),
            ("endpoint controller", "system:serviceaccount:kube-system:endpoint-controller", "acme-prod", ready(&["10.42.3.4"]), vec![]),
            ("controller-manager's own credentials", "system:kube-controller-manager", "acme-prod", ready(&["10.42.3.4"]), vec![]),
            ("a lookalike service account", "system:serviceaccount:acme-prod:endpoint-controller", "acme-prod", ready(&["10.42.3.4"]), vec!["subsets[0].addresses[0].ip"]),
            ("platform namespace is not judged", TENANT, "monitoring", ready(&["10.42.3.4"]), vec![]),
            ("slice outside", TENANT, "acme-prod", slice("IPv4", &["203.0.113.7"]), vec![]),
            ("slice pod address", TENANT, "acme-prod", slice("IPv4", &["203.0.113.7", "10.42.1.9"]), vec!["endpoints[0].addresses[1]"]),
            ("slice IPv6", TENANT, "acme-prod", slice("IPv6", &["fd00:42::1:2"]), vec!["endpoints[0].addresses[0]"]),
            ("slice label-spoofed controller", TENANT, "acme-prod", spoofed, vec!["endpoints[0].addresses[0]"]),
            ("slice by the slice controller", "system:serviceaccount:kube-system:endpointslice-controller", "acme-prod", slice("IPv4", &["10.42.1.9"]), vec![]),
            ("slice by the mirroring controller", "system:serviceaccount:kube-system:endpointslicemirroring-controller", "acme-prod", slice("IPv4", &["10.42.1.9"]), vec![]),
            ("slice FQDN outside", TENANT, "acme-prod", slice("FQDN", &["db.example.com"]), vec![]),
            ("slice FQDN of own tenant", TENANT, "acme-prod", slice("FQDN", &["db.acme-dev.svc.cluster.local"]), vec![]),
            ("slice FQDN of another tenant", TENANT, "acme-prod", slice("FQDN", &["db.globex-prod.svc.cluster.local"]), vec!["endpoints[0].addresses[0]"]),
            ("slice FQDN holding an IP", TENANT, "acme-prod", slice("FQDN", &["10.42.1.9"]), vec!["endpoints[0].addresses[0]"]),
            ("slice without addressType", TENANT, "acme-prod", json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "endpoints": []}), vec!["addressType"]),
            ("slice of an unknown addressType", TENANT, "acme-prod", slice("IPv5", &["10.42.1.9"]), vec!["addressType"]),
            ("slice address not a string", TENANT, "acme-prod", json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4", "endpoints": [{"addresses": [7]}]}), vec!["endpoints[0].addresses[0]"]),
            ("EndpointSlice of another group is out of scope", TENANT, "acme-prod", json!({"apiVersion": "example.com/v1", "kind": "EndpointSlice", "addressType": "IPv4", "endpoints": [{"addresses": ["10.42.1.9"]}]}), vec![]),
        ];
        for (name, user, ns, obj, want) in cases {
            assert_eq!(paths_as(world(), user, ns, &obj), want, "{name}");
        }
    }

    #[test]
    fn no_cluster_cidrs_refuse_no_address() {
        assert!(paths_as(World::new(), TENANT, "acme-prod", &ready(&["10.42.3.4"])).is_empty());
    }

    #[test]
    fn update_judges_the_whole_object() {
        let w = world();
        let obj = ready(&["10.42.3.4"]);
        let mut ctx = w.ctx("acme-prod", &obj);
        ctx.operation = Operation::Update;
        ctx.old_object = Some(&obj);
        assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    }

    #[test]
    fn message_says_why_and_how() {
        let w = world();
        let obj = ready(&["10.42.3.4"]);
        let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
        assert!(v[0].message.starts_with("subsets[0].addresses[0].ip: 10.42.3.4 is inside the cluster's range 10.42.0.0/16 (clusterCIDRs): Endpoints written by hand may not point at pods or Services"), "{}", v[0].message);
        assert!(
            v[0].message.contains("give the Service a selector"),
            "{}",
            v[0].message
        );
    }

    #[test]
    fn sloppy_ip_parsing() {
        for (s, want) in [
            ("10.42.0.5", Some("10.42.0.5")),
            ("010.042.000.005", Some("10.42.0.5")),
            ("::ffff:10.42.0.5", Some("::ffff:10.42.0.5")),
            ("256.1.1.1", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("0010.1.1.1", None),
            ("", None),
        ] {
            assert_eq!(
                parse_ip(s).map(|ip| ip.to_string()).as_deref(),
                want,
                "{s:?}"
            );
        }
    }
}
