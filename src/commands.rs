//! What each subcommand does, over the library: `main.rs` only dispatches.
//! Returns the process exit code; errors become exit code 2.

pub mod audit;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use kube::CustomResourceExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admission::{self, Endpoint};
use crate::certs;
use crate::check;
use crate::cli::{
    CertsArgs, CheckArgs, EndpointArg, LogFormat, OutputFormat, ReviewArgs, ServeArgs, VapArgs,
};
use crate::config::{self, ServeConfig};
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::policy::Tenant;
use crate::server::{self, tls, AppState, Swap};
use crate::tenancy::{StaticTenancy, TenancySource};
use crate::vap;

/// Writes a report to stdout. A reader that closed the pipe early
/// (`tenantguard check -o json | head`) has read all it wanted: that ends
/// the output quietly, not with a panic as `print!` would; the exit code
/// still tells the verdict. Any other write error is an error.
pub(crate) fn emit(mut out: impl std::io::Write, text: &str) -> anyhow::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// [`emit`] to the process's stdout.
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    emit(std::io::stdout().lock(), text)
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TENANTGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `tenantguard serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let cfg = ServeConfig::from_args(&args, config::in_cluster())?;
    init_tracing(cfg.log_format);
    let (set, policies_dir) = config::load_policies(args.policy.policies.as_deref())
        .context("the server cannot start with these policies")?;
    let inventory = config::load_inventory(&set, args.policy.inventory.as_deref())
        .context("the server cannot start with this inventory")?;
    match &policies_dir {
        Some(d) => tracing::info!(dir = %d.display(), files = set.files.len(), "policies loaded"),
        None => tracing::warn!("no policies directory (./policies is missing and --policies not given): using the built-in baseline, every rule on"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_server(args, cfg, set, policies_dir, inventory))
}

async fn run_server(
    args: ServeArgs,
    cfg: ServeConfig,
    set: crate::policy::PolicySet,
    policies_dir: Option<PathBuf>,
    inventory: crate::tenancy::Inventory,
) -> anyhow::Result<u8> {
    let metrics = Arc::new(Metrics::new());
    metrics.policy_reload_timestamp.set(server::unix_now());
    metrics
        .inventory_namespaces
        .set(inventory.namespace_count() as i64);
    metrics
        .inventory_tenants
        .set(inventory.tenant_names().count() as i64);
    let inventory_path = args.policy.inventory.clone();
    let tenancy = Arc::new(StaticTenancy::new(inventory));
    let engine = Arc::new(Swap::new(Engine::new(set, cfg.identity.clone())));

    // In a pod (or with --cluster) the tenancy comes from watches instead of
    // a file, and the Lease holder runs the onboarding controller.
    let (cluster_stop, cluster_stop_rx) = watch::channel(false);
    let self_tls = crate::cluster::selftls::from_args(&args, config::in_cluster())?;
    let mut cluster = if crate::cluster::wanted(&args, config::in_cluster()) {
        let opts = crate::cluster::ClusterOptions::from_args(&args)?;
        let client = crate::cluster::client(args.cluster.kubeconfig.as_deref()).await?;
        let engine = engine.clone();
        let file_tenants = engine.load().policies.tenants.clone();
        tracing::info!(
            controller = opts.controller,
            "tenancy from the cluster: watching Namespaces and Tenants"
        );
        let settings_engine = engine.clone();
        let mut cluster = crate::cluster::Cluster::start(
            client,
            opts,
            Arc::new(move || settings_engine.load().policies.settings.clone()),
            file_tenants,
            metrics.clone(),
            cluster_stop_rx,
        );
        let scan = crate::cluster::audit_scan::ScanOptions::new(args.cluster.audit_interval);
        if cluster.start_audit(Arc::new(move || engine.load()), scan, &metrics.registry) {
            tracing::info!(interval = ?args.cluster.audit_interval, "audit of existing objects: on the Lease holder, writing PolicyReports");
        }
        Some(cluster)
    } else {
        None
    };

    // TLS: the Secret of mode self (nothing is served until it is read),
    // the given files (watched), or a self-signed pair for local use.
    let store = match (self_tls, cluster.as_mut()) {
        (Some(opts), Some(c)) => {
            let store = Arc::new(tls::CertStore::empty());
            let target = store.clone();
            c.start_self_tls(opts, Arc::new(move |k| target.set(k)), metrics.clone());
            Some(store)
        }
        _ => None,
    };
    let (key, cert_pem, watched) = match (&args.tls_cert, &args.tls_key) {
        _ if store.is_some() => (None, Vec::new(), None),
        (Some(c), Some(k)) => (
            Some(certs::load_certified_key(c, k)?),
            std::fs::read(c).unwrap_or_default(),
            Some((c.clone(), k.clone())),
        ),
        _ => {
            let mut names = certs::service_names("tenantguard", &cfg.identity.namespace);
            names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
            let bundle = certs::generate(&names)?;
            certs::write_bundle(&bundle, &args.self_signed_dir)?;
            let ck = certs::certified_key_from_pem(
                bundle.cert_pem.as_bytes(),
                bundle.key_pem.as_bytes(),
                &args.self_signed_dir.join("tls.crt"),
                &args.self_signed_dir.join("tls.key"),
            )?;
            tracing::warn!(
                ca = %args.self_signed_dir.join("ca.crt").display(),
                "no --tls-cert/--tls-key: serving a self-signed certificate for local use; trust this CA"
            );
            (Some(Arc::new(ck)), bundle.cert_pem.into_bytes(), None)
        }
    };
    if let Some(exp) = certs::not_after_unix(&cert_pem) {
        metrics.cert_expiry.set(exp as f64);
    }
    let store = match (store, key) {
        (Some(s), _) => s,
        (None, Some(k)) => Arc::new(tls::CertStore::new(k)),
        (None, None) => Arc::new(tls::CertStore::empty()),
    };
    let tls_config = tls::server_config(store.clone(), args.client_ca.as_deref())?;

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let metrics_listener = TcpListener::bind(args.metrics_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--metrics-listen)",
                args.metrics_listen
            )
        })?;
    tracing::info!(
        webhook = %listener.local_addr()?,
        metrics = %metrics_listener.local_addr()?,
        "tenantguard serving (HTTPS: h2 and http/1.1)"
    );

    if let Some((c, k)) = watched {
        tokio::spawn(tls::watch_files(
            store,
            c,
            k,
            cfg.reload_interval,
            metrics.clone(),
        ));
    }
    if let Some(dir) = policies_dir {
        let engine = engine.clone();
        let tenancy = tenancy.clone();
        let identity = cfg.identity.clone();
        let cluster_reload = cluster.as_ref().map(|c| c.reloader());
        tokio::spawn(server::watch_policies(
            dir,
            cfg.reload_interval,
            metrics.clone(),
            move |set| {
                match config::load_inventory(&set, inventory_path.as_deref()) {
                    Ok(inv) => tenancy.replace(inv),
                    Err(e) => {
                        tracing::error!(error = %e, "inventory reload failed; keeping the last good one")
                    }
                }
                let file_tenants = set.tenants.clone();
                engine.store(Engine::new(set, identity.clone()));
                if let Some(r) = &cluster_reload {
                    r.policies_reloaded(file_tenants);
                }
            },
        ));
    }

    let shutting_down = Arc::new(AtomicBool::new(false));
    let state = AppState {
        engine,
        tenancy: match &cluster {
            Some(c) => c.tenancy() as Arc<dyn TenancySource>,
            None => tenancy.clone() as Arc<dyn TenancySource>,
        },
        metrics: metrics.clone(),
        shutting_down: shutting_down.clone(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics_routes = server::metrics_router(metrics, state.clone(), cfg.limits);
    let webhook = tokio::spawn(server::serve_tls(
        listener,
        tls_config,
        server::router(state, cfg.limits),
        cfg.limits,
        stop_rx.clone(),
        cfg.drain_timeout,
    ));
    let metrics_server = tokio::spawn(server::serve_plain(
        metrics_listener,
        metrics_routes,
        stop_rx,
    ));

    wait_for_signal().await;
    tracing::info!("shutdown requested: readiness off, draining");
    shutting_down.store(true, Ordering::Relaxed);
    // The Lease is released now, so another replica takes over at once.
    let _ = cluster_stop.send(true);
    tokio::time::sleep(cfg.shutdown_delay).await;
    let _ = stop_tx.send(true);
    let _ = webhook.await;
    let _ = metrics_server.await;
    if let Some(c) = cluster {
        c.stopped(std::time::Duration::from_secs(5)).await;
    }
    tracing::info!("stopped");
    Ok(0)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `tenantguard check`.
pub fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let (engine, mut inventory) = config::offline(&args.policy)?;
    if args.cluster {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let remote = runtime.block_on(crate::cluster::fetch_inventory())?;
        inventory.merge(remote);
    }
    let stdin = check::stdin_if_needed(&args.files)?;
    let objects = check::read_inputs(&args.files, stdin.as_deref())?;
    if objects.is_empty() {
        bail!("no Kubernetes objects found in the input");
    }
    check::absorb_inputs(&mut inventory, &objects)?;
    crate::tenancy::check_owners(&inventory)?;
    let user = check::requester(args.as_user.as_deref(), &args.as_groups, &engine);
    let report = check::run(&engine, &inventory, &objects, &args.namespace, &user);
    match args.output {
        OutputFormat::Json => print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?,
        OutputFormat::Text => print_out(&check::render_text(&report))?,
    }
    Ok(report.exit_code() as u8)
}

/// `tenantguard review`.
pub fn review(args: ReviewArgs) -> anyhow::Result<u8> {
    let (engine, inventory) = config::offline(&args.policy)?;
    if args.policy.inventory.is_some() {
        crate::tenancy::check_owners(&inventory)?;
    }
    let body = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .context("cannot read stdin")?;
            b
        }
    };
    let endpoint = match args.endpoint {
        EndpointArg::Mutate => Endpoint::Mutate,
        EndpointArg::Validate => Endpoint::Validate,
    };
    let body = wrap_bare_request(body);
    let reviewed = admission::review(&body, endpoint, &engine, &inventory)
        .context("the input is not an AdmissionReview tenantguard can answer")?;
    let pretty: serde_json::Value = serde_json::from_slice(&reviewed.body)?;
    print_out(&format!("{}\n", serde_json::to_string_pretty(&pretty)?))?;
    Ok(if reviewed.outcome.allowed { 0 } else { 1 })
}

/// A recorded request comes in two forms: the whole AdmissionReview the
/// apiserver POSTs, or only its `request` (a bare AdmissionRequest, as
/// `kwctl run` and many captures store it). `review` answers both: an
/// object with a `uid` and no `request` is wrapped into an
/// `admission.k8s.io/v1` AdmissionReview. Anything else is passed on as it
/// is, to be judged (or refused) exactly as the webhook would.
fn wrap_bare_request(body: Vec<u8>) -> Vec<u8> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&body)
    else {
        return body;
    };
    if map.contains_key("request") || !map.contains_key("uid") {
        return body;
    }
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": map,
    });
    serde_json::to_vec(&review).unwrap_or(body)
}

/// `tenantguard certs`.
pub fn certs(args: CertsArgs) -> anyhow::Result<u8> {
    let mut names = certs::service_names(&args.service, &args.namespace);
    names.extend(args.extra_names.iter().cloned());
    let bundle = certs::generate(&names)?;
    certs::write_bundle(&bundle, &args.out)?;
    println!(
        "wrote {dir}/ca.crt, {dir}/tls.crt and {dir}/tls.key (0600) for {}",
        names.join(", "),
        dir = args.out.display()
    );
    Ok(0)
}

/// `tenantguard vap`.
pub fn vap(args: VapArgs) -> anyhow::Result<u8> {
    let (set, _) = config::load_policies(args.policy.policies.as_deref())
        .context("cannot generate the fallback from these policies")?;
    let inventory = config::load_inventory(&set, args.policy.inventory.as_deref())
        .context("cannot generate the fallback with this inventory")?;
    let options = vap::Options {
        own_namespace: args.own_namespace,
    };
    let objects = vap::generate(&set, &inventory, &options);
    print_out(&vap::to_yaml(&objects)?)?;
    Ok(0)
}

/// `tenantguard crd`.
pub fn crd() -> anyhow::Result<u8> {
    print_out(&serde_yaml_ng::to_string(&Tenant::crd())?)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::emit;
    use std::io::{Error, ErrorKind, Write};

    /// A stdout whose reader is gone, or that fails otherwise.
    struct Failing(ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(Error::from(self.0))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(Error::from(self.0))
        }
    }

    #[test]
    fn a_bare_admission_request_is_wrapped_a_review_is_not() {
        use super::wrap_bare_request;
        use serde_json::{json, Value};
        let bare = json!({"uid": "u", "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"}});
        let wrapped: Value =
            serde_json::from_slice(&wrap_bare_request(serde_json::to_vec(&bare).unwrap())).unwrap();
        assert_eq!(
            wrapped,
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": bare})
        );
        // Left alone: a review, something without uid, not an object, not JSON.
        for body in [
            json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}}).to_string(),
            json!({"operation": "CREATE"}).to_string(),
            "[1]".to_string(),
            "{\"uid\": ".to_string(),
        ] {
            assert_eq!(wrap_bare_request(body.clone().into_bytes()), body.into_bytes());
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_quietly_other_errors_do_not() {
        assert!(emit(Failing(ErrorKind::BrokenPipe), "report\n").is_ok());
        let err = emit(Failing(ErrorKind::StorageFull), "report\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot write to stdout"),
            "{err:#}"
        );
        let mut buf = Vec::new();
        emit(&mut buf, "report\n").unwrap();
        assert_eq!(buf, b"report\n");
    }
}
