//! Raw flags → validated configuration. Nothing else reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{LogFormat, PolicyArgs, ServeArgs};
use crate::engine::Engine;
use crate::policy::rules::Identity;
use crate::policy::{self, PolicyError, PolicySet};
use crate::server::Limits;
use crate::tenancy::{self, Inventory, InventoryError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("--{flag} must be a positive number of seconds, got {value}")]
    Seconds { flag: &'static str, value: f64 },
    #[error("--max-body-bytes must be at least 1024, got {0}")]
    BodyLimit(usize),
}

/// The policies directory to read: the flag, else `./policies` when it
/// exists, else none (the built-in baseline: every rule on, default actions).
pub fn policies_dir(arg: Option<&Path>) -> Option<PathBuf> {
    match arg {
        Some(p) => Some(p.to_path_buf()),
        None => {
            let default = Path::new("policies");
            default.is_dir().then(|| default.to_path_buf())
        }
    }
}

/// Loads policies (see [`policies_dir`]).
pub fn load_policies(arg: Option<&Path>) -> Result<(PolicySet, Option<PathBuf>), ConfigError> {
    match policies_dir(arg) {
        Some(dir) => Ok((policy::load_dir(&dir)?, Some(dir))),
        None => Ok((PolicySet::default(), None)),
    }
}

/// The tenancy from Tenant documents beside the policies and the inventory
/// file. With a file, that is the whole world (no cluster behind it), so
/// every Tenant's owners are checked against its namespaces here.
pub fn load_inventory(policies: &PolicySet, path: Option<&Path>) -> Result<Inventory, ConfigError> {
    let inv = tenancy_of(policies, path)?;
    if path.is_some() {
        tenancy::check_owners(&inv)?;
    }
    Ok(inv)
}

/// [`load_inventory`] without the owners check, for `check`, whose input
/// adds Namespaces and Tenants before the world is complete.
fn tenancy_of(policies: &PolicySet, path: Option<&Path>) -> Result<Inventory, ConfigError> {
    let mut inv = match path {
        Some(p) => tenancy::load_inventory(p)?,
        None => Inventory::default(),
    };
    for t in &policies.tenants {
        inv.add_tenant(t);
    }
    Ok(inv)
}

/// Engine and inventory for the commands that judge offline. The owners
/// are not checked yet: `check` adds its input first, then checks
/// ([`tenancy::check_owners`]).
pub fn offline(args: &PolicyArgs) -> Result<(Engine, Inventory), ConfigError> {
    let (set, _) = load_policies(args.policies.as_deref())?;
    let inv = tenancy_of(&set, args.inventory.as_deref())?;
    Ok((Engine::new(set, Identity::default()), inv))
}

fn seconds(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if (0.0..1e7).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::Seconds { flag, value })
    }
}

/// Validated `serve` settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub limits: Limits,
    pub reload_interval: Duration,
    pub shutdown_delay: Duration,
    pub drain_timeout: Duration,
    pub identity: Identity,
    pub log_format: LogFormat,
}

impl ServeConfig {
    pub fn from_args(a: &ServeArgs, in_cluster: bool) -> Result<Self, ConfigError> {
        if a.max_body_bytes < 1024 {
            return Err(ConfigError::BodyLimit(a.max_body_bytes));
        }
        let reload_interval = seconds("reload-interval", a.reload_interval)?;
        if reload_interval.is_zero() {
            return Err(ConfigError::Seconds {
                flag: "reload-interval",
                value: a.reload_interval,
            });
        }
        Ok(ServeConfig {
            limits: Limits {
                max_body_bytes: a.max_body_bytes,
                request_timeout: seconds("request-timeout", a.request_timeout)?,
                max_concurrent_streams: a.max_concurrent_streams.max(1),
                ..Limits::default()
            },
            reload_interval,
            shutdown_delay: seconds("shutdown-delay", a.shutdown_delay)?,
            drain_timeout: seconds("drain-timeout", a.drain_timeout)?,
            identity: Identity {
                namespace: a.own_namespace.clone(),
                service_account: a.service_account.clone(),
            },
            log_format: a.log_format.unwrap_or(if in_cluster {
                LogFormat::Json
            } else {
                LogFormat::Text
            }),
        })
    }
}

/// Whether the process runs inside a Kubernetes pod.
pub fn in_cluster() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::testing::serve;

    #[test]
    fn validates_numbers() {
        assert!(ServeConfig::from_args(&serve(&[]), false).is_ok());
        assert!(ServeConfig::from_args(&serve(&["--request-timeout=-1"]), false).is_err());
        assert!(ServeConfig::from_args(&serve(&["--reload-interval", "0"]), false).is_err());
        assert!(ServeConfig::from_args(&serve(&["--max-body-bytes", "10"]), false).is_err());
        let c = ServeConfig::from_args(&serve(&[]), true).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.limits.max_body_bytes, 8 * 1024 * 1024);
    }

    #[test]
    fn explicit_missing_policies_dir_is_an_error() {
        let err = load_policies(Some(Path::new("/nonexistent/policies"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/policies"), "{err}");
    }
}
