//! Where each kind keeps its hosts, with the dotted path of every one, so
//! the rule and the claim indexes read the same fields.
//!
//! - Ingress (`networking.k8s.io/v1`): `spec.rules[].host`,
//!   `spec.tls[].hosts[]`; a rule without host and `spec.defaultBackend`
//!   catch every host. And ingress-nginx's `server-alias` annotation (under
//!   any prefix, as a custom `--annotations-prefix` moves it): the
//!   controller serves each name of its comma-separated list as one more
//!   host of the Ingress's server, so each is a host field of its own.
//! - Gateway API (`gateway.networking.k8s.io`): `Gateway`
//!   `spec.listeners[].hostname`; `HTTPRoute`, `GRPCRoute`, `TLSRoute`
//!   `spec.hostnames[]`. A listener without hostname, or a route without
//!   hostnames, matches every host.

use serde_json::Value;

use super::ClaimKind;

/// What stands at one host field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostValue<'a> {
    /// A host as written (not yet parsed or normalised).
    Named(&'a str),
    /// Nothing: the rule, route, listener or default backend takes every host.
    CatchAll(CatchAll),
    /// Something that is not a string (or not a list where one belongs).
    Malformed,
}

/// Which kind of catch-all, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchAll {
    IngressRule,
    DefaultBackend,
    Route,
    Listener,
}

/// One host field of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostField<'a> {
    /// Dotted path, e.g. `spec.rules[0].host`.
    pub path: String,
    pub value: HostValue<'a>,
    /// Whether the host goes into the claims index (TLS hosts too: a
    /// certificate served for a host is a claim on its traffic).
    pub claims: bool,
}

fn field(path: String, value: HostValue<'_>) -> HostField<'_> {
    HostField {
        path,
        value,
        claims: true,
    }
}

/// A string that may be absent, null or empty (then `none`).
fn host_at<'a>(v: Option<&'a Value>, none: HostValue<'a>) -> HostValue<'a> {
    match v {
        None | Some(Value::Null) => none,
        Some(Value::String(s)) if s.is_empty() => none,
        Some(Value::String(s)) => HostValue::Named(s),
        Some(_) => HostValue::Malformed,
    }
}

/// Every host field of `obj`, or None when the kind keeps no hosts.
pub fn host_fields<'a>(group: &str, kind: &str, obj: &'a Value) -> Option<Vec<HostField<'a>>> {
    let kind = ClaimKind::of(group, kind)?;
    let spec = obj.get("spec");
    let mut out = Vec::new();
    match kind {
        ClaimKind::Ingress => {
            ingress(spec, &mut out);
            server_aliases(obj, &mut out);
        }
        ClaimKind::Gateway => gateway(spec, &mut out),
        ClaimKind::HttpRoute | ClaimKind::GrpcRoute | ClaimKind::TlsRoute => route(spec, &mut out),
    }
    Some(out)
}

/// A list field: absent or null is empty; anything but a list is malformed.
fn list<'a>(
    parent: Option<&'a Value>,
    key: &str,
    path: &str,
    out: &mut Vec<HostField<'a>>,
) -> &'a [Value] {
    match parent.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            out.push(field(path.to_string(), HostValue::Malformed));
            &[]
        }
    }
}

fn ingress<'a>(spec: Option<&'a Value>, out: &mut Vec<HostField<'a>>) {
    for (i, rule) in list(spec, "rules", "spec.rules", out).iter().enumerate() {
        out.push(field(
            format!("spec.rules[{i}].host"),
            host_at(rule.get("host"), HostValue::CatchAll(CatchAll::IngressRule)),
        ));
    }
    for (i, tls) in list(spec, "tls", "spec.tls", out).iter().enumerate() {
        let path = format!("spec.tls[{i}].hosts");
        for (j, h) in list(Some(tls), "hosts", &path, out).iter().enumerate() {
            match h {
                Value::String(s) if !s.is_empty() => {
                    out.push(field(format!("{path}[{j}]"), HostValue::Named(s)))
                }
                // An empty entry names no host; it claims nothing.
                Value::String(_) => {}
                _ => out.push(field(format!("{path}[{j}]"), HostValue::Malformed)),
            }
        }
    }
    // `backend` is the v1beta1 name; the apiserver converts, a file may not.
    for key in ["defaultBackend", "backend"] {
        if spec.and_then(|s| s.get(key)).is_some_and(|b| !b.is_null()) {
            out.push(field(
                format!("spec.{key}"),
                HostValue::CatchAll(CatchAll::DefaultBackend),
            ));
        }
    }
}

/// The annotation (after its prefix) whose value ingress-nginx serves as
/// more hosts of the Ingress.
const SERVER_ALIAS: &str = "server-alias";

/// The names of ingress-nginx `server-alias` annotations, read as the
/// controller reads them: split at commas, each trimmed, empty ones
/// skipped. The key is matched exactly (the controller looks it up so).
fn server_aliases<'a>(obj: &'a Value, out: &mut Vec<HostField<'a>>) {
    let Some(annotations) = obj
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for (key, value) in annotations {
        if key.rsplit('/').next() != Some(SERVER_ALIAS) {
            continue;
        }
        let path = format!("metadata.annotations.{key}");
        let Value::String(names) = value else {
            out.push(field(path, HostValue::Malformed));
            continue;
        };
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            out.push(field(path.clone(), HostValue::Named(name)));
        }
    }
}

fn gateway<'a>(spec: Option<&'a Value>, out: &mut Vec<HostField<'a>>) {
    for (i, l) in list(spec, "listeners", "spec.listeners", out)
        .iter()
        .enumerate()
    {
        out.push(HostField {
            path: format!("spec.listeners[{i}].hostname"),
            value: host_at(l.get("hostname"), HostValue::CatchAll(CatchAll::Listener)),
            // A listener filters which routes attach; the routes claim.
            claims: false,
        });
    }
}

fn route<'a>(spec: Option<&'a Value>, out: &mut Vec<HostField<'a>>) {
    let names = list(spec, "hostnames", "spec.hostnames", out);
    let malformed = out.iter().any(|f| f.value == HostValue::Malformed);
    if names.is_empty() && !malformed {
        out.push(field(
            "spec.hostnames".to_string(),
            HostValue::CatchAll(CatchAll::Route),
        ));
    }
    for (i, h) in names.iter().enumerate() {
        out.push(field(
            format!("spec.hostnames[{i}]"),
            match h {
                Value::String(s) => HostValue::Named(s),
                _ => HostValue::Malformed,
            },
        ));
    }
}
