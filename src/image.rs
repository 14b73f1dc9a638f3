//! Container image references, read the way the kubelet's runtimes read them
//! (Docker's reference grammar and normalization, shared by containerd and
//! CRI-O), and registry prefixes matched against them. The one owner of
//! image reference normalization: nothing else splits an image string.
//!
//! - A first path segment is a registry host when it contains `.` or `:`,
//!   is `localhost`, or has an uppercase letter (Docker's rule); otherwise
//!   the host is `docker.io` (`index.docker.io` is the same registry), and a
//!   lone name on it is an official image: `nginx` is
//!   `docker.io/library/nginx`, `acme/app` is `docker.io/acme/app`.
//! - Hosts are DNS names and compare case-insensitively (kept lowercase);
//!   repository paths are lowercase in the grammar, so an uppercase path is
//!   not a reference at all ([`ImageError::UppercasePath`]).
//! - Tags and digests are read (a malformed one makes the reference
//!   unreadable) and then ignored: they name a version, not a place.
//!
//! A [`Prefix`] is a registry host, optionally followed by a path prefix,
//! with or without a trailing `/`. It matches whole path segments:
//! `registry.example.com/acme` admits `registry.example.com/acme/app` but not
//! `registry.example.com/acme-evil/app`. Without a host it is on
//! `docker.io` (`acme/tools` is `docker.io/acme/tools`); with one the path
//! is kept as written (`docker.io/bitnami` is the bitnami namespace; official
//! images are `docker.io/library`). A single bare name (`nginx`, `bitnami/`)
//! is refused: as an image it is the official `docker.io/library/nginx`, as
//! a prefix it reads like a namespace, and guessing either way would admit
//! what the platform team did not mean.
//!
//! Reference: <https://github.com/distribution/reference/blob/main/reference.go>
//! (the grammar), <https://kubernetes.io/docs/concepts/containers/images/#image-names>.

use std::fmt;

/// Docker Hub, where references without a host point.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's legacy name, the same registry.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The Docker Hub namespace of official images.
const OFFICIAL: &str = "library";
/// Most characters of a repository name (host and path), as in Docker.
const MAX_NAME: usize = 255;

/// Why a string is not an image reference (or not a registry prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    Empty,
    /// The host part is not a DNS name or `[IPv6]`, with an optional `:port`.
    BadHost(String),
    /// A path segment has an uppercase letter; Docker paths are lowercase.
    UppercasePath(String),
    /// A path segment is empty or has characters the grammar refuses.
    BadSegment(String),
    BadTag(String),
    BadDigest(String),
    TooLong(usize),
    /// A prefix carries a tag or digest: it names a version, not a place.
    VersionInPrefix,
    /// A prefix that is one bare name (`nginx`, `bitnami/`): an official
    /// image or a Docker Hub namespace? Refused rather than guessed.
    AmbiguousPrefix(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Empty => f.write_str("it is empty"),
            ImageError::BadHost(h) => write!(
                f,
                "{h:?} is not a registry host (a DNS name or [IPv6 address], with an optional :port)"
            ),
            ImageError::UppercasePath(s) => write!(
                f,
                "the repository path segment {s:?} has uppercase letters, and image repository paths are lowercase (only the registry host may have capitals)"
            ),
            ImageError::BadSegment(s) => write!(
                f,
                "the repository path segment {s:?} is not lowercase letters and digits joined by '.', '_', '__' or '-'"
            ),
            ImageError::BadTag(t) => write!(
                f,
                "the tag {t:?} is not 1-128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')"
            ),
            ImageError::BadDigest(d) => write!(
                f,
                "the digest {d:?} is not an algorithm and hex value such as sha256:<64 hex digits>"
            ),
            ImageError::TooLong(n) => write!(
                f,
                "the repository name is {n} characters long, over Docker's {MAX_NAME}"
            ),
            ImageError::VersionInPrefix => f.write_str(
                "a registry prefix names a registry and path, without a tag or digest",
            ),
            ImageError::AmbiguousPrefix(n) => write!(
                f,
                "{n:?} alone could be the official image or a Docker Hub namespace; write docker.io/library/{n} for the official image or docker.io/{n}/ for the namespace"
            ),
        }
    }
}

/// An image reference, normalized: lowercase host and full repository path.
/// Tags and digests are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// Lowercase: what is compared.
    host: String,
    /// As written (Docker's legacy `index.docker.io` made `docker.io`):
    /// what is shown, so that the shown name reads back the same (a host
    /// known as one only by its capitals stays one).
    written_host: String,
    path: String,
}

impl ImageName {
    /// Reads a reference (`nginx:1.27`, `ghcr.io/acme/app@sha256:…`).
    pub fn parse(reference: &str) -> Result<ImageName, ImageError> {
        if reference.is_empty() {
            return Err(ImageError::Empty);
        }
        let (name, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (reference, None),
        };
        if let Some(d) = digest {
            check_digest(d)?;
        }
        let (host, rest) = split_host(name);
        let (repo, tag) = match rest.rsplit_once(':') {
            Some((r, t)) => (r, Some(t)),
            None => (rest, None),
        };
        if let Some(t) = tag {
            check_tag(t)?;
        }
        let len = name.len() - tag.map_or(0, |t| t.len() + 1);
        if len > MAX_NAME {
            return Err(ImageError::TooLong(len));
        }
        let written_host = normalize_host(host)?;
        check_path(repo)?;
        let host = written_host.to_ascii_lowercase();
        let path = if host == DOCKER_HUB && !repo.contains('/') {
            format!("{OFFICIAL}/{repo}")
        } else {
            repo.to_string()
        };
        Ok(ImageName {
            host,
            written_host,
            path,
        })
    }

    /// The registry host, lowercase (`docker.io` for Docker Hub).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The repository path on that host (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.written_host, self.path)
    }
}

/// A registry prefix of an allow-list, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix {
    host: String,
    /// Empty: the whole registry.
    path: String,
}

impl Prefix {
    /// Reads a prefix (`registry.example.com/acme/`, `ghcr.io`, `docker.io/library`).
    pub fn parse(prefix: &str) -> Result<Prefix, ImageError> {
        let p = prefix.strip_suffix('/').unwrap_or(prefix);
        if p.is_empty() {
            return Err(ImageError::Empty);
        }
        if p.contains('@') {
            return Err(ImageError::VersionInPrefix);
        }
        if !p.contains('/') {
            if is_host_segment(p) {
                return Ok(Prefix {
                    host: normalize_host(p)?.to_ascii_lowercase(),
                    path: String::new(),
                });
            }
            return Err(ImageError::AmbiguousPrefix(p.to_string()));
        }
        let (host, path) = split_host(p);
        if path.contains(':') {
            return Err(ImageError::VersionInPrefix);
        }
        if p.len() > MAX_NAME {
            return Err(ImageError::TooLong(p.len()));
        }
        let host = normalize_host(host)?.to_ascii_lowercase();
        check_path(path)?;
        Ok(Prefix {
            host,
            path: path.to_string(),
        })
    }

    /// Whether `image` is on this registry and under this path, segment by segment.
    pub fn admits(&self, image: &ImageName) -> bool {
        image.host == self.host
            && (self.path.is_empty()
                || image
                    .path
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}/", self.host)
        } else {
            write!(f, "{}/{}/", self.host, self.path)
        }
    }
}

/// Docker's test for a first segment that is a registry host.
fn is_host_segment(s: &str) -> bool {
    s.contains(['.', ':']) || s == "localhost" || s.bytes().any(|b| b.is_ascii_uppercase())
}

/// Splits `name` (no digest) into its host and the rest, Docker's way.
fn split_host(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest)) if is_host_segment(first) => (first, rest),
        _ => (DOCKER_HUB, name),
    }
}

/// A host checked; `index.docker.io` (in any case) is `docker.io`.
fn normalize_host(host: &str) -> Result<String, ImageError> {
    let bad = || ImageError::BadHost(host.to_string());
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (None, port)
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    if let Some(n) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !n.split('.').all(label_ok) {
            return Err(bad());
        }
    }
    Ok(if host.eq_ignore_ascii_case(DOCKER_HUB_LEGACY) {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    })
}

/// Path segments: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), ImageError> {
    for seg in path.split('/') {
        if seg_ok(seg) {
            continue;
        }
        if seg.bytes().any(|b| b.is_ascii_uppercase()) && seg_ok(&seg.to_ascii_lowercase()) {
            return Err(ImageError::UppercasePath(seg.to_string()));
        }
        return Err(ImageError::BadSegment(seg.to_string()));
    }
    Ok(())
}

fn seg_ok(seg: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = seg.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run between alphanumerics: ".", "_", "__" or "-"+.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &seg[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn check_tag(tag: &str) -> Result<(), ImageError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(ImageError::BadTag(tag.to_string()))
    }
}

/// `algorithm:encoded`: algorithm components of letters and digits (each
/// starting with a letter) joined by `+._-`, at least 32 hex digits.
fn check_digest(d: &str) -> Result<(), ImageError> {
    let ok = d.split_once(':').is_some_and(|(alg, hex)| {
        alg.split(['+', '.', '_', '-']).all(|c| {
            c.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && c.bytes().all(|b| b.is_ascii_alphanumeric())
        }) && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if ok {
        Ok(())
    } else {
        Err(ImageError::BadDigest(d.to_string()))
    }
}

#[cfg(test)]
mod tests;
