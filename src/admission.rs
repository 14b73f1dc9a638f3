//! AdmissionReview `admission.k8s.io/v1` in and out: decode, echo the `uid`,
//! encode the verdict with base64 JSONPatch.
//!
//! Reference: <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request>.
//! The envelope is decoded into types that borrow from the body; only
//! `object` and `oldObject` become `serde_json::Value`s, without their
//! `metadata.managedFields` (checked as JSON, never built: see [`object`]);
//! fields no rule reads (`options`, `requestKind`, ...) are only checked as
//! JSON. A body the server
//! cannot read is a [`DecodeError`] (HTTP 400); a request it can read but
//! not judge is denied with the reason. Nothing is admitted unjudged.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

mod object;

use object::ObjectValue;

use crate::engine::{CannotJudge, Engine, Outcome, Request, Resource};
use crate::policy::rules::{Operation, User};
use crate::tenancy::Inventory;

pub const ADMISSION_API_VERSION: &str = "admission.k8s.io/v1";

/// Which webhook was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Mutate,
    Validate,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Mutate => "mutate",
            Endpoint::Validate => "validate",
        }
    }
}

/// Why a body is not an AdmissionReview tenantguard can answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("apiVersion is {0}; tenantguard speaks admission.k8s.io/v1 (set admissionReviewVersions: [v1] in the webhook configuration)")]
    ApiVersion(String),
    #[error("kind is {0}; the body must be an AdmissionReview")]
    Kind(String),
    #[error("the AdmissionReview has no request")]
    NoRequest,
    #[error("request.uid is missing or empty; the apiserver always sends one")]
    NoUid,
}

#[derive(Deserialize)]
struct ReviewIn<'a, O> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default = "none")]
    request: Option<RequestIn<'a, O>>,
}

#[derive(Deserialize, Default)]
struct GroupVersionKind<'a> {
    #[serde(borrow, default)]
    group: Cow<'a, str>,
    #[serde(borrow, default)]
    version: Cow<'a, str>,
    #[serde(borrow, default)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
struct GroupVersionResource<'a> {
    #[serde(borrow, default)]
    group: Cow<'a, str>,
    #[serde(borrow, default)]
    resource: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
struct UserInfoIn<'a> {
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    groups: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn<'a, O> {
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<GroupVersionKind<'a>>,
    #[serde(borrow, default)]
    resource: Option<GroupVersionResource<'a>>,
    #[serde(borrow, default)]
    sub_resource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_info: Option<UserInfoIn<'a>>,
    #[serde(default = "none")]
    object: Option<O>,
    #[serde(default = "none")]
    old_object: Option<O>,
    #[serde(default)]
    dry_run: Option<bool>,
}

/// A decoded review: either a request to judge, or one that can only be
/// denied (its uid is known, so the apiserver gets a proper answer).
#[derive(Debug)]
pub enum Decoded {
    Judge(Box<Request>),
    Deny { uid: String, reason: String },
}

fn none<T>() -> Option<T> {
    None
}

/// How `object`/`oldObject` were read: straight into a `Value` less
/// `managedFields` (one pass, the common case), or skipped as raw JSON first so that a body whose
/// object cannot be read still yields its uid for a proper denial.
trait ObjectField {
    fn into_value(self) -> Result<Option<Value>, String>;
}

impl ObjectField for ObjectValue {
    fn into_value(self) -> Result<Option<Value>, String> {
        Ok((!self.0.is_null()).then_some(self.0))
    }
}

impl ObjectField for &RawValue {
    fn into_value(self) -> Result<Option<Value>, String> {
        if self.get() == "null" {
            return Ok(None);
        }
        serde_json::from_str::<ObjectValue>(self.get())
            .map(|o| Some(o.0))
            .map_err(|e| e.to_string())
    }
}

fn raw_object<O: ObjectField>(o: Option<O>) -> Result<Option<Value>, String> {
    o.map_or(Ok(None), ObjectField::into_value)
}

/// Decodes an AdmissionReview body.
pub fn decode(body: &[u8]) -> Result<Decoded, DecodeError> {
    // One pass in the common case; a body that fails it is read again with
    // the objects as raw JSON, which tells a bad envelope (400) from a bad
    // object (a denial with the uid).
    if let Ok(review) = serde_json::from_slice::<ReviewIn<'_, ObjectValue>>(body) {
        return finish(review);
    }
    let review: ReviewIn<'_, &RawValue> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    finish(review)
}

fn finish<O: ObjectField>(review: ReviewIn<'_, O>) -> Result<Decoded, DecodeError> {
    match review.api_version.as_deref() {
        Some(ADMISSION_API_VERSION) => {}
        other => {
            return Err(DecodeError::ApiVersion(
                other.map_or("missing".into(), |v| format!("{v:?}")),
            ))
        }
    }
    match review.kind.as_deref() {
        Some("AdmissionReview") => {}
        other => {
            return Err(DecodeError::Kind(
                other.map_or("missing".into(), |v| format!("{v:?}")),
            ))
        }
    }
    let r = review.request.ok_or(DecodeError::NoRequest)?;
    let uid = r
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or(DecodeError::NoUid)?
        .to_string();
    let deny = |reason: String| {
        Ok(Decoded::Deny {
            uid: uid.clone(),
            reason,
        })
    };
    let Some(operation) = r.operation.as_deref() else {
        return deny("request.operation is missing; tenantguard cannot judge the request".into());
    };
    let Ok(operation) = operation.parse::<Operation>() else {
        return deny(format!(
            "request.operation {operation:?} is not CREATE, UPDATE, DELETE or CONNECT"
        ));
    };
    let Some(kind) = r.kind.filter(|k| !k.kind.is_empty()) else {
        return deny("request.kind is missing; tenantguard cannot judge the request".into());
    };
    let object = match raw_object(r.object) {
        Ok(o) => o,
        Err(e) => return deny(format!("request.object cannot be read: {e}")),
    };
    let old_object = match raw_object(r.old_object) {
        Ok(o) => o,
        Err(e) => return deny(format!("request.oldObject cannot be read: {e}")),
    };
    let user = r.user_info.unwrap_or_default();
    let resource = r.resource.unwrap_or_default();
    Ok(Decoded::Judge(Box::new(Request {
        uid,
        group: kind.group.into_owned(),
        version: kind.version.into_owned(),
        kind: kind.kind.into_owned(),
        resource: Resource {
            group: resource.group.into_owned(),
            resource: resource.resource.into_owned(),
            subresource: r.sub_resource.map(Cow::into_owned).unwrap_or_default(),
        },
        namespace: r.namespace.map(Cow::into_owned).unwrap_or_default(),
        name: r.name.map(Cow::into_owned).unwrap_or_default(),
        operation,
        user: User {
            username: user.username.map(Cow::into_owned).unwrap_or_default(),
            groups: user
                .groups
                .unwrap_or_default()
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
        },
        dry_run: r.dry_run.unwrap_or(false),
        object,
        old_object,
    })))
}

#[derive(Serialize)]
struct StatusOut<'a> {
    code: u16,
    message: &'a str,
    reason: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

/// The AdmissionReview response for an outcome.
pub fn encode(uid: &str, outcome: &Outcome) -> Vec<u8> {
    let message = if outcome.allowed {
        String::new()
    } else {
        outcome.denial_message()
    };
    let status = (!outcome.allowed).then(|| StatusOut {
        code: if outcome.error.is_some() { 400 } else { 403 },
        message: &message,
        reason: if outcome.error.is_some() {
            "BadRequest"
        } else {
            "Forbidden"
        },
    });
    let patch = (outcome.allowed && !outcome.patch.is_empty()).then(|| {
        let json = serde_json::to_vec(&outcome.patch).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    });
    let review = ReviewOut {
        api_version: ADMISSION_API_VERSION,
        kind: "AdmissionReview",
        response: ResponseOut {
            uid,
            allowed: outcome.allowed,
            status,
            warnings: &outcome.warnings,
            patch_type: patch.as_ref().map(|_| "JSONPatch"),
            patch,
        },
    };
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(&review).unwrap_or_default()
}

/// A judged review: the response body and what metrics and logs need.
#[derive(Debug)]
pub struct Reviewed {
    pub body: Vec<u8>,
    pub outcome: Outcome,
    /// The request's uid (known even when the request could not be judged).
    pub uid: String,
    pub request: Option<Box<Request>>,
}

/// Decodes, judges and encodes one review: everything `/mutate`, `/validate`
/// and `tenantguard review` do, without HTTP.
pub fn review(
    body: &[u8],
    endpoint: Endpoint,
    engine: &Engine,
    inventory: &Inventory,
) -> Result<Reviewed, DecodeError> {
    match decode(body)? {
        Decoded::Deny { uid, reason } => {
            let outcome = Outcome::cannot_judge(CannotJudge::Review(reason));
            Ok(Reviewed {
                body: encode(&uid, &outcome),
                outcome,
                uid,
                request: None,
            })
        }
        Decoded::Judge(req) => {
            let outcome = match endpoint {
                Endpoint::Mutate => engine.mutate(&req, inventory),
                Endpoint::Validate => engine.validate(&req, inventory),
            };
            Ok(Reviewed {
                body: encode(&req.uid, &outcome),
                outcome,
                uid: req.uid.clone(),
                request: Some(req),
            })
        }
    }
}

#[cfg(test)]
mod tests {
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
}
