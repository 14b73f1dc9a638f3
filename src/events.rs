//! Kubernetes Events (`events.k8s.io/v1`), the plumbing the audit's
//! violation Events and the onboarding controller's Events on Tenants
//! share: who reports them, how long a note may be, and how one is sent.
//!
//! Both senders decide themselves what is new enough to announce, so every
//! Event is sent by a fresh kube-runtime [`Recorder`]: its cache keys
//! Events by object, reason and action only, and would turn a second
//! Event with a different note into a count bump of the first (keeping the
//! first note). Sending never fails the caller's work: the error comes
//! back for it to log.
//!
//! Reference: <https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/>.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::Client;

/// `reportingController` of every Event tenantguard sends.
pub const CONTROLLER: &str = "tenantguard";
/// Longest `note` the Events API accepts.
pub const MAX_NOTE: usize = 1024;

/// `s` cut to fit an Event's note (at a character boundary, marked `...`).
pub fn note(s: &str) -> String {
    if s.len() <= MAX_NOTE {
        return s.to_string();
    }
    let mut cut = MAX_NOTE - 3;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// Sends Events as one replica of tenantguard.
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    reporter: Reporter,
}

impl Publisher {
    /// `instance`: this replica (its pod name), shown as the reporting instance.
    pub fn new(client: Client, instance: &str) -> Self {
        Publisher {
            client,
            reporter: Reporter {
                controller: CONTROLLER.into(),
                instance: Some(instance.to_string()),
            },
        }
    }

    /// Creates `event` about `regarding` (its note cut to [`MAX_NOTE`]).
    /// A cluster-scoped object's Events go to the `default` namespace, where
    /// `kubectl describe` finds them.
    pub async fn publish(
        &self,
        event: Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let event = Event {
            note: event.note.as_deref().map(note),
            ..event
        };
        Recorder::new(self.client.clone(), self.reporter.clone())
            .publish(&event, regarding)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_fit_the_events_api() {
        assert_eq!(note("[r] m"), "[r] m");
        let long = note(&"é".repeat(2000));
        assert!(long.len() <= MAX_NOTE && long.ends_with("..."));
        assert_eq!(note(&"a".repeat(MAX_NOTE)).len(), MAX_NOTE);
    }
}
