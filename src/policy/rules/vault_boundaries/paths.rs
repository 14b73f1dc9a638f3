//! Vault paths as the Vault Agent reads them, and whether one lies inside a
//! tenant's secrets path.
//!
//! A path travels to Vault in two ways, and tenantguard models both:
//!
//! - **Read as a URL** ([`Decoding::Once`]): consul-template (the Agent's
//!   template engine) parses the path of a `secret "<path>"` read and of
//!   `pkiCert` with Go's `url.Parse`, so `%`-escapes of any character, in
//!   either case, are decoded once and a `?…` or `#…` suffix is split off as
//!   query or fragment. The Injector's template for an `agent-inject-secret-*`
//!   annotation is such a read. tenantguard assumes an Agent whose
//!   consul-template does this (it came with KV v2 `?version=` support; an
//!   older one would send an escaped path literally, a name Vault does not
//!   decode).
//! - **Passed on as written** ([`Decoding::Never`]): the `secrets` list and
//!   the write form `secret "<path>" "k=v"` hand the text to the Vault client
//!   unparsed.
//!
//! The Vault client then joins `/v1/` and the path with Go's `path.Join`,
//! which drops empty and `.` segments and resolves `..`, and sends it
//! escaped, so the server sees exactly that text: a `%` left after the one
//! decoding is a literal `%`, never decoded again.
//!
//! What tenantguard decides, and why:
//! - it judges the once-decoded path, segment by segment after `.`/`..` are
//!   resolved (a leading `/`, empty and `.` segments are harmless);
//! - an invalid escape (`%zz`, a truncated `%4`) is rejected: `url.Parse`
//!   refuses it, and tenantguard does not admit what it cannot read;
//! - `?` and `#`, written or decoded from `%3F`/`%23`, are rejected even in
//!   the tenant's own path: they make the read path a prefix of the text
//!   (`…/globex/db?x=/../../acme`);
//! - a `%` left after one decoding (double encoding, `%252e`) is rejected:
//!   Vault would read a literal `%`, but any further decoder on the way (a
//!   proxy, another client) would read something else, and no real path
//!   needs it;
//! - in a path passed on as written, any `%` is rejected: Vault reads it
//!   literally while tenantguard's judgement is of the decoded path;
//! - characters no Vault path needs and that would change the template
//!   around it (quotes, backslash, braces, control characters) are rejected
//!   wherever they come from;
//! - a `..` that climbs above the root is rejected (`path.Join` would step
//!   out of `/v1/` into other API roots).
//!
//! Surrounding spaces are not trimmed (consul-template trims them before it
//! decodes): a path with a leading space is judged as written and falls
//! outside, which only ever refuses, never admits, more than the Agent reads.

use std::fmt;

/// How the Agent hands a path to Vault (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Parsed as a URL: `%`-escapes decoded once.
    Once,
    /// Passed on as written: a `%` reaches Vault literally.
    Never,
}

/// Why a path is not the tenant's, typed so callers branch on it and the
/// message is made at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits (the text from `%` on, at most 3 characters).
    InvalidEscape(String),
    /// `?` or `#`, written or decoded from an escape.
    QueryOrFragment { c: char, escaped: bool },
    /// A `%` left after one decoding.
    DoubleEncoded,
    /// A `%` in a path the Agent passes on without decoding.
    NotDecoded,
    /// The escapes decode to bytes that are not UTF-8.
    NotUtf8,
    /// A character no Vault path needs.
    Forbidden(char),
    /// A `..` climbs above the root.
    AboveRoot,
    /// Outside the secrets path.
    Outside,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::InvalidEscape(e) => write!(
                f,
                "has an invalid %-escape {e:?} (a % must be followed by two hex digits, e.g. %2F)"
            ),
            PathError::QueryOrFragment { c, escaped } => write!(
                f,
                "contains {c:?}{}, which the Vault Agent reads as the start of a URL {}, so the path read is not the path written",
                if *escaped { " (decoded from a %-escape)" } else { "" },
                if *c == '?' { "query" } else { "fragment" }
            ),
            PathError::DoubleEncoded => f.write_str(
                "still contains '%' after its %-escapes are decoded once (double encoding), which tenantguard cannot judge with certainty",
            ),
            PathError::NotDecoded => f.write_str(
                "contains '%', but this call passes its path to Vault without decoding %-escapes, so Vault would not read the path tenantguard judges",
            ),
            PathError::NotUtf8 => f.write_str("has %-escapes that do not decode to UTF-8 text"),
            PathError::Forbidden(c) => write!(
                f,
                "contains {c:?}, which no Vault path needs and which could change the Vault Agent template around it"
            ),
            PathError::AboveRoot => f.write_str("climbs above the root of Vault with '..'"),
            PathError::Outside => f.write_str("is outside"),
        }
    }
}

/// Characters rejected in a path, wherever they come from.
fn forbidden(c: char) -> bool {
    matches!(c, '"' | '`' | '\\' | '{' | '}') || c.is_control()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Decodes `%`-escapes once, as Go's `url.PathUnescape` does.
fn decode_once(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match (
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                let shown: String = raw[i..].chars().take(3).collect();
                return Err(PathError::InvalidEscape(shown));
            }
        }
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8)
}

/// The path's segments after decoding (per `decoding`) and resolving `.` and
/// `..`, with empty segments dropped; or why it cannot be judged.
pub fn segments(raw: &str, decoding: Decoding) -> Result<Vec<String>, PathError> {
    let decoded = match decoding {
        Decoding::Once => decode_once(raw)?,
        Decoding::Never if raw.contains('%') => return Err(PathError::NotDecoded),
        Decoding::Never => raw.to_string(),
    };
    if let Some(c) = decoded.chars().find(|c| matches!(c, '?' | '#')) {
        return Err(PathError::QueryOrFragment {
            c,
            escaped: !raw.contains(c),
        });
    }
    if decoded.contains('%') {
        return Err(PathError::DoubleEncoded);
    }
    if let Some(c) = decoded.chars().find(|&c| forbidden(c)) {
        return Err(PathError::Forbidden(c));
    }
    let mut out: Vec<String> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop().ok_or(PathError::AboveRoot)?;
            }
            s => out.push(s.to_string()),
        }
    }
    Ok(out)
}

/// The segments of a secrets path from configuration: written by the
/// platform, taken literally (no decoding), `.`/`..` resolved.
fn base_segments(base: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for seg in base.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out)
}

/// Whether the Agent, reading `raw` with `decoding`, reads inside `base` at a
/// segment boundary (`tenants/acme` contains `tenants/acme/db` and itself,
/// not `tenants/acme-evil`). A base with no segments contains nothing: an
/// empty secrets path must not open the whole of Vault.
pub fn judge(raw: &str, base: &str, decoding: Decoding) -> Result<(), PathError> {
    let path = segments(raw, decoding)?;
    match base_segments(base) {
        Some(b)
            if !b.is_empty()
                && path.len() >= b.len()
                && path.iter().zip(&b).all(|(p, b)| p == b) =>
        {
            Ok(())
        }
        _ => Err(PathError::Outside),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Decoding::{Never, Once};
    use PathError::*;

    const BASE: &str = "secret/data/customers/acme";

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let qf = |c, escaped| QueryOrFragment { c, escaped };
        let cases: Vec<(&str, &str, Decoding, Result<(), PathError>)> = vec![
            // clean neighbours
            ("own path", "secret/data/customers/acme/db", Once, Ok(())),
            ("the secrets path itself", "secret/data/customers/acme", Once, Ok(())),
            ("doubled slashes", "secret/data/customers//acme//db", Once, Ok(())),
            ("leading and trailing slash", "/secret/data/customers/acme/db/", Once, Ok(())),
            (". segments", "./secret/./data/customers/acme/./db", Once, Ok(())),
            (".. that stays inside", "secret/data/customers/acme/x/../db", Once, Ok(())),
            ("escaped letters of the own path", "secret/data/customers/%61cme/%64b", Once, Ok(())),
            ("escaped slash of the own path", "secret%2Fdata%2fcustomers%2Facme%2Fdb", Once, Ok(())),
            ("escaped dots that stay inside", "secret/data/customers/acme/x/%2e%2E/db", Once, Ok(())),
            ("escaped non-ASCII letter", "secret/data/customers/acme/%C3%A9t%C3%A9", Once, Ok(())),
            ("a dot inside a name", "secret/data/customers/acme/db.json", Once, Ok(())),
            ("a literal path passed on as written", "secret/data/customers/acme/db", Never, Ok(())),
            // traversal, decoded
            ("escaped dots climbing out", "secret/data/customers/acme/%2e%2e/%2e%2e/tenants/globex/db", Once, Err(Outside)),
            ("upper-case escaped dots", "secret/data/customers/acme/%2E%2E/globex/db", Once, Err(Outside)),
            ("mixed-case escaped dots", "secret/data/customers/acme/%2E%2e/globex/db", Once, Err(Outside)),
            ("one dot escaped", "secret/data/customers/acme/.%2e/globex/db", Once, Err(Outside)),
            ("escaped slash hiding ..", "secret/data/customers/acme%2F..%2Fglobex/db", Once, Err(Outside)),
            ("escaped slash and dots", "secret/data/customers/acme%2f%2e%2e%2fglobex", Once, Err(Outside)),
            ("plain .. climbing out", "secret/data/customers/acme/../globex/db", Once, Err(Outside)),
            ("a sibling sharing the prefix", "secret/data/customers/acme-evil/db", Once, Err(Outside)),
            ("escaped sibling", "secret/data/customers/acme%2Devil/db", Once, Err(Outside)),
            ("the parent", "secret/data/customers", Once, Err(Outside)),
            ("empty", "", Once, Err(Outside)),
            ("above the root", "../secret/data/customers/acme/db", Once, Err(AboveRoot)),
            ("escaped above the root", "%2e%2e/%2E%2E/sys/raw", Once, Err(AboveRoot)),
            // query and fragment, even on the own path
            ("a query on the own path", "secret/data/customers/acme/db?version=2", Once, Err(qf('?', false))),
            ("a query hiding the real path", "secret/data/customers/globex/db?x=/../../acme/db", Once, Err(qf('?', false))),
            ("a fragment", "secret/data/customers/acme/db#frag", Once, Err(qf('#', false))),
            ("an escaped query", "secret/data/customers/acme/db%3Fversion=2", Once, Err(qf('?', true))),
            ("an escaped lower-case query", "secret/data/customers/acme/db%3fx", Once, Err(qf('?', true))),
            ("an escaped fragment", "secret/data/customers/globex/db%23/../../acme", Once, Err(qf('#', true))),
            ("a query in a path passed on as written", "secret/data/customers/acme/db?x", Never, Err(qf('?', false))),
            // escapes that cannot be judged
            ("invalid escape", "secret/data/customers/acme/%zz", Once, Err(InvalidEscape("%zz".into()))),
            ("truncated escape", "secret/data/customers/acme/%4", Once, Err(InvalidEscape("%4".into()))),
            ("a lone % at the end", "secret/data/customers/acme/db%", Once, Err(InvalidEscape("%".into()))),
            ("double-encoded dots", "secret/data/customers/acme/%252e%252e/globex", Once, Err(DoubleEncoded)),
            ("double-encoded own letter", "secret/data/customers/%2561cme/db", Once, Err(DoubleEncoded)),
            ("escapes that are not UTF-8", "secret/data/customers/acme/%ff", Once, Err(NotUtf8)),
            ("an escape passed on as written", "secret/data/customers/acme/%64b", Never, Err(NotDecoded)),
            ("escaped dots passed on as written", "secret/data/customers/globex/%2e%2e/acme", Never, Err(NotDecoded)),
            // characters that would change the template
            ("a quote", "secret/data/customers/acme/x\"", Once, Err(Forbidden('"'))),
            ("an escaped quote", "secret/data/customers/acme/x%22", Once, Err(Forbidden('"'))),
            ("a brace", "secret/data/customers/acme/{{x", Once, Err(Forbidden('{'))),
            ("a backslash", "secret/data/customers/acme\\..\\globex", Once, Err(Forbidden('\\'))),
            ("a newline", "secret/data/customers/acme/x\n", Once, Err(Forbidden('\n'))),
            ("an escaped NUL", "secret/data/customers/acme/x%00", Once, Err(Forbidden('\0'))),
        ];
        for (name, path, decoding, want) in cases {
            assert_eq!(judge(path, BASE, decoding), want, "{name}: {path:?}");
        }
    }

    #[test]
    fn bases() {
        let cases = [
            ("tenants/acme/db", "tenants/acme", true),
            ("tenants/acme", "/tenants/acme/", true),
            ("tenants/acme-evil", "tenants/acme", false),
            ("tenants/acm", "tenants/acme", false),
            ("tenants/acme/../acme/db", "tenants/acme", true),
            ("tenants/acme/db", "", false),
            ("tenants/acme/db", "/", false),
            ("tenants/acme/db", "tenants/../..", false),
        ];
        for (path, base, want) in cases {
            assert_eq!(judge(path, base, Once).is_ok(), want, "{path} in {base}");
        }
    }

    #[test]
    fn messages_name_the_escape() {
        let m = judge("a/%zz", BASE, Once).unwrap_err().to_string();
        assert_eq!(
            m,
            "has an invalid %-escape \"%zz\" (a % must be followed by two hex digits, e.g. %2F)"
        );
        let m = judge("a%3Fb", BASE, Once).unwrap_err().to_string();
        assert!(
            m.contains("'?' (decoded from a %-escape)") && m.contains("query"),
            "{m}"
        );
    }

    /// Percent-encodes the characters of `path` chosen by `mask` (every byte
    /// of a character, in upper or lower case), as an attacker or an
    /// over-eager client would.
    fn encode(path: &str, mask: &[bool], upper: bool) -> String {
        let mut out = String::new();
        for (i, c) in path.chars().enumerate() {
            if mask.get(i).copied().unwrap_or(false) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&if upper {
                        format!("%{b:02X}")
                    } else {
                        format!("%{b:02x}")
                    });
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Paths built from segments that stress the judge: the base's own
    /// names, a sibling, dots, empties, and characters that must be refused.
    fn path_strategy() -> impl Strategy<Value = String> {
        let seg = prop_oneof![
            Just("secret".to_string()),
            Just("data".to_string()),
            Just("customers".to_string()),
            Just("acme".to_string()),
            Just("acme-evil".to_string()),
            Just("globex".to_string()),
            Just("..".to_string()),
            Just(".".to_string()),
            Just(String::new()),
            "[a-zé0-9._ -]{1,6}",
            "[?#\"{}\\\\]",
        ];
        proptest::collection::vec(seg, 0..9).prop_map(|s| s.join("/"))
    }

    /// The judge's verdict from first principles: split on '/', resolve the
    /// dots, compare segment by segment.
    fn reference_inside(path: &str) -> bool {
        let mut out: Vec<&str> = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if out.pop().is_none() {
                        return false;
                    }
                }
                s => out.push(s),
            }
        }
        out.starts_with(&["secret", "data", "customers", "acme"])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A path with no character to refuse is admitted exactly when it
        /// normalises inside the secrets path.
        #[test]
        fn admitted_exactly_when_it_normalises_inside(path in path_strategy()) {
            let clean = !path.chars().any(|c| matches!(c, '?' | '#') || forbidden(c));
            let verdict = judge(&path, BASE, Once);
            if clean {
                prop_assert_eq!(verdict.is_ok(), reference_inside(&path), "{:?}: {:?}", path, verdict);
            } else {
                prop_assert!(verdict.is_err(), "{:?} admitted", path);
            }
        }

        /// Percent-encoding any characters, in either case, never changes
        /// the verdict, except that an encoded '?' or '#' is refused.
        #[test]
        fn encoding_never_changes_the_verdict(
            path in path_strategy(),
            mask in proptest::collection::vec(any::<bool>(), 0..64),
            upper in any::<bool>(),
        ) {
            let encoded = encode(&path, &mask, upper);
            let plain = judge(&path, BASE, Once);
            let escaped = judge(&encoded, BASE, Once);
            match (&plain, &escaped) {
                (Err(QueryOrFragment { c, .. }), Err(QueryOrFragment { c: c2, .. })) => prop_assert_eq!(c, c2),
                _ => prop_assert_eq!(&plain, &escaped, "{:?} vs {:?}", path, encoded),
            }
        }

        /// Arbitrary text never panics, and what is admitted never holds a
        /// query, a fragment or a residual '%' once decoded.
        #[test]
        fn arbitrary_text(raw in "\\PC{0,40}|[%0-9a-fA-F/.?#]{0,40}") {
            if judge(&raw, BASE, Once).is_ok() {
                let decoded = decode_once(&raw).unwrap_or_default();
                prop_assert!(!decoded.contains(['?', '#', '%']), "{:?}", raw);
            }
            let _ = judge(&raw, BASE, Never);
        }
    }
}
