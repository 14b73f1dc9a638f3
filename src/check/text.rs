//! The `check` report for people: one block per object with its verdict,
//! where it came from, each violation (rule, field path, message with the
//! fix), and the mutation as a list of changes rather than raw JSON Patch.
//!
//! ```text
//! DENIED  Pod globex-prod/web  (tenant globex)
//!   from  k8s/web.yaml#1, line 1
//!   deny  [require-limits] spec.containers[0] "app": resources.limits.cpu is not set; set it ...
//!         at spec.containers[0].resources.limits.cpu
//!   patch + metadata.labels["tenantguard.io/tenant"]: "globex"
//! ```
//!
//! A pod that asks for Vault also gets its requests and limits with the
//! Vault Agent containers ([`super::resources`]):
//!
//! ```text
//!   pod   requests cpu 125m, memory 160Mi; limits cpu 600m, memory 576Mi (with the Vault Agent)
//!         Vault Agent (sidecar and init container, each): requests cpu 25m, ...
//! ```

use std::fmt::Write;

use serde_json::Value;

use super::Report;

/// A path segment as a person reads it: `.name`, `[0]` or `["a.b/c"]`.
fn segment(out: &mut String, key: &str, index: bool) {
    let plain = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if index {
        let _ = write!(out, "[{key}]");
    } else if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        let _ = write!(out, "[{}]", Value::from(key));
    }
}

/// A JSON Pointer into `original` as a dotted path; whether a segment is an
/// array index comes from the object itself, not from the segment's look.
fn readable_path(original: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = Some(original);
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Some(Value::Array(items)) => {
                at = key.parse::<usize>().ok().and_then(|i| items.get(i));
                segment(&mut out, &key, true);
            }
            Some(v) => {
                at = v.get(&key);
                segment(&mut out, &key, false);
            }
            None => segment(&mut out, &key, false),
        }
    }
    out
}

/// One line per leaf of `value`, each `<mark> <path>: <JSON value>`.
fn leaves(path: &str, value: &Value, mark: char, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut p = path.to_string();
                segment(&mut p, k, false);
                leaves(&p, v, mark, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                let mut p = path.to_string();
                segment(&mut p, &i.to_string(), true);
                leaves(&p, v, mark, out);
            }
        }
        _ => out.push(format!("{mark} {path}: {value}")),
    }
}

/// A mutation as readable changes: `+` added, `~` replaced, `-` removed.
pub fn describe_patch(original: &Value, patch: &[json_patch::PatchOperation]) -> Vec<String> {
    let mut out = Vec::new();
    for op in patch {
        let v = serde_json::to_value(op).unwrap_or(Value::Null);
        let verb = v.get("op").and_then(Value::as_str).unwrap_or("?");
        let pointer = v.get("path").and_then(Value::as_str).unwrap_or("");
        let path = readable_path(original, pointer);
        let value = v.get("value").unwrap_or(&Value::Null);
        match verb {
            "add" => leaves(&path, value, '+', &mut out),
            "replace" => leaves(&path, value, '~', &mut out),
            "remove" => out.push(format!("- {path}")),
            // The engine's diff only adds, replaces and removes.
            other => out.push(format!("{other} {pointer}")),
        }
    }
    out
}

fn line(s: &mut String, label: &str, text: &str) {
    let _ = writeln!(s, "  {label:<6}{text}");
}

/// The report for people: one block per object, then the totals.
pub fn render_text(report: &Report) -> String {
    let mut s = String::new();
    for r in &report.results {
        let verdict = if !r.allowed {
            "DENIED"
        } else if !r.warnings.is_empty() {
            "WARNED"
        } else {
            "ALLOWED"
        };
        let name = if r.name.is_empty() {
            "(no name)"
        } else {
            &r.name
        };
        let _ = write!(s, "{verdict:<7} {} ", r.kind);
        if !r.namespace.is_empty() {
            let _ = write!(s, "{}/", r.namespace);
        }
        s.push_str(name);
        if let Some(t) = &r.tenant {
            let _ = write!(s, "  (tenant {t})");
        }
        s.push('\n');
        // Objects read from a cluster have no line.
        let at = if r.line > 0 {
            format!(", line {}", r.line)
        } else {
            String::new()
        };
        line(&mut s, "from", &format!("{}{at}", r.source));
        if let Some(n) = &r.note {
            line(&mut s, "note", n);
        }
        // `[rule] message`, as the webhook's denial reads (DESIGN's
        // example), then the field's path on its own line unless the
        // message starts with it.
        for v in &r.violations {
            let label = v.action.to_ascii_lowercase();
            line(&mut s, &label, &format!("[{}] {}", v.rule, v.message));
            if !v.path.is_empty() && !v.message.starts_with(&v.path) {
                line(&mut s, "", &format!("at {}", v.path));
            }
        }
        for (i, change) in r.changes.iter().enumerate() {
            line(&mut s, if i == 0 { "patch" } else { "" }, change);
        }
        for (i, text) in r.resources.iter().enumerate() {
            line(&mut s, if i == 0 { "pod" } else { "" }, text);
        }
        s.push('\n');
    }
    let sum = &report.summary;
    let _ = writeln!(
        s,
        "{} object(s): {} allowed, {} denied, {} with warnings",
        sum.objects,
        sum.objects - sum.denied,
        sum.denied,
        sum.warned
    );
    for n in &report.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_read_as_changes() {
        let original = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}], "x": 1, "0": {}}});
        let patch: Vec<json_patch::PatchOperation> = serde_json::from_value(json!([
            {"op": "add", "path": "/metadata/labels", "value": {"tenantguard.io/tenant": "acme", "app": "web"}},
            {"op": "add", "path": "/spec/containers/0/resources", "value": {"limits": {"cpu": "1"}}},
            {"op": "replace", "path": "/spec/x", "value": [{"k": true}, 2]},
            {"op": "add", "path": "/spec/0/7", "value": {}},
            {"op": "remove", "path": "/spec/containers/0/name"}
        ]))
        .unwrap();
        assert_eq!(
            describe_patch(&original, &patch),
            [
                "+ metadata.labels.app: \"web\"",
                "+ metadata.labels[\"tenantguard.io/tenant\"]: \"acme\"",
                "+ spec.containers[0].resources.limits.cpu: \"1\"",
                "~ spec.x[0].k: true",
                "~ spec.x[1]: 2",
                "+ spec[\"0\"][\"7\"]: {}",
                "- spec.containers[0].name",
            ]
        );
    }
}
