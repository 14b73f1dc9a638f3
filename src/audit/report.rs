//! One namespace's `PolicyReport` (`wgpolicyk8s.io/v1alpha2`, the Policy
//! Working Group's format that policy-reporter and Kyverno's UI read),
//! built from the audit's verdicts on the namespace's objects. Pure: the
//! scan writes what [`NamespaceReport::to_object`] returns.
//!
//! One result per violation: `source: tenantguard`, `policy` and `rule` the
//! rule id, `result` `fail` for a `Deny` policy and `warn` for `Warn` or
//! `Audit`, `resources` the object's reference, `message`, and
//! `properties.path` (the field) and `properties.action`. An object that
//! could not be judged at all is one `error` result (policy
//! `cannot-judge`). `summary.pass` counts objects without violations; the
//! other counts are of results.
//!
//! Size: an object in etcd may not exceed 1.5 MiB, and a report over it
//! would fail to write, every time. So the results kept are capped at
//! [`RESULTS_BUDGET`] serialized bytes; the summary keeps the true counts
//! and the annotation [`OMITTED_ANNOTATION`] says how many results were
//! left out. Memory is bounded the same way while a scan adds verdicts.
//!
//! Reference: <https://github.com/kubernetes-sigs/wg-policy-prototypes/tree/master/policy-report>.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::check::CANNOT_JUDGE;
use crate::engine::Outcome;
use crate::policy::Action;
use crate::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";
pub const KIND: &str = "PolicyReport";
/// The name of tenantguard's report in every tenant namespace.
pub const NAME: &str = "tenantguard";
/// `results[].source`.
pub const SOURCE: &str = "tenantguard";
/// The apiserver's (etcd's) limit on one object.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;
/// Serialized bytes of results one report keeps: the limit less room for
/// metadata, the summary and the `managedFields` server-side apply adds.
pub const RESULTS_BUDGET: usize = 1280 * 1024;
/// How many results a capped report left out ("0" when none).
pub const OMITTED_ANNOTATION: &str = "tenantguard.io/results-omitted";

/// The object a result is about, as `resources[]` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl ObjectRef {
    /// The reference of a Kubernetes object (JSON); missing fields are empty.
    pub fn of(obj: &Value) -> ObjectRef {
        let s = |ptr: &str| {
            obj.pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        ObjectRef {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
            uid: s("/metadata/uid"),
        }
    }

    fn to_json(&self) -> Value {
        let mut r = json!({"apiVersion": self.api_version, "kind": self.kind,
            "namespace": self.namespace, "name": self.name});
        if !self.uid.is_empty() {
            r["uid"] = json!(self.uid);
        }
        r
    }
}

/// The counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Objects without violations.
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
}

/// One namespace's report, filled one judged object at a time.
#[derive(Debug, Clone)]
pub struct NamespaceReport {
    namespace: String,
    timestamp: i64,
    budget: usize,
    results: Vec<Value>,
    bytes: usize,
    omitted: u64,
    summary: Summary,
    by_policy: BTreeMap<String, u64>,
}

impl NamespaceReport {
    /// An empty report for `namespace`, its results stamped `timestamp`
    /// (seconds since the epoch: when the scan ran).
    pub fn new(namespace: &str, timestamp: i64) -> Self {
        Self::with_budget(namespace, timestamp, RESULTS_BUDGET)
    }

    /// [`NamespaceReport::new`] keeping at most `budget` bytes of results.
    pub fn with_budget(namespace: &str, timestamp: i64, budget: usize) -> Self {
        NamespaceReport {
            namespace: namespace.to_string(),
            timestamp,
            budget,
            results: Vec::new(),
            bytes: 0,
            omitted: 0,
            summary: Summary::default(),
            by_policy: BTreeMap::new(),
        }
    }

    /// Adds the verdict on one object.
    pub fn add(&mut self, object: &ObjectRef, outcome: &Outcome) {
        if let Some(e) = &outcome.error {
            self.summary.error += 1;
            let path = e.path();
            self.push(object, CANNOT_JUDGE, "error", "Deny", path, &e.to_string());
            return;
        }
        if outcome.findings.is_empty() {
            self.summary.pass += 1;
            return;
        }
        for f in &outcome.findings {
            let result = if f.action == Action::Deny {
                self.summary.fail += 1;
                "fail"
            } else {
                self.summary.warn += 1;
                "warn"
            };
            *self
                .by_policy
                .entry(f.rule.as_str().to_string())
                .or_default() += 1;
            self.push(
                object,
                f.rule.as_str(),
                result,
                f.action.as_str(),
                &f.path,
                &f.message,
            );
        }
    }

    fn push(
        &mut self,
        object: &ObjectRef,
        policy: &str,
        result: &str,
        action: &str,
        path: &str,
        message: &str,
    ) {
        let r = json!({
            "source": SOURCE,
            "policy": policy,
            "rule": policy,
            "result": result,
            "message": message,
            "properties": {"path": path, "action": action},
            "resources": [object.to_json()],
            "timestamp": {"seconds": self.timestamp, "nanos": 0},
        });
        // The comma between results counts too.
        let size = r.to_string().len() + 1;
        if self.bytes + size > self.budget {
            self.omitted += 1;
            return;
        }
        self.bytes += size;
        self.results.push(r);
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Violations (fail and warn results, kept or not) per rule id.
    pub fn violations_by_policy(&self) -> &BTreeMap<String, u64> {
        &self.by_policy
    }

    /// Results left out of a capped report.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The whole `PolicyReport`, as server-side apply sends it: it replaces
    /// the report whole (an empty one when nothing is wrong any more).
    pub fn to_object(&self) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": NAME,
                "namespace": self.namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                "annotations": {OMITTED_ANNOTATION: self.omitted.to_string()},
            },
            "summary": {
                "pass": self.summary.pass,
                "fail": self.summary.fail,
                "warn": self.summary.warn,
                "error": self.summary.error,
                "skip": 0,
            },
            "results": self.results,
        })
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
