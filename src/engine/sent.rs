//! Requests the kube-apiserver would never send, recognised before any rule
//! runs (DESIGN: "denied as unjudgeable"): a namespaced kind without
//! `request.namespace`, an `object`/`oldObject` of another kind, apiVersion
//! or name than `request.kind` and `request.name`, a `request.resource`
//! where that kind does not live.
//!
//! What the apiserver does send, and so stays admitted: with
//! `matchPolicy: Equivalent` both `kind` and `object` are converted to the
//! version the webhook registered; a subresource names its parent resource
//! and carries the parent's kind only for some subresources (`pods/status`,
//! `pods/ephemeralcontainers`, `pods/resize`, `*/status`,
//! `namespaces/finalize`), and an object of its own kind for the others
//! (`pods/binding` a Binding, `deployments/scale` an autoscaling Scale,
//! `pods/eviction` an Eviction); a Namespace request carries the
//! namespace's own name in `request.namespace`; a CREATE with only
//! `generateName` has an empty `request.name`. An object without
//! `apiVersion`/`kind` (hand-written reviews of other tools omit them)
//! names nothing to disagree with and is judged as `request.kind` says.
//!
//! Reference: <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request>.

use serde_json::Value;

use super::cause::Unsent;
use super::Request;

/// A built-in kind tenantguard judges: where it lives and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    /// The plural resource.
    resource: &'static str,
    namespaced: bool,
    /// Subresources whose requests carry an object of this same kind.
    same_kind: &'static [&'static str],
}

const STATUS: &[&str] = &["status"];

const fn ns(resource: &'static str, same_kind: &'static [&'static str]) -> Option<Known> {
    Some(Known {
        resource,
        namespaced: true,
        same_kind,
    })
}

/// The kinds the webhook is sent or a rule judges specifically (the chart's
/// webhook rules, and what the next rules will judge). Kinds not listed
/// (custom resources, ...) are checked against their object only.
fn known(group: &str, kind: &str) -> Option<Known> {
    match (group, kind) {
        ("", "Pod") => ns("pods", &["status", "ephemeralcontainers", "resize"]),
        ("", "Service") => ns("services", STATUS),
        ("", "ReplicationController") => ns("replicationcontrollers", STATUS),
        ("", "ResourceQuota") => ns("resourcequotas", STATUS),
        ("", "LimitRange") => ns("limitranges", &[]),
        ("", "ServiceAccount") => ns("serviceaccounts", &[]),
        ("", "ConfigMap") => ns("configmaps", &[]),
        ("", "Secret") => ns("secrets", &[]),
        ("", "PersistentVolumeClaim") => ns("persistentvolumeclaims", STATUS),
        ("", "Endpoints") => ns("endpoints", &[]),
        ("", "Namespace") => Some(Known {
            resource: "namespaces",
            namespaced: false,
            same_kind: &["status", "finalize"],
        }),
        ("apps", "Deployment") => ns("deployments", STATUS),
        ("apps", "StatefulSet") => ns("statefulsets", STATUS),
        ("apps", "DaemonSet") => ns("daemonsets", STATUS),
        ("apps", "ReplicaSet") => ns("replicasets", STATUS),
        ("batch", "Job") => ns("jobs", STATUS),
        ("batch", "CronJob") => ns("cronjobs", STATUS),
        ("networking.k8s.io", "NetworkPolicy") => ns("networkpolicies", &[]),
        ("networking.k8s.io", "Ingress") => ns("ingresses", STATUS),
        ("rbac.authorization.k8s.io", "Role") => ns("roles", &[]),
        ("rbac.authorization.k8s.io", "RoleBinding") => ns("rolebindings", &[]),
        ("discovery.k8s.io", "EndpointSlice") => ns("endpointslices", &[]),
        ("policy", "PodDisruptionBudget") => ns("poddisruptionbudgets", STATUS),
        ("gateway.networking.k8s.io", "Gateway") => ns("gateways", STATUS),
        ("gateway.networking.k8s.io", "HTTPRoute") => ns("httproutes", STATUS),
        ("gateway.networking.k8s.io", "GRPCRoute") => ns("grpcroutes", STATUS),
        ("gateway.networking.k8s.io", "TLSRoute") => ns("tlsroutes", STATUS),
        (crate::GROUP, "Tenant") => Some(Known {
            resource: "tenants",
            namespaced: false,
            same_kind: STATUS,
        }),
        _ => None,
    }
}

/// The plural resource of a kind tenantguard knows (`pods` for core `Pod`),
/// as webhook rules and `request.resource` name it.
pub fn resource_of(group: &str, kind: &str) -> Option<&'static str> {
    known(group, kind).map(|k| k.resource)
}

/// The kind a resource's own requests carry (no subresource), for the
/// resources of [`known`] kinds.
fn kind_of_resource(group: &str, resource: &str) -> Option<&'static str> {
    const RESOURCES: &[(&str, &str, &str)] = &[
        ("", "pods", "Pod"),
        ("", "services", "Service"),
        ("", "replicationcontrollers", "ReplicationController"),
        ("", "resourcequotas", "ResourceQuota"),
        ("", "limitranges", "LimitRange"),
        ("", "serviceaccounts", "ServiceAccount"),
        ("", "configmaps", "ConfigMap"),
        ("", "secrets", "Secret"),
        ("", "persistentvolumeclaims", "PersistentVolumeClaim"),
        ("", "endpoints", "Endpoints"),
        ("", "namespaces", "Namespace"),
        ("apps", "deployments", "Deployment"),
        ("apps", "statefulsets", "StatefulSet"),
        ("apps", "daemonsets", "DaemonSet"),
        ("apps", "replicasets", "ReplicaSet"),
        ("batch", "jobs", "Job"),
        ("batch", "cronjobs", "CronJob"),
        ("networking.k8s.io", "networkpolicies", "NetworkPolicy"),
        ("networking.k8s.io", "ingresses", "Ingress"),
        ("rbac.authorization.k8s.io", "roles", "Role"),
        ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
        ("discovery.k8s.io", "endpointslices", "EndpointSlice"),
        ("policy", "poddisruptionbudgets", "PodDisruptionBudget"),
        ("gateway.networking.k8s.io", "gateways", "Gateway"),
        ("gateway.networking.k8s.io", "httproutes", "HTTPRoute"),
        ("gateway.networking.k8s.io", "grpcroutes", "GRPCRoute"),
        ("gateway.networking.k8s.io", "tlsroutes", "TLSRoute"),
        (crate::GROUP, "tenants", "Tenant"),
    ];
    RESOURCES
        .iter()
        .find(|(g, r, _)| *g == group && *r == resource)
        .map(|(_, _, k)| *k)
}

/// `group/version, Kind=kind` for messages, as kubectl writes a GVK.
fn gvk(group: &str, version: &str, kind: &str) -> String {
    match (group, version) {
        ("", "") => format!("{kind:?}"),
        ("", v) => format!("{v}, Kind={kind}"),
        (g, "") => format!("{g}, Kind={kind}"),
        (g, v) => format!("{g}/{v}, Kind={kind}"),
    }
}

fn resource_name(group: &str, resource: &str, sub: &str) -> String {
    let r = if sub.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{sub}")
    };
    if group.is_empty() {
        format!("{r:?}")
    } else {
        format!("{:?}", format!("{r}.{group}"))
    }
}

/// Whether `obj` (`field` of the request) agrees with `request.kind`.
fn object_agrees(req: &Request, field: &'static str, obj: &Value) -> Result<(), Unsent> {
    let kind = obj.get("kind");
    let api = obj.get("apiVersion");
    let kind_ok = kind.is_none_or(|k| k.as_str() == Some(req.kind.as_str()));
    let api_ok = api.is_none_or(|a| {
        a.as_str().is_some_and(|a| {
            let (g, v) = crate::model::split_api_version(a);
            g == req.group && (req.version.is_empty() || v == req.version)
        })
    });
    if kind_ok && api_ok {
        // A Namespace is judged by its name (exempt or not), read from
        // `request.name`: the object must be the namespace it names. (Other
        // kinds are judged by their namespace and content, not their name.)
        let name = crate::podspec::pointer(obj, "/metadata/name").and_then(Value::as_str);
        let namespace = req.group.is_empty() && req.kind == "Namespace";
        return match name {
            Some(n) if namespace && !req.name.is_empty() && !n.is_empty() && n != req.name => {
                Err(Unsent::NameMismatch {
                    field,
                    request: req.name.clone(),
                    object: n.to_string(),
                })
            }
            _ => Ok(()),
        };
    }
    let shown = |v: Option<&Value>| match v {
        None => "?".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Err(Unsent::ObjectMismatch {
        field,
        request: gvk(&req.group, &req.version, &req.kind),
        object: format!("apiVersion {}, kind {}", shown(api), shown(kind)),
    })
}

/// `Err` when the apiserver would never have sent `req`.
pub(super) fn check(req: &Request) -> Result<(), Unsent> {
    for (field, obj) in [("object", &req.object), ("oldObject", &req.old_object)] {
        if let Some(obj @ Value::Object(_)) = obj {
            object_agrees(req, field, obj)?;
        }
    }
    let known = known(&req.group, &req.kind);
    if known.is_some_and(|k| k.namespaced) && req.namespace.is_empty() {
        return Err(Unsent::NoNamespace {
            kind: gvk(&req.group, &req.version, &req.kind),
        });
    }
    let r = &req.resource;
    if r.resource.is_empty() {
        // Not given (offline `check`, tools): nothing to compare.
        return Ok(());
    }
    let fits = match known {
        Some(k) => {
            r.group == req.group
                && r.resource == k.resource
                && (r.subresource.is_empty() || k.same_kind.contains(&r.subresource.as_str()))
        }
        // A kind of its own may arrive for a subresource (binding, scale,
        // eviction); for the resource itself only its kind does.
        None => !r.subresource.is_empty() || kind_of_resource(&r.group, &r.resource).is_none(),
    };
    if fits {
        Ok(())
    } else {
        Err(Unsent::ResourceMismatch {
            kind: gvk(&req.group, &req.version, &req.kind),
            resource: resource_name(&r.group, &r.resource, &r.subresource),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Resource;
    use crate::policy::rules::{Operation, User};
    use serde_json::json;

    /// A request for `group/version kind` in `namespace` at `resource`
    /// (`"r"` or `"r/sub"`, in `resource_group`), carrying `object`.
    fn req(
        (group, version, kind): (&str, &str, &str),
        namespace: &str,
        (resource_group, resource): (&str, &str),
        object: Option<Value>,
    ) -> Request {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Request {
            uid: "u".into(),
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            resource: Resource {
                group: resource_group.into(),
                resource: resource.into(),
                subresource: subresource.into(),
            },
            namespace: namespace.into(),
            name: "x".into(),
            operation: Operation::Create,
            user: User::default(),
            dry_run: false,
            object,
            old_object: None,
        }
    }

    fn obj(api: &str, kind: &str) -> Option<Value> {
        Some(json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}))
    }

    const POD: (&str, &str, &str) = ("", "v1", "Pod");

    #[test]
    #[rustfmt::skip]
    fn cases() {
        // name, request, expected: None = sent by the apiserver.
        let cases: Vec<(&str, Request, Option<&str>)> = vec![
            ("a pod", req(POD, "acme", ("", "pods"), obj("v1", "Pod")), None),
            ("pods/ephemeralcontainers carries a Pod", req(POD, "acme", ("", "pods/ephemeralcontainers"), obj("v1", "Pod")), None),
            ("pods/status carries a Pod", req(POD, "acme", ("", "pods/status"), obj("v1", "Pod")), None),
            ("pods/resize carries a Pod", req(POD, "acme", ("", "pods/resize"), obj("v1", "Pod")), None),
            ("pods/binding carries a Binding", req(("", "v1", "Binding"), "acme", ("", "pods/binding"), obj("v1", "Binding")), None),
            ("deployments/scale carries a Scale", req(("autoscaling", "v1", "Scale"), "acme", ("apps", "deployments/scale"), obj("autoscaling/v1", "Scale")), None),
            ("pods/eviction carries an Eviction", req(("policy", "v1", "Eviction"), "acme", ("", "pods/eviction"), obj("policy/v1", "Eviction")), None),
            ("a namespace names itself", req(("", "v1", "Namespace"), "acme", ("", "namespaces"), obj("v1", "Namespace")), None),
            ("a namespace without request.namespace", req(("", "v1", "Namespace"), "", ("", "namespaces"), obj("v1", "Namespace")), None),
            ("namespaces/finalize", req(("", "v1", "Namespace"), "x", ("", "namespaces/finalize"), obj("v1", "Namespace")), None),
            ("a deployment", req(("apps", "v1", "Deployment"), "acme", ("apps", "deployments"), obj("apps/v1", "Deployment")), None),
            ("no resource given (offline)", req(POD, "acme", ("", ""), obj("v1", "Pod")), None),
            ("object without apiVersion and kind", req(POD, "acme", ("", "pods"), Some(json!({"metadata": {}}))), None),
            ("a custom resource", req(("example.com", "v1", "Widget"), "acme", ("example.com", "widgets"), obj("example.com/v1", "Widget")), None),
            ("a cluster-scoped custom resource", req(("example.com", "v1", "Gadget"), "", ("example.com", "gadgets"), obj("example.com/v1", "Gadget")), None),
            ("no version in request.kind", req(("apps", "", "Deployment"), "acme", ("apps", "deployments"), obj("apps/v1", "Deployment")), None),
            ("a DELETE carries no object", req(POD, "acme", ("", "pods"), None), None),
            ("a tenant (cluster-scoped)", req(("tenantguard.io", "v1alpha1", "Tenant"), "", ("tenantguard.io", "tenants"), obj("tenantguard.io/v1alpha1", "Tenant")), None),

            ("pod without namespace", req(POD, "", ("", "pods"), obj("v1", "Pod")), Some("request.namespace is empty, but v1, Kind=Pod is a namespaced kind")),
            ("deployment without namespace", req(("apps", "v1", "Deployment"), "", ("", ""), obj("apps/v1", "Deployment")), Some("namespaced kind")),
            ("kind Service, object Pod", req(("", "v1", "Service"), "acme", ("", "services"), obj("v1", "Pod")), Some("request.kind is v1, Kind=Service but request.object is apiVersion v1, kind Pod")),
            ("kind Pod, object apps/v1", req(POD, "acme", ("", "pods"), obj("apps/v1", "Pod")), Some("apiVersion apps/v1")),
            ("kind Pod, object v2", req(POD, "acme", ("", "pods"), obj("v2", "Pod")), Some("apiVersion v2")),
            ("kind is not a string", req(POD, "acme", ("", "pods"), Some(json!({"apiVersion": "v1", "kind": 5}))), Some("kind 5")),
            ("kind Pod at resource services", req(POD, "acme", ("", "services"), obj("v1", "Pod")), Some("request.kind is v1, Kind=Pod but request.resource is \"services\"")),
            ("kind Pod at apps/pods", req(POD, "acme", ("apps", "pods"), obj("v1", "Pod")), Some("\"pods.apps\"")),
            ("kind Pod at pods/exec", req(POD, "acme", ("", "pods/exec"), obj("v1", "Pod")), Some("\"pods/exec\"")),
            ("kind Widget at resource pods", req(("example.com", "v1", "Widget"), "acme", ("", "pods"), obj("example.com/v1", "Widget")), Some("request.resource is \"pods\"")),
            ("request.name is not the object's", req(("", "v1", "Namespace"), "kube-system", ("", "namespaces"), Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}))).renamed("x"), Some("request.name is \"x\" but request.object.metadata.name is \"kube-system\"")),
            ("kind Service at deployments", req(("", "v1", "Service"), "acme", ("apps", "deployments"), obj("v1", "Service")), Some("\"deployments.apps\"")),
        ];
        for (name, r, want) in cases {
            match (check(&r), want) {
                (Ok(()), None) => {}
                (Err(e), Some(needle)) => assert!(e.to_string().contains(needle), "{name}: {e}"),
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }

    impl Request {
        fn renamed(mut self, name: &str) -> Request {
            self.name = name.into();
            self
        }
    }

    #[test]
    fn names() {
        // A CREATE with only generateName has no request.name.
        let r = req(POD, "acme", ("", "pods"), obj("v1", "Pod")).renamed("");
        assert_eq!(check(&r), Ok(()));
        let r = req(POD, "acme", ("", "pods"), obj("v1", "Pod")).renamed("other");
        assert_eq!(check(&r), Ok(()), "only a Namespace is judged by its name");
        // pods/binding: a Binding has a name of its own.
        let r = req(
            ("", "v1", "Binding"),
            "acme",
            ("", "pods/binding"),
            obj("v1", "Binding"),
        )
        .renamed("other");
        assert_eq!(check(&r), Ok(()));
        let mut r = req(
            ("", "v1", "Namespace"),
            "kube-system",
            ("", "namespaces"),
            None,
        )
        .renamed("x");
        r.operation = Operation::Delete;
        r.old_object = Some(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
        );
        let e = check(&r).unwrap_err().to_string();
        assert!(
            e.contains("request.oldObject.metadata.name is \"kube-system\""),
            "{e}"
        );
    }

    #[test]
    fn old_object_must_agree_too() {
        let mut r = req(POD, "acme", ("", "pods"), obj("v1", "Pod"));
        r.operation = Operation::Update;
        r.old_object = obj("v1", "Service");
        let e = check(&r).unwrap_err().to_string();
        assert!(
            e.contains("request.oldObject is apiVersion v1, kind Service"),
            "{e}"
        );
    }

    #[test]
    fn every_known_resource_maps_back_to_its_kind() {
        for (group, kind) in [
            ("", "Pod"),
            ("", "Service"),
            ("", "ReplicationController"),
            ("", "ResourceQuota"),
            ("", "LimitRange"),
            ("", "ServiceAccount"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "PersistentVolumeClaim"),
            ("", "Endpoints"),
            ("", "Namespace"),
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("networking.k8s.io", "NetworkPolicy"),
            ("networking.k8s.io", "Ingress"),
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("discovery.k8s.io", "EndpointSlice"),
            ("policy", "PodDisruptionBudget"),
            ("gateway.networking.k8s.io", "Gateway"),
            ("gateway.networking.k8s.io", "HTTPRoute"),
            ("gateway.networking.k8s.io", "GRPCRoute"),
            ("gateway.networking.k8s.io", "TLSRoute"),
            ("tenantguard.io", "Tenant"),
        ] {
            let k = known(group, kind).unwrap_or_else(|| panic!("{group}/{kind} unknown"));
            assert_eq!(
                kind_of_resource(group, k.resource),
                Some(kind),
                "{group}/{kind}"
            );
        }
    }
}
