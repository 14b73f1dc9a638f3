//! The kinds the audit lists in a cluster: every kind a validating rule the
//! audit runs looks into (DESIGN's rule tables), with the API version it is
//! read at.
//!
//! Left out on purpose:
//! - Endpoints and EndpointSlices: `cross-tenant-selectors` judges them by
//!   who wrote them (the endpoint controllers may point at pod addresses),
//!   and after the fact the writer is unknown: every Service's own
//!   Endpoints would be reported.
//! - Namespaces: the rules that judge them are the requester-dependent ones.
//! - Objects a workload made ([`made_by_audited_owner`]): a Deployment's
//!   ReplicaSets and Pods carry its template, so its violations are reported
//!   once, on the Deployment, where they are fixed.
//!
//! A kind the cluster does not serve (the Gateway API without its CRDs)
//! answers 404 and is skipped for the rest of the scan.

use kube::api::ApiResource;
use serde_json::Value;

/// One audited kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditedKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl AuditedKind {
    const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
    ) -> Self {
        AuditedKind {
            group,
            version,
            kind,
            plural,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: self.api_version(),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

const GATEWAY: &str = "gateway.networking.k8s.io";

/// Workloads first: their violations are the ones most often fixed.
pub const AUDITED: &[AuditedKind] = &[
    AuditedKind::new("apps", "v1", "Deployment", "deployments"),
    AuditedKind::new("apps", "v1", "StatefulSet", "statefulsets"),
    AuditedKind::new("apps", "v1", "DaemonSet", "daemonsets"),
    AuditedKind::new("apps", "v1", "ReplicaSet", "replicasets"),
    AuditedKind::new("batch", "v1", "CronJob", "cronjobs"),
    AuditedKind::new("batch", "v1", "Job", "jobs"),
    AuditedKind::new("", "v1", "ReplicationController", "replicationcontrollers"),
    AuditedKind::new("", "v1", "Pod", "pods"),
    AuditedKind::new("", "v1", "Service", "services"),
    AuditedKind::new("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    AuditedKind::new(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
    ),
    AuditedKind::new("networking.k8s.io", "v1", "Ingress", "ingresses"),
    AuditedKind::new(GATEWAY, "v1", "Gateway", "gateways"),
    AuditedKind::new(GATEWAY, "v1", "HTTPRoute", "httproutes"),
    AuditedKind::new(GATEWAY, "v1", "GRPCRoute", "grpcroutes"),
    AuditedKind::new(GATEWAY, "v1alpha2", "TLSRoute", "tlsroutes"),
];

/// Whether `obj` was made by a controller of an audited kind (its
/// `ownerReferences` entry with `controller: true`), so that its owner's
/// verdict already covers it.
pub fn made_by_audited_owner(obj: &Value) -> bool {
    let Some(owners) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    else {
        return false;
    };
    owners.iter().any(|o| {
        let controller = o.get("controller").and_then(Value::as_bool) == Some(true);
        let api = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
        controller
            && AUDITED.iter().any(|k| {
                k.group == group && k.kind == kind && crate::podspec::locate(group, kind).is_some()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_pod_template_kind_is_audited() {
        for k in AUDITED {
            assert!(!k.plural.is_empty() && k.plural.ends_with('s'), "{k:?}");
        }
        for (group, kind) in [
            ("", "Pod"),
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("", "ReplicationController"),
        ] {
            assert!(crate::podspec::locate(group, kind).is_some());
            assert!(
                AUDITED.iter().any(|k| k.group == group && k.kind == kind),
                "{kind}"
            );
        }
        assert!(!AUDITED.iter().any(|k| k.kind.starts_with("Endpoint")));
        assert_eq!(AUDITED[0].api_version(), "apps/v1");
        assert_eq!(AUDITED[7].api_version(), "v1");
    }

    #[test]
    fn what_a_workload_made_is_judged_on_the_workload() {
        let owned = |api: &str, kind: &str, controller: bool| {
            json!({"metadata": {"ownerReferences": [
                {"apiVersion": api, "kind": kind, "name": "x", "uid": "u", "controller": controller}]}})
        };
        assert!(made_by_audited_owner(&owned("apps/v1", "ReplicaSet", true)));
        assert!(made_by_audited_owner(&owned("batch/v1", "Job", true)));
        assert!(made_by_audited_owner(&owned("batch/v1", "CronJob", true)));
        // Not the controller, or a controller the audit does not list: judged itself.
        assert!(!made_by_audited_owner(&owned(
            "apps/v1",
            "ReplicaSet",
            false
        )));
        assert!(!made_by_audited_owner(&owned(
            "example.com/v1",
            "Operator",
            true
        )));
        assert!(!made_by_audited_owner(&owned("v1", "Service", true)));
        assert!(!made_by_audited_owner(&json!({"metadata": {}})));
    }
}
