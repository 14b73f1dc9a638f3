//! `tenantguard check`: offline manifests → engine (mutation, then validation
//! of the mutated object, as the webhook would on CREATE) → report.
//!
//! Inputs are files, directories (walked for `.yaml`, `.yml`, `.json`) and
//! stdin, multi-document YAML and `List` objects. Namespaces and Tenants in
//! the input describe the tenancy as well as being judged. Bad input is an
//! error naming the file and document: never a partial silent pass.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::engine::{Engine, Outcome, Request, Standing};
use crate::manifest::split_documents;
use crate::policy::rules::{Operation, User};
use crate::tenancy::{self, Inventory};

/// A manifest object with where it came from.
#[derive(Debug, Clone)]
pub struct InputObject {
    /// `file#N` (N-th document from 1; `-` for stdin).
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| InputError(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_manifest(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every object from the given paths (`-` reads `stdin`, which the
/// caller passes in so tests never touch the process's stdin).
pub fn read_inputs(paths: &[PathBuf], stdin: Option<&str>) -> Result<Vec<InputObject>, InputError> {
    let mut objects = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let text = stdin.ok_or_else(|| InputError("stdin (-) is not available here".into()))?;
            let before = objects.len();
            parse_text("-", text, false, &mut objects)?;
            if objects.len() == before {
                return Err(InputError("stdin (-) holds no Kubernetes objects".into()));
            }
            continue;
        }
        if !path.exists() {
            return Err(InputError(format!(
                "{} does not exist; pass a manifest file, a directory or - for stdin",
                path.display()
            )));
        }
        let files = if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            if files.is_empty() {
                return Err(InputError(format!(
                    "directory {} holds no .yaml, .yml or .json files",
                    path.display()
                )));
            }
            files
        } else {
            vec![path.clone()]
        };
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| InputError(format!("cannot read {}: {e}", f.display())))?;
            let name = f.display().to_string();
            let before = objects.len();
            let json = f.extension().and_then(|e| e.to_str()) == Some("json");
            parse_text(&name, &text, json, &mut objects)?;
            if objects.len() == before && !path.is_dir() {
                return Err(InputError(format!("{name} holds no Kubernetes objects")));
            }
        }
    }
    Ok(objects)
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

fn parse_text(
    name: &str,
    text: &str,
    json: bool,
    out: &mut Vec<InputObject>,
) -> Result<(), InputError> {
    let docs: Vec<(usize, Value)> = if json {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| InputError(format!("{name}: not valid JSON: {e}")))?;
        vec![(1, v)]
    } else {
        let mut docs = Vec::new();
        for doc in split_documents(text).into_iter().filter(|d| !d.is_blank()) {
            let n = docs.len() + 1;
            let v: Value = serde_yaml_ng::from_str(doc.text).map_err(|e| {
                let line = e.location().map_or(doc.line, |l| doc.line + l.line() - 1);
                InputError(format!(
                    "{name}: document {n} (line {line}): not valid YAML: {e}"
                ))
            })?;
            docs.push((doc.line, v));
        }
        docs
    };
    for (i, (line, v)) in docs.into_iter().enumerate() {
        let source = format!("{name}#{}", i + 1);
        if v.is_null() {
            continue;
        }
        push_object(&source, line, v, out)?;
    }
    Ok(())
}

fn push_object(
    source: &str,
    line: usize,
    v: Value,
    out: &mut Vec<InputObject>,
) -> Result<(), InputError> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !v.is_object() || kind.is_empty() || api.is_empty() {
        return Err(InputError(format!(
            "{source} (line {line}): not a Kubernetes object: apiVersion and kind are required"
        )));
    }
    if kind.ends_with("List") {
        if let Some(items) = v.get("items").and_then(Value::as_array) {
            for item in items {
                push_object(source, line, item.clone(), out)?;
            }
            return Ok(());
        }
    }
    out.push(InputObject {
        source: source.to_string(),
        line,
        object: v,
    });
    Ok(())
}

/// Kinds that live outside namespaces (a namespace is never defaulted for them).
const CLUSTER_SCOPED: [&str; 18] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "CSIDriver",
    "VolumeAttachment",
    "Tenant",
];

/// The requester `check` judges as.
pub fn requester(as_user: Option<&str>, as_groups: &[String], engine: &Engine) -> User {
    match as_user {
        Some(u) => User {
            username: u.to_string(),
            groups: as_groups.to_vec(),
        },
        None => {
            let admins = &engine.policies.settings.admins;
            let mut groups = admins.groups.clone();
            groups.extend(as_groups.iter().cloned());
            User {
                username: admins
                    .users
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "kubernetes-admin".to_string()),
                groups,
            }
        }
    }
}

/// The CREATE request the apiserver would send for `obj`.
pub fn create_request(obj: &Value, default_namespace: &str, user: &User) -> Request {
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let meta = obj.get("metadata");
    let field = |f: &str| meta.and_then(|m| m.get(f)).and_then(Value::as_str);
    let namespace = if CLUSTER_SCOPED.contains(&kind) {
        String::new()
    } else {
        field("namespace").unwrap_or(default_namespace).to_string()
    };
    Request {
        uid: String::new(),
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        namespace,
        name: field("name")
            .or(field("generateName"))
            .unwrap_or("")
            .to_string(),
        operation: Operation::Create,
        user: user.clone(),
        dry_run: false,
        object: Some(obj.clone()),
        old_object: None,
    }
}

#[derive(Debug, Serialize)]
pub struct ViolationOut {
    pub rule: String,
    pub action: String,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ResultOut {
    pub source: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub tenant: Option<String>,
    pub allowed: bool,
    pub violations: Vec<ViolationOut>,
    pub warnings: Vec<String>,
    pub patch: Vec<json_patch::PatchOperation>,
    #[serde(skip)]
    pub line: usize,
    /// Why no rule judged the object, when none did (text output only).
    #[serde(skip)]
    pub not_judged: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub objects: usize,
    pub denied: usize,
    pub warned: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub results: Vec<ResultOut>,
    pub summary: Summary,
}

impl Report {
    /// 0: all admitted; 1: at least one denied.
    pub fn exit_code(&self) -> i32 {
        if self.summary.denied > 0 {
            1
        } else {
            0
        }
    }
}

/// Adds the Namespaces and Tenants of the input to the inventory.
pub fn absorb_inputs(inv: &mut Inventory, objects: &[InputObject]) -> Result<(), InputError> {
    for o in objects {
        tenancy::absorb(inv, &o.object, &o.source).map_err(|e| InputError(e.to_string()))?;
    }
    Ok(())
}

/// Judges every object.
pub fn run(
    engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    default_namespace: &str,
    user: &User,
) -> Report {
    let mut results = Vec::with_capacity(objects.len());
    for o in objects {
        let req = create_request(&o.object, default_namespace, user);
        let outcome: Outcome = engine.admit(&req, inv);
        let not_judged = match engine.standing(&req, inv) {
            Standing::OutOfScope if req.namespace.is_empty() && req.kind != "Namespace" => {
                Some("cluster-scoped object".to_string())
            }
            Standing::OutOfScope => Some(format!(
                "namespace {:?} is exempt or not a tenant namespace",
                if req.kind == "Namespace" {
                    &req.name
                } else {
                    &req.namespace
                }
            )),
            _ => None,
        };
        let mut violations: Vec<ViolationOut> = outcome
            .findings
            .iter()
            .map(|f| ViolationOut {
                rule: f.rule.as_str().to_string(),
                action: f.action.as_str().to_string(),
                path: f.path.clone(),
                message: f.message.clone(),
            })
            .collect();
        if let Some(e) = &outcome.error {
            violations.push(ViolationOut {
                rule: "input".to_string(),
                action: "Deny".to_string(),
                path: String::new(),
                message: e.clone(),
            });
        }
        results.push(ResultOut {
            source: o.source.clone(),
            kind: req.kind.clone(),
            namespace: req.namespace.clone(),
            name: req.name.clone(),
            tenant: outcome.tenant.clone(),
            allowed: outcome.allowed,
            violations,
            warnings: outcome.warnings.clone(),
            patch: outcome.patch.clone(),
            line: o.line,
            not_judged,
        });
    }
    let summary = Summary {
        objects: results.len(),
        denied: results.iter().filter(|r| !r.allowed).count(),
        warned: results.iter().filter(|r| !r.warnings.is_empty()).count(),
    };
    Report { results, summary }
}

/// A JSON Patch operation as a person reads it.
pub fn describe_op(op: &json_patch::PatchOperation) -> String {
    let v = serde_json::to_value(op).unwrap_or(Value::Null);
    let verb = v.get("op").and_then(Value::as_str).unwrap_or("?");
    let path = v.get("path").and_then(Value::as_str).unwrap_or("");
    let readable: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let value = v.get("value").map(|x| x.to_string()).unwrap_or_default();
    match verb {
        "add" => format!("set {} = {value}", readable.join(".")),
        "replace" => format!("change {} to {value}", readable.join(".")),
        "remove" => format!("remove {}", readable.join(".")),
        other => format!("{other} {path} {value}"),
    }
}

/// The report for people: one block per object.
pub fn render_text(report: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in &report.results {
        let verdict = if !r.allowed {
            "DENIED "
        } else if !r.warnings.is_empty() {
            "WARNED "
        } else {
            "ALLOWED"
        };
        let target = if r.namespace.is_empty() {
            r.name.clone()
        } else {
            format!("{}/{}", r.namespace, r.name)
        };
        let _ = write!(
            s,
            "{verdict} {} {target}  ({}, line {})",
            r.kind, r.source, r.line
        );
        match (&r.tenant, &r.not_judged) {
            (Some(t), _) => {
                let _ = write!(s, "  tenant {t}");
            }
            (None, Some(why)) => {
                let _ = write!(s, "  not judged: {why}");
            }
            _ => {}
        }
        s.push('\n');
        for v in &r.violations {
            let mark = match v.action.as_str() {
                "Deny" => "x",
                "Warn" => "!",
                _ => "i",
            };
            let _ = writeln!(s, "  {mark} [{}] {} ({})", v.rule, v.path, v.action);
            let _ = writeln!(s, "      {}", v.message);
        }
        if !r.patch.is_empty() {
            let _ = writeln!(s, "  ~ mutation ({} changes):", r.patch.len());
            for op in &r.patch {
                let _ = writeln!(s, "      {}", describe_op(op));
            }
        }
    }
    let _ = writeln!(
        s,
        "\n{} objects, {} denied, {} warned",
        report.summary.objects, report.summary.denied, report.summary.warned
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_and_lists() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# empty\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n- {apiVersion: v1, kind: Service, metadata: {name: t}}\n";
        let mut out = Vec::new();
        parse_text("f.yaml", text, false, &mut out).unwrap();
        let got: Vec<_> = out.iter().map(|o| (o.source.as_str(), o.line)).collect();
        assert_eq!(got, [("f.yaml#1", 1), ("f.yaml#2", 7), ("f.yaml#2", 7)]);
    }

    #[test]
    fn bad_yaml_names_file_and_document() {
        let mut out = Vec::new();
        let err = parse_text(
            "f.yaml",
            "apiVersion: v1\nkind: Pod\n---\nkind: [\n",
            false,
            &mut out,
        )
        .unwrap_err();
        assert!(err.0.starts_with("f.yaml: document 2 (line "), "{err}");
        let err = parse_text("f.yaml", "just a string\n", false, &mut out).unwrap_err();
        assert!(err.0.contains("apiVersion and kind are required"), "{err}");
    }

    #[test]
    fn missing_and_empty_inputs_are_errors() {
        assert!(read_inputs(&[PathBuf::from("/nonexistent.yaml")], None).is_err());
        let dir = tempfile::tempdir().unwrap();
        let err = read_inputs(&[dir.path().to_path_buf()], None).unwrap_err();
        assert!(err.0.contains("holds no .yaml"), "{err}");
        assert!(read_inputs(&[PathBuf::from("-")], Some("")).is_err());
    }

    #[test]
    fn request_defaults() {
        let u = User::default();
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let r = create_request(&pod, "default", &u);
        assert_eq!(
            (r.group.as_str(), r.version.as_str(), r.namespace.as_str()),
            ("", "v1", "default")
        );
        let d = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "x"}});
        let r = create_request(&d, "default", &u);
        assert_eq!((r.group.as_str(), r.namespace.as_str()), ("apps", "x"));
        let ns =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}});
        assert_eq!(create_request(&ns, "default", &u).namespace, "");
    }
}
