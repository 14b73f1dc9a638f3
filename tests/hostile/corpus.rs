//! The hostile inputs of `tests/hostile.rs`, each with the answer it must
//! get: malformed and truncated JSON, 5 MiB bodies, nesting 100,000 deep,
//! invalid UTF-8, duplicate keys, numbers out of range, and objects that
//! disagree with their request about namespace or kind.

use serde_json::json;

use super::{bytes, common, pod, review, with_raw_object};

/// Put in env values and annotations: must never reach the log.
pub const SECRET_MARKER: &str = "s3cr3t-env-value-7f1c";

/// What a hostile input must get.
#[derive(Clone, Copy)]
pub enum Want {
    /// HTTP `status` (not 200) with a body containing the text.
    Status(u16, &'static str),
    /// 200, `allowed: false`, the status message containing the text.
    Denied(&'static str),
    /// 200, `allowed: true`: judged and admitted.
    Allowed,
    /// 200, `allowed: true`, with a patch labelling the object for this tenant.
    Labelled(&'static str),
}

pub struct Case {
    pub name: &'static str,
    pub path: &'static str,
    pub body: Vec<u8>,
    pub want: Want,
}

fn case(name: &'static str, body: Vec<u8>, want: Want) -> Case {
    Case {
        name,
        path: "/validate",
        body,
        want,
    }
}

fn mutate(name: &'static str, body: Vec<u8>, want: Want) -> Case {
    Case {
        path: "/mutate",
        ..case(name, body, want)
    }
}

const TENANT: &str = "tenantguard.io/tenant";

const ENVELOPE: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","#;

/// An envelope with `request` written verbatim.
fn envelope(request: &str) -> Vec<u8> {
    format!(r#"{ENVELOPE}"request":{request}}}"#).into_bytes()
}

pub fn corpus() -> Vec<Case> {
    use Want::{Allowed, Denied, Labelled, Status};
    let fixture = common::review_fixture("pod/review-create-two-containers.json");
    let fixture = serde_json::to_vec(&fixture).unwrap();
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let mut big = pod(false);
    big["metadata"]["annotations"] = json!({"filler": "x".repeat(5 << 20)});
    let exempt_big = json!({"metadata": {"annotations": {"x": "y".repeat(5 << 20)}}});
    let labels = |first: &str, second: &str| {
        let limits = r#"{"limits":{"cpu":"1","memory":"1Gi"}}"#;
        format!(
            r#"{{"metadata":{{"name":"p","labels":{{"{TENANT}":"{first}","{TENANT}":"{second}"}}}},
            "spec":{{"containers":[{{"name":"app","resources":{limits}}}]}}}}"#
        )
    };
    let mut moved = review("ns-1", "Pod", "acme-prod", pod(false));
    moved["request"]["object"]["metadata"]["namespace"] = json!("kube-system");
    let mut claimed = review("ns-2", "Pod", "acme-prod", pod(true));
    claimed["request"]["object"]["metadata"]["namespace"] = json!("globex-prod");
    let mut disguised = review("kind-1", "Pod", "acme-prod", pod(false));
    disguised["request"]["object"]["kind"] = json!("ConfigMap");
    let mut undisguised = review("kind-2", "Service", "acme-prod", pod(false));
    undisguised["request"]["object"]["kind"] = json!("Pod");
    let mut with_env = pod(false);
    with_env["spec"]["containers"][0]["env"] = json!([{"name": "TOKEN", "value": SECRET_MARKER}]);
    with_env["metadata"]["annotations"] = json!({"note": SECRET_MARKER});
    // `@` becomes bytes that are not UTF-8.
    let not_utf8 = |mut body: Vec<u8>| {
        let at = body.iter().position(|&c| c == b'@').unwrap();
        body.splice(at..=at, [0xc3, 0x28, 0xff]);
        body
    };
    let two_namespaces = serde_json::to_string(&review("dup-2", "Pod", "acme-prod", pod(false)))
        .unwrap()
        .replacen(
            r#""namespace":"acme-prod""#,
            r#""namespace":"kube-system","namespace":"acme-prod""#,
            1,
        )
        .into_bytes();
    let mut dup_request = br#"{"request":{"uid":"x"},"#.to_vec();
    dup_request.extend_from_slice(&bytes(&review("dup-5", "Pod", "acme-prod", pod(false)))[1..]);
    // Beyond any integer type, yet exact: one unit more is above the limit.
    let huge_limit = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app",
        "resources": {"limits": {"cpu": "99999999999999999999999999Ei", "memory": "1Gi"},
            "requests": {"cpu": "100000000000000000000000000Ei"}}}]}});
    // An exponent Kubernetes would truncate to 32 bits (and read as 1).
    let misread_limit = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app",
        "resources": {"limits": {"cpu": "1e4294967296", "memory": "1Gi"}}}]}});
    let huge_request = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
            "requests": {"cpu": "99999999999999999999999999999999999999999", "memory": "1e400"}}}]}});
    let raw = |uid, object: &str| with_raw_object(uid, "Pod", "acme-prod", object);
    let json_error = Status(400, "not valid JSON");
    let denied_limits = Denied("[require-limits]");
    vec![
        case(
            "pod with env values (never logged)",
            bytes(&review("env-1", "Pod", "acme-prod", with_env)),
            denied_limits,
        ),
        case(
            "truncated at half",
            fixture[..fixture.len() / 2].to_vec(),
            json_error,
        ),
        case(
            "truncated by one byte",
            fixture[..fixture.len() - 1].to_vec(),
            json_error,
        ),
        case("first byte only", fixture[..1].to_vec(), json_error),
        case("empty body", Vec::new(), json_error),
        case("null", b"null".to_vec(), Status(400, "")),
        case(
            "a number",
            b"42".to_vec(),
            Status(400, "not an AdmissionReview"),
        ),
        case(
            "5 MiB pod",
            bytes(&review("big-1", "Pod", "acme-prod", big)),
            denied_limits,
        ),
        case(
            "5 MiB pod, exempt namespace",
            bytes(&review("big-2", "Pod", "kube-system", exempt_big)),
            Allowed,
        ),
        case(
            "object nested 100,000 deep (arrays)",
            raw("deep-1", &deep_array),
            Denied("recursion limit"),
        ),
        case(
            "object nested 100,000 deep (objects)",
            raw("deep-2", &deep_object),
            Denied("recursion limit"),
        ),
        case(
            "envelope nested 100,000 deep",
            envelope(&deep_array),
            Status(400, "not an AdmissionReview"),
        ),
        case(
            "invalid UTF-8 in the uid",
            not_utf8(envelope(r#"{"uid":"@"}"#)),
            json_error,
        ),
        case(
            "invalid UTF-8 in the object",
            not_utf8(raw("u-2", r#"{"metadata":{"name":"@"}}"#)),
            json_error,
        ),
        case(
            "bytes outside JSON",
            vec![0xff, 0xfe, 0x00, 0x7b],
            json_error,
        ),
        case(
            "lone surrogate escape in the object",
            raw("u-3", r#"{"metadata":{"name":"\ud800"}}"#),
            Denied("cannot be read"),
        ),
        case(
            "duplicate uid",
            envelope(r#"{"uid":"a","uid":"b"}"#),
            Status(400, "duplicate field `uid`"),
        ),
        case(
            "duplicate object",
            raw("dup-1", r#"{}, "object": {}"#),
            Status(400, "duplicate field `object`"),
        ),
        case(
            "duplicate namespace",
            two_namespaces,
            Status(400, "duplicate field `namespace`"),
        ),
        case(
            "duplicate request",
            dup_request,
            Status(400, "duplicate field `request`"),
        ),
        case(
            "duplicate tenant label, globex last (Kubernetes keeps the last)",
            raw("dup-3", &labels("acme", "globex")),
            Denied("globex"),
        ),
        case(
            "duplicate tenant label, acme last (Kubernetes keeps the last)",
            raw("dup-4", &labels("globex", "acme")),
            Allowed,
        ),
        case(
            "number out of range in the object",
            raw("num-1", r#"{"spec":{"priority":1e400}}"#),
            Denied("cannot be read"),
        ),
        case(
            "number out of range in the envelope",
            envelope(r#"{"uid":"n","dryRun":1e400}"#),
            json_error,
        ),
        case(
            "uid is a huge number",
            envelope(r#"{"uid":123456789012345678901234567890}"#),
            Status(400, "not an AdmissionReview"),
        ),
        case(
            "limit beyond any integer, a request one unit above it",
            bytes(&review("num-2", "Pod", "acme-prod", huge_limit)),
            Denied("resources.requests.cpu (100000000000000000000000000Ei) is above"),
        ),
        case(
            "requests beyond any quantity",
            bytes(&review("num-3", "Pod", "acme-prod", huge_request)),
            Denied("is above resources.limits.memory"),
        ),
        case(
            "limit Kubernetes would misread",
            bytes(&review("num-4", "Pod", "acme-prod", misread_limit)),
            Denied("is not a Kubernetes quantity: its exponent is beyond"),
        ),
        case(
            "object in kube-system, request in acme-prod",
            bytes(&moved),
            denied_limits,
        ),
        // The apiserver never sends a kind that disagrees with the object
        // (DESIGN: denied as unjudgeable; judged by either part, one of
        // them would go unjudged).
        case(
            "request kind Pod, object kind ConfigMap",
            bytes(&disguised),
            Denied("the kube-apiserver sends an object of the kind it names"),
        ),
        case(
            "request kind Service, object kind Pod",
            bytes(&undisguised),
            Denied(
                "request.kind is v1, Kind=Service but request.object is apiVersion v1, kind Pod",
            ),
        ),
        mutate(
            "object in globex-prod, request in acme-prod",
            bytes(&claimed),
            Labelled("acme"),
        ),
        mutate(
            "object nested 100,000 deep on /mutate",
            raw("deep-3", &deep_array),
            Denied("recursion limit"),
        ),
        mutate(
            "5 MiB pod on /mutate",
            bytes(&review("big-3", "Pod", "acme-prod", pod(true))),
            Labelled("acme"),
        ),
    ]
}

/// The first `"uid":"…"` in a body (serde_json cannot read every hostile one).
pub fn sent_uid(body: &[u8]) -> &str {
    let text = std::str::from_utf8(body).unwrap_or("");
    text.split_once(r#""uid":""#)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or("")
}
