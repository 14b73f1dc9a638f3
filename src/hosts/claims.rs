//! [`HostClaims`]: which objects claim which hosts, indexed so that finding
//! the claims that overlap one host costs a few hash lookups however many
//! hosts are claimed: the host itself, the wildcard of its parent (for a
//! name), and the names directly under its suffix (for a wildcard; these
//! are real overlaps, so the work is bounded by what is found).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use super::{host_fields, Host, HostValue};

/// The kinds that keep hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClaimKind {
    Ingress,
    Gateway,
    HttpRoute,
    GrpcRoute,
    TlsRoute,
}

/// The Gateway API group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

impl ClaimKind {
    pub const ALL: [ClaimKind; 5] = [
        ClaimKind::Ingress,
        ClaimKind::Gateway,
        ClaimKind::HttpRoute,
        ClaimKind::GrpcRoute,
        ClaimKind::TlsRoute,
    ];

    /// The kind of a group and kind, if it keeps hosts.
    pub fn of(group: &str, kind: &str) -> Option<ClaimKind> {
        match (group, kind) {
            ("networking.k8s.io", "Ingress") => Some(ClaimKind::Ingress),
            (GATEWAY_GROUP, "Gateway") => Some(ClaimKind::Gateway),
            (GATEWAY_GROUP, "HTTPRoute") => Some(ClaimKind::HttpRoute),
            (GATEWAY_GROUP, "GRPCRoute") => Some(ClaimKind::GrpcRoute),
            (GATEWAY_GROUP, "TLSRoute") => Some(ClaimKind::TlsRoute),
            _ => None,
        }
    }

    /// The kind of an object from its `apiVersion` and `kind`.
    pub fn of_object(obj: &Value) -> Option<ClaimKind> {
        let api = obj.get("apiVersion")?.as_str()?;
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        ClaimKind::of(group, obj.get("kind")?.as_str()?)
    }

    /// The API group objects of this kind are served under.
    pub fn group(self) -> &'static str {
        match self {
            ClaimKind::Ingress => "networking.k8s.io",
            _ => GATEWAY_GROUP,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Ingress => "Ingress",
            ClaimKind::Gateway => "Gateway",
            ClaimKind::HttpRoute => "HTTPRoute",
            ClaimKind::GrpcRoute => "GRPCRoute",
            ClaimKind::TlsRoute => "TLSRoute",
        }
    }

    /// Whether objects of this kind claim their hosts. A Gateway listener's
    /// hostname only filters which routes may attach: a platform Gateway
    /// for `*.apps.example.com` must not block every tenant's route under it.
    pub fn claims(self) -> bool {
        self != ClaimKind::Gateway
    }
}

/// The object behind a claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimRef {
    pub namespace: String,
    pub kind: ClaimKind,
    pub name: String,
}

impl ClaimRef {
    pub fn new(namespace: &str, kind: ClaimKind, name: &str) -> Self {
        ClaimRef {
            namespace: namespace.to_string(),
            kind,
            name: name.to_string(),
        }
    }

    /// The claim of `obj` as `hosts_of` reads it: None for kinds that
    /// claim nothing and objects without a name.
    pub fn of_object(obj: &Value) -> Option<ClaimRef> {
        let kind = ClaimKind::of_object(obj).filter(|k| k.claims())?;
        let meta = obj.get("metadata")?;
        let name = meta.get("name")?.as_str().filter(|n| !n.is_empty())?;
        let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        Some(ClaimRef::new(namespace, kind, name))
    }
}

impl fmt::Display for ClaimRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// The hosts an object claims: its named hosts that parse, deduplicated.
/// Catch-alls and unreadable hosts claim nothing (the rule denies them).
pub fn hosts_of(obj: &Value) -> Vec<Host> {
    ClaimKind::of_object(obj).map_or_else(Vec::new, |k| hosts_in(k, obj))
}

/// [`hosts_of`] an object known to be of `kind` (list items of a watch may
/// carry no `apiVersion` or `kind`).
pub fn hosts_in(kind: ClaimKind, obj: &Value) -> Vec<Host> {
    if !kind.claims() {
        return Vec::new();
    }
    let mut hosts: Vec<Host> = host_fields(kind.group(), kind.as_str(), obj)
        .into_iter()
        .flatten()
        .filter(|f| f.claims)
        .filter_map(|f| match f.value {
            HostValue::Named(h) => Host::parse(h).ok(),
            _ => None,
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Who claims which host.
#[derive(Debug, Clone, Default)]
pub struct HostClaims {
    by_host: HashMap<Host, Vec<ClaimRef>>,
    /// Claimed names by their parent, so a wildcard finds the names it covers.
    children: HashMap<String, HashSet<String>>,
    by_object: HashMap<ClaimRef, Vec<Host>>,
}

impl HostClaims {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many distinct hosts are claimed.
    pub fn len(&self) -> usize {
        self.by_host.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_host.is_empty()
    }

    /// How many objects claim something.
    pub fn objects(&self) -> usize {
        self.by_object.len()
    }

    /// Records what `obj` claims now, replacing what it claimed before.
    pub fn set(&mut self, obj: ClaimRef, hosts: Vec<Host>) {
        self.remove(&obj);
        if hosts.is_empty() {
            return;
        }
        for h in &hosts {
            if let Host::Exact(name) = h {
                if let Some(parent) = h.parent() {
                    self.children
                        .entry(parent.to_string())
                        .or_default()
                        .insert(name.clone());
                }
            }
            self.by_host.entry(h.clone()).or_default().push(obj.clone());
        }
        self.by_object.insert(obj, hosts);
    }

    /// Forgets everything `obj` claimed.
    pub fn remove(&mut self, obj: &ClaimRef) {
        let Some(hosts) = self.by_object.remove(obj) else {
            return;
        };
        for h in hosts {
            let Some(claimers) = self.by_host.get_mut(&h) else {
                continue;
            };
            claimers.retain(|c| c != obj);
            if !claimers.is_empty() {
                continue;
            }
            self.by_host.remove(&h);
            if let (Host::Exact(name), Some(parent)) = (&h, h.parent()) {
                if let Some(set) = self.children.get_mut(parent) {
                    set.remove(name);
                    if set.is_empty() {
                        self.children.remove(parent);
                    }
                }
            }
        }
    }

    /// Records an Ingress or route (JSON) with its namespace; false when it
    /// claims nothing (another kind, or no name).
    pub fn absorb(&mut self, obj: &Value) -> bool {
        let Some(claim) = ClaimRef::of_object(obj) else {
            return false;
        };
        self.set(claim, hosts_of(obj));
        true
    }

    /// Adds every claim of `other` (its objects replace the same objects here).
    pub fn merge(&mut self, other: &HostClaims) {
        for (obj, hosts) in &other.by_object {
            self.set(obj.clone(), hosts.clone());
        }
    }

    /// Every object of `kind` that claims something.
    pub fn refs(&self, kind: ClaimKind) -> Vec<ClaimRef> {
        self.by_object
            .keys()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect()
    }

    /// The hosts `obj` claims.
    pub fn claimed_by(&self, obj: &ClaimRef) -> &[Host] {
        self.by_object.get(obj).map_or(&[], Vec::as_slice)
    }

    /// Every claim that overlaps `host`, with the host it claims.
    pub fn overlapping<'a>(&'a self, host: &Host) -> Vec<(&'a Host, &'a ClaimRef)> {
        let mut keys: Vec<Host> = vec![host.clone()];
        match host {
            Host::Exact(_) => {
                if let Some(p) = host.parent() {
                    keys.push(Host::Wildcard(p.to_string()));
                }
            }
            Host::Wildcard(suffix) => {
                keys.extend(
                    self.children
                        .get(suffix)
                        .into_iter()
                        .flatten()
                        .map(|n| Host::Exact(n.clone())),
                );
            }
        }
        let mut out = Vec::new();
        for k in keys {
            if let Some((h, claimers)) = self.by_host.get_key_value(&k) {
                out.extend(claimers.iter().map(|c| (h, c)));
            }
        }
        out
    }
}
