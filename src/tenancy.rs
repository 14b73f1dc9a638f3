//! Which tenant a namespace belongs to, and each tenant's settings.
//!
//! The lookup sits behind one small trait, [`TenancySource`], that hands out
//! immutable [`Inventory`] snapshots: an inventory file for running without a
//! cluster, or (in a cluster) caches fed by watches. Rules only ever see a
//! snapshot, so a decision never mixes two states of the cluster.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::swap::Swap;

use ipnet::IpNet;
use serde_json::Value;

use crate::policy::{ContainerDefaults, Owner, Settings, Tenant, TenantSpec};
use crate::TENANT_LABEL;

/// What tenantguard knows about a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceTenancy<'a> {
    /// The namespace carries `tenantguard.io/tenant=<tenant>`.
    Tenant(&'a str),
    /// A known namespace without the tenant label.
    Platform,
    /// A namespace tenantguard has never seen.
    Unknown,
}

/// What to do with a namespace the inventory does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownNamespaces {
    /// An inventory file lists the world: a namespace not in it has no tenant label.
    Platform,
    /// A cluster cache may be behind: never guess a tenant; deny.
    Deny,
}

/// A declared tenant with its parsed settings.
#[derive(Debug, Clone)]
pub struct TenantEntry {
    pub spec: TenantSpec,
    allowed_cidrs: Vec<IpNet>,
}

/// An immutable view of namespaces and tenants.
#[derive(Debug, Clone)]
pub struct Inventory {
    namespaces: HashMap<String, Option<String>>,
    /// Tenant names seen on namespaces (bounded by the namespaces seen).
    observed: HashSet<String>,
    tenants: HashMap<String, TenantEntry>,
    /// Every declared tenant's dedicated-node pairs: (tenant, key, value).
    dedicated: Vec<(String, String, String)>,
    pub unknown: UnknownNamespaces,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory::new(UnknownNamespaces::Platform)
    }
}

impl Inventory {
    pub fn new(unknown: UnknownNamespaces) -> Self {
        Inventory {
            namespaces: HashMap::new(),
            observed: HashSet::new(),
            tenants: HashMap::new(),
            dedicated: Vec::new(),
            unknown,
        }
    }

    /// Records a namespace and its tenant label (None: a platform namespace).
    pub fn add_namespace(&mut self, name: &str, tenant: Option<&str>) {
        if let Some(t) = tenant {
            if !self.observed.contains(t) {
                self.observed.insert(t.to_string());
            }
        }
        self.namespaces
            .insert(name.to_string(), tenant.map(str::to_string));
    }

    /// Records a namespace from a Namespace object (JSON).
    pub fn add_namespace_object(&mut self, obj: &Value) -> bool {
        let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
            return false;
        };
        let tenant = obj
            .pointer("/metadata/labels")
            .and_then(|l| l.get(TENANT_LABEL))
            .and_then(Value::as_str);
        self.add_namespace(name, tenant.filter(|t| !t.is_empty()));
        true
    }

    /// Declares a tenant. The spec must have passed [`Tenant::validate`];
    /// CIDRs that do not parse are dropped (they then allow nothing).
    pub fn add_tenant(&mut self, tenant: &Tenant) {
        let name = tenant.name().to_string();
        let spec = tenant.spec.clone();
        let allowed_cidrs = spec
            .egress
            .iter()
            .flat_map(|e| e.allowed_cidrs.iter())
            .filter_map(|c| c.parse().ok())
            .collect();
        self.dedicated.retain(|(t, _, _)| *t != name);
        for (k, v) in &spec.node_selector {
            self.dedicated.push((name.clone(), k.clone(), v.clone()));
        }
        self.tenants.insert(
            name,
            TenantEntry {
                spec,
                allowed_cidrs,
            },
        );
    }

    /// Forgets a namespace (deleted, or gone from a re-list).
    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// Forgets a declared tenant.
    pub fn remove_tenant(&mut self, name: &str) {
        self.tenants.remove(name);
        self.dedicated.retain(|(t, _, _)| t != name);
    }

    /// Every known namespace with its tenant (None: a platform namespace).
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.namespaces
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_deref()))
    }

    /// Adds everything `other` knows (its entries win).
    pub fn merge(&mut self, other: Inventory) {
        for (ns, t) in other.namespaces {
            self.add_namespace(&ns, t.as_deref());
        }
        for (name, entry) in other.tenants {
            self.add_tenant(&Tenant::new(&name, entry.spec));
        }
    }

    pub fn namespace(&self, name: &str) -> NamespaceTenancy<'_> {
        match self.namespaces.get(name) {
            Some(Some(t)) => NamespaceTenancy::Tenant(t),
            Some(None) => NamespaceTenancy::Platform,
            None => NamespaceTenancy::Unknown,
        }
    }

    /// The tenant of a namespace, if it is a known tenant namespace.
    pub fn tenant_of(&self, namespace: &str) -> Option<&str> {
        match self.namespace(namespace) {
            NamespaceTenancy::Tenant(t) => Some(t),
            _ => None,
        }
    }

    /// True when at least one Tenant is declared: then only declared names are tenants.
    pub fn tenants_declared(&self) -> bool {
        !self.tenants.is_empty()
    }

    pub fn is_declared(&self, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
    }

    pub fn tenant_entry(&self, tenant: &str) -> Option<&TenantEntry> {
        self.tenants.get(tenant)
    }

    pub fn tenant_names(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// Whether `tenant` is declared or seen on some namespace: the names
    /// that may appear as metric labels.
    pub fn is_known_tenant(&self, tenant: &str) -> bool {
        self.tenants.contains_key(tenant) || self.observed.contains(tenant)
    }

    pub fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }

    /// Dedicated-node pairs of tenants other than `own`.
    pub fn foreign_node_pairs<'a>(
        &'a self,
        own: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        self.dedicated
            .iter()
            .filter(move |(t, _, _)| t != own)
            .map(|(t, k, v)| (t.as_str(), k.as_str(), v.as_str()))
    }

    /// Tenants (declared) that list the requester as an owner.
    pub fn owned_tenants<'a>(
        &'a self,
        username: &'a str,
        groups: &'a [String],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.tenants
            .iter()
            .filter(move |(_, e)| e.spec.owners.iter().any(|o| o.matches(username, groups)))
            .map(|(n, _)| n.as_str())
    }

    /// The tenant context a rule sees for `name`.
    pub fn tenant<'a>(&'a self, name: &'a str, settings: &'a Settings) -> TenantRef<'a> {
        TenantRef {
            name,
            entry: self.tenants.get(name),
            settings,
        }
    }
}

/// A tenant as rules see it: its declared settings, falling back to the
/// Settings' defaults field by field.
#[derive(Debug, Clone, Copy)]
pub struct TenantRef<'a> {
    pub name: &'a str,
    entry: Option<&'a TenantEntry>,
    settings: &'a Settings,
}

const NO_CIDRS: &[IpNet] = &[];

impl<'a> TenantRef<'a> {
    pub fn spec(&self) -> Option<&'a TenantSpec> {
        self.entry.map(|e| &e.spec)
    }

    pub fn is_declared(&self) -> bool {
        self.entry.is_some()
    }

    pub fn owners(&self) -> &'a [Owner] {
        self.spec().map_or(&[], |s| &s.owners)
    }

    pub fn namespace_labels(&self) -> Option<&'a BTreeMap<String, String>> {
        self.spec().map(|s| &s.namespace_labels)
    }

    pub fn container_defaults(&self) -> Option<&'a ContainerDefaults> {
        self.spec()
            .and_then(|s| s.container_defaults.as_ref())
            .or(self.settings.tenant_defaults.container_defaults.as_ref())
    }

    pub fn node_selector(&self) -> Option<&'a BTreeMap<String, String>> {
        self.spec()
            .map(|s| &s.node_selector)
            .filter(|m| !m.is_empty())
    }

    /// ipBlocks this tenant may open egress to.
    pub fn allowed_cidrs(&self) -> Cow<'a, [IpNet]> {
        match self.entry {
            Some(e) if e.spec.egress.is_some() => Cow::Borrowed(&e.allowed_cidrs),
            _ => match &self.settings.tenant_defaults.egress {
                Some(d) => Cow::Owned(
                    d.allowed_cidrs
                        .iter()
                        .filter_map(|c| c.parse().ok())
                        .collect(),
                ),
                None => Cow::Borrowed(NO_CIDRS),
            },
        }
    }

    /// Namespaces this tenant may open egress to besides the shared ones.
    pub fn allowed_egress_namespaces(&self) -> &'a [String] {
        self.spec()
            .and_then(|s| s.egress.as_ref())
            .or(self.settings.tenant_defaults.egress.as_ref())
            .map_or(&[], |e| &e.allowed_namespaces)
    }

    pub fn vault_role(&self) -> &'a str {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.role.as_deref())
            .unwrap_or(self.name)
    }

    pub fn vault_secrets_path(&self) -> Cow<'a, str> {
        match self
            .spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.secrets_path.as_deref())
        {
            Some(p) => Cow::Borrowed(p.trim_end_matches('/')),
            None => Cow::Owned(format!(
                "{}/{}",
                self.settings
                    .vault
                    .secrets_path_prefix
                    .trim_end_matches('/'),
                self.name
            )),
        }
    }

    pub fn vault_auth_path(&self) -> Option<&'a str> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.auth_path.as_deref())
            .or(self.settings.vault.auth_path.as_deref())
    }

    pub fn vault_namespace(&self) -> Option<&'a str> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.namespace.as_deref())
    }
}

/// Where snapshots come from.
pub trait TenancySource: Send + Sync {
    /// The current snapshot.
    fn snapshot(&self) -> Arc<Inventory>;
    /// Whether the source has synced (an inventory file is ready at once).
    fn ready(&self) -> bool;
    /// The snapshot to judge with after looking `namespace`, which the
    /// current snapshot does not know, up at the source once (a cluster
    /// cache may not have seen a namespace created a moment ago). Sources
    /// that hold the whole world (files) have nothing to look up.
    fn resolve<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Arc<Inventory>> {
        let _ = namespace;
        Box::pin(std::future::ready(self.snapshot()))
    }
}

/// A boxed future, as [`TenancySource::resolve`] returns (the trait stays object safe).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A fixed inventory (file, or built by `check`), replaceable on reload.
#[derive(Debug, Default)]
pub struct StaticTenancy {
    current: Swap<Inventory>,
}

impl StaticTenancy {
    pub fn new(inventory: Inventory) -> Self {
        StaticTenancy {
            current: Swap::new(inventory),
        }
    }

    pub fn replace(&self, inventory: Inventory) {
        self.current.store(inventory);
    }
}

impl TenancySource for StaticTenancy {
    fn snapshot(&self) -> Arc<Inventory> {
        self.current.load()
    }

    fn ready(&self) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--inventory: {0}")]
    Manifest(crate::check::InputError),
    #[error("{origin}: Tenant {name:?}: {message}")]
    InvalidTenant {
        origin: String,
        name: String,
        message: String,
    },
}

/// Loads Namespace and Tenant objects from a file or directory of YAML/JSON;
/// other kinds are ignored.
pub fn load_inventory(path: &Path) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::new(UnknownNamespaces::Platform);
    let mut files = Vec::new();
    inventory_files(path, &mut files)?;
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| InventoryError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let name = file.display().to_string();
        if !absorb_streaming(&mut inv, &name, &text) {
            // JSON, Lists and anything unusual: the general manifest reader.
            let objects = crate::check::read_inputs(std::slice::from_ref(&file), None)
                .map_err(InventoryError::Manifest)?;
            for o in &objects {
                absorb(&mut inv, &o.object, &o.source)?;
            }
        }
    }
    Ok(inv)
}

fn inventory_files(path: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), InventoryError> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let read_err = |source| InventoryError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let manifest = matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if p.is_dir() {
            inventory_files(&p, out)?;
        } else if manifest {
            out.push(p);
        }
    }
    Ok(())
}

/// Just what the inventory needs of a document.
#[derive(serde::Deserialize)]
struct DocHead {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Option<DocMeta>,
}

#[derive(serde::Deserialize)]
struct DocMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, serde_yaml_ng::Value>>,
}

/// Reads a YAML inventory one document at a time into small typed heads,
/// never holding every document as a JSON tree (10,000 namespaces would
/// otherwise peak at tens of MiB). Returns false, having added nothing,
/// when the file needs the general reader (JSON, Lists, invalid YAML,
/// invalid Tenants: its errors are the precise ones).
fn absorb_streaming(inv: &mut Inventory, name: &str, text: &str) -> bool {
    if name.ends_with(".json") {
        return false;
    }
    let mut staged = Inventory::new(UnknownNamespaces::Platform);
    for doc in crate::manifest::split_documents(text) {
        if doc.is_blank() {
            continue;
        }
        let Ok(head) = serde_yaml_ng::from_str::<DocHead>(doc.text) else {
            return false;
        };
        match (head.api_version.as_str(), head.kind.as_str()) {
            ("v1", "Namespace") => {
                let Some(meta) = head.metadata else {
                    return false;
                };
                let Some(ns) = meta.name else {
                    return false;
                };
                let tenant = meta
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(TENANT_LABEL))
                    .and_then(serde_yaml_ng::Value::as_str)
                    .filter(|t| !t.is_empty());
                staged.add_namespace(&ns, tenant);
            }
            (crate::API_VERSION, "Tenant") => {
                let Ok(t) = serde_yaml_ng::from_str::<crate::policy::TenantDocument>(doc.text)
                else {
                    return false;
                };
                let t: Tenant = t.into();
                if t.validate().is_err() {
                    return false;
                }
                staged.add_tenant(&t);
            }
            (_, k) if k.ends_with("List") => return false,
            _ => {}
        }
    }
    inv.merge(staged);
    true
}

/// Adds a Namespace or Tenant object to the inventory; other kinds are ignored.
pub fn absorb(inv: &mut Inventory, obj: &Value, source: &str) -> Result<bool, InventoryError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match (api, kind) {
        ("v1", "Namespace") => Ok(inv.add_namespace_object(obj)),
        (crate::API_VERSION, "Tenant") => {
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let tenant: Tenant =
                serde_json::from_value::<crate::policy::TenantDocument>(obj.clone())
                    .map_err(|e| InventoryError::InvalidTenant {
                        origin: source.to_string(),
                        name: name.clone(),
                        message: e.to_string(),
                    })?
                    .into();
            tenant
                .validate()
                .map_err(|message| InventoryError::InvalidTenant {
                    origin: source.to_string(),
                    name,
                    message,
                })?;
            inv.add_tenant(&tenant);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether a namespace name is one every tenant may reach (Settings) or, for
/// egress, one this tenant may reach (Tenant).
pub fn is_shared(settings: &Settings, namespace: &str) -> bool {
    settings.shared_namespaces.iter().any(|s| s == namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{TenantEgress, TenantVault};

    fn tenant(name: &str, spec: TenantSpec) -> Tenant {
        Tenant::new(name, spec)
    }

    #[test]
    fn streaming_inventory_reads_what_the_general_reader_reads() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {tenantguard.io/tenant: acme}}\n---\n# c\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: m}\n---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        std::fs::write(dir.path().join("inv.yaml"), yaml).unwrap();
        let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: g, labels: {tenantguard.io/tenant: globex}}}\n";
        std::fs::write(dir.path().join("list.yaml"), list).unwrap();
        let inv = load_inventory(dir.path()).unwrap();
        assert_eq!(inv.namespace("a"), NamespaceTenancy::Tenant("acme"));
        assert_eq!(inv.namespace("m"), NamespaceTenancy::Platform);
        assert_eq!(
            inv.namespace("g"),
            NamespaceTenancy::Tenant("globex"),
            "a List goes through the general reader"
        );
        assert!(inv.is_declared("acme"));
        std::fs::write(dir.path().join("bad.yaml"), "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: b}\nspec: {quota: {hard: {cpu: lots}}}\n").unwrap();
        let err = load_inventory(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("lots"),
            "an invalid Tenant is reported precisely: {err}"
        );
    }

    #[test]
    fn lookups() {
        let mut inv = Inventory::default();
        inv.add_namespace("acme-prod", Some("acme"));
        inv.add_namespace("monitoring", None);
        assert_eq!(inv.namespace("acme-prod"), NamespaceTenancy::Tenant("acme"));
        assert_eq!(inv.namespace("monitoring"), NamespaceTenancy::Platform);
        assert_eq!(inv.namespace("nope"), NamespaceTenancy::Unknown);
        assert!(!inv.tenants_declared());
    }

    #[test]
    fn tenant_settings_fall_back_to_defaults() {
        let settings = Settings::default();
        let mut inv = Inventory::default();
        inv.add_tenant(&tenant(
            "acme",
            TenantSpec {
                vault: Some(TenantVault {
                    role: Some("acme-role".into()),
                    ..Default::default()
                }),
                egress: Some(TenantEgress {
                    allowed_cidrs: vec!["203.0.113.0/24".into()],
                    allowed_namespaces: vec![],
                }),
                ..Default::default()
            },
        ));
        let t = inv.tenant("acme", &settings);
        assert_eq!(t.vault_role(), "acme-role");
        assert_eq!(t.vault_secrets_path(), "secret/data/tenants/acme");
        assert_eq!(t.vault_auth_path(), Some("auth/kubernetes"));
        assert_eq!(t.allowed_cidrs().len(), 1);
        let other = inv.tenant("globex", &settings);
        assert!(!other.is_declared());
        assert_eq!(other.vault_role(), "globex");
        assert!(other.allowed_cidrs().is_empty());
    }

    #[test]
    fn foreign_pairs_exclude_own() {
        let mut inv = Inventory::default();
        let mut sel = BTreeMap::new();
        sel.insert("pool".to_string(), "acme".to_string());
        inv.add_tenant(&tenant(
            "acme",
            TenantSpec {
                node_selector: sel,
                ..Default::default()
            },
        ));
        assert_eq!(inv.foreign_node_pairs("acme").count(), 0);
        assert_eq!(
            inv.foreign_node_pairs("globex").collect::<Vec<_>>(),
            [("acme", "pool", "acme")]
        );
    }
}
