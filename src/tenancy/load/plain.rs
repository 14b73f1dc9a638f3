//! A Namespace document in the plainest YAML, read without a YAML parser:
//! what a generated inventory of 100,000 namespaces is made of, and where
//! a parser spends ~7 µs a document (the file's load was ~80% parsing).
//!
//! The subset, and nothing else (anything outside it returns `None`, and
//! the document goes to the YAML parser, which reads every form):
//!
//! ```yaml
//! apiVersion: v1
//! kind: Namespace
//! metadata:                       # or: metadata: {name: NAME}
//!   name: NAME
//!   labels: {KEY: VALUE, ...}     # or a block of `    KEY: VALUE` lines
//! ```
//!
//! in any order of keys, each at most once, with whole-line comments and
//! blank lines anywhere; indentation exactly two spaces a level. Every key
//! and value is a plain word that YAML can only read as that string: an
//! ASCII letter, then letters, digits, `.`, `_`, `/` or `-`, and not a
//! word YAML gives another meaning (`true`, `null`, `yes`, …). No quotes,
//! tags, anchors, tabs or trailing comments.

use crate::TENANT_LABEL;

/// The name and tenant label (None: a platform namespace) of a Namespace
/// document written in the subset; None for any other document.
pub(super) fn namespace(text: &str) -> Option<(&str, Option<&str>)> {
    let mut lines = text
        .lines()
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .peekable();
    let (mut api, mut kind, mut meta) = (None, None, None);
    while let Some(line) = lines.next() {
        let (key, value) = entry(line)?;
        match key {
            "apiVersion" => set(&mut api, word(value?)?)?,
            "kind" => set(&mut kind, word(value?)?)?,
            "metadata" => {
                let m = match value {
                    Some(flow) => {
                        let mut m = Meta::default();
                        for (k, v) in flow_map(flow)? {
                            match k {
                                "name" => set(&mut m.name, v)?,
                                _ => return None,
                            }
                        }
                        m
                    }
                    None => block_meta(&mut lines)?,
                };
                set(&mut meta, m)?;
            }
            _ => return None,
        }
    }
    if (api?, kind?) != ("v1", "Namespace") {
        return None;
    }
    let meta = meta?;
    Some((meta.name?, meta.tenant.flatten()))
}

#[derive(Default)]
struct Meta<'a> {
    name: Option<&'a str>,
    /// The labels, if given: the tenant label, if among them.
    tenant: Option<Option<&'a str>>,
}

/// Sets a field given at most once.
fn set<T>(field: &mut Option<T>, value: T) -> Option<()> {
    field.is_none().then(|| *field = Some(value))
}

/// The lines indented two spaces under `metadata:`.
fn block_meta<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
) -> Option<Meta<'a>> {
    let mut m = Meta::default();
    while let Some(line) = lines.next_if(|l| l.starts_with(' ')) {
        let (key, value) = entry(line.strip_prefix("  ")?)?;
        match key {
            "name" => set(&mut m.name, word(value?)?)?,
            "labels" => {
                let mut tenant = None;
                let mut keys = Vec::new();
                let mut see = |k: &'a str, v: &'a str| {
                    if keys.contains(&k) {
                        return None;
                    }
                    keys.push(k);
                    if k == TENANT_LABEL {
                        tenant = Some(v);
                    }
                    Some(())
                };
                match value {
                    Some(flow) => {
                        for (k, v) in flow_map(flow)? {
                            see(k, v)?;
                        }
                    }
                    None => {
                        while let Some(l) = lines.next_if(|l| l.starts_with("   ")) {
                            let (k, v) = entry(l.strip_prefix("    ")?)?;
                            see(k, word(v?)?)?;
                        }
                    }
                }
                set(&mut m.tenant, tenant)?;
            }
            _ => return None,
        }
    }
    Some(m)
}

/// `KEY: VALUE` or `KEY:` (a value on the lines below) at column 0 of `line`.
fn entry(line: &str) -> Option<(&str, Option<&str>)> {
    let line = line.trim_end_matches(' ');
    if let Some(key) = line.strip_suffix(':') {
        return Some((word(key)?, None));
    }
    let (key, value) = line.split_once(": ")?;
    Some((word(key)?, Some(value.trim_start_matches(' '))))
}

/// A one-line flow mapping of words, `{KEY: VALUE, ...}`; keys once each.
fn flow_map(text: &str) -> Option<Vec<(&str, &str)>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut out: Vec<(&str, &str)> = Vec::new();
    if inner.trim_matches(' ').is_empty() {
        return Some(out);
    }
    for part in inner.split(',') {
        let (k, v) = part.trim_matches(' ').split_once(": ")?;
        let (k, v) = (word(k)?, word(v.trim_start_matches(' '))?);
        if out.iter().any(|(seen, _)| *seen == k) {
            return None;
        }
        out.push((k, v));
    }
    Some(out)
}

/// Words YAML (1.1 or 1.2) may read as something other than a string.
const NOT_STRINGS: [&str; 9] = ["true", "false", "null", "yes", "no", "on", "off", "y", "n"];

/// A plain scalar that can only be this string (see the module's doc).
fn word(s: &str) -> Option<&str> {
    let plain = s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
        && !NOT_STRINGS.iter().any(|w| s.eq_ignore_ascii_case(w));
    plain.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the YAML parser makes of a Namespace document (the reference).
    fn parsed(text: &str) -> Option<(String, Option<String>)> {
        let v: serde_json::Value = serde_yaml_ng::from_str(text).ok()?;
        if v["apiVersion"] != "v1" || v["kind"] != "Namespace" {
            return None;
        }
        let name = v["metadata"]["name"].as_str()?.to_string();
        let tenant = v["metadata"]["labels"][TENANT_LABEL]
            .as_str()
            .map(str::to_string);
        Some((name, tenant))
    }

    #[test]
    fn the_subset_reads_what_a_parser_reads_and_nothing_else() {
        let read = [
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {tenantguard.io/tenant: acme, kubernetes.io/metadata.name: a}\n",
            "kind: Namespace\napiVersion: v1\nmetadata:\n  labels:\n    team: x\n    tenantguard.io/tenant: acme\n  name: a-1.b\n",
            "# c\n\napiVersion: v1\n  # indented comment\nkind: Namespace\nmetadata: {name: monitoring}\n",
            "apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: a\r\n  labels: {}\r\n",
            "apiVersion:   v1\nkind: Namespace  \nmetadata:\n  name: a\n  labels:\n",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: { team: x ,tenantguard.io/tenant:  Acme_2 }\n",
        ];
        for text in read {
            let got = namespace(text).unwrap_or_else(|| panic!("not read: {text:?}"));
            let got = (got.0.to_string(), got.1.map(str::to_string));
            assert_eq!(Some(got), parsed(text), "{text:?}");
        }
        let ns = |meta: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata:\n{meta}");
        let left = [
            // Other documents.
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n".to_string(),
            "apiVersion: v2\nkind: Namespace\nmetadata: {name: a}\n".into(),
            "apiVersion: v1\nkind: Namespace\n".into(),
            "apiVersion: v1\nmetadata: {name: a}\n".into(),
            "# only a comment\n".into(),
            String::new(),
            // Words YAML reads otherwise, or that need quoting.
            ns("  name: a\n  labels: {tenantguard.io/tenant: true}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: Null}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: 5}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: .inf}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: ~}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: 'acme'}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: \"acme\"}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: [acme]}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: {a: b}}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: acme # c}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: !!str acme}\n"),
            ns("  name: &x a\n"),
            ns("  name: 0123\n"),
            ns("  name: a b\n"),
            ns("  name: a # comment\n"),
            ns("  name:\ta\n"),
            // Layout the subset does not follow.
            ns("  name: a\n    b\n"),
            ns("  name: a\n  labels:\n    tenantguard.io/tenant: acme\n      more\n"),
            ns("  name: a\n  labels:\n      tenantguard.io/tenant: acme\n"),
            ns("  name: a\n  labels:\n    tenantguard.io/tenant:\n"),
            ns("   name: a\n"),
            ns("\tname: a\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: acme,\n    team: x}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: acme,}\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant:acme}\n"),
            ns("  name: a\n  annotations: {x: y}\n"),
            ns("  name: a\n  name: b\n"),
            ns("  name: a\n  labels: {tenantguard.io/tenant: acme, tenantguard.io/tenant: globex}\n"),
            ns("  name: a\n  labels:\n    tenantguard.io/tenant: acme\n    tenantguard.io/tenant: globex\n"),
            ns("  name: a\n  labels: {a: b}\n  labels: {c: d}\n"),
            ns("  name: a\nspec: {finalizers: [kubernetes]}\n"),
            ns("  name: a\nkind: Namespace\n"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {tenantguard.io/tenant: acme}}\n".into(),
            "apiVersion: v1\nkind: Namespace\nmetadata:\n".into(),
            "apiVersion: v1\nkind: Namespace\nmetadata: {}\n".into(),
            "apiVersion : v1\nkind: Namespace\nmetadata: {name: a}\n".into(),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\n".into(),
            "--- \napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n".into(),
        ];
        for text in &left {
            assert_eq!(namespace(text), None, "{text:?}");
        }
    }

    /// Documents put together at random from parts, some in the subset
    /// and some just outside it: whatever the subset reads, a parser reads
    /// the same.
    #[test]
    fn random_documents_agree_with_a_parser() {
        let api = [
            "apiVersion: v1",
            "apiVersion: v1 ",
            "apiVersion: v2",
            "apiVersion: 'v1'",
        ];
        let kind = [
            "kind: Namespace",
            "kind:  Namespace",
            "kind: Namespace # c",
            "kind: namespace",
        ];
        let meta = [
            "metadata:",
            "metadata: {name: m}",
            "metadata: {name: true}",
            "metadata: {name: m, x: y}",
        ];
        let child = [
            "  name: a",
            "  name: b-2.x",
            "  name: No",
            "  name: 'q'",
            "  name:",
            "   name: c",
            "  labels:",
            "  labels: {}",
            "  labels: {tenantguard.io/tenant: acme}",
            "  labels: {team: x, tenantguard.io/tenant: globex}",
            "  labels: {tenantguard.io/tenant: off}",
            "  labels: {tenantguard.io/tenant: ''}",
            "    tenantguard.io/tenant: acme",
            "    tenantguard.io/tenant: initech",
            "    tenantguard.io/tenant: 7",
            "    team: x",
            "    team: 'x'",
            "      deeper: x",
            "  annotations: {a: b}",
            "  labels:\n    team: x\n    tenantguard.io/tenant: acme",
            "  labels:\n    tenantguard.io/tenant: globex\n  # c\n    team: 'x'",
            "  labels:\n\n    tenantguard.io/tenant: initech",
            "  name: n\n  labels: {tenantguard.io/tenant: acme, team: y}",
        ];
        let extra = ["# comment", "", "  # comment", "spec: {}", "..."];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut read, mut tenants) = (0, 0);
        for _ in 0..100_000 {
            let mut top = vec![
                vec![api[next(4) / 3].to_string()],
                vec![kind[next(5) / 4].to_string()],
            ];
            let mut m = vec![meta[next(6) / 3].to_string()];
            for _ in 0..next(5) {
                m.push(child[next(child.len())].to_string());
            }
            top.push(m);
            if next(4) == 0 {
                top.push(vec![extra[next(extra.len())].to_string()]);
            }
            let first = next(top.len());
            top.swap(0, first);
            let text: String = top.concat().iter().map(|l| format!("{l}\n")).collect();
            if let Some((name, tenant)) = namespace(&text) {
                read += 1;
                tenants += usize::from(tenant.is_some());
                let got = (name.to_string(), tenant.map(str::to_string));
                assert_eq!(Some(got), parsed(&text), "{text:?}");
            }
        }
        assert!(
            read > 8_000 && tenants > 150,
            "only {read} documents ({tenants} with a tenant) were in the subset"
        );
    }
}
