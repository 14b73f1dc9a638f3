//! Hostnames as Ingresses and Gateway API routes claim them: parsing and
//! normalisation, wildcard matching, overlap of two claims, where an object
//! keeps its hosts, and [`HostClaims`], the index of who claims what.
//!
//! The one owner of "hostname matching" (STYLE): tenant patterns, the
//! `ingress-hosts` rule and the claim caches all come here. Bottom layer:
//! knows nothing of tenants, policies or the engine.
//!
//! Semantics (DESIGN, "Hostnames"): hosts compare case-insensitively without
//! a trailing dot; `*.acme.example` covers exactly one more label
//! (`a.acme.example`, not `acme.example` nor `a.b.acme.example`), as
//! Ingress wildcards do
//! (<https://kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards>,
//! <https://gateway-api.sigs.k8s.io/reference/spec/#hostname>).

mod claims;
mod domains;
mod fields;

use std::fmt;

pub use claims::{hosts_in, hosts_of, ClaimKind, ClaimRef, HostClaims, GATEWAY_GROUP};
pub use domains::{is_at_or_below, suffixes, Domains};
pub use fields::{host_fields, CatchAll, HostField, HostValue};

/// The longest DNS name (RFC 1123).
const MAX_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// A normalised host or host pattern: lowercase, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// One name, e.g. `shop.acme.example`.
    Exact(String),
    /// `*.<suffix>`: every name one label below the suffix (the suffix is
    /// stored without `*.`).
    Wildcard(String),
}

/// Why a string is not a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    Empty,
    /// `*` anywhere but as the whole first label, or `*` alone.
    MisplacedWildcard,
    /// A label that is empty, too long, or has characters outside `a-z0-9-`
    /// or a leading/trailing `-`.
    BadLabel(String),
    TooLong,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => f.write_str("it is empty"),
            HostError::MisplacedWildcard => f.write_str(
                "`*` may only stand alone as the first label of a name with at least one more label (*.acme.example)",
            ),
            HostError::BadLabel(l) => write!(
                f,
                "label {l:?} is not a DNS label (1-63 of a-z, 0-9 and -, not starting or ending with -)"
            ),
            HostError::TooLong => write!(f, "it is longer than {MAX_NAME} characters"),
        }
    }
}

/// Lowercase, one trailing dot dropped: the form hosts compare in.
pub fn normalize(s: &str) -> String {
    let s = s.strip_suffix('.').unwrap_or(s);
    s.to_ascii_lowercase()
}

fn check_label(label: &str) -> Result<(), HostError> {
    let ok = !label.is_empty()
        && label.len() <= MAX_LABEL
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(HostError::BadLabel(label.to_string()))
    }
}

fn check_name(name: &str) -> Result<(), HostError> {
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > MAX_NAME {
        return Err(HostError::TooLong);
    }
    for label in name.split('.') {
        if label.contains('*') {
            return Err(HostError::MisplacedWildcard);
        }
        check_label(label)?;
    }
    Ok(())
}

impl Host {
    /// Parses and normalises a host or pattern (`*.x` or a name).
    pub fn parse(s: &str) -> Result<Host, HostError> {
        let n = normalize(s);
        if n.is_empty() {
            return Err(HostError::Empty);
        }
        match n.strip_prefix("*.") {
            Some(suffix) => {
                check_name(suffix)?;
                if n.len() > MAX_NAME {
                    return Err(HostError::TooLong);
                }
                Ok(Host::Wildcard(suffix.to_string()))
            }
            None => {
                check_name(&n)?;
                Ok(Host::Exact(n))
            }
        }
    }

    /// The name a host or pattern is written on: the name itself, or a
    /// wildcard's suffix. As a pattern handed to a tenant it is the root of
    /// the tenant's domain (see [`Domains`]).
    pub fn name(&self) -> &str {
        match self {
            Host::Exact(h) | Host::Wildcard(h) => h,
        }
    }

    /// Whether this host, as an object requests it, reaches into the domain
    /// rooted at `root` (`root` and every name below it): a name at or
    /// below the root; a wildcard whose suffix is at or below the root, or
    /// strictly above it (`*.example` reaches into `acme.example`'s domain:
    /// it covers `acme.example` itself, and controllers such as
    /// ingress-nginx let a wildcard serve names more than one label down).
    pub fn reaches_domain(&self, root: &str) -> bool {
        match self {
            Host::Exact(h) => is_at_or_below(h, root),
            Host::Wildcard(s) => is_at_or_below(s, root) || is_at_or_below(root, s),
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, Host::Wildcard(_))
    }

    /// The name one label up: for an exact host the wildcard suffix that
    /// would cover it (`a.b.c` → `b.c`); for a wildcard its suffix.
    pub fn parent(&self) -> Option<&str> {
        match self {
            Host::Exact(h) => h.split_once('.').map(|(_, p)| p),
            Host::Wildcard(s) => Some(s),
        }
    }

    /// Whether the two claims can receive the same request: equal names,
    /// a wildcard and a name exactly one label below its suffix, or two
    /// wildcards of the same suffix (`*.x` and `*.a.x` share no name).
    pub fn overlaps(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Exact(a), Host::Exact(b)) => a == b,
            (Host::Wildcard(s), e @ Host::Exact(_)) | (e @ Host::Exact(_), Host::Wildcard(s)) => {
                e.parent() == Some(s.as_str())
            }
            (Host::Wildcard(a), Host::Wildcard(b)) => a == b,
        }
    }

    /// Whether a pattern (this) allows `host`: an exact pattern only that
    /// name; a wildcard pattern every name one label below it, and the same
    /// wildcard (which claims only such names). A narrower wildcard
    /// (`*.a.acme.example` under `*.acme.example`) claims names two labels
    /// down, which the pattern does not cover.
    pub fn allows(&self, host: &Host) -> bool {
        match (self, host) {
            (Host::Exact(p), Host::Exact(h)) => p == h,
            (Host::Wildcard(_), Host::Exact(_)) => self.overlaps(host),
            (Host::Wildcard(p), Host::Wildcard(h)) => p == h,
            (Host::Exact(_), Host::Wildcard(_)) => false,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Exact(h) => f.write_str(h),
            Host::Wildcard(s) => write!(f, "*.{s}"),
        }
    }
}

/// Whether any of `patterns` allows `host` (patterns that do not parse allow nothing).
pub fn pattern_allows<S: AsRef<str>>(patterns: &[S], host: &Host) -> bool {
    patterns
        .iter()
        .filter_map(|p| Host::parse(p.as_ref()).ok())
        .any(|p| p.allows(host))
}

#[cfg(test)]
mod tests;
