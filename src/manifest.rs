//! Multi-document YAML, split so that every document keeps the line it starts
//! on: errors in policy files and manifests can then say `file:line`.
//!
//! A document marker (`---`) at column 0 can never be inside a block scalar
//! (those are indented), so splitting on it line by line is exact.
//!
//! [`input`] reads manifests (files, directories, stdin, Lists) into objects:
//! the reader `check` and the offline inventory share.

mod input;

use std::path::{Path, PathBuf};

pub use input::{read_inputs, stdin_if_needed, InputError, InputObject};

/// Whether a directory entry is hidden: `.git`, an editor's `.x.yaml.swp`,
/// and a mounted ConfigMap's `..data` and `..2025_...` entries (whose files
/// the visible names already link to). Every directory walk skips them (the
/// policy loader and its reload fingerprint, the inventory loader, `check
/// -f DIR`); a hidden file named on the command line is still read.
pub fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The visible `*.yaml` / `*.yml` files directly in `dir` (not recursive),
/// sorted: what the policy loader reads and its reload fingerprint watches.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let yaml = matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        if yaml && !is_hidden(&p) && !p.is_dir() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// One YAML document of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlDocument<'a> {
    /// The document's text, without its `---` marker line.
    pub text: &'a str,
    /// 1-based line of the stream where `text` begins.
    pub line: usize,
}

impl YamlDocument<'_> {
    /// A document holding only blank lines and comments (YAML's empty document).
    pub fn is_blank(&self) -> bool {
        self.text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "..."
        })
    }
}

fn is_marker(line: &str) -> bool {
    let line = line.trim_end_matches('\r');
    line == "---"
        || line
            .strip_prefix("---")
            .is_some_and(|rest| rest.starts_with([' ', '\t']))
}

/// Splits a YAML stream into documents. Content after a marker on the same
/// line (`--- {a: 1}`) is not supported by the splitter and is kept in the
/// marker line's place: such streams are rare in Kubernetes manifests.
pub fn split_documents(text: &str) -> Vec<YamlDocument<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let body = line.trim_end_matches('\n');
        let rest = body.get(3..).unwrap_or("").trim();
        if is_marker(body) && (rest.is_empty() || rest.starts_with('#')) {
            if offset > start || line_no > 1 {
                docs.push(YamlDocument {
                    text: &text[start..offset],
                    line: start_line,
                });
            }
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    docs.push(YamlDocument {
        text: &text[start..],
        line: start_line,
    });
    docs
}

#[cfg(test)]
mod tests {
    /// Every walk agrees about hidden entries: a mounted ConfigMap's
    /// `..data` copy and an editor's swap file are never read twice or at all.
    #[test]
    fn hidden_entries_are_skipped_by_every_walk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = |n: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}}}\n");
        let d = dir.path();
        std::fs::create_dir(d.join("..data")).expect("mkdir");
        std::fs::create_dir(d.join(".git")).expect("mkdir");
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        for (f, n) in [
            ("a.yaml", "a"),
            ("e.yml", "e"),
            (".b.yaml", "b"),
            ("..data/c.yaml", "c"),
            (".git/g.yaml", "g"),
            ("sub/s.yaml", "s"),
            ("d.txt", "d"),
        ] {
            std::fs::write(d.join(f), ns(n)).expect("write");
        }
        assert_eq!(
            yaml_files(d).expect("list"),
            vec![d.join("a.yaml"), d.join("e.yml")]
        );
        let read = read_inputs(&[d.to_path_buf()], None).expect("read");
        let names: Vec<&str> = read
            .iter()
            .filter_map(|o| o.object.pointer("/metadata/name").and_then(|v| v.as_str()))
            .collect();
        assert_eq!(names, ["a", "e", "s"]);
        // Named on the command line, a hidden file is read.
        let one = read_inputs(&[d.join(".b.yaml")], None).expect("read");
        assert_eq!(one.len(), 1);
    }

    use super::*;

    #[test]
    fn splits_with_lines() {
        let docs = split_documents("a: 1\n---\nb: 2\nc: 3\n--- \n# only a comment\n---\nd: 4");
        let got: Vec<_> = docs
            .iter()
            .map(|d| (d.line, d.text, d.is_blank()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "a: 1\n", false),
                (3, "b: 2\nc: 3\n", false),
                (6, "# only a comment\n", true),
                (8, "d: 4", false)
            ]
        );
    }

    #[test]
    fn leading_marker_starts_first_document() {
        let docs = split_documents("---\na: 1\n");
        assert_eq!(docs.len(), 1);
        assert_eq!((docs[0].line, docs[0].text), (2, "a: 1\n"));
    }

    #[test]
    fn indented_dashes_are_content() {
        let docs = split_documents("a: |\n  ---\n  x\n");
        assert_eq!(docs.len(), 1);
    }
}
