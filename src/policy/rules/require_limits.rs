//! `require-limits` (validating): every container and initContainer of a Pod
//! or pod template sets `limits` for the configured resources (default cpu
//! and memory), and no request is above its limit.
//!
//! CREATE and UPDATE (DESIGN: every rule judges both), with one exception:
//! an UPDATE of a Pod that is already being deleted (`deletionTimestamp` in
//! `oldObject`) whose spec it leaves as it was. That update can only be a
//! finalizer or status-like change on the way out; denying it would leave a
//! pod created before this policy stuck in Terminating. A pod's resources
//! cannot grow through it, and a workload's template is always judged.
//!
//! A limit of zero (`0`, `0Gi`, `0m`, `0.0`, `0e5`) is no limit: the kubelet
//! sets no CPU quota and no memory cap for it, and it counts nothing against a
//! `limits.*` quota, so a required limit of zero is denied like a missing
//! one. A zero *request* is fine. Every quantity in `limits` and `requests`
//! is read (through [`Quantity::from_json`], the one reader) and compared
//! exactly; one that cannot be read, or is negative, is a violation at its
//! own path, never skipped: nothing is admitted unjudged.
//! Ephemeral containers are not judged: Kubernetes forbids resources on them.
//! Reference: <https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/>.

use std::fmt::Display;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Ctx, Effect, Kinds, Operation, Rule, Scope, Violation};
use crate::podspec::{self, ContainerList};
use crate::quantity::Quantity;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The resources whose limits must be set.
    #[serde(default = "default_resources")]
    pub resources: Vec<String>,
}

fn default_resources() -> Vec<String> {
    vec!["cpu".to_string(), "memory".to_string()]
}

impl Default for Params {
    fn default() -> Self {
        Params {
            resources: default_resources(),
        }
    }
}

impl Params {
    pub fn check(&self) -> Result<(), String> {
        for r in &self.resources {
            if r.is_empty() || r.contains(char::is_whitespace) {
                return Err(format!(
                    "resources: {r:?} is not a resource name such as cpu, memory or ephemeral-storage"
                ));
            }
        }
        Ok(())
    }
}

/// `require-limits`.
pub struct RequireLimits;

impl Rule for RequireLimits {
    const ID: &'static str = "require-limits";
    const SCOPE: Scope = Scope::TenantObjects;
    /// Limits are part of what a pod is written with (see the module comment
    /// for the one UPDATE left alone); a DELETE carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// The kinds judged.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    type Params = Params;
    fn check_params(p: &Params) -> Result<(), String> {
        p.check()
    }
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

const JUDGED: [ContainerList; 2] = [ContainerList::Containers, ContainerList::InitContainers];

/// `resources.limits` or `resources.requests` of a container.
enum Section<'a> {
    Absent,
    Map(&'a Map<String, Value>),
    NotAMap(&'a Value),
}

/// `resources.<name>` of a container, given its `resources`.
fn section<'a>(resources: Option<&'a Value>, name: &str) -> Section<'a> {
    match resources.and_then(|r| r.get(name)) {
        None | Some(Value::Null) => Section::Absent,
        Some(Value::Object(m)) => Section::Map(m),
        Some(v) => Section::NotAMap(v),
    }
}

/// A container's positive limits by resource name, in the order read. A
/// container has a few (cpu, memory, maybe ephemeral-storage or a device):
/// those are kept inline, so a container that passes costs no allocation.
#[derive(Default)]
struct Limits<'a> {
    inline: [Option<(&'a str, Quantity)>; 4],
    more: Vec<(&'a str, Quantity)>,
}

impl<'a> Limits<'a> {
    fn push(&mut self, name: &'a str, q: Quantity) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((name, q)),
            None => self.more.push((name, q)),
        }
    }

    /// The first limit read for `name`.
    fn get(&self, name: &str) -> Option<&Quantity> {
        self.inline
            .iter()
            .flatten()
            .chain(&self.more)
            .find(|(n, _)| *n == name)
            .map(|(_, q)| q)
    }
}

/// A value as the user wrote it, shortened: it is echoed into the denial.
fn show(v: &Value) -> String {
    const MAX: usize = 40;
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    if text.chars().count() <= MAX {
        return text;
    }
    let mut short: String = text.chars().take(MAX).collect();
    short.push('…');
    short
}

/// One quantity of a container, read. None for a null value (not set) and
/// for one that cannot be judged, which adds its violation: unreadable, or
/// negative (the apiserver accepts no negative resource quantity).
/// `field` is `limits.cpu` and the like, formatted only for a violation.
fn read(
    v: &Value,
    field: (&str, &str),
    path: &dyn Display,
    who: &dyn Display,
    out: &mut Vec<Violation>,
) -> Option<Quantity> {
    if v.is_null() {
        return None;
    }
    let (section, name) = field;
    let field = || format!("resources.{section}.{name}");
    match Quantity::from_json(v) {
        Err(e) => {
            let field = field();
            out.push(Violation::new(
                format!("{path}.{field}"),
                format!("{who}: {field}: {e}; tenantguard judges only what it can read, so fix the value"),
            ));
            None
        }
        Ok(q) if q.is_negative() => {
            let field = field();
            out.push(Violation::new(
                format!("{path}.{field}"),
                format!(
                    "{who}: {field} is {}, a negative quantity; Kubernetes resources are zero or more",
                    show(v)
                ),
            ));
            None
        }
        Ok(q) => Some(q),
    }
}

/// An UPDATE of a Pod already being deleted that leaves its spec alone.
pub(super) fn terminating_pod_untouched(ctx: &Ctx<'_>, spec_ptr: &str) -> bool {
    ctx.kind == "Pod"
        && ctx.group.is_empty()
        && ctx
            .old_object
            .and_then(|o| crate::podspec::pointer(o, "/metadata/deletionTimestamp"))
            .is_some_and(|t| !t.is_null())
        && !ctx.changed(&[spec_ptr])
}

pub fn validate(ctx: &Ctx<'_>, params: &Params) -> Vec<Violation> {
    let Some(pod) = ctx.pod() else {
        return Vec::new();
    };
    if terminating_pod_untouched(ctx, pod.at.spec_ptr) {
        return Vec::new();
    }
    let mut out = Vec::new();
    // What a missing limit's message suggests: with the tenant's
    // containerDefaults in place, a limit is only missing where the
    // defaults were not filled in (an UPDATE that leaves an old pod
    // template alone: `container-defaults` does not start a rollout).
    let fix = if ctx.tenant.and_then(|t| t.container_defaults()).is_some() {
        "set it in the manifest (the tenant's containerDefaults are filled in when a pod or pod template is created or changed, not on an update that leaves an old template as it was)"
    } else {
        "set it (or declare containerDefaults for the tenant so it is filled in)"
    };
    for c in pod.containers(&JUDGED) {
        // Both formatted only into a violation.
        let path = c.at(pod.at.spec_path);
        let who = c.who(pod.at.spec_path);
        judge_container(c.value, &path, &who, params, fix, &mut out);
    }
    out
}

fn not_a_map(path: &dyn Display, who: &dyn Display, field: &str, v: &Value) -> Violation {
    Violation::new(
        format!("{path}.{field}"),
        format!(
            "{who}: {field} is {}, not a map of quantities such as {{cpu: 500m, memory: 256Mi}}",
            show(v)
        ),
    )
}

fn judge_container(
    c: &Value,
    path: &dyn Display,
    who: &dyn Display,
    params: &Params,
    fix: &str,
    out: &mut Vec<Violation>,
) {
    // The positive limits, which the requests are compared with.
    let mut limits = Limits::default();
    let none = Map::new();
    let resources = c.get("resources");
    let limit_map = match section(resources, "limits") {
        // One violation says it all; the required ones are not listed again.
        Section::NotAMap(v) => {
            out.push(not_a_map(path, who, "resources.limits", v));
            None
        }
        Section::Absent => Some(&none),
        Section::Map(m) => Some(m),
    };
    if let Some(map) = limit_map {
        for r in &params.resources {
            let field = || format!("resources.limits.{r}");
            let Some(v) = map.get(r).filter(|v| !v.is_null()) else {
                let field = field();
                out.push(Violation::new(
                    format!("{path}.{field}"),
                    format!("{who}: {field} is not set; {fix}"),
                ));
                continue;
            };
            match read(v, ("limits", r), path, who, out) {
                Some(q) if q.is_zero() => out.push(Violation::new(
                    format!("{path}.{}", field()),
                    format!(
                        "{who}: {} is {}, and a zero limit is no limit (no CPU quota, no memory cap, nothing counted against a limits quota); set a positive limit",
                        field(),
                        show(v)
                    ),
                )),
                Some(q) => limits.push(r.as_str(), q),
                None => {}
            }
        }
        // Limits nobody requires are still read: what cannot be read is not
        // admitted. A zero one is no limit, which is allowed for them.
        for (name, v) in map {
            if params.resources.iter().any(|r| r == name) {
                continue;
            }
            if let Some(q) = read(v, ("limits", name), path, who, out).filter(|q| !q.is_zero()) {
                limits.push(name.as_str(), q);
            }
        }
    }
    let requests = match section(resources, "requests") {
        Section::Absent => return,
        Section::NotAMap(v) => {
            out.push(not_a_map(path, who, "resources.requests", v));
            return;
        }
        Section::Map(m) => m,
    };
    for (name, req) in requests {
        let Some(rq) = read(req, ("requests", name), path, who, out) else {
            continue;
        };
        let Some(lim) = limits.get(name) else {
            continue;
        };
        if rq > *lim {
            let limit = c
                .pointer("/resources/limits")
                .and_then(|l| l.get(name))
                .map_or_else(String::new, show);
            out.push(Violation::new(
                format!("{path}.resources.requests.{name}"),
                format!(
                    "{who}: resources.requests.{name} ({}) is above resources.limits.{name} ({limit}); lower the request or raise the limit",
                    show(req),
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
