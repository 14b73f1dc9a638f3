//! `managed-objects` (validating): objects in tenant namespaces labelled
//! `app.kubernetes.io/managed-by: tenantguard` belong to tenantguard's
//! onboarding controller (the tenant's default NetworkPolicies, quota and
//! the like). Only tenantguard's own service account and the Settings admins
//! may change or delete them; a tenant who wants them different changes the
//! Tenant (through the platform team) instead.
//!
//! UPDATE and DELETE only: tenantguard creates these objects, and what a
//! tenant must not do is weaken or remove them. An UPDATE is judged when the
//! old object carries the label (changing or unlabelling it) or the new one
//! does (claiming tenantguard's label for an existing object). Any kind.
//!
//! Reference: <https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// What the onboarding controller creates in a tenant namespace.
const SPECIFIC: [GroupKind; 6] = [
    GroupKind::new("networking.k8s.io", "NetworkPolicy"),
    GroupKind::new("", "ResourceQuota"),
    GroupKind::new("", "LimitRange"),
    GroupKind::new("", "ServiceAccount"),
    GroupKind::new("rbac.authorization.k8s.io", "Role"),
    GroupKind::new("rbac.authorization.k8s.io", "RoleBinding"),
];

/// `managed-objects`.
pub struct ManagedObjects;

impl Rule for ManagedObjects {
    const ID: &'static str = "managed-objects";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Managed objects are created by tenantguard itself; what tenants must
    /// not do is change or remove them.
    const OPERATIONS: &'static [Operation] = &[Operation::Update, Operation::Delete];
    /// Any kind carrying the managed-by label; [`SPECIFIC`] are the kinds the
    /// onboarding controller makes.
    const KINDS: Kinds = Kinds::Any;
    const SPECIFIC_KINDS: &'static [GroupKind] = &SPECIFIC;
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

const PATH: &str = "metadata.labels.app.kubernetes.io/managed-by";

/// Kubernetes' own controllers that delete everything in a namespace being
/// deleted (and dependents of deleted owners). Denying them would leave a
/// tenant namespace stuck in Terminating, so they may always DELETE.
const CLEANUP_CONTROLLERS: [&str; 3] = [
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
    "system:kube-controller-manager",
];

fn managed(obj: Option<&Value>) -> bool {
    obj.and_then(|o| o.get("metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(Value::as_str)
        == Some(MANAGED_BY_VALUE)
}

/// `ConfigMap "x"` for messages.
fn which(ctx: &Ctx<'_>) -> String {
    let name = if ctx.name.is_empty() {
        ctx.old_object
            .or(ctx.object)
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    } else {
        ctx.name
    };
    format!("{} {name:?}", ctx.kind)
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (touched, verb) = match ctx.operation {
        Operation::Update => (managed(ctx.old_object) || managed(ctx.object), "change"),
        // A DELETE carries no object; without an oldObject nothing says the
        // object is tenantguard's (the apiserver always sends it).
        Operation::Delete => (managed(ctx.old_object), "delete"),
        Operation::Create | Operation::Connect => (false, ""),
    };
    if !touched || ctx.is_tenantguard() || ctx.is_admin() {
        return Vec::new();
    }
    if ctx.operation == Operation::Delete
        && CLEANUP_CONTROLLERS.contains(&ctx.user.username.as_str())
    {
        return Vec::new();
    }
    vec![Violation::new(
        PATH,
        format!(
            "{} in namespace {:?} is labelled {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE}: tenantguard's onboarding controller owns it, so {:?} may not {verb} it; ask a platform admin, or change the Tenant instead",
            which(ctx),
            ctx.namespace,
            ctx.user.username,
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::User;
    use serde_json::json;

    fn user(name: &str, groups: &[&str]) -> User {
        User {
            username: name.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn obj(kind: &str, managed_by: Option<&str>) -> Value {
        let api = match kind {
            "NetworkPolicy" => "networking.k8s.io/v1",
            "Deployment" => "apps/v1",
            _ => "v1",
        };
        let mut labels = json!({"tenantguard.io/tenant": "acme"});
        if let Some(m) = managed_by {
            labels[MANAGED_BY_LABEL] = json!(m);
        }
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": "tenant-default", "namespace": "acme-prod", "labels": labels}})
    }

    /// Runs the rule in acme-prod; `old`/`new` as the admission request carries them.
    fn run(who: User, op: Operation, old: Option<&Value>, new: Option<&Value>) -> Vec<Violation> {
        let mut w = World::new();
        w.user = who;
        let shell = obj("NetworkPolicy", None);
        let mut ctx = w.ctx("acme-prod", new.or(old).unwrap_or(&shell));
        ctx.operation = op;
        ctx.object = new;
        ctx.old_object = old;
        validate(&ctx, &Params::default())
    }

    /// name, requester, operation, oldObject, object, expected paths.
    type Case<'a> = (
        &'a str,
        User,
        Operation,
        Option<&'a Value>,
        Option<&'a Value>,
        Vec<&'a str>,
    );

    #[test]
    #[rustfmt::skip]
    fn cases() {
        use Operation::{Create, Delete, Update};
        let tenant = || user("dave", &["acme-admins", "system:authenticated"]);
        let tg = || user("system:serviceaccount:tenantguard-system:tenantguard", &["system:serviceaccounts"]);
        let np = obj("NetworkPolicy", Some("tenantguard"));
        let np_plain = obj("NetworkPolicy", None);
        let np_helm = obj("NetworkPolicy", Some("Helm"));
        let mut np_weaker = np.clone();
        np_weaker["spec"] = json!({"podSelector": {}, "egress": [{}]});
        let quota = obj("ResourceQuota", Some("tenantguard"));
        let deploy = obj("Deployment", Some("tenantguard"));
        let cases: Vec<Case> = vec![
            ("tenant changes a managed policy", tenant(), Update, Some(&np), Some(&np_weaker), vec![PATH]),
            ("tenant removes the label", tenant(), Update, Some(&np), Some(&np_plain), vec![PATH]),
            ("tenant adds the label", tenant(), Update, Some(&np_plain), Some(&np), vec![PATH]),
            ("tenant deletes a managed policy", tenant(), Delete, Some(&np), None, vec![PATH]),
            ("tenant deletes a managed quota", tenant(), Delete, Some(&quota), None, vec![PATH]),
            ("any kind: managed Deployment", tenant(), Update, Some(&deploy), Some(&deploy), vec![PATH]),
            ("tenantguard's service account changes", tg(), Update, Some(&np), Some(&np_weaker), vec![]),
            ("tenantguard's service account deletes", tg(), Delete, Some(&np), None, vec![]),
            ("look-alike service account in the tenant namespace",
                user("system:serviceaccount:acme-prod:tenantguard", &[]), Delete, Some(&np), None, vec![PATH]),
            ("tenantguard's name as a group is not its service account",
                user("eve", &["system:serviceaccount:tenantguard-system:tenantguard"]), Delete, Some(&np), None, vec![PATH]),
            ("admin deletes", user("root", &["system:masters"]), Delete, Some(&np), None, vec![]),
            ("admin changes", user("root", &["system:masters"]), Update, Some(&np), Some(&np_weaker), vec![]),
            ("unmanaged object changed", tenant(), Update, Some(&np_plain), Some(&np_plain), vec![]),
            ("unmanaged object deleted", tenant(), Delete, Some(&np_plain), None, vec![]),
            ("managed by someone else", tenant(), Delete, Some(&np_helm), None, vec![]),
            ("DELETE without oldObject", tenant(), Delete, None, None, vec![]),
            ("CREATE is not judged", tenant(), Create, None, Some(&np), vec![]),
            ("namespace controller empties a deleted namespace",
                user("system:serviceaccount:kube-system:namespace-controller", &[]), Delete, Some(&np), None, vec![]),
            ("garbage collector deletes a dependent",
                user("system:serviceaccount:kube-system:generic-garbage-collector", &[]), Delete, Some(&quota), None, vec![]),
            ("namespace controller may not change one",
                user("system:serviceaccount:kube-system:namespace-controller", &[]), Update, Some(&np), Some(&np_weaker), vec![PATH]),
        ];
        for (name, who, op, old, new, want) in cases {
            let got = run(who, op, old, new);
            let paths: Vec<&str> = got.iter().map(|v| v.path.as_str()).collect();
            assert_eq!(paths, want, "{name}: {got:?}");
        }
    }

    #[test]
    fn message() {
        let np = obj("NetworkPolicy", Some("tenantguard"));
        let v = run(user("dave", &[]), Operation::Delete, Some(&np), None);
        assert_eq!(
            v[0].message,
            "NetworkPolicy \"tenant-default\" in namespace \"acme-prod\" is labelled app.kubernetes.io/managed-by: tenantguard: tenantguard's onboarding controller owns it, so \"dave\" may not delete it; ask a platform admin, or change the Tenant instead"
        );
    }
}
