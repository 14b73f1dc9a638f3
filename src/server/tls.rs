//! rustls configuration: ALPN `h2` + `http/1.1`, TLS 1.2 minimum (rustls
//! defaults), optional client-certificate authentication, and a certificate
//! store that can be swapped while connections are being served.
//!
//! Kubernetes updates a Secret volume by swapping a symlink, so the reloader
//! compares file contents, not modification times, and keeps the last good
//! pair when a new one does not load.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::certs::{self, CertError};
use crate::metrics::Metrics;
use crate::swap::Swap;

/// The certificate being served, swappable at any time. An empty store
/// (TLS `mode: self` before its Secret is read) fails every handshake.
#[derive(Debug)]
pub struct CertStore {
    current: Swap<Option<Arc<CertifiedKey>>>,
}

impl CertStore {
    pub fn new(key: Arc<CertifiedKey>) -> Self {
        CertStore {
            current: Swap::new(Some(key)),
        }
    }

    /// A store with nothing to serve yet.
    pub fn empty() -> Self {
        CertStore {
            current: Swap::new(None),
        }
    }

    pub fn set(&self, key: Arc<CertifiedKey>) {
        self.current.store(Some(key));
    }

    pub fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current.load().as_ref().clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("--client-ca {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server configuration that serves whatever `store` holds.
pub fn server_config(
    store: Arc<CertStore>,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let bad = |reason: String| TlsError::ClientCa {
                path: path.to_path_buf(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("holds no PEM certificate".into()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Watches a certificate and key file pair and swaps the store when their
/// contents change and load; a bad pair keeps the last good one.
pub async fn watch_files(
    store: Arc<CertStore>,
    cert: PathBuf,
    key: PathBuf,
    interval: Duration,
    metrics: Arc<Metrics>,
) {
    let read = |p: &Path| std::fs::read(p).ok();
    let mut last = (read(&cert), read(&key));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = (read(&cert), read(&key));
        if now == last {
            continue;
        }
        let (Some(c), Some(k)) = (&now.0, &now.1) else {
            // A file vanished mid-swap: try again on the next tick.
            continue;
        };
        match certs::certified_key_from_pem(c, k, &cert, &key) {
            Ok(ck) => {
                store.set(Arc::new(ck));
                metrics.cert_reloads.with_label_values(&["success"]).inc();
                if let Some(exp) = certs::not_after_unix(c) {
                    metrics.cert_expiry.set(exp as f64);
                }
                tracing::info!(cert = %cert.display(), "serving certificate reloaded");
                last = now;
            }
            Err(e) => {
                metrics.cert_reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %e, "new serving certificate does not load; keeping the last good one");
                // Remember the bad pair so the error is reported once per change.
                last = now;
            }
        }
    }
}
