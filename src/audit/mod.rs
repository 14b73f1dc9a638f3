//! The audit of what already exists (DESIGN, "Audit of what already
//! exists"): objects judged as they stand, with the validating rules only.
//!
//! - `tenantguard audit -f PATH|- | --cluster` ([`command`]) reports like
//!   `check`, with the same flags, JSON and exit codes (`patch` is always
//!   `[]`: nothing is mutated).
//! - [`report`] turns the verdicts on one namespace's objects into its
//!   `PolicyReport`.
//!
//! How an object is judged: as the `CREATE` of the object as it stands
//! (it carries every field it has; there is no old object to compare
//! with), through the engine's validation ([`Engine::validate`]), with the
//! mutating rules left out and the rules that judge *who* writes rather
//! than *what* is written skipped ([`SKIPPED_RULES`]): after the fact the
//! writer is unknown. The requester is no admin and no one in particular
//! (`--as`/`--as-group` name one, for policy exclusions by user or group).
//! Exclusions by namespace apply as they do in admission.

pub mod events;
pub mod kinds;
pub mod metrics;
pub mod report;
pub mod scan;

use anyhow::{bail, Context};

use crate::check::{self, InputObject, Report};
use crate::cli::{AuditArgs, OutputFormat};
use crate::config;
use crate::engine::{Engine, Outcome, Request};
use crate::policy::rules::{RuleId, User};
use crate::tenancy::Inventory;

/// Rules an audit never runs, by id: they judge the requester (who may
/// create, relabel or change an object), and after the fact there is none.
/// By id so a rule added later under one of these names is skipped too.
pub const SKIPPED_RULES: &[&str] = &[
    "namespace-ownership",
    "namespace-metadata",
    "managed-objects",
];

/// The requester an audit judges as when no `--as` is given: no admin, in
/// no group but the one every authenticated user has.
pub const AUDITOR: &str = "tenantguard:audit";

/// Whether the audit runs `rule`: validating, and not requester-dependent.
pub fn is_judged(rule: RuleId) -> bool {
    !rule.is_mutating() && !SKIPPED_RULES.contains(&rule.as_str())
}

/// `full` with only the rules the audit runs.
pub fn engine(full: &Engine) -> Engine {
    let mut policies = full.policies.clone();
    policies.policies.retain(|p| is_judged(p.rule));
    Engine::new(policies, full.identity.clone())
}

/// The requester: `--as`/`--as-group`, or [`AUDITOR`].
pub fn auditor(as_user: Option<&str>, as_groups: &[String]) -> User {
    let mut groups = as_groups.to_vec();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_string());
    }
    User {
        username: as_user.unwrap_or(AUDITOR).to_string(),
        groups,
    }
}

/// The verdict on one object as it stands. `engine` is an audit engine
/// ([`engine`]); `inv` must not gate Pods on onboarding (an existing Pod
/// is judged, not held back).
pub fn judge(engine: &Engine, req: &Request, inv: &Inventory) -> Outcome {
    engine.validate(req, inv)
}

/// Judges every object of the input, in input order: `check`'s report,
/// from the validating rules alone. Namespaces in the input count with the
/// labels they have (nothing mutates them); Ingresses and routes in the
/// input claim their hosts, so two tenants' objects on one host collide.
pub fn run(
    audit_engine: &Engine,
    inv: &Inventory,
    objects: &[InputObject],
    default_namespace: &str,
    user: &User,
) -> Report {
    let mut inv = inv.clone();
    check::absorb_claims(audit_engine, &mut inv, objects, default_namespace);
    check::report(
        audit_engine,
        &inv,
        objects,
        default_namespace,
        user,
        |req, inv| judge(audit_engine, req, inv),
    )
}

/// `tenantguard audit`: exit 0 when nothing would be denied, 1 when
/// something would, 2 (an error) for bad input or usage.
pub fn command(args: AuditArgs) -> anyhow::Result<u8> {
    let (full, mut inventory) = config::offline(&args.policy)?;
    let engine = engine(&full);
    if args.cluster {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let remote = runtime.block_on(crate::cluster::fetch_inventory())?;
        inventory.merge(remote);
    }
    let objects = if args.files.is_empty() {
        // --cluster alone (clap requires one of the two).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(cluster_objects(&engine, &inventory))?
    } else {
        let stdin = check::stdin_if_needed(&args.files)?;
        check::read_inputs(&args.files, stdin.as_deref())?
    };
    if objects.is_empty() && !args.files.is_empty() {
        bail!("no Kubernetes objects found in the input");
    }
    check::absorb_inputs(&mut inventory, &objects)?;
    crate::tenancy::check_owners(&inventory)?;
    inventory.onboarding_gate = false;
    let user = auditor(args.as_user.as_deref(), &args.as_groups);
    let report = run(&engine, &inventory, &objects, &args.namespace, &user);
    print(&report, args.output)?;
    Ok(report.exit_code() as u8)
}

/// Every audited object in the cluster's tenant namespaces, listed as the
/// background scan lists them (page by page, objects a workload made left
/// to their workload). Sources are `cluster#N`, in listing order.
async fn cluster_objects(engine: &Engine, inv: &Inventory) -> anyhow::Result<Vec<InputObject>> {
    let client = crate::cluster::client(None).await?;
    let opts = scan::ScanOptions::new(std::time::Duration::from_secs(1));
    let mut objects = Vec::new();
    let mut unserved = std::collections::HashSet::new();
    for (namespace, _) in scan::tenant_namespaces(engine, inv) {
        for kind in kinds::AUDITED {
            if unserved.contains(kind.plural) {
                continue;
            }
            let mut each = |object: serde_json::Value| {
                if !kinds::made_by_audited_owner(&object) {
                    objects.push(InputObject {
                        source: format!("cluster#{}", objects.len() + 1),
                        line: 0,
                        object,
                    });
                }
            };
            let served = scan::list_kind(&client, &namespace, kind, &opts, &|| true, &mut each)
                .await
                .with_context(|| {
                    format!(
                        "listing {} in namespace {namespace:?} failed (may your kubeconfig context list them?)",
                        kind.plural
                    )
                })?;
            if !served {
                unserved.insert(kind.plural);
            }
        }
    }
    Ok(objects)
}

fn print(report: &Report, output: OutputFormat) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        OutputFormat::Text => print!("{}", check::render_text(report)),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
