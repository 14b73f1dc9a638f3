//! The index behind every tenancy snapshot: namespace → tenant, the
//! declared tenants and the hosts claimed.
//!
//! Sized for 100,000 namespaces across 10,000 tenants: a namespace costs
//! 32 bytes (see `namespaces`), and the three big parts (namespaces,
//! tenants, claims) sit behind `Arc`s, so a snapshot is a clone of a few
//! pointers and a change copies only the part it changes, and only while a
//! published snapshot still shares it (copy on write). Every lookup a
//! request makes is a hash lookup; none scans the namespaces or tenants.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::namespaces::Namespaces;
use super::{NamespaceTenancy, TenantEntry, TenantRef, UnknownNamespaces};
use crate::hosts::{Domains, Host, HostClaims};
use crate::model::{Owner, OwnerKind, Settings, Tenant, TenantSpec};
use crate::tenant_label::{self, TenantLabel};

/// A dedicated tenant and the value it gives one node-selector key.
type NodePair = (Arc<str>, Box<str>);

/// The declared tenants.
#[derive(Debug, Clone, Default)]
struct Tenants {
    by_name: HashMap<Arc<str>, Arc<TenantEntry>>,
    /// Declared tenants with dedicated nodes, in the order they were declared.
    dedicated: Vec<Arc<str>>,
    /// The same tenants' node-selector pairs by label key: (tenant, value)
    /// in declaration order, so a pod's selector or toleration of one key
    /// costs one lookup however many tenants have dedicated nodes.
    node_pairs: HashMap<Box<str>, Vec<NodePair>>,
    /// Declared tenants by the username their User and ServiceAccount
    /// owners authenticate as, and by their Group owners' names: which
    /// tenants a requester may own, without scanning every tenant.
    by_user: HashMap<Box<str>, Vec<Arc<str>>>,
    by_group: HashMap<Box<str>, Vec<Arc<str>>>,
    /// The domains of declared tenants' own `ingress.hostnames`.
    domains: Domains<Arc<str>>,
    /// How many declared tenants declare no `ingress` of their own (they
    /// take the Settings' `ingressHostnames`).
    on_settings_hostnames: usize,
}

/// The roots of the domains a Tenant's own `ingress.hostnames` hand out
/// (patterns that do not parse hand out nothing), each once.
fn domain_roots(spec: &TenantSpec) -> Vec<String> {
    let mut roots: Vec<String> = spec
        .ingress
        .iter()
        .flat_map(|i| &i.hostnames)
        .filter_map(|p| Host::parse(p).ok())
        .map(|h| h.name().to_string())
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The username an owner authenticates as (a group: its name), and whether it is a group.
fn owner_key(o: &Owner) -> (bool, String) {
    match o.kind {
        OwnerKind::User => (false, o.name.clone()),
        OwnerKind::Group => (true, o.name.clone()),
        OwnerKind::ServiceAccount => (
            false,
            format!(
                "system:serviceaccount:{}:{}",
                o.namespace.as_deref().unwrap_or(""),
                o.name
            ),
        ),
    }
}

impl Tenants {
    fn owner_index(&mut self, group: bool) -> &mut HashMap<Box<str>, Vec<Arc<str>>> {
        if group {
            &mut self.by_group
        } else {
            &mut self.by_user
        }
    }

    fn insert(&mut self, name: &str, entry: Arc<TenantEntry>) {
        self.remove(name);
        let name: Arc<str> = Arc::from(name);
        if !entry.spec.node_selector.is_empty() {
            self.dedicated.push(name.clone());
        }
        for (k, v) in &entry.spec.node_selector {
            let list = self.node_pairs.entry(k.as_str().into()).or_default();
            list.push((name.clone(), v.as_str().into()));
        }
        for o in &entry.spec.owners {
            let (group, key) = owner_key(o);
            let list = self.owner_index(group).entry(key.into()).or_default();
            if !list.contains(&name) {
                list.push(name.clone());
            }
        }
        for root in domain_roots(&entry.spec) {
            self.domains.insert(&name, &root);
        }
        if entry.spec.ingress.is_none() {
            self.on_settings_hostnames += 1;
        }
        self.by_name.insert(name, entry);
    }

    fn remove(&mut self, name: &str) {
        let Some(old) = self.by_name.remove(name) else {
            return;
        };
        if !old.spec.node_selector.is_empty() {
            self.dedicated.retain(|t| &**t != name);
        }
        for k in old.spec.node_selector.keys() {
            if let Some(list) = self.node_pairs.get_mut(k.as_str()) {
                list.retain(|(t, _)| &**t != name);
                if list.is_empty() {
                    self.node_pairs.remove(k.as_str());
                }
            }
        }
        for o in &old.spec.owners {
            let (group, key) = owner_key(o);
            let index = self.owner_index(group);
            if let Some(list) = index.get_mut(key.as_str()) {
                list.retain(|t| &**t != name);
                if list.is_empty() {
                    index.remove(key.as_str());
                }
            }
        }
        let owner: Arc<str> = Arc::from(name);
        for root in domain_roots(&old.spec) {
            self.domains.remove(&owner, &root);
        }
        if old.spec.ingress.is_none() {
            self.on_settings_hostnames -= 1;
        }
    }
}

/// An immutable view of namespaces and tenants.
#[derive(Debug, Clone)]
pub struct Inventory {
    namespaces: Arc<Namespaces>,
    tenants: Arc<Tenants>,
    /// The hosts Ingresses and routes claim.
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
            namespaces: Arc::default(),
            tenants: Arc::default(),
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
        Arc::make_mut(&mut self.namespaces).record(name, tenant, onboarded);
    }

    /// Makes room for `n` more namespaces at once (a file's worth), so that
    /// recording them does not grow the index step by step.
    pub fn reserve_namespaces(&mut self, n: usize) {
        Arc::make_mut(&mut self.namespaces).reserve(n);
    }

    /// Replaces every namespace at once with `listed` (name, tenant label,
    /// onboarded): a complete re-list. Tenant names seen before stay known.
    pub fn replace_namespaces<N, T>(
        &mut self,
        listed: impl IntoIterator<Item = (N, Option<T>, bool)>,
    ) where
        N: Into<Box<str>> + AsRef<str>,
        T: AsRef<str>,
    {
        let mut fresh = self.namespaces.emptied();
        let listed = listed.into_iter();
        fresh.reserve(listed.size_hint().0);
        for (name, tenant, onboarded) in listed {
            fresh.record(name.as_ref(), tenant.as_ref().map(AsRef::as_ref), onboarded);
        }
        self.namespaces = Arc::new(fresh);
    }

    /// Records a namespace from a Namespace object (JSON). A Namespace
    /// without a name, or whose tenant label is not a string, is not
    /// recorded ([`super::absorb`] reports the latter).
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
        self.declare(tenant.name(), Arc::new(tenant.spec.clone()));
    }

    /// [`Inventory::add_tenant`] for a spec already shared (no copy).
    pub fn declare(&mut self, name: &str, spec: Arc<TenantSpec>) {
        let entry = Arc::new(TenantEntry::new(spec));
        Arc::make_mut(&mut self.tenants).insert(name, entry);
    }

    /// Forgets a namespace (deleted, or gone from a re-list).
    pub fn remove_namespace(&mut self, name: &str) {
        if self.namespaces.contains(name) {
            Arc::make_mut(&mut self.namespaces).remove(name);
        }
    }

    /// Forgets a declared tenant.
    pub fn remove_tenant(&mut self, name: &str) {
        if self.tenants.by_name.contains_key(name) {
            Arc::make_mut(&mut self.tenants).remove(name);
        }
    }

    /// Every known namespace with its tenant (None: a platform namespace).
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.namespaces.iter().map(|(n, t, _)| (n, t))
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

    /// Adds everything `other` knows (its entries win). Into an inventory
    /// that knows no namespace yet, `other`'s namespaces move as they are.
    pub fn merge(&mut self, other: Inventory) {
        if !other.claims.is_empty() {
            self.claims_mut().merge(&other.claims);
        }
        if self.namespaces.is_empty() {
            self.namespaces = other.namespaces;
        } else {
            for (ns, tenant, onboarded) in other.namespaces.iter() {
                self.record_namespace(ns, tenant, onboarded);
            }
        }
        if self.tenants.by_name.is_empty() {
            self.tenants = other.tenants;
        } else if !other.tenants.by_name.is_empty() {
            let tenants = Arc::make_mut(&mut self.tenants);
            // Declaration order, so that dedicated nodes keep theirs.
            let mut names: Vec<&Arc<str>> = other.tenants.by_name.keys().collect();
            let rank: HashMap<&str, usize> = other
                .tenants
                .dedicated
                .iter()
                .enumerate()
                .map(|(i, t)| (&**t, i))
                .collect();
            names.sort_by_key(|t| rank.get(&***t).copied().unwrap_or(usize::MAX));
            for name in names {
                tenants.insert(name, other.tenants.by_name[name].clone());
            }
        }
    }

    pub fn namespace(&self, name: &str) -> NamespaceTenancy<'_> {
        match self.namespaces.tenant_of(name) {
            Some(Some(t)) => NamespaceTenancy::Tenant(t),
            Some(None) => NamespaceTenancy::Platform,
            None => NamespaceTenancy::Unknown,
        }
    }

    /// Whether the onboarding controller has onboarded this tenant namespace.
    pub fn is_onboarded(&self, namespace: &str) -> bool {
        self.namespaces.is_onboarded(namespace)
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
        !self.tenants.by_name.is_empty()
    }

    pub fn is_declared(&self, tenant: &str) -> bool {
        self.tenants.by_name.contains_key(tenant)
    }

    pub fn tenant_entry(&self, tenant: &str) -> Option<&TenantEntry> {
        self.tenants.by_name.get(tenant).map(|e| &**e)
    }

    pub fn tenant_names(&self) -> impl Iterator<Item = &str> {
        self.tenants.by_name.keys().map(|t| &**t)
    }

    /// How many tenants are declared.
    pub fn tenant_count(&self) -> usize {
        self.tenants.by_name.len()
    }

    /// Whether `tenant` is declared or seen on some namespace: the names
    /// that may appear as metric labels.
    pub fn is_known_tenant(&self, tenant: &str) -> bool {
        self.tenants.by_name.contains_key(tenant) || self.namespaces.is_seen(tenant)
    }

    pub fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }

    /// How many known namespaces are labelled for `tenant`.
    pub fn tenant_namespace_count(&self, tenant: &str) -> usize {
        self.namespaces.count(tenant)
    }

    /// Declared tenants whose own `ingress.hostnames` hand out a domain
    /// `host` reaches into ([`Host::reaches_domain`]; a tenant may come
    /// more than once). A few hash lookups, one per label of the host.
    pub fn hostname_owners<'a>(&'a self, host: &'a Host) -> impl Iterator<Item = &'a str> + 'a {
        self.tenants.domains.reached_by(host).map(|t| &**t)
    }

    /// How many declared tenants declare no `ingress` of their own, so take
    /// the Settings' `ingressHostnames` (with `{tenant}` filled in).
    pub fn tenants_on_settings_hostnames(&self) -> usize {
        self.tenants.on_settings_hostnames
    }

    /// Whether `tenant` is declared and takes the Settings' `ingressHostnames`.
    pub fn is_on_settings_hostnames(&self, tenant: &str) -> bool {
        self.tenant_entry(tenant)
            .is_some_and(|e| e.spec.ingress.is_none())
    }

    /// Dedicated-node pairs of tenants other than `own`, tenants in the
    /// order they were declared.
    pub fn foreign_node_pairs<'a>(
        &'a self,
        own: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        self.tenants
            .dedicated
            .iter()
            .filter(move |t| &***t != own)
            .filter_map(|t| Some((&**t, self.tenants.by_name.get(t)?)))
            .flat_map(|(t, e)| {
                e.spec
                    .node_selector
                    .iter()
                    .map(move |(k, v)| (t, k.as_str(), v.as_str()))
            })
    }

    /// The pairs of [`Self::foreign_node_pairs`] whose label key is `key`, in
    /// the same order: one hash lookup, not a walk over every dedicated
    /// tenant.
    pub fn foreign_node_pairs_with_key<'a>(
        &'a self,
        own: &'a str,
        key: &str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        self.tenants
            .node_pairs
            .get_key_value(key)
            .into_iter()
            .flat_map(move |(k, list)| {
                list.iter()
                    .filter(move |(t, _)| &**t != own)
                    .map(move |(t, v)| (&**t, &**k, &**v))
            })
    }

    /// Tenants (declared) that count the requester as an owner, each once.
    pub fn owned_tenants<'a>(
        &'a self,
        username: &'a str,
        groups: &'a [String],
    ) -> impl Iterator<Item = &'a str> + 'a {
        let by_user = self.tenants.by_user.get(username).into_iter().flatten();
        let by_group = groups
            .iter()
            .filter_map(|g| self.tenants.by_group.get(g.as_str()))
            .flatten();
        let mut owned: Vec<&'a str> = by_user
            .chain(by_group)
            .map(|t| &**t)
            .filter(|t| self.is_owner(t, username, groups))
            .collect();
        owned.sort_unstable();
        owned.dedup();
        owned.into_iter()
    }

    /// Whether the requester is an owner of the declared tenant `tenant`
    /// that counts (see [`Inventory::honours`]).
    pub fn is_owner(&self, tenant: &str, username: &str, groups: &[String]) -> bool {
        self.tenant_entry(tenant).is_some_and(|e| {
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
        let Some(entry) = self.tenant_entry(tenant) else {
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
        TenantRef::new(name, self.tenant_entry(name), settings)
    }
}
