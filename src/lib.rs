//! tenantguard: a Kubernetes admission webhook and policy enforcer that keeps
//! tenants apart on clusters that give each tenant its own namespaces.
//!
//! A request flows one way: bytes → [`admission`] (decode) → [`engine`] (pure:
//! rules over the object and its tenant context) → [`admission`] (encode,
//! patch) → bytes. `check`, `review` and `serve` share every decision.

pub mod admission;
pub mod audit;
pub mod certs;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod engine;
pub mod events;
pub mod hosts;
pub mod image;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod podspec;
pub mod policy;
pub mod quantity;
pub mod selector;
pub mod selftls;
pub mod server;
pub mod swap;
pub mod tenancy;
pub mod tenant_label;
pub mod vap;

/// The namespace label that names a namespace's tenant: the single source of truth.
pub const TENANT_LABEL: &str = "tenantguard.io/tenant";
/// The annotation the onboarding controller sets on a tenant Namespace once
/// its baseline objects exist; its value is the tenant it was onboarded for.
pub const ONBOARDED_ANNOTATION: &str = "tenantguard.io/onboarded";
/// The label Kubernetes sets on every namespace to its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The label on objects the onboarding controller owns.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The `app.kubernetes.io/managed-by` value of objects tenantguard owns.
pub const MANAGED_BY_VALUE: &str = "tenantguard";
/// The API group of tenantguard's own kinds (Tenant).
pub const GROUP: &str = "tenantguard.io";
/// apiVersion of every tenantguard document (Policy, Settings, Tenant).
pub const API_VERSION: &str = "tenantguard.io/v1alpha1";
