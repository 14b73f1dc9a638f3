//! A minimal HTTPS client for what h2load cannot do: poll `/readyz` to time
//! start-up, and check each server's answers before they are loaded (so a
//! benchmark never measures an error path). It trusts only the generated CA
//! and checks the Service name, as the apiserver does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The name `tenantguard certs --service tenantguard --namespace
/// tenantguard-system` certifies.
pub const SERVICE_NAME: &str = "tenantguard.tenantguard-system.svc";

pub struct Client {
    connector: TlsConnector,
}

impl Client {
    /// A client trusting only `ca` (PEM), speaking HTTP/2 (readiness and
    /// checks do not depend on the protocol; the load does, and h2load
    /// drives both).
    pub fn new(ca: &Path) -> Result<Client, String> {
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Client {
            connector: TlsConnector::from(Arc::new(cfg)),
        })
    }

    /// One request on a new connection: (status, body).
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let name = ServerName::try_from(SERVICE_NAME).map_err(|e| e.to_string())?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {addr}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP/2 with {addr}: {e}"))?;
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{SERVICE_NAME}{path}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: body: {e}"))?
            .to_bytes()
            .to_vec();
        Ok((status, body))
    }

    /// POSTs a review and returns the response body; anything but 200 is an error.
    pub async fn review(
        &self,
        addr: SocketAddr,
        path: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, String> {
        let (status, out) = self.request(addr, "POST", path, body.to_vec()).await?;
        if status != 200 {
            return Err(format!(
                "POST {path} answered {status}: {}",
                String::from_utf8_lossy(&out)
            ));
        }
        Ok(out)
    }

    /// Polls `GET /readyz` until it answers 200; returns when it did.
    /// Connection errors before the server listens are expected; the poll
    /// is bounded by `timeout`.
    pub async fn wait_ready(&self, addr: SocketAddr, timeout: Duration) -> Result<Instant, String> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            match self.request(addr, "GET", "/readyz", Vec::new()).await {
                Ok((200, _)) => return Ok(Instant::now()),
                Ok((s, b)) => last = format!("{s} {}", String::from_utf8_lossy(&b)),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Err(format!(
            "/readyz on {addr} never answered 200 within {timeout:?} (last: {last})"
        ))
    }
}
