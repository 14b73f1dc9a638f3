//! AdmissionReview `admission.k8s.io/v1` in and out: decode, echo the `uid`,
//! encode the verdict with base64 JSONPatch.
//!
//! Reference: <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request>.
//! The envelope is decoded into types that borrow from the body; only
//! `object` and `oldObject` become `serde_json::Value`s, without the parts
//! no rule reads (checked as JSON, then dropped or kept as their text: see
//! [`ObjectValue`]); fields of the envelope no rule reads (`options`,
//! `requestKind`, ...) are only checked as JSON. A body the server cannot
//! read is a [`DecodeError`] (HTTP 400); a request it can read but
//! not judge is denied with the reason. Nothing is admitted unjudged.

use std::borrow::Cow;

use base64::Engine as _;
use json_patch::PatchOperation;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::engine::{CannotJudge, Engine, ObjectValue, Outcome, Request, Resource};
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
    /// Valid JSON of the wrong shape (a number, a field of the wrong type,
    /// a bare AdmissionRequest): saying "not valid JSON" would mislead.
    #[error("the body is JSON but not an AdmissionReview: {0}; the apiserver sends {{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionReview\", \"request\": {{\"uid\": ..., ...}}}}")]
    Shape(String),
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
    let review: ReviewIn<'_, &RawValue> = serde_json::from_slice(body).map_err(envelope_error)?;
    finish(review)
}

/// A syntax error (or a body cut short) is not JSON; a data error is JSON of
/// the wrong shape, said in the user's terms rather than the decoder's.
fn envelope_error(e: serde_json::Error) -> DecodeError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => DecodeError::Shape(
            e.to_string()
                .replace("struct ReviewIn", "an AdmissionReview object")
                .replace("struct RequestIn", "an AdmissionRequest object"),
        ),
        Category::Syntax | Category::Eof | Category::Io => DecodeError::Json(e.to_string()),
    }
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
    /// The base64 of the patch, as a JSON string ready to write: base64
    /// needs no escaping, and escaping checks every byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<Box<RawValue>>,
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
    let patch = (outcome.allowed && !outcome.patch.is_empty())
        .then(|| quoted_base64(&patch_json(&outcome.patch)))
        .flatten();
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
    let patch_len = review.response.patch.as_ref().map_or(0, |p| p.get().len());
    let mut out = Vec::with_capacity(192 + uid.len() + message.len() + patch_len);
    // Serializing these plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &review);
    out
}

/// `bytes` in base64 inside quotes, as a JSON string written once into a
/// buffer of the right size (a quoted base64 string is always valid JSON).
fn quoted_base64(bytes: &[u8]) -> Option<Box<RawValue>> {
    let n = base64::encoded_len(bytes.len(), true)?;
    let mut quoted = vec![b'"'; n + 2];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut quoted[1..=n])
        .ok()?;
    quoted.truncate(written + 2);
    quoted[written + 1] = b'"';
    RawValue::from_string(String::from_utf8(quoted).ok()?).ok()
}

/// The JSON of a JSON Patch, written directly: serde's derive for
/// json-patch's internally tagged operations costs ~1.7k instructions an
/// operation, more than making the operation. The same document as
/// `serde_json::to_vec(ops)` (keys `op`, `from`, `path`, `value`).
pub(crate) fn patch_json(ops: &[PatchOperation]) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 * ops.len() + 2);
    out.push(b'[');
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (name, from, path, value) = match op {
            PatchOperation::Add(o) => ("add", None, &o.path, Some(&o.value)),
            PatchOperation::Remove(o) => ("remove", None, &o.path, None),
            PatchOperation::Replace(o) => ("replace", None, &o.path, Some(&o.value)),
            PatchOperation::Move(o) => ("move", Some(&o.from), &o.path, None),
            PatchOperation::Copy(o) => ("copy", Some(&o.from), &o.path, None),
            PatchOperation::Test(o) => ("test", None, &o.path, Some(&o.value)),
        };
        out.extend_from_slice(b"{\"op\":\"");
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
        // Writing JSON into a Vec cannot fail.
        if let Some(from) = from {
            out.extend_from_slice(b",\"from\":");
            let _ = serde_json::to_writer(&mut out, from.as_str());
        }
        out.extend_from_slice(b",\"path\":");
        let _ = serde_json::to_writer(&mut out, path.as_str());
        if let Some(value) = value {
            out.extend_from_slice(b",\"value\":");
            let _ = serde_json::to_writer(&mut out, value);
        }
        out.push(b'}');
    }
    out.push(b']');
    out
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
mod tests;
