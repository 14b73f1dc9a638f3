//! End-to-end harness: the real `tenantguard serve` process on 127.0.0.1
//! (port 0, the bound address read from its log), certificates from the
//! real `tenantguard certs`, and a client that trusts only that CA and checks
//! the Service name, over HTTP/2 or HTTP/1.1 as the apiserver would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const SERVICE_NAME: &str = "tenantguard.tenantguard-system.svc";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tenantguard"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The keys of a JSON object (a JSON contract's field names).
pub fn keys(v: &Value) -> std::collections::BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// The helm binary: on PATH, else the pinned one in `.tools/bin`.
pub fn helm() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("helm"))
        .chain([repo().join(".tools/bin/helm")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "helm is not on PATH nor in .tools/bin; run scripts/setup-tools.sh \
                 (scripts/test.sh does it and puts .tools/bin on PATH)"
            )
        })
}

/// `helm template tg charts/tenantguard --namespace tenantguard-system
/// <args>`: the rendered manifests (the render must succeed).
pub fn helm_template(args: &[&str]) -> String {
    let out = Command::new(helm())
        .args(["template", "tg"])
        .arg(repo().join("charts/tenantguard"))
        .args(["--namespace", "tenantguard-system"])
        .args(args)
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The captured AdmissionReviews in `tests/fixtures/real` (see PROVENANCE.md there).
pub fn real_fixtures() -> PathBuf {
    let p = repo().join("tests/fixtures/real");
    assert!(
        p.is_dir(),
        "{} is missing: the captured fixtures ship with the repository; restore tests/fixtures/real from git",
        p.display()
    );
    p
}

/// A fixture as a full AdmissionReview (bare AdmissionRequests are wrapped).
pub fn review_fixture(rel: &str) -> Value {
    let text = std::fs::read_to_string(real_fixtures().join(rel)).expect("fixture");
    let v: Value = serde_json::from_str(&text).expect("fixture JSON");
    if v.get("request").is_some() {
        v
    } else {
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": v})
    }
}

/// Runs `tenantguard certs` into a new temp dir.
pub fn make_certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin())
        .args([
            "certs",
            "--service",
            "tenantguard",
            "--namespace",
            "tenantguard-system",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run tenantguard certs");
    assert!(
        out.status.success(),
        "certs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub certs: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    _certs_dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for [`start`].
#[derive(Default)]
pub struct Opts<'a> {
    pub policies: Option<&'a Path>,
    pub inventory: Option<&'a Path>,
    pub certs: Option<&'a Path>,
    pub extra: Vec<String>,
    /// Pass no --tls-cert/--tls-key (e.g. TLS mode self, which takes none).
    pub no_tls_files: bool,
}

fn parse_addr(line: &str, key: &str) -> Option<SocketAddr> {
    let start = line.find(key)? + key.len();
    line[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .next()?
        .parse()
        .ok()
}

/// Starts `tenantguard serve` on 127.0.0.1:0 and waits until it listens.
pub fn start(opts: Opts<'_>) -> Server {
    let (certs_dir, certs) = match opts.certs {
        Some(p) => (None, p.to_path_buf()),
        None => {
            let d = make_certs();
            let p = d.path().to_path_buf();
            (Some(d), p)
        }
    };
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-format",
            "text",
        ])
        .arg("--policies")
        .arg(
            opts.policies
                .map_or_else(|| repo().join("policies"), Path::to_path_buf),
        )
        .args(&opts.extra)
        .env("TENANTGUARD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if !opts.no_tls_files {
        cmd.arg("--tls-cert")
            .arg(certs.join("tls.crt"))
            .arg("--tls-key")
            .arg(certs.join("tls.key"));
    }
    if let Some(inv) = opts.inventory {
        cmd.arg("--inventory").arg(inv);
    }
    let mut child = cmd.spawn().expect("spawn tenantguard serve");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let log2 = log.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let (Some(a), Some(m)) =
                    (parse_addr(&line, "webhook="), parse_addr(&line, "metrics="))
                {
                    let _ = tx.send((a, m));
                    sent = true;
                }
            }
            log2.lock().unwrap().push(line);
        }
    });
    let (addr, metrics_addr) = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "server did not start; log:\n{}",
                log.lock().unwrap().join("\n")
            );
        }
    };
    Server {
        child,
        addr,
        metrics_addr,
        certs,
        log,
        _certs_dir: certs_dir,
    }
}

/// HTTP protocol the client insists on (by ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    H2,
    H1,
}

pub fn tls_connector(ca: &Path, alpn: Proto) -> TlsConnector {
    let pem = std::fs::read(ca).expect("read ca.crt");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.expect("ca pem")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![match alpn {
        Proto::H2 => b"h2".to_vec(),
        Proto::H1 => b"http/1.1".to_vec(),
    }];
    TlsConnector::from(Arc::new(cfg))
}

/// One response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The protocol ALPN negotiated.
    pub alpn: Option<Vec<u8>>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection to the server, as the apiserver makes one.
pub struct Client {
    sender: Sender,
    pub alpn: Option<Vec<u8>>,
}

enum Sender {
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
}

impl Client {
    pub async fn connect(server: &Server, proto: Proto) -> Result<Client, String> {
        Self::connect_to(server.addr, &server.certs.join("ca.crt"), proto).await
    }

    pub async fn connect_to(addr: SocketAddr, ca: &Path, proto: Proto) -> Result<Client, String> {
        Self::connect_with(addr, tls_connector(ca, proto), proto).await
    }

    /// Connects with a caller-built TLS configuration (e.g. one presenting a
    /// client certificate); its ALPN list should name `proto`.
    pub async fn connect_with(
        addr: SocketAddr,
        connector: TlsConnector,
        proto: Proto,
    ) -> Result<Client, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        // As Go's net/http (the apiserver) does: without it, Nagle and the
        // peer's delayed ACK add ~40 ms to requests written in two parts.
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let name = ServerName::try_from(SERVICE_NAME).map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let sender = match proto {
            Proto::H2 => {
                let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H2(s)
            }
            Proto::H1 => {
                let (s, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H1(s)
            }
        };
        Ok(Client { sender, alpn })
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{SERVICE_NAME}{path}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = match &mut self.sender {
            Sender::H2(s) => s.send_request(req).await,
            Sender::H1(s) => {
                s.ready().await.map_err(|e| e.to_string())?;
                s.send_request(req).await
            }
        }
        .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Reply {
            status,
            body,
            alpn: self.alpn.clone(),
        })
    }

    pub async fn post_json(&mut self, path: &str, v: &Value) -> Reply {
        self.request("POST", path, serde_json::to_vec(v).unwrap())
            .await
            .expect("request")
    }
}

/// Waits (polling, bounded) until `f` holds.
pub async fn eventually(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Plain-HTTP GET of the metrics page.
pub async fn metrics(addr: SocketAddr) -> String {
    plain_get(addr, "/metrics").await.1
}

/// Plain-HTTP GET of a path of the metrics listener: status and body.
pub async fn plain_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let tcp = TcpStream::connect(addr).await.expect("metrics connect");
    let (mut s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = s.send_request(req).await.expect("metrics request");
    let status = resp.status().as_u16();
    let b = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&b).into_owned())
}

/// Decodes the base64 JSONPatch of a response.
pub fn patch_of(review: &Value) -> Option<json_patch::Patch> {
    use base64::Engine;
    let b64 = review["response"]["patch"].as_str()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    Some(serde_json::from_slice(&raw).expect("patch JSON"))
}

/// Writes an inventory file into `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// The real server on [`INVENTORY`] plus `tenancy` (more Namespace and
/// Tenant YAML, joined with `---`), and an HTTP/2 client that trusts only its
/// CA. Keep the directory alive as long as the server: the inventory is in it.
pub async fn serve_tenancy(tenancy: &str) -> (Server, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = write_file(
        dir.path(),
        "inv.yaml",
        &format!("{INVENTORY}---\n{tenancy}"),
    );
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    let c = Client::connect(&s, Proto::H2).await.expect("HTTP/2 client");
    (s, c, dir)
}

/// The inventory most end-to-end tests use: `default` and `acme-prod` belong
/// to tenant acme, `globex-prod` to globex, `monitoring` is a platform namespace.
pub const INVENTORY: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {tenantguard.io/tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-prod, labels: {tenantguard.io/tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: customer-1, labels: {tenantguard.io/tenant: customer-1}}
---
apiVersion: v1
kind: Namespace
metadata: {name: globex-prod, labels: {tenantguard.io/tenant: globex}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
";

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `tenantguard <args>` in the repository (policy and inventory
/// environment variables cleared), with `stdin` piped in when given.
pub fn tg(args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(repo())
        .env_remove("TENANTGUARD_POLICIES")
        .env_remove("TENANTGUARD_INVENTORY")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tenantguard");
    if let Some(text) = stdin {
        // A run that fails on its flags exits without reading stdin: a
        // broken pipe then is no test failure (the exit code tells).
        let mut pipe = child.stdin.take().unwrap();
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
