//! The crate's modules form layers, and a module only imports from layers
//! below its own: no import cycle can form, and the core (vocabulary,
//! tenancy, rules, engine) never reaches up into the commands, the server or
//! the cluster code. Read from the sources (`use crate::...` and every
//! `crate::x` / `super::` path, test modules and `tests.rs` files included:
//! a test-only upward import is an import cycle in the test build), so it
//! needs no tooling.
//!
//! A new top-level module goes into [`LAYERS`]; a failure names the file,
//! the import and the two layers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top. A module may import modules of lower layers only (not
/// even its own layer's other modules).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf helpers",
        &[
            "quantity",
            "selector",
            "manifest",
            "swap",
            "tenant_label",
            "certs",
            "cli",
            "hosts",
            "image",
            "events",
        ],
    ),
    ("certificate lifecycle, on certs", &["selftls"]),
    (
        "vocabulary: requests, Tenant and Settings types",
        &["model"],
    ),
    ("pods in objects", &["podspec"]),
    ("tenancy", &["tenancy"]),
    ("rules and policies", &["policy"]),
    ("engine", &["engine"]),
    ("adapters", &["admission", "metrics", "check", "vap"]),
    ("audit of what exists, on check's reading", &["audit"]),
    ("server and cluster", &["server", "cluster"]),
    ("configuration", &["config"]),
    ("commands", &["commands"]),
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// The top-level modules `lib.rs` declares.
fn modules() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

/// Every `.rs` file under `dir`, test files included.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src/`: `engine/sent.rs` → [engine, sent].
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments (its test modules included).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            // A `//` inside a string ("https://...") is not a comment, but
            // no import follows one on the same line either.
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The crate-root names a file's code refers to: `crate::x`, the items of
/// `use crate::{x, y::z}`, and `super::` chains that climb to the root.
fn root_refs(file: &Path, code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // e.g. `kube_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: after `{` or a `,` at depth 1.
            let mut depth = 1;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 1 => {
                        refs.insert(ident_at(&group[j..]).to_string());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            refs.insert(ident_at(rest).to_string());
        }
    }
    let path = module_path(file);
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        let before = rest[..i].chars().last();
        rest = &rest[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if ups >= path.len() {
            refs.insert(ident_at(rest).to_string());
        }
    }
    refs
}

#[test]
fn every_module_has_a_layer() {
    let missing: Vec<String> = modules()
        .into_iter()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer: {missing:?}; add each to LAYERS in tests/layers.rs, above every module it imports and below every module that imports it"
    );
    for (_, mods) in LAYERS {
        for m in *mods {
            assert!(
                modules().iter().any(|x| x == m),
                "LAYERS in tests/layers.rs names {m}, which src/lib.rs does not declare"
            );
        }
    }
}

#[test]
fn no_module_imports_from_its_own_layer_or_above() {
    let modules = modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut fails = Vec::new();
    for file in &files {
        let path = module_path(file);
        let Some(own) = path.first().filter(|m| modules.contains(m)) else {
            continue; // lib.rs, main.rs
        };
        let Some(own_layer) = layer_of(own) else {
            continue; // reported by every_module_has_a_layer
        };
        let text = std::fs::read_to_string(file).expect("source");
        for r in root_refs(file, &code(&text)) {
            if &r == own || !modules.contains(&r) {
                continue;
            }
            let Some(layer) = layer_of(&r) else {
                continue;
            };
            if layer >= own_layer {
                fails.push(format!(
                    "{}: {own} (layer {own_layer}, {}) imports crate::{r} (layer {layer}, {}); move what it needs down into a lower layer (the vocabulary lives in crate::model), or pass it in",
                    file.strip_prefix(src().parent().expect("repo")).unwrap_or(file).display(),
                    LAYERS[own_layer].0,
                    LAYERS[layer].0,
                ));
            }
        }
    }
    assert!(
        fails.is_empty(),
        "{} upward import(s):\n{}",
        fails.len(),
        fails.join("\n")
    );
}

/// The scanner itself: what counts as an import.
#[test]
fn the_scanner_sees_every_form_of_import() {
    let f = src().join("engine/sent.rs");
    let code = code(
        "use crate::{model::X, policy::{a, b},\n  tenancy};\nfn f() { crate::check::run(); let s = \"x\"; }\n// crate::server::x\nuse super::super::cluster::Y;\n#[cfg(test)]\nmod tests { use crate::commands; }\n",
    );
    let refs = root_refs(&f, &code);
    assert_eq!(
        refs,
        ["check", "cluster", "commands", "model", "policy", "tenancy"]
            .map(String::from)
            .into()
    );
}
