//! `tenantguard check`: offline manifests → engine (mutation, then validation
//! of the mutated object, as the webhook would on CREATE) → report.
//!
//! Reading the input is [`input`]'s job, the report for people [`text`]'s.
//! Namespaces and Tenants in the input describe the tenancy as well as being
//! judged; a Namespace counts with the labels its mutation gives it, as it
//! would in the cluster. The JSON report has exactly the fields of DESIGN.md's
//! contract; anything else (lines, why an object was not judged, the patch as
//! readable changes) lives in fields JSON skips.

mod claims;
mod resources;

pub use claims::absorb as absorb_claims;
mod text;

use serde::Serialize;
use serde_json::Value;

pub use crate::manifest::{read_inputs, stdin_if_needed, InputError, InputObject};
pub use text::{describe_patch, render_text};

use crate::engine::{Engine, Outcome, Request, Standing};
use crate::policy::rules::{Operation, User};
use crate::policy::RuleId;
use crate::tenancy::{self, Inventory};

/// The pseudo-rule of a violation saying the engine could not judge the
/// object at all. Such an object is denied (never admit what was not
/// judged), and the reason goes where every denial's reasons go, so a CI
/// script printing `violations` shows it. Its name says what happened rather
/// than blaming the input: today only an internal error leads here offline.
pub const CANNOT_JUDGE: &str = "cannot-judge";

/// Built-in kinds that live outside namespaces. `Cluster*` kinds of other
/// groups (ClusterIssuer, ClusterSecretStore, ...) are taken as cluster-scoped
/// too when they name no namespace; without discovery that is a guess.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ComponentStatus",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "APIService",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "VolumeAttributesClass",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "IPAddress",
    "ServiceCIDR",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CertificateSigningRequest",
    "ClusterTrustBundle",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "DeviceClass",
    "ResourceSlice",
    "StorageVersion",
    "TokenReview",
    "SelfSubjectReview",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SubjectAccessReview",
    "Tenant",
];

/// The group every authenticated requester has; the apiserver adds it to
/// impersonated users too, and policy exclusions may name it.
const AUTHENTICATED: &str = "system:authenticated";

/// The requester `check` judges as: `--as`/`--as-group`, or an admin of the
/// Settings when no `--as` is given.
pub fn requester(as_user: Option<&str>, as_groups: &[String], engine: &Engine) -> User {
    let (username, mut groups) = match as_user {
        Some(u) => (u.to_string(), as_groups.to_vec()),
        None => {
            let admins = &engine.policies.settings.admins;
            let mut groups = admins.groups.clone();
            groups.extend(as_groups.iter().cloned());
            let user = admins
                .users
                .first()
                .map_or("kubernetes-admin", String::as_str);
            (user.to_string(), groups)
        }
    };
    if !groups.iter().any(|g| g == AUTHENTICATED) {
        groups.push(AUTHENTICATED.to_string());
    }
    User { username, groups }
}

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The namespace the apiserver would put `obj` in ("" for cluster-scoped).
fn namespace_of(obj: &Value, kind: &str, default_namespace: &str) -> String {
    let named = meta(obj, "namespace").filter(|n| !n.is_empty());
    if CLUSTER_SCOPED.contains(&kind) || (named.is_none() && kind.starts_with("Cluster")) {
        return String::new();
    }
    named.unwrap_or(default_namespace).to_string()
}

/// The CREATE request the apiserver would send for `obj`. Like the
/// apiserver, `request.name` is empty for an object with only `generateName`.
pub fn create_request(obj: &Value, default_namespace: &str, user: &User) -> Request {
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = crate::model::split_api_version(api);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    Request {
        uid: String::new(),
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        // Unknown offline: the object alone says what it is.
        resource: Default::default(),
        namespace: namespace_of(obj, kind, default_namespace),
        name: meta(obj, "name").unwrap_or("").to_string(),
        operation: Operation::Create,
        user: user.clone(),
        dry_run: false,
        object: Some(obj.clone()),
        old_object: None,
    }
}

#[derive(Debug, Serialize)]
pub struct ViolationOut {
    pub rule: String,
    pub action: String,
    pub path: String,
    pub message: String,
}

/// One judged object. Serialized, exactly the contract's fields.
#[derive(Debug, Serialize)]
pub struct ResultOut {
    pub source: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub tenant: Option<String>,
    pub allowed: bool,
    pub violations: Vec<ViolationOut>,
    pub warnings: Vec<String>,
    pub patch: Vec<json_patch::PatchOperation>,
    /// 1-based line of the document (text output only).
    #[serde(skip)]
    pub line: usize,
    /// Why no rule judged the object, or which part of it was judged, when
    /// that is not obvious (text output only).
    #[serde(skip)]
    pub note: Option<String>,
    /// The patch as changes a person reads (text output only).
    #[serde(skip)]
    pub changes: Vec<String>,
    /// A pod that asks for Vault: its requests and limits with the Vault
    /// Agent containers the Injector adds (text output only: the JSON
    /// report keeps exactly the contract's fields).
    #[serde(skip)]
    pub resources: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub objects: usize,
    pub denied: usize,
    pub warned: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub results: Vec<ResultOut>,
    pub summary: Summary,
    /// Hints about the run as a whole (text output only).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report {
    /// 0: all admitted; 1: at least one denied.
    pub fn exit_code(&self) -> i32 {
        if self.summary.denied > 0 {
            1
        } else {
            0
        }
    }
}

/// Adds the Namespaces and Tenants of the input to the inventory. The
/// hosts the input's Ingresses and routes claim are added by [`run`], once
/// the tenancy is known (see [`claims`]).
pub fn absorb_inputs(inv: &mut Inventory, objects: &[InputObject]) -> Result<(), InputError> {
    for o in objects {
        if crate::hosts::ClaimRef::of_object(&o.object).is_some() {
            continue;
        }
        tenancy::absorb(inv, &o.object, &o.source, o.line)
            .map_err(|e| InputError(e.to_string()))?;
    }
    Ok(())
}

/// The inventory with every input Namespace as its mutation leaves it: a
/// tenant owner's new namespace gets its tenant label from `namespace-labels`,
/// and the objects created in it are then judged for that tenant.
fn tenancy_after_mutation(
    engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    user: &User,
) -> Inventory {
    let mut after = inv.clone();
    let is_namespace = |o: &&InputObject| {
        o.object.get("apiVersion").and_then(Value::as_str) == Some("v1")
            && o.object.get("kind").and_then(Value::as_str) == Some("Namespace")
    };
    for o in objects.iter().filter(is_namespace) {
        let req = create_request(&o.object, "", user);
        let mutated = engine.mutate(&req, inv);
        let mut ns = o.object.clone();
        if !mutated.patch.is_empty() && json_patch::patch(&mut ns, &mutated.patch).is_ok() {
            after.add_namespace_object(&ns);
        }
    }
    after
}

/// Kinds some rule judged on CREATE looks into beyond labels (from the
/// rule registry).
fn has_specific_rules(group: &str, kind: &str) -> bool {
    RuleId::ALL.iter().any(|r| {
        r.operations().contains(&Operation::Create)
            && r.specific_kinds().iter().any(|gk| gk.is(group, kind))
    })
}

/// What a person should know about how far the object was judged.
fn note(engine: &Engine, req: &Request, standing: &Standing) -> Option<String> {
    match standing {
        Standing::Namespace(_) if engine.is_exempt(&req.name) => Some(format!(
            "namespace {:?} is exempt: only its tenant label (and its deletion) is judged",
            req.name
        )),
        Standing::OutOfScope if req.namespace.is_empty() => {
            Some("not judged: cluster-scoped, no rule applies".into())
        }
        Standing::OutOfScope if engine.is_exempt(&req.namespace) => Some(format!(
            "not judged: namespace {:?} is exempt",
            req.namespace
        )),
        Standing::OutOfScope => Some(format!(
            "not judged: namespace {:?} has no {} label (a platform namespace)",
            req.namespace,
            crate::TENANT_LABEL
        )),
        Standing::Tenant(_) if !has_specific_rules(&req.group, &req.kind) => {
            let gk = if req.group.is_empty() {
                req.kind.clone()
            } else {
                format!("{}/{}", req.group, req.kind)
            };
            Some(format!(
                "no rule is specific to {gk}: only its labels were judged"
            ))
        }
        _ => None,
    }
}

fn violations(outcome: &Outcome) -> Vec<ViolationOut> {
    let mut out: Vec<ViolationOut> = outcome
        .findings
        .iter()
        .map(|f| ViolationOut {
            rule: f.rule.as_str().to_string(),
            action: f.action.as_str().to_string(),
            path: f.path.clone(),
            message: f.message.clone(),
        })
        .collect();
    if let Some(e) = &outcome.error {
        out.push(ViolationOut {
            rule: CANNOT_JUDGE.to_string(),
            action: "Deny".to_string(),
            path: e.path().to_string(),
            message: e.to_string(),
        });
    }
    out
}

/// Judges every object, in input order.
pub fn run(
    engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    default_namespace: &str,
    user: &User,
) -> Report {
    let mut inv = tenancy_after_mutation(engine, inv, objects, user);
    claims::absorb(engine, &mut inv, objects, default_namespace);
    report(
        engine,
        &inv,
        objects,
        default_namespace,
        user,
        |req, inv| engine.admit(req, inv),
    )
}

/// The report of `judge` over every object's CREATE request, in input
/// order: `check` judges with mutation and validation, `audit` with the
/// validating rules alone.
pub fn report(
    engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    default_namespace: &str,
    user: &User,
    judge: impl Fn(&Request, &Inventory) -> Outcome,
) -> Report {
    let mut results = Vec::with_capacity(objects.len());
    for o in objects {
        let req = create_request(&o.object, default_namespace, user);
        let outcome = judge(&req, inv);
        let standing = engine.standing(&req, inv);
        // An object that could not be judged still says whose namespace it is in.
        let tenant = outcome.tenant.clone().or_else(|| {
            (!engine.is_exempt(&req.namespace))
                .then(|| inv.tenant_of(&req.namespace).map(str::to_string))
                .flatten()
        });
        let display_name = meta(&o.object, "name")
            .or_else(|| meta(&o.object, "generateName"))
            .unwrap_or("");
        let mut mutated = o.object.clone();
        let resources = if json_patch::patch(&mut mutated, &outcome.patch).is_ok() {
            resources::describe(&req.group, &req.kind, &mutated).unwrap_or_default()
        } else {
            Vec::new()
        };
        results.push(ResultOut {
            source: o.source.clone(),
            kind: req.kind.clone(),
            namespace: req.namespace.clone(),
            name: display_name.to_string(),
            tenant,
            allowed: outcome.allowed,
            violations: violations(&outcome),
            warnings: outcome.warnings.clone(),
            changes: describe_patch(&o.object, &outcome.patch),
            patch: outcome.patch,
            line: o.line,
            note: note(engine, &req, &standing),
            resources,
        });
    }
    let mut notes = Vec::new();
    if !results.is_empty() && results.iter().all(|r| r.tenant.is_none()) {
        notes.push(format!(
            "no object is in a tenant namespace, so no tenant rule applied: declare the tenancy with Namespaces labelled {} (in the input or --inventory), or read it from the cluster with --cluster",
            crate::TENANT_LABEL
        ));
    }
    let summary = Summary {
        objects: results.len(),
        denied: results.iter().filter(|r| !r.allowed).count(),
        warned: results.iter().filter(|r| !r.warnings.is_empty()).count(),
    };
    Report {
        results,
        summary,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_defaults() {
        let u = User::default();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let r = create_request(&pod, "default", &u);
        assert_eq!(
            (r.group.as_str(), r.version.as_str(), r.namespace.as_str()),
            ("", "v1", "default")
        );
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "x", "generateName": "d-"}});
        let r = create_request(&d, "default", &u);
        assert_eq!(
            (r.group.as_str(), r.namespace.as_str(), r.name.as_str()),
            ("apps", "x", "")
        );
        let cases = [
            ("v1", "Namespace", json!({"name": "n"}), ""),
            (
                "v1",
                "Namespace",
                json!({"name": "n", "namespace": "x"}),
                "",
            ),
            (
                "cert-manager.io/v1",
                "ClusterIssuer",
                json!({"name": "i"}),
                "",
            ),
            (
                "operators.coreos.com/v1alpha1",
                "ClusterServiceVersion",
                json!({"name": "c", "namespace": "ops"}),
                "ops",
            ),
            ("example.com/v1", "Widget", json!({"name": "w"}), "default"),
        ];
        for (api, kind, metadata, ns) in cases {
            let o = json!({"apiVersion": api, "kind": kind, "metadata": metadata});
            assert_eq!(create_request(&o, "default", &u).namespace, ns, "{kind}");
        }
    }

    #[test]
    fn requester_is_an_admin_unless_told() {
        let e = Engine::default();
        let admin = requester(None, &[], &e);
        assert!(admin.groups.iter().any(|g| g == "system:masters"));
        assert!(admin.groups.iter().any(|g| g == AUTHENTICATED));
        let alice = requester(Some("alice"), &["acme-admins".into()], &e);
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.groups, ["acme-admins", AUTHENTICATED]);
    }

    fn objects(docs: &[Value]) -> Vec<InputObject> {
        docs.iter()
            .enumerate()
            .map(|(i, o)| InputObject {
                source: format!("t.yaml#{}", i + 1),
                line: 1,
                object: o.clone(),
            })
            .collect()
    }

    #[test]
    fn an_owners_new_namespace_counts_for_its_tenant() {
        let policies = crate::policy::load_sources([(
            "t.yaml",
            "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec: {owners: [{kind: Group, name: acme-admins}]}\n",
        )])
        .unwrap();
        let mut inv = Inventory::default();
        for t in &policies.tenants {
            inv.add_tenant(t);
        }
        let engine = Engine::new(policies, Default::default());
        let input = objects(&[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-dev"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "acme-dev"}, "spec": {"containers": [{"name": "app"}]}}),
        ]);
        absorb_inputs(&mut inv, &input).unwrap();
        let alice = requester(Some("alice"), &["acme-admins".into()], &engine);
        let report = run(&engine, &inv, &input, "default", &alice);
        let pod = &report.results[1];
        assert_eq!(pod.tenant.as_deref(), Some("acme"), "{pod:?}");
        assert!(!pod.allowed, "judged as acme's: no limits");
        assert_eq!(report.exit_code(), 1);
        assert!(report.notes.is_empty());
    }

    #[test]
    fn notes_say_why_objects_were_not_judged() {
        let engine = Engine::default();
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        let input = objects(&[
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "kube-system"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "monitoring"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "acme-prod"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "acme-prod"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenantguard-system"}}),
        ]);
        let report = run(&engine, &inv, &input, "default", &User::default());
        let notes: Vec<_> = report.results.iter().map(|r| r.note.as_deref()).collect();
        assert_eq!(
            notes,
            [
                Some("not judged: namespace \"kube-system\" is exempt"),
                Some("not judged: namespace \"monitoring\" has no tenantguard.io/tenant label (a platform namespace)"),
                Some("not judged: cluster-scoped, no rule applies"),
                Some("no rule is specific to example.com/Widget: only its labels were judged"),
                None,
                Some("namespace \"tenantguard-system\" is exempt: only its tenant label (and its deletion) is judged"),
            ]
        );
        assert!(report.results.iter().all(|r| r.allowed));
        let none = run(
            &engine,
            &Inventory::default(),
            &input[..1],
            "default",
            &User::default(),
        );
        assert_eq!(none.notes.len(), 1);
    }

    #[test]
    fn what_cannot_be_judged_is_denied_with_its_reason() {
        let mut inv = Inventory::new(crate::tenancy::UnknownNamespaces::Deny);
        inv.add_namespace("acme-prod", Some("acme"));
        let input = objects(&[
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "elsewhere"}}),
        ]);
        let report = run(
            &Engine::default(),
            &inv,
            &input,
            "default",
            &User::default(),
        );
        let r = &report.results[0];
        assert!(!r.allowed);
        assert_eq!(r.violations.len(), 1);
        assert_eq!(
            (
                r.violations[0].rule.as_str(),
                r.violations[0].action.as_str()
            ),
            (CANNOT_JUDGE, "Deny")
        );
        assert!(
            r.violations[0]
                .message
                .contains("\"elsewhere\" is not known"),
            "{r:?}"
        );
        assert_eq!(report.exit_code(), 1);
    }

    #[test]
    fn json_has_exactly_the_contract_fields() {
        let engine = Engine::default();
        let input =
            objects(&[json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})]);
        let report = run(
            &engine,
            &Inventory::default(),
            &input,
            "default",
            &User::default(),
        );
        let v = serde_json::to_value(&report).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&v), ["results", "summary"]);
        assert_eq!(
            keys(&v["results"][0]),
            [
                "allowed",
                "kind",
                "name",
                "namespace",
                "patch",
                "source",
                "tenant",
                "violations",
                "warnings"
            ]
        );
        assert_eq!(keys(&v["summary"]), ["denied", "objects", "warned"]);
        assert_eq!(v["results"][0]["tenant"], Value::Null);
        assert_eq!(v["results"][0]["patch"], json!([]));
    }
}
