//! `ingress-hosts` (validating): the hosts a tenant's Ingresses, Gateway
//! listeners and Gateway API routes (`HTTPRoute`, `GRPCRoute`, `TLSRoute`)
//! take. A shared ingress controller routes by host, so a host is a claim on
//! traffic: a tenant that takes another tenant's host receives its requests
//! (and, through `spec.tls`, can serve a certificate for it).
//!
//! Rejected, each at its path (fields as [`crate::hosts::host_fields`] reads them):
//! - a host outside the tenant's patterns (`TenantRef::ingress_hostnames`:
//!   the Tenant's `ingress.hostnames`, else the Settings' `ingressHostnames`
//!   with `{tenant}` filled in), when any are declared;
//! - an Ingress rule without host, an Ingress `defaultBackend`, a route
//!   without hostnames and a listener without hostname: each catches every
//!   host, including other tenants';
//! - a host that overlaps a claim of an Ingress or route outside the tenant
//!   (another tenant's, or a platform namespace's: its hosts are not the
//!   tenant's to take either). Claims by the object itself (same namespace,
//!   kind and name) do not count, so an UPDATE keeps its own hosts, and a
//!   tenant may reuse its own hosts across objects;
//! - for a tenant without patterns of its own, a host inside the hostnames
//!   handed to another tenant (its `ingress.hostnames`, or the Settings'
//!   patterns with its name), even if no object claims it yet
//!   ([`domains`]). A pattern hands out a domain: the name it is written
//!   on (a wildcard's suffix) and every name below it, so `*.acme.example`
//!   gives acme `acme.example`, `shop.acme.example`, `a.b.acme.example`
//!   (cookies scoped to a domain reach its subdomains, and ingress-nginx
//!   lets a wildcard serve deeper names). A requested wildcard reaches a
//!   domain when its suffix is in it or above it (`*.example` reaches
//!   `acme.example`'s). A tenant with patterns is held to its own (the
//!   first point), so overlapping grants, where both tenants' patterns
//!   cover the host, stay allowed. An UPDATE keeps the hosts the object
//!   already had: the other tenant's patterns may have grown after it took
//!   them (the audit, which judges objects as they stand, reports them);
//! - a host that is not a DNS name or one-label wildcard, or a value that is
//!   not a string (it cannot be judged);
//! - on Ingresses, annotations whose name ends in `-snippet` or `-snippets`
//!   under any prefix (ingress-nginx's `nginx.ingress.kubernetes.io/
//!   configuration-snippet`, `server-snippet`, `auth-snippet`, …, also under
//!   a custom `--annotations-prefix`, and NGINX Inc.'s `nginx.org/*-snippets`):
//!   they put raw configuration into the shared controller, which can read
//!   every tenant's Secrets;
//! - on Ingresses, ingress-nginx annotations that name a Secret or ConfigMap
//!   as `<namespace>/<name>` (`auth-secret`, `auth-tls-secret`,
//!   `proxy-ssl-secret`, `auth-proxy-set-headers`, `custom-headers`,
//!   `fastcgi-params-configmap`, under any prefix, in the case the
//!   controller reads) whose namespace is not one of the tenant's: another
//!   tenant's, a platform, exempt or unknown namespace ([`references`]).
//!   The shared controller would read that object for this Ingress. A bare
//!   name, the own namespace or another namespace of the same tenant is
//!   fine; only Ingresses with such annotations pay for a namespace lookup.
//!
//! Messages name the host and the overlapping claim, but not the tenant or
//! object behind it (nor the other tenant's patterns): tenants are often
//! customers of the platform, and telling one customer another's name (or
//! that a host belongs to the platform) leaks more than a refusal needs. A
//! platform admin finds the owner with `kubectl get ingress,httproute -A`.
//!
//! CREATE and UPDATE: hosts exist only in an object's content.
//!
//! Reference: <https://kubernetes.io/docs/concepts/services-networking/ingress/>,
//! <https://gateway-api.sigs.k8s.io/reference/spec/>,
//! <https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/>.

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Effect, GroupKind, Kinds, Operation, Rule, Scope, Violation};
use crate::hosts::{self, CatchAll, ClaimKind, ClaimRef, Host, HostValue, GATEWAY_GROUP};
use crate::tenancy::TenantRef;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `ingress-hosts`.
pub struct IngressHosts;

/// The kinds that keep hosts ([`ClaimKind`]).
const JUDGED: [GroupKind; 5] = [
    GroupKind::new("networking.k8s.io", "Ingress"),
    GroupKind::new(GATEWAY_GROUP, "Gateway"),
    GroupKind::new(GATEWAY_GROUP, "HTTPRoute"),
    GroupKind::new(GATEWAY_GROUP, "GRPCRoute"),
    GroupKind::new(GATEWAY_GROUP, "TLSRoute"),
];

impl Rule for IngressHosts {
    const ID: &'static str = "ingress-hosts";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Hosts exist only in an object's content: an UPDATE can take a new
    /// host as a CREATE can; a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    const KINDS: Kinds = Kinds::Only(&JUDGED);
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(obj), Some(tenant)) = (ctx.object, ctx.tenant) else {
        return Vec::new();
    };
    let (Some(kind), Some(fields)) = (
        ClaimKind::of(ctx.group, ctx.kind),
        hosts::host_fields(ctx.group, ctx.kind, obj),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if kind == ClaimKind::Ingress {
        snippets(obj, &mut out);
        references::foreign(ctx, tenant, obj, &mut out);
    }
    let own = ClaimRef::new(ctx.namespace, kind, ctx.name);
    let patterns = tenant.ingress_hostnames();
    for f in fields {
        let path = f.path;
        match f.value {
            HostValue::Named(raw) => match Host::parse(raw) {
                Ok(host) => judge(ctx, tenant, &own, &patterns, &path, &host, &mut out),
                Err(e) => out.push(Violation::new(
                    &path,
                    format!("{path}: {raw:?} is not a hostname: {e}; use a DNS name such as shop.acme.example or a one-label wildcard such as *.acme.example"),
                )),
            },
            HostValue::CatchAll(c) => out.push(Violation::new(&path, catch_all(&path, c))),
            HostValue::Malformed => out.push(Violation::new(
                &path,
                format!("{path} is not what Kubernetes accepts there (a string, or a list of strings), so its hosts cannot be judged"),
            )),
        }
    }
    out
}

fn judge(
    ctx: &Ctx<'_>,
    tenant: TenantRef<'_>,
    own: &ClaimRef,
    patterns: &[String],
    path: &str,
    host: &Host,
    out: &mut Vec<Violation>,
) {
    if !patterns.is_empty() && !hosts::pattern_allows(patterns, host) {
        out.push(Violation::new(
            path,
            format!(
                "{path}: host {host} is outside the hostnames of tenant {:?} ({}); use a host they cover, or ask the platform team to add it to the Tenant's spec.ingress.hostnames",
                tenant.name,
                patterns.join(", ")
            ),
        ));
    }
    // A tenant with patterns only takes hosts they allow (denied above when
    // not); one without them must stay out of the domains handed to others.
    if patterns.is_empty() && domains::reaches_foreign(ctx, tenant.name, host) && !kept(ctx, host) {
        let how = if host.is_wildcard() {
            "reaches into"
        } else {
            "falls inside"
        };
        out.push(Violation::new(
            path,
            format!(
                "{path}: host {host} {how} the hostnames the platform handed to another tenant; the names under them are that tenant's even before it uses them. Choose a host outside them, or ask the platform team to give tenant {:?} hostnames of its own (the Tenant's spec.ingress.hostnames)",
                tenant.name
            ),
        ));
    }
    let foreign = ctx
        .inventory
        .claims()
        .overlapping(host)
        .into_iter()
        .filter(|(_, c)| *c != own && ctx.inventory.tenant_of(&c.namespace) != Some(tenant.name))
        .map(|(h, _)| h)
        .min();
    if let Some(claimed) = foreign {
        let how = if claimed == host {
            String::new()
        } else {
            format!(" (it overlaps {claimed})")
        };
        out.push(Violation::new(
            path,
            format!(
                "{path}: host {host} is already claimed by an Ingress or route outside tenant {:?}{how}; a shared ingress controller would send one tenant's traffic to the other. Choose another host",
                tenant.name
            ),
        ));
    }
}

/// Whether an UPDATE keeps `host` from the object as it was: another
/// tenant's patterns, which can grow after the object took its hosts, never
/// take a host away from it (new hosts are judged; the audit reports the
/// conflict).
fn kept(ctx: &Ctx<'_>, host: &Host) -> bool {
    let Some(old) = ctx
        .old_object
        .filter(|_| ctx.operation == Operation::Update)
    else {
        return false;
    };
    hosts::host_fields(ctx.group, ctx.kind, old)
        .into_iter()
        .flatten()
        .any(|f| matches!(f.value, HostValue::Named(h) if Host::parse(h).as_ref() == Ok(host)))
}

fn catch_all(path: &str, c: CatchAll) -> String {
    let what = match c {
        CatchAll::IngressRule => "this Ingress rule has no host, so it",
        CatchAll::DefaultBackend => "a default backend",
        CatchAll::Route => "a route without hostnames",
        CatchAll::Listener => "a listener without hostname",
    };
    let fix = match c {
        CatchAll::IngressRule => "set host",
        CatchAll::DefaultBackend => "remove it and route by host in spec.rules",
        CatchAll::Route => "list the route's hostnames",
        CatchAll::Listener => "set the listener's hostname",
    };
    format!("{path}: {what} catches every host, other tenants' included; {fix}")
}

/// Whether an annotation key names a configuration snippet.
fn is_snippet(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    name.ends_with("-snippet") || name.ends_with("-snippets")
}

fn snippets(obj: &Value, out: &mut Vec<Violation>) {
    let Some(annotations) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return;
    };
    let mut keys: Vec<&String> = annotations.keys().filter(|k| is_snippet(k)).collect();
    keys.sort();
    for k in keys {
        let path = format!("metadata.annotations.{k}");
        out.push(Violation::new(
            &path,
            format!("{path}: configuration snippets run inside the shared ingress controller, which can read every tenant's Secrets; remove the annotation and use the controller's dedicated annotations, or ask the platform team"),
        ));
    }
}

mod domains;
mod references;
#[cfg(test)]
mod tests;
