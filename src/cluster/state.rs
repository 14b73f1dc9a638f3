//! What the watches fold into: the master [`Inventory`] (namespaces,
//! Tenants from the cluster over those from the policies directory, the
//! hosts Ingresses and routes claim, see [`claims`]) and the
//! record of every Tenant object, valid or not. Pure: no client, no clock;
//! [`super::cache`] feeds it events and publishes snapshots of it.
//!
//! A re-list (`Init` … `InitDone`) is buffered and then replaces what was
//! known at once, so a snapshot never shows half a list. The buffers hold
//! only what the inventory keeps (a namespace's name, interned tenant and
//! onboarded bit; a Tenant's parsed spec and status), never the objects, so
//! listing 100,000 Namespaces and 10,000 Tenants costs little more than
//! the inventory itself.

mod claims;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::Event;
use kube::ResourceExt;

use crate::policy::{Tenant, TenantSpec, TenantStatus};
use crate::tenancy::{Inventory, UnknownNamespaces};
use crate::{tenant_label, ONBOARDED_ANNOTATION};

/// A Tenant object as the cluster holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantRecord {
    /// Why the object is invalid, if it is.
    pub error: Option<String>,
    /// The last valid spec: what the webhook enforces (shared with the inventory).
    pub spec: Option<Arc<TenantSpec>>,
    /// The status as last seen (boxed: most records carry none yet, and
    /// 10,000 records of an inline status would cost megabytes).
    pub status: Option<Box<TenantStatus>>,
}

/// Parses a Tenant read as a dynamic object; the error names the field.
pub fn parse_tenant(obj: &DynamicObject) -> Result<Tenant, String> {
    let value = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    let spec = value
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::Value::Object(Default::default()));
    // Parse the spec alone first so that the message points into it.
    serde_json::from_value::<TenantSpec>(spec).map_err(|e| format!("spec: {e}"))?;
    let tenant: Tenant = serde_json::from_value::<crate::policy::TenantDocument>(value)
        .map_err(|e| e.to_string())?
        .into();
    tenant.validate().map_err(|e| e.to_string())?;
    Ok(tenant)
}

/// A Tenant object as read: its status, and its spec or why it is invalid.
#[derive(Debug)]
struct ParsedTenant {
    spec: Result<Arc<TenantSpec>, String>,
    status: Option<Box<TenantStatus>>,
}

impl ParsedTenant {
    fn of(obj: &DynamicObject) -> Self {
        ParsedTenant {
            spec: parse_tenant(obj).map(|t| Arc::new(t.spec)),
            status: status_of(obj),
        }
    }
}

/// A re-list of Namespaces in progress: what the inventory keeps of each,
/// tenant names interned.
#[derive(Debug, Default)]
struct NamespaceList {
    listed: Vec<(Box<str>, Option<Arc<str>>, bool)>,
    tenants: HashSet<Arc<str>>,
}

impl NamespaceList {
    fn push(&mut self, name: String, tenant: Option<&str>, onboarded: bool) {
        let tenant = tenant.map(|t| match self.tenants.get(t) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(t);
                self.tenants.insert(t.clone());
                t
            }
        });
        self.listed.push((name.into_boxed_str(), tenant, onboarded));
    }
}

fn status_of(obj: &DynamicObject) -> Option<Box<TenantStatus>> {
    obj.data
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
}

/// The master state the watchers edit.
#[derive(Debug)]
pub struct State {
    pub inventory: Inventory,
    files: HashMap<String, Tenant>,
    cluster: HashMap<String, TenantRecord>,
    /// A re-list of Namespaces in progress.
    ns_buffer: Option<NamespaceList>,
    /// A re-list of Tenants in progress, parsed as they arrive.
    tenant_buffer: Option<HashMap<String, ParsedTenant>>,
    /// Re-lists of Ingresses and routes in progress.
    claim_buffers: claims::ClaimBuffers,
    /// Tenant objects deleted so far.
    deletions: u64,
}

impl State {
    /// `gate`: the onboarding controller runs, so snapshots carry the
    /// onboarding gate.
    pub fn new(files: Vec<Tenant>, gate: bool) -> Self {
        let mut inventory = Inventory::new(UnknownNamespaces::Deny);
        inventory.onboarding_gate = gate;
        let mut s = State {
            inventory,
            files: HashMap::new(),
            cluster: HashMap::new(),
            ns_buffer: None,
            tenant_buffer: None,
            claim_buffers: Default::default(),
            deletions: 0,
        };
        s.set_files(files);
        s
    }

    pub fn namespace_event(&mut self, event: Event<PartialObjectMeta<Namespace>>) -> bool {
        // Metadata-light: the tenant, and whether the onboarding mark names
        // that same tenant (a mark left from an earlier tenant opens nothing).
        fn entry(m: &PartialObjectMeta<Namespace>) -> (Option<&str>, bool) {
            let tenant = tenant_label::in_map(m.labels());
            let onboarded = tenant.is_some()
                && m.annotations()
                    .get(ONBOARDED_ANNOTATION)
                    .map(String::as_str)
                    == tenant;
            (tenant, onboarded)
        }
        match event {
            Event::Init => {
                self.ns_buffer = Some(NamespaceList::default());
                false
            }
            Event::InitApply(m) => {
                let (tenant, onboarded) = entry(&m);
                self.ns_buffer
                    .get_or_insert_with(NamespaceList::default)
                    .push(m.name_any(), tenant, onboarded);
                false
            }
            Event::InitDone => {
                let list = self.ns_buffer.take().unwrap_or_default();
                self.inventory.replace_namespaces(list.listed);
                true
            }
            Event::Apply(m) => {
                let (tenant, onboarded) = entry(&m);
                self.inventory
                    .record_namespace(&m.name_any(), tenant, onboarded);
                true
            }
            Event::Delete(m) => {
                self.inventory.remove_namespace(&m.name_any());
                true
            }
        }
    }

    pub fn tenant_event(&mut self, event: Event<DynamicObject>) -> bool {
        match event {
            Event::Init => {
                self.tenant_buffer = Some(HashMap::new());
                false
            }
            Event::InitApply(o) => {
                let parsed = ParsedTenant::of(&o);
                self.tenant_buffer
                    .get_or_insert_with(HashMap::new)
                    .insert(o.name_any(), parsed);
                false
            }
            Event::InitDone => {
                let listed = self.tenant_buffer.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .cluster
                    .keys()
                    .filter(|n| !listed.contains_key(*n))
                    .cloned()
                    .collect();
                for n in gone {
                    self.delete_tenant(&n);
                }
                for (name, parsed) in listed {
                    self.apply_parsed(name, parsed);
                }
                true
            }
            Event::Apply(o) => {
                self.apply_tenant(&o);
                true
            }
            Event::Delete(o) => {
                self.delete_tenant(&o.name_any());
                true
            }
        }
    }

    pub fn apply_tenant(&mut self, obj: &DynamicObject) {
        self.apply_parsed(obj.name_any(), ParsedTenant::of(obj));
    }

    fn apply_parsed(&mut self, name: String, parsed: ParsedTenant) {
        match parsed.spec {
            Ok(spec) => {
                self.inventory.declare(&name, spec.clone());
                let record = self.cluster.entry(name).or_default();
                record.status = parsed.status;
                record.error = None;
                record.spec = Some(spec);
            }
            Err(e) => {
                tracing::warn!(tenant = %name, error = %e, "invalid Tenant: its last valid spec stays in force");
                let record = self.cluster.entry(name).or_default();
                record.status = parsed.status;
                record.error = Some(e);
            }
        }
    }

    pub fn delete_tenant(&mut self, name: &str) {
        if self.cluster.remove(name).is_some() {
            self.deletions += 1;
        }
        match self.files.get(name) {
            Some(t) => self.inventory.add_tenant(t),
            None => self.inventory.remove_tenant(name),
        }
    }

    /// How many Tenant objects were deleted so far.
    pub fn deletions(&self) -> u64 {
        self.deletions
    }

    /// The spec of a Tenant declared in the policies directory.
    pub fn file_tenant(&self, name: &str) -> Option<TenantSpec> {
        self.files.get(name).map(|t| t.spec.clone())
    }

    /// Every Tenant object in the cluster, sorted by name.
    pub fn cluster_tenants(&self) -> Vec<(String, TenantRecord)> {
        let mut v: Vec<_> = self
            .cluster
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Tenants from the policies directory; a Tenant object of the same name wins.
    pub fn set_files(&mut self, files: Vec<Tenant>) {
        let old: Vec<String> = self.files.keys().cloned().collect();
        self.files = files
            .into_iter()
            .map(|t| (t.name().to_string(), t))
            .collect();
        for n in old {
            if !self.files.contains_key(&n) && !self.cluster.contains_key(&n) {
                self.inventory.remove_tenant(&n);
            }
        }
        for (n, t) in &self.files {
            match self.cluster.get(n).and_then(|r| r.spec.as_ref()) {
                Some(spec) => self.inventory.declare(n, spec.clone()),
                None => self.inventory.add_tenant(t),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::NamespaceTenancy;
    use crate::TENANT_LABEL;
    use serde_json::json;

    fn ns(name: &str, tenant: Option<&str>) -> PartialObjectMeta<Namespace> {
        let mut labels = serde_json::Map::new();
        if let Some(t) = tenant {
            labels.insert(TENANT_LABEL.into(), json!(t));
        }
        serde_json::from_value(
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": name, "labels": labels}}),
        )
        .unwrap()
    }

    fn tenant(name: &str, spec: serde_json::Value) -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn relist_replaces_namespaces_atomically() {
        let mut s = State::new(vec![], false);
        for e in [
            Event::Init,
            Event::InitApply(ns("acme-prod", Some("acme"))),
            Event::InitApply(ns("monitoring", None)),
        ] {
            assert!(!s.namespace_event(e), "nothing to publish before InitDone");
        }
        assert_eq!(s.inventory.namespace_count(), 0);
        assert!(s.namespace_event(Event::InitDone));
        assert_eq!(s.inventory.tenant_of("acme-prod"), Some("acme"));
        // A re-list without acme-prod drops it; a watch event relabels.
        s.namespace_event(Event::Init);
        s.namespace_event(Event::InitApply(ns("monitoring", None)));
        s.namespace_event(Event::InitDone);
        assert_eq!(
            s.inventory.namespace("acme-prod"),
            NamespaceTenancy::Unknown
        );
        s.namespace_event(Event::Apply(ns("monitoring", Some("globex"))));
        assert_eq!(s.inventory.tenant_of("monitoring"), Some("globex"));
        s.namespace_event(Event::Delete(ns("monitoring", Some("globex"))));
        assert_eq!(
            s.inventory.namespace("monitoring"),
            NamespaceTenancy::Unknown
        );
        assert_eq!(s.inventory.unknown, UnknownNamespaces::Deny);
    }

    #[test]
    fn invalid_tenant_keeps_last_valid_spec() {
        let mut s = State::new(vec![], false);
        s.tenant_event(Event::Apply(tenant(
            "acme",
            json!({"egress": {"allowedCIDRs": ["203.0.113.0/24"]}}),
        )));
        assert!(s.inventory.is_declared("acme"));
        s.tenant_event(Event::Apply(tenant(
            "acme",
            json!({"egress": {"allowedCIDRs": ["not-a-cidr"]}}),
        )));
        let rec = &s.cluster["acme"];
        assert!(
            rec.error.as_deref().unwrap().contains("allowedCIDRs[0]"),
            "{rec:?}"
        );
        let kept = s.inventory.tenant_entry("acme").unwrap();
        assert_eq!(
            kept.spec.egress.as_ref().unwrap().allowed_cidrs,
            ["203.0.113.0/24"]
        );
        // Never valid: recorded, not declared.
        s.tenant_event(Event::Apply(tenant("globex", json!({"quotas": {}}))));
        assert!(s.cluster["globex"]
            .error
            .as_deref()
            .unwrap()
            .contains("unknown field `quotas`"));
        assert!(!s.inventory.is_declared("globex"));
    }

    #[test]
    fn file_tenants_stay_under_cluster_ones() {
        let file = Tenant::new("acme", TenantSpec::default());
        let mut s = State::new(vec![file], false);
        assert!(s.inventory.is_declared("acme"));
        s.tenant_event(Event::Apply(tenant(
            "acme",
            json!({"nodeSelector": {"pool": "acme"}}),
        )));
        assert_eq!(s.inventory.foreign_node_pairs("x").count(), 1);
        // Deleting the object falls back to the file's Tenant.
        s.tenant_event(Event::Delete(tenant("acme", json!({}))));
        assert!(s.inventory.is_declared("acme"));
        assert_eq!(s.inventory.foreign_node_pairs("x").count(), 0);
        s.set_files(vec![]);
        assert!(!s.inventory.tenants_declared());
        // A re-list without the object forgets it.
        s.tenant_event(Event::Apply(tenant("globex", json!({}))));
        s.tenant_event(Event::Init);
        s.tenant_event(Event::InitDone);
        assert!(!s.inventory.is_declared("globex"));
    }

    fn marked(
        name: &str,
        tenant: Option<&str>,
        mark: Option<&str>,
    ) -> PartialObjectMeta<Namespace> {
        let mut m = ns(name, tenant);
        if let Some(v) = mark {
            m.metadata.annotations =
                Some([(ONBOARDED_ANNOTATION.to_string(), v.to_string())].into());
        }
        m
    }

    #[test]
    #[rustfmt::skip]
    fn onboarded_bit_and_gate() {
        let cases = [
            ("marked for its tenant", marked("a", Some("acme"), Some("acme")), true),
            ("not marked yet", marked("a", Some("acme"), None), false),
            ("marked for an earlier tenant", marked("a", Some("acme"), Some("globex")), false),
            ("a platform namespace", marked("a", None, Some("acme")), false),
            ("an empty tenant label is none", marked("a", Some(""), Some("")), false),
        ];
        for (name, m, want) in cases {
            let mut s = State::new(vec![], true);
            assert!(s.inventory.onboarding_gate);
            s.namespace_event(Event::Apply(m.clone()));
            assert_eq!(s.inventory.is_onboarded("a"), want, "{name}: watch event");
            let mut s = State::new(vec![], false);
            assert!(!s.inventory.onboarding_gate, "no controller, no gate");
            for e in [Event::Init, Event::InitApply(m), Event::InitDone] {
                s.namespace_event(e);
            }
            assert_eq!(s.inventory.is_onboarded("a"), want, "{name}: re-list");
        }
    }
}
