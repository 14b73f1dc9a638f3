//! `cross-tenant-selectors` (validating): nothing a tenant writes may select,
//! reach or claim another tenant's namespaces, pods or nodes.
//!
//! It owns:
//! - NetworkPolicy peers (`spec.ingress[].from[]`, `spec.egress[].to[]`): a
//!   `namespaceSelector` is safe only when it is pinned to the own tenant's
//!   label, or names by `kubernetes.io/metadata.name` only shared namespaces
//!   (and, in egress, the Tenant's allowed ones). The own tenant's namespaces
//!   by name need the pin too: a name outlives its namespace (see
//!   [`namespace_selector_problem`]);
//! - pod (anti-)affinity terms of Pods and pod templates (`namespaces`, and
//!   `namespaceSelector` judged as NetworkPolicy selectors are);
//! - node selectors, node affinity and tolerations aimed at another tenant's
//!   dedicated nodes, and keyless `operator: Exists` tolerations
//!   ([`nodes`]); a tenant's pods selecting another value of its own pool
//!   key ([`own_pool`]);
//! - Endpoints and EndpointSlices pointing at cluster-internal addresses,
//!   unless the endpoint controllers wrote them ([`endpoints`]);
//! - labels: a `tenantguard.io/tenant` label (on any object, its pod
//!   template, a CronJob's job template, a StatefulSet's claim templates) or a
//!   Service selector naming another tenant;
//! - Services: `ExternalName` pointing at `<svc>.<ns>.svc[.<domain>]` of
//!   another tenant, and any `externalIPs` (CVE-2020-8554).
//!
//! Operations: CREATE and UPDATE (the registry's default): the whole new
//! object is judged on UPDATE too, since a selector or label changed later
//! reaches as far as one set at creation. A DELETE carries no object.
//!
//! References:
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/>,
//! <https://kubernetes.io/docs/concepts/services-networking/service/#externalname>,
//! <https://github.com/kubernetes/kubernetes/issues/97076> (CVE-2020-8554),
//! <https://github.com/kubernetes/kubernetes/issues/103675> (CVE-2021-25740).

pub(crate) mod endpoints;
pub(crate) mod nodes;
pub(crate) mod own_pool;

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::podspec::{self, Field, Item, PodView};
use crate::selector::LabelSelector;
use crate::tenancy::{is_shared, NamespaceTenancy, TenantRef};
use crate::tenant_label::TenantLabel;
use crate::{NAME_LABEL, TENANT_LABEL};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// NetworkPolicies, Services, Endpoints and EndpointSlices, pods and
/// workloads: the kinds judged beyond the labels every object carries.
const SPECIFIC: [GroupKind; 13] = podspec::pod_kinds_and(&[
    GroupKind::new("networking.k8s.io", "NetworkPolicy"),
    GroupKind::new("", "Service"),
    GroupKind::new("", "Endpoints"),
    GroupKind::new("discovery.k8s.io", "EndpointSlice"),
]);

/// `cross-tenant-selectors`.
pub struct CrossTenantSelectors;

impl Rule for CrossTenantSelectors {
    const ID: &'static str = "cross-tenant-selectors";
    const SCOPE: Scope = Scope::TenantObjects;
    /// A selector or label changed later reaches as far as one set at
    /// creation; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// Any kind: a tenant label claiming another tenant is refused on every
    /// object.
    const KINDS: Kinds = Kinds::Any;
    const SPECIFIC_KINDS: &'static [GroupKind] = &SPECIFIC;
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// What a namespace selector is used for: it decides which namespaces
/// besides the tenant's own may be selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// NetworkPolicy ingress peers: the Settings' shared namespaces.
    Ingress,
    /// NetworkPolicy egress peers: shared namespaces plus the Tenant's
    /// `egress.allowedNamespaces`.
    Egress,
    /// Pod (anti-)affinity terms: the Settings' shared namespaces.
    Affinity,
}

/// How a namespace named by `kubernetes.io/metadata.name` stands for a
/// tenant's selector.
enum NameStanding {
    /// Shared, or allowed to the tenant for egress: any selector may name it.
    Open,
    /// The own tenant's: reachable, but by name only together with the
    /// tenant pin (see [`namespace_selector_problem`]).
    Own,
    /// Not reachable, and why.
    Closed(String),
}

fn name_standing(ctx: &Ctx<'_>, own: &TenantRef<'_>, name: &str, reach: Reach) -> NameStanding {
    if is_shared(ctx.settings, name)
        || (reach == Reach::Egress && own.allowed_egress_namespaces().iter().any(|n| n == name))
    {
        return NameStanding::Open;
    }
    match ctx.inventory.namespace(name) {
        NamespaceTenancy::Tenant(t) if t == own.name => NameStanding::Own,
        NamespaceTenancy::Tenant(t) => {
            NameStanding::Closed(format!("namespace {name:?} belongs to tenant {t}"))
        }
        NamespaceTenancy::Platform => NameStanding::Closed(format!(
            "namespace {name:?} is a platform namespace that is not shared"
        )),
        NamespaceTenancy::Unknown => NameStanding::Closed(format!(
            "namespace {name:?} is not one tenantguard can place in a tenant"
        )),
    }
}

/// Why the namespace `name` may not be reached by `own` for `reach`, or None
/// when it may (shared, allowed for egress, or the own tenant's). For a name
/// in a list that cannot carry a tenant pin (a pod affinity term's
/// `namespaces`); selectors go through [`namespace_selector_problem`].
pub(crate) fn namespace_problem(
    ctx: &Ctx<'_>,
    own: &TenantRef<'_>,
    name: &str,
    reach: Reach,
) -> Option<String> {
    match name_standing(ctx, own, name, reach) {
        NameStanding::Closed(why) => Some(why),
        NameStanding::Open | NameStanding::Own => None,
    }
}

/// Why a `namespaceSelector` can select namespaces `own` may not reach, with
/// the fix, or None when it cannot. Safe means either
/// - (a) the tenant label is pinned to the own tenant (matchLabels or `In
///   [<own>]`; an empty set of values matches nothing: safe too), or
/// - (b) `kubernetes.io/metadata.name` is pinned to namespaces that are
///   shared (or, for egress, allowed by the Tenant).
///
/// The own tenant's namespaces by name alone are not safe: a name outlives
/// its namespace, and once that namespace is deleted and re-created by
/// another tenant's owner, the selector picks theirs. So they count only
/// under (a). Anything else (`{}`, another tenant's label, NotIn, Exists,
/// DoesNotExist, a malformed selector) is a problem.
pub(crate) fn namespace_selector_problem(
    ctx: &Ctx<'_>,
    own: &TenantRef<'_>,
    selector: &Value,
    reach: Reach,
) -> Option<String> {
    let sel = match LabelSelector::from_value(selector) {
        Ok(s) => s,
        Err(e) => return Some(format!("cannot be judged ({e}); fix the selector")),
    };
    let fix = || selector_fix(ctx, own, reach);
    if sel.is_empty() {
        return Some(format!(
            "{{}} selects every namespace, other tenants' included; {}",
            fix()
        ));
    }
    let tenants = sel.allowed_values(TENANT_LABEL);
    if tenants
        .as_ref()
        .is_some_and(|set| set.iter().all(|t| *t == own.name))
    {
        return None;
    }
    let (mut open, mut own_names, mut closed) = (Vec::new(), Vec::new(), None);
    if let Some(set) = sel.allowed_values(NAME_LABEL) {
        for n in set {
            match name_standing(ctx, own, n, reach) {
                NameStanding::Open => open.push(n),
                NameStanding::Own => own_names.push(n),
                NameStanding::Closed(why) => {
                    closed.get_or_insert(why);
                }
            }
        }
        if own_names.is_empty() && closed.is_none() {
            return None;
        }
    }
    if let Some(set) = tenants {
        let others: Vec<&str> = set.into_iter().filter(|t| *t != own.name).collect();
        let (noun, list) = match others.as_slice() {
            [one] => ("tenant", one.to_string()),
            many => ("tenants", many.join(", ")),
        };
        return Some(format!("selects namespaces of {noun} {list}; {}", fix()));
    }
    if let Some(why) = closed {
        return Some(format!("selects {why}; {}", fix()));
    }
    if !own_names.is_empty() {
        let quoted: Vec<String> = own_names.iter().map(|n| format!("{n:?}")).collect();
        let (noun, list) = match quoted.as_slice() {
            [one] => ("namespace", one.clone()),
            many => ("namespaces", many.join(", ")),
        };
        let apart = if open.is_empty() {
            String::new()
        } else {
            format!(
                " (the pin would drop {}, so name those in a peer of their own)",
                open.join(", ")
            )
        };
        return Some(format!(
            "names {noun} {list} of tenant {t} by {NAME_LABEL} alone: a name outlives its namespace, and re-created by another tenant's owner it would select theirs; add matchLabels {{{TENANT_LABEL}: {t}}} to this selector{apart}",
            t = own.name
        ));
    }
    Some(format!(
        "is not pinned to tenant {}: it can select namespaces of other tenants; {}",
        own.name,
        fix()
    ))
}

/// How to fix a selector: what it may select instead.
fn selector_fix(ctx: &Ctx<'_>, own: &TenantRef<'_>, reach: Reach) -> String {
    let mut shared: Vec<&str> = ctx
        .settings
        .shared_namespaces
        .iter()
        .map(String::as_str)
        .collect();
    if reach == Reach::Egress {
        shared.extend(own.allowed_egress_namespaces().iter().map(String::as_str));
    }
    let shared = if shared.is_empty() {
        String::new()
    } else {
        format!(
            ", or name only shared ones ({}) by {NAME_LABEL}",
            shared.join(", ")
        )
    };
    format!(
        "pin it with matchLabels {{{TENANT_LABEL}: {}}} (namespaces of tenant {} by name only together with that pin){shared}",
        own.name, own.name
    )
}

/// The items of an optional list; a value that is not a list is reported
/// (it cannot be judged) and yields nothing. `path` is formatted only then.
pub(crate) fn list_at<'v>(
    v: Option<&'v Value>,
    path: impl std::fmt::Display,
    out: &mut Vec<Violation>,
) -> &'v [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            out.push(Violation::new(
                path.to_string(),
                format!("{path}: is not a list, so it cannot be judged; fix its structure"),
            ));
            &[]
        }
    }
}

/// A peer's `namespaceSelector`, `podSelector` and `ipBlock`, each None when
/// absent or null (and all None for a peer that is not an object). One pass
/// over the peer's few keys instead of three lookups: this runs for every
/// peer of policies with thousands of them.
pub(crate) fn peer_fields(peer: &Value) -> [Option<&Value>; 3] {
    let mut found = [None; 3];
    let Value::Object(m) = peer else {
        return found;
    };
    for (k, v) in m {
        let slot = match k.as_str() {
            "namespaceSelector" => 0,
            "podSelector" => 1,
            "ipBlock" => 2,
            _ => continue,
        };
        if !v.is_null() {
            found[slot] = Some(v);
        }
    }
    found
}

fn not_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn network_policy(ctx: &Ctx<'_>, own: &TenantRef<'_>, obj: &Value, out: &mut Vec<Violation>) {
    let spec = obj.get("spec");
    for (section, peers, reach) in [
        ("ingress", "from", Reach::Ingress),
        ("egress", "to", Reach::Egress),
    ] {
        // Paths are formatted only into a violation.
        let rules_path = Field(&"spec", section);
        let rules = list_at(spec.and_then(|s| s.get(section)), rules_path, out);
        for (i, rule) in rules.iter().enumerate() {
            let rule_at = Item(&rules_path, i);
            let peers_path = Field(&rule_at, peers);
            for (j, peer) in list_at(rule.get(peers), peers_path, out).iter().enumerate() {
                let [Some(sel), _, _] = peer_fields(peer) else {
                    // podSelector alone stays in the policy's own namespace;
                    // ipBlock peers are restrict-egress's concern.
                    continue;
                };
                if let Some(why) = namespace_selector_problem(ctx, own, sel, reach) {
                    let path = format!("{peers_path}[{j}].namespaceSelector");
                    out.push(Violation::new(path.clone(), format!("{path}: {why}")));
                }
            }
        }
    }
}

fn affinity_term(
    ctx: &Ctx<'_>,
    own: &TenantRef<'_>,
    term: &Value,
    path: &str,
    out: &mut Vec<Violation>,
) {
    // A `namespaces` list cannot carry a tenant pin, so the own tenant's
    // names stay admitted there: a re-created namespace would only steer
    // where the pod is scheduled. The term's namespaceSelector is judged
    // exactly as a NetworkPolicy's, own names needing the pin.
    let ns_path = format!("{path}.namespaces");
    for (k, n) in list_at(term.get("namespaces"), &ns_path, out)
        .iter()
        .enumerate()
    {
        let why = match n.as_str() {
            Some(n) => namespace_problem(ctx, own, n, Reach::Affinity),
            None => Some(format!("{n} is not a namespace name")),
        };
        if let Some(why) = why {
            out.push(Violation::new(
                format!("{ns_path}[{k}]"),
                format!(
                    "{ns_path}[{k}]: {why}; pod affinity may only name namespaces of tenant {} or shared namespaces",
                    own.name
                ),
            ));
        }
    }
    // An absent namespaceSelector (with or without namespaces) keeps the term
    // to the listed namespaces or the pod's own.
    if let Some(sel) = not_null(term.get("namespaceSelector")) {
        if let Some(why) = namespace_selector_problem(ctx, own, sel, Reach::Affinity) {
            let path = format!("{path}.namespaceSelector");
            out.push(Violation::new(path.clone(), format!("{path}: {why}")));
        }
    }
}

fn pod_affinity(
    ctx: &Ctx<'_>,
    own: &TenantRef<'_>,
    pod: Option<&PodView<'_>>,
    out: &mut Vec<Violation>,
) {
    let Some(pod) = pod else {
        return;
    };
    let sp = pod.at.spec_path;
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(aff) = not_null(pod.spec.get("affinity").and_then(|a| a.get(kind))) else {
            continue;
        };
        let base = format!("{sp}.affinity.{kind}");
        let req = format!("{base}.requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in list_at(
            aff.get("requiredDuringSchedulingIgnoredDuringExecution"),
            &req,
            out,
        )
        .iter()
        .enumerate()
        {
            affinity_term(ctx, own, term, &format!("{req}[{i}]"), out);
        }
        let pref = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution");
        for (i, weighted) in list_at(
            aff.get("preferredDuringSchedulingIgnoredDuringExecution"),
            &pref,
            out,
        )
        .iter()
        .enumerate()
        {
            if let Some(term) = not_null(weighted.get("podAffinityTerm")) {
                affinity_term(ctx, own, term, &format!("{pref}[{i}].podAffinityTerm"), out);
            }
        }
    }
}

/// A `tenantguard.io/tenant` entry in the map at `map_path` naming a tenant
/// other than `own`.
fn tenant_claim(
    map: Option<&Value>,
    map_path: &str,
    own: &str,
    namespace: &str,
    what: &str,
    out: &mut Vec<Violation>,
) {
    // An empty value is a missing label (tenant-labels fills it in where it
    // labels), not a claim on a tenant named "".
    let claim = match crate::tenant_label::in_labels(map) {
        TenantLabel::Absent => return,
        TenantLabel::Tenant(t) if t == own => return,
        TenantLabel::Tenant(t) => format!("{t:?} {what} tenant {t}"),
        TenantLabel::Malformed(v) => format!("{v} is not a tenant name"),
    };
    let path = format!("{map_path}.{TENANT_LABEL}");
    out.push(Violation::new(
        path.clone(),
        format!(
            "{path}: {claim}, but namespace {namespace} belongs to tenant {own}; remove it (tenantguard sets {TENANT_LABEL}) or set it to {own:?}"
        ),
    ));
}

fn labels(
    ctx: &Ctx<'_>,
    own: &str,
    obj: &Value,
    pod: Option<&PodView<'_>>,
    out: &mut Vec<Violation>,
) {
    let ns = ctx.namespace;
    let claims = "claims";
    tenant_claim(
        crate::podspec::pointer(obj, "/metadata/labels"),
        "metadata.labels",
        own,
        ns,
        claims,
        out,
    );
    if let Some(pod) = pod {
        if pod.at.meta_path != "metadata" {
            tenant_claim(
                pod.metadata.get("labels"),
                &format!("{}.labels", pod.at.meta_path),
                own,
                ns,
                claims,
                out,
            );
        }
    }
    // Objects that controllers create from these templates carry the labels
    // too: catch them at the template, not when the controller fails later.
    match (ctx.group, ctx.kind) {
        ("batch", "CronJob") => tenant_claim(
            crate::podspec::pointer(obj, "/spec/jobTemplate/metadata/labels"),
            "spec.jobTemplate.metadata.labels",
            own,
            ns,
            claims,
            out,
        ),
        ("apps", "StatefulSet") => {
            let path = "spec.volumeClaimTemplates";
            let templates = list_at(
                crate::podspec::pointer(obj, "/spec/volumeClaimTemplates"),
                path,
                out,
            );
            for (i, t) in templates.iter().enumerate() {
                tenant_claim(
                    crate::podspec::pointer(t, "/metadata/labels"),
                    &format!("{path}[{i}].metadata.labels"),
                    own,
                    ns,
                    claims,
                    out,
                );
            }
        }
        ("", "Service") => tenant_claim(
            crate::podspec::pointer(obj, "/spec/selector"),
            "spec.selector",
            own,
            ns,
            "selects pods of",
            out,
        ),
        _ => {}
    }
}

/// The namespace a cluster DNS name points into, if it names one:
/// `<svc>.<ns>.svc[.<domain>]`, `<pod>.<svc>.<ns>.svc[...]`,
/// `<a-b-c-d>.<ns>.pod[...]`, and the short `<svc>.<ns>` that resolvers
/// complete through the search path.
pub(crate) fn dns_namespace(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let at = labels
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, l)| **l == "svc" || **l == "pod")
        .map(|(i, _)| i - 1);
    let at = match (at, labels.len()) {
        (Some(i), _) => i,
        (None, 2) => 1,
        _ => return None,
    };
    labels.get(at).map(|s| s.to_string())
}

fn service(ctx: &Ctx<'_>, own: &str, obj: &Value, out: &mut Vec<Violation>) {
    let spec = obj.get("spec");
    let field = |k: &str| spec.and_then(|s| s.get(k));
    if field("type").and_then(Value::as_str) == Some("ExternalName") {
        if let Some(target) = field("externalName").and_then(Value::as_str) {
            if let Some(ns) = dns_namespace(target) {
                if let Some(t) = ctx.inventory.tenant_of(&ns).filter(|t| *t != own) {
                    out.push(Violation::new(
                        "spec.externalName",
                        format!(
                            "spec.externalName: {target:?} points into namespace {ns} of tenant {t}; an ExternalName Service may only point at services of tenant {own} or outside the cluster"
                        ),
                    ));
                }
            }
        }
    }
    match field("externalIPs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => out.push(Violation::new(
            "spec.externalIPs",
            "spec.externalIPs: a Service may not claim external IPs: it captures traffic to those addresses from every tenant (CVE-2020-8554); remove spec.externalIPs and use a LoadBalancer or an Ingress",
        )),
    }
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(own), Some(obj)) = (ctx.tenant, ctx.object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // The pod is found once for the four checks that read it.
    let pod = ctx.pod();
    let pod = pod.as_ref();
    labels(ctx, own.name, obj, pod, &mut out);
    match (ctx.group, ctx.kind) {
        ("networking.k8s.io", "NetworkPolicy") => network_policy(ctx, &own, obj, &mut out),
        ("", "Service") => service(ctx, own.name, obj, &mut out),
        ("", "Endpoints") => endpoints::endpoints(ctx, own.name, obj, &mut out),
        ("discovery.k8s.io", "EndpointSlice") => {
            endpoints::endpoint_slice(ctx, own.name, obj, &mut out)
        }
        _ => {}
    }
    pod_affinity(ctx, &own, pod, &mut out);
    nodes::dedicated_nodes(ctx, &own, pod, &mut out);
    own_pool::stays_on_own_nodes(&own, pod, &mut out);
    out
}

#[cfg(test)]
mod tests;
