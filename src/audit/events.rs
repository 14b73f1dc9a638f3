//! Kubernetes Events for the violations the background scan finds, on the
//! object itself (`kubectl describe` shows them), through kube-runtime's
//! event recorder.
//!
//! One Event per object and scan, listing its new violations: one the previous complete scan on this replica
//! also found (same object uid, rule and field) is not announced again, so
//! an hourly scan does not repeat the same Warning forever. At most
//! [`MAX_EVENTS_PER_SCAN`] a scan: the first scan of a cluster full of
//! violations must not flood the apiserver (the PolicyReports hold them
//! all). Failing to send one is logged, never a failed scan.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};
use kube::Client;

use super::report::ObjectRef;
use crate::engine::Outcome;
use crate::events::Publisher;

pub const MAX_EVENTS_PER_SCAN: usize = 100;
/// Violations remembered between scans (beyond it, some repeat).
pub const MAX_REMEMBERED: usize = 200_000;
/// `reason` of the Events.
pub const REASON: &str = "PolicyViolation";

pub struct Notifier {
    publisher: Publisher,
    previous: HashSet<u64>,
    current: HashSet<u64>,
    pending: Vec<(Event, ObjectReference)>,
    sent: usize,
}

fn key(obj: &ObjectRef, rule: &str, path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (&obj.uid, &obj.namespace, &obj.kind, &obj.name, rule, path).hash(&mut h);
    h.finish()
}

impl Notifier {
    /// `instance`: this replica (its pod name), shown as the reporting instance.
    pub fn new(client: Client, instance: &str) -> Self {
        Notifier {
            publisher: Publisher::new(client, instance),
            previous: HashSet::new(),
            current: HashSet::new(),
            pending: Vec::new(),
            sent: 0,
        }
    }

    pub fn start_scan(&mut self) {
        self.current.clear();
        self.pending.clear();
        self.sent = 0;
    }

    /// Notes the violations of one object; its new ones are queued as one
    /// Event (the recorder keys Events by object, reason and action, so a
    /// second Event on the same object would only bump the first's count).
    pub fn saw(&mut self, obj: &ObjectRef, outcome: &Outcome) {
        let mut fresh = Vec::new();
        for f in &outcome.findings {
            let k = key(obj, f.rule.as_str(), &f.path);
            if self.current.len() < MAX_REMEMBERED {
                self.current.insert(k);
            }
            if !self.previous.contains(&k) {
                fresh.push(format!("[{}] {}", f.rule, f.message));
            }
        }
        if fresh.is_empty() || self.sent + self.pending.len() >= MAX_EVENTS_PER_SCAN {
            return;
        }
        let event = Event {
            type_: EventType::Warning,
            reason: REASON.into(),
            note: Some(fresh.join("; ")),
            action: "Audit".into(),
            secondary: None,
        };
        let reference = ObjectReference {
            api_version: Some(obj.api_version.clone()),
            kind: Some(obj.kind.clone()),
            name: Some(obj.name.clone()),
            namespace: Some(obj.namespace.clone()),
            uid: (!obj.uid.is_empty()).then(|| obj.uid.clone()),
            ..Default::default()
        };
        self.pending.push((event, reference));
    }

    /// Sends the queued Events (each a new Event: repeats are already left out).
    pub async fn flush(&mut self) {
        for (event, reference) in std::mem::take(&mut self.pending) {
            match self.publisher.publish(event, &reference).await {
                Ok(()) => self.sent += 1,
                Err(e) => {
                    tracing::warn!(error = %e, namespace = ?reference.namespace, name = ?reference.name, "audit: the Event for a violation could not be sent (RBAC: create events.k8s.io events)");
                }
            }
            tokio::task::yield_now().await;
        }
    }

    /// A complete scan's violations become the ones not to announce again.
    pub fn end_scan(&mut self, complete: bool) {
        self.pending.clear();
        if complete {
            self.previous = std::mem::take(&mut self.current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_objects_rules_and_fields_apart() {
        let a = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "n".into(),
            name: "a".into(),
            uid: "u1".into(),
        };
        let b = ObjectRef {
            uid: "u2".into(),
            ..a.clone()
        };
        assert_eq!(key(&a, "r", "p"), key(&a, "r", "p"));
        assert_ne!(key(&a, "r", "p"), key(&b, "r", "p"));
        assert_ne!(key(&a, "r", "p"), key(&a, "s", "p"));
        assert_ne!(key(&a, "r", "p"), key(&a, "r", "q"));
    }
}
