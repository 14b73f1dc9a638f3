use super::*;
use crate::tenancy::{Inventory, StaticTenancy};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn state() -> AppState {
    let mut inv = Inventory::default();
    inv.add_namespace("acme-prod", Some("acme"));
    AppState {
        engine: Arc::new(Swap::new(Engine::default())),
        tenancy: Arc::new(StaticTenancy::new(inv)),
        metrics: Arc::new(Metrics::new()),
        shutting_down: Arc::new(AtomicBool::new(false)),
    }
}

async fn call(app: Router, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, String) {
    let resp = app
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn routes() {
    let s = state();
    let app = router(s.clone(), Limits::default());
    assert_eq!(
        call(app.clone(), "GET", "/healthz", vec![]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(app.clone(), "GET", "/readyz", vec![]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(app.clone(), "GET", "/nope", vec![]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(app.clone(), "GET", "/validate", vec![]).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let (code, body) = call(app.clone(), "POST", "/validate", b"{not json".to_vec()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("not valid JSON"), "{body}");
    s.shutting_down.store(true, Ordering::Relaxed);
    assert_eq!(
        call(app, "GET", "/readyz", vec![]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn body_limit_is_413() {
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let app = router(state(), limits);
    let (code, _) = call(app, "POST", "/validate", vec![b' '; 4096]).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
}

/// POSTs to `uri` a body that never arrives, announcing `length` bytes
/// if given; the status and text of the answer.
async fn stalled(limits: Limits, uri: &str, length: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().method("POST").uri(uri);
    if let Some(n) = length {
        req = req.header(header::CONTENT_LENGTH, n);
    }
    let body = Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let resp = router(state(), limits)
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

#[tokio::test]
async fn announced_oversize_is_413_before_the_body_is_read() {
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    // The body never arrives: only the announced length can decide.
    let (code, text) = stalled(limits, "/validate", Some("1048576")).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        text.contains("1048576 bytes") && text.contains("--max-body-bytes"),
        "{text}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_is_503_after_the_request_timeout() {
    let limits = Limits {
        request_timeout: Duration::from_millis(50),
        ..Limits::default()
    };
    let (code, text) = stalled(limits, "/mutate", None).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("--request-timeout"), "{text}");
}
