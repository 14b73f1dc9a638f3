//! `service-types` (validating): a tenant's Services may only be of the
//! types it was granted, `allowed.serviceTypes` (Tenant, else Settings, else
//! `ClusterIP` and `ExternalName`). `NodePort` opens a port on every node of
//! the cluster and `LoadBalancer` asks the cloud for an address (and a node
//! port), both shared resources, so they need an explicit grant.
//!
//! What is judged is the type the apiserver stores: an absent, null or empty
//! `spec.type` is `ClusterIP` (the apiserver's default). Types compare
//! exactly, as the apiserver's validation does (`nodeport` is no type). A
//! `type` that is not a string cannot be judged and is denied.
//! Only `spec.type` is judged: a `LoadBalancer` granted without `NodePort`
//! still allocates node ports unless `allocateLoadBalancerNodePorts: false`,
//! as Kubernetes does.
//!
//! Operations: CREATE and UPDATE (the registry's default): changing a
//! Service's type is an UPDATE, and judging an UPDATE that leaves a type no
//! longer granted in place asks the owner to fix it when they next touch it.
//!
//! Reference: <https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types>.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::model::AllowList;
use crate::policy::Settings;
use crate::tenancy::TenantRef;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `service-types`.
pub struct ServiceTypes;

impl Rule for ServiceTypes {
    const ID: &'static str = "service-types";
    const SCOPE: Scope = Scope::TenantObjects;
    /// A type is chosen on CREATE and can be changed by an UPDATE; a DELETE
    /// carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// Services only (a Knative Service and the like have no `spec.type`).
    const KINDS: Kinds = Kinds::Only(&[GroupKind::new("", "Service")]);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// The type the apiserver stores for an unset or empty `spec.type`.
const DEFAULT_TYPE: &str = "ClusterIP";

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    if !(ctx.group.is_empty() && ctx.kind == "Service") {
        return Vec::new();
    }
    let (Some(tenant), Some(obj)) = (ctx.tenant, ctx.object) else {
        return Vec::new();
    };
    const PATH: &str = "spec.type";
    let ty = match crate::podspec::pointer(obj, "/spec/type") {
        None | Some(Value::Null) => DEFAULT_TYPE,
        Some(Value::String(s)) if s.is_empty() => DEFAULT_TYPE,
        Some(Value::String(s)) => s.as_str(),
        Some(v) => {
            return vec![Violation::new(
                PATH,
                format!("{PATH}: {v} is not a Service type; use a string such as ClusterIP"),
            )]
        }
    };
    let Some(allowed) = tenant.allowed(AllowList::ServiceTypes) else {
        return Vec::new();
    };
    if allowed.iter().any(|a| a == ty) {
        return Vec::new();
    }
    vec![Violation::new(
        PATH,
        format!(
            "{PATH}: {ty:?} is not a Service type tenant {} may use (allowed: {}); use one of those, or ask a platform admin to grant {ty:?} in {}",
            tenant.name,
            listed(&allowed),
            grant_hint(&tenant, ctx.settings, AllowList::ServiceTypes),
        ),
    )]
}

/// An allow-list for a message: `a, b`, or `none` when it is empty.
pub(super) fn listed(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

/// Where a tenant's grant for `which` is made: its Tenant's
/// `spec.allowed.<list>`, which replaces any Settings list it inherits.
pub(super) fn grant_hint(tenant: &TenantRef<'_>, settings: &Settings, which: AllowList) -> String {
    let own = tenant
        .spec()
        .and_then(|s| s.allowed.as_ref())
        .and_then(|a| a.list(which))
        .is_some();
    let field = which.field();
    let name = tenant.name;
    if own {
        format!("Tenant {name}'s spec.allowed.{field}")
    } else if settings.allowed.list(which).is_some() {
        format!("Tenant {name}'s spec.allowed.{field} (it now inherits the Settings' allowed.{field}, which a Tenant's list replaces)")
    } else {
        format!("Tenant {name}'s spec.allowed.{field} (or the Settings' allowed.{field}, for every tenant)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::Operation;
    use serde_json::json;

    fn svc(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec})
    }

    fn world() -> World {
        World::new().with_tenant("acme", "{}").with_tenant(
            "globex",
            "allowed: {serviceTypes: [ClusterIP, LoadBalancer]}",
        )
    }

    fn paths(w: &World, ns: &str, obj: &Value) -> Vec<String> {
        validate(&w.ctx(ns, obj), &Params::default())
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn cases() {
        let w = world();
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
            ("no type is ClusterIP", "acme-prod", svc(json!({"ports": [{"port": 80}]})), vec![]),
            ("null type is ClusterIP", "acme-prod", svc(json!({"type": null})), vec![]),
            ("empty type is ClusterIP", "acme-prod", svc(json!({"type": ""})), vec![]),
            ("ClusterIP by default", "acme-prod", svc(json!({"type": "ClusterIP"})), vec![]),
            ("ExternalName by default", "acme-prod", svc(json!({"type": "ExternalName", "externalName": "db.example.com"})), vec![]),
            ("NodePort needs a grant", "acme-prod", svc(json!({"type": "NodePort"})), vec!["spec.type"]),
            ("LoadBalancer needs a grant", "acme-dev", svc(json!({"type": "LoadBalancer"})), vec!["spec.type"]),
            ("case is not ignored", "acme-prod", svc(json!({"type": "clusterip"})), vec!["spec.type"]),
            ("not a string", "acme-prod", svc(json!({"type": ["NodePort"]})), vec!["spec.type"]),
            ("granted LoadBalancer", "globex-prod", svc(json!({"type": "LoadBalancer"})), vec![]),
            ("a Tenant list replaces the default", "globex-prod", svc(json!({"type": "ExternalName"})), vec!["spec.type"]),
            ("platform namespace", "monitoring", svc(json!({"type": "NodePort"})), vec![]),
            ("not a Service", "acme-prod", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"type": "NodePort"}}), vec![]),
            ("a Service of another group", "acme-prod", json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "c"}, "spec": {"type": "NodePort"}}), vec![]),
        ];
        for (name, ns, obj, want) in cases {
            assert_eq!(paths(&w, ns, &obj), want, "{name}");
        }
    }

    #[test]
    fn settings_list_and_empty_list() {
        let mut w = world().with_tenant("initech", "allowed: {serviceTypes: []}");
        w.inventory.add_namespace("initech-prod", Some("initech"));
        w.settings.allowed.service_types = Some(vec!["NodePort".into()]);
        let node_port = svc(json!({"type": "NodePort"}));
        // acme inherits the Settings' list, which replaces the default.
        assert!(paths(&w, "acme-prod", &node_port).is_empty());
        assert_eq!(paths(&w, "acme-prod", &svc(json!({}))), ["spec.type"]);
        // globex's own list wins over the Settings'.
        assert_eq!(paths(&w, "globex-prod", &node_port), ["spec.type"]);
        // An empty list allows nothing, not even ClusterIP.
        assert_eq!(paths(&w, "initech-prod", &svc(json!({}))), ["spec.type"]);
    }

    #[test]
    fn update_is_judged() {
        let w = world();
        let old = svc(json!({"type": "ClusterIP"}));
        let new = svc(json!({"type": "NodePort"}));
        let mut ctx = w.ctx("acme-prod", &new);
        ctx.operation = Operation::Update;
        ctx.old_object = Some(&old);
        assert_eq!(validate(&ctx, &Params::default()).len(), 1);
    }

    #[test]
    fn message_says_what_is_allowed_and_where_to_grant() {
        let w = world();
        let obj = svc(json!({"type": "NodePort"}));
        let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
        assert_eq!(
            v[0].message,
            "spec.type: \"NodePort\" is not a Service type tenant acme may use (allowed: ClusterIP, ExternalName); use one of those, or ask a platform admin to grant \"NodePort\" in Tenant acme's spec.allowed.serviceTypes (or the Settings' allowed.serviceTypes, for every tenant)"
        );
        let lb = svc(json!({"type": "NodePort"}));
        let v = validate(&w.ctx("globex-prod", &lb), &Params::default());
        assert!(v[0]
            .message
            .ends_with("(allowed: ClusterIP, LoadBalancer); use one of those, or ask a platform admin to grant \"NodePort\" in Tenant globex's spec.allowed.serviceTypes"));
    }
}
