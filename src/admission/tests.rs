use super::*;
use serde_json::json;

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn pod_review(ns: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "abc", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "namespace": ns, "operation": "CREATE", "userInfo": {"username": "u", "groups": ["g"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app"}]}}}})
}

fn inv() -> Inventory {
    let mut i = Inventory::default();
    i.add_namespace("acme-prod", Some("acme"));
    i
}

#[test]
fn decode_errors() {
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("not json", b"{".to_vec(), DecodeError::Json(String::new())),
        (
            "v1beta1",
            body(json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"})),
            DecodeError::ApiVersion(String::new()),
        ),
        (
            "wrong kind",
            body(json!({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"})),
            DecodeError::Kind(String::new()),
        ),
        (
            "no request",
            body(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})),
            DecodeError::NoRequest,
        ),
        (
            "no uid",
            body(
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}),
            ),
            DecodeError::NoUid,
        ),
        (
            "array",
            b"[]".to_vec(),
            DecodeError::ApiVersion(String::new()),
        ),
        (
            "string",
            b"\"x\"".to_vec(),
            DecodeError::Shape(String::new()),
        ),
        ("number", b"42".to_vec(), DecodeError::Shape(String::new())),
        (
            "bare AdmissionRequest",
            body(json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}})),
            DecodeError::Shape(String::new()),
        ),
        (
            "cut short",
            b"{\"apiVersion\": ".to_vec(),
            DecodeError::Json(String::new()),
        ),
        (
            "invalid utf-8",
            b"{\"apiVersion\": \"\xff\"}".to_vec(),
            DecodeError::Json(String::new()),
        ),
    ];
    for (name, b, want) in cases {
        let got = decode(&b).unwrap_err();
        assert_eq!(
            std::mem::discriminant(&got),
            std::mem::discriminant(&want),
            "{name}: {got}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let b = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"x","operation":"CREATE","kind":{{"kind":"Pod"}},"object":{deep}}}}}"#
    );
    match decode(b.as_bytes()) {
        Ok(Decoded::Deny { uid, reason }) => {
            assert_eq!(uid, "x");
            assert!(reason.contains("recursion limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let b = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{deep}}}"#
    );
    assert!(decode(b.as_bytes()).is_err());
}

#[test]
fn readable_but_unjudgeable_requests_are_denied_with_uid() {
    let mut v = pod_review("acme-prod");
    v["request"]["operation"] = json!("PATCH");
    match decode(&body(v)).unwrap() {
        Decoded::Deny { uid, reason } => {
            assert_eq!(uid, "abc");
            assert!(reason.contains("PATCH"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn denial_echoes_uid_with_status() {
    let r = review(
        &body(pod_review("acme-prod")),
        Endpoint::Validate,
        &Engine::default(),
        &inv(),
    )
    .unwrap();
    let out: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(out["response"]["uid"], "abc");
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["status"]["code"], 403);
    assert!(out["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .starts_with("[require-limits] spec.containers[0] \"app\""));
}

#[test]
fn mutation_is_base64_jsonpatch() {
    let r = review(
        &body(pod_review("acme-prod")),
        Endpoint::Mutate,
        &Engine::default(),
        &inv(),
    )
    .unwrap();
    let out: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(out["response"]["allowed"], true);
    assert_eq!(out["response"]["patchType"], "JSONPatch");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(out["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&raw).unwrap();
    assert!(!patch.0.is_empty());
}

/// The pod review with `metadata.managedFields` replaced by `raw` (JSON text).
fn with_managed_fields(raw: &str) -> Vec<u8> {
    let text = String::from_utf8(body(pod_review("acme-prod"))).unwrap();
    let at = "\"metadata\":{";
    assert_eq!(text.matches(at).count(), 1);
    text.replacen(at, &format!("{at}\"managedFields\":{raw},"), 1)
        .into_bytes()
}

#[test]
fn a_malformed_managed_fields_is_a_bad_request() {
    for raw in ["[{\"manager\": }]", "[1,,2]", "{\"a\"}", "nul"] {
        let b = with_managed_fields(raw);
        assert!(
            matches!(decode(&b), Err(DecodeError::Json(_))),
            "{raw}: {:?}",
            decode(&b)
        );
    }
    let mut b = with_managed_fields("[\"x\"]");
    let at = b.windows(3).position(|w| w == b"[\"x").unwrap();
    b[at + 2] = 0xff;
    assert!(matches!(decode(&b), Err(DecodeError::Json(_))));
}

#[test]
fn valid_json_of_the_wrong_shape_is_not_called_invalid_json() {
    let bare = body(json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}}));
    let msg = decode(&bare).unwrap_err().to_string();
    assert!(
        msg.starts_with("the body is JSON but not an AdmissionReview: invalid type: map"),
        "{msg}"
    );
    assert!(
        msg.contains("\"kind\": \"AdmissionReview\", \"request\""),
        "{msg}"
    );
    let msg = decode(b"42").unwrap_err().to_string();
    assert!(msg.contains("expected an AdmissionReview object"), "{msg}");
    assert!(!msg.contains("ReviewIn"), "{msg}");
}

#[test]
fn a_huge_managed_fields_is_skipped() {
    let entry = r#"{"manager":"kubectl","operation":"Update","apiVersion":"v1","fieldsV1":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{}}}}}}"#;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let raw = format!("[{deep},{}]", vec![entry; 20_000].join(","));
    assert!(raw.len() > 2_000_000);
    let Decoded::Judge(req) = decode(&with_managed_fields(&raw)).unwrap() else {
        panic!("judged");
    };
    let object = req.object.as_ref().unwrap();
    assert_eq!(object["metadata"], json!({"name": "p"}));
    assert_eq!(object["spec"]["containers"][0]["name"], "app");
}

#[test]
fn an_object_is_judged_without_its_managed_fields() {
    // What managedFields says is no part of the object: a tenant label
    // of another tenant or a privileged container there changes nothing.
    let raw = r#"[{"manager":"x","fieldsV1":{"f:metadata":{"f:labels":{"tenantguard.io/tenant":"globex"}}},"securityContext":{"privileged":true}}]"#;
    let mut limits = pod_review("acme-prod");
    limits["request"]["object"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"cpu": "1", "memory": "1Gi"}});
    let plain = body(limits.clone());
    let text = String::from_utf8(plain.clone()).unwrap();
    let with = text.replacen(
        "\"metadata\":{",
        &format!("\"metadata\":{{\"managedFields\":{raw},"),
        1,
    );
    for b in [plain, with.into_bytes()] {
        let r = review(&b, Endpoint::Validate, &Engine::default(), &inv()).unwrap();
        assert!(r.outcome.allowed, "{:?}", r.outcome);
        assert_eq!(r.outcome.tenant.as_deref(), Some("acme"));
    }
    // The denial of the pod without limits is the same with or without.
    let b = with_managed_fields(raw);
    let r = review(&b, Endpoint::Validate, &Engine::default(), &inv()).unwrap();
    let bare = review(
        &body(pod_review("acme-prod")),
        Endpoint::Validate,
        &Engine::default(),
        &inv(),
    )
    .unwrap();
    assert!(!r.outcome.allowed);
    assert_eq!(r.outcome.findings, bare.outcome.findings);
    assert_eq!(r.body, bare.body);
}

#[test]
fn a_bad_object_elsewhere_is_still_denied_with_uid() {
    // The second pass (objects as raw JSON) skips managedFields alike.
    let deep = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
    let text = String::from_utf8(with_managed_fields("[]")).unwrap();
    let b = text.replacen("\"spec\":{", &format!("\"spec\":{{\"deep\":{deep},"), 1);
    match decode(b.as_bytes()) {
        Ok(Decoded::Deny { uid, reason }) => {
            assert_eq!(uid, "abc");
            assert!(reason.contains("recursion limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_without_object_is_denied() {
    let mut v = pod_review("acme-prod");
    v["request"]["object"] = Value::Null;
    let r = review(&body(v), Endpoint::Mutate, &Engine::default(), &inv()).unwrap();
    let out: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["status"]["code"], 400);
}

#[test]
fn patch_json_is_the_document_serde_writes() {
    use json_patch::jsonptr::PointerBuf;
    use json_patch::{
        AddOperation, CopyOperation, MoveOperation, PatchOperation, RemoveOperation,
        ReplaceOperation, TestOperation,
    };
    let p = |tokens: &[&str]| PointerBuf::from_tokens(tokens.iter().copied());
    let ops = vec![
        PatchOperation::Add(AddOperation {
            path: p(&["metadata", "labels", "tenantguard.io/tenant"]),
            value: json!("acme"),
        }),
        PatchOperation::Add(AddOperation {
            path: p(&["spec", "containers", "0", "resources"]),
            value: json!({"limits": {"cpu": "500m"}, "weird \"key\"\n": [1, 2.5, null, true]}),
        }),
        PatchOperation::Replace(ReplaceOperation {
            path: p(&["metadata", "annotations", "a~b", "ü \u{1}"]),
            value: json!(null),
        }),
        PatchOperation::Remove(RemoveOperation {
            path: p(&["spec", "nodeName"]),
        }),
        PatchOperation::Move(MoveOperation {
            from: p(&["a"]),
            path: p(&["b"]),
        }),
        PatchOperation::Copy(CopyOperation {
            from: p(&["c"]),
            path: p(&[""]),
        }),
        PatchOperation::Test(TestOperation {
            path: p(&[]),
            value: json!({"x": "y"}),
        }),
    ];
    let written: Value = serde_json::from_slice(&super::patch_json(&ops)).unwrap();
    assert_eq!(written, serde_json::to_value(&ops).unwrap());
    // And it reads back as the same operations.
    let back: Vec<PatchOperation> = serde_json::from_value(written).unwrap();
    assert_eq!(back, ops);
    assert_eq!(super::patch_json(&[]), b"[]");
}

#[test]
fn quoted_base64_reads_back() {
    use base64::Engine as _;
    for bytes in [
        &b""[..],
        b"a",
        b"ab",
        b"abc",
        b"[{\"op\":\"add\"}]",
        &[0u8, 255, 62, 63][..],
    ] {
        let raw = super::quoted_base64(bytes).expect("encodes");
        let text: String = serde_json::from_str(raw.get()).expect("a JSON string");
        let back = base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64");
        assert_eq!(back, bytes);
    }
}
