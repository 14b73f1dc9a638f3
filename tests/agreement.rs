//! `check` and `serve` agree: for every manifest fixture, the verdict, patch
//! and warnings `tenantguard check -o json` reports equal what the real
//! server answers over HTTPS when the apiserver's sequence is replayed by
//! hand: `/mutate` with the object, then `/validate` with the mutated object,
//! with the same policies, tenancy and requester. A dry run gets exactly the
//! same answer as the same request without it, and is counted as one.
//! `Warn` policies show up as `warnings` in both, each at most 256
//! characters and naming its rule.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tenantguard::check::{read_inputs, requester, InputObject};
use tenantguard::engine::Engine;
use tenantguard::policy::rules::User;

use common::{start, Client, Opts, Proto};

const DIR: &str = "tests/fixtures/manifests";
const TENANCY: &str = "tests/fixtures/manifests/tenancy.yaml";

/// `tenantguard check -o json <args>`, run in the repository.
fn check_json(args: &[&str]) -> (i32, Value) {
    let out = Command::new(common::bin())
        .arg("check")
        .args(args)
        .args(["-o", "json"])
        .current_dir(common::repo())
        .env_remove("TENANTGUARD_POLICIES")
        .env_remove("TENANTGUARD_INVENTORY")
        .output()
        .expect("run tenantguard check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The objects of `paths` (relative to the repository), as check reads them.
fn objects(paths: &[&str]) -> Vec<InputObject> {
    let abs: Vec<PathBuf> = paths.iter().map(|p| common::repo().join(p)).collect();
    read_inputs(&abs, None).expect("fixtures parse")
}

fn engine(policies: &Path) -> Engine {
    let (set, _) = tenantguard::config::load_policies(Some(policies)).expect("policies load");
    Engine::new(set, Default::default())
}

/// The AdmissionReview the apiserver sends to create `obj` in `namespace`.
fn review(uid: &str, obj: &Value, namespace: &str, user: &User, dry_run: bool) -> Value {
    let api = obj["apiVersion"].as_str().unwrap();
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = obj["kind"].as_str().unwrap();
    // The plural resource, as the apiserver names it (tenantguard checks it).
    let lower = kind.to_ascii_lowercase();
    let resource = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if lower.ends_with('s') => format!("{lower}es"),
        None => format!("{lower}s"),
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "namespace": namespace,
        "name": obj["metadata"]["name"].as_str().unwrap_or(""),
        "operation": "CREATE",
        "userInfo": {"username": user.username, "groups": user.groups},
        "object": obj,
        "oldObject": null,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}})
}

fn warnings(response: &Value) -> Value {
    response.get("warnings").cloned().unwrap_or(json!([]))
}

/// Sends every object as the apiserver would and compares each answer with
/// check's result for it; returns how many dry-run requests were sent.
async fn assert_agree(
    c: &mut Client,
    label: &str,
    report: &Value,
    objects: &[InputObject],
    user: &User,
) -> usize {
    let results = report["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        objects.len(),
        "{label}: one result per object"
    );
    let mut dry_runs = 0;
    for (i, (r, o)) in results.iter().zip(objects).enumerate() {
        let source = r["source"].as_str().unwrap();
        let what = format!("{label}: {source} {}", r["name"]);
        // check ran in the repository; `objects` read absolute paths.
        let abs = common::repo().join(source);
        assert_eq!(Path::new(&o.source), abs, "{what}: same order");
        let ns = r["namespace"].as_str().unwrap();
        let uid = format!("{label}-{i}");

        let req = review(&uid, &o.object, ns, user, false);
        let mutated = c.post_json("/mutate", &req).await;
        assert_eq!(mutated.status, 200, "{what}: {}", mutated.text());
        let mutated = mutated.json();
        assert_eq!(mutated["response"]["uid"], uid.as_str());
        assert_eq!(mutated["response"]["allowed"], true, "{what}: {mutated:#}");
        let patch = common::patch_of(&mutated);
        let patch_json = patch
            .as_ref()
            .map_or(json!([]), |p| serde_json::to_value(p).unwrap());
        assert_eq!(patch_json, r["patch"], "{what}: the patch");

        let mut object = o.object.clone();
        if let Some(p) = &patch {
            json_patch::patch(&mut object, p).unwrap();
        }
        let after = review(&uid, &object, ns, user, false);
        let validated = c.post_json("/validate", &after).await;
        assert_eq!(validated.status, 200, "{what}: {}", validated.text());
        let validated = validated.json();
        let resp = &validated["response"];
        assert_eq!(
            resp["allowed"], r["allowed"],
            "{what}: the verdict: {resp:#}"
        );
        assert_eq!(warnings(resp), r["warnings"], "{what}: the warnings");
        if r["allowed"] == false {
            let message = resp["status"]["message"].as_str().unwrap();
            for v in r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["action"] == "Deny")
            {
                let shown = format!(
                    "[{}] {}",
                    v["rule"].as_str().unwrap(),
                    v["message"].as_str().unwrap()
                );
                assert!(
                    message.contains(&shown),
                    "{what}: {shown:?} not in {message:?}"
                );
            }
        }

        // The same requests as dry runs: exactly the same answers.
        for (endpoint, sent, answer) in [
            ("/mutate", &req, &mutated),
            ("/validate", &after, &validated),
        ] {
            let mut dry = sent.clone();
            dry["request"]["dryRun"] = json!(true);
            let got = c.post_json(endpoint, &dry).await;
            assert_eq!(got.status, 200);
            assert_eq!(&got.json(), answer, "{what}: dry run of {endpoint}");
            dry_runs += 1;
        }
    }
    dry_runs
}

/// The sum of the request counter's samples labelled `dry_run="true"`.
fn dry_run_count(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("tenantguard_admission_requests_total{") && l.contains("dry_run=\"true\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_serve_agree_on_every_fixture() {
    let repo = common::repo();
    let policies = repo.join("policies");
    let tenancy = repo.join(TENANCY);
    let server = start(Opts {
        policies: Some(&policies),
        inventory: Some(&tenancy),
        ..Default::default()
    });
    let mut c = Client::connect(&server, Proto::H2).await.unwrap();
    let engine = engine(&policies);

    // The whole directory as an admin: its Namespaces and Tenants are the
    // tenancy, as the server's --inventory is.
    let (code, admin_report) = check_json(&["--policies", "policies", "-f", DIR]);
    assert_eq!(code, 1);
    let admin = requester(None, &[], &engine);
    let mut dry = assert_agree(&mut c, "admin", &admin_report, &objects(&[DIR]), &admin).await;

    // A tenant owner, with the tenancy from --inventory (its Namespaces are
    // not created by this run, so both sides see the same tenancy).
    let inputs = [
        "tests/fixtures/manifests/good",
        "tests/fixtures/manifests/bad",
        "tests/fixtures/manifests/mixed.yaml",
    ];
    let mut args = vec!["--policies", "policies", "--inventory", TENANCY];
    args.extend(["--as", "alice", "--as-group", "acme-admins"]);
    for i in inputs {
        args.extend(["-f", i]);
    }
    let (code, alice_report) = check_json(&args);
    assert_eq!(code, 1);
    let alice = requester(Some("alice"), &["acme-admins".to_string()], &engine);
    dry += assert_agree(&mut c, "alice", &alice_report, &objects(&inputs), &alice).await;

    // Every object was compared, denied and allowed ones alike.
    let denied = admin_report["summary"]["denied"].as_u64().unwrap();
    assert!(denied >= 7 && admin_report["summary"]["objects"].as_u64().unwrap() > denied);
    let counted = dry_run_count(&common::metrics(server.metrics_addr).await);
    assert_eq!(
        counted, dry as f64,
        "each dry run is counted once with dry_run=\"true\""
    );
}

const WARN_MANIFEST: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: noisy
  namespace: globex-prod
  annotations:
    vault.hashicorp.com/role: ROLE
spec:
  containers:
    - name: app
      image: nginx
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_policies_give_warnings_in_check_and_over_https() {
    let repo = common::repo();
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    for entry in std::fs::read_dir(repo.join("policies")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, policies.join(p.file_name().unwrap())).unwrap();
    }
    for rule in ["require-limits", "vault-boundaries"] {
        let doc = format!("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {{name: {rule}}}\nspec: {{rule: {rule}, action: Warn}}\n");
        std::fs::write(policies.join(format!("{rule}.yaml")), doc).unwrap();
    }
    // A role long enough that its warning must be cut to 256 characters.
    let manifest = common::write_file(
        dir.path(),
        "pod.yaml",
        &WARN_MANIFEST.replace("ROLE", &"r".repeat(300)),
    );
    let tenancy = repo.join(TENANCY);

    let (p, m) = (policies.to_str().unwrap(), manifest.to_str().unwrap());
    let (code, report) = check_json(&["--policies", p, "--inventory", TENANCY, "-f", m]);
    assert_eq!(code, 0, "warnings do not fail the check: {report:#}");
    assert_eq!(
        report["summary"],
        json!({"objects": 1, "denied": 0, "warned": 1})
    );
    let r = &report["results"][0];
    assert_eq!(r["allowed"], true);
    let list: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(list.len(), 3, "{list:?}");
    for w in &list {
        assert!(w.chars().count() <= 256, "{} chars: {w}", w.chars().count());
        assert!(
            w.starts_with("[require-limits] ") || w.starts_with("[vault-boundaries] "),
            "{w}"
        );
    }
    assert!(
        list.iter().any(|w| w.starts_with("[vault-boundaries] ")
            && w.chars().count() == 256
            && w.ends_with('…')),
        "{list:?}"
    );
    let actions: Vec<&Value> = r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["action"])
        .collect();
    assert_eq!(actions, [&json!("Warn"); 3]);

    let server = start(Opts {
        policies: Some(&policies),
        inventory: Some(&tenancy),
        ..Default::default()
    });
    let engine = engine(&policies);
    let user = requester(None, &[], &engine);
    let mut c = Client::connect(&server, Proto::H2).await.unwrap();
    let dry = assert_agree(&mut c, "warn", &report, &objects(&[m]), &user).await;
    assert_eq!(dry, 2);

    // The text report marks it for people too.
    let text = Command::new(common::bin())
        .args(["check", "--policies", p, "--inventory", TENANCY, "-f", m])
        .current_dir(&repo)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("WARNED  Pod globex-prod/noisy  (tenant globex)\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  warn  [require-limits] spec.containers[0] ")
            && text.contains("\n        at spec.containers[0].resources.limits.cpu\n"),
        "{text}"
    );
}
