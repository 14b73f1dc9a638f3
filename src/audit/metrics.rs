//! The audit's metrics, registered in the server's registry beside the
//! others (DESIGN, "Audit of what already exists"). Label values are
//! bounded: tenants come from tenant namespaces the cache knows, policies
//! are rule ids.

use std::collections::BTreeMap;

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts};

use crate::metrics::Families;

/// Scan durations in seconds: a small cluster takes well under a second,
/// a large one minutes.
const SCAN_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 180.0, 600.0, 1800.0];

pub struct AuditMetrics {
    /// `tenantguard_audit_violations{tenant,policy}`: violations found by the last scan.
    pub violations: IntGaugeVec,
    /// `tenantguard_audit_objects_total`: objects judged by scans.
    pub objects: IntCounter,
    /// `tenantguard_audit_last_run_timestamp_seconds`: when the last scan ended.
    pub last_run: Gauge,
    /// `tenantguard_audit_duration_seconds`: how long scans take.
    pub duration: Histogram,
    /// `tenantguard_audit_scans_total{result}`: complete, failed (some
    /// namespace could not be listed or its report not written) or
    /// interrupted (the Lease was lost or the server stopped).
    pub scans: IntCounterVec,
}

fn register<M: prometheus::core::Collector + Clone + 'static>(r: &Families, m: M) -> M {
    // A registry that already has the audit's metrics (a second cluster
    // side in one process, in tests) keeps the first ones: these then only
    // count, which is no reason to stop serving.
    if let Err(e) = r.register(m.clone()) {
        tracing::debug!(error = %e, "audit metric not registered");
    }
    m
}

/// Names and label sets are static and valid: making a metric cannot fail.
fn made<T>(e: prometheus::Error) -> T {
    unreachable!("audit metric: {e}")
}

impl AuditMetrics {
    pub fn new(r: &Families) -> Self {
        AuditMetrics {
            violations: register(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "tenantguard_audit_violations",
                        "Violations of existing objects found by the last audit scan",
                    ),
                    &["tenant", "policy"],
                )
                .unwrap_or_else(made),
            ),
            objects: register(
                r,
                IntCounter::new(
                    "tenantguard_audit_objects_total",
                    "Objects judged by audit scans",
                )
                .unwrap_or_else(made),
            ),
            last_run: register(
                r,
                Gauge::new(
                    "tenantguard_audit_last_run_timestamp_seconds",
                    "Unix time the last audit scan ended",
                )
                .unwrap_or_else(made),
            ),
            duration: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "tenantguard_audit_duration_seconds",
                        "Duration of audit scans",
                    )
                    .buckets(SCAN_BUCKETS.to_vec()),
                )
                .unwrap_or_else(made),
            ),
            scans: register(
                r,
                IntCounterVec::new(
                    Opts::new("tenantguard_audit_scans_total", "Audit scans by result"),
                    &["result"],
                )
                .unwrap_or_else(made),
            ),
        }
    }

    /// Replaces the violation gauges with the last scan's counts.
    pub fn set_violations(&self, counts: &BTreeMap<(String, String), u64>) {
        self.violations.reset();
        for ((tenant, policy), n) in counts {
            self.violations
                .with_label_values(&[tenant, policy])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
}
