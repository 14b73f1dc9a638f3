//! Which tenant a namespace belongs to, and each tenant's settings.
//!
//! The lookup sits behind one small trait, [`TenancySource`], that hands out
//! immutable [`Inventory`] snapshots: an inventory file for running without a
//! cluster, or (in a cluster) caches fed by watches. Rules only ever see a
//! snapshot, so a decision never mixes two states of the cluster.

mod load;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use crate::hosts::HostClaims;
use crate::swap::Swap;

use ipnet::IpNet;
use serde_json::Value;

pub use load::{absorb, check_owners, load_inventory, InventoryError};

use crate::model::{
    AgentResources, AllowList, ContainerDefaults, Owner, OwnerKind, PodSecurityLevel, QuotaScope,
    Settings, Tenant, TenantSpec, DEFAULT_SERVICE_TYPES,
};
use crate::tenant_label::{self, TenantLabel};

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

/// What the inventory keeps of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NamespaceEntry {
    tenant: Option<String>,
    /// The onboarding controller has put the baseline objects in place for
    /// this tenant (`tenantguard.io/onboarded` names the current tenant).
    onboarded: bool,
}

/// An immutable view of namespaces and tenants.
#[derive(Debug, Clone)]
pub struct Inventory {
    namespaces: HashMap<String, NamespaceEntry>,
    /// Tenant names seen on namespaces (bounded by the namespaces seen).
    observed: HashSet<String>,
    /// How many known namespaces carry each tenant's label (kept in step
    /// with `namespaces`, so `maxNamespaces` costs one lookup).
    per_tenant: HashMap<String, usize>,
    tenants: HashMap<String, TenantEntry>,
    /// Every declared tenant's dedicated-node pairs: (tenant, key, value).
    dedicated: Vec<(String, String, String)>,
    /// The hosts Ingresses and routes claim (shared between snapshots
    /// until one changes them).
    claims: Arc<HostClaims>,
    pub unknown: UnknownNamespaces,
    /// Whether the onboarding controller runs, so that a Pod in a tenant
    /// namespace it has not onboarded yet must wait (only in a cluster: an
    /// inventory file has no controller behind it, and no gate).
    pub onboarding_gate: bool,
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
            per_tenant: HashMap::new(),
            tenants: HashMap::new(),
            dedicated: Vec::new(),
            claims: Arc::default(),
            unknown,
            onboarding_gate: false,
        }
    }

    /// Records a namespace and its tenant label (None: a platform namespace),
    /// not onboarded.
    pub fn add_namespace(&mut self, name: &str, tenant: Option<&str>) {
        self.record_namespace(name, tenant, false);
    }

    /// Records a namespace, its tenant label and whether the onboarding
    /// controller has onboarded it for that tenant.
    pub fn record_namespace(&mut self, name: &str, tenant: Option<&str>, onboarded: bool) {
        let tenant = tenant.and_then(tenant_label::name);
        if let Some(t) = tenant {
            if !self.observed.contains(t) {
                self.observed.insert(t.to_string());
            }
        }
        if let Some(t) = tenant {
            *self.per_tenant.entry(t.to_string()).or_insert(0) += 1;
        }
        let old = self.namespaces.insert(
            name.to_string(),
            NamespaceEntry {
                tenant: tenant.map(str::to_string),
                onboarded: onboarded && tenant.is_some(),
            },
        );
        self.uncount(old);
    }

    /// Takes a namespace that is gone (or re-recorded) off its tenant's count.
    fn uncount(&mut self, old: Option<NamespaceEntry>) {
        let Some(t) = old.and_then(|e| e.tenant) else {
            return;
        };
        if let Some(n) = self.per_tenant.get_mut(&t) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_tenant.remove(&t);
            }
        }
    }

    /// Records a namespace from a Namespace object (JSON). A Namespace
    /// without a name, or whose tenant label is not a string, is not
    /// recorded ([`absorb`] reports the latter).
    pub fn add_namespace_object(&mut self, obj: &Value) -> bool {
        let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
            return false;
        };
        match tenant_label::of_object(Some(obj)) {
            TenantLabel::Malformed(_) => false,
            label => {
                self.add_namespace(name, label.tenant());
                true
            }
        }
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
        let old = self.namespaces.remove(name);
        self.uncount(old);
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
            .map(|(n, e)| (n.as_str(), e.tenant.as_deref()))
    }

    /// Who claims which host: Ingresses and routes in the cluster, or
    /// offline in `--inventory` and the input.
    pub fn claims(&self) -> &HostClaims {
        &self.claims
    }

    /// The claims, to change them (copied first if a snapshot shares them).
    pub fn claims_mut(&mut self) -> &mut HostClaims {
        Arc::make_mut(&mut self.claims)
    }

    /// Replaces the claims with a shared index (the cluster's host cache).
    pub fn set_claims(&mut self, claims: Arc<HostClaims>) {
        self.claims = claims;
    }

    /// Adds everything `other` knows (its entries win).
    pub fn merge(&mut self, other: Inventory) {
        if !other.claims.is_empty() {
            self.claims_mut().merge(&other.claims);
        }
        for (ns, e) in other.namespaces {
            self.record_namespace(&ns, e.tenant.as_deref(), e.onboarded);
        }
        for (name, entry) in other.tenants {
            self.add_tenant(&Tenant::new(&name, entry.spec));
        }
    }

    pub fn namespace(&self, name: &str) -> NamespaceTenancy<'_> {
        match self.namespaces.get(name) {
            Some(NamespaceEntry {
                tenant: Some(t), ..
            }) => NamespaceTenancy::Tenant(t),
            Some(_) => NamespaceTenancy::Platform,
            None => NamespaceTenancy::Unknown,
        }
    }

    /// Whether the onboarding controller has onboarded this tenant namespace.
    pub fn is_onboarded(&self, namespace: &str) -> bool {
        self.namespaces.get(namespace).is_some_and(|e| e.onboarded)
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

    /// How many known namespaces are labelled for `tenant`.
    pub fn tenant_namespace_count(&self, tenant: &str) -> usize {
        self.per_tenant.get(tenant).copied().unwrap_or(0)
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

    /// Tenants (declared) that count the requester as an owner.
    pub fn owned_tenants<'a>(
        &'a self,
        username: &'a str,
        groups: &'a [String],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.tenants
            .keys()
            .filter(move |t| self.is_owner(t, username, groups))
            .map(String::as_str)
    }

    /// Whether the requester is an owner of the declared tenant `tenant`
    /// that counts (see [`Inventory::honours`]).
    pub fn is_owner(&self, tenant: &str, username: &str, groups: &[String]) -> bool {
        self.tenants.get(tenant).is_some_and(|e| {
            e.spec
                .owners
                .iter()
                .any(|o| o.matches(username, groups) && self.honours(tenant, o))
        })
    }

    /// Whether an owner of `tenant` counts. A ServiceAccount owner counts
    /// only while its namespace is one of the tenant's: otherwise whoever
    /// creates (or is handed) that namespace controls the account and would
    /// become an owner. The Tenant itself stays in force; such an owner is
    /// reported ([`Inventory::owner_problems`]) and never honoured, neither
    /// by `namespace-ownership` nor in the owners' RoleBinding.
    pub fn honours(&self, tenant: &str, owner: &Owner) -> bool {
        match owner.kind {
            OwnerKind::User | OwnerKind::Group => true,
            OwnerKind::ServiceAccount => owner
                .namespace
                .as_deref()
                .is_some_and(|ns| self.tenant_of(ns) == Some(tenant)),
        }
    }

    /// What is wrong with the owners of a declared tenant, one message per
    /// owner that does not count, naming the field (empty: nothing).
    pub fn owner_problems(&self, tenant: &str) -> Vec<String> {
        let Some(entry) = self.tenants.get(tenant) else {
            return Vec::new();
        };
        entry
            .spec
            .owners
            .iter()
            .enumerate()
            .filter(|(_, o)| !self.honours(tenant, o))
            .map(|(i, o)| {
                let ns = o.namespace.as_deref().unwrap_or("");
                let now = match self.namespace(ns) {
                    NamespaceTenancy::Tenant(t) => format!("belongs to tenant {t:?}"),
                    NamespaceTenancy::Platform => "is a platform namespace".to_string(),
                    NamespaceTenancy::Unknown => "does not exist".to_string(),
                };
                format!(
                    "spec.owners[{i}]: ServiceAccount {:?} of namespace {ns:?} is not honoured: {ns:?} {now}, and a ServiceAccount owner must live in a namespace of tenant {tenant:?} (else whoever creates or is handed that namespace becomes an owner); label the namespace for {tenant:?} or remove the owner",
                    o.name
                )
            })
            .collect()
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

    /// The resources of the injected Vault Agent: the tenant's, else the Settings'.
    pub fn vault_agent_resources(&self) -> Option<&'a AgentResources> {
        self.spec()
            .and_then(|s| s.vault.as_ref())
            .and_then(|v| v.agent_resources.as_ref())
            .or(self.settings.vault.agent_resources.as_ref())
    }

    /// The Pod Security Standards level: the tenant's, else the Settings'.
    pub fn pod_security(&self) -> PodSecurityLevel {
        self.spec()
            .and_then(|s| s.pod_security)
            .unwrap_or(self.settings.pod_security)
    }

    /// How many namespaces the tenant may have, if capped.
    pub fn max_namespaces(&self) -> Option<u32> {
        self.spec().and_then(|s| s.max_namespaces)
    }

    /// What `quota.hard` is the budget of (`Namespace` when no quota is set).
    pub fn quota_scope(&self) -> QuotaScope {
        self.spec()
            .and_then(|s| s.quota.as_ref())
            .or(self.settings.tenant_defaults.quota.as_ref())
            .map_or(QuotaScope::Namespace, |q| q.scope)
    }

    /// The host patterns its Ingresses and routes may claim: the tenant's
    /// `ingress.hostnames`, else the Settings' `ingressHostnames` with
    /// `{tenant}` replaced by its name. Empty: no pattern is declared, so
    /// any host no other tenant claims is allowed.
    pub fn ingress_hostnames(&self) -> Cow<'a, [String]> {
        match self.spec().and_then(|s| s.ingress.as_ref()) {
            Some(i) => Cow::Borrowed(&i.hostnames),
            None if self.settings.ingress_hostnames.is_empty() => Cow::Borrowed(&[]),
            None => Cow::Owned(
                self.settings
                    .ingress_hostnames
                    .iter()
                    .map(|p| p.replace("{tenant}", self.name))
                    .collect(),
            ),
        }
    }

    /// One allow-list: the tenant's when it declares it, else the Settings'
    /// (`serviceTypes` defaults to [`DEFAULT_SERVICE_TYPES`]). `None`:
    /// declared nowhere, so anything is allowed; `Some([])`: nothing is.
    pub fn allowed(&self, which: AllowList) -> Option<Cow<'a, [String]>> {
        if let Some(l) = self
            .spec()
            .and_then(|s| s.allowed.as_ref())
            .and_then(|a| a.list(which))
        {
            return Some(Cow::Borrowed(l));
        }
        if let Some(l) = self.settings.allowed.list(which) {
            return Some(Cow::Borrowed(l));
        }
        // The default list, built once rather than on every request.
        static DEFAULT_SERVICE_TYPE_NAMES: LazyLock<Vec<String>> =
            LazyLock::new(|| DEFAULT_SERVICE_TYPES.map(String::from).to_vec());
        (which == AllowList::ServiceTypes).then(|| Cow::Borrowed(&DEFAULT_SERVICE_TYPE_NAMES[..]))
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

/// Whether a namespace name is one every tenant may reach (Settings) or, for
/// egress, one this tenant may reach (Tenant).
pub fn is_shared(settings: &Settings, namespace: &str) -> bool {
    settings.shared_namespaces.iter().any(|s| s == namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TenantEgress, TenantVault};

    fn tenant(name: &str, spec: TenantSpec) -> Tenant {
        Tenant::new(name, spec)
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

    #[test]
    fn owners_and_onboarding() {
        let spec: TenantSpec = serde_yaml_ng::from_str(
            "owners: [{kind: Group, name: acme-admins}, {kind: ServiceAccount, name: ci, namespace: acme-ci}]",
        )
        .unwrap();
        let mut inv = Inventory::default();
        inv.add_tenant(&tenant("acme", spec));
        let ci = "system:serviceaccount:acme-ci:ci";
        let none: Vec<String> = vec![];
        // acme-ci does not exist yet: whoever creates it would control `ci`.
        assert!(!inv.is_owner("acme", ci, &none));
        assert_eq!(inv.owned_tenants(ci, &none).count(), 0);
        assert_eq!(inv.owner_problems("acme").len(), 1);
        inv.add_namespace("acme-ci", Some("globex"));
        assert!(
            !inv.is_owner("acme", ci, &none),
            "another tenant's namespace"
        );
        inv.record_namespace("acme-ci", Some("acme"), true);
        assert!(inv.is_owner("acme", ci, &none));
        assert!(inv.owner_problems("acme").is_empty());
        assert!(inv.is_owner("acme", "x", &["acme-admins".to_string()]));
        // Onboarded is kept per namespace, and only for tenant namespaces.
        assert!(inv.is_onboarded("acme-ci"));
        inv.record_namespace("monitoring", None, true);
        assert!(!inv.is_onboarded("monitoring"));
        inv.record_namespace("empty", Some(""), true);
        assert_eq!(
            inv.namespace("empty"),
            NamespaceTenancy::Platform,
            "\"\" names no tenant"
        );
        let mut copy = Inventory::default();
        copy.merge(inv.clone());
        assert!(
            copy.is_onboarded("acme-ci"),
            "merge keeps the onboarded bit"
        );
    }

    /// The per-tenant count follows every add, relabel and removal.
    #[test]
    fn tenant_namespace_counts() {
        let mut inv = Inventory::default();
        inv.add_namespace("a1", Some("acme"));
        inv.add_namespace("a2", Some("acme"));
        inv.add_namespace("g1", Some("globex"));
        inv.add_namespace("p", None);
        inv.add_namespace("e", Some(""));
        assert_eq!(inv.tenant_namespace_count("acme"), 2);
        assert_eq!(inv.tenant_namespace_count("globex"), 1);
        assert_eq!(inv.tenant_namespace_count(""), 0);
        inv.add_namespace("a2", Some("acme"));
        assert_eq!(
            inv.tenant_namespace_count("acme"),
            2,
            "re-recorded, not added"
        );
        inv.add_namespace("a2", Some("globex"));
        assert_eq!(inv.tenant_namespace_count("acme"), 1);
        assert_eq!(inv.tenant_namespace_count("globex"), 2);
        inv.add_namespace("p", Some("acme"));
        inv.add_namespace("a1", None);
        assert_eq!(inv.tenant_namespace_count("acme"), 1);
        inv.remove_namespace("g1");
        inv.remove_namespace("g1");
        inv.remove_namespace("nope");
        assert_eq!(inv.tenant_namespace_count("globex"), 1);
        let mut copy = Inventory::default();
        copy.add_namespace("p", Some("globex"));
        copy.merge(inv.clone());
        assert_eq!(copy.tenant_namespace_count("acme"), 1);
        assert_eq!(copy.tenant_namespace_count("globex"), 1);
        assert_eq!(
            copy.tenant_namespace_count("acme") + copy.tenant_namespace_count("globex"),
            copy.namespaces().filter(|(_, t)| t.is_some()).count()
        );
    }
}
