//! The fallback's checks on Services (`service-types`) and on Namespace
//! objects (the tenant label, from `namespace-ownership`).
//!
//! Left to the webhook: `namespace-ownership` on CREATE and DELETE (who
//! owns which tenant lives in Tenant objects, which change at run time) and
//! the onboarding mark; everything else the Service rules judge.

use serde_json::json;

use super::pods::tenant_variable;
use super::{list, lit, requester_in, Draft, Input};
use crate::policy::AllowList;
use crate::TENANT_LABEL;

/// `service-types`: a Service's `type` (unset is `ClusterIP`) is in its
/// tenant's `allowed.serviceTypes`, else the Settings' list, else
/// `[ClusterIP, ExternalName]`. Tenants come from the declared Tenants; one
/// that exists only in the cluster gets the Settings' list here.
pub(crate) fn service_types(input: &Input<'_>) -> Draft {
    let settings = &input.set.settings;
    // The list of a tenant that declares none: the Settings' (or the default).
    let fallback = input.inventory.tenant("", settings);
    let default = fallback.allowed(AllowList::ServiceTypes);
    let mut entries: Vec<String> = Vec::new();
    let mut anything: Vec<&str> = Vec::new();
    for t in input.inventory.tenant_names() {
        let own = input
            .inventory
            .tenant(t, settings)
            .allowed(AllowList::ServiceTypes);
        if own == default {
            continue;
        }
        match own {
            Some(l) => entries.push(format!("{}: {}", lit(t), list(&l[..]))),
            None => anything.push(t),
        }
    }
    entries.sort();
    let default_check = match &default {
        Some(l) => format!("variables.type in {}", list(&l[..])),
        None => "true".to_string(),
    };
    let mut check = default_check;
    if !entries.is_empty() {
        let map = format!("{{{}}}", entries.join(", "));
        check = format!(
            "variables.tenant in {map} ? variables.type in {map}[variables.tenant] : {check}"
        );
    }
    if !anything.is_empty() {
        check = format!("variables.tenant in {} || ({check})", list(&anything));
    }
    Draft {
        rule: "service-types",
        resource_rules: json!([{"apiGroups": [""], "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"], "resources": ["services"]}]),
        variables: vec![
            tenant_variable(),
            (
                "type",
                "has(object.spec.type) ? object.spec.type : 'ClusterIP'".to_string(),
            ),
        ],
        validations: vec![(
            check,
            "[service-types] spec.type: this Service type is not in the tenant's allowed.serviceTypes; use ClusterIP, or ask a platform admin to grant the type".to_string(),
        )],
        tenant_namespaces: true,
    }
}

/// `namespace-ownership`, the part CEL expresses: on UPDATE the tenant
/// label of a Namespace (an empty one is none) is added, changed or removed
/// by a Settings admin only. Every namespace is bound: a label added to a
/// platform namespace or removed from a tenant one is what it is about.
/// `namespaces/status` and `namespaces/finalize` too: the apiserver keeps the
/// labels their UPDATEs carry.
pub(crate) fn namespace_tenant_label(input: &Input<'_>) -> Draft {
    let admins = &input.set.settings.admins;
    let label = lit(TENANT_LABEL);
    let of = |o: &str| {
        format!("has({o}.metadata.labels) && {label} in {o}.metadata.labels ? {o}.metadata.labels[{label}] : ''")
    };
    Draft {
        rule: "namespace-ownership",
        resource_rules: json!([{"apiGroups": [""], "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["namespaces", "namespaces/status", "namespaces/finalize"]}]),
        variables: vec![
            ("admin", requester_in(&admins.users, &admins.groups)),
            ("before", of("oldObject")),
            ("after", of("object")),
        ],
        validations: vec![(
            "variables.admin || variables.before == variables.after".to_string(),
            format!("[namespace-ownership] metadata.labels.{TENANT_LABEL}: only platform admins may add, change or remove a namespace's tenant label"),
        )],
        tenant_namespaces: false,
    }
}
