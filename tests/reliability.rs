//! Operations and reliability, end to end against the real server process:
//! certificate rotation under load (plain rewrite and the Secret-volume
//! symlink swap), policy reload, SIGTERM under load, bounded metric
//! cardinality under 10,000 made-up namespaces and tenants, and client
//! certificates. Loads are bounded in count; every wait polls a deadline.

mod common;

#[path = "reliability/load.rs"]
mod load;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use common::{eventually, start, Client, Opts, Proto, SERVICE_NAME};
use load::{metric, pod_review, Load, Mode};

/// A test CA that can sign more leaves (what `tenantguard certs` does not keep).
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn new_ca(name: &str) -> TestCa {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = p.self_signed(&key).unwrap().pem();
    TestCa {
        issuer: Issuer::new(p, key),
        pem,
    }
}

/// A leaf signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &TestCa, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![usage];
    (
        p.signed_by(&key, &ca.issuer).unwrap().pem(),
        key.serialize_pem(),
    )
}

fn serving_leaf(ca: &TestCa, generation: usize) -> (String, String) {
    leaf(
        ca,
        &format!("tenantguard generation {generation}"),
        &[SERVICE_NAME],
        ExtendedKeyUsagePurpose::ServerAuth,
    )
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The leaf certificate a new connection is served.
async fn served_cert(addr: std::net::SocketAddr, ca: &Path) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(SERVICE_NAME).unwrap();
    let tls = common::tls_connector(ca, Proto::H2)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let certs = tls.get_ref().1.peer_certificates().ok_or("no peer cert")?;
    Ok(certs.first().ok_or("empty chain")?.as_ref().to_vec())
}

/// How the certificate files change on disk.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// tls.crt and tls.key are regular files rewritten in place.
    Plain,
    /// A Kubernetes Secret volume: tls.crt -> ..data/tls.crt, and `..data`
    /// is a symlink swapped atomically to a new timestamped directory.
    SecretVolume,
}

struct CertDir {
    dir: PathBuf,
    layout: Layout,
    generation: usize,
}

impl CertDir {
    fn new(dir: &Path, layout: Layout, ca: &TestCa, cert: &str, key: &str) -> CertDir {
        std::fs::write(dir.join("ca.crt"), &ca.pem).unwrap();
        let mut d = CertDir {
            dir: dir.to_path_buf(),
            layout,
            generation: 0,
        };
        if let Layout::SecretVolume = layout {
            for f in ["tls.crt", "tls.key"] {
                std::os::unix::fs::symlink(format!("..data/{f}"), dir.join(f)).unwrap();
            }
        }
        d.write(cert.as_bytes(), key.as_bytes());
        d
    }

    /// Puts a new pair in place the way the layout does it.
    fn write(&mut self, cert: &[u8], key: &[u8]) {
        self.generation += 1;
        match self.layout {
            Layout::Plain => {
                std::fs::write(self.dir.join("tls.key"), key).unwrap();
                std::fs::write(self.dir.join("tls.crt"), cert).unwrap();
            }
            Layout::SecretVolume => {
                // As the kubelet's atomic writer does: new dir, files, a
                // temporary symlink renamed over ..data, old dir removed.
                let name = format!(
                    "..2026_01_01_00_00_{:02}.{}",
                    self.generation,
                    1000 + self.generation
                );
                let new = self.dir.join(&name);
                std::fs::create_dir(&new).unwrap();
                std::fs::write(new.join("tls.crt"), cert).unwrap();
                std::fs::write(new.join("tls.key"), key).unwrap();
                let data = self.dir.join("..data");
                let old = std::fs::read_link(&data).ok();
                let tmp = self.dir.join("..data_tmp");
                std::os::unix::fs::symlink(&name, &tmp).unwrap();
                std::fs::rename(&tmp, &data).unwrap();
                if let Some(old) = old {
                    std::fs::remove_dir_all(self.dir.join(old)).unwrap();
                }
            }
        }
    }
}

async fn reloads(s: &common::Server, result: &str) -> f64 {
    let m = common::metrics(s.metrics_addr).await;
    metric(
        &m,
        &format!("tenantguard_certificate_reloads_total{{result=\"{result}\"}}"),
    )
}

async fn wait_served(s: &common::Server, ca: &Path, want: &[u8], what: &str) {
    eventually(what, Duration::from_secs(15), async || {
        served_cert(s.addr, ca).await.is_ok_and(|c| c == want)
    })
    .await;
}

async fn rotate_under_load(layout: Layout) {
    let ca = new_ca("rotation CA");
    let tmp = tempfile::tempdir().unwrap();
    let (c0, k0) = serving_leaf(&ca, 0);
    let mut dir = CertDir::new(tmp.path(), layout, &ca, &c0, &k0);
    let inv_dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(inv_dir.path(), "inventory.yaml", common::INVENTORY);
    let s = start(Opts {
        certs: Some(tmp.path()),
        inventory: Some(&inv),
        extra: vec!["--reload-interval".into(), "0.2".into()],
        ..Default::default()
    });
    let ca_path = tmp.path().join("ca.crt");
    wait_served(&s, &ca_path, &der_of(&c0), "the first certificate").await;

    let load = Load::start(
        s.addr,
        &ca_path,
        &[
            (Mode::Keep(Proto::H2), 1500),
            (Mode::Keep(Proto::H2), 1500),
            (Mode::Keep(Proto::H1), 1500),
            (Mode::Fresh, 300),
        ],
    );
    load.wait_sent(200).await;

    // Two good rotations while the load runs.
    for generation in 1..=2 {
        let before = reloads(&s, "success").await;
        let (c, k) = serving_leaf(&ca, generation);
        dir.write(c.as_bytes(), k.as_bytes());
        wait_served(&s, &ca_path, &der_of(&c), "the rotated certificate").await;
        eventually("the success metric", Duration::from_secs(10), async || {
            reloads(&s, "success").await > before
        })
        .await;
        let sent = load.sent();
        load.wait_sent(sent + 150).await;
    }
    let (good, good_key) = serving_leaf(&ca, 3);
    dir.write(good.as_bytes(), good_key.as_bytes());
    wait_served(&s, &ca_path, &der_of(&good), "the third certificate").await;

    // Bad pairs: the last good one stays and the error metric goes up.
    let (other, _) = serving_leaf(&ca, 4);
    let (_, stranger_key) = serving_leaf(&ca, 5);
    let bad: [(&[u8], &[u8], &str); 2] = [
        (other.as_bytes(), stranger_key.as_bytes(), "mismatched key"),
        (b"not a certificate\n", b"garbage\n", "garbage"),
    ];
    for (cert, key, what) in bad {
        let errors = reloads(&s, "error").await;
        dir.write(cert, key);
        eventually(what, Duration::from_secs(10), async || {
            reloads(&s, "error").await > errors
        })
        .await;
        assert_eq!(
            served_cert(s.addr, &ca_path).await.unwrap(),
            der_of(&good),
            "{layout:?} {what}: the last good certificate must stay"
        );
        let sent = load.sent();
        load.wait_sent(sent + 100).await;
    }
    // And a good pair after the bad ones is picked up again.
    let (last, last_key) = serving_leaf(&ca, 6);
    dir.write(last.as_bytes(), last_key.as_bytes());
    wait_served(&s, &ca_path, &der_of(&last), "recovery after bad pairs").await;
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("does not belong to the certificate")
            && log.contains("keeping the last good one"),
        "the bad pair is reported:\n{log}"
    );

    let t = load.finish().await;
    println!(
        "rotation ({layout:?}): {} requests sent, {} failed, {} on fresh connections",
        t.sent, t.failed, t.fresh
    );
    assert!(t.sent >= 800, "too little load: {}", t.sent);
    assert_eq!(t.failed, 0, "{layout:?}: failed requests: {:?}", t.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_by_rewriting_files_fails_no_request() {
    rotate_under_load(Layout::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_by_secret_volume_symlink_swap_fails_no_request() {
    rotate_under_load(Layout::SecretVolume).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reload_changes_verdicts_and_keeps_the_last_good_set() {
    let policies = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(common::repo().join("policies")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, policies.path().join(f.file_name().unwrap())).unwrap();
    }
    let inv_dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(inv_dir.path(), "inventory.yaml", common::INVENTORY);
    let s = start(Opts {
        policies: Some(policies.path()),
        inventory: Some(&inv),
        extra: vec!["--reload-interval".into(), "0.2".into()],
        ..Default::default()
    });
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let no_limits = pod_review("acme-prod", "p-1", false);
    let v = c.post_json("/validate", &no_limits).await.json();
    assert_eq!(v["response"]["allowed"], false, "{v}");

    let file = policies.path().join("require-limits.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    assert!(original.contains("action: Deny"));
    std::fs::write(&file, original.replace("action: Deny", "action: Warn")).unwrap();
    let warned = async |c: &mut Client| {
        let v = c.post_json("/validate", &no_limits).await.json();
        v["response"]["allowed"] == true
            && v["response"]["warnings"][0]
                .as_str()
                .is_some_and(|w| w.starts_with("[require-limits]"))
    };
    eventually("the Warn verdict", Duration::from_secs(10), async || {
        warned(&mut c).await
    })
    .await;
    let m = common::metrics(s.metrics_addr).await;
    assert!(metric(&m, "tenantguard_policy_reloads_total{result=\"success\"}") >= 1.0);

    // An invalid change: the Warn set stays, the error metric and the log say where.
    let bad = original.replace("action: Deny", "action: Warn\n  bogus: true");
    let bad_line = bad.lines().position(|l| l.contains("bogus")).unwrap() + 1;
    std::fs::write(&file, &bad).unwrap();
    eventually(
        "the reload error metric",
        Duration::from_secs(10),
        async || {
            let m = common::metrics(s.metrics_addr).await;
            metric(&m, "tenantguard_policy_reloads_total{result=\"error\"}") >= 1.0
        },
    )
    .await;
    assert!(warned(&mut c).await, "the last good set stays in force");
    let log = s.log.lock().unwrap().join("\n");
    let needle = format!("require-limits.yaml:{bad_line}:");
    assert!(
        log.contains(&needle) && log.contains("keeping the last good policies"),
        "the log names {needle}:\n{log}"
    );

    // Fixed again: denied again.
    std::fs::write(&file, &original).unwrap();
    eventually(
        "the Deny verdict again",
        Duration::from_secs(10),
        async || {
            let v = c.post_json("/validate", &no_limits).await.json();
            v["response"]["allowed"] == false
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drops_no_request() {
    let inv_dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(inv_dir.path(), "inventory.yaml", common::INVENTORY);
    let mut s = start(Opts {
        inventory: Some(&inv),
        extra: [
            "--shutdown-delay",
            "2",
            "--drain-timeout",
            "10",
            "--request-timeout",
            "15",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    });
    let ca = s.certs.join("ca.crt");
    let load = Load::start(
        s.addr,
        &ca,
        &[
            (Mode::Keep(Proto::H2), 3000),
            (Mode::Keep(Proto::H2), 3000),
            (Mode::Keep(Proto::H1), 3000),
            (Mode::Fresh, 600),
        ],
    );
    let mut probe = Client::connect(&s, Proto::H2).await.unwrap();
    // Requests whose bodies are still arriving when the signal comes.
    let mut slow = Vec::new();
    for (i, proto) in [Proto::H2, Proto::H1].into_iter().enumerate() {
        let body =
            serde_json::to_vec(&pod_review("acme-prod", &format!("slow-{i}"), true)).unwrap();
        slow.push(load::SlowRequest::start(s.addr, &ca, proto, body).await);
    }
    load.wait_sent(300).await;

    load.signalled.store(true, Ordering::SeqCst);
    // The shell's kill builtin: present wherever `sh` is, unlike /usr/bin/kill.
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", s.child.id())])
        .status()
        .unwrap();
    assert!(status.success());

    // Readiness goes false while the listener still accepts (--shutdown-delay).
    eventually("/readyz 503", Duration::from_secs(10), async || {
        probe
            .request("GET", "/readyz", vec![])
            .await
            .is_ok_and(|r| r.status == 503)
    })
    .await;
    eventually(
        "the listener to close",
        Duration::from_secs(15),
        async || TcpStream::connect(s.addr).await.is_err(),
    )
    .await;
    // In flight when the listener closed: they still get their verdict.
    for (i, r) in slow.into_iter().enumerate() {
        let (status, body) = r.finish().await.unwrap_or_else(|e| panic!("slow-{i}: {e}"));
        assert_eq!(status, 200, "slow-{i}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["uid"], format!("slow-{i}"));
        assert_eq!(v["response"]["allowed"], true);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "exit status {exit:?}");
    let t = load.finish().await;
    println!(
        "SIGTERM: {} requests started before the signal ({} failed), {} after ({} failed, the server going away), 2 slow in-flight answered",
        t.sent_before, t.failed, t.sent - t.sent_before, t.failed_after
    );
    assert!(t.sent_before >= 300);
    assert_eq!(t.failed, 0, "dropped before the signal: {:?}", t.errors);
    let log = s.log.lock().unwrap().join("\n");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_made_up_namespaces_and_tenants_keep_metrics_bounded() {
    let inv_dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(inv_dir.path(), "inventory.yaml", common::INVENTORY);
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    const N: usize = 10_000;
    const CONNS: usize = 8;
    let mut tasks = tokio::task::JoinSet::new();
    for conn in 0..CONNS {
        let (addr, ca) = (s.addr, s.certs.join("ca.crt"));
        tasks.spawn(async move {
            let proto = if conn % 2 == 0 { Proto::H2 } else { Proto::H1 };
            let mut c = Client::connect_to(addr, &ca, proto).await.unwrap();
            for i in (conn..N).step_by(CONNS) {
                let ep = if i % 2 == 0 { "/validate" } else { "/mutate" };
                let pod = pod_review(&format!("made-up-ns-{i}"), &format!("p{i}"), i % 3 == 0);
                assert_eq!(c.post_json(ep, &pod).await.status, 200);
                let ns = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "request": {"uid": format!("n{i}"), "kind": {"group": "", "version": "v1", "kind": "Namespace"},
                    "name": format!("made-up-team-{i}"), "operation": "CREATE",
                    "userInfo": {"username": format!("made-up-user-{i}"), "groups": ["system:authenticated"]},
                    "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("made-up-team-{i}"),
                        "labels": {"tenantguard.io/tenant": format!("made-up-tenant-{i}")}}}}});
                assert_eq!(c.post_json(ep, &ns).await.status, 200);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let m = common::metrics(s.metrics_addr).await;
    let series = |name: &str| m.lines().filter(|l| l.starts_with(name)).count();
    let requests = series("tenantguard_admission_requests_total{");
    let violations = series("tenantguard_policy_violations_total{");
    let total: f64 = m
        .lines()
        .filter(|l| l.starts_with("tenantguard_admission_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    println!(
        "cardinality: {} requests, {requests} request series, {violations} violation series, {} lines in /metrics",
        2 * N,
        m.lines().count()
    );
    assert_eq!(total as usize, 2 * N, "every request is counted");
    assert!(requests <= 24, "{requests} request series:\n{m}");
    assert!(violations <= 24, "{violations} violation series:\n{m}");
    assert!(!m.contains("made-up"), "a made-up name leaked into a label");
}

/// A connector presenting `cert`/`key` (PEM) and trusting `ca`.
fn client_auth_connector(ca: &Path, cert: &str, key: &str, proto: Proto) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&std::fs::read(ca).unwrap()) {
        roots.add(c.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    cfg.alpn_protocols = vec![match proto {
        Proto::H2 => b"h2".to_vec(),
        Proto::H1 => b"http/1.1".to_vec(),
    }];
    TlsConnector::from(Arc::new(cfg))
}

/// Connects and sends one request; any failure (handshake included) is Err.
async fn healthz_with(
    s: &common::Server,
    connector: TlsConnector,
    proto: Proto,
) -> Result<u16, String> {
    let mut c = Client::connect_with(s.addr, connector, proto).await?;
    // With TLS 1.3 the server checks the client certificate after the
    // client considers the handshake done: the refusal shows on first use.
    Ok(c.request("GET", "/healthz", vec![]).await?.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ca_refuses_clients_without_a_certificate_it_signed() {
    let client_ca = new_ca("apiserver client CA");
    let rogue_ca = new_ca("rogue CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = common::write_file(dir.path(), "client-ca.crt", &client_ca.pem);
    let s = start(Opts {
        extra: vec!["--client-ca".into(), ca_file.display().to_string()],
        ..Default::default()
    });
    let server_ca = s.certs.join("ca.crt");
    let (good, good_key) = leaf(
        &client_ca,
        "kube-apiserver",
        &["kube-apiserver"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (rogue, rogue_key) = leaf(
        &rogue_ca,
        "kube-apiserver",
        &["kube-apiserver"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    for proto in [Proto::H2, Proto::H1] {
        let none = healthz_with(&s, common::tls_connector(&server_ca, proto), proto).await;
        assert!(
            none.is_err(),
            "{proto:?}: no client certificate must be refused, got {none:?}"
        );
        let other = healthz_with(
            &s,
            client_auth_connector(&server_ca, &rogue, &rogue_key, proto),
            proto,
        )
        .await;
        assert!(
            other.is_err(),
            "{proto:?}: a certificate from another CA must be refused, got {other:?}"
        );
        let ok = healthz_with(
            &s,
            client_auth_connector(&server_ca, &good, &good_key, proto),
            proto,
        )
        .await;
        assert_eq!(
            ok,
            Ok(200),
            "{proto:?}: a certificate from --client-ca is served"
        );
        let mut c = Client::connect_with(
            s.addr,
            client_auth_connector(&server_ca, &good, &good_key, proto),
            proto,
        )
        .await
        .unwrap();
        let v = c
            .post_json("/validate", &pod_review("acme-prod", "cc", false))
            .await
            .json();
        assert_eq!(
            v["response"]["uid"], "cc",
            "judged over the authenticated connection"
        );
    }
    // The kubelet's probes present no client certificate: the plain metrics
    // listener answers them (the chart probes it when tls.clientCA is set).
    for path in ["/healthz", "/readyz"] {
        let (status, body) = common::plain_get(s.metrics_addr, path).await;
        assert_eq!(
            (status, body.as_str()),
            (200, "ok"),
            "{path} on the metrics listener"
        );
    }
}
