//! ingress-nginx annotations that name a Secret or ConfigMap as `name` or
//! `<namespace>/<name>`. The controller reads the object with its own
//! cluster-wide access, so an Ingress naming another namespace's Secret
//! would have the shared controller use it (an htpasswd file, a client CA,
//! the client certificate and key presented to a backend) for this
//! Ingress. The annotations, from the ingress-nginx annotation reference:
//!
//! - Secrets: `auth-secret` (basic/digest auth users), `auth-tls-secret`
//!   (the CA for client certificates), `proxy-ssl-secret` (the certificate
//!   and key presented to an HTTPS backend);
//! - ConfigMaps: `auth-proxy-set-headers` (headers sent to the external
//!   auth service), `custom-headers` (response headers),
//!   `fastcgi-params-configmap` (FastCGI parameters).
//!
//! Matched, as the `*-snippet` annotations are, under any prefix (the
//! default `nginx.ingress.kubernetes.io/`, a custom `--annotations-prefix`,
//! the old `ingress.kubernetes.io/`), by the name after the last `/`; the
//! name in the exact case the controller looks it up in. The value is read
//! as the controller reads it: each line trimmed, then `name` or
//! `namespace/name` (an empty namespace is the Ingress's own).

use serde_json::Value;

use super::{Ctx, Violation};
use crate::tenancy::TenantRef;

/// The annotation names, with the kind of object each names.
const REFERENCES: [(&str, &str); 6] = [
    ("auth-secret", "Secret"),
    ("auth-tls-secret", "Secret"),
    ("proxy-ssl-secret", "Secret"),
    ("auth-proxy-set-headers", "ConfigMap"),
    ("custom-headers", "ConfigMap"),
    ("fastcgi-params-configmap", "ConfigMap"),
];

/// The kind of object an annotation key names, if it is one of [`REFERENCES`].
fn referenced_kind(key: &str) -> Option<&'static str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    REFERENCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, kind)| *kind)
}

/// The value as ingress-nginx reads a string annotation: every line trimmed.
fn normalized(value: &str) -> String {
    value.lines().map(str::trim).collect::<Vec<_>>().join("\n")
}

/// Denies every reference annotation of `obj` that names an object outside
/// the tenant's namespaces. Annotations without such names cost one pass
/// over the keys and no namespace lookup.
pub(super) fn foreign(ctx: &Ctx<'_>, tenant: TenantRef<'_>, obj: &Value, out: &mut Vec<Violation>) {
    let Some(annotations) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return;
    };
    let mut found: Vec<(&String, &Value, &str)> = annotations
        .iter()
        .filter_map(|(k, v)| referenced_kind(k).map(|kind| (k, v, kind)))
        .collect();
    found.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value, kind) in found {
        let path = format!("metadata.annotations.{key}");
        let Some(value) = value.as_str() else {
            out.push(Violation::new(
                &path,
                format!("{path} is not a string, so the {kind} it names cannot be judged; annotation values are strings"),
            ));
            continue;
        };
        let value = normalized(value);
        let parts: Vec<&str> = value.split('/').collect();
        let (namespace, name) = match parts[..] {
            [_] => continue,
            [ns, name] => (ns, name),
            _ => {
                out.push(Violation::new(
                    &path,
                    format!("{path}: {value:?} is neither a {kind} name nor <namespace>/<name>, so what it names cannot be judged; name a {kind} of namespace {:?} by its name", ctx.namespace),
                ));
                continue;
            }
        };
        if namespace.is_empty() || namespace == ctx.namespace || own(ctx, tenant, namespace) {
            continue;
        }
        out.push(Violation::new(
            &path,
            format!(
                "{path}: names {kind} {name:?} in namespace {namespace:?}, which is not a namespace of tenant {:?}; the shared ingress controller reads it with its own cluster-wide access, so this Ingress would use another tenant's (or the platform's) {kind}. Create the {kind} in namespace {:?} and name it without a namespace ({name:?})",
                tenant.name, ctx.namespace
            ),
        ));
    }
}

/// Whether `namespace` is another namespace of the same tenant (and not
/// exempt: exempt namespaces are the platform's, whatever their labels).
fn own(ctx: &Ctx<'_>, tenant: TenantRef<'_>, namespace: &str) -> bool {
    ctx.inventory.tenant_of(namespace) == Some(tenant.name)
        && !ctx.settings.is_exempt(namespace, &ctx.identity.namespace)
}
