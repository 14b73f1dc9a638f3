//! A tenant with dedicated nodes stays on them: its pods may not select
//! another value of its pool keys (the keys of the Tenant's `nodeSelector`).
//! [`nodes`](super::nodes) keeps other tenants off a pool; this keeps the
//! pool's own tenant in it.
//!
//! When a pod "selects another value" of pool key `k` (own value `v`):
//! - `nodeSelector[k]` is set to anything but `v` (a null entry is absent:
//!   `node-pool` fills it);
//! - a required node affinity term constrains `k` in a way that admits a
//!   node whose `k` is not exactly `v`, or that does not admit `v` at all.
//!   Terms are ORed and the expressions of one term ANDed, so each term is
//!   judged on its own, from the conjunction of its expressions on `k`: it
//!   is confined to the own nodes only when some `In` lists `v` and no other
//!   value of any `In` survives the term's other expressions. `NotIn`,
//!   `Exists` and `Gt`/`Lt` alone always admit other values (`Gt`/`Lt`
//!   compare the label as an integer, so `"03"` passes wherever `"3"` does);
//!   `DoesNotExist`, or an `In` without `v`, cannot land on the own nodes.
//!
//! Such a term is rejected even when the `nodeSelector` that `node-pool`
//! injects (and that the scheduler ANDs with every term) already keeps the
//! pod on its nodes: then the term is dead or redundant, and the pod would
//! either never be scheduled or only look as if it could leave. Saying so at
//! admission beats a Pending pod, and the rule does not depend on `node-pool`
//! being on. A term that does not mention `k` does not select a value of it;
//! nor do `matchFields` (they name nodes by `metadata.name`, never by
//! label). Preferred terms only weigh nodes the required constraints already
//! allow, so they are harmless here.
//!
//! Reference: <https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity>
//! (operators, and how nodeSelector, terms and expressions combine).

use serde_json::Value;

use super::{list_at, not_null};
use crate::podspec::PodView;
use crate::policy::rules::Violation;
use crate::tenancy::TenantRef;

/// One node-selector requirement, as the scheduler reads it.
#[derive(Debug)]
enum Op<'v> {
    In(Vec<&'v str>),
    NotIn(Vec<&'v str>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

impl Op<'_> {
    /// Whether a node whose label is `label` (None: absent) satisfies it.
    fn admits(&self, label: Option<&str>) -> bool {
        match (self, label) {
            (Op::In(vals), Some(l)) => vals.contains(&l),
            (Op::NotIn(vals), l) => l.is_none_or(|l| !vals.contains(&l)),
            (Op::Exists, l) => l.is_some(),
            (Op::DoesNotExist, l) => l.is_none(),
            (Op::Gt(b), Some(l)) => go_int(l).is_some_and(|n| n > *b),
            (Op::Lt(b), Some(l)) => go_int(l).is_some_and(|n| n < *b),
            (Op::In(_) | Op::Gt(_) | Op::Lt(_), None) => false,
        }
    }
}

/// A label value read as the scheduler reads it for Gt/Lt (Go's
/// `strconv.ParseInt(s, 10, 64)`: an optional sign, decimal digits).
fn go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strings(v: Option<&Value>) -> Option<Vec<&str>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(Value::as_str).collect(),
        Some(_) => None,
    }
}

/// Reads a requirement; the error says why it cannot be judged.
fn parse(expr: &Value) -> Result<Op<'_>, String> {
    let values = strings(expr.get("values")).ok_or("values must be a list of strings")?;
    let op = expr.get("operator").and_then(Value::as_str).unwrap_or("");
    let bound = || match values.as_slice() {
        [one] => go_int(one).ok_or(format!("{op} needs an integer value, not {one:?}")),
        _ => Err(format!("{op} needs exactly one value")),
    };
    Ok(match op {
        "In" => Op::In(values),
        "NotIn" => Op::NotIn(values),
        "Exists" => Op::Exists,
        "DoesNotExist" => Op::DoesNotExist,
        "Gt" => Op::Gt(bound()?),
        "Lt" => Op::Lt(bound()?),
        other => {
            return Err(format!(
                "operator {other:?} is not In, NotIn, Exists, DoesNotExist, Gt or Lt"
            ))
        }
    })
}

/// What one term's expressions on a pool key admit.
enum Reach {
    /// Only nodes whose key is exactly the own value.
    Confined,
    /// Not the own value: the expression at this index rules it out.
    Excludes(usize),
    /// The own value and others too.
    Wider,
}

fn reach(reqs: &[(usize, Op<'_>)], own: &str) -> Reach {
    if let Some((j, _)) = reqs.iter().find(|(_, r)| !r.admits(Some(own))) {
        return Reach::Excludes(*j);
    }
    // Without an In the key can take infinitely many values (or be absent),
    // and every requirement but In admits some of them besides `own`.
    let Some(listed) = reqs.iter().find_map(|(_, r)| match r {
        Op::In(vals) => Some(vals),
        _ => None,
    }) else {
        return Reach::Wider;
    };
    let other = listed
        .iter()
        .any(|x| *x != own && reqs.iter().all(|(_, r)| r.admits(Some(x))));
    if other {
        Reach::Wider
    } else {
        Reach::Confined
    }
}

fn node_selector(
    sp: &str,
    spec: &Value,
    own: &TenantRef<'_>,
    pool: &[(&str, &str)],
    out: &mut Vec<Violation>,
) {
    let Some(sel) = spec.get("nodeSelector").and_then(Value::as_object) else {
        return;
    };
    for (k, v) in pool {
        let Some(set) = sel.get(*k).filter(|x| !x.is_null()) else {
            continue;
        };
        if set.as_str() == Some(*v) {
            continue;
        }
        let path = format!("{sp}.nodeSelector.{k}");
        out.push(Violation::new(
            path.clone(),
            format!(
                "{path}: {set} is another value of tenant {t}'s pool key {k}: a tenant with dedicated nodes stays on them ({k}={v}); set it to {v:?} or remove it (node-pool adds it)",
                t = own.name
            ),
        ));
    }
}

fn required_terms(
    sp: &str,
    spec: &Value,
    own: &TenantRef<'_>,
    pool: &[(&str, &str)],
    out: &mut Vec<Violation>,
) {
    let Some(req) = not_null(crate::podspec::pointer(
        spec,
        "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution",
    )) else {
        return;
    };
    let terms_path = format!(
        "{sp}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    );
    for (i, term) in list_at(req.get("nodeSelectorTerms"), &terms_path, out)
        .iter()
        .enumerate()
    {
        let me_path = format!("{terms_path}[{i}].matchExpressions");
        let exprs = list_at(term.get("matchExpressions"), &me_path, out);
        for (k, v) in pool {
            let mut reqs = Vec::new();
            for (j, e) in exprs.iter().enumerate() {
                if e.get("key").and_then(Value::as_str) != Some(*k) {
                    continue;
                }
                match parse(e) {
                    Ok(op) => reqs.push((j, op)),
                    Err(why) => {
                        let path = format!("{me_path}[{j}]");
                        out.push(Violation::new(
                            path.clone(),
                            format!("{path}: a requirement on tenant {}'s pool key {k} that cannot be judged ({why}); fix it", own.name),
                        ));
                    }
                }
            }
            let Some(&(first, _)) = reqs.first() else {
                continue;
            };
            let fix = format!(
                "require {k} In [{v}] or drop the requirement (node-pool adds nodeSelector {k}: {v})"
            );
            let (j, why) = match reach(&reqs, v) {
                Reach::Confined => continue,
                Reach::Excludes(j) => (
                    j,
                    format!("cannot place the pod on tenant {}'s dedicated nodes ({k}={v}): it rules out {v:?}", own.name),
                ),
                Reach::Wider => (
                    first,
                    format!("admits nodes with other values of tenant {}'s pool key {k}, not only its dedicated nodes ({k}={v})", own.name),
                ),
            };
            let path = format!("{me_path}[{j}]");
            out.push(Violation::new(
                path.clone(),
                format!("{path}: this required term {why}; a tenant with dedicated nodes stays on them: {fix}"),
            ));
        }
    }
}

/// Every place the object's pod selects another value of its tenant's pool
/// keys. A path another check already reported (another tenant's pool, a
/// list that is not one) is not reported twice.
pub(crate) fn stays_on_own_nodes(
    own: &TenantRef<'_>,
    pod: Option<&PodView<'_>>,
    out: &mut Vec<Violation>,
) {
    let Some(selector) = own.node_selector() else {
        return;
    };
    let Some(pod) = pod else {
        return;
    };
    let pool: Vec<(&str, &str)> = selector
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sp = pod.at.spec_path;
    let mut found = Vec::new();
    node_selector(sp, pod.spec, own, &pool, &mut found);
    required_terms(sp, pod.spec, own, &pool, &mut found);
    for v in found {
        if !out.iter().any(|o| o.path == v.path) {
            out.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{validate, Params};
    use crate::policy::rules::testing::World;
    use serde_json::{json, Value};

    /// acme's pool is `pool=acme` (its `zone=shared` pair too); globex has
    /// `pool=globex`; initech has no dedicated nodes.
    fn world() -> World {
        let mut w = World::new()
            .with_tenant("acme", "nodeSelector: {pool: acme, zone: shared}")
            .with_tenant("globex", "nodeSelector: {pool: globex, gpu-tier: \"3\"}");
        w.inventory.add_namespace("initech-prod", Some("initech"));
        w
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    const REQ: &str = "requiredDuringSchedulingIgnoredDuringExecution";
    const TERMS: &str =
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

    /// A pod on acme's pool (as node-pool leaves it) with these required terms.
    fn terms(terms: Value) -> Value {
        pod(json!({"nodeSelector": {"pool": "acme", "zone": "shared"},
            "affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": terms}}}}))
    }

    fn exprs(e: Value) -> Value {
        terms(json!([{"matchExpressions": e}]))
    }

    fn e(key: &str, op: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": op, "values": values})
    }

    fn paths(ns: &str, obj: &Value) -> Vec<String> {
        let w = world();
        validate(&w.ctx(ns, obj), &Params::default())
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn own_pool_cases() {
        let at = |i: usize, j: usize| format!("{TERMS}[{i}].matchExpressions[{j}]");
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, Value, Vec<String>)> = vec![
            ("nodeSelector with the own value", "acme-prod", pod(json!({"nodeSelector": {"pool": "acme"}})), vec![]),
            ("no nodeSelector (node-pool adds it)", "acme-prod", pod(json!({"containers": []})), vec![]),
            ("null entry is absent", "acme-prod", pod(json!({"nodeSelector": {"pool": null}})), vec![]),
            ("an unrelated key", "acme-prod", pod(json!({"nodeSelector": {"pool": "acme", "disktype": "ssd"}})), vec![]),
            ("another value of the pool key", "acme-prod", pod(json!({"nodeSelector": {"pool": "general"}})), vec!["spec.nodeSelector.pool".into()]),
            ("another value of the second pool key", "acme-prod", pod(json!({"nodeSelector": {"pool": "acme", "zone": "eu-1"}})), vec!["spec.nodeSelector.zone".into()]),
            ("empty value", "acme-prod", pod(json!({"nodeSelector": {"pool": ""}})), vec!["spec.nodeSelector.pool".into()]),
            ("not a string", "acme-prod", pod(json!({"nodeSelector": {"pool": 7}})), vec!["spec.nodeSelector.pool".into()]),
            ("another tenant's pool is reported once", "acme-prod", pod(json!({"nodeSelector": {"pool": "globex"}})), vec!["spec.nodeSelector.pool".into()]),
            ("affinity In the own value", "acme-prod", exprs(json!([e("pool", "In", &["acme"])])), vec![]),
            ("affinity on an unrelated key", "acme-prod", exprs(json!([e("disktype", "In", &["ssd"])])), vec![]),
            ("In narrowed by NotIn to the own value", "acme-prod", exprs(json!([e("pool", "In", &["acme", "general"]), e("pool", "NotIn", &["general"])])), vec![]),
            ("In own value plus a NotIn of another", "acme-prod", exprs(json!([e("pool", "In", &["acme"]), e("pool", "NotIn", &["general"])])), vec![]),
            ("matchFields only", "acme-prod", terms(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}])), vec![]),
            ("affinity NotIn the own value", "acme-prod", exprs(json!([e("pool", "NotIn", &["acme"])])), vec![at(0, 0)]),
            ("affinity In another value", "acme-prod", exprs(json!([e("pool", "In", &["general"])])), vec![at(0, 0)]),
            ("affinity In the own value and another", "acme-prod", exprs(json!([e("pool", "In", &["acme", "general"])])), vec![at(0, 0)]),
            ("affinity DoesNotExist", "acme-prod", exprs(json!([e("disktype", "In", &["ssd"]), json!({"key": "pool", "operator": "DoesNotExist"})])), vec![at(0, 1)]),
            ("affinity Exists admits every pool", "acme-prod", exprs(json!([{"key": "pool", "operator": "Exists"}])), vec![at(0, 0)]),
            ("affinity NotIn another value still admits others", "acme-prod", exprs(json!([e("pool", "NotIn", &["general"])])), vec![at(0, 0)]),
            ("In own value, then NotIn it", "acme-prod", exprs(json!([e("pool", "In", &["acme"]), e("pool", "NotIn", &["acme"])])), vec![at(0, 1)]),
            ("In [] matches no node", "acme-prod", exprs(json!([e("pool", "In", &[])])), vec![at(0, 0)]),
            ("the second pool key", "acme-prod", exprs(json!([e("pool", "In", &["acme"]), e("zone", "In", &["eu-1"])])), vec![at(0, 1)]),
            ("terms are ORed: the second leaves", "acme-prod", terms(json!([
                {"matchExpressions": [e("pool", "In", &["acme"])]},
                {"matchExpressions": [e("pool", "NotIn", &["acme"])]}])), vec![at(1, 0)]),
            ("unknown operator on the pool key", "acme-prod", exprs(json!([e("pool", "Near", &["acme"])])), vec![at(0, 0)]),
            ("preferred terms are harmless", "acme-prod", pod(json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [e("pool", "NotIn", &["acme"])]}}]}}})), vec![]),
            ("Gt reaching the own numeric value still admits others", "globex-prod", pod(json!({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gpu-tier", "operator": "Gt", "values": ["2"]}]}]}}}})), vec![at(0, 0)]),
            ("In own numeric value, Gt below it", "globex-prod", pod(json!({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [
                {"matchExpressions": [e("gpu-tier", "In", &["3", "1"]), e("gpu-tier", "Gt", &["2"])]}]}}}})), vec![]),
            ("Lt below the own numeric value", "globex-prod", pod(json!({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [
                {"matchExpressions": [e("gpu-tier", "In", &["3"]), e("gpu-tier", "Lt", &["3"])]}]}}}})), vec![at(0, 1)]),
            ("deployment template", "acme-prod", json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"nodeSelector": {"pool": "general"}}}}}),
                vec!["spec.template.spec.nodeSelector.pool".into()]),
            ("cronjob template", "acme-prod", json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec":
                {"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [e("pool", "NotIn", &["acme"])]}]}}}}}}}}}),
                vec![format!("spec.jobTemplate.spec.template.spec.affinity.nodeAffinity.{REQ}.nodeSelectorTerms[0].matchExpressions[0]")]),
            ("a tenant without dedicated nodes picks any pool", "initech-prod", pod(json!({"nodeSelector": {"pool": "general"}})), vec![]),
        ];
        for (name, ns, obj, want) in cases {
            assert_eq!(paths(ns, &obj), want, "{name}");
        }
    }

    #[test]
    fn messages_name_the_pool_and_the_fix() {
        let w = world();
        let msg = |obj: Value| {
            let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
            assert_eq!(v.len(), 1, "{v:?}");
            v[0].message.clone()
        };
        let m = msg(pod(json!({"nodeSelector": {"pool": "general"}})));
        assert_eq!(m, "spec.nodeSelector.pool: \"general\" is another value of tenant acme's pool key pool: a tenant with dedicated nodes stays on them (pool=acme); set it to \"acme\" or remove it (node-pool adds it)");
        let m = msg(exprs(json!([e("pool", "NotIn", &["acme"])])));
        assert!(m.contains("this required term cannot place the pod on tenant acme's dedicated nodes (pool=acme): it rules out \"acme\""), "{m}");
        assert!(m.ends_with("require pool In [acme] or drop the requirement (node-pool adds nodeSelector pool: acme)"), "{m}");
        let m = msg(exprs(json!([e("pool", "NotIn", &["general"])])));
        assert!(
            m.contains("admits nodes with other values of tenant acme's pool key pool"),
            "{m}"
        );
    }

    #[test]
    fn go_integers() {
        for (s, want) in [
            ("3", Some(3)),
            ("03", Some(3)),
            ("+3", Some(3)),
            ("-3", Some(-3)),
            ("", None),
            ("+", None),
            ("3a", None),
            (" 3", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(super::go_int(s), want, "{s:?}");
        }
    }
}
