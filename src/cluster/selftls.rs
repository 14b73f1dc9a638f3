//! TLS `mode: self` in a cluster: the task that carries out the plan of
//! [`crate::selftls`] against the real Secret and webhook configurations.
//!
//! Every replica runs it. On start, every `interval` (a minute by default:
//! three GETs, so a caBundle reset by a sync tool or a renewal by another
//! replica is picked up soon) and, after a failed pass or while the Secret
//! is unusable, again after a backoff, a pass:
//!
//! 1. reads the Secret (`--tls-self-secret` in `--own-namespace`);
//! 2. when it is usable, loads its `tls.crt`/`tls.key` into the running
//!    server's certificate store if they changed (so every replica serves the current
//!    certificate, not only the one that wrote it), and sets the `caBundle`
//!    of every entry of tenantguard's own two webhook configurations
//!    (`--tls-self-webhooks`) to its `ca.crt` where it differs;
//! 3. asks [`plan`] for the next step and writes it, then goes back to 1
//!    until the plan says keep.
//!
//! No Lease is needed for the writes: a missing Secret is *created* (a 409
//! means another replica won the race: its Secret is read and served), an
//! existing one is *replaced with its resourceVersion* (a 409 means someone
//! else changed it: read again, plan again), and the webhook configurations
//! are changed by a JSON patch whose first operation tests their
//! resourceVersion, so a replica that read an older Secret can never put an
//! older bundle back (it re-reads the Secret and starts the pass again).
//! The patch touches only `webhooks[i].clientConfig.caBundle`, each behind a
//! test of `webhooks[i].name`, of the two configurations named by the flags.
//!
//! Until the Secret has been read once the store is empty, so TLS
//! handshakes fail: the webhook, and `/readyz` which is served over the
//! same TLS listener, are not ready, and the apiserver is never shown a
//! throwaway certificate.
//!
//! A Secret that is there but unusable is never overwritten: the last good
//! certificate keeps serving, the problem is logged once per change of the
//! Secret as an error that says how to fix it (delete the Secret; a new CA
//! and certificate are made and the `caBundle`s follow), and
//! `tenantguard_certificate_reloads_total{result="error"}` is counted.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::certs;
use crate::metrics::Metrics;
use crate::selftls::{apply, observe, plan, Found, Lifetimes, SecretData, Step};
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// Seconds since the Unix epoch; injectable so tests can move time on.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Hands a certificate to the server (`serve` passes its certificate
/// store's `set`; the server lives in a layer above this one).
pub type ServeCert = Arc<dyn Fn(Arc<rustls::sign::CertifiedKey>) + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// What the task manages and how often it looks.
#[derive(Clone)]
pub struct SelfTlsOptions {
    pub secret: String,
    pub namespace: String,
    /// tenantguard's own MutatingWebhookConfiguration.
    pub mutating: String,
    /// tenantguard's own ValidatingWebhookConfiguration.
    pub validating: String,
    /// DNS names of the serving certificate.
    pub names: Vec<String>,
    pub interval: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Seconds a new CA is trusted before it signs the serving certificate.
    pub overlap: i64,
    pub lifetimes: Lifetimes,
    pub clock: Clock,
}

impl std::fmt::Debug for SelfTlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfTlsOptions")
            .field("secret", &self.secret)
            .field("namespace", &self.namespace)
            .field("mutating", &self.mutating)
            .field("validating", &self.validating)
            .field("names", &self.names)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl SelfTlsOptions {
    /// The defaults for `serve`: a pass every minute, retries from 2 s
    /// doubling to 5 minutes, a one-hour overlap, the CA 10 years and the
    /// serving certificate 1 year.
    pub fn new(
        secret: &str,
        namespace: &str,
        mutating: &str,
        validating: &str,
        service: &str,
    ) -> Self {
        SelfTlsOptions {
            secret: secret.to_string(),
            namespace: namespace.to_string(),
            mutating: mutating.to_string(),
            validating: validating.to_string(),
            names: certs::service_names(service, namespace),
            interval: Duration::from_secs(60),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            overlap: crate::selftls::DEFAULT_OVERLAP_SECS,
            lifetimes: Lifetimes::default(),
            clock: system_clock(),
        }
    }
}

/// The options `serve`'s flags ask for: `None` without `--tls-self-secret`.
pub fn from_args(
    args: &crate::cli::ServeArgs,
    in_cluster: bool,
) -> Result<Option<SelfTlsOptions>, super::ClusterError> {
    let a = &args.cluster;
    let Some(secret) = a.tls_self_secret.as_deref() else {
        return Ok(None);
    };
    let bad = |m: String| Err(super::ClusterError::SelfTls(m));
    if secret.is_empty() {
        return bad("--tls-self-secret needs a Secret name".into());
    }
    if !super::wanted(args, in_cluster) {
        return bad("--tls-self-secret needs the cluster: add --cluster (or run in a pod) and drop --inventory".into());
    }
    let [m, v] = a.tls_self_webhooks.as_slice() else {
        return bad(format!(
            "--tls-self-webhooks takes two names, MUTATING,VALIDATING (tenantguard's own webhook configurations), got {:?}",
            a.tls_self_webhooks.join(",")
        ));
    };
    if m.is_empty() || v.is_empty() {
        return bad("--tls-self-webhooks: a webhook configuration name is empty".into());
    }
    if a.tls_self_service.is_empty() {
        return bad("--tls-self-service needs the Service name".into());
    }
    Ok(Some(SelfTlsOptions::new(
        secret,
        &args.own_namespace,
        m,
        v,
        &a.tls_self_service,
    )))
}

#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error("reading Secret {0}: {1}")]
    Read(String, kube::Error),
    #[error("writing Secret {0}: {1} (tenantguard needs get, create and update on it)")]
    Write(String, kube::Error),
    #[error("{kind} {name}: {source} (tenantguard needs get and patch on it)")]
    Webhook {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
    #[error("{kind} {name} does not exist; the caBundle is set once it does")]
    NoWebhook { kind: &'static str, name: String },
    #[error(transparent)]
    Cert(#[from] certs::CertError),
    #[error("the Secret kept changing under this replica; trying again later")]
    Unsettled,
    #[error("building the caBundle patch: {0}")]
    Patch(String),
    #[error("the apiserver did not answer within {0:?}")]
    Timeout(Duration),
}

/// Longest a pass may take.
const PASS_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the task until `stop` turns true.
pub fn spawn(
    client: Client,
    opts: SelfTlsOptions,
    serve: ServeCert,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let task = Task {
        secrets: Api::namespaced(client.clone(), &opts.namespace),
        mutating: Api::all(client.clone()),
        validating: Api::all(client),
        opts,
        to_server: serve,
        metrics,
        loaded: None,
        reported_bad: None,
    };
    tokio::spawn(task.run(stop))
}

/// How a pass ended without an error.
enum Settled {
    Kept,
    /// The Secret is unusable: looked at again after a backoff, so a fix
    /// (deleting it) is picked up soon.
    Unusable,
}

struct Task {
    secrets: Api<Secret>,
    mutating: Api<MutatingWebhookConfiguration>,
    validating: Api<ValidatingWebhookConfiguration>,
    opts: SelfTlsOptions,
    /// Hands each new certificate to the server.
    to_server: ServeCert,
    metrics: Arc<Metrics>,
    /// The `tls.crt` and `tls.key` being served.
    loaded: Option<(String, String)>,
    /// The unusable contents last reported (reported once per change).
    reported_bad: Option<SecretData>,
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 || s.code == 422)
}

/// A Secret's four keys (a key that is missing or not UTF-8 reads as empty,
/// which [`observe`] reports).
fn data_of(s: &Secret) -> SecretData {
    let key = |k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .unwrap_or_default()
    };
    SecretData {
        ca_crt: key("ca.crt"),
        ca_key: key("ca.key"),
        tls_crt: key("tls.crt"),
        tls_key: key("tls.key"),
    }
}

fn with_data(mut s: Secret, d: &SecretData) -> Secret {
    let bytes = |v: &str| ByteString(v.as_bytes().to_vec());
    s.data = Some(
        [
            ("ca.crt", &d.ca_crt),
            ("ca.key", &d.ca_key),
            ("tls.crt", &d.tls_crt),
            ("tls.key", &d.tls_key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), bytes(v)))
        .collect(),
    );
    s.string_data = None;
    s
}

impl Task {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(secret = %self.opts.secret, namespace = %self.opts.namespace, "TLS mode self: serving from the Secret, keeping the webhook caBundles in step");
        let mut failures = 0u32;
        loop {
            // A pass that hangs (an apiserver that never answers) counts as failed.
            let result = tokio::select! {
                r = tokio::time::timeout(PASS_TIMEOUT, self.pass()) => {
                    r.unwrap_or(Err(PassError::Timeout(PASS_TIMEOUT)))
                }
                _ = super::stopped(&mut stop) => return,
            };
            let wait = if matches!(result, Ok(Settled::Kept)) {
                failures = 0;
                self.opts.interval
            } else {
                failures = failures.saturating_add(1);
                let wait = self
                    .opts
                    .retry_base
                    .saturating_mul(2u32.saturating_pow(failures.min(16) - 1))
                    .min(self.opts.retry_max);
                if let Err(e) = result {
                    tracing::warn!(error = %e, retry_in = ?wait, "TLS mode self: pass failed");
                }
                wait
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = super::stopped(&mut stop) => return,
            }
        }
    }

    /// Reads, serves, syncs the bundles and writes the planned step, until
    /// the plan keeps everything.
    async fn pass(&mut self) -> Result<Settled, PassError> {
        let name = self.opts.secret.clone();
        for _ in 0..8 {
            let current = self
                .secrets
                .get_opt(&name)
                .await
                .map_err(|e| PassError::Read(name.clone(), e))?;
            let data = current.as_ref().map(data_of);
            let found = observe(data.as_ref());
            if let (Found::Usable(_), Some(d)) = (&found, &data) {
                self.reported_bad = None;
                self.serve(d)?;
                if !self.sync_bundles(&d.ca_crt).await? {
                    // A configuration changed under us: read everything again.
                    continue;
                }
            }
            let now = (self.opts.clock)();
            let step = plan(&found, now, self.opts.overlap);
            match &step {
                Step::Keep => return Ok(Settled::Kept),
                Step::KeepLastGood(why) => {
                    self.report_bad(why, data.unwrap_or_default());
                    return Ok(Settled::Unusable);
                }
                _ => {}
            }
            let Some(new) = apply(
                &step,
                data.as_ref(),
                &self.opts.names,
                now,
                self.opts.lifetimes,
            )?
            else {
                return Ok(Settled::Kept);
            };
            let written = match current {
                None => {
                    let secret = with_data(
                        Secret {
                            metadata: ObjectMeta {
                                name: Some(name.clone()),
                                namespace: Some(self.opts.namespace.clone()),
                                labels: Some(
                                    [(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())]
                                        .into(),
                                ),
                                ..ObjectMeta::default()
                            },
                            type_: Some("kubernetes.io/tls".into()),
                            ..Secret::default()
                        },
                        &new,
                    );
                    self.secrets
                        .create(&PostParams::default(), &secret)
                        .await
                        .map(|_| ())
                }
                // Carries the resourceVersion it was read with.
                Some(s) => self
                    .secrets
                    .replace(&name, &PostParams::default(), &with_data(s, &new))
                    .await
                    .map(|_| ()),
            };
            match written {
                Ok(()) => tracing::info!(secret = %name, ?step, "TLS mode self: Secret written"),
                Err(e) if is_conflict(&e) => {
                    tracing::info!(secret = %name, ?step, "TLS mode self: another replica wrote the Secret first; reading theirs")
                }
                Err(e) => return Err(PassError::Write(name, e)),
            }
        }
        Err(PassError::Unsettled)
    }

    /// Loads the Secret's serving pair when it is not the one served.
    fn serve(&mut self, d: &SecretData) -> Result<(), PassError> {
        let pair = (d.tls_crt.clone(), d.tls_key.clone());
        if self.loaded.as_ref() == Some(&pair) {
            return Ok(());
        }
        let path = |k: &str| std::path::PathBuf::from(format!("secret {}/{k}", self.opts.secret));
        let ck = certs::certified_key_from_pem(
            d.tls_crt.as_bytes(),
            d.tls_key.as_bytes(),
            &path("tls.crt"),
            &path("tls.key"),
        )?;
        (self.to_server)(Arc::new(ck));
        self.metrics
            .cert_reloads
            .with_label_values(&["success"])
            .inc();
        if let Some(exp) = certs::not_after_unix(d.tls_crt.as_bytes()) {
            self.metrics.cert_expiry.set(exp as f64);
        }
        tracing::info!(secret = %self.opts.secret, "TLS mode self: serving the certificate from the Secret");
        self.loaded = Some(pair);
        Ok(())
    }

    fn report_bad(&mut self, why: &str, data: SecretData) {
        if self.reported_bad.as_ref() == Some(&data) {
            return;
        }
        self.metrics
            .cert_reloads
            .with_label_values(&["error"])
            .inc();
        let serving = if self.loaded.is_some() {
            "the last good certificate keeps serving"
        } else {
            "nothing is served until it is fixed"
        };
        tracing::error!(
            secret = %self.opts.secret,
            namespace = %self.opts.namespace,
            problem = %why,
            "TLS mode self: the Secret is unusable and is left as it is; {serving}. Fix: kubectl -n {} delete secret {} (tenantguard then creates a new CA and certificate and updates the webhook caBundles)",
            self.opts.namespace,
            self.opts.secret,
        );
        self.reported_bad = Some(data);
    }

    /// Sets the `caBundle` of both configurations' entries to `ca_crt`;
    /// false when one changed under us (read everything again).
    async fn sync_bundles(&self, ca_crt: &str) -> Result<bool, PassError> {
        let want = ByteString(ca_crt.as_bytes().to_vec());
        let m = self.mutating.get_opt(&self.opts.mutating).await.map(|c| {
            c.map(|c| {
                let entries = c.webhooks.unwrap_or_default().into_iter();
                let entries =
                    entries.map(|w| (w.name, w.client_config.ca_bundle == Some(want.clone())));
                (c.metadata.resource_version, entries.collect())
            })
        });
        let v = self
            .validating
            .get_opt(&self.opts.validating)
            .await
            .map(|c| {
                c.map(|c| {
                    let entries = c.webhooks.unwrap_or_default().into_iter();
                    let entries =
                        entries.map(|w| (w.name, w.client_config.ca_bundle == Some(want.clone())));
                    (c.metadata.resource_version, entries.collect())
                })
            });
        Ok(patch_bundle(
            &self.mutating,
            "MutatingWebhookConfiguration",
            &self.opts.mutating,
            m,
            ca_crt,
        )
        .await?
            && patch_bundle(
                &self.validating,
                "ValidatingWebhookConfiguration",
                &self.opts.validating,
                v,
                ca_crt,
            )
            .await?)
    }
}

/// A webhook configuration as read: its resourceVersion, and its entries'
/// names with whether their caBundle is already right.
type Seen = (Option<String>, Vec<(String, bool)>);

/// Patches the caBundle of the entries of one configuration that need it;
/// false when it changed since it was read (409, or 422 from a failed test).
async fn patch_bundle<K>(
    api: &Api<K>,
    kind: &'static str,
    name: &str,
    seen: Result<Option<Seen>, kube::Error>,
    ca_crt: &str,
) -> Result<bool, PassError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let webhook_error = |source| PassError::Webhook {
        kind,
        name: name.to_string(),
        source,
    };
    let (rv, entries) = match seen {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(PassError::NoWebhook {
                kind,
                name: name.to_string(),
            })
        }
        Err(e) => return Err(webhook_error(e)),
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca_crt.as_bytes());
    let mut ops = vec![json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv})];
    for (i, (entry, ok)) in entries.iter().enumerate() {
        if !ok {
            ops.push(json!({"op": "test", "path": format!("/webhooks/{i}/name"), "value": entry}));
            ops.push(json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"), "value": b64}));
        }
    }
    if ops.len() == 1 {
        return Ok(true);
    }
    let patch =
        serde_json::from_value(Value::Array(ops)).map_err(|e| PassError::Patch(e.to_string()))?;
    match api
        .patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        Ok(_) => {
            tracing::info!(kind, name, "TLS mode self: caBundle updated");
            Ok(true)
        }
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(webhook_error(e)),
    }
}

#[cfg(test)]
mod tests;
