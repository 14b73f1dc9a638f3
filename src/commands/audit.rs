//! `tenantguard audit -f PATH|- | --cluster`: the command around
//! [`crate::audit`] (reading input or listing the cluster, printing).

use anyhow::{bail, Context};

use crate::audit::{auditor, engine, kinds, run};
use crate::check::{self, InputObject, Report};
use crate::cli::{AuditArgs, OutputFormat};
use crate::cluster::audit_scan as scan;
use crate::config;
use crate::engine::Engine;
use crate::tenancy::Inventory;

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
        OutputFormat::Json => {
            super::print_out(&format!("{}\n", serde_json::to_string_pretty(report)?))?
        }
        OutputFormat::Text => super::print_out(&check::render_text(report))?,
    }
    Ok(())
}
