//! Acceptance suite written against the design contract only (DESIGN.md, the
//! team's specification; `docs/` describes it in the repository), by people who
//! did not write the rules: adversarial manifests in `tests/acceptance/`, run
//! through the real binary (`check -o json`, and `review` for UPDATE/DELETE),
//! with the expected verdict written beside each document.
//!
//! Format (see `tests/acceptance/README.md`): files are multi-document YAML
//! split on lines that are exactly `---`; the N-th document is `file#N`.
//! Comment lines in a document carry its expectation:
//!
//! ```text
//! # expect: allow | deny RULE [RULE...] | unjudgeable | any
//! # after: /json/pointer = JSON | absent     (the object after the patch)
//! # patch: JSON                               (the exact patch)
//! # path: RULE = dotted.path[0].x            (a violation of RULE has this path)
//! # endpoint: mutate | validate               (review files only)
//! ```
//!
//! and `#! as: USER` / `#! group: GROUP` lines anywhere in a file name the
//! requester of every document in it. Every check file is also re-run on its
//! own mutated output (the patch must then be `[]`, the verdict unchanged) and
//! every patch is applied twice (nothing more may change).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tenantguard"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn suite() -> PathBuf {
    repo().join("tests/acceptance")
}

fn inventory() -> PathBuf {
    suite().join("inventory.yaml")
}

/// The inventory a case file names with `#! inventory: FILE`, else the shared one.
fn inventory_of(cf: &CaseFile) -> PathBuf {
    cf.inventory
        .as_ref()
        .map(|f| suite().join(f))
        .unwrap_or_else(inventory)
}

/// A copy of the repo's `policies/` with `tests/acceptance/settings.yaml` as
/// its Settings.
fn policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(repo().join("policies")).expect("policies/") {
        let p = entry.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).expect("copy policy");
        }
    }
    std::fs::copy(
        suite().join("settings.yaml"),
        dir.path().join("settings.yaml"),
    )
    .expect("copy settings");
    dir
}

/// Every rule id, from the rule registry (so a new rule needs no line here).
fn rule_ids() -> Vec<&'static str> {
    tenantguard::policy::RuleId::ALL
        .iter()
        .map(|r| r.as_str())
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Allow,
    Deny(BTreeSet<String>),
    /// Denied as unjudgeable: no rule finding (review: no `[rule]` tag and
    /// status 400; check: only the `cannot-judge` pseudo-rule).
    Unjudgeable,
    Any,
}

#[derive(Debug)]
struct Doc {
    index: usize,
    name: String,
    text: String,
    expect: Expect,
    after: Vec<(String, Option<Value>)>,
    patch: Option<Value>,
    paths: Vec<(String, String)>,
    endpoint: Option<String>,
}

struct CaseFile {
    docs: Vec<Doc>,
    /// `#! rule: RULE` lines: the rules this file's cases exercise besides
    /// those their `# expect: deny` lines name (mutating rules, whose cases
    /// expect a patch).
    rules: Vec<String>,
    as_user: Option<String>,
    groups: Vec<String>,
    inventory: Option<String>,
}

fn parse_file(rel: &str) -> CaseFile {
    let path = suite().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut as_user = None;
    let mut groups = Vec::new();
    let mut inventory = None;
    let mut rules = Vec::new();
    for line in text.lines() {
        if let Some(u) = line.strip_prefix("#! as:") {
            as_user = Some(u.trim().to_string());
        } else if let Some(g) = line.strip_prefix("#! group:") {
            groups.push(g.trim().to_string());
        } else if let Some(i) = line.strip_prefix("#! inventory:") {
            inventory = Some(i.trim().to_string());
        } else if let Some(r) = line.strip_prefix("#! rule:") {
            let r = r.trim().to_string();
            assert!(
                rule_ids().contains(&r.as_str()),
                "{rel}: #! rule: unknown rule {r}"
            );
            rules.push(r);
        }
    }
    let mut chunks: Vec<String> = vec![String::new()];
    for line in text.lines() {
        if line == "---" {
            chunks.push(String::new());
        } else {
            let last = chunks.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    let docs = chunks
        .into_iter()
        .enumerate()
        .map(|(i, t)| parse_doc(rel, i + 1, t))
        .collect();
    CaseFile {
        docs,
        rules,
        as_user,
        groups,
        inventory,
    }
}

fn parse_doc(rel: &str, index: usize, text: String) -> Doc {
    let mut expect = None;
    let mut after = Vec::new();
    let mut patch = None;
    let mut paths = Vec::new();
    let mut endpoint = None;
    for line in text.lines() {
        let Some(d) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, val)) = d.split_once(':') else {
            continue;
        };
        let val = val.trim();
        match key {
            "expect" => {
                let mut words = val.split_whitespace();
                expect = Some(match words.next() {
                    Some("allow") => Expect::Allow,
                    Some("any") => Expect::Any,
                    Some("unjudgeable") => Expect::Unjudgeable,
                    Some("deny") => {
                        let rules: BTreeSet<String> = words.map(str::to_string).collect();
                        for r in &rules {
                            assert!(
                                rule_ids().contains(&r.as_str()),
                                "{rel}#{index}: unknown rule {r}"
                            );
                        }
                        assert!(!rules.is_empty(), "{rel}#{index}: deny needs rule ids");
                        Expect::Deny(rules)
                    }
                    other => panic!("{rel}#{index}: bad expect {other:?}"),
                });
            }
            "after" => {
                let (ptr, v) = val
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("{rel}#{index}: after needs `ptr = json`"));
                let v = if v.trim() == "absent" {
                    None
                } else {
                    Some(
                        serde_json::from_str(v.trim())
                            .unwrap_or_else(|e| panic!("{rel}#{index}: after value {v}: {e}")),
                    )
                };
                after.push((ptr.trim().to_string(), v));
            }
            "patch" => {
                patch = Some(
                    serde_json::from_str(val)
                        .unwrap_or_else(|e| panic!("{rel}#{index}: patch {val}: {e}")),
                )
            }
            "path" => {
                let (r, p) = val
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("{rel}#{index}: path needs `rule = path`"));
                paths.push((r.trim().to_string(), p.trim().to_string()));
            }
            "endpoint" => endpoint = Some(val.to_string()),
            _ => {}
        }
    }
    let expect = expect.unwrap_or_else(|| panic!("{rel}#{index}: no `# expect:` line"));
    let obj = yaml_to_json(&text);
    let name = obj
        .pointer("/metadata/name")
        .or_else(|| obj.pointer("/object/metadata/name"))
        .or_else(|| obj.pointer("/oldObject/metadata/name"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    Doc {
        index,
        name,
        text,
        expect,
        after,
        patch,
        paths,
        endpoint,
    }
}

fn yaml_to_json(text: &str) -> Value {
    let y: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).expect("case YAML");
    serde_json::to_value(y).expect("YAML as JSON")
}

/// namespace -> tenant, from the shared inventory.
fn tenants_by_namespace(inv: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(inv).unwrap();
    let mut out = BTreeMap::new();
    for d in serde_yaml_ng::Deserializer::from_str(&text) {
        let y = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(d).unwrap();
        let v = serde_json::to_value(y).unwrap();
        if v["kind"] == "Namespace" {
            if let Some(t) = v.pointer("/metadata/labels/tenantguard.io~1tenant") {
                out.insert(
                    v["metadata"]["name"].as_str().unwrap().to_string(),
                    t.as_str().unwrap().to_string(),
                );
            }
        }
    }
    out
}

fn run_check(file: &Path, pol: &Path, cf: &CaseFile) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("check")
        .arg("-f")
        .arg(file)
        .arg("--inventory")
        .arg(inventory_of(cf))
        .arg("--policies")
        .arg(pol)
        .args(["-o", "json"]);
    if let Some(u) = &cf.as_user {
        cmd.args(["--as", u]);
    }
    for g in &cf.groups {
        cmd.args(["--as-group", g]);
    }
    cmd.output().expect("run tenantguard check")
}

fn deny_rules(result: &Value) -> BTreeSet<String> {
    result["violations"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["action"] == "Deny")
                .filter_map(|v| v["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn apply(obj: &Value, patch: &Value) -> Result<Value, String> {
    let p: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("not an RFC 6902 patch: {e}"))?;
    let mut o = obj.clone();
    json_patch::patch(&mut o, &p).map_err(|e| format!("patch does not apply: {e}"))?;
    Ok(o)
}

/// A dotted path with indexes: `spec.containers[1].resources`, never `.1.`.
fn path_is_dotted(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && !p.split('.').any(|s| s.parse::<u64>().is_ok())
}

fn fmt_expect(e: &Expect) -> String {
    match e {
        Expect::Allow => "allow".into(),
        Expect::Any => "any".into(),
        Expect::Unjudgeable => "unjudgeable".into(),
        Expect::Deny(r) => format!("deny {}", r.iter().cloned().collect::<Vec<_>>().join(" ")),
    }
}

fn fmt_actual(r: &Value) -> String {
    let vs: Vec<String> = r["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            format!(
                "[{} {}] {} {}",
                v["rule"], v["action"], v["path"], v["message"]
            )
        })
        .collect();
    format!(
        "allowed={} violations={:?} patch={}",
        r["allowed"], vs, r["patch"]
    )
}

/// Runs one check file and returns every failed expectation.
fn check_file(rel: &str) -> Vec<String> {
    let cf = parse_file(rel);
    let pol = policies();
    let path = suite().join(rel);
    let out = run_check(&path, pol.path(), &cf);
    let mut fails = Vec::new();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "{rel}: output is not JSON ({e}); exit {:?}\nstdout: {stdout}\nstderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )]
        }
    };
    let results = report["results"].as_array().cloned().unwrap_or_default();
    let by_ns = tenants_by_namespace(&inventory_of(&cf));

    // Exit code and summary.
    let any_denied = results.iter().any(|r| r["allowed"] == false);
    let want_exit = if any_denied { 1 } else { 0 };
    if out.status.code() != Some(want_exit) {
        fails.push(format!(
            "{rel}: exit {:?}, expected {want_exit} (some result denied: {any_denied})",
            out.status.code()
        ));
    }
    if report["summary"]["objects"] != json!(cf.docs.len())
        || report["summary"]["denied"]
            != json!(results.iter().filter(|r| r["allowed"] == false).count())
    {
        fails.push(format!(
            "{rel}: summary {} does not match {} documents / the denied results",
            report["summary"],
            cf.docs.len()
        ));
    }

    let mut patched_docs = Vec::new();
    for doc in &cf.docs {
        let id = format!("{rel}#{} ({})", doc.index, doc.name);
        let suffix = format!("#{}", doc.index);
        let Some(r) = results
            .iter()
            .find(|r| r["source"].as_str().is_some_and(|s| s.ends_with(&suffix)))
        else {
            fails.push(format!("{id}: no result with source ending {suffix}"));
            continue;
        };
        let denied = deny_rules(r);
        let ok = match &doc.expect {
            Expect::Allow => r["allowed"] == true && denied.is_empty(),
            Expect::Deny(want) => r["allowed"] == false && &denied == want,
            Expect::Unjudgeable => {
                r["allowed"] == false && denied == BTreeSet::from(["cannot-judge".to_string()])
            }
            Expect::Any => true,
        };
        if !ok {
            fails.push(format!(
                "{id}: expected {}, got {}",
                fmt_expect(&doc.expect),
                fmt_actual(r)
            ));
        }
        if r["allowed"] != json!(denied.is_empty()) {
            fails.push(format!(
                "{id}: `allowed` disagrees with the Deny violations: {}",
                fmt_actual(r)
            ));
        }
        for v in r["violations"].as_array().into_iter().flatten() {
            let p = v["path"].as_str().unwrap_or("");
            if !path_is_dotted(p) {
                fails.push(format!(
                    "{id}: violation path {p:?} is not dotted with [indexes]"
                ));
            }
            if v["message"].as_str().is_none_or(str::is_empty) {
                fails.push(format!("{id}: violation without message: {v}"));
            }
        }
        for (rule, p) in &doc.paths {
            let found = r["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v["rule"] == rule.as_str() && v["path"] == p.as_str());
            if !found {
                fails.push(format!(
                    "{id}: no {rule} violation at path {p}: {}",
                    fmt_actual(r)
                ));
            }
        }
        // tenant: the namespace's tenant, null outside tenant namespaces.
        let obj = yaml_to_json(&doc.text);
        if obj["kind"] != "Namespace" && obj["kind"] != "Tenant" {
            let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
            let want = by_ns.get(ns).map(|t| json!(t)).unwrap_or(Value::Null);
            if r["tenant"] != want {
                fails.push(format!("{id}: tenant {} expected {want}", r["tenant"]));
            }
        }
        if let Some(p) = &doc.patch {
            if &r["patch"] != p {
                fails.push(format!("{id}: patch {} expected {p}", r["patch"]));
            }
        }
        let patch = r["patch"].clone();
        if !patch.is_array() {
            fails.push(format!("{id}: patch is not an array: {patch}"));
            continue;
        }
        let once = match apply(&obj, &patch) {
            Ok(o) => o,
            Err(e) => {
                fails.push(format!("{id}: {e}: {patch}"));
                continue;
            }
        };
        match apply(&once, &patch) {
            Ok(twice) if twice != once => fails.push(format!(
                "{id}: applying the patch twice changes more: {patch}"
            )),
            Err(e) => fails.push(format!(
                "{id}: patch cannot be applied twice ({e}): {patch}"
            )),
            _ => {}
        }
        for (ptr, want) in &doc.after {
            let got = once.pointer(ptr);
            if got != want.as_ref() {
                fails.push(format!(
                    "{id}: after the patch {ptr} is {}, expected {}",
                    got.map(|v| v.to_string()).unwrap_or("absent".into()),
                    want.as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or("absent".into())
                ));
            }
        }
        patched_docs.push((doc, once, r["allowed"].clone(), denied));
    }

    // Re-run on the mutated objects: nothing more to change, same verdict.
    if patched_docs.len() == cf.docs.len() {
        let dir = tempfile::tempdir().unwrap();
        let again = dir.path().join(Path::new(rel).file_name().unwrap());
        let text: Vec<String> = patched_docs
            .iter()
            .map(|(_, o, _, _)| o.to_string())
            .collect();
        std::fs::write(&again, text.join("\n---\n")).unwrap();
        let out2 = run_check(&again, pol.path(), &cf);
        let rep2: Value = serde_json::from_slice(&out2.stdout).unwrap_or(Value::Null);
        let res2 = rep2["results"].as_array().cloned().unwrap_or_default();
        for (doc, _, allowed, denied) in &patched_docs {
            let id = format!(
                "{rel}#{} ({}) re-run on its mutated self",
                doc.index, doc.name
            );
            let suffix = format!("#{}", doc.index);
            let Some(r2) = res2
                .iter()
                .find(|r| r["source"].as_str().is_some_and(|s| s.ends_with(&suffix)))
            else {
                fails.push(format!("{id}: no result"));
                continue;
            };
            if r2["patch"] != json!([]) {
                fails.push(format!("{id}: not idempotent, patch {}", r2["patch"]));
            }
            if &r2["allowed"] != allowed || &deny_rules(r2) != denied {
                fails.push(format!("{id}: verdict changed: {}", fmt_actual(r2)));
            }
        }
    }
    fails
}

/// `request` of a review document, completed with uid, kind, resource,
/// namespace and name from its object when the document leaves them out.
fn review_request(doc: &Doc) -> Value {
    let mut req = yaml_to_json(&doc.text);
    let obj = if req["object"].is_object() {
        req["object"].clone()
    } else {
        req["oldObject"].clone()
    };
    let m = req.as_object_mut().expect("review document is a mapping");
    m.entry("uid")
        .or_insert(json!(format!("acceptance-{}-{}", doc.index, doc.name)));
    let api = obj["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let gvk = json!({"group": group, "version": version, "kind": kind});
    // The plural resource, as the apiserver names it (tenantguard checks it).
    let lower = kind.to_lowercase();
    let plural = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if lower == "endpoints" => lower,
        None if lower.ends_with('s') => format!("{lower}es"),
        None => format!("{lower}s"),
    };
    let gvr = json!({"group": group, "version": version, "resource": plural});
    m.entry("kind").or_insert(gvk.clone());
    m.entry("requestKind").or_insert(gvk);
    m.entry("resource").or_insert(gvr.clone());
    m.entry("requestResource").or_insert(gvr);
    if let Some(ns) = obj["metadata"]["namespace"].as_str() {
        m.entry("namespace").or_insert(json!(ns));
    }
    if let Some(n) = obj["metadata"]["name"].as_str() {
        m.entry("name").or_insert(json!(n));
    }
    m.entry("dryRun").or_insert(json!(false));
    req
}

/// The `[rule-id]` tags in a denial message.
fn rules_in(message: &str) -> BTreeSet<String> {
    rule_ids()
        .into_iter()
        .filter(|r| message.contains(&format!("[{r}]")))
        .map(|r| r.to_string())
        .collect()
}

fn review_file(rel: &str) -> Vec<String> {
    let cf = parse_file(rel);
    let pol = policies();
    let dir = tempfile::tempdir().unwrap();
    let mut fails = Vec::new();
    for doc in &cf.docs {
        let id = format!("{rel}#{} ({})", doc.index, doc.name);
        let req = review_request(doc);
        let review =
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req});
        let file = dir.path().join(format!("review-{}.json", doc.index));
        std::fs::write(&file, review.to_string()).unwrap();
        let endpoint = doc.endpoint.as_deref().unwrap_or("validate");
        let out = Command::new(bin())
            .arg("review")
            .arg("-f")
            .arg(&file)
            .args(["--endpoint", endpoint])
            .arg("--inventory")
            .arg(inventory_of(&cf))
            .arg("--policies")
            .arg(pol.path())
            .output()
            .expect("run tenantguard review");
        let resp: Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(e) => {
                fails.push(format!(
                    "{id}: review output is not JSON ({e}); exit {:?}; stderr {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let r = &resp["response"];
        if r["uid"] != req["uid"] {
            fails.push(format!("{id}: uid {} not echoed", r["uid"]));
        }
        let allowed = r["allowed"] == true;
        let message = r["status"]["message"].as_str().unwrap_or("");
        let rules = rules_in(message);
        let ok = match &doc.expect {
            Expect::Allow => allowed,
            Expect::Deny(want) => !allowed && &rules == want,
            Expect::Unjudgeable => !allowed && rules.is_empty() && r["status"]["code"] == 400,
            Expect::Any => true,
        };
        if !ok {
            fails.push(format!(
                "{id}: expected {}, got allowed={allowed} message={message:?}",
                fmt_expect(&doc.expect)
            ));
        }
        let want_exit = if allowed { 0 } else { 1 };
        if out.status.code() != Some(want_exit) {
            fails.push(format!(
                "{id}: exit {:?}, expected {want_exit}",
                out.status.code()
            ));
        }
        if endpoint == "mutate" && !doc.after.is_empty() {
            use base64::Engine as _;
            let patch: Value = r["patch"]
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(json!([]));
            match apply(&req["object"], &patch) {
                Ok(o) => {
                    for (ptr, want) in &doc.after {
                        if o.pointer(ptr) != want.as_ref() {
                            fails.push(format!(
                                "{id}: after the patch {ptr} is {:?}",
                                o.pointer(ptr)
                            ));
                        }
                    }
                }
                Err(e) => fails.push(format!("{id}: {e}")),
            }
        }
    }
    fails
}

fn assert_none(fails: Vec<String>) {
    if !fails.is_empty() {
        panic!(
            "{} expectation(s) from DESIGN.md not met:\n\n{}",
            fails.len(),
            fails.join("\n\n")
        );
    }
}

macro_rules! check_cases {
    ($($name:ident => $file:literal),* $(,)?) => {
        /// The case files run through `check`.
        const CHECK_FILES: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $name() {
                assert_none(check_file($file));
            }
        )*
    };
}

macro_rules! review_cases {
    ($($name:ident => $file:literal),* $(,)?) => {
        /// The case files run through `review`.
        const REVIEW_FILES: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $name() {
                assert_none(review_file($file));
            }
        )*
    };
}

check_cases! {
    cross_tenant_networkpolicies => "check/cross-tenant-netpol.yaml",
    cross_tenant_affinity => "check/cross-tenant-affinity.yaml",
    cross_tenant_dedicated_nodes => "check/cross-tenant-nodes.yaml",
    cross_tenant_services => "check/cross-tenant-services.yaml",
    cross_tenant_labels => "check/cross-tenant-labels.yaml",
    cross_tenant_endpoints => "check/cross-tenant-endpoints.yaml",
    restrict_egress => "check/restrict-egress.yaml",
    require_limits => "check/require-limits.yaml",
    require_limits_every_workload_kind => "check/require-limits-workloads.yaml",
    vault_boundaries => "check/vault-boundaries.yaml",
    namespace_ownership_by_user_owner => "check/ns-owner-user.yaml",
    namespace_ownership_by_group_owner => "check/ns-owner-group.yaml",
    namespace_ownership_by_owner_of_two => "check/ns-owner-of-two.yaml",
    namespace_ownership_by_stranger => "check/ns-stranger.yaml",
    namespace_ownership_by_kind_confusion => "check/ns-kind-confusion.yaml",
    namespace_ownership_by_admin_user => "check/ns-admin.yaml",
    namespace_ownership_by_admin_group => "check/ns-admin-group.yaml",
    mutation_tenant_labels => "check/mutate-tenant-labels.yaml",
    mutation_container_defaults => "check/mutate-container-defaults.yaml",
    mutation_vault_injection => "check/mutate-vault-injection.yaml",
    mutation_node_pool => "check/mutate-node-pool.yaml",
    namespace_ownership_by_owner_as_user_and_group => "check/ns-owner-user-and-group.yaml",
    exempt_and_platform_namespaces => "check/exempt-and-platform.yaml",
    undeclared_tenants_get_settings_defaults => "check/undeclared-tenants.yaml",
    undeclared_tenants_have_no_owners => "check/undeclared-tenants-stranger.yaml",
    pods_judged_by_where_they_run_tenant_owner => "check/who-sent-owner.yaml",
    pods_judged_by_where_they_run_controller => "check/who-sent-controller.yaml",
    empty_tenant_label_is_missing => "check/empty-tenant-label.yaml",
    exempt_namespace_objects => "check/exempt-namespace-objects.yaml",
    pod_security_baseline => "check/pod-security-baseline.yaml",
    pod_security_restricted_and_privileged => "check/pod-security-restricted.yaml",
    namespace_metadata_on_create => "check/namespace-metadata.yaml",
    service_types => "check/service-types.yaml",
    allowed_classes => "check/allowed-classes.yaml",
    allowed_registries => "check/allowed-registries.yaml",
    redteam_pods => "check/redteam-pods.yaml",
    redteam_pods_allowed_lists => "check/redteam-pods-allowed.yaml",
    max_namespaces_by_owner => "check/max-namespaces-owner.yaml",
    max_namespaces_by_admin => "check/max-namespaces-admin.yaml",
    vault_agent_resources => "check/vault-agent-resources.yaml",
    ingress_hosts => "check/ingress-hosts.yaml",
    redteam_tenancy => "check/redteam-tenancy.yaml",
    redteam_hosts => "check/redteam-hosts.yaml",
    redteam_hosts_2 => "check/redteam-hosts-2.yaml",
    redteam_budget => "check/redteam-budget.yaml",
    redteam_tenants => "check/redteam-tenants.yaml",
    redteam_tenants_impostor => "check/redteam-tenants-impostor.yaml",
    redteam_tenants_full => "check/redteam-tenants-full.yaml",
    redteam_tenants_two => "check/redteam-tenants-two.yaml",
    redteam_tenants_admin => "check/redteam-tenants-admin.yaml",
}

review_cases! {
    review_namespace_ownership => "review/namespace-ownership.yaml",
    review_managed_objects => "review/managed-objects.yaml",
    review_operations => "review/operations.yaml",
    review_mutate_endpoint => "review/mutate.yaml",
    review_endpoints_by_user => "review/endpoints.yaml",
    review_exempt_namespaces => "review/exempt-namespaces.yaml",
    review_onboarded_mark => "review/onboarded-mark.yaml",
    review_unjudgeable => "review/unjudgeable.yaml",
    review_namespace_metadata => "review/namespace-metadata.yaml",
    review_pod_security_updates => "review/pod-security.yaml",
    review_redteam_tenancy => "review/redteam-tenancy.yaml",
    review_redteam_pods => "review/redteam-pods.yaml",
}

/// Cases where DESIGN.md is ambiguous: run, never asserted; what tenantguard
/// did is printed (`cargo test --test acceptance ambiguous -- --nocapture`).
#[test]
fn ambiguous_cases_are_only_reported() {
    let dir = suite().join("ambiguous");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let pol = policies();
    for f in files {
        let rel = format!("ambiguous/{}", f.file_name().unwrap().to_string_lossy());
        let cf = parse_file(&rel);
        let out = run_check(&f, pol.path(), &cf);
        let rep: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        for r in rep["results"].as_array().into_iter().flatten() {
            eprintln!(
                "{} {} {}: {}",
                r["source"],
                r["kind"],
                r["name"],
                fmt_actual(r)
            );
        }
    }
}

// ---- completeness ------------------------------------------------------------

/// Every file under `tests/acceptance/` (hidden ones too), relative to it.
fn suite_files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("tests/acceptance") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            suite_files(&p, out);
        } else if let Ok(rel) = p.strip_prefix(suite()) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// A case file no test runs is a test that silently does not exist: every
/// YAML file here is a registered check or review file, an ambiguous case
/// (all of `ambiguous/*.yaml` are run), or an inventory/settings file the
/// harness or a `#! inventory:` line reads.
#[test]
fn every_case_file_is_run() {
    let mut files = Vec::new();
    suite_files(&suite(), &mut files);
    let mut support: BTreeSet<String> =
        ["inventory.yaml", "settings.yaml"].map(String::from).into();
    for f in CHECK_FILES.iter().chain(REVIEW_FILES) {
        support.extend(parse_file(f).inventory);
    }
    let mut fails = Vec::new();
    for f in &files {
        let yaml = f.ends_with(".yaml") || f.ends_with(".yml");
        let run = CHECK_FILES.contains(&f.as_str())
            || REVIEW_FILES.contains(&f.as_str())
            || support.contains(f)
            || (f.starts_with("ambiguous/") && f.ends_with(".yaml") && !f.contains("/."));
        if yaml && !run {
            let name = f
                .rsplit('/')
                .next()
                .unwrap_or(f)
                .trim_start_matches('.')
                .split('.')
                .next()
                .unwrap_or("case")
                .replace('-', "_");
            fails.push(match f.split('/').next() {
                Some("check") => format!(
                    "tests/acceptance/{f} is run by no test: add `{name} => \"{f}\",` to check_cases! in tests/acceptance.rs"
                ),
                Some("review") => format!(
                    "tests/acceptance/{f} is run by no test: add `review_{name} => \"{f}\",` to review_cases! in tests/acceptance.rs"
                ),
                _ => format!(
                    "tests/acceptance/{f} is run by no test: move it to check/ or review/ and register it in check_cases! or review_cases! in tests/acceptance.rs (ambiguous/ takes only visible *.yaml files)"
                ),
            });
        }
    }
    for f in CHECK_FILES {
        if !f.starts_with("check/") {
            fails.push(format!(
                "check_cases! lists {f}: check files live in tests/acceptance/check/"
            ));
        }
    }
    for f in REVIEW_FILES {
        if !f.starts_with("review/") {
            fails.push(format!(
                "review_cases! lists {f}: review files live in tests/acceptance/review/"
            ));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Every rule of the registry has acceptance cases: a validating rule in
/// some `# expect: deny RULE` line, a mutating rule in a `#! rule: RULE`
/// line of a file whose cases check the patch (`# after:` or `# patch:`).
#[test]
fn every_rule_has_acceptance_cases() {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for f in CHECK_FILES.iter().chain(REVIEW_FILES) {
        let cf = parse_file(f);
        for d in &cf.docs {
            if let Expect::Deny(rules) = &d.expect {
                named.extend(rules.iter().cloned());
            }
        }
        if cf
            .docs
            .iter()
            .any(|d| !d.after.is_empty() || d.patch.is_some())
        {
            named.extend(cf.rules.iter().cloned());
        }
    }
    let missing: Vec<String> = tenantguard::policy::RuleId::ALL
        .iter()
        .filter(|r| !named.contains(r.as_str()))
        .map(|r| {
            if r.is_mutating() {
                format!(
                    "{r}: no acceptance case. Add tests/acceptance/check/<name>.yaml with `#! rule: {r}` and documents expecting its patch (`# after: /ptr = JSON` or `# patch: [...]`), and register it in check_cases! in tests/acceptance.rs"
                )
            } else {
                format!(
                    "{r}: no acceptance case. Add documents with `# expect: deny {r}` (and the admitted variants) to tests/acceptance/check/ or review/, and register a new file in check_cases! or review_cases! in tests/acceptance.rs"
                )
            }
        })
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

// ---- output contract -------------------------------------------------------

fn check_text(yaml: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.yaml");
    std::fs::write(&f, yaml).unwrap();
    let pol = policies();
    let out = Command::new(bin())
        .arg("check")
        .arg("-f")
        .arg(&f)
        .arg("--inventory")
        .arg(inventory())
        .arg("--policies")
        .arg(pol.path())
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CLEAN_POD: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: initech-prod}
spec:
  containers: [{name: app, image: x, resources: {limits: {cpu: 100m, memory: 64Mi}}}]
";

#[test]
fn exit_codes_0_1_2() {
    let (code, v, _) = check_text(CLEAN_POD, &["-o", "json"]);
    assert_eq!(code, Some(0), "clean: {v}");
    let bad = CLEAN_POD.replace(
        "resources: {limits: {cpu: 100m, memory: 64Mi}}",
        "resources: {}",
    );
    let (code, v, _) = check_text(&format!("{CLEAN_POD}---\n{bad}"), &["-o", "json"]);
    assert_eq!(code, Some(1), "one of two denied: {v}");
    assert_eq!(
        v["summary"],
        json!({"objects": 2, "denied": 1, "warned": 0})
    );
    let (code, _, err) = check_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [oops\n",
        &["-o", "json"],
    );
    assert_eq!(code, Some(2), "malformed YAML is bad input: {err}");
    let (code, _, err) = check_text(CLEAN_POD, &["-o", "yaml"]);
    assert_eq!(code, Some(2), "unknown output format is usage: {err}");
    let out = Command::new(bin())
        .args(["check", "-f", "/nonexistent/acceptance.yaml", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "missing file is bad input");
}

#[test]
fn source_is_file_hash_n_and_stdin_is_dash() {
    let (_, v, _) = check_text(&format!("{CLEAN_POD}---\n{CLEAN_POD}"), &["-o", "json"]);
    let srcs: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert!(
        srcs[0].ends_with("in.yaml#1") && srcs[1].ends_with("in.yaml#2"),
        "{srcs:?}"
    );
    let pol = policies();
    let mut child = Command::new(bin())
        .args(["check", "-f", "-", "-o", "json", "--inventory"])
        .arg(inventory())
        .arg("--policies")
        .arg(pol.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(CLEAN_POD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // "`-` for stdin": `-` alone or with its document number.
    let src = v["results"][0]["source"].as_str().unwrap_or("");
    assert!(src == "-" || src == "-#1", "{v}");
}

#[test]
fn json_result_has_every_contract_field() {
    let (_, v, _) = check_text(CLEAN_POD, &["-o", "json"]);
    let r = &v["results"][0];
    for k in [
        "source",
        "kind",
        "namespace",
        "name",
        "tenant",
        "allowed",
        "violations",
        "warnings",
        "patch",
    ] {
        assert!(r.get(k).is_some(), "result lacks {k}: {r}");
    }
    assert_eq!(r["kind"], "Pod");
    assert_eq!(r["namespace"], "initech-prod");
    assert_eq!(r["name"], "ok");
    assert_eq!(r["tenant"], "initech");
    for k in ["objects", "denied", "warned"] {
        assert!(v["summary"].get(k).is_some(), "summary lacks {k}: {v}");
    }
}

/// The DESIGN example path, literally.
#[test]
fn violation_path_is_the_design_example() {
    let yaml = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: two, namespace: initech-prod}
spec:
  selector: {matchLabels: {app: two}}
  template:
    metadata: {labels: {app: two}}
    spec:
      containers:
        - {name: a, image: x, resources: {limits: {cpu: 100m, memory: 64Mi}}}
        - {name: b, image: x, resources: {limits: {memory: 64Mi}}}
";
    let (code, v, _) = check_text(yaml, &["-o", "json"]);
    assert_eq!(code, Some(1));
    let vs = v["results"][0]["violations"].as_array().unwrap();
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0]["rule"], "require-limits");
    assert_eq!(vs[0]["action"], "Deny");
    assert_eq!(
        vs[0]["path"], "spec.template.spec.containers[1].resources.limits.cpu",
        "{vs:?}"
    );
}

/// "A denial lists all violations at once, not only the first."
#[test]
fn a_denial_lists_every_violation() {
    let yaml = "\
apiVersion: v1
kind: Pod
metadata: {name: many, namespace: initech-prod, labels: {tenantguard.io/tenant: globex}}
spec:
  hostNetwork: true
  containers:
    - {name: a, image: x}
    - {name: b, image: x}
";
    let (_, v, _) = check_text(yaml, &["-o", "json"]);
    let vs = v["results"][0]["violations"].as_array().unwrap();
    let limits = vs.iter().filter(|x| x["rule"] == "require-limits").count();
    assert!(limits >= 2, "both containers' limits reported: {vs:?}");
    assert!(vs.iter().any(|x| x["rule"] == "restrict-egress"), "{vs:?}");
    assert!(
        vs.iter().any(|x| x["rule"] == "cross-tenant-selectors"),
        "{vs:?}"
    );
}

/// Runs `check -o json` on `yaml` with the suite's policies plus `overrides`
/// (file name -> Policy YAML) and extra arguments.
fn check_with_policies(
    yaml: &str,
    overrides: &[(&str, &str)],
    extra: &[&str],
) -> (Option<i32>, Value, String) {
    let pol = policies();
    for (name, text) in overrides {
        std::fs::write(pol.path().join(name), text).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.yaml");
    std::fs::write(&f, yaml).unwrap();
    let out = Command::new(bin())
        .arg("check")
        .arg("-f")
        .arg(&f)
        .arg("--inventory")
        .arg(inventory())
        .arg("--policies")
        .arg(pol.path())
        .args(["-o", "json"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const POLICY_ACTIONS_INPUT: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: warn-and-audit, namespace: initech-prod}
spec:
  hostNetwork: true
  containers: [{name: app, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: excluded-namespace, namespace: initech-prod, labels: {tenantguard.io/tenant: acme}}
spec:
  containers: [{name: app, image: x, resources: {limits: {cpu: 100m, memory: 64Mi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: not-excluded, namespace: acme-prod, labels: {tenantguard.io/tenant: globex}}
spec:
  containers: [{name: app, image: x}]
";

const POLICY_OVERRIDES: &[(&str, &str)] = &[
    (
        "require-limits.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: require-limits}\nspec:\n  rule: require-limits\n  action: Warn\n  params: {resources: [cpu, memory]}\n",
    ),
    (
        "restrict-egress.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: restrict-egress}\nspec:\n  rule: restrict-egress\n  action: Audit\n",
    ),
    (
        "cross-tenant-selectors.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: cross-tenant-selectors}\nspec:\n  rule: cross-tenant-selectors\n  action: Deny\n  exclude: {namespaces: [initech-prod], users: [carol], groups: [ops]}\n",
    ),
    // hostNetwork is pod-security's too (DESIGN): audited like restrict-egress here.
    (
        "pod-security.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: pod-security}\nspec:\n  rule: pod-security\n  action: Audit\n",
    ),
    (
        "tenant-labels.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: tenant-labels}\nspec:\n  rule: tenant-labels\n  action: \"Off\"\n",
    ),
];

/// "Warn admits with an admission warning; Audit admits silently and counts
/// it"; exclusions by namespace, user and group; a mutating rule turned Off.
#[test]
fn policy_actions_exclusions_and_off() {
    let (code, v, err) = check_with_policies(POLICY_ACTIONS_INPUT, POLICY_OVERRIDES, &[]);
    assert_eq!(code, Some(1), "one object still denied: {v} {err}");
    let r = &v["results"];
    let warned = &r[0];
    assert_eq!(warned["allowed"], true, "{warned}");
    let actions: BTreeSet<(String, String)> = warned["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["rule"].as_str().unwrap().into(),
                x["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("require-limits".into(), "Warn".into())),
        "{warned}"
    );
    assert!(!actions.iter().any(|(_, a)| a == "Deny"), "{warned}");
    let warnings = warned["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("require-limits")),
        "Warn shows a warning: {warned}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("restrict-egress")),
        "Audit is silent: {warned}"
    );
    assert!(
        warned["patch"]
            .as_array()
            .unwrap()
            .iter()
            .all(|op| !op["path"].as_str().unwrap().starts_with("/metadata/labels")),
        "tenant-labels Off adds no label: {warned}"
    );
    assert_eq!(r[1]["allowed"], true, "excluded namespace: {}", r[1]);
    assert_eq!(r[2]["allowed"], false, "not excluded: {}", r[2]);
    assert_eq!(
        v["summary"],
        json!({"objects": 3, "denied": 1, "warned": 1})
    );

    for extra in [
        &["--as", "carol"][..],
        &["--as", "someone", "--as-group", "ops"][..],
    ] {
        let (code, v, _) = check_with_policies(POLICY_ACTIONS_INPUT, POLICY_OVERRIDES, extra);
        assert_eq!(
            code,
            Some(0),
            "{extra:?} is excluded from cross-tenant-selectors: {v}"
        );
    }
}

/// "A bad policy file (unknown rule, unknown field, bad YAML) is an error
/// naming the file and line".
#[test]
fn bad_policy_files_are_errors_naming_file_and_line() {
    for (name, text) in [
        ("zz-unknown-rule.yaml", "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: x}\nspec:\n  rule: no-such-rule\n  action: Deny\n"),
        ("zz-unknown-field.yaml", "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: x}\nspec:\n  rule: require-limits\n  action: Deny\n  bogus: 1\n"),
        ("zz-bad-yaml.yaml", "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: [\n"),
    ] {
        let (code, v, err) = check_with_policies(CLEAN_POD, &[(name, text)], &[]);
        assert_eq!(code, Some(2), "{name}: {v} {err}");
        assert!(err.contains(&format!("{name}:")), "{name}: error names file:line: {err}");
    }
}

/// `List` objects, directories (walked for .yaml/.yml/.json) and `-n`.
#[test]
fn lists_directories_and_default_namespace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("list.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Pod, metadata: {name: in-list-ok, namespace: initech-prod}, spec: {containers: [{name: a, image: x, resources: {limits: {cpu: 100m, memory: 64Mi}}}]}}\n  - {apiVersion: v1, kind: Pod, metadata: {name: in-list-bad, namespace: initech-prod}, spec: {containers: [{name: a, image: x}]}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/p.json"),
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"json-bad","namespace":"acme-prod"},"spec":{"hostNetwork":true,"containers":[{"name":"a","image":"x"}]}}"#,
    )
    .unwrap();
    let pol = policies();
    let out = Command::new(bin())
        .arg("check")
        .arg("-f")
        .arg(dir.path())
        .arg("--inventory")
        .arg(inventory())
        .arg("--policies")
        .arg(pol.path())
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: BTreeMap<String, bool> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["allowed"] == true,
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        BTreeMap::from([
            ("in-list-ok".to_string(), true),
            ("in-list-bad".to_string(), false),
            ("json-bad".to_string(), false)
        ]),
        "{v}"
    );

    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: no-ns}\nspec: {hostNetwork: true, containers: [{name: a, image: x}]}\n";
    let (code, v, _) = check_text(yaml, &["-o", "json", "-n", "acme-prod"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["results"][0]["namespace"], "acme-prod");
    assert_eq!(v["results"][0]["tenant"], "acme");
}
