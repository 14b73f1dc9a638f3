//! Replays every committed fuzz input, the minimized corpora in
//! `fuzz/corpus/<target>/` and the crash reproducers in
//! `fuzz/regressions/<target>/`, through the same checks the fuzz targets
//! run (`fuzz/src/checks.rs`), so a fixed crash stays fixed without
//! libFuzzer or a nightly toolchain.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .map(|d| fuzz.join(d).join(target))
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        files.len() >= 10,
        "fuzz/corpus/{target} holds {} inputs; the minimized corpus is committed",
        files.len()
    );
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these inputs fail: {failed:#?}"
    );
    println!("{target}: {} inputs replayed", files.len());
}

#[test]
fn admission_review_corpus_and_reproducers() {
    replay("admission_review", checks::review);
}

#[test]
fn policy_load_corpus_and_reproducers() {
    replay("policy_load", checks::policy);
}

#[test]
fn engine_corpus_and_reproducers() {
    replay("engine", checks::engine);
}

#[test]
fn vault_path_corpus_and_reproducers() {
    replay("vault_path", checks::vault_path);
}
