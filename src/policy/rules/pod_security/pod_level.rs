//! The pod-level half of `restricted`'s `runAsNonRoot` and seccomp checks:
//! a container may leave them to the pod, which must then set them
//! (`runAsNonRoot` not at all for a pod in a user namespace).

use std::fmt::Display;

use serde_json::{Map, Value};

use super::values::{set, show};
use super::Judge;
use crate::podspec::{ContainerView, Field};

/// Containers that leave a restricted field to the pod level, which does not set it.
#[derive(Default)]
pub(super) struct Missing<'a> {
    pub(super) run_as_non_root: Vec<ContainerView<'a>>,
    pub(super) seccomp: Vec<ContainerView<'a>>,
}

/// `runAsNonRoot` and seccomp at pod level: refused when set to a bad value,
/// or when unset while some container leaves it to the pod.
pub(super) fn pod_level_restricted(
    j: &mut Judge<'_>,
    psc: &Map<String, Value>,
    at: &dyn Display,
    missing: &Missing<'_>,
    windows: bool,
) {
    let sp = j.sp;
    let left = |containers: &[ContainerView<'_>]| {
        if containers.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = containers.iter().map(|c| c.label(sp)).collect();
            format!(
                " ({} {} not set it)",
                names.join(", "),
                if names.len() == 1 { "does" } else { "do" }
            )
        }
    };
    let rnr = set(psc.get("runAsNonRoot"));
    let judged = !j.userns;
    if judged
        && rnr != Some(&Value::Bool(true))
        && (rnr.is_some() || !missing.run_as_non_root.is_empty())
    {
        let is = rnr.map_or_else(|| "is unset".to_string(), |v| format!("is {}", show(v)));
        j.deny(
            format!("{at}.runAsNonRoot"),
            &format!(
                "{is}; it must be true here or in every container{}",
                left(&missing.run_as_non_root)
            ),
            None,
        );
    }
    if windows {
        return;
    }
    let sp_path = Field(at, "seccompProfile");
    let t = set(psc.get("seccompProfile")).map(|sp| sp.get("type").unwrap_or(&Value::Null));
    let valid = t.is_some_and(|t| matches!(t.as_str(), Some("RuntimeDefault" | "Localhost")));
    if !valid && (t.is_some() || !missing.seccomp.is_empty()) {
        let is = t.map_or_else(|| "is unset".to_string(), |v| format!("is {}", show(v)));
        j.deny(
            format!("{sp_path}.type"),
            &format!(
                "{is}; it must be RuntimeDefault or Localhost here or in every container{}",
                left(&missing.seccomp)
            ),
            None,
        );
    }
}
