//! Which tenant a namespace belongs to, and each tenant's settings.
//!
//! The lookup sits behind one small trait, [`TenancySource`], that hands out
//! immutable [`Inventory`] snapshots: an inventory file for running without a
//! cluster, or (in a cluster) caches fed by watches. Rules only ever see a
//! snapshot, so a decision never mixes two states of the cluster.
//!
//! - [`inventory`]: the index (namespace → tenant, declared tenants, claims),
//!   compact and shared between snapshots;
//! - [`tenant_ref`]: a tenant's settings as rules read them;
//! - [`load`]: reading an inventory from files.

mod inventory;
mod load;
mod namespaces;
mod tenant_ref;

use std::sync::Arc;

use crate::model::Settings;
use crate::swap::Swap;

pub use inventory::Inventory;
pub use load::{absorb, check_owners, load_inventory, InventoryError};
pub use tenant_ref::{TenantEntry, TenantRef};

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
mod tests;
