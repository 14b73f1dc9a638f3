//! The webhook server: `router(state)` (testable without a socket), the TLS
//! accept loop (HTTP/2 and HTTP/1.1 by ALPN), the plain-HTTP metrics
//! listener, reloads and graceful shutdown.
//!
//! Handlers only decode, log and encode: a policy decision is HTTP 200 with
//! `allowed` and the reason; non-2xx only for bodies that cannot be decoded.

pub mod tls;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::admission::{self, Endpoint};
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::policy::{self, Action};
use crate::tenancy::TenancySource;

pub use crate::swap::Swap;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Swap<Engine>>,
    pub tenancy: Arc<dyn TenancySource>,
    pub metrics: Arc<Metrics>,
    /// Set when shutdown begins: readiness goes false first.
    pub shutting_down: Arc<AtomicBool>,
}

/// Limits that protect the server from clients, slow or hostile.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub max_concurrent_streams: u32,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(4),
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(5),
            max_concurrent_streams: 256,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// What the webhook's handlers share: behind one `Arc`, so a request costs
/// one reference count, not one per part.
struct Webhook {
    state: AppState,
    limits: Limits,
}

/// The webhook routes: `/mutate`, `/validate`, `/healthz`, `/readyz`.
///
/// The body limit, the early refusal of an announced oversize body and the
/// request timeout are applied in [`admit`] rather than as tower layers: a
/// layer per concern costs a boxed future and a service clone per request,
/// more than judging a small object.
pub fn router(state: AppState, limits: Limits) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(Arc::new(Webhook { state, limits }))
}

/// Reads the body within the limits and judges it. A body whose
/// Content-Length already exceeds the limit is refused before any of it is
/// read: the client learns at once, and a client that announces 50 MiB and
/// then stalls cannot hold the request until the timeout. The timeout
/// covers reading the body and judging it.
async fn admit(w: &Webhook, endpoint: Endpoint, req: axum::extract::Request) -> Response {
    let max = w.limits.max_body_bytes;
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > max as u64) {
        return too_large(&format!("the body is {n} bytes"), max);
    }
    let judged = async {
        match axum::body::to_bytes(req.into_body(), max).await {
            Ok(body) => handle(&w.state, endpoint, &body).await,
            Err(e) => {
                let e = e.into_inner();
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large(&format!("the body is over {max} bytes"), max)
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("cannot read the request body: {e}\n"),
                    )
                        .into_response()
                }
            }
        }
    };
    match tokio::time::timeout(w.limits.request_timeout, judged).await {
        Ok(r) => r,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the request took longer than the server's request timeout (--request-timeout)\n",
        )
            .into_response(),
    }
}

fn too_large(what: &str, max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("{what}; tenantguard accepts at most {max} (--max-body-bytes)\n"),
    )
        .into_response()
}

/// The routes of the plain-HTTP listener: `/metrics`, and `/healthz` and
/// `/readyz` answering as on the webhook port. With `--client-ca` the webhook
/// port refuses every TLS client without a certificate, the kubelet's probes
/// included, so the chart probes these instead.
pub fn metrics_router(metrics: Arc<Metrics>, state: AppState, limits: Limits) -> Router {
    let health = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(Webhook { state, limits }));
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        m.render(),
                    )
                }
            }),
        )
        .merge(health)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "not found: tenantguard serves POST /mutate, POST /validate, GET /healthz and GET /readyz",
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(w): State<Arc<Webhook>>) -> Response {
    let s = &w.state;
    if s.shutting_down.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    } else if !s.tenancy.ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "tenancy caches have not synced yet",
        )
            .into_response()
    } else {
        "ok".into_response()
    }
}

async fn mutate(State(w): State<Arc<Webhook>>, req: axum::extract::Request) -> Response {
    admit(&w, Endpoint::Mutate, req).await
}

async fn validate(State(w): State<Arc<Webhook>>, req: axum::extract::Request) -> Response {
    admit(&w, Endpoint::Validate, req).await
}

async fn handle(s: &AppState, endpoint: Endpoint, body: &[u8]) -> Response {
    let start = Instant::now();
    let engine = s.engine.load();
    let mut inventory = s.tenancy.snapshot();
    let mut result = admission::review(body, endpoint, &engine, &inventory);
    // A namespace the cluster cache has not seen yet (created a moment ago),
    // or has not seen onboarded yet, is looked up once at the source and the
    // request judged again; if that fails too, the engine's denial stands: a
    // tenant is never guessed, and no pod starts before isolation.
    let retry = match &result {
        Ok(admission::Reviewed {
            outcome: crate::engine::Outcome {
                error: Some(cause), ..
            },
            ..
        }) => cause.retry_namespace().map(str::to_string),
        _ => None,
    };
    if let Some(ns) = retry {
        inventory = s.tenancy.resolve(&ns).await;
        result = admission::review(body, endpoint, &engine, &inventory);
    }
    let elapsed = start.elapsed();
    s.metrics
        .duration
        .with_label_values(&[endpoint.as_str()])
        .observe(elapsed.as_secs_f64());
    match result {
        Err(e) => {
            let reason = match e {
                admission::DecodeError::Json(_) => "json",
                admission::DecodeError::Shape(_) => "shape",
                admission::DecodeError::ApiVersion(_) => "api_version",
                admission::DecodeError::Kind(_) => "kind",
                admission::DecodeError::NoRequest => "no_request",
                admission::DecodeError::NoUid => "no_uid",
            };
            s.metrics
                .bad_requests
                .with_label_values(&[endpoint.as_str(), reason])
                .inc();
            tracing::warn!(endpoint = endpoint.as_str(), error = %e, "bad admission request");
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Ok(r) => {
            let o = &r.outcome;
            let tenant = crate::metrics::Metrics::tenant_label(o.tenant.as_deref(), &inventory);
            let (kind, operation, dry_run, uid, namespace) = match &r.request {
                Some(q) => (
                    q.kind.as_str(),
                    q.operation.as_str(),
                    q.dry_run,
                    q.uid.as_str(),
                    q.namespace.as_str(),
                ),
                None => ("", "", false, r.uid.as_str(), ""),
            };
            let decision = if !o.allowed {
                "denied"
            } else if !o.warnings.is_empty() {
                "warned"
            } else {
                "allowed"
            };
            s.metrics
                .requests
                .with_label_values(&[
                    tenant,
                    crate::metrics::Metrics::kind_label(kind),
                    if operation.is_empty() {
                        "unknown"
                    } else {
                        operation
                    },
                    endpoint.as_str(),
                    decision,
                    if dry_run { "true" } else { "false" },
                ])
                .inc();
            for f in &o.findings {
                s.metrics
                    .violations
                    .with_label_values(&[tenant, f.rule.as_str(), f.action.as_str()])
                    .inc();
            }
            // The span costs more than judging a small object: make it only
            // when something is logged (denials and findings at info,
            // everything at debug).
            let quiet = o.allowed
                && o.findings.iter().all(|f| f.action == Action::Deny)
                && !tracing::enabled!(tracing::Level::DEBUG);
            if quiet {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    r.body,
                )
                    .into_response();
            }
            let span = tracing::info_span!(
                "admission",
                uid,
                kind,
                namespace,
                tenant,
                operation,
                endpoint = endpoint.as_str(),
                decision,
                dry_run,
                duration_us = elapsed.as_micros() as u64,
            );
            let _g = span.enter();
            if !o.allowed {
                tracing::info!(reason = %o.denial_message(), "denied");
            } else if o.findings.iter().any(|f| f.action != Action::Deny) {
                tracing::info!(findings = o.findings.len(), "admitted with findings");
            } else {
                tracing::debug!(patch_ops = o.patch.len(), "admitted");
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r.body,
            )
                .into_response()
        }
    }
}

/// Resolves once the shutdown flag is true (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Serves `router` over TLS on `listener` until `shutdown` turns true, then
/// drains connections (bounded by `drain_timeout`).
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    drain_timeout: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        // Set when the connection's first request head is in: see below.
        let started = Arc::new(AtomicBool::new(false));
        let seen = started.clone();
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |req: axum::http::Request<hyper::body::Incoming>| {
                seen.store(true, Ordering::Relaxed);
                req
            },
        ));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192));
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.max_concurrent_streams)
                .max_header_list_size(limits.max_header_bytes as u32)
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(10));
            let conn = watcher.watch(builder.serve_connection(TokioIo::new(tls), service));
            tokio::pin!(conn);
            // The first request head must arrive within the header read
            // timeout whatever the protocol: hyper's HTTP/1 timer does not
            // cover the protocol sniffing before it and HTTP/2 has none, so a
            // client that finishes TLS and then sends nothing, or trickles
            // the HTTP/2 preface, would otherwise hold its connection forever.
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = tokio::time::sleep(limits.header_read_timeout) => {
                    if !started.load(Ordering::Relaxed) {
                        tracing::debug!(%peer, "no request within the header read timeout; closing");
                        return;
                    }
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing remaining connections");
    }
}

/// Serves plain-HTTP `router` until `shutdown` turns true.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stopped(&mut shutdown).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "metrics listener failed");
    }
}

/// Reloads the policies directory when its contents change and hands the
/// new set to `apply`; a bad change keeps the last good set and is reported
/// (log with file:line, metric).
pub async fn watch_policies(
    dir: PathBuf,
    interval: Duration,
    metrics: Arc<Metrics>,
    apply: impl Fn(policy::PolicySet) + Send + 'static,
) {
    let mut last = fingerprint(&dir);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = fingerprint(&dir);
        if now == last {
            continue;
        }
        last = now;
        match policy::load_dir(&dir) {
            Ok(set) => {
                apply(set);
                metrics.policy_reloads.with_label_values(&["success"]).inc();
                metrics.policy_reload_timestamp.set(unix_now());
                tracing::info!(dir = %dir.display(), "policies reloaded");
            }
            Err(e) => {
                metrics.policy_reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %e, "policy reload failed; keeping the last good policies");
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Names and contents of the files the policy loader reads from a directory
/// (the same list: [`crate::manifest::yaml_files`]; follows symlinks, as a
/// mounted ConfigMap needs).
fn fingerprint(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    crate::manifest::yaml_files(dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|c| (p, c)))
        .collect()
}

#[cfg(test)]
mod tests;
