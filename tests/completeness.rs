//! Completeness of the rule registry, in the spirit of pod-security-admission's
//! check registry tests: every rule in `RuleId::ALL` has everything a rule
//! needs to be a rule (the checklist in `docs/rules.md`), so a rule added to
//! the `registry!` list cannot ship half-done:
//!
//! - its file under `src/policy/rules/` with its table of cases;
//! - a Policy document for it in `policies/` (and the chart's copy);
//! - an HTTPS end-to-end case in `tests/rules_e2e.rs`;
//! - the chart's webhook rules send it every kind, operation and
//!   subresource it judges, to the right endpoint (`/mutate` or `/validate`).
//!
//! Acceptance cases (and that every acceptance YAML file is run) are checked
//! in `tests/acceptance.rs`, which owns their format.
//!
//! Each failure says what is missing and where to add it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tenantguard::engine::resource_of;
use tenantguard::policy::rules::{GroupKind, Operation};
use tenantguard::policy::RuleId;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn snake(rule: RuleId) -> String {
    rule.as_str().replace('-', "_")
}

fn assert_none(what: &str, fails: Vec<String>) {
    assert!(
        fails.is_empty(),
        "{} gap(s) in {what}:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

#[test]
fn every_rule_has_its_file_with_a_table_of_cases() {
    let mut fails = Vec::new();
    for rule in RuleId::ALL {
        let rel = format!("src/policy/rules/{}.rs", snake(rule));
        let Ok(text) = std::fs::read_to_string(repo().join(&rel)) else {
            fails.push(format!(
                "{rule}: no {rel}; a rule's file is named after its id (the registry! line is `Variant => {}::Struct`)",
                snake(rule)
            ));
            continue;
        };
        if !text.contains("impl Rule for") {
            fails.push(format!("{rule}: {rel} has no `impl Rule for ...`"));
        }
        let inline = text.contains("mod tests {");
        let beside = text.contains("mod tests;")
            && repo()
                .join(format!("src/policy/rules/{}/tests.rs", snake(rule)))
                .is_file();
        if !(text.contains("#[cfg(test)]") && (inline || beside)) {
            fails.push(format!(
                "{rule}: {rel} has no table of cases: add `#[cfg(test)] mod tests {{ ... }}` (or `mod tests;` with src/policy/rules/{}/tests.rs when the file would pass ~600 lines)",
                snake(rule)
            ));
        }
    }
    assert_none("a rule file with its cases", fails);
}

/// The `spec.rule` of every Policy document in a directory.
fn policy_rules(dir: &Path) -> BTreeSet<String> {
    let mut rules = BTreeSet::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let p = entry.expect("entry").path();
        if !p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("policy file");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else {
                continue;
            };
            if v["kind"] == "Policy" {
                if let Some(r) = v["spec"]["rule"].as_str() {
                    rules.insert(r.to_string());
                }
            }
        }
    }
    rules
}

#[test]
fn every_rule_has_a_policy_file() {
    let mut fails = Vec::new();
    for (dir, fix) in [
        ("policies", "add policies/{id}.yaml (kind: Policy, spec.rule: {id}, the action and params a cluster should start with, and a comment saying why)"),
        ("charts/tenantguard/policies", "run scripts/sync-chart-policies.sh to copy policies/ into the chart"),
    ] {
        // The directory must load as the server would load it.
        if let Err(e) = tenantguard::policy::load_dir(&repo().join(dir)) {
            fails.push(format!("{dir} does not load: {e}"));
        }
        let have = policy_rules(&repo().join(dir));
        for rule in RuleId::ALL {
            if !have.contains(rule.as_str()) {
                fails.push(format!(
                    "{rule}: no Policy with spec.rule: {rule} in {dir}/; {}",
                    fix.replace("{id}", rule.as_str())
                ));
            }
        }
    }
    assert_none("a policy file", fails);
}

#[test]
fn every_rule_has_an_https_end_to_end_case() {
    // tests/rules_e2e.rs and its modules under tests/rules_e2e/.
    let mut text =
        std::fs::read_to_string(repo().join("tests/rules_e2e.rs")).expect("rules_e2e.rs");
    if let Ok(dir) = std::fs::read_dir(repo().join("tests/rules_e2e")) {
        for entry in dir.flatten() {
            if entry.path().extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(entry.path()).expect("an e2e module"));
            }
        }
    }
    let fails = RuleId::ALL
        .iter()
        .filter(|r| !text.contains(r.as_str()))
        .map(|r| {
            format!(
                "{r}: neither tests/rules_e2e.rs nor tests/rules_e2e/*.rs names it; add a case there (one review over HTTPS: {}) and name the rule in it",
                if r.is_mutating() {
                    "the patch it makes".to_string()
                } else {
                    format!("a denial whose message carries [{r}]")
                }
            )
        })
        .collect();
    assert_none("an HTTPS end-to-end case", fails);
}

/// Kinds rules judge that the chart deliberately does not send.
const NOT_SENT: &[(GroupKind, &str)] = &[(
    GroupKind::new("", "PodTemplate"),
    "no controller makes pods from a PodTemplate object; `check` judges it offline",
)];

/// The `rules` of the chart's webhook configuration of `kind`, as rendered
/// with the default values.
fn webhook_rules(docs: &[Value], kind: &str) -> Vec<Value> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .flat_map(|d| d["webhooks"].as_array().cloned().unwrap_or_default())
        .flat_map(|w| w["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn lists(v: &Value, field: &str, want: &str) -> bool {
    v[field]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == want || x == "*"))
}

fn covers(rules: &[Value], group: &str, resource: &str, op: &str) -> bool {
    rules.iter().any(|r| {
        lists(r, "apiGroups", group)
            && (lists(r, "resources", resource)
                || (resource.contains('/')
                    && lists(
                        r,
                        "resources",
                        &format!("{}/*", resource.split('/').next().unwrap_or("")),
                    )))
            && lists(r, "operations", op)
    })
}

#[test]
fn the_chart_sends_every_rule_what_it_judges() {
    let text = common::helm_template(&["--show-only", "templates/webhooks.yaml"]);
    let docs: Vec<Value> = text
        .split("\n---")
        .filter_map(|d| serde_yaml_ng::from_str::<Value>(d).ok())
        .filter(Value::is_object)
        .collect();
    let mutating = webhook_rules(&docs, "MutatingWebhookConfiguration");
    let validating = webhook_rules(&docs, "ValidatingWebhookConfiguration");
    assert!(
        !mutating.is_empty() && !validating.is_empty(),
        "no webhook rules rendered:\n{text}"
    );
    let mut fails = Vec::new();
    for rule in RuleId::ALL {
        let (rules, list) = if rule.is_mutating() {
            (&mutating, "webhook.mutatingRules")
        } else {
            (&validating, "webhook.validatingRules")
        };
        let mut resources = Vec::new();
        for gk in rule.specific_kinds() {
            if NOT_SENT.iter().any(|(n, _)| n == gk) {
                continue;
            }
            let Some(resource) = resource_of(gk.group, gk.kind) else {
                fails.push(format!(
                    "{rule}: judges {}/{}, a kind tenantguard does not know the resource of; add it to known() and kind_of_resource() in src/engine/sent.rs",
                    gk.group, gk.kind
                ));
                continue;
            };
            resources.push((gk.group, resource));
            for op in rule.operations() {
                if !covers(rules, gk.group, resource, op.as_str()) {
                    fails.push(format!(
                        "{rule}: the chart does not send {} {resource} (group {:?}) to {}; add it to {list} in charts/tenantguard/values.yaml",
                        op.as_str(),
                        gk.group,
                        if rule.is_mutating() { "/mutate" } else { "/validate" },
                    ));
                }
            }
        }
        for sub in rule.subresources() {
            let sent = resources.iter().any(|(g, r)| {
                rule.operations()
                    .iter()
                    .filter(|op| **op != Operation::Delete)
                    .any(|op| covers(rules, g, &format!("{r}/{sub}"), op.as_str()))
            });
            if !sent {
                fails.push(format!(
                    "{rule}: judges subresource {sub}, but no <resource>/{sub} of its kinds is in {list} in charts/tenantguard/values.yaml"
                ));
            }
        }
    }
    assert_none("the chart's webhook rules", fails);
}

#[test]
fn every_rule_is_documented() {
    let text = std::fs::read_to_string(repo().join("docs/rules.md")).expect("docs/rules.md");
    let fails = RuleId::ALL
        .iter()
        .filter(|r| !text.contains(&format!("| `{r}` |")))
        .map(|r| {
            format!(
                "{r}: docs/rules.md has no row for it; add `| `{r}` | what it judges | what it {} |` to the {} table",
                if r.is_mutating() { "adds" } else { "rejects" },
                if r.is_mutating() { "mutating" } else { "validating" }
            )
        })
        .collect();
    assert_none("the rules documentation", fails);
}
