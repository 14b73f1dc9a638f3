//! Prometheus metrics: one registry struct, bounded label values.
//!
//! Tenant names are label values, so cardinality is bounded by construction:
//! a tenant label only takes names that are declared or observed on a
//! namespace ([`Metrics::tenant_label`]); anything else is `none`. Kinds
//! outside the set tenantguard judges are `other`. Object names never appear.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::Collector;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::policy::RuleId;
use crate::tenancy::Inventory;

/// Latency buckets in seconds, from 50µs: the webhook is on every write.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// The kind label values besides `other`: every kind some rule has checks
/// specific to (from the rule registry), by name.
fn kinds() -> &'static [&'static str] {
    static KINDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        let mut kinds: Vec<&'static str> = RuleId::ALL
            .iter()
            .flat_map(|r| r.specific_kinds().iter().map(|gk| gk.kind))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    })
}

/// A Prometheus registry that remembers what was registered in it, so the
/// exposition can show every family, including labelled ones that have no
/// sample yet (the library's `gather` leaves those out). The audit's
/// metrics register here too. Clones share the same families.
#[derive(Clone, Default)]
pub struct Families {
    registry: Registry,
    collectors: Arc<Mutex<Vec<Box<dyn Collector>>>>,
}

impl Families {
    /// Registers `c` (an error for a name already taken, as the registry
    /// says).
    pub fn register<C: Collector + Clone + 'static>(&self, c: C) -> prometheus::Result<()> {
        self.registry.register(Box::new(c.clone()))?;
        self.collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(c));
        Ok(())
    }

    /// The text exposition: the families with samples as the encoder writes
    /// them (sorted by name), then the `# HELP` and `# TYPE` lines of those
    /// without, so every name is on the page from the first scrape.
    pub fn render(&self) -> String {
        let collectors = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut families, empty): (Vec<MetricFamily>, Vec<MetricFamily>) = collectors
            .iter()
            .flat_map(|c| c.collect())
            .partition(|f| !f.get_metric().is_empty());
        drop(collectors);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut buf = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&families, &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        for f in empty {
            let kind = match f.get_field_type() {
                MetricType::COUNTER => "counter",
                MetricType::GAUGE => "gauge",
                MetricType::HISTOGRAM => "histogram",
                MetricType::SUMMARY => "summary",
                MetricType::UNTYPED => "untyped",
            };
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n",
                name = f.name(),
                help = f.help().replace('\\', "\\\\").replace('\n', "\\n"),
            ));
        }
        text
    }
}

pub struct Metrics {
    pub registry: Families,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub violations: IntCounterVec,
    pub bad_requests: IntCounterVec,
    pub policy_reloads: IntCounterVec,
    pub policy_reload_timestamp: Gauge,
    pub cert_reloads: IntCounterVec,
    pub cert_expiry: Gauge,
    pub cache_synced: IntGaugeVec,
    pub cache_age: Gauge,
    pub inventory_namespaces: IntGauge,
    pub inventory_tenants: IntGauge,
    pub build_info: IntGaugeVec,
    /// Onboarding controller (cluster mode): reconciles by result, namespaces
    /// whose last reconcile failed, and whether this replica leads.
    pub reconciles: IntCounterVec,
    pub reconcile_failing: IntGauge,
    pub leader: IntGauge,
    /// Per tenant (written by the leader's status writer, from the same
    /// figures as the Tenant's status): its namespaces, and with
    /// `quota.scope: Tenant` its budget and use per resource of `hard`.
    pub tenant_namespaces: IntGaugeVec,
    pub tenant_quota_hard: GaugeVec,
    pub tenant_quota_used: GaugeVec,
}

fn counter(r: &Families, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(r, c)
}

fn register<M: Collector + Clone + 'static>(r: &Families, m: M) -> M {
    // Names are static and unique: registration cannot fail.
    r.register(m.clone())
        .unwrap_or_else(|e| unreachable!("metric registration: {e}"));
    m
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let r = Families::default();
        let requests = counter(
            &r,
            "tenantguard_admission_requests_total",
            "Admission requests answered, by tenant, kind, operation, endpoint, decision and dry run.",
            &["tenant", "kind", "operation", "endpoint", "decision", "dry_run"],
        );
        let duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "tenantguard_admission_duration_seconds",
                    "Time to decode, judge and encode one admission request, inside the server.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["endpoint"],
            )
            .unwrap_or_else(|e| unreachable!("histogram: {e}")),
        );
        let violations = counter(
            &r,
            "tenantguard_policy_violations_total",
            "Violations found, by tenant, policy (rule id) and action.",
            &["tenant", "policy", "action"],
        );
        let bad_requests = counter(
            &r,
            "tenantguard_bad_requests_total",
            "Bodies that were not AdmissionReviews tenantguard could read (answered 4xx).",
            &["endpoint", "reason"],
        );
        let policy_reloads = counter(
            &r,
            "tenantguard_policy_reloads_total",
            "Policy directory reloads, by result (success or error).",
            &["result"],
        );
        let policy_reload_timestamp = register(
            &r,
            Gauge::new(
                "tenantguard_policy_last_reload_success_timestamp_seconds",
                "When the policies in force were loaded.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let cert_reloads = counter(
            &r,
            "tenantguard_certificate_reloads_total",
            "Serving certificate reloads, by result (success or error).",
            &["result"],
        );
        let cert_expiry = register(
            &r,
            Gauge::new(
                "tenantguard_certificate_expiry_timestamp_seconds",
                "When the serving certificate in use expires (Unix time).",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let cache_synced = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "tenantguard_cache_synced",
                    "1 when the tenancy cache of a resource has synced.",
                ),
                &["resource"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let cache_age = register(
            &r,
            Gauge::new(
                "tenantguard_cache_age_seconds",
                "Seconds since the tenancy cache last changed or was confirmed current.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let inventory_namespaces = register(
            &r,
            IntGauge::new(
                "tenantguard_inventory_namespaces",
                "Namespaces tenantguard knows.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let inventory_tenants = register(
            &r,
            IntGauge::new(
                "tenantguard_inventory_tenants",
                "Tenants declared by Tenant objects.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let build_info = register(
            &r,
            IntGaugeVec::new(
                Opts::new("tenantguard_build_info", "Build information; always 1."),
                &["version"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let reconciles = counter(
            &r,
            "tenantguard_reconciles_total",
            "Tenant namespace reconciles by the onboarding controller, by result (success or error).",
            &["result"],
        );
        let reconcile_failing = register(
            &r,
            IntGauge::new(
                "tenantguard_reconcile_failing_namespaces",
                "Tenant namespaces whose last reconcile failed (retried with backoff).",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let leader = register(
            &r,
            IntGauge::new(
                "tenantguard_leader",
                "1 while this replica holds the Lease and runs the onboarding controller.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let tenant_namespaces = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "tenantguard_tenant_namespaces",
                    "Namespaces labelled for the tenant.",
                ),
                &["tenant"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let quota_gauge = |name: &str, help: &str| {
            register(
                &r,
                GaugeVec::new(Opts::new(name, help), &["tenant", "resource"])
                    .unwrap_or_else(|e| unreachable!("{e}")),
            )
        };
        let tenant_quota_hard = quota_gauge(
            "tenantguard_tenant_quota_hard",
            "A tenant's budget (quota.hard with scope Tenant) per resource, for all its namespaces together (cpu in cores, memory and storage in bytes).",
        );
        let tenant_quota_used = quota_gauge(
            "tenantguard_tenant_quota_used",
            "What a tenant with scope Tenant uses of its budget per resource, summed over its namespaces' ResourceQuota status.used.",
        );
        Metrics {
            registry: r,
            requests,
            duration,
            violations,
            bad_requests,
            policy_reloads,
            policy_reload_timestamp,
            cert_reloads,
            cert_expiry,
            cache_synced,
            cache_age,
            inventory_namespaces,
            inventory_tenants,
            build_info,
            reconciles,
            reconcile_failing,
            leader,
            tenant_namespaces,
            tenant_quota_hard,
            tenant_quota_used,
        }
    }

    /// The tenant label value: a declared or observed tenant, else `none`.
    pub fn tenant_label<'a>(tenant: Option<&'a str>, inv: &Inventory) -> &'a str {
        match tenant {
            Some(t) if inv.is_known_tenant(t) => t,
            _ => "none",
        }
    }

    /// The kind label value: a kind tenantguard judges, else `other`.
    pub fn kind_label(kind: &str) -> &str {
        if kinds().contains(&kind) {
            kind
        } else {
            "other"
        }
    }

    /// The text exposition of every metric ([`Families::render`]).
    pub fn render(&self) -> String {
        self.registry.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        assert_eq!(Metrics::tenant_label(Some("acme"), &inv), "acme");
        assert_eq!(Metrics::tenant_label(Some("made-up-123"), &inv), "none");
        assert_eq!(Metrics::tenant_label(None, &inv), "none");
        assert_eq!(Metrics::kind_label("Pod"), "Pod");
        assert_eq!(Metrics::kind_label("Whatever"), "other");
    }

    #[test]
    fn families_without_samples_still_show_their_names_once() {
        let m = Metrics::new();
        let text = m.render();
        for (name, kind) in [
            ("tenantguard_admission_requests_total", "counter"),
            ("tenantguard_admission_duration_seconds", "histogram"),
            ("tenantguard_policy_violations_total", "counter"),
            ("tenantguard_tenant_quota_used", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} missing in\n{text}"
            );
        }
        // A family registered from elsewhere (the audit's) shows too.
        let later = GaugeVec::new(
            Opts::new("tenantguard_later", "Registered later."),
            &["tenant"],
        )
        .unwrap();
        m.registry.register(later.clone()).unwrap();
        assert!(m.render().contains(
            "# HELP tenantguard_later Registered later.\n# TYPE tenantguard_later gauge\n"
        ));
        assert!(
            m.registry.register(later).is_err(),
            "a name is registered once"
        );
        // Once a sample exists the encoder writes the family; not twice.
        m.requests
            .with_label_values(&["none", "Pod", "CREATE", "validate", "allowed", "false"])
            .inc();
        let text = m.render();
        assert_eq!(
            text.matches("# TYPE tenantguard_admission_requests_total counter")
                .count(),
            1,
            "{text}"
        );
        // Every line is a comment or a sample: the page stays parseable.
        assert!(text.lines().all(|l| l.starts_with("# HELP ")
            || l.starts_with("# TYPE ")
            || l.starts_with("tenantguard_")));
    }

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["acme", "Pod", "CREATE", "validate", "allowed", "false"])
            .inc();
        m.duration.with_label_values(&["validate"]).observe(0.0001);
        let text = m.render();
        for name in [
            "tenantguard_admission_requests_total",
            "tenantguard_admission_duration_seconds_bucket{endpoint=\"validate\",le=\"0.00005\"}",
            "tenantguard_build_info",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
