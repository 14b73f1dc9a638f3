//! Reading manifests: files, directories (walked for `.yaml`, `.yml`,
//! `.json`), stdin, multi-document YAML, JSON streams and `List` objects.
//! Used by `check` for its input and by the inventory loader.
//!
//! Every path must yield at least one object, and anything unreadable is an
//! error naming the file, the document and its line: a typo in a CI job's
//! `-f` must never turn into a green build that judged nothing.
//! YAML merge keys (`<<:`) are applied, as Kubernetes' own YAML reader does.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::manifest::{split_documents, YamlDocument};

/// A manifest object with where it came from.
#[derive(Debug, Clone)]
pub struct InputObject {
    /// `file#N` (N-th document from 1; `-` for stdin). Items of a `List`
    /// share their List's source.
    pub source: String,
    /// 1-based line the document starts on.
    pub line: usize,
    pub object: Value,
}

/// Input that cannot be read or parsed: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Manifest files under `dir`, sorted, recursively. Directories reached
/// twice through symlinks are walked once, so a link loop cannot recurse
/// forever.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<(), InputError> {
    let real = dir
        .canonicalize()
        .map_err(|e| InputError(format!("cannot read directory {}: {e}", dir.display())))?;
    if !seen.insert(real) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| InputError(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut paths = Vec::new();
    for entry in entries {
        // An entry that cannot be listed is an error, not a file skipped in silence.
        let entry = entry
            .map_err(|e| InputError(format!("cannot list directory {}: {e}", dir.display())))?;
        paths.push(entry.path());
    }
    paths.sort();
    for p in paths {
        if crate::manifest::is_hidden(&p) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, seen)?;
        } else if is_manifest(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every object from the given paths. `-` reads `stdin`, which the
/// caller passes in so tests never touch the process's stdin.
pub fn read_inputs(paths: &[PathBuf], stdin: Option<&str>) -> Result<Vec<InputObject>, InputError> {
    let mut objects = Vec::new();
    let mut stdin_read = false;
    for path in paths {
        let before = objects.len();
        if path.as_os_str() == "-" {
            if stdin_read {
                return Err(InputError(
                    "- (stdin) is given more than once; stdin can be read only once".into(),
                ));
            }
            stdin_read = true;
            let text = stdin.ok_or_else(|| InputError("- (stdin) is not available here".into()))?;
            parse_text("-", text, false, &mut objects)?;
            if objects.len() == before {
                return Err(InputError(
                    "stdin (-) holds no Kubernetes objects (it is empty or only comments)".into(),
                ));
            }
            continue;
        }
        if !path.exists() {
            return Err(InputError(format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut HashSet::new())?;
            if files.is_empty() {
                return Err(InputError(format!(
                    "directory {} holds no .yaml, .yml or .json files",
                    path.display()
                )));
            }
            for f in &files {
                read_file(f, &mut objects)?;
            }
            if objects.len() == before {
                return Err(InputError(format!(
                    "directory {} holds {} manifest file(s) but no Kubernetes objects (only comments or empty documents)",
                    path.display(),
                    files.len()
                )));
            }
        } else {
            read_file(path, &mut objects)?;
            if objects.len() == before {
                return Err(InputError(format!(
                    "{} holds no Kubernetes objects (it is empty or only comments)",
                    path.display()
                )));
            }
        }
    }
    Ok(objects)
}

fn read_file(f: &Path, out: &mut Vec<InputObject>) -> Result<(), InputError> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| InputError(format!("cannot read {}: {e}", f.display())))?;
    let json = f.extension().and_then(|e| e.to_str()) == Some("json");
    parse_text(&f.display().to_string(), &text, json, out)
}

/// Reads stdin fully when one of the paths is `-`.
pub fn stdin_if_needed(paths: &[PathBuf]) -> Result<Option<String>, InputError> {
    if !paths.iter().any(|p| p.as_os_str() == "-") {
        return Ok(None);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| InputError(format!("cannot read stdin: {e}")))?;
    Ok(Some(s))
}

fn line_at(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(1, |t| t.matches('\n').count() + 1)
}

/// The JSON values of a stream (`{...}{...}`), with the line each starts on.
fn json_documents(text: &str) -> Result<Vec<(usize, Value)>, (usize, usize, serde_json::Error)> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => return Ok(docs),
            Some(Ok(v)) => {
                let skipped = text
                    .get(start..)
                    .map_or(0, |t| t.len() - t.trim_start().len());
                docs.push((line_at(text, start + skipped), v));
            }
            Some(Err(e)) => return Err((docs.len() + 1, e.line(), e)),
        }
    }
}

/// The line of a document's first content, past leading comments and blanks.
fn content_line(doc: &YamlDocument<'_>) -> usize {
    let skipped = doc
        .text
        .lines()
        .take_while(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        })
        .count();
    doc.line + skipped
}

/// A YAML error with its position in the file rather than in the document.
fn yaml_error(
    name: &str,
    n: usize,
    doc: &YamlDocument<'_>,
    e: &serde_yaml_ng::Error,
) -> InputError {
    let message = e.to_string();
    match e.location() {
        Some(l) => {
            let (rel, col) = (l.line(), l.column());
            let abs = doc.line + rel - 1;
            let message = message.replace(
                &format!("at line {rel} column {col}"),
                &format!("at line {abs} column {col}"),
            );
            InputError(format!("{name}: document {n}: not valid YAML: {message}"))
        }
        None => InputError(format!(
            "{name}: document {n} (line {}): not valid YAML: {message}",
            content_line(doc)
        )),
    }
}

fn yaml_documents(name: &str, text: &str) -> Result<Vec<(usize, Value)>, InputError> {
    let mut docs = Vec::new();
    for doc in split_documents(text).into_iter().filter(|d| !d.is_blank()) {
        let n = docs.len() + 1;
        let bad = |e: serde_yaml_ng::Error| yaml_error(name, n, &doc, &e);
        let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc.text).map_err(bad)?;
        yaml.apply_merge().map_err(bad)?;
        let line = content_line(&doc);
        let v = serde_json::to_value(&yaml).map_err(|e| {
            InputError(format!(
                "{name}: document {n} (line {line}): cannot be read as JSON: {e}"
            ))
        })?;
        docs.push((line, v));
    }
    Ok(docs)
}

/// Parses one file's text; `json` is set for `.json` files. Text that starts
/// like JSON is read as a JSON stream first, since JSON with tab indentation
/// is not YAML.
pub(crate) fn parse_text(
    name: &str,
    text: &str,
    json: bool,
    out: &mut Vec<InputObject>,
) -> Result<(), InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source_name = name;
    let name = if name == "-" { "stdin (-)" } else { name };
    let looks_json = text.trim_start().starts_with(['{', '[']);
    let docs = match (json, looks_json) {
        (true, _) => json_documents(text).map_err(|(n, line, e)| {
            InputError(format!(
                "{name}: document {n} (line {line}): not valid JSON: {e}"
            ))
        })?,
        (false, true) => match json_documents(text) {
            Ok(docs) => docs,
            Err(_) => yaml_documents(name, text)?,
        },
        (false, false) => yaml_documents(name, text)?,
    };
    for (i, (line, v)) in docs.into_iter().enumerate() {
        if v.is_null() {
            continue;
        }
        push_object(&format!("{source_name}#{}", i + 1), line, None, v, out)?;
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Adds one object, or the items of a `List` (`v1 List`, or any `<Kind>List`
/// with `items`, as `kubectl get -o yaml` prints them).
fn push_object(
    source: &str,
    line: usize,
    item: Option<usize>,
    mut v: Value,
    out: &mut Vec<InputObject>,
) -> Result<(), InputError> {
    let stdin = if source.starts_with("-#") {
        "stdin "
    } else {
        ""
    };
    let at = match item {
        Some(i) => format!("{stdin}{source} (line {line}), List item {i}"),
        None => format!("{stdin}{source} (line {line})"),
    };
    if !v.is_object() {
        return Err(InputError(format!(
            "{at}: not a Kubernetes object but {}; every document needs apiVersion, kind and metadata",
            type_name(&v)
        )));
    }
    let text = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    let (api, kind) = (text("apiVersion"), text("kind"));
    for (field, value) in [("apiVersion", &api), ("kind", &kind)] {
        if value.is_empty() {
            return Err(InputError(format!(
                "{at}: not a Kubernetes object: {field} is missing (or not a string)"
            )));
        }
    }
    if kind == "List" || (kind.ends_with("List") && v.get("items").is_some_and(Value::is_array)) {
        let items = match v.get_mut("items").map(Value::take) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(InputError(format!(
                    "{at}: the List's items is {}, not a list",
                    type_name(&other)
                )))
            }
        };
        // Items of a typed list (`PodList`) may leave out their kind.
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        for (i, mut it) in items.into_iter().enumerate() {
            if let (Some(k), Some(obj)) = (item_kind, it.as_object_mut()) {
                obj.entry("kind").or_insert_with(|| Value::from(k));
                obj.entry("apiVersion")
                    .or_insert_with(|| Value::from(api.as_str()));
            }
            push_object(source, line, Some(i + 1), it, out)?;
        }
        return Ok(());
    }
    if let Some(meta) = v.get("metadata").filter(|m| !m.is_object()) {
        return Err(InputError(format!(
            "{at}: {kind} metadata is {}, not a mapping",
            type_name(meta)
        )));
    }
    out.push(InputObject {
        source: source.to_string(),
        line,
        object: v,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, json: bool) -> Result<Vec<InputObject>, InputError> {
        let mut out = Vec::new();
        parse_text("f.yaml", text, json, &mut out).map(|()| out)
    }

    #[test]
    fn yaml_documents_and_lists() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# empty\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n- {apiVersion: v1, kind: Service, metadata: {name: t}}\n";
        let out = parse(text, false).unwrap();
        let got: Vec<_> = out.iter().map(|o| (o.source.as_str(), o.line)).collect();
        assert_eq!(got, [("f.yaml#1", 1), ("f.yaml#2", 7), ("f.yaml#2", 7)]);
        // The line is the document's first content, past its comments.
        let out = parse("# about a\n\napiVersion: v1\nkind: Pod\n", false).unwrap();
        assert_eq!(out[0].line, 3);
    }

    #[test]
    fn typed_list_items_get_their_kind() {
        let out = parse(
            "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n",
            false,
        )
        .unwrap();
        assert_eq!(out[0].object["kind"], "Pod");
        assert_eq!(out[0].object["apiVersion"], "v1");
        assert!(parse("apiVersion: v1\nkind: List\n", false)
            .unwrap()
            .is_empty());
        let err = parse("apiVersion: v1\nkind: List\nitems: 3\n", false).unwrap_err();
        assert!(err.0.contains("items is a number"), "{err}");
        let err = parse(
            "apiVersion: v1\nkind: List\nitems: [{metadata: {}}]\n",
            false,
        )
        .unwrap_err();
        assert!(
            err.0
                .contains("List item 1: not a Kubernetes object: apiVersion"),
            "{err}"
        );
    }

    #[test]
    fn json_streams_and_json_looking_yaml() {
        let out = parse(
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n\n{\n\t\"apiVersion\": \"v1\", \"kind\": \"Service\"}",
            true,
        )
        .unwrap();
        let got: Vec<_> = out.iter().map(|o| (o.source.as_str(), o.line)).collect();
        assert_eq!(got, [("f.yaml#1", 1), ("f.yaml#2", 3)]);
        // A YAML flow mapping is not JSON, and is still read.
        let out = parse("{apiVersion: v1, kind: Pod}\n", false).unwrap();
        assert_eq!(out[0].object["kind"], "Pod");
        let err = parse("{\"apiVersion\": \"v1\",\n \"kind\": }", true).unwrap_err();
        assert!(
            err.0
                .starts_with("f.yaml: document 1 (line 2): not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn merge_keys_and_bom() {
        let text = "\u{feff}apiVersion: v1\nkind: Pod\nmetadata:\n  labels: &l {app: web}\nspec:\n  x:\n    <<: *l\n    tier: front\n";
        let out = parse(text, false).unwrap();
        assert_eq!(out[0].object["spec"]["x"]["app"], "web");
    }

    #[test]
    fn bad_yaml_names_file_document_and_line() {
        let err = parse("apiVersion: v1\nkind: Pod\n---\n# c\nkind: [\n", false).unwrap_err();
        assert!(
            err.0.starts_with("f.yaml: document 2: not valid YAML: ")
                && err.0.contains(" at line 6 column 1"),
            "{err}"
        );
        let err = parse("just a string\n", false).unwrap_err();
        assert!(
            err.0.contains("not a Kubernetes object but a string"),
            "{err}"
        );
        let err = parse("apiVersion: v1\nmetadata: {}\n", false).unwrap_err();
        assert!(err.0.contains("kind is missing"), "{err}");
        let err = parse("apiVersion: v1\nkind: Pod\nmetadata: 3\n", false).unwrap_err();
        assert!(err.0.contains("metadata is a number"), "{err}");
    }

    #[test]
    fn missing_and_empty_inputs_are_errors() {
        let err = read_inputs(&[PathBuf::from("/nonexistent.yaml")], None).unwrap_err();
        assert!(err.0.contains("no such file or directory"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_inputs(&[dir.path().to_path_buf()], None).unwrap_err();
        assert!(err.0.contains("holds no .yaml"), "{err}");
        std::fs::write(dir.path().join("a.yaml"), "# nothing\n---\n").unwrap();
        let err = read_inputs(&[dir.path().to_path_buf()], None).unwrap_err();
        assert!(
            err.0
                .contains("1 manifest file(s) but no Kubernetes objects"),
            "{err}"
        );
        let err = read_inputs(&[dir.path().join("a.yaml")], None).unwrap_err();
        assert!(err.0.contains("holds no Kubernetes objects"), "{err}");
        assert!(read_inputs(&[PathBuf::from("-")], Some("")).is_err());
        let twice = [PathBuf::from("-"), PathBuf::from("-")];
        let stdin = "apiVersion: v1\nkind: Pod\n";
        assert!(read_inputs(&twice, Some(stdin)).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        let out = read_inputs(&[dir.path().to_path_buf()], None).unwrap();
        assert_eq!(out.len(), 1);
    }
}
