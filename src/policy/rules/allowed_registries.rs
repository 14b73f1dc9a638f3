//! `allowed-registries` (validating): every image a tenant's pod pulls comes
//! from a registry prefix in its `allowed.registries` (the Tenant's, else
//! the Settings'). With no list declared anywhere it does nothing: any
//! registry is allowed until a platform team names some. An empty list
//! allows no image at all.
//!
//! Judged: the `image` of every container, initContainer and
//! ephemeralContainer, and `volumes[].image.reference` (image volumes), in
//! Pods and pod templates. Images are read and matched by [`crate::image`],
//! Docker's way: `nginx` is `docker.io/library/nginx`, tags and digests are
//! ignored, a prefix matches whole path segments
//! (`registry.example.com/acme` admits `registry.example.com/acme/app`, not
//! `registry.example.com/acme-evil/app`), hosts compare case-insensitively.
//! A reference that cannot be read (an uppercase repository path, a stray
//! space, a malformed tag) is denied: the runtime would read it some way
//! tenantguard cannot vouch for. An unset or empty `image` pulls nothing and
//! is not judged (a Pod without one is refused by the apiserver).
//!
//! Operations: CREATE and UPDATE (a Pod's images may change in place), and
//! the `pods/ephemeralcontainers` subresource, through which `kubectl debug`
//! adds containers to a running Pod. As in `require-limits`, an UPDATE of a
//! Pod already being deleted that leaves its spec alone is admitted, so a
//! pod that predates a list is never stuck in Terminating.
//!
//! Reference: <https://kubernetes.io/docs/concepts/containers/images/#image-names>,
//! <https://kubernetes.io/docs/concepts/storage/volumes/#image>.

use std::fmt::Display;

use serde::Deserialize;
use serde_json::Value;

use super::require_limits::terminating_pod_untouched;
use super::service_types::{grant_hint, listed};
use super::{Ctx, Effect, Kinds, Operation, Rule, Scope, Violation};
use crate::image::{ImageName, Prefix};
use crate::model::AllowList;
use crate::podspec::{self, ContainerList};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `allowed-registries`.
pub struct AllowedRegistries;

impl Rule for AllowedRegistries {
    const ID: &'static str = "allowed-registries";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Images are set on CREATE and can change in place on UPDATE (see the
    /// module comment for the one UPDATE left alone); a DELETE carries no
    /// object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    /// `kubectl debug` adds ephemeral containers through this subresource.
    const SUBRESOURCES: &'static [&'static str] = &["ephemeralcontainers"];
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(tenant), Some(pod)) = (ctx.tenant, ctx.pod()) else {
        return Vec::new();
    };
    let Some(allowed) = tenant.allowed(AllowList::Registries) else {
        return Vec::new();
    };
    if terminating_pod_untouched(ctx, pod.at.spec_ptr) {
        return Vec::new();
    }
    // Lists are checked when they load; one that could not be read admits nothing.
    let prefixes: Vec<Prefix> = allowed
        .iter()
        .filter_map(|p| Prefix::parse(p).ok())
        .collect();
    // `path` and `who` are written only into a violation.
    let judge = |image: &str, path: &dyn Fn() -> String, who: &dyn Display| -> Option<Violation> {
        let verdict = match ImageName::parse(image) {
            Err(e) => format!(
                "{who}: image {image:?} cannot be read as an image reference: {e}; fix the reference (tenantguard admits only what it can judge)"
            ),
            Ok(name) if prefixes.iter().any(|p| p.admits(&name)) => return None,
            Ok(name) => format!(
                "{who}: image {image:?} ({name}) is not from a registry tenant {} may pull from (allowed: {}); use an image under one of those prefixes, or ask a platform admin to add its registry to {}",
                tenant.name,
                listed(&allowed),
                grant_hint(&tenant, ctx.settings, AllowList::Registries),
            ),
        };
        Some(Violation::new(path(), verdict))
    };
    let spec_path = pod.at.spec_path;
    let mut out = Vec::new();
    for c in pod.containers(&ContainerList::ALL) {
        let path = || format!("{}.image", c.path(spec_path));
        let who = c.who(spec_path);
        match c.value.get("image") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => out.extend(judge(s, &path, &who)),
            Some(v) => out.push(not_a_string(&who, &path(), v)),
        }
    }
    let volumes = pod.spec.get("volumes").and_then(Value::as_array);
    for (i, vol) in volumes.into_iter().flatten().enumerate() {
        let Some(source) = vol.get("image").filter(|s| !s.is_null()) else {
            continue;
        };
        let at = format!("{spec_path}.volumes[{i}]");
        let who = format!(
            "{at} {:?}",
            vol.get("name").and_then(Value::as_str).unwrap_or("")
        );
        let path = format!("{at}.image.reference");
        match source.get("reference") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => out.extend(judge(s, &|| path.clone(), &who)),
            Some(v) => out.push(not_a_string(&who, &path, v)),
        }
    }
    out
}

fn not_a_string(who: &dyn Display, path: &str, v: &Value) -> Violation {
    Violation::new(
        path,
        format!("{who}: image {v} is not a string, so it cannot be judged; write the image reference as a string"),
    )
}

#[cfg(test)]
mod tests;
