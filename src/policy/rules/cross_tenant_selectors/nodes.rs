//! Dedicated nodes: a tenant's `nodeSelector` pairs are the labels and the
//! NoSchedule taints of its nodes. A pod of another tenant may not select
//! them (`nodeSelector`), require or prefer them (node affinity) nor
//! tolerate their taint; a keyless `operator: Exists` toleration tolerates
//! every taint and is rejected outright. While other tenants have dedicated
//! nodes, a pod may not name its node (`nodeName`) either: that skips the
//! scheduler, and with it the NoSchedule taints, and tenantguard cannot tell
//! whose node a name is.
//!
//! Reference: <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/>
//! (how a toleration matches a taint) and
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity>.

use serde_json::Value;

use super::{list_at, not_null};
use crate::podspec;
use crate::policy::rules::{Ctx, Operation, Violation};
use crate::tenancy::TenantRef;

/// Another tenant's dedicated-node pair.
#[derive(Debug, Clone, Copy)]
struct Pair<'a> {
    tenant: &'a str,
    key: &'a str,
    value: &'a str,
}

/// Other tenants' pairs, except those the own tenant shares (a pool two
/// tenants both declare is the own tenant's too). Read on demand: most pods
/// name no node, and a toleration of one key needs only that key's pairs.
#[derive(Clone, Copy)]
struct Foreign<'c, 'a> {
    ctx: &'c Ctx<'a>,
    own: &'c TenantRef<'a>,
}

impl<'a> Foreign<'_, 'a> {
    /// The pairs with `key` (every pair for None).
    fn pairs<'k>(&self, key: Option<&'k str>) -> impl Iterator<Item = Pair<'a>> + 'k
    where
        'a: 'k,
    {
        let mine = self.own.node_selector();
        let inventory = self.ctx.inventory;
        let own = self.own.name;
        let keyed = key.map(|key| inventory.foreign_node_pairs_with_key(own, key));
        let every = key.is_none().then(|| inventory.foreign_node_pairs(own));
        keyed
            .into_iter()
            .flatten()
            .chain(every.into_iter().flatten())
            .filter(move |(_, k, v)| mine.is_none_or(|m| m.get(*k).map(String::as_str) != Some(*v)))
            .map(|(tenant, key, value)| Pair { tenant, key, value })
    }
}

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn node_selector(sp: &str, spec: &Value, foreign: Foreign<'_, '_>, out: &mut Vec<Violation>) {
    let Some(sel) = spec.get("nodeSelector").and_then(Value::as_object) else {
        return;
    };
    for (k, v) in sel {
        if let Some(p) = foreign.pairs(Some(k)).find(|p| Some(p.value) == v.as_str()) {
            let path = format!("{sp}.nodeSelector.{k}");
            out.push(Violation::new(
                path.clone(),
                format!(
                    "{path}: {:?} selects the dedicated nodes of tenant {}; remove it (node-pool adds the own tenant's node selector)",
                    p.value, p.tenant
                ),
            ));
        }
    }
}

/// The foreign pair a node-selector requirement can match, if any.
fn requirement_hits<'a>(expr: &Value, foreign: Foreign<'_, 'a>) -> Option<Pair<'a>> {
    let key = str_of(expr, "key")?;
    let values: Vec<&str> = expr
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let int = |s: &str| s.trim().parse::<i64>().ok();
    foreign.pairs(Some(key)).find(|p| {
        match str_of(expr, "operator") {
            Some("In") => values.contains(&p.value),
            Some("Exists") => true,
            // Gt/Lt compare integers: a numeric pair value can satisfy them.
            Some("Gt") => matches!((values.first().and_then(|v| int(v)), int(p.value)), (Some(b), Some(v)) if v > b),
            Some("Lt") => matches!((values.first().and_then(|v| int(v)), int(p.value)), (Some(b), Some(v)) if v < b),
            // NotIn and DoesNotExist do not aim at a pool; the taint keeps
            // the pod off unless it is also tolerated.
            _ => false,
        }
    })
}

fn match_expressions(path: &str, term: &Value, foreign: Foreign<'_, '_>, out: &mut Vec<Violation>) {
    let me_path = format!("{path}.matchExpressions");
    for (j, expr) in list_at(term.get("matchExpressions"), &me_path, out)
        .iter()
        .enumerate()
    {
        if let Some(p) = requirement_hits(expr, foreign) {
            let path = format!("{me_path}[{j}]");
            out.push(Violation::new(
                path.clone(),
                format!(
                    "{path}: {} {} can match {}={}, the dedicated nodes of tenant {}; remove the requirement",
                    p.key,
                    str_of(expr, "operator").unwrap_or(""),
                    p.key,
                    p.value,
                    p.tenant
                ),
            ));
        }
    }
}

fn node_affinity(sp: &str, spec: &Value, foreign: Foreign<'_, '_>, out: &mut Vec<Violation>) {
    let Some(na) = not_null(spec.get("affinity").and_then(|a| a.get("nodeAffinity"))) else {
        return;
    };
    let base = format!("{sp}.affinity.nodeAffinity");
    if let Some(req) = not_null(na.get("requiredDuringSchedulingIgnoredDuringExecution")) {
        let terms =
            format!("{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
        for (i, term) in list_at(req.get("nodeSelectorTerms"), &terms, out)
            .iter()
            .enumerate()
        {
            match_expressions(&format!("{terms}[{i}]"), term, foreign, out);
        }
    }
    let pref = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution");
    for (i, weighted) in list_at(
        na.get("preferredDuringSchedulingIgnoredDuringExecution"),
        &pref,
        out,
    )
    .iter()
    .enumerate()
    {
        if let Some(term) = not_null(weighted.get("preference")) {
            match_expressions(&format!("{pref}[{i}].preference"), term, foreign, out);
        }
    }
}

fn tolerations(sp: &str, spec: &Value, foreign: Foreign<'_, '_>, out: &mut Vec<Violation>) {
    let Some(list) = not_null(spec.get("tolerations")) else {
        return;
    };
    let base = format!("{sp}.tolerations");
    for (i, t) in list_at(Some(list), &base, out).iter().enumerate() {
        // Only a toleration for NoSchedule (or for every effect) lets a pod
        // onto a NoSchedule-tainted node.
        if matches!(str_of(t, "effect"), Some("NoExecute" | "PreferNoSchedule")) {
            continue;
        }
        let path = podspec::Item(&base, i);
        let op = str_of(t, "operator").unwrap_or("");
        if !matches!(op, "" | "Equal" | "Exists") {
            out.push(Violation::new(
                path.to_string(),
                format!("{path}: operator {op:?} is not Equal or Exists, so the toleration cannot be judged; fix it"),
            ));
            continue;
        }
        let key = str_of(t, "key").unwrap_or("");
        if key.is_empty() && op == "Exists" {
            out.push(Violation::new(
                path.to_string(),
                format!("{path}: a toleration with operator Exists and no key tolerates every taint, other tenants' dedicated nodes included; tolerate specific keys"),
            ));
            continue;
        }
        // A keyed toleration can only match pairs of its key.
        let key = (!key.is_empty()).then_some(key);
        if let Some(p) = foreign
            .pairs(key)
            .find(|p| podspec::toleration_matches(t, p.key, p.value))
        {
            out.push(Violation::new(
                path.to_string(),
                format!(
                    "{path}: tolerates the taint {}={}:NoSchedule of tenant {}'s dedicated nodes; remove the toleration",
                    p.key, p.value, p.tenant
                ),
            ));
        }
    }
}

fn node_name(
    ctx: &Ctx<'_>,
    sp: &str,
    spec: &Value,
    foreign: Foreign<'_, '_>,
    out: &mut Vec<Violation>,
) {
    // The scheduler binds a Pod by setting nodeName, so every later update of
    // a running Pod carries it; only a Pod created with it skipped the
    // scheduler. A template's nodeName always does.
    if !podspec::is_workload(ctx.group, ctx.kind) && ctx.operation != Operation::Create {
        return;
    }
    let Some(name) = spec
        .get("nodeName")
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
    else {
        return;
    };
    if foreign.pairs(None).next().is_none() {
        return;
    }
    let path = format!("{sp}.nodeName");
    out.push(Violation::new(
        path.clone(),
        format!(
            "{path}: {name} places the pod without the scheduler, so the NoSchedule taints of other tenants' dedicated nodes do not keep it off them; remove nodeName and use nodeSelector"
        ),
    ));
}

/// Every dedicated-node violation of the object's pod, if it has one.
pub(crate) fn dedicated_nodes(
    ctx: &Ctx<'_>,
    own: &TenantRef<'_>,
    pod: Option<&podspec::PodView<'_>>,
    out: &mut Vec<Violation>,
) {
    let Some(pod) = pod else {
        return;
    };
    let sp = pod.at.spec_path;
    let foreign = Foreign { ctx, own };
    node_name(ctx, sp, pod.spec, foreign, out);
    node_selector(sp, pod.spec, foreign, out);
    node_affinity(sp, pod.spec, foreign, out);
    tolerations(sp, pod.spec, foreign, out);
}
