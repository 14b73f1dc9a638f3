//! Events about onboarding, so `kubectl describe tenant <name>` shows what
//! went wrong, where, and what to do about it:
//!
//! - `Warning OnboardingFailed` when a namespace's baseline cannot be put in
//!   place (an object the apiserver refuses, a read that fails, a quantity
//!   that does not parse): the message names the namespace, the object, the
//!   API error and the fix;
//! - `Normal Onboarded` when a namespace announced as failing is onboarded;
//! - `Warning InvalidSpec` / `InvalidOwners` while the Tenant object is
//!   invalid (the same reason as its Ready condition), and `Normal SpecValid`
//!   once it is fixed.
//!
//! They go on the Tenant object; a tenant with no Tenant object (only the
//! Settings' defaults, or a Tenant from the policy files) gets them on the
//! failing Namespace instead. Both are cluster-scoped: the Events live in
//! the `default` namespace.
//!
//! Deduplicated: a failure is announced when it is new, when it changed
//! (another object, another API error code or reason), or again after
//! [`super::Timing::event_repeat`] while it lasts, never on every retry.
//! Rate-limited: at most [`MAX_PER_MINUTE`] Events a minute from the
//! controller in all; one held back is not remembered, so a later retry
//! announces it. Only the Lease holder sends them (the controller runs
//! there); a new leader announces what still fails once more.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use kube::runtime::events::{Event, EventType};
use kube::{Client, ResourceExt};

use super::{tenant_api, ReconcileError};
use crate::events::Publisher;
use crate::API_VERSION;

pub const FAILED: &str = "OnboardingFailed";
pub const ONBOARDED: &str = "Onboarded";
pub const VALID: &str = "SpecValid";
const ACTION: &str = "Onboard";
/// Events a minute the controller sends at most, all tenants together.
pub const MAX_PER_MINUTE: usize = 30;

/// What was last announced about one namespace or Tenant.
#[derive(Debug, Clone)]
struct Announced {
    /// What identifies the failure ([`signature`]), not its full text.
    what: String,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Failing namespaces announced, by namespace.
    failing: HashMap<String, Announced>,
    /// Invalid Tenants announced, by tenant.
    invalid: HashMap<String, Announced>,
    /// When the Events of the last minute were sent.
    sent: VecDeque<Instant>,
}

pub(crate) struct Announcer {
    client: Client,
    publisher: Publisher,
    repeat: Duration,
    state: Mutex<State>,
}

/// Whether a failure identified by `what` is to be announced, given what
/// was announced before.
fn due(before: Option<&Announced>, what: &str, now: Instant, repeat: Duration) -> bool {
    match before {
        None => true,
        Some(b) => b.what != what || now.saturating_duration_since(b.at) >= repeat,
    }
}

/// One more Event this minute, if the limit allows.
fn allowed(sent: &mut VecDeque<Instant>, now: Instant) -> bool {
    while sent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60))
    {
        sent.pop_front();
    }
    if sent.len() >= MAX_PER_MINUTE {
        return false;
    }
    sent.push_back(now);
    true
}

fn api_status(e: &kube::Error) -> Option<(u16, &str, &str)> {
    match e {
        kube::Error::Api(s) => Some((s.code, s.reason.as_str(), s.message.as_str())),
        _ => None,
    }
}

/// The API error, short: the apiserver's message, reason and code.
fn api_error(e: &kube::Error) -> String {
    match api_status(e) {
        Some((code, reason, message)) => format!("{message} ({reason}, HTTP {code})"),
        None => e.to_string(),
    }
}

/// What identifies a failure: the step, the object and the API error's
/// code and reason (an apiserver message can carry changing details).
pub(crate) fn signature(err: &ReconcileError) -> String {
    let source = match err {
        ReconcileError::ReadTenant { source, .. }
        | ReconcileError::ReadNamespace { source, .. }
        | ReconcileError::Mark { source }
        | ReconcileError::ReadQuotas { source, .. }
        | ReconcileError::Apply { source, .. } => Some(source),
        ReconcileError::Baseline(_) | ReconcileError::Budget(_) => None,
    };
    match (err, source.and_then(api_status)) {
        (ReconcileError::Apply { kind, name, .. }, Some((code, reason, _))) => {
            format!("apply {kind}/{name}: {code} {reason}")
        }
        (_, Some((code, reason, _))) => {
            let step = err.to_string();
            let step = step.split(':').next().unwrap_or("");
            format!("{step}: {code} {reason}")
        }
        _ => err.to_string(),
    }
}

/// The Event's message: what failed in `namespace` and what to do.
pub(crate) fn failure_message(namespace: &str, err: &ReconcileError) -> String {
    let what = match err {
        ReconcileError::Apply { kind, name, source } => format!(
            "the server-side apply of {kind} {name:?} failed: {}",
            api_error(source)
        ),
        ReconcileError::ReadTenant { tenant, source } => {
            format!("reading Tenant {tenant:?} failed: {}", api_error(source))
        }
        ReconcileError::ReadNamespace { namespace, source } => format!(
            "reading namespace {namespace:?} (home of a ServiceAccount owner) failed: {}",
            api_error(source)
        ),
        ReconcileError::Mark { source } => format!(
            "marking the namespace {} failed: {}",
            crate::ONBOARDED_ANNOTATION,
            api_error(source)
        ),
        ReconcileError::ReadQuotas { tenant, source } => format!(
            "reading the ResourceQuotas of tenant {tenant:?} (quota.scope: Tenant) failed: {}",
            api_error(source)
        ),
        ReconcileError::Baseline(e) => e.to_string(),
        ReconcileError::Budget(e) => e.to_string(),
    };
    let code = match err {
        ReconcileError::ReadTenant { source, .. }
        | ReconcileError::ReadNamespace { source, .. }
        | ReconcileError::Mark { source }
        | ReconcileError::ReadQuotas { source, .. }
        | ReconcileError::Apply { source, .. } => api_status(source).map(|s| s.0),
        ReconcileError::Baseline(_) | ReconcileError::Budget(_) => None,
    };
    let fix = match (err, code) {
        (ReconcileError::Baseline(_) | ReconcileError::Budget(_), _) => "",
        (_, Some(401 | 403)) => " To fix: give tenantguard's ServiceAccount the verbs the chart's ClusterRole lists (helm upgrade restores them), or relax the admission webhook or policy that refused it.",
        (_, Some(400 | 422)) => " To fix: the apiserver found the object invalid; check the Tenant's quota, containerDefaults and owners, and tenantDefaults in the Settings.",
        (_, Some(409)) => " To fix: another field manager holds the conflicting fields; remove that manager's change.",
        _ => " The apiserver or a webhook in front of it failed; nothing to fix in the Tenant if it passes.",
    };
    let gate = if matches!(err, ReconcileError::Baseline(_)) {
        ""
    } else {
        " New Pods there wait until it is onboarded;"
    };
    format!("onboarding namespace {namespace} failed: {what}.{fix}{gate} tenantguard retries with backoff.")
}

impl Announcer {
    pub(crate) fn new(client: Client, instance: &str, repeat: Duration) -> Self {
        Announcer {
            publisher: Publisher::new(client.clone(), instance),
            client,
            repeat,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything (leadership lost: the next leader announces anew).
    pub(crate) fn clear(&self) {
        *self.state() = State::default();
    }

    /// The object the Events about `tenant` go on: its Tenant object, or
    /// `namespace` when it has none. None: neither (deleted meanwhile).
    async fn regarding(
        &self,
        tenant: &str,
        namespace: Option<&Namespace>,
    ) -> Option<ObjectReference> {
        let tenant_ref = |uid: Option<String>| ObjectReference {
            api_version: Some(API_VERSION.to_string()),
            kind: Some("Tenant".to_string()),
            name: Some(tenant.to_string()),
            uid,
            ..Default::default()
        };
        match tenant_api(self.client.clone()).get_opt(tenant).await {
            Ok(Some(t)) => Some(tenant_ref(t.metadata.uid)),
            Ok(None) => namespace.map(|ns| ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Namespace".to_string()),
                name: Some(ns.name_any()),
                uid: ns.metadata.uid.clone(),
                ..Default::default()
            }),
            // The uid is unknown; the Event still names the Tenant.
            Err(_) => Some(tenant_ref(None)),
        }
    }

    async fn send(
        &self,
        type_: EventType,
        reason: &str,
        note: String,
        regarding: &ObjectReference,
    ) -> bool {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: ACTION.to_string(),
            secondary: None,
        };
        match self.publisher.publish(event, regarding).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, reason, name = ?regarding.name, "the onboarding Event could not be sent (RBAC: create events.k8s.io events)");
                false
            }
        }
    }

    /// Onboarding `ns` for `tenant` failed with `err`.
    pub(crate) async fn failed(&self, tenant: &str, ns: &Namespace, err: &ReconcileError) {
        let namespace = ns.name_any();
        let what = signature(err);
        let now = Instant::now();
        {
            let mut st = self.state();
            if !due(st.failing.get(&namespace), &what, now, self.repeat)
                || !allowed(&mut st.sent, now)
            {
                return;
            }
        }
        let Some(regarding) = self.regarding(tenant, Some(ns)).await else {
            return;
        };
        if self
            .send(
                EventType::Warning,
                FAILED,
                failure_message(&namespace, err),
                &regarding,
            )
            .await
        {
            self.state()
                .failing
                .insert(namespace, Announced { what, at: now });
        }
    }

    /// `ns` of `tenant` is onboarded: a Normal Event if it was announced as failing.
    pub(crate) async fn onboarded(&self, tenant: &str, ns: &Namespace) {
        let namespace = ns.name_any();
        let Some(before) = self.state().failing.remove(&namespace) else {
            return;
        };
        let Some(regarding) = self.regarding(tenant, Some(ns)).await else {
            return;
        };
        let note = format!(
            "namespace {namespace} is onboarded: its baseline is in place (it failed before: {})",
            before.what
        );
        // Not rate-limited: there is one per earlier Warning at most.
        self.send(EventType::Normal, ONBOARDED, note, &regarding)
            .await;
    }

    /// The Tenant's Ready condition, as the status writer computed it:
    /// `reason` InvalidSpec or InvalidOwners (with `message`) is announced as a
    /// Warning; anything else ends an announced invalid spec with a Normal Event.
    pub(crate) async fn tenant_condition(&self, tenant: &str, reason: &str, message: &str) {
        let invalid = matches!(reason, "InvalidSpec" | "InvalidOwners");
        let now = Instant::now();
        let what = format!("{reason}: {message}");
        if invalid {
            {
                let mut st = self.state();
                if !due(st.invalid.get(tenant), &what, now, self.repeat)
                    || !allowed(&mut st.sent, now)
                {
                    return;
                }
            }
            let Some(regarding) = self.regarding(tenant, None).await else {
                return;
            };
            let note = format!("{message}. To fix: kubectl edit tenant {tenant}.");
            if self
                .send(EventType::Warning, reason, note, &regarding)
                .await
            {
                self.state()
                    .invalid
                    .insert(tenant.to_string(), Announced { what, at: now });
            }
        } else if self.state().invalid.remove(tenant).is_some() {
            let Some(regarding) = self.regarding(tenant, None).await else {
                return;
            };
            let note = format!("the Tenant {tenant} is valid again: its whole spec is in force");
            self.send(EventType::Normal, VALID, note, &regarding).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Default::default()
        }))
    }

    fn apply(kind: &str, code: u16, reason: &str, message: &str) -> ReconcileError {
        ReconcileError::Apply {
            kind: kind.into(),
            name: "tenantguard-quota".into(),
            source: status(code, reason, message),
        }
    }

    #[test]
    fn a_failure_is_announced_when_new_changed_or_due_again() {
        let t0 = Instant::now();
        let repeat = Duration::from_secs(1800);
        let before = Announced {
            what: "a".into(),
            at: t0,
        };
        assert!(due(None, "a", t0, repeat), "new");
        assert!(
            !due(Some(&before), "a", t0 + Duration::from_secs(60), repeat),
            "same, recent"
        );
        assert!(
            due(Some(&before), "b", t0 + Duration::from_secs(1), repeat),
            "changed"
        );
        assert!(
            due(Some(&before), "a", t0 + repeat, repeat),
            "same, due again"
        );
    }

    #[test]
    fn at_most_max_per_minute() {
        let mut sent = VecDeque::new();
        let t0 = Instant::now();
        for _ in 0..MAX_PER_MINUTE {
            assert!(allowed(&mut sent, t0));
        }
        assert!(!allowed(&mut sent, t0 + Duration::from_secs(59)));
        assert!(allowed(&mut sent, t0 + Duration::from_secs(60)));
    }

    #[test]
    fn the_signature_ignores_the_changing_part_of_a_message() {
        let a = apply("ResourceQuota", 403, "Forbidden", "denied at 10:00");
        let b = apply("ResourceQuota", 403, "Forbidden", "denied at 10:05");
        let c = apply("ResourceQuota", 422, "Invalid", "denied at 10:05");
        let d = apply("LimitRange", 403, "Forbidden", "denied at 10:00");
        assert_eq!(signature(&a), signature(&b));
        assert_ne!(signature(&a), signature(&c));
        assert_ne!(signature(&a), signature(&d));
        let read = ReconcileError::ReadTenant {
            tenant: "acme".into(),
            source: status(500, "InternalError", "x"),
        };
        assert_eq!(
            signature(&read),
            "reading Tenant \"acme\": 500 InternalError"
        );
    }

    #[test]
    fn messages_name_the_namespace_object_error_and_fix() {
        let m = failure_message(
            "acme-prod",
            &apply(
                "ResourceQuota",
                403,
                "Forbidden",
                "resourcequotas is forbidden",
            ),
        );
        for part in [
            "onboarding namespace acme-prod failed",
            "ResourceQuota \"tenantguard-quota\"",
            "resourcequotas is forbidden (Forbidden, HTTP 403)",
            "ClusterRole",
            "retries with backoff",
        ] {
            assert!(m.contains(part), "{part:?} in {m}");
        }
        let m = failure_message("acme-prod", &apply("ResourceQuota", 422, "Invalid", "bad"));
        assert!(m.contains("Tenant's quota"), "{m}");
        let m = failure_message(
            "acme-prod",
            &ReconcileError::Baseline(crate::cluster::onboard::BaselineError::Quantity {
                path: "quota.hard.pods".into(),
                message: "not a quantity".into(),
            }),
        );
        assert!(
            m.contains("quota.hard.pods") && m.contains("fix the Tenant"),
            "{m}"
        );
    }
}
