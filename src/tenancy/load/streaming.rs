//! The fast reader of YAML inventory files (100,000 Namespaces are 17 MB).
//!
//! The file is split into documents on their `---` lines (exact, see
//! [`crate::manifest`]), and the documents into one run per core, each of
//! at least [`MIN_RUN_BYTES`]. In a run, a Namespace written in the plain
//! subset of YAML that generated inventories use is read without a parser
//! ([`super::plain`]); the documents between such Namespaces are read by
//! one YAML parser from the first to the last (not a parser per document),
//! each straight into the little the inventory keeps of it. Runs after the
//! first are read on their own threads; what each document adds is then
//! applied to the inventory in file order, exactly as one pass would (a
//! later document wins).
//!
//! Anything unusual sends the whole file to the general manifest reader
//! (which names the file, the document and its line in its errors):
//! invalid YAML, a Namespace without a name or with a tenant label that is
//! not a string, an invalid Tenant, a List. A file whose document
//! boundaries a parser could see differently from the `---` lines (a
//! `...` end marker, a `%` directive, content on a `---` line) is read a
//! parser per document, as before.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::{claim_kind, plain};
use crate::manifest::{split_documents, YamlDocument};
use crate::model::{Tenant, TenantDocument, TenantSpec};
use crate::tenancy::{Inventory, UnknownNamespaces};
use crate::{tenant_label, TENANT_LABEL};

/// The least text worth a thread of its own.
const MIN_RUN_BYTES: usize = 256 * 1024;
/// The most threads a file is read on.
const MAX_RUNS: usize = 4;

/// What one document adds to the inventory (a Namespace in the plain
/// subset borrows its words from the text).
enum Item<'a> {
    Namespace {
        name: Cow<'a, str>,
        tenant: Option<Cow<'a, str>>,
    },
    Tenant {
        name: Box<str>,
        spec: Arc<TenantSpec>,
    },
    /// An Ingress or route: an existing claim on its hosts.
    Claim(Value),
}

/// Reads a YAML inventory file into `inv`. Returns false, having added
/// nothing, when the file needs the general reader (JSON, Lists, invalid
/// YAML, invalid Tenants or tenant labels: its errors are the precise ones).
pub(super) fn absorb_yaml(inv: &mut Inventory, name: &str, text: &str) -> bool {
    if name.ends_with(".json") {
        return false;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = cores.min(MAX_RUNS).min(text.len() / MIN_RUN_BYTES).max(1);
    match read_runs(text, n) {
        Some(staged) => {
            inv.merge(staged);
            true
        }
        None => false,
    }
}

/// Reads the text in (up to) `n` runs; None when it needs the general reader.
fn read_runs(text: &str, n: usize) -> Option<Inventory> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs = split_documents(text);
    let runs = runs(text, &docs, one_parser_per_run(text), n);
    let mut staged = Inventory::new(UnknownNamespaces::Platform);
    // At most one namespace a document: no rehashing while they are recorded.
    staged.reserve_namespaces(docs.len());
    let Some((first, rest)) = runs.split_first() else {
        return Some(staged);
    };
    let read = std::thread::scope(|s| {
        // A run whose thread cannot be started is read here, after the first.
        let others: Vec<_> = rest
            .iter()
            .map(|r| {
                std::thread::Builder::new()
                    .name("inventory-read".into())
                    .spawn_scoped(s, move || r.read_apart())
                    .map_err(|_| r)
            })
            .collect();
        // The first run goes straight into the inventory while the others
        // are being read.
        let first = first.read(&mut staged);
        // Every thread is joined, whatever the first run gave.
        let others: Vec<_> = others
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().ok().flatten(),
                Err(r) => r.read_apart(),
            })
            .collect();
        first.is_some()
            && others.into_iter().all(|items| {
                items
                    .map(|items| items.into_iter().for_each(|i| staged.put(i)))
                    .is_some()
            })
    });
    read.then_some(staged)
}

/// Where a run's items go: a list (read on a thread), or the inventory.
trait Sink<'a> {
    fn put(&mut self, item: Item<'a>);
}

impl<'a> Sink<'a> for Vec<Item<'a>> {
    fn put(&mut self, item: Item<'a>) {
        self.push(item);
    }
}

impl<'a> Sink<'a> for Inventory {
    fn put(&mut self, item: Item<'a>) {
        match item {
            Item::Namespace { name, tenant } => self.add_namespace(&name, tenant.as_deref()),
            Item::Tenant { name, spec } => self.declare(&name, spec),
            Item::Claim(obj) => {
                self.claims_mut().absorb(&obj);
            }
        }
    }
}

/// Whether a parser sees a document begin exactly at each `---` line the
/// splitter splits on, and end only there (or at the end of the text), so
/// that one parser can read a run of documents and stay in step with them.
fn one_parser_per_run(text: &str) -> bool {
    text.lines().all(|l| {
        let marker_with_content = l.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            !rest.is_empty() && !rest.starts_with('#')
        });
        !(l.starts_with("...") || l.starts_with('%') || marker_with_content)
    })
}

/// A run of consecutive documents, read by one thread.
struct Run<'a> {
    /// The text from the `---` line before the first document (the start of
    /// the file for the first run) to the end of the last.
    text: &'a str,
    docs: &'a [YamlDocument<'a>],
    /// Whether the run is read by one parser (else a parser per document).
    one_parser: bool,
    /// Whether the first document is blank and has no `---` line before it
    /// (text before the file's first `---`): a parser yields no document
    /// for it.
    implicit_blank_first: bool,
}

/// Byte offset of `inner`, a slice of `outer`, in `outer`.
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Cuts the documents into `n` runs of about equal text (fewer when there
/// are fewer documents).
fn runs<'a>(
    text: &'a str,
    docs: &'a [YamlDocument<'a>],
    one_parser: bool,
    n: usize,
) -> Vec<Run<'a>> {
    let end_of = |d: &YamlDocument<'_>| offset_in(text, d.text) + d.text.len();
    // The index of the first document of each run.
    let mut starts = vec![0];
    for k in 1..n {
        let target = text.len() * k / n;
        let i = docs.partition_point(|d| offset_in(text, d.text) < target);
        if i > starts[starts.len() - 1] && i < docs.len() {
            starts.push(i);
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (j, &a) in starts.iter().enumerate() {
        let b = starts.get(j + 1).copied().unwrap_or(docs.len());
        let from = if a == 0 { 0 } else { end_of(&docs[a - 1]) };
        let to = if b == docs.len() {
            text.len()
        } else {
            end_of(&docs[b - 1])
        };
        out.push(Run {
            text: text.get(from..to).unwrap_or_default(),
            docs: &docs[a..b],
            one_parser,
            implicit_blank_first: a == 0
                && docs.first().is_some_and(|d| d.line == 1 && d.is_blank()),
        });
    }
    out
}

impl<'a> Run<'a> {
    /// What the run's documents add, in order; None when the file needs the
    /// general reader. Namespaces in the plain subset ([`plain`]) are read
    /// without a parser; the documents between them, by [`Run::parse`].
    fn read(&self, items: &mut impl Sink<'a>) -> Option<()> {
        let first = usize::from(self.implicit_blank_first);
        // The first document not read yet, if any.
        let mut pending = None;
        for (i, doc) in self.docs.iter().enumerate().skip(first) {
            match plain::namespace(doc.text) {
                Some((name, tenant)) => {
                    if let Some(p) = pending.take() {
                        self.parse(p, i, items)?;
                    }
                    items.put(Item::Namespace {
                        name: Cow::Borrowed(name),
                        tenant: tenant.map(Cow::Borrowed),
                    });
                }
                None => {
                    pending.get_or_insert(i);
                }
            }
        }
        if let Some(p) = pending {
            self.parse(p, self.docs.len(), items)?;
        }
        Some(())
    }

    /// [`Run::read`] into a list, to apply later.
    fn read_apart(&self) -> Option<Vec<Item<'a>>> {
        let mut items = Vec::with_capacity(self.docs.len());
        self.read(&mut items).map(|()| items)
    }

    /// Reads documents `a..b` of the run with a YAML parser: one over them
    /// all, or one for each (see [`one_parser_per_run`]).
    fn parse(&self, a: usize, b: usize, items: &mut impl Sink<'a>) -> Option<()> {
        let docs = self.docs.get(a..b)?;
        if !self.one_parser {
            for doc in docs.iter().filter(|d| !d.is_blank()) {
                let de = serde_yaml_ng::Deserializer::from_str(doc.text);
                read_document(de, doc.text, items)?;
            }
            return Some(());
        }
        // From the `---` line before document `a` (the run's start for its
        // first) to the end of document `b - 1`.
        let end_of = |d: &YamlDocument<'_>| offset_in(self.text, d.text) + d.text.len();
        let from = a.checked_sub(1).map_or(0, |p| end_of(&self.docs[p]));
        let to = end_of(docs.last()?);
        let mut stream = serde_yaml_ng::Deserializer::from_str(self.text.get(from..to)?);
        for doc in docs {
            // A blank document is one the parser yields too (a null).
            let de = stream.next()?;
            if !doc.is_blank() {
                read_document(de, doc.text, items)?;
            }
        }
        // The parser saw no more documents than the splitter.
        stream.next().is_none().then_some(())
    }
}

/// Reads one document (`de` yields it; `text` is its text, for the rare
/// kinds read again whole).
fn read_document<'a>(
    de: serde_yaml_ng::Deserializer<'_>,
    text: &str,
    out: &mut impl Sink<'a>,
) -> Option<()> {
    if kind_hint(text) == Some("Tenant") {
        let t = TenantDocument::deserialize(de).ok()?;
        if t.type_meta() == (crate::API_VERSION, "Tenant") {
            out.put(tenant(t)?);
            return Some(());
        }
        // Another group's Tenant: read as any other document.
        let head = serde_yaml_ng::from_str::<DocHead>(text).ok()?;
        return read_head(head, text, out);
    }
    read_head(DocHead::deserialize(de).ok()?, text, out)
}

fn tenant(t: TenantDocument) -> Option<Item<'static>> {
    let t: Tenant = t.into();
    t.validate().ok()?;
    Some(Item::Tenant {
        name: t.name().into(),
        spec: Arc::new(t.spec),
    })
}

fn read_head<'a>(head: DocHead, text: &str, out: &mut impl Sink<'a>) -> Option<()> {
    match (head.api_version.as_str(), head.kind.as_str()) {
        ("v1", "Namespace") => {
            let meta = head.metadata?;
            let name = meta.name?;
            let tenant = match meta.labels.and_then(|l| l.0) {
                None | Some(serde_yaml_ng::Value::Null) => None,
                Some(serde_yaml_ng::Value::String(t)) => {
                    tenant_label::name(&t).is_some().then_some(t)
                }
                // Not a string: the general reader reports it precisely.
                Some(_) => return None,
            };
            out.put(Item::Namespace {
                name: Cow::Owned(name),
                tenant: tenant.map(Cow::Owned),
            });
        }
        (crate::API_VERSION, "Tenant") => {
            out.put(tenant(
                serde_yaml_ng::from_str::<TenantDocument>(text).ok()?,
            )?);
        }
        (_, k) if k.ends_with("List") => return None,
        (api, kind) if claim_kind(api, kind) => {
            out.put(Item::Claim(serde_yaml_ng::from_str::<Value>(text).ok()?));
        }
        _ => {}
    }
    Some(())
}

/// The value of a top-level block-style `kind:` line, if the document has
/// one: a hint that lets a Tenant be parsed once, straight into its type.
/// Only a hint: the parsed document's own apiVersion and kind decide.
fn kind_hint(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("kind:"))
        .map(str::trim)
}

/// Just what the inventory needs of a document.
#[derive(serde::Deserialize)]
struct DocHead {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Option<DocMeta>,
}

#[derive(serde::Deserialize)]
struct DocMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    labels: Option<TenantLabelOnly>,
}

/// The tenant label of a labels map (`None` inside: absent); the other
/// labels are skipped without being kept.
struct TenantLabelOnly(Option<serde_yaml_ng::Value>);

impl<'de> Deserialize<'de> for TenantLabelOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Labels;
        impl<'de> Visitor<'de> for Labels {
            type Value = TenantLabelOnly;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of labels")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(IsTenantLabel(is)) = map.next_key()? {
                    if is {
                        found = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TenantLabelOnly(found))
            }
        }
        d.deserialize_map(Labels)
    }
}

/// Whether a labels key is the tenant label (no copy of the key is made).
struct IsTenantLabel(bool);

impl<'de> Deserialize<'de> for IsTenantLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = IsTenantLabel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a label key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IsTenantLabel(v == TENANT_LABEL))
            }
        }
        d.deserialize_str(Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::absorb;

    /// Namespaces with their tenants, tenants with their specs, and the
    /// claims and dedicated-node pairs (in declaration order).
    type View = (Vec<(String, Option<String>)>, Vec<String>, String);

    /// Everything an inventory knows that loading decides, comparable.
    fn view(inv: &Inventory) -> View {
        let mut ns: Vec<_> = inv
            .namespaces()
            .map(|(n, t)| (n.to_string(), t.map(str::to_string)))
            .collect();
        ns.sort();
        let mut tenants: Vec<String> = inv
            .tenant_names()
            .map(|t| format!("{t}: {:?}", inv.tenant_entry(t).map(|e| &e.spec)))
            .collect();
        tenants.sort();
        let pairs: Vec<_> = inv.foreign_node_pairs("").collect();
        let claims = format!("{} claims; dedicated {pairs:?}", inv.claims().objects());
        (ns, tenants, claims)
    }

    /// The general reader's inventory of `text`.
    fn general(text: &str) -> Inventory {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.yaml");
        std::fs::write(&file, text).unwrap();
        let objects = crate::manifest::read_inputs(&[file], None).unwrap();
        let mut inv = Inventory::new(UnknownNamespaces::Platform);
        for o in &objects {
            absorb(&mut inv, &o.object, &o.source, o.line).unwrap();
        }
        inv
    }

    fn ns(name: &str, tenant: &str) -> String {
        format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{team: x, tenantguard.io/tenant: {tenant}}}\n")
    }

    fn tenant(name: &str, pool: &str) -> String {
        format!("---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {{pool: {pool}}}\n")
    }

    /// A stream with every kind of document, blank ones, and names given
    /// twice far apart (in different runs): the later one wins.
    fn mixed() -> String {
        let mut s = String::from("# generated\n\n");
        s.push_str(&tenant("acme", "a1"));
        s.push_str(&tenant("globex", "g1"));
        for i in 0..300 {
            s.push_str(&ns(
                &format!("ns-{i}"),
                if i % 2 == 0 { "acme" } else { "globex" },
            ));
            if i % 50 == 0 {
                s.push_str("---\n# nothing here\n---\n");
            }
        }
        s.push_str("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: ns-1}\nspec: {rules: [{host: shop.example}]}\n");
        s.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns-1}\ndata: {kind: Tenant}\n");
        // Redeclared: acme moves behind globex among the dedicated tenants.
        s.push_str(&tenant("acme", "a2"));
        s.push_str(&ns("ns-3", "acme"));
        s.push_str("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns-5}\n");
        s.push_str("---\napiVersion: example.com/v1\nkind: Tenant\nmetadata: {name: other}\n");
        s
    }

    #[test]
    fn every_split_reads_what_the_general_reader_reads() {
        let plain = mixed();
        // The same with no Namespace in the plain subset: all parsed.
        let quoted = plain.replace("{team: x,", "{team: 'x',");
        assert_ne!(plain, quoted);
        for text in [plain, quoted] {
            assert!(one_parser_per_run(&text));
            let want = view(&general(&text));
            assert!(want.0.contains(&("ns-5".into(), None)));
            assert!(want.0.contains(&("ns-3".into(), Some("acme".into()))));
            assert!(
                want.2
                    .contains("\"globex\", \"pool\", \"g1\"), (\"acme\", \"pool\", \"a2\""),
                "{}",
                want.2
            );
            for n in [1, 2, 3, 4, 7, 400, 10_000] {
                let docs = split_documents(&text);
                let runs = runs(&text, &docs, true, n);
                assert!(!runs.is_empty() && runs.len() <= n, "n = {n}");
                if n <= 4 {
                    assert_eq!(runs.len(), n, "n = {n}: runs of about equal text");
                }
                let joined: String = runs.iter().map(|r| r.text).collect();
                assert_eq!(joined, text, "n = {n}: the runs cover the text");
                let got = read_runs(&text, n).unwrap_or_else(|| panic!("n = {n}: fell back"));
                assert_eq!(view(&got), want, "n = {n}");
            }
        }
    }

    #[test]
    fn document_boundaries_a_parser_may_see_otherwise_are_read_a_document_at_a_time() {
        for text in [
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n--- # b next\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
            "\u{feff}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata: {name: b}\r\n",
        ] {
            let got = read_runs(text, 2).unwrap_or_else(|| panic!("fell back: {text:?}"));
            assert_eq!(view(&got).0.len(), 2, "{text:?}");
            assert_eq!(view(&got), view(&general(text)), "{text:?}");
        }
        // Content on a `---` line: the splitter keeps it in the document
        // before, which then holds two documents: the general reader's turn.
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n--- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n";
        assert!(!one_parser_per_run(text));
        assert!(read_runs(text, 1).is_none());
        // A directive is a document of its own to the splitter, which no
        // parser reads alone: the general reader's turn, as before.
        let text = "%YAML 1.2\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";
        assert!(!one_parser_per_run(text));
        assert!(read_runs(text, 1).is_none());
        // Only comments: nothing, and no error.
        for text in ["", "# nothing\n", "---\n# nothing\n---\n"] {
            let got = read_runs(text, 2).unwrap();
            assert_eq!(got.namespace_count(), 0, "{text:?}");
        }
    }

    #[test]
    fn a_bad_document_in_any_run_sends_the_file_to_the_general_reader() {
        let good = mixed();
        let bad_docs = [
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {tenantguard.io/tenant: 5}}\n",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {labels: {}}\n",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: [\n",
            "---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: b}\nspec: {quotas: {}}\n",
            "---\napiVersion: v1\nkind: List\nitems: []\n",
            "---\nkey: *nowhere\n",
        ];
        for bad in bad_docs {
            for at in [0, good.len() / 2, good.len()] {
                // At a document boundary near `at`.
                let cut = good[..at].rfind("\n---\n").map_or(0, |i| i + 1);
                let cut = if at == good.len() { at } else { cut };
                let text = format!("{}{bad}{}", &good[..cut], &good[cut..]);
                for n in [1, 2, 4] {
                    assert!(read_runs(&text, n).is_none(), "n = {n}, at {at}: {bad:?}");
                }
            }
        }
    }
}
