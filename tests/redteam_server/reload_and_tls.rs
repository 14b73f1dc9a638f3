//! Red team (p19d), continued: policy reload (files and a ConfigMap-style
//! mount), the self-signed certificate without TLS files, and dry run.

use super::*;

/// The server on `pol` and the test tenancy, an HTTP/2 client, and a pod
/// without limits it denies (so a later reload that relaxes
/// require-limits shows).
async fn serve_denying(
    dir: &std::path::Path,
    pol: &std::path::Path,
    uid: &str,
) -> (common::Server, Client, Value) {
    let inv = common::write_file(dir, "inv.yaml", TENANCY);
    let s = start(Opts {
        inventory: Some(&inv),
        policies: Some(pol),
        ..Default::default()
    });
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let pod = review("acme-prod", uid, "CREATE", no_limits());
    assert_eq!(
        c.post_json("/validate", &pod).await.json()["response"]["allowed"],
        false
    );
    (s, c, pod)
}

fn write_policy(dir: &std::path::Path, name: &str, text: &str) {
    // Write then rename, as a ConfigMap update swaps files.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_good_changes_and_keeps_the_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("pol");
    std::fs::create_dir(&pol).unwrap();
    for e in std::fs::read_dir(common::repo().join("policies")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), pol.join(e.file_name())).unwrap();
    }
    let (s, mut c, pod) = serve_denying(dir.path(), &pol, "rl").await;

    // A good change: require-limits to Warn. Admitted with a warning.
    write_policy(
        &pol,
        "require-limits.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: require-limits}\nspec: {rule: require-limits, action: Warn}\n",
    );
    common::eventually(
        "the Warn policy to load",
        Duration::from_secs(10),
        async || c.post_json("/validate", &pod).await.json()["response"]["allowed"] == true,
    )
    .await;
    let v = c.post_json("/validate", &pod).await.json();
    assert!(
        v["response"]["warnings"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{v}"
    );

    // Audit: admitted silently (no warning) and counted.
    write_policy(
        &pol,
        "require-limits.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: require-limits}\nspec: {rule: require-limits, action: Audit}\n",
    );
    common::eventually(
        "the Audit policy to load",
        Duration::from_secs(10),
        async || {
            let v = c.post_json("/validate", &pod).await.json();
            v["response"]["allowed"] == true
                && v["response"]["warnings"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
        },
    )
    .await;
    let m = common::metrics(s.metrics_addr).await;
    assert!(
        samples(&m, "tenantguard_policy_violations_total")
            .iter()
            .any(|l| l["policy"] == "require-limits"
                && l["action"] == "Audit"
                && l["tenant"] == "acme"),
        "{m}"
    );

    // A bad file: the server keeps the last good set (Audit) and says so.
    write_policy(
        &pol,
        "zz-bad.yaml",
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: x}\nspec:\n  rule: no-such-rule\n",
    );
    let log = s.log.clone();
    common::eventually(
        "the reload error in the log",
        Duration::from_secs(10),
        async || {
            log.lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("zz-bad.yaml"))
        },
    )
    .await;
    for _ in 0..5 {
        let v = c.post_json("/validate", &pod).await.json();
        assert_eq!(
            v["response"]["allowed"], true,
            "last good set (Warn) kept: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = c.request("GET", "/readyz", vec![]).await.unwrap();
    assert_eq!(r.status, 200, "still serving the last good set");
    let m = common::metrics(s.metrics_addr).await;
    assert!(
        m.contains("tenantguard_policy_reloads_total{result=\"error\"}"),
        "a reload metric: {m}"
    );

    // The bad file fixed (removed) and require-limits back to Deny: loaded.
    std::fs::remove_file(pol.join("zz-bad.yaml")).unwrap();
    std::fs::copy(
        common::repo().join("policies/require-limits.yaml"),
        pol.join("require-limits.yaml"),
    )
    .unwrap();
    common::eventually(
        "the fixed directory to load",
        Duration::from_secs(10),
        async || c.post_json("/validate", &pod).await.json()["response"]["allowed"] == false,
    )
    .await;
}

/// In a cluster the policies are a mounted ConfigMap: the files are
/// symlinks into `..data`, itself a symlink to a timestamped directory that
/// the kubelet swaps atomically on an update. Loaded once (not twice through
/// the hidden directories) and reloaded on the swap.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_mount_loads_once_and_reloads_on_the_symlink_swap() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("pol");
    let v1 = pol.join("..2026_12_06_08_00_00.000000001");
    std::fs::create_dir_all(&v1).unwrap();
    let names: Vec<std::ffi::OsString> = std::fs::read_dir(common::repo().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for n in &names {
        std::fs::copy(common::repo().join("policies").join(n), v1.join(n)).unwrap();
    }
    symlink(v1.file_name().unwrap(), pol.join("..data")).unwrap();
    for n in &names {
        symlink(std::path::Path::new("..data").join(n), pol.join(n)).unwrap();
    }
    let (s, mut c, pod) = serve_denying(dir.path(), &pol, "cm").await;

    // The kubelet's update: a new timestamped directory, `..data` swapped
    // by rename, the old directory removed.
    let v2 = pol.join("..2026_12_06_08_05_00.000000002");
    std::fs::create_dir_all(&v2).unwrap();
    for n in &names {
        std::fs::copy(v1.join(n), v2.join(n)).unwrap();
    }
    std::fs::write(
        v2.join("require-limits.yaml"),
        "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nmetadata: {name: require-limits}\nspec: {rule: require-limits, action: Warn}\n",
    )
    .unwrap();
    symlink(v2.file_name().unwrap(), pol.join("..data_tmp")).unwrap();
    std::fs::rename(pol.join("..data_tmp"), pol.join("..data")).unwrap();
    std::fs::remove_dir_all(&v1).unwrap();
    common::eventually(
        "the swapped ConfigMap to load",
        Duration::from_secs(10),
        async || c.post_json("/validate", &pod).await.json()["response"]["allowed"] == true,
    )
    .await;
    let log = s.log.lock().unwrap().join("\n");
    assert!(!log.contains("reload failed"), "{log}");
}

/// `serve` with no TLS files makes a self-signed certificate for local use
/// and says where the CA is; a client trusting only that CA is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tls_files_serve_a_self_signed_certificate_and_name_its_ca() {
    use std::io::BufRead;
    let cwd = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .arg("--policies")
        .arg(common::repo().join("policies"))
        .args(["--log-format", "text"])
        .current_dir(cwd.path())
        .env("TENANTGUARD_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ca = None;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(i) = line.find("ca=") {
                ca = line[i + 3..].split_whitespace().next().map(str::to_string);
            }
            if let (Some(i), Some(ca)) = (line.find("webhook="), ca.clone()) {
                let addr = line[i + 8..].split_whitespace().next().unwrap().to_string();
                let _ = tx.send((addr, ca));
            }
        }
    });
    let got = rx.recv_timeout(Duration::from_secs(30));
    let result = async {
        let (addr, ca) = got.map_err(|_| "the log names no CA and address".to_string())?;
        let ca = cwd.path().join(ca);
        let mut c = Client::connect_to(addr.parse().unwrap(), &ca, Proto::H2).await?;
        c.request("GET", "/healthz", vec![]).await
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(result.map(|r| r.status), Ok(200));
}

fn ingress_review(ns: &str, uid: &str, host: &str, dry_run: bool) -> Value {
    let object = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
        "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
        "namespace": ns, "operation": "CREATE", "name": "web", "dryRun": dry_run,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object}})
}

/// Dry-run has no side effects: an Ingress admitted in a dry run claims no
/// host (claims come from objects that exist, not from answers), so
/// another tenant's identical request is judged as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_claims_nothing() {
    let (_s, mut c, _d) = serve().await;
    let before = c
        .post_json(
            "/validate",
            &ingress_review("globex-prod", "g0", "shop.example.com", false),
        )
        .await
        .json();
    for i in 0..3 {
        let v = c
            .post_json(
                "/validate",
                &ingress_review(
                    "acme-prod",
                    &format!("a{i}"),
                    "shop.example.com",
                    i % 2 == 0,
                ),
            )
            .await
            .json();
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    let after = c
        .post_json(
            "/validate",
            &ingress_review("globex-prod", "g0", "shop.example.com", false),
        )
        .await
        .json();
    assert_eq!(before, after);
}
