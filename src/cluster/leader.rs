//! Lease-based leader election (`coordination.k8s.io/v1` Lease in
//! tenantguard's own namespace), so that one replica at a time runs the
//! onboarding controller while every replica serves the webhook.
//!
//! The same protocol as client-go's leaderelection: the holder renews
//! `renewTime` every `retry_period`; a candidate takes the Lease over only
//! after it has seen the record unchanged for a whole `leaseDurationSeconds`
//! on its own clock (so clock skew between nodes does not matter), and a
//! leader that could not renew for `renew_deadline` (shorter than the lease
//! duration) stops leading before anyone else may start. Every write is a
//! create or an update with the resourceVersion read (optimistic
//! concurrency: two candidates cannot both win). On shutdown the leader
//! releases the Lease so another replica takes over at once.
//!
//! Reference: <https://kubernetes.io/docs/concepts/architecture/leases/>.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;

/// Where the Lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// This replica's holder identity (its pod name).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry.
    pub fn new(name: &str, namespace: &str, identity: &str) -> Self {
        LeaseConfig {
            name: name.to_string(),
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The pod name: in a pod the hostname is the pod name. Falls back to a
/// name with the process id, which is unique on one machine.
pub fn default_identity() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("tenantguard-{}", std::process::id()))
}

/// What identifies one version of the Lease record, and when this replica
/// first saw it.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    holder: String,
    renew: Option<Timestamp>,
    resource_version: Option<String>,
}

pub struct LeaderElector {
    api: Api<Lease>,
    cfg: LeaseConfig,
    observed: Option<(Record, Instant)>,
}

fn lease_seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl LeaderElector {
    pub fn new(client: Client, cfg: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            observed: None,
        }
    }

    fn observe(&mut self, lease: &Lease) -> Instant {
        let spec = lease.spec.clone().unwrap_or_default();
        let record = Record {
            holder: spec.holder_identity.unwrap_or_default(),
            renew: spec.renew_time.map(|t| t.0),
            resource_version: lease.metadata.resource_version.clone(),
        };
        match &self.observed {
            Some((r, at)) if *r == record => *at,
            _ => {
                let now = Instant::now();
                self.observed = Some((record, now));
                now
            }
        }
    }

    /// One round: takes the Lease when it is free or expired, renews it when
    /// held. `Ok(true)` when this replica holds it afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(current) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.cfg.identity.clone()),
                    lease_duration_seconds: Some(lease_seconds(self.cfg.lease_duration)),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(saved) => {
                    self.observe(&saved);
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let seen_at = self.observe(&current);
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().unwrap_or("");
        let mine = holder == self.cfg.identity;
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.cfg.lease_duration, Duration::from_secs);
        if !mine && !holder.is_empty() && seen_at.elapsed() < duration {
            return Ok(false);
        }
        let mut next = current;
        let spec = next.spec.get_or_insert_with(Default::default);
        if !mine {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(previous = holder, lease = %self.cfg.name, "taking over the Lease");
        }
        spec.holder_identity = Some(self.cfg.identity.clone());
        spec.lease_duration_seconds = Some(lease_seconds(self.cfg.lease_duration));
        spec.renew_time = Some(MicroTime(now));
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &next)
            .await
        {
            Ok(saved) => {
                self.observe(&saved);
                Ok(true)
            }
            // Someone else wrote first: they win this round.
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (when held) so another replica need not wait for it to expire.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        self.api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }

    /// Campaigns until `stop` turns true, publishing whether this replica
    /// leads on `leading`. On the way out it stops leading, waits (at most a
    /// renew deadline) for `idle` (the work it led has stopped) and releases
    /// the Lease.
    pub async fn run(
        mut self,
        leading: watch::Sender<bool>,
        mut stop: watch::Receiver<bool>,
        mut idle: watch::Receiver<bool>,
    ) {
        let call_timeout = (self.cfg.renew_deadline / 2).max(Duration::from_millis(100));
        let mut renewed: Option<Instant> = None;
        loop {
            let held = match tokio::time::timeout(call_timeout, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => {
                    renewed = Some(Instant::now());
                    true
                }
                Ok(Ok(false)) => false,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, lease = %self.cfg.name, "Lease update failed");
                    renewed.is_some_and(|t| t.elapsed() < self.cfg.renew_deadline)
                }
                Err(_) => {
                    tracing::warn!(lease = %self.cfg.name, "Lease update timed out");
                    renewed.is_some_and(|t| t.elapsed() < self.cfg.renew_deadline)
                }
            };
            if !held {
                renewed = None;
            }
            let was = leading.send_replace(held);
            if held != was {
                tracing::info!(identity = %self.cfg.identity, lease = %self.cfg.name, leading = held, "leadership changed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.retry_period) => {}
                _ = super::stopped(&mut stop) => break,
            }
        }
        if leading.send_replace(false) {
            let _ = tokio::time::timeout(self.cfg.renew_deadline, idle.wait_for(|i| *i)).await;
            match tokio::time::timeout(call_timeout, self.release()).await {
                Ok(Ok(())) => tracing::info!(lease = %self.cfg.name, "Lease released"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not release the Lease; it expires on its own")
                }
                Err(_) => tracing::warn!("releasing the Lease timed out; it expires on its own"),
            }
        }
    }
}
