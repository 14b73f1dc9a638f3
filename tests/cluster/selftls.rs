//! TLS `mode: self` against the stand-in apiserver: replicas that each run
//! the task and serve TLS from their own certificate store, checked the
//! way the apiserver would check them: a handshake that trusts only the
//! `caBundle` of tenantguard's webhook configuration, for the Service's
//! DNS name, at the (fake) time of the test. Time is a fake clock moved on
//! by the test, so renewal and rollover take seconds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{json, Value};
use tenantguard::cluster::selftls::{self, SelfTlsOptions};
use tenantguard::metrics::Metrics;
use tenantguard::selftls::Lifetimes;
use tenantguard::server::tls::{self, CertStore};
use tokio::sync::watch;

use super::apiserver::{ApiServer, Fault};
use super::common::{self, Opts};
use super::{eventually, rbac};

const NS: &str = rbac::OWN_NAMESPACE;
const SECRET: &str = "tenantguard-tls";
const MUTATING: &str = "tenantguard";
const VALIDATING: &str = "tenantguard";
const DAY: i64 = 86400;
const HOST: &str = "tenantguard.tenantguard-system.svc";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A webhook configuration with these entries (and, when given, a caBundle in each).
fn configuration(kind: &str, name: &str, entries: &[&str], bundle: Option<&str>) -> Value {
    let webhooks: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut client = json!({"service": {"name": "tenantguard", "namespace": NS, "path": "/validate", "port": 443}});
            if let Some(b) = bundle {
                client["caBundle"] = json!(b64(b));
            }
            json!({"name": e, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "clientConfig": client, "failurePolicy": "Fail"})
        })
        .collect();
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
        "metadata": {"name": name}, "webhooks": webhooks})
}

/// tenantguard's two configurations (entries as the chart names them) and
/// someone else's, which must never be touched.
fn cluster() -> ApiServer {
    let api = ApiServer::new();
    api.put(configuration(
        "MutatingWebhookConfiguration",
        MUTATING,
        &["mutate.tenantguard.io"],
        None,
    ));
    api.put(configuration(
        "ValidatingWebhookConfiguration",
        VALIDATING,
        &["validate.tenantguard.io", "namespaces.tenantguard.io"],
        Some("stale bundle left by an old install"),
    ));
    api.put(configuration(
        "ValidatingWebhookConfiguration",
        "someone-else",
        &["check.example.com"],
        Some("their own CA"),
    ));
    api
}

/// Each `caBundle` (decoded) of one of our configurations.
fn bundles(api: &ApiServer, resource: &str, name: &str) -> Vec<String> {
    let c = api.get(resource, "", name).expect("configuration");
    c["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| unb64(&w["clientConfig"]["caBundle"]))
        .collect()
}

/// The one bundle every entry of both our configurations holds, if they agree.
fn agreed_bundle(api: &ApiServer) -> Option<String> {
    let mut all = bundles(api, "mutatingwebhookconfigurations", MUTATING);
    all.extend(bundles(api, "validatingwebhookconfigurations", VALIDATING));
    let first = all.first()?.clone();
    (!first.is_empty() && all.iter().all(|b| *b == first)).then_some(first)
}

fn secret_key(api: &ApiServer, key: &str) -> Option<String> {
    api.get("secrets", NS, SECRET)
        .map(|s| unb64(&s["data"][key]))
}

fn pem_count(pem: &str) -> usize {
    CertificateDer::pem_slice_iter(pem.as_bytes()).count()
}

/// One replica: the task and a TLS listener serving its store.
struct TlsReplica {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsReplica {
    async fn start(
        api: &ApiServer,
        identity: &str,
        clock: &Arc<AtomicI64>,
        life: Lifetimes,
    ) -> Self {
        Self::start_named(api, identity, clock, life, (SECRET, MUTATING, VALIDATING)).await
    }

    /// [`TlsReplica::start`] with other names for the Secret and the two configurations.
    async fn start_named(
        api: &ApiServer,
        identity: &str,
        clock: &Arc<AtomicI64>,
        life: Lifetimes,
        (secret, mutating, validating): (&str, &str, &str),
    ) -> Self {
        let store = Arc::new(CertStore::empty());
        let metrics = Arc::new(Metrics::new());
        let (stop, stop_rx) = watch::channel(false);
        let now = clock.clone();
        let opts = SelfTlsOptions {
            interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            lifetimes: life,
            clock: Arc::new(move || now.load(Ordering::SeqCst)),
            ..SelfTlsOptions::new(secret, NS, mutating, validating, "tenantguard")
        };
        let task = selftls::spawn(
            api.client(identity),
            opts,
            store.clone(),
            metrics.clone(),
            stop_rx,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(store, None).unwrap());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut s) = acceptor.accept(tcp).await {
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut s).await;
                    }
                });
            }
        });
        TlsReplica {
            addr,
            metrics,
            stop,
            task,
        }
    }

    fn cert_errors(&self) -> u64 {
        let text = self.metrics.render();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("tenantguard_certificate_reloads_total{result=\"error\"}")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(super::DEADLINE, self.task).await;
    }
}

/// Trusts only `roots` (or, with none, any certificate), for the
/// Service's name, at the test's time.
#[derive(Debug)]
struct AsTheApiserver {
    roots: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    at: UnixTime,
}

impl ServerCertVerifier for AsTheApiserver {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.roots {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, self.at),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The certificate `addr` serves, if a client trusting only `bundle` (any
/// certificate when `None`) at `at` accepts it.
async fn handshake(addr: SocketAddr, bundle: Option<&str>, at: i64) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match bundle {
        None => None,
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(c.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| e.to_string())?;
            Some(v)
        }
    };
    let verifier = AsTheApiserver {
        roots,
        algorithms: provider.signature_verification_algorithms,
        at: UnixTime::since_unix_epoch(Duration::from_secs(at as u64)),
    };
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(HOST).map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .ok_or("no peer certificate")?;
    Ok(peer[0].to_vec())
}

/// The DER of the first certificate of a PEM text.
fn der(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

/// Waits until `r` serves a certificate the current bundle trusts at `at`
/// that `want` accepts; returns it.
async fn served(api: &ApiServer, r: &TlsReplica, at: i64, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(bundle) = agreed_bundle(api) {
            if let Ok(cert) = handshake(r.addr, Some(&bundle), at).await {
                if want(&cert) {
                    return cert;
                }
            }
        }
        assert!(
            start.elapsed() < super::DEADLINE,
            "timed out waiting for the served certificate"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn short(ca_days: i64, serving_days: i64) -> Lifetimes {
    Lifetimes {
        ca_days,
        serving_days,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_secret_one_certificate_our_bundles_only() {
    let api = cluster();
    let someone_else = api.get("validatingwebhookconfigurations", "", "someone-else");
    // Both replicas' first reads are held, so both find no Secret and race to create it.
    let (release, hold) = watch::channel(false);
    let held = api.fault(Method::GET, "/secrets/", Fault::Hold(hold));
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let a = TlsReplica::start(&api, "replica-a", &clock, Lifetimes::default()).await;
    let b = TlsReplica::start(&api, "replica-b", &clock, Lifetimes::default()).await;

    // Nothing is served before the Secret is read, not even to a client
    // that would take any certificate: no throwaway certificate.
    for r in [&a, &b] {
        let refused = handshake(r.addr, None, t0).await;
        assert!(
            refused.is_err(),
            "served before the Secret was read: {refused:?}"
        );
    }
    // Whether or not both reads were held at once, exactly one create wins.
    release.send_replace(true);
    api.clear_fault(held);

    let cert_a = served(&api, &a, t0 + 60, |_| true).await;
    let cert_b = served(&api, &b, t0 + 60, |_| true).await;
    assert_eq!(cert_a, cert_b, "the replicas serve different certificates");
    assert_eq!(cert_a, der(&secret_key(&api, "tls.crt").unwrap()));
    assert_eq!(agreed_bundle(&api), secret_key(&api, "ca.crt"));
    assert_eq!(
        bundles(&api, "validatingwebhookconfigurations", VALIDATING).len(),
        2
    );

    let calls = api.calls();
    let creates: Vec<u16> = calls
        .iter()
        .filter(|c| c.resource == "secrets" && c.verb == "create")
        .map(|c| c.status)
        .collect();
    assert_eq!(
        creates.iter().filter(|s| **s == 201).count(),
        1,
        "{creates:?}"
    );
    assert!(
        creates.iter().all(|s| *s == 201 || *s == 409),
        "{creates:?}"
    );
    // Only our two configurations were patched, by JSON patch.
    for c in calls.iter().filter(|c| c.verb == "patch") {
        assert!(
            (c.resource == "mutatingwebhookconfigurations" && c.name == MUTATING)
                || (c.resource == "validatingwebhookconfigurations" && c.name == VALIDATING),
            "patched {} {}",
            c.resource,
            c.name
        );
        assert_eq!(c.content_type, "application/json-patch+json");
    }
    assert_eq!(
        api.get("validatingwebhookconfigurations", "", "someone-else"),
        someone_else
    );
    assert_eq!(a.cert_errors() + b.cert_errors(), 0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serving_certificate_is_renewed_before_it_expires() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let a = TlsReplica::start(&api, "replica-a", &clock, short(30, 3)).await;
    let b = TlsReplica::start(&api, "replica-b", &clock, short(30, 3)).await;
    let first = served(&api, &a, t0 + 60, |_| true).await;
    served(&api, &b, t0 + 60, |c| c == first).await;
    let ca = secret_key(&api, "ca.crt").unwrap();

    // A day before expiry (two thirds of three days gone): a new certificate
    // from the same CA, served by both replicas, neither restarted.
    let later = t0 + 2 * DAY;
    clock.store(later, Ordering::SeqCst);
    let renewed = served(&api, &a, later, |c| c != first).await;
    served(&api, &b, later, |c| c == renewed).await;
    assert_eq!(secret_key(&api, "ca.crt").unwrap(), ca, "the CA changed");
    assert_eq!(agreed_bundle(&api).unwrap(), ca);
    assert_eq!(renewed, der(&secret_key(&api, "tls.crt").unwrap()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_rolls_over_with_both_trusted_during_the_overlap() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    // The CA and the serving certificate both live three days.
    let r = TlsReplica::start(&api, "replica-a", &clock, short(3, 3)).await;
    let first = served(&api, &r, t0 + 60, |_| true).await;
    let old_ca = secret_key(&api, "ca.crt").unwrap();

    // Two days on the CA is due: a new CA first in the bundle, the old one
    // still there, and the serving certificate unchanged (its CA is trusted).
    let roll = t0 + 2 * DAY;
    clock.store(roll, Ordering::SeqCst);
    let bundle = eventually("the bundle to hold two CAs", || {
        agreed_bundle(&api).filter(|b| pem_count(b) == 2)
    })
    .await;
    assert!(bundle.ends_with(&old_ca), "the old CA left the bundle");
    let new_ca = bundle.strip_suffix(&old_ca).unwrap().to_string();
    assert_eq!(
        handshake(r.addr, Some(&bundle), roll).await,
        Ok(first.clone())
    );
    assert!(
        handshake(r.addr, Some(&new_ca), roll).await.is_err(),
        "served from the new CA before the overlap"
    );

    // After the overlap the serving certificate comes from the new CA; the
    // bundle still trusts both.
    let after = roll + tenantguard::selftls::DEFAULT_OVERLAP_SECS;
    clock.store(after, Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    let renewed = loop {
        if let Ok(c) = handshake(r.addr, Some(&new_ca), after).await {
            break c;
        }
        assert!(
            start.elapsed() < super::DEADLINE,
            "never served from the new CA"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(renewed, first);
    assert_eq!(agreed_bundle(&api).map(|b| pem_count(&b)), Some(2));

    // Once the old CA has expired it leaves the bundle.
    let expired = t0 + 3 * DAY + 1;
    clock.store(expired, Ordering::SeqCst);
    let bundle = eventually("the expired CA to be dropped", || {
        agreed_bundle(&api).filter(|b| pem_count(b) == 1)
    })
    .await;
    assert_eq!(bundle, new_ca);
    assert_eq!(handshake(r.addr, Some(&bundle), expired).await, Ok(renewed));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_leaves_the_last_good_certificate_serving() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let r = TlsReplica::start(&api, "replica-a", &clock, Lifetimes::default()).await;
    let good = served(&api, &r, t0 + 60, |_| true).await;
    let bundle = agreed_bundle(&api).unwrap();

    // Someone breaks the key.
    let mut broken = api.get("secrets", NS, SECRET).unwrap();
    broken["data"]["tls.key"] = json!(b64("not a key"));
    api.put(broken);
    eventually("the problem to be reported", || {
        (r.cert_errors() == 1).then_some(())
    })
    .await;
    // Reported, not overwritten, and the last good certificate still served
    // with the bundle unchanged.
    assert_eq!(secret_key(&api, "tls.key").unwrap(), "not a key");
    assert_eq!(
        handshake(r.addr, Some(&bundle), t0 + 60).await,
        Ok(good.clone())
    );
    assert_eq!(agreed_bundle(&api).unwrap(), bundle);
    // Reported once per change, not on every pass.
    let passes = api.calls().len();
    eventually("a few more passes", || {
        (api.calls().len() > passes + 5).then_some(())
    })
    .await;
    assert_eq!(r.cert_errors(), 1);

    // The documented fix: delete the Secret; a new CA and certificate are
    // made, served, and the bundles follow.
    api.delete("secrets", NS, SECRET);
    let fresh = served(&api, &r, t0 + 60, |c| c != good).await;
    assert_ne!(agreed_bundle(&api).unwrap(), bundle);
    assert_eq!(fresh, der(&secret_key(&api, "tls.crt").unwrap()));
    r.stop().await;
}

/// Everything the task asks of the apiserver, for the RBAC check: with the
/// Secret and both configurations named `name`, a create, the caBundle
/// patches, then (time moved on) a renewal by update.
pub async fn exercise(api: &ApiServer, name: &str) {
    api.put(configuration(
        "MutatingWebhookConfiguration",
        name,
        &["mutate.tenantguard.io"],
        None,
    ));
    api.put(configuration(
        "ValidatingWebhookConfiguration",
        name,
        &["validate.tenantguard.io"],
        None,
    ));
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let r = TlsReplica::start_named(
        api,
        "replica-a",
        &clock,
        Lifetimes::default(),
        (name, name, name),
    )
    .await;
    let bundled = |api: &ApiServer| {
        let s = api.get("secrets", NS, name)?;
        let want = s["data"]["ca.crt"].clone();
        let all_set = [
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ]
        .iter()
        .all(|res| {
            api.get(res, "", name)
                .is_some_and(|c| c["webhooks"][0]["clientConfig"]["caBundle"] == want)
        });
        all_set.then_some(s["data"]["tls.crt"].clone())
    };
    let first = eventually("the Secret and both caBundles", || bundled(api)).await;
    clock.store(t0 + 300 * DAY, Ordering::SeqCst);
    eventually("a renewal", || bundled(api).filter(|c| *c != first)).await;
    r.stop().await;
}

/// The real `tenantguard serve` in mode self: nothing served (so not ready)
/// until its Secret is read, then the certificate it created, trusted by
/// the caBundle it set, and `/readyz` answers 200 over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_in_mode_self_serves_its_own_secret() {
    let api = super::world();
    for c in [
        configuration(
            "MutatingWebhookConfiguration",
            MUTATING,
            &["mutate.tenantguard.io"],
            None,
        ),
        configuration(
            "ValidatingWebhookConfiguration",
            VALIDATING,
            &["validate.tenantguard.io"],
            None,
        ),
    ] {
        api.put(c);
    }
    let (release, hold) = watch::channel(false);
    let held = api.fault(Method::GET, "/secrets/", Fault::Hold(hold));
    let addr = api.serve_http("tenantguard-0").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = common::write_file(
        dir.path(),
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: stand-in\n\
             clusters: [{{name: stand-in, cluster: {{server: \"http://{addr}\"}}}}]\n\
             users: [{{name: tenantguard, user: {{}}}}]\n\
             contexts: [{{name: stand-in, context: {{cluster: stand-in, user: tenantguard}}}}]\n"
        ),
    );
    let server = common::start(Opts {
        extra: [
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--leader-identity",
            "tenantguard-0",
            "--tls-self-secret",
            SECRET,
            "--tls-self-webhooks",
            &format!("{MUTATING},{VALIDATING}"),
        ]
        .map(String::from)
        .to_vec(),
        no_tls_files: true,
        ..Opts::default()
    });
    let refused = handshake(server.addr, None, 0).await;
    assert!(
        refused.is_err(),
        "served before its Secret was read: {refused:?}"
    );

    release.send_replace(true);
    api.clear_fault(held);
    let bundle = eventually("the caBundles", || agreed_bundle(&api)).await;
    let ca = common::write_file(dir.path(), "ca.crt", &bundle);
    // Trusting only the bundle, with real time and the Service's name.
    let mut c = None;
    common::eventually(
        "/readyz over the Secret's certificate",
        Duration::from_secs(30),
        async || {
            if c.is_none() {
                c = common::Client::connect_to(server.addr, &ca, common::Proto::H2)
                    .await
                    .ok();
            }
            match c.as_mut() {
                Some(c) => c
                    .request("GET", "/readyz", vec![])
                    .await
                    .is_ok_and(|r| r.status == 200),
                None => false,
            }
        },
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        handshake(server.addr, Some(&bundle), now).await,
        Ok(der(&secret_key(&api, "tls.crt").unwrap()))
    );
    let text = common::metrics(server.metrics_addr).await;
    assert!(
        text.contains("tenantguard_certificate_reloads_total{result=\"success\"} 1"),
        "{text}"
    );
    rbac::assert_allowed(
        &api.calls()
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.resource.as_str(),
                    "secrets" | "mutatingwebhookconfigurations" | "validatingwebhookconfigurations"
                )
            })
            .collect::<Vec<_>>(),
    );
}
