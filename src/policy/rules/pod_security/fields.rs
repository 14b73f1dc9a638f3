//! The fields of a container `pod-security` reads, found in one pass.

use serde_json::{Map, Value};

use super::values::HANDLERS;

/// The fields of a container this rule reads, found in one pass over its
/// keys: looking each up would cost a search apiece, for every container.
#[derive(Default)]
pub(super) struct ContainerFields<'v> {
    pub(super) ports: Option<&'v Value>,
    pub(super) security_context: Option<&'v Value>,
    /// The container field of each of [`HANDLERS`], in that order.
    pub(super) handlers: [Option<&'v Value>; HANDLERS.len()],
}

impl<'v> ContainerFields<'v> {
    pub(super) fn of(cm: &'v Map<String, Value>) -> Self {
        let mut f = ContainerFields::default();
        for (k, v) in cm {
            match k.as_str() {
                "ports" => f.ports = Some(v),
                "securityContext" => f.security_context = Some(v),
                // The fields of HANDLERS (checked against it in the tests).
                key @ ("livenessProbe" | "readinessProbe" | "startupProbe" | "lifecycle") => {
                    for (slot, (field, _)) in f.handlers.iter_mut().zip(HANDLERS) {
                        if field == key {
                            *slot = Some(v);
                        }
                    }
                }
                _ => {}
            }
        }
        f
    }
}
