//! The Kubernetes side: reading Namespaces and Tenants with the kube client.
//!
//! `check --cluster` lists them once from the current kubeconfig context.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::policy::Tenant;
use crate::tenancy::{Inventory, UnknownNamespaces};
use crate::TENANT_LABEL;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no usable kubeconfig or in-cluster configuration: {0}; set KUBECONFIG or drop --cluster"
    )]
    Config(String),
    #[error("the cluster did not answer within {0:?}; is it reachable? (kubectl cluster-info)")]
    Timeout(Duration),
    #[error("listing {what} failed: {source}")]
    List {
        what: &'static str,
        source: kube::Error,
    },
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Lists every Namespace and Tenant of the current context. Tenants are
/// optional: a cluster without the CRD simply has none.
pub async fn fetch_inventory() -> Result<Inventory, ClusterError> {
    let client = tokio::time::timeout(TIMEOUT, Client::try_default())
        .await
        .map_err(|_| ClusterError::Timeout(TIMEOUT))?
        .map_err(|e| ClusterError::Config(e.to_string()))?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = tokio::time::timeout(TIMEOUT, namespaces.list_metadata(&ListParams::default()))
        .await
        .map_err(|_| ClusterError::Timeout(TIMEOUT))?
        .map_err(|source| ClusterError::List {
            what: "namespaces",
            source,
        })?;
    let mut inv = Inventory::new(UnknownNamespaces::Platform);
    for ns in list.items {
        let Some(name) = ns.metadata.name.as_deref() else {
            continue;
        };
        let tenant = ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(TENANT_LABEL))
            .map(String::as_str)
            .filter(|t| !t.is_empty());
        inv.add_namespace(name, tenant);
    }
    let tenants: Api<Tenant> = Api::all(client);
    match tokio::time::timeout(TIMEOUT, tenants.list(&ListParams::default())).await {
        Err(_) => return Err(ClusterError::Timeout(TIMEOUT)),
        Ok(Ok(list)) => {
            for t in list.items.iter().filter(|t| t.validate().is_ok()) {
                inv.add_tenant(t);
            }
        }
        // 404: the Tenant CRD is not installed; no tenants are declared.
        Ok(Err(kube::Error::Api(e))) if e.code == 404 => {}
        Ok(Err(source)) => {
            return Err(ClusterError::List {
                what: "tenants.tenantguard.io",
                source,
            })
        }
    }
    Ok(inv)
}
