//! What the TLS mode self tests share: the webhook configurations, one
//! replica (the task and a TLS listener over its store), and a handshake
//! that checks the served certificate as the apiserver would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

use super::super::apiserver::ApiServer;
use super::super::{rbac, DEADLINE};

pub(super) const NS: &str = rbac::OWN_NAMESPACE;
pub(super) const SECRET: &str = "tenantguard-tls";
pub(super) const MUTATING: &str = "tenantguard";
pub(super) const VALIDATING: &str = "tenantguard";
pub(super) const DAY: i64 = 86400;
pub(super) const HOST: &str = "tenantguard.tenantguard-system.svc";

pub(super) fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub(super) fn unb64(v: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A webhook configuration with these entries (and, when given, a caBundle in each).
pub(super) fn configuration(
    kind: &str,
    name: &str,
    entries: &[&str],
    bundle: Option<&str>,
) -> Value {
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
pub(super) fn cluster() -> ApiServer {
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
pub(super) fn bundles(api: &ApiServer, resource: &str, name: &str) -> Vec<String> {
    let c = api.get(resource, "", name).expect("configuration");
    c["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| unb64(&w["clientConfig"]["caBundle"]))
        .collect()
}

/// The one bundle every entry of both our configurations holds, if they agree.
pub(super) fn agreed_bundle(api: &ApiServer) -> Option<String> {
    let mut all = bundles(api, "mutatingwebhookconfigurations", MUTATING);
    all.extend(bundles(api, "validatingwebhookconfigurations", VALIDATING));
    let first = all.first()?.clone();
    (!first.is_empty() && all.iter().all(|b| *b == first)).then_some(first)
}

pub(super) fn secret_key(api: &ApiServer, key: &str) -> Option<String> {
    api.get("secrets", NS, SECRET)
        .map(|s| unb64(&s["data"][key]))
}

pub(super) fn pem_count(pem: &str) -> usize {
    CertificateDer::pem_slice_iter(pem.as_bytes()).count()
}

/// One replica: the task and a TLS listener serving its store.
pub(super) struct TlsReplica {
    pub(super) addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsReplica {
    pub(super) async fn start(
        api: &ApiServer,
        identity: &str,
        clock: &Arc<AtomicI64>,
        life: Lifetimes,
    ) -> Self {
        let now = clock.clone();
        let clock: selftls::Clock = Arc::new(move || now.load(Ordering::SeqCst));
        Self::start_named(api, identity, clock, life, (SECRET, MUTATING, VALIDATING)).await
    }

    /// [`TlsReplica::start`] with other names for the Secret and the two configurations.
    pub(super) async fn start_named(
        api: &ApiServer,
        identity: &str,
        clock: selftls::Clock,
        life: Lifetimes,
        (secret, mutating, validating): (&str, &str, &str),
    ) -> Self {
        let store = Arc::new(CertStore::empty());
        let metrics = Arc::new(Metrics::new());
        let (stop, stop_rx) = watch::channel(false);
        let opts = SelfTlsOptions {
            interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            lifetimes: life,
            clock,
            ..SelfTlsOptions::new(secret, NS, mutating, validating, "tenantguard")
        };
        let task = selftls::spawn(
            api.client(identity),
            opts,
            {
                let store = store.clone();
                Arc::new(move |k| store.set(k))
            },
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

    pub(super) fn cert_errors(&self) -> u64 {
        let text = self.metrics.render();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("tenantguard_certificate_reloads_total{result=\"error\"}")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(DEADLINE, self.task).await;
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
pub(super) async fn handshake(
    addr: SocketAddr,
    bundle: Option<&str>,
    at: i64,
) -> Result<Vec<u8>, String> {
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
pub(super) fn der(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

/// Waits until `r` serves a certificate the current bundle trusts at `at`
/// that `want` accepts; returns it.
pub(super) async fn served(
    api: &ApiServer,
    r: &TlsReplica,
    at: i64,
    want: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
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
            start.elapsed() < DEADLINE,
            "timed out waiting for the served certificate"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) fn short(ca_days: i64, serving_days: i64) -> Lifetimes {
    Lifetimes {
        ca_days,
        serving_days,
    }
}
