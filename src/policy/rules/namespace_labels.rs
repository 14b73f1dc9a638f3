//! `namespace-labels` (mutating): a Namespace being created gets its tenant
//! label and its tenant's `namespaceLabels`.
//!
//! - A non-admin who owns exactly one declared tenant and sends a namespace
//!   without a tenant label (absent or empty) gets `tenantguard.io/tenant=<that
//!   tenant>`: the common case needs no ceremony. Someone who owns several
//!   tenants must choose (`namespace-ownership` says so); an admin without a
//!   label is creating a platform namespace.
//! - The tenant the namespace is labelled for (set by the requester or just
//!   added) contributes each `namespaceLabels` entry whose key is missing,
//!   whoever creates the namespace, admins included. Set values are never
//!   overwritten, and `namespaceLabels` can never add a second tenant label
//!   (nor `kubernetes.io/metadata.name`, which the apiserver owns).
//!
//! - Every tenant namespace also gets `pod-security.kubernetes.io/enforce:
//!   <level>` (the tenant's `podSecurity`, else the Settings') and
//!   `pod-security.kubernetes.io/enforce-version: latest`, where unset, so
//!   the built-in Pod Security admission enforces the same floor as
//!   `pod-security` if tenantguard is ever bypassed. A value the requester
//!   set is never overwritten: `namespace-metadata` refuses a wrong one.
//!   `namespaceLabels` cannot set these keys (the level comes from
//!   `podSecurity` alone).
//!
//! Exempt namespaces get nothing: they are never handed to a tenant
//! implicitly.
//!
//! CREATE only: labels are given when a namespace is born; changing them
//! later is `namespace-ownership`'s to judge. Whether the requester may use
//! the tenant at all is also `namespace-ownership`'s call: validation runs on
//! the mutated object.
//! Reference: <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/>.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::namespace_ownership::owned_tenants;
use super::{Ctx, Draft, Effect, GroupKind, Kinds, Operation, Rule, Scope, Step};
use crate::policy::PodSecurityLevel;
use crate::tenant_label::{of_object as tenant_label, TenantLabel};
use crate::{NAME_LABEL, TENANT_LABEL};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `namespace-labels`.
pub struct NamespaceLabels;

impl Rule for NamespaceLabels {
    const ID: &'static str = "namespace-labels";
    const SCOPE: Scope = Scope::Namespaces;
    /// Labels are added when a namespace is born; an UPDATE that drops them is
    /// `namespace-ownership`'s to judge.
    const OPERATIONS: &'static [Operation] = &[Operation::Create];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(&[GroupKind::new("", "Namespace")]);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Mutate(mutate);
}

/// Whether a label key is unset (absent or null) in `labels`.
fn unset(labels: Option<&Map<String, Value>>, key: &str) -> bool {
    labels.and_then(|l| l.get(key)).is_none_or(Value::is_null)
}

/// The labels to add, decided on the object as sent (so nothing is created
/// along the way when there is nothing to add).
fn additions(ctx: &Ctx<'_>, obj: &Value) -> Vec<(String, String)> {
    let labels = match obj.get("metadata").and_then(|m| m.get("labels")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(l)) => Some(l),
        // Malformed labels are left alone; the apiserver rejects them.
        Some(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    let tenant: String = match tenant_label(Some(obj)) {
        TenantLabel::Tenant(t) => t.to_string(),
        TenantLabel::Malformed(_) => return Vec::new(),
        TenantLabel::Absent => {
            if ctx.is_admin() {
                return Vec::new();
            }
            match owned_tenants(ctx).as_slice() {
                [one] => {
                    out.push((TENANT_LABEL.to_string(), one.to_string()));
                    one.to_string()
                }
                _ => return Vec::new(),
            }
        }
    };
    // The built-in Pod Security admission holds the tenant's level as a
    // second layer, should a request ever get past tenantguard.
    let level = ctx.inventory.tenant(&tenant, ctx.settings).pod_security();
    for (k, v) in psa_labels(level) {
        if unset(labels, k) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    let Some(entry) = ctx.inventory.tenant_entry(&tenant) else {
        return out;
    };
    for (k, v) in &entry.spec.namespace_labels {
        if k != TENANT_LABEL && k != NAME_LABEL && !k.starts_with(PSA_PREFIX) && unset(labels, k) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

/// The prefix of the built-in Pod Security admission's namespace labels.
pub const PSA_PREFIX: &str = "pod-security.kubernetes.io/";
/// The label that sets the level the built-in admission enforces.
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// The label that pins the version of that level's checks.
pub const PSA_ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";

/// The Pod Security labels a tenant namespace gets at `level` (every level,
/// `privileged` too, so the labels always say what tenantguard enforces).
pub fn psa_labels(level: PodSecurityLevel) -> [(&'static str, &'static str); 2] {
    [
        (PSA_ENFORCE, level.as_str()),
        (PSA_ENFORCE_VERSION, "latest"),
    ]
}

pub fn mutate(ctx: &Ctx<'_>, draft: &mut Draft<'_>, _params: &Params) {
    if ctx.operation != Operation::Create || !(ctx.group.is_empty() && ctx.kind == "Namespace") {
        return;
    }
    // An exempt namespace is never handed to a tenant by a mutation: only
    // an admin's explicit label does that (namespace-ownership).
    if ctx.is_exempt_namespace() {
        return;
    }
    let add = match draft.view().value() {
        Some(obj) => additions(ctx, &obj),
        None => return,
    };
    if add.is_empty() {
        return;
    }
    if let Some(labels) = draft.map_at(Step::keys("/metadata/labels")) {
        for (k, v) in add {
            // An empty tenant label is no label: it is the one value replaced.
            labels.insert(k, Value::String(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::testing::World;
    use crate::policy::rules::User;
    use serde_json::json;

    const ACME: &str = r#"
owners:
  - {kind: Group, name: acme-admins}
  - {kind: User, name: alice@acme.example}
  - {kind: ServiceAccount, name: ci, namespace: acme-ci}
  - {kind: ServiceAccount, name: deploy, namespace: globex-prod}
namespaceLabels:
  team: acme
  cost-center: "42"
  tenantguard.io/tenant: globex
  kubernetes.io/metadata.name: kube-system
  pod-security.kubernetes.io/enforce: privileged
"#;
    const GLOBEX: &str = r#"
owners: [{kind: Group, name: globex-admins}]
namespaceLabels: {team: globex}
"#;

    fn user(name: &str, groups: &[&str]) -> User {
        User {
            username: name.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn world(declared: bool, who: User) -> World {
        let mut w = World::new();
        w.inventory.add_namespace("acme-ci", Some("acme"));
        if declared {
            w = w
                .with_tenant("acme", ACME)
                .with_tenant("globex", GLOBEX)
                .with_tenant("initech", "podSecurity: privileged")
                .with_tenant("umbrella", "podSecurity: restricted");
        }
        w.user = who;
        w
    }

    fn ns(labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new-ns", "labels": labels}})
    }

    fn run_op(w: &World, op: Operation, obj: &Value) -> Value {
        let mut ctx = w.ctx("new-ns", obj);
        ctx.operation = op;
        let mut draft = Draft::new(obj);
        mutate(&ctx, &mut draft, &Params::default());
        draft.to_value()
    }

    fn labels(v: &Value) -> Value {
        v.pointer("/metadata/labels")
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let dave = || user("dave", &["acme-admins"]);
        let carol = || user("carol", &["acme-admins", "globex-admins"]);
        let root = || user("root", &["system:masters"]);
        let acme_full = json!({TENANT_LABEL: "acme", "team": "acme", "cost-center": "42", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"});
        let bare = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new-ns"}});
        let cases: Vec<(&str, bool, User, Value, Value)> = vec![
            ("owner via Group, no label", true, dave(), ns(json!({})), acme_full.clone()),
            ("owner via User, no labels map", true, user("alice@acme.example", &[]), bare, acme_full.clone()),
            ("owner via ServiceAccount, null labels", true, user("system:serviceaccount:acme-ci:ci", &[]),
                ns(Value::Null), acme_full.clone()),
            ("look-alike ServiceAccount", true, user("system:serviceaccount:evil:ci", &[]), ns(json!({})), json!({})),
            ("ServiceAccount owner outside the tenant is no owner", true, user("system:serviceaccount:globex-prod:deploy", &[]), ns(json!({})), json!({})),
            ("empty tenant label is filled", true, dave(), ns(json!({TENANT_LABEL: ""})), acme_full.clone()),
            ("null tenant label is filled", true, dave(), ns(json!({TENANT_LABEL: null})), acme_full.clone()),
            ("set labels are never overwritten", true, dave(), ns(json!({"team": "mine"})),
                json!({TENANT_LABEL: "acme", "team": "mine", "cost-center": "42", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"})),
            ("owner of two tenants must choose", true, carol(), ns(json!({"x": "y"})), json!({"x": "y"})),
            ("owner of two who chose", true, carol(), ns(json!({TENANT_LABEL: "globex"})),
                json!({TENANT_LABEL: "globex", "team": "globex", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"})),
            ("labelled for a tenant the requester does not own (validation denies)", true, dave(),
                ns(json!({TENANT_LABEL: "globex"})), json!({TENANT_LABEL: "globex", "team": "globex", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"})),
            ("owner of nothing", true, user("mallory", &[]), ns(json!({})), json!({})),
            ("admin without a label: platform namespace", true, root(), ns(json!({})), json!({})),
            ("admin who also owns a tenant is not labelled", true, user("root", &["system:masters", "acme-admins"]),
                ns(json!({})), json!({})),
            ("admin-made tenant namespace gets the tenant's labels", true, root(),
                ns(json!({TENANT_LABEL: "acme"})), acme_full.clone()),
            ("tenant without namespaceLabels", true, root(), ns(json!({TENANT_LABEL: "initech"})),
                json!({TENANT_LABEL: "initech", PSA_ENFORCE: "privileged", PSA_ENFORCE_VERSION: "latest"})),
            ("undeclared tenant", true, root(), ns(json!({TENANT_LABEL: "hooli"})), json!({TENANT_LABEL: "hooli", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"})),
            ("non-string tenant label is left alone", true, dave(), ns(json!({TENANT_LABEL: 5})), json!({TENANT_LABEL: 5})),
            ("none declared: nobody owns, nothing added", false, dave(), ns(json!({})), json!({})),
            ("none declared: labelled namespace", false, dave(), ns(json!({TENANT_LABEL: "acme"})),
                json!({TENANT_LABEL: "acme", PSA_ENFORCE: "baseline", PSA_ENFORCE_VERSION: "latest"})),
            ("a PSA label set by the requester is kept (namespace-metadata judges it)", true, dave(),
                ns(json!({PSA_ENFORCE: "privileged"})), json!({TENANT_LABEL: "acme", "team": "acme", "cost-center": "42", PSA_ENFORCE: "privileged", PSA_ENFORCE_VERSION: "latest"})),
            ("a restricted tenant", true, root(), ns(json!({TENANT_LABEL: "umbrella"})),
                json!({TENANT_LABEL: "umbrella", PSA_ENFORCE: "restricted", PSA_ENFORCE_VERSION: "latest"})),
        ];
        for (name, declared, who, obj, want) in cases {
            let w = world(declared, who);
            assert_eq!(labels(&run_op(&w, Operation::Create, &obj)), want, "{name}");
        }
    }

    #[test]
    fn out_of_scope() {
        let w = world(true, user("dave", &["acme-admins"]));
        // UPDATE: labels are only given at creation.
        let obj = ns(json!({}));
        assert_eq!(run_op(&w, Operation::Update, &obj), obj);
        // other kinds
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(run_op(&w, Operation::Create, &cm), cm);
        // malformed metadata and labels are left alone
        for bad in [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": "x"}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"labels": ["a"]}}),
        ] {
            assert_eq!(run_op(&w, Operation::Create, &bad), bad);
        }
        // nothing to add: no empty labels map appears
        let w = world(true, user("root", &["system:masters"]));
        let bare = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p"}});
        assert_eq!(run_op(&w, Operation::Create, &bare), bare);
    }

    #[test]
    fn exempt_namespaces_are_never_labelled() {
        let w = world(true, user("dave", &["acme-admins"]));
        for name in ["kube-system", "kube-public", "tenantguard-system"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}});
            let mut ctx = w.ctx(name, &obj);
            ctx.operation = Operation::Create;
            let mut draft = Draft::new(&obj);
            mutate(&ctx, &mut draft, &Params::default());
            assert_eq!(draft.to_value(), obj, "{name}");
            // Not even the tenant's namespaceLabels beside an admin's label.
            let labelled = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {TENANT_LABEL: "acme"}}});
            let mut draft = Draft::new(&labelled);
            mutate(&w.ctx(name, &labelled), &mut draft, &Params::default());
            assert_eq!(draft.to_value(), labelled, "{name}");
        }
    }

    /// A captured CREATE whose requester set the PSA labels herself: kept
    /// as they are; the tenant label and namespaceLabels are added.
    #[test]
    fn captured_psa_labels() {
        let path = format!(
            "{}/tests/fixtures/real/namespace/create-psa-labels.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let req: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // The captured object carries no apiVersion/kind (the request's
        // `kind` says it): the test context reads them from the object.
        let mut obj = req["object"].clone();
        obj["apiVersion"] = json!("v1");
        obj["kind"] = req["kind"]["kind"].clone();
        let w = world(true, user("alice", &["acme-admins"]));
        let out = run_op(&w, Operation::Create, &obj);
        let mut want = obj["metadata"]["labels"].clone();
        want[TENANT_LABEL] = json!("acme");
        want["team"] = json!("acme");
        want["cost-center"] = json!("42");
        assert_eq!(labels(&out), want);
    }

    #[test]
    fn idempotent() {
        let w = world(true, user("dave", &["acme-admins"]));
        let once = run_op(&w, Operation::Create, &ns(json!({})));
        assert_ne!(once, ns(json!({})));
        assert_eq!(run_op(&w, Operation::Create, &once), once);
    }
}
