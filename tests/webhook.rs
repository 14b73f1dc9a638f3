//! End-to-end over HTTPS against the real server process: the way the
//! kube-apiserver calls the webhook.

mod common;

use common::{review_fixture, start, Client, Opts, Proto, Server};
use serde_json::{json, Value};

fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let inv = common::write_file(dir.path(), "inventory.yaml", common::INVENTORY);
    let s = start(Opts {
        inventory: Some(&inv),
        ..Default::default()
    });
    (s, dir)
}

fn pod_review(ns: &str, uid: &str, containers: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": ns, "operation": "CREATE", "name": "web",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": ns},
            "spec": {"containers": containers}}}})
}

fn limited() -> Value {
    json!([{"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_h2_negotiated_with_pinned_ca_and_service_name() {
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    assert_eq!(c.alpn.as_deref(), Some(&b"h2"[..]));
    let r = c.request("GET", "/readyz", vec![]).await.unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let mut c1 = Client::connect(&s, Proto::H1).await.unwrap();
    assert_eq!(c1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(
        c1.request("GET", "/healthz", vec![]).await.unwrap().status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_trusting_another_ca_is_refused() {
    let (s, _d) = server();
    let other = common::make_certs();
    let err = Client::connect_to(s.addr, &other.path().join("ca.crt"), Proto::H2)
        .await
        .err();
    assert!(
        err.unwrap_or_default().contains("TLS"),
        "a client with another CA must fail the handshake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_over_both_protocols_and_endpoints() {
    let (s, _d) = server();
    for proto in [Proto::H2, Proto::H1] {
        let mut c = Client::connect(&s, proto).await.unwrap();
        // A pod without limits in a tenant namespace: denied, with the path.
        let r = c
            .post_json(
                "/validate",
                &pod_review(
                    "acme-prod",
                    "u-1",
                    json!([{"name": "app", "image": "nginx"}]),
                ),
            )
            .await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["response"]["uid"], "u-1");
        assert_eq!(v["response"]["allowed"], false);
        let msg = v["response"]["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(
                "[require-limits] spec.containers[0] \"app\": resources.limits.cpu is not set"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("resources.limits.memory"),
            "all violations listed: {msg}"
        );
        assert_eq!(v["response"]["status"]["code"], 403);

        // A compliant pod: admitted by /validate, labelled by /mutate.
        let ok = pod_review("acme-prod", "u-2", limited());
        let v = c.post_json("/validate", &ok).await.json();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        let v = c.post_json("/mutate", &ok).await.json();
        assert_eq!(v["response"]["uid"], "u-2");
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        let patch = common::patch_of(&v).expect("a patch");
        let mut obj = ok["request"]["object"].clone();
        json_patch::patch(&mut obj, &patch).unwrap();
        assert_eq!(obj["metadata"]["labels"]["tenantguard.io/tenant"], "acme");
        // Mutating the mutated object changes nothing more, and the patch is
        // idempotent when applied twice.
        let mut again = ok.clone();
        again["request"]["object"] = obj.clone();
        let v2 = c.post_json("/mutate", &again).await.json();
        assert!(
            common::patch_of(&v2).is_none(),
            "second mutation must be empty: {v2}"
        );
        let mut twice = obj.clone();
        json_patch::patch(&mut twice, &patch).unwrap();
        assert_eq!(twice, obj);

        // kube-system is exempt: admitted untouched.
        let sys = pod_review("kube-system", "u-3", json!([{"name": "app"}]));
        let v = c.post_json("/validate", &sys).await.json();
        assert_eq!(v["response"]["allowed"], true);
        let v = c.post_json("/mutate", &sys).await.json();
        assert_eq!(v["response"]["allowed"], true);
        assert!(v["response"].get("patch").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_template_without_limits_is_denied() {
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let v = c
        .post_json(
            "/validate",
            &review_fixture("deployment/create-no-resources.json"),
        )
        .await
        .json();
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("[require-limits] spec.template.spec.containers[0]"),
        "{msg}"
    );
    // The same deployment with limits passes.
    let v = c
        .post_json(
            "/validate",
            &review_fixture("deployment/create-with-limits.json"),
        )
        .await
        .json();
    assert_eq!(v["response"]["allowed"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_requests_get_echoed_uids_and_never_unjudged_admission() {
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let dir = common::real_fixtures();
    let mut seen = 0;
    for group in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        if !group.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(group.path())
            .unwrap()
            .filter_map(Result::ok)
        {
            let rel = format!(
                "{}/{}",
                group.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            );
            let review = review_fixture(&rel);
            let uid = review["request"]["uid"].clone();
            for ep in ["/mutate", "/validate"] {
                let r = c.post_json(ep, &review).await;
                assert_eq!(r.status, 200, "{rel} {ep}: {}", r.text());
                let v = r.json();
                assert_eq!(v["response"]["uid"], uid, "{rel} {ep}");
                assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
                if v["response"]["allowed"] == false {
                    assert!(
                        v["response"]["status"]["message"]
                            .as_str()
                            .is_some_and(|m| !m.is_empty()),
                        "{rel}: a denial says why"
                    );
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} fixtures found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_is_judged_the_same() {
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    for review in [
        pod_review("acme-prod", "d-1", json!([{"name": "app"}])),
        pod_review("acme-prod", "d-1", limited()),
    ] {
        let mut dry = review.clone();
        dry["request"]["dryRun"] = json!(true);
        for ep in ["/mutate", "/validate"] {
            let a = c.post_json(ep, &review).await.json();
            let b = c.post_json(ep, &dry).await.json();
            assert_eq!(a, b, "{ep}");
        }
    }
    let m = common::metrics(s.metrics_addr).await;
    assert!(m.contains("dry_run=\"true\""), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_answers() {
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let post = |b: &[u8]| b.to_vec();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", post(b"{\"apiVersion\": "), 400, "not valid JSON"),
        ("not an AdmissionReview", post(br#"{"hello": "world"}"#), 400, "apiVersion is missing"),
        ("wrong version", post(br#"{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}"#), 400, "admission.k8s.io/v1"),
        ("wrong kind", post(br#"{"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}"#), 400, "AdmissionReview"),
        ("missing uid", post(br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}"#), 400, "uid"),
        ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}'], 400, "not valid JSON"),
    ];
    for (name, body, status, needle) in cases {
        let r = c.request("POST", "/validate", body).await.unwrap();
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert!(r.text().contains(needle), "{name}: {}", r.text());
    }
    // Readable but not judgeable: denied with the uid and the reason.
    let mut no_object = pod_review("acme-prod", "n-1", limited());
    no_object["request"]["object"] = Value::Null;
    for ep in ["/mutate", "/validate"] {
        let v = c.post_json(ep, &no_object).await.json();
        assert_eq!(v["response"]["allowed"], false, "{ep}");
        assert!(v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("carries no object"));
    }
    // Deep nesting inside the object.
    let deep = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"deep","operation":"CREATE","kind":{{"group":"","version":"v1","kind":"Pod"}},"namespace":"acme-prod","object":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let v = c
        .request("POST", "/validate", deep.into_bytes())
        .await
        .unwrap()
        .json();
    assert_eq!(v["response"]["allowed"], false);
    // An unknown kind in a tenant namespace is judged by what applies; a
    // ConfigMap claiming no tenant passes.
    let mut cm = pod_review("acme-prod", "k-1", json!([]));
    cm["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    cm["request"]["resource"] = json!({"group": "", "version": "v1", "resource": "configmaps"});
    cm["request"]["object"] =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(
        c.post_json("/validate", &cm).await.json()["response"]["allowed"],
        true
    );
    // Unknown path and wrong method.
    assert_eq!(
        c.request("POST", "/admit", vec![]).await.unwrap().status,
        404
    );
    assert_eq!(
        c.request("GET", "/validate", vec![]).await.unwrap().status,
        405
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413() {
    // Over HTTP/2 the server can answer 413 while the body is still coming
    // (it resets the stream with NO_ERROR), and the client reads the answer.
    // (Over HTTP/1.1 an early answer races the client's write; the hostile
    // corpus covers that case with an announced Content-Length.)
    let (s, _d) = server();
    let mut c = Client::connect(&s, Proto::H2).await.unwrap();
    let big = vec![b' '; 9 * 1024 * 1024];
    let r = c.request("POST", "/validate", big).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    // The server keeps serving on the same connection.
    let again = c.request("GET", "/healthz", vec![]).await.unwrap();
    assert_eq!(again.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_webhook_port_gets_no_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (s, _d) = server();
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut buf),
    )
    .await
    .expect("the server closes a non-TLS connection");
    assert!(n.is_err() || !String::from_utf8_lossy(&buf).contains("200 OK"));
}
