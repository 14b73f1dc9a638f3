//! The resources the stand-in apiserver serves.

/// Plural resource, kind, apiVersion. Anything else answers 404, as a
/// kind whose CRD is not installed does.
const RESOURCES: [(&str, &str, &str); 20] = [
    ("namespaces", "Namespace", "v1"),
    ("tenants", "Tenant", "tenantguard.io/v1alpha1"),
    ("networkpolicies", "NetworkPolicy", "networking.k8s.io/v1"),
    ("resourcequotas", "ResourceQuota", "v1"),
    ("limitranges", "LimitRange", "v1"),
    ("serviceaccounts", "ServiceAccount", "v1"),
    (
        "rolebindings",
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
    ),
    ("leases", "Lease", "coordination.k8s.io/v1"),
    ("ingresses", "Ingress", "networking.k8s.io/v1"),
    ("httproutes", "HTTPRoute", "gateway.networking.k8s.io/v1"),
    ("grpcroutes", "GRPCRoute", "gateway.networking.k8s.io/v1"),
    (
        "tlsroutes",
        "TLSRoute",
        "gateway.networking.k8s.io/v1alpha2",
    ),
    ("pods", "Pod", "v1"),
    ("services", "Service", "v1"),
    ("deployments", "Deployment", "apps/v1"),
    ("policyreports", "PolicyReport", "wgpolicyk8s.io/v1alpha2"),
    ("events", "Event", "events.k8s.io/v1"),
    ("secrets", "Secret", "v1"),
    (
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    (
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
];

pub(super) fn served(resource: &str) -> bool {
    RESOURCES.iter().any(|(r, _, _)| *r == resource)
}

pub(super) fn kind_of(resource: &str) -> (&'static str, &'static str) {
    RESOURCES
        .iter()
        .find(|(r, _, _)| *r == resource)
        .map(|(_, k, a)| (*k, *a))
        .unwrap_or_else(|| panic!("the stand-in apiserver does not serve {resource}"))
}

pub(super) fn resource_of(kind: &str) -> &'static str {
    RESOURCES
        .iter()
        .find(|(_, k, _)| *k == kind)
        .map(|(r, _, _)| *r)
        .unwrap_or_else(|| panic!("the stand-in apiserver does not serve kind {kind}"))
}
