//! The floor webhook of the load benchmark: the same stack as `tenantguard
//! serve` (axum, tokio-rustls with ALPN h2 + http/1.1, hyper-util's auto
//! builder, a multi-threaded tokio runtime) doing nothing but parse the body
//! into a `serde_json::Value` and answer `allowed: true` with the uid. What
//! tenantguard costs is measured as a ratio to this.
//!
//! ```sh
//! cargo run --release --example floor -- --listen 127.0.0.1:0 --tls-cert DIR/tls.crt --tls-key DIR/tls.key
//! ```
//!
//! It logs `webhook=ADDR` once it listens, as `tenantguard serve` does.

#[path = "../bench/workload.rs"]
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tenantguard::certs;
use tenantguard::server::tls::{server_config, CertStore};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

struct Args {
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse()?;
    let (mut cert, mut key) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                listen = v
                    .parse()
                    .with_context(|| format!("--listen {v}: not an address like 127.0.0.1:0"))?;
            }
            "--tls-cert" => cert = Some(PathBuf::from(value()?)),
            "--tls-key" => key = Some(PathBuf::from(value()?)),
            other => bail!(
                "unknown flag {other}; usage: floor [--listen ADDR] --tls-cert FILE --tls-key FILE"
            ),
        }
    }
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Args { listen, cert, key }),
        _ => bail!("--tls-cert and --tls-key are required (make them with `tenantguard certs`)"),
    }
}

async fn allow(body: Bytes) -> Response {
    match workload::floor_answer(&body) {
        Some(out) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            out,
        )
            .into_response(),
        None => (StatusCode::BAD_REQUEST, "the body is not valid JSON\n").into_response(),
    }
}

fn router() -> Router {
    Router::new()
        .route("/mutate", post(allow))
        .route("/validate", post(allow))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let key = certs::load_certified_key(&args.cert, &args.key)?;
    let tls = server_config(Arc::new(CertStore::new(key)), None)?;
    let acceptor = TlsAcceptor::from(tls);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "floor serving (HTTPS: h2 and http/1.1) webhook={}",
        listener.local_addr()?
    );
    let app = router();
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            builder.http2().timer(TokioTimer::new());
            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
        });
    }
}
