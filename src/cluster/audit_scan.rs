//! The background scan of `serve` in a cluster (DESIGN, "Audit of what
//! already exists"): on the replica holding the Lease, at start, every
//! `--audit-interval` and within a minute of a change to the policies or a
//! Tenant, every audited kind ([`kinds::AUDITED`]) is listed in every
//! tenant namespace and judged as `tenantguard audit` judges, and each
//! namespace gets its `PolicyReport` ([`report`]) by server-side apply.
//!
//! Bounded and gentle: one namespace at a time, lists of `page_size`
//! objects followed by their `continue` token, so memory holds one page and
//! one namespace's report whatever the cluster's size; the scan runs in
//! its own task and yields to the runtime every `yield_every` objects, so
//! admission requests never queue behind it.
//!
//! A namespace whose objects could not all be listed keeps its previous
//! report (a partial one would hide violations). Reports left in
//! namespaces that are no longer tenant namespaces are deleted, so none is
//! stale. Losing the Lease or stopping ends a scan between two pages.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::Client;
use serde_json::Value;
use tokio::sync::watch;

use super::onboard::FIELD_MANAGER;
use crate::audit;
use crate::audit::events::Notifier;
use crate::audit::kinds::{self, AuditedKind, AUDITED};
use crate::audit::metrics::AuditMetrics;
use crate::audit::report::{self, NamespaceReport, ObjectRef};
use crate::check;
use crate::engine::Engine;
use crate::tenancy::{Inventory, TenancySource};
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// The engine in force (it changes on a policy reload).
pub type EngineSource = Arc<dyn Fn() -> Arc<Engine> + Send + Sync>;

/// When and how the scan runs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Time from the end of one scan to the start of the next; zero turns
    /// the background scan off.
    pub interval: Duration,
    /// A change to the policies or a Tenant is scanned once nothing more
    /// changed for this long (so an edit in several steps is one scan).
    pub settle: Duration,
    /// How often the scan looks for such changes.
    pub poll: Duration,
    /// Objects per list call.
    pub page_size: u32,
    /// Objects judged between two yields to the runtime.
    pub yield_every: usize,
}

impl ScanOptions {
    /// The defaults for `serve`: a change is scanned within ~35 s.
    pub fn new(interval: Duration) -> Self {
        ScanOptions {
            interval,
            settle: Duration::from_secs(30),
            poll: Duration::from_secs(5),
            page_size: 500,
            yield_every: 64,
        }
    }
}

pub use crate::cli::parse_interval;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("listing {kind} in namespace {namespace:?} failed: {source}; its report is left as it was (check tenantguard's ClusterRole grants list on it)")]
    List {
        kind: &'static str,
        namespace: String,
        source: kube::Error,
    },
    #[error("writing the PolicyReport of namespace {namespace:?} failed: {source}")]
    Write {
        namespace: String,
        source: kube::Error,
    },
}

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub namespaces: usize,
    pub objects: u64,
    pub reports_written: usize,
    pub errors: usize,
    /// The Lease was lost or the server stopped before the end.
    pub interrupted: bool,
    /// Violations by (tenant, rule id).
    pub violations: BTreeMap<(String, String), u64>,
}

/// Lists `kind` in `namespace` page by page, handing each object (with its
/// `apiVersion` and `kind`, which list items lack) to `each`. `Ok(false)`:
/// the cluster does not serve the kind.
pub async fn list_kind(
    client: &Client,
    namespace: &str,
    kind: &AuditedKind,
    opts: &ScanOptions,
    keep_going: &(dyn Fn() -> bool + Sync),
    each: &mut (dyn FnMut(Value) + Send),
) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &kind.api_resource());
    let mut token: Option<String> = None;
    let api_version = kind.api_version();
    loop {
        let mut lp = ListParams::default().limit(opts.page_size);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = match api.list(&lp).await {
            Ok(p) => p,
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(false),
            Err(e) => return Err(e),
        };
        for (i, item) in page.items.into_iter().enumerate() {
            let Ok(mut v) = serde_json::to_value(item) else {
                continue;
            };
            v["apiVersion"] = Value::from(api_version.as_str());
            v["kind"] = Value::from(kind.kind);
            each(v);
            if (i + 1) % opts.yield_every.max(1) == 0 {
                tokio::task::yield_now().await;
            }
        }
        tokio::task::yield_now().await;
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() || !keep_going() {
            return Ok(true);
        }
    }
}

/// Tenant namespaces the audit judges, with their tenants, sorted.
pub(crate) fn tenant_namespaces(engine: &Engine, inv: &Inventory) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = inv
        .namespaces()
        .filter_map(|(ns, t)| Some((ns.to_string(), t?.to_string())))
        .filter(|(ns, _)| !engine.is_exempt(ns))
        .collect();
    out.sort();
    out
}

fn report_resource() -> ApiResource {
    ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: report::API_VERSION.into(),
        kind: report::KIND.into(),
        plural: "policyreports".into(),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The background scan over one cluster.
pub struct Scanner {
    client: Client,
    tenancy: Arc<dyn TenancySource>,
    engine: EngineSource,
    metrics: Arc<AuditMetrics>,
    opts: ScanOptions,
    notifier: Notifier,
}

impl Scanner {
    /// `instance`: this replica's name, on the Events it sends.
    pub fn new(
        client: Client,
        tenancy: Arc<dyn TenancySource>,
        engine: EngineSource,
        metrics: Arc<AuditMetrics>,
        opts: ScanOptions,
        instance: &str,
    ) -> Self {
        Scanner {
            notifier: Notifier::new(client.clone(), instance),
            client,
            tenancy,
            engine,
            metrics,
            opts,
        }
    }

    /// One scan of every tenant namespace, while `keep_going` holds.
    pub async fn scan_once(&mut self, keep_going: &(dyn Fn() -> bool + Sync)) -> ScanStats {
        let started = Instant::now();
        let now = unix_now();
        let audit = audit::engine(&(self.engine)());
        let mut inv = (*self.tenancy.snapshot()).clone();
        inv.onboarding_gate = false;
        let user = audit::auditor(None, &[]);
        let namespaces = tenant_namespaces(&audit, &inv);
        let mut stats = ScanStats::default();
        let mut unserved: HashSet<&'static str> = HashSet::new();
        let mut reports_missing = false;
        let reports: Api<DynamicObject> = Api::all_with(self.client.clone(), &report_resource());
        self.notifier.start_scan();
        for (namespace, tenant) in &namespaces {
            if !keep_going() {
                stats.interrupted = true;
                break;
            }
            let mut report = NamespaceReport::new(namespace, now);
            let mut listed = true;
            for kind in AUDITED {
                if unserved.contains(kind.plural) {
                    continue;
                }
                let mut objects = 0u64;
                let notifier = &mut self.notifier;
                let mut each = |obj: Value| {
                    if kinds::made_by_audited_owner(&obj) {
                        return;
                    }
                    objects += 1;
                    let req = check::create_request(&obj, namespace, &user);
                    let outcome = audit::judge(&audit, &req, &inv);
                    let r = ObjectRef::of(&obj);
                    report.add(&r, &outcome);
                    notifier.saw(&r, &outcome);
                };
                let listing = list_kind(
                    &self.client,
                    namespace,
                    kind,
                    &self.opts,
                    keep_going,
                    &mut each,
                )
                .await;
                stats.objects += objects;
                self.notifier.flush().await;
                match listing {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(
                            kind = kind.plural,
                            "not served by the cluster: not audited"
                        );
                        unserved.insert(kind.plural);
                    }
                    Err(source) => {
                        let e = ScanError::List {
                            kind: kind.plural,
                            namespace: namespace.clone(),
                            source,
                        };
                        tracing::warn!(error = %e, "audit");
                        stats.errors += 1;
                        listed = false;
                        break;
                    }
                }
                if !keep_going() {
                    stats.interrupted = true;
                    break;
                }
            }
            if stats.interrupted {
                break;
            }
            if !listed {
                continue;
            }
            stats.namespaces += 1;
            for (policy, n) in report.violations_by_policy() {
                *stats
                    .violations
                    .entry((tenant.clone(), policy.clone()))
                    .or_default() += n;
            }
            if report.omitted() > 0 {
                tracing::warn!(
                    namespace,
                    omitted = report.omitted(),
                    "PolicyReport capped under the object size limit"
                );
            }
            if reports_missing {
                continue;
            }
            match self.write(&report).await {
                Ok(()) => stats.reports_written += 1,
                Err(ScanError::Write {
                    source: kube::Error::Api(e),
                    ..
                }) if e.code == 404 => {
                    tracing::warn!("the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed: no reports are written (install it, e.g. with the chart's reports.installCRD=true); metrics still count");
                    reports_missing = true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit");
                    stats.errors += 1;
                }
            }
        }
        if !stats.interrupted && !reports_missing {
            let current: BTreeSet<&str> = namespaces.iter().map(|(n, _)| n.as_str()).collect();
            stats.errors += self.delete_stale(&reports, &current).await;
        }
        self.notifier
            .end_scan(!stats.interrupted && stats.errors == 0);
        self.metrics.objects.inc_by(stats.objects);
        let result = if stats.interrupted {
            "interrupted"
        } else {
            self.metrics.set_violations(&stats.violations);
            self.metrics.last_run.set(unix_now() as f64);
            self.metrics
                .duration
                .observe(started.elapsed().as_secs_f64());
            if stats.errors == 0 {
                "complete"
            } else {
                "failed"
            }
        };
        self.metrics.scans.with_label_values(&[result]).inc();
        tracing::info!(
            result,
            namespaces = stats.namespaces,
            objects = stats.objects,
            reports = stats.reports_written,
            violations = stats.violations.values().sum::<u64>(),
            seconds = started.elapsed().as_secs_f64(),
            "audit scan"
        );
        stats
    }

    async fn write(&self, report: &NamespaceReport) -> Result<(), ScanError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), report.namespace(), &report_resource());
        api.patch(
            report::NAME,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(report.to_object()),
        )
        .await
        .map(|_| ())
        .map_err(|source| ScanError::Write {
            namespace: report.namespace().to_string(),
            source,
        })
    }

    /// Deletes tenantguard's reports in namespaces that are no longer
    /// tenant namespaces; returns the number of failures.
    async fn delete_stale(&self, reports: &Api<DynamicObject>, current: &BTreeSet<&str>) -> usize {
        let lp = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
        let list = match reports.list_metadata(&lp).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "audit: listing PolicyReports to remove stale ones failed");
                return 1;
            }
        };
        let mut failures = 0;
        for r in list.items {
            let (Some(ns), Some(name)) = (r.metadata.namespace, r.metadata.name) else {
                continue;
            };
            if name != report::NAME || current.contains(ns.as_str()) {
                continue;
            }
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &ns, &report_resource());
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    tracing::info!(namespace = %ns, "audit: removed the PolicyReport of a namespace that is no longer a tenant's")
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "audit: removing a stale PolicyReport failed");
                    failures += 1;
                }
            }
        }
        failures
    }

    /// What a scan depends on besides the objects: the policies and
    /// Settings in force, and every Tenant's settings.
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        let engine = (self.engine)();
        format!(
            "{:?}{:?}",
            engine.policies.policies, engine.policies.settings
        )
        .hash(&mut h);
        let inv = self.tenancy.snapshot();
        let mut names: Vec<&str> = inv.tenant_names().collect();
        names.sort_unstable();
        for name in names {
            format!("{name}{:?}", inv.tenant_entry(name)).hash(&mut h);
        }
        h.finish()
    }

    /// Scans while this replica leads: at once, every interval, and once a
    /// change to the policies or a Tenant has settled. Ends when `stop`
    /// turns true. Nothing at all with a zero interval.
    pub async fn run(
        mut self,
        mut leading: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        if self.opts.interval.is_zero() {
            return;
        }
        let mut last_scan: Option<Instant> = None;
        let mut seen: Option<u64> = None;
        let mut changed_at: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            // Before the caches synced the tenancy is partial: a scan would
            // miss namespaces and take their reports for stale ones.
            if *leading.borrow() && self.tenancy.ready() {
                let fp = self.fingerprint();
                if seen.is_some_and(|s| s != fp) {
                    changed_at = Some(Instant::now());
                }
                seen = Some(fp);
                let due = last_scan.is_none_or(|t| t.elapsed() >= self.opts.interval)
                    || changed_at.is_some_and(|c| c.elapsed() >= self.opts.settle);
                if due {
                    let (l, s) = (leading.clone(), stop.clone());
                    let keep_going = move || *l.borrow() && !*s.borrow();
                    self.scan_once(&keep_going).await;
                    last_scan = Some(Instant::now());
                    changed_at = None;
                }
            } else if !*leading.borrow() {
                // Leading again later starts with a scan.
                last_scan = None;
                seen = None;
                changed_at = None;
            }
            // An interval shorter than the poll is kept too (scans back to back).
            tokio::select! {
                _ = tokio::time::sleep(self.opts.poll.min(self.opts.interval)) => {}
                r = leading.changed() => if r.is_err() { return },
                _ = super::stopped(&mut stop) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let cases = [
            ("0", Some(0)),
            ("1h", Some(3600)),
            ("30m", Some(1800)),
            ("1h30m", Some(5400)),
            ("90s", Some(90)),
            ("", None),
            ("1", None),
            ("h", None),
            ("1d", None),
            ("-1h", None),
            ("99999999999999999999h", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_interval(s).ok().map(|d| d.as_secs()), want, "{s:?}");
        }
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_interval("1d").unwrap_err().contains("like 1h"));
    }
}
