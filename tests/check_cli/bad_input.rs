//! Bad input for `tenantguard check`: every kind of unreadable or empty
//! input is exit 2 with a message naming the file, document and line, and
//! never a partial report on stdout.

use super::check;

#[test]
fn bad_input_is_exit_2_with_a_clear_message_and_no_report() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = "tests/fixtures/manifests/good/pod.yaml".to_string();
    let bad_doc = write("bad-doc.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# second\napiVersion: v1\nkind: Pod\nmetadata: {name: [}\n");
    let bad_json = write("bad.json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n");
    let empty = write("empty.yaml", "");
    let comments = write("comments.yaml", "# nothing here\n---\n---\n");
    let scalar = write("scalar.yaml", "just text\n");
    let no_kind = write("no-kind.yaml", "apiVersion: v1\nmetadata: {name: a}\n");
    let bad_tenant = write("tenant.yaml", "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec: {colour: blue}\n");
    let bad_item = write(
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- 42\n",
    );
    let binary = tmp.path().join("binary.yaml");
    std::fs::write(
        &binary,
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: \xff}\n",
    )
    .unwrap();
    let binary = binary.to_str().unwrap().to_string();
    let no_manifests = tmp.path().join("docs");
    std::fs::create_dir(&no_manifests).unwrap();
    std::fs::write(no_manifests.join("notes.md"), "# not a manifest\n").unwrap();
    let no_manifests = no_manifests.to_str().unwrap().to_string();
    let missing = tmp
        .path()
        .join("missing.yaml")
        .to_str()
        .unwrap()
        .to_string();

    let cases: Vec<(&str, Vec<&str>, Option<&str>, String)> = vec![
        ("unparseable document among good ones", vec![good.as_str(), bad_doc.as_str()], None,
            format!("{bad_doc}: document 2: not valid YAML: did not find expected node content at line 8 column")),
        ("unparseable JSON", vec![bad_json.as_str()], None, format!("{bad_json}: document 1 (line 2): not valid JSON")),
        ("unparseable stdin", vec!["-"], Some("a: b\n  c: d\n"), "stdin (-): document 1: not valid YAML".into()),
        ("empty file", vec![empty.as_str()], None, format!("{empty} holds no Kubernetes objects")),
        ("only comments", vec![good.as_str(), comments.as_str()], None, format!("{comments} holds no Kubernetes objects")),
        ("empty stdin", vec!["-"], Some(""), "stdin (-) holds no Kubernetes objects".into()),
        ("a document that is not an object", vec![scalar.as_str()], None, format!("{scalar}#1 (line 1): not a Kubernetes object but a string")),
        ("a document without kind", vec![no_kind.as_str()], None, format!("{no_kind}#1 (line 1): not a Kubernetes object: kind is missing")),
        ("an invalid Tenant", vec![bad_tenant.as_str()], None, format!("{bad_tenant}#1 (line 1): Tenant \"t\": spec.colour: unknown field `colour`")),
        ("a List item that is not an object", vec![bad_item.as_str()], None, format!("{bad_item}#1 (line 1), List item 2: not a Kubernetes object but a number")),
        ("a file that is not UTF-8", vec![binary.as_str()], None, format!("cannot read {binary}: stream did not contain valid UTF-8")),
        ("a directory with no manifests", vec![no_manifests.as_str()], None, format!("directory {no_manifests} holds no .yaml, .yml or .json files")),
        ("a missing file after a good one", vec![good.as_str(), missing.as_str()], None, format!("{missing}: no such file or directory")),
    ];
    for (name, files, stdin, message) in cases {
        let mut args = vec![];
        for f in &files {
            args.extend(["-f", f]);
        }
        let run = check(&args, stdin);
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.stdout, "", "{name}: no partial report");
        assert!(
            run.stderr.starts_with("tenantguard: error: "),
            "{name}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&message),
            "{name}: expected {message:?} in {}",
            run.stderr
        );
    }
}

#[test]
fn cluster_without_a_kubeconfig_is_exit_2_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(super::common::bin())
        .args(["check", "--cluster", "--policies", "policies"])
        .args(["-f", "tests/fixtures/manifests/good/pod.yaml"])
        .current_dir(super::common::repo())
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("no-such-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no report without the tenancy");
    assert!(
        stderr.starts_with("tenantguard: error: ") && stderr.contains("kubeconfig"),
        "{stderr}"
    );
}

/// DESIGN, "Owners": a ServiceAccount owner must live in a namespace of the
/// same tenant, or the Tenant is invalid. Offline the input is the whole
/// world, so that is a load error (exit 2) naming the Tenant and the field;
/// the owner's namespace may come from the input itself.
#[test]
fn service_account_owner_outside_the_tenant_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let tenant = "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  owners: [{kind: Group, name: acme-admins}, {kind: ServiceAccount, name: ci, namespace: acme-ci}]\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: acme-prod, labels: {tenantguard.io/tenant: acme}}\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: acme-prod}\nspec: {containers: [{name: a, image: x, resources: {limits: {cpu: 100m, memory: 64Mi}}}]}\n";
    let cases = [
        ("no such namespace", "", Some("\"acme-ci\" does not exist")),
        (
            "another tenant's namespace",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: acme-ci, labels: {tenantguard.io/tenant: globex}}\n",
            Some("\"acme-ci\" belongs to tenant \"globex\""),
        ),
        (
            "the tenant's own namespace",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: acme-ci, labels: {tenantguard.io/tenant: acme}}\n",
            None,
        ),
    ];
    for (name, ci, want) in cases {
        let inv = tmp.path().join("inv.yaml");
        std::fs::write(&inv, format!("{tenant}{ci}")).unwrap();
        let input = tmp.path().join("pod.yaml");
        std::fs::write(&input, pod).unwrap();
        let r = check(
            &[
                "--inventory",
                inv.to_str().unwrap(),
                "-f",
                input.to_str().unwrap(),
            ],
            None,
        );
        match want {
            Some(needle) => {
                assert_eq!(r.code, 2, "{name}: {}", r.stderr);
                assert!(r.stdout.is_empty(), "{name}: no report");
                assert!(
                    r.stderr.contains("Tenant \"acme\": spec.owners[1]: ServiceAccount \"ci\" of namespace \"acme-ci\" is not honoured"),
                    "{name}: {}",
                    r.stderr
                );
                assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
            }
            None => assert_eq!(r.code, 0, "{name}: {} {}", r.stdout, r.stderr),
        }
    }
    // The owner's namespace in the input counts: the tenancy is checked
    // once the input is read.
    let inv = tmp.path().join("inv.yaml");
    std::fs::write(&inv, tenant).unwrap();
    let input = tmp.path().join("ns.yaml");
    std::fs::write(
        &input,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: acme-ci, labels: {tenantguard.io/tenant: acme}}\n",
    )
    .unwrap();
    let r = check(
        &[
            "--inventory",
            inv.to_str().unwrap(),
            "-f",
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(r.code, 2, "{}", r.stderr);
}
