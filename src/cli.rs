//! Command-line flags (clap derive). Raw flags only: `config` validates them.
//! Every flag can also come from a `TENANTGUARD_*` environment variable.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tenantguard",
    version,
    about = "Kubernetes admission webhook that keeps tenants apart on shared clusters",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The name usage and help show: `kubectl tenantguard` when the binary runs
/// as the kubectl plugin (kubectl execs `kubectl-tenantguard` with its path
/// as argv[0]), so every usage line can be pasted back as typed.
pub fn invocation_name(argv0: &OsStr) -> &'static str {
    let file = Path::new(argv0).file_name().and_then(OsStr::to_str);
    if file.is_some_and(|f| f.starts_with("kubectl-tenantguard")) {
        "kubectl tenantguard"
    } else {
        "tenantguard"
    }
}

impl Cli {
    /// Parses the full argv (argv[0] included), naming the program after
    /// how it was invoked (see [`invocation_name`]).
    pub fn parse_invocation<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let name = args.first().map_or("tenantguard", |a| invocation_name(a));
        let mut cmd = Cli::command().bin_name(name);
        let matches = cmd.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the admission webhook (HTTPS) and metrics (HTTP).
    Serve(ServeArgs),
    /// Judge manifests offline, as the webhook would on CREATE.
    Check(CheckArgs),
    /// Judge objects as they stand (validating rules only, no mutation).
    Audit(AuditArgs),
    /// Print the AdmissionReview response to a recorded request.
    Review(ReviewArgs),
    /// Write a CA and a serving certificate for S.N.svc.
    Certs(CertsArgs),
    /// Print the CEL fallback: ValidatingAdmissionPolicies and bindings for
    /// the current policies and Settings.
    Vap(VapArgs),
    /// Print the Tenant CustomResourceDefinition as YAML.
    Crd,
    /// Print the version.
    Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndpointArg {
    Mutate,
    Validate,
}

/// Flags every command that judges shares.
#[derive(Debug, Args, Clone)]
pub struct PolicyArgs {
    /// Directory of Policy and Settings YAML [default: policies, or the
    /// built-in baseline when ./policies does not exist]
    #[arg(long, env = "TENANTGUARD_POLICIES", value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Namespace and Tenant YAML (file or directory) describing the tenancy.
    #[arg(long, env = "TENANTGUARD_INVENTORY", value_name = "PATH")]
    pub inventory: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTPS webhook listener.
    #[arg(long, env = "TENANTGUARD_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Address of the plain-HTTP metrics listener.
    #[arg(
        long,
        env = "TENANTGUARD_METRICS_LISTEN",
        default_value = "0.0.0.0:9090"
    )]
    pub metrics_listen: SocketAddr,
    /// PEM certificate (chain) to serve; reloaded when the file changes.
    #[arg(
        long,
        env = "TENANTGUARD_TLS_CERT",
        requires = "tls_key",
        value_name = "PATH"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "TENANTGUARD_TLS_KEY",
        requires = "tls_cert",
        value_name = "PATH"
    )]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: when set, clients must present a certificate it signed.
    #[arg(long, env = "TENANTGUARD_CLIENT_CA", value_name = "PATH")]
    pub client_ca: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Where the self-signed CA goes when no --tls-cert is given.
    #[arg(
        long,
        env = "TENANTGUARD_SELF_SIGNED_DIR",
        default_value = "certs/self-signed",
        value_name = "DIR"
    )]
    pub self_signed_dir: PathBuf,
    /// Log format [default: json in a cluster, text elsewhere].
    #[arg(long, env = "TENANTGUARD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// tenantguard's own namespace (always exempt).
    #[arg(
        long = "own-namespace",
        env = "TENANTGUARD_NAMESPACE",
        default_value = "tenantguard-system"
    )]
    pub own_namespace: String,
    /// tenantguard's own service account (may change managed objects).
    #[arg(
        long,
        env = "TENANTGUARD_SERVICE_ACCOUNT",
        default_value = "tenantguard"
    )]
    pub service_account: String,
    /// Largest request body accepted, in bytes (object and oldObject can each be near 3 MiB).
    #[arg(long, env = "TENANTGUARD_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a request may take, reading included (keep it below the webhook's timeoutSeconds).
    #[arg(long, env = "TENANTGUARD_REQUEST_TIMEOUT", default_value_t = 4.0)]
    pub request_timeout: f64,
    /// Most concurrent HTTP/2 streams per connection.
    #[arg(
        long,
        env = "TENANTGUARD_MAX_CONCURRENT_STREAMS",
        default_value_t = 256
    )]
    pub max_concurrent_streams: u32,
    /// Seconds between checks of the TLS files and the policies directory.
    #[arg(long, env = "TENANTGUARD_RELOAD_INTERVAL", default_value_t = 2.0)]
    pub reload_interval: f64,
    /// Seconds between readiness going false and the listener closing on SIGTERM.
    #[arg(long, env = "TENANTGUARD_SHUTDOWN_DELAY", default_value_t = 0.0)]
    pub shutdown_delay: f64,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(long, env = "TENANTGUARD_DRAIN_TIMEOUT", default_value_t = 20.0)]
    pub drain_timeout: f64,
    /// Boxed: it keeps `Command`'s variants of similar size.
    #[command(flatten)]
    pub cluster: Box<ClusterArgs>,
}

/// `serve` in a cluster: watches, the onboarding controller, leader election.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Watch Namespaces and Tenants in the cluster (in-cluster config or the
    /// current kubeconfig context) [default: on in a pod without --inventory].
    #[arg(long, env = "TENANTGUARD_CLUSTER", conflicts_with = "inventory")]
    pub cluster: bool,
    /// Kubeconfig file for --cluster [default: $KUBECONFIG or
    /// ~/.kube/config if there is one, else the in-cluster config].
    #[arg(long, env = "TENANTGUARD_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// In a cluster, serve the webhook only: no onboarding controller.
    #[arg(long, env = "TENANTGUARD_NO_CONTROLLER")]
    pub no_controller: bool,
    /// The Lease (in --own-namespace) that elects the replica running the controller.
    #[arg(
        long,
        env = "TENANTGUARD_LEASE_NAME",
        default_value = "tenantguard-controller"
    )]
    pub lease_name: String,
    /// This replica's holder identity in the Lease [default: the hostname, which is the pod name].
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pub leader_identity: Option<String>,
    /// Time between audit scans of existing objects (on the Lease holder),
    /// e.g. 1h, 30m; 0 turns the background scan off.
    #[arg(
        long,
        env = "TENANTGUARD_AUDIT_INTERVAL",
        default_value = "1h",
        value_parser = parse_interval,
        value_name = "DURATION"
    )]
    pub audit_interval: std::time::Duration,
    /// TLS mode self: the Secret (in --own-namespace) that holds
    /// tenantguard's CA and serving certificate. Created when missing,
    /// renewed before expiry, served by every replica; the webhooks'
    /// caBundles follow it. Until it has been read nothing is served (TLS
    /// handshakes fail, so /readyz is not ready). Needs the cluster
    /// (--cluster, or a pod).
    #[arg(
        long,
        env = "TENANTGUARD_TLS_SELF_SECRET",
        value_name = "NAME",
        conflicts_with = "tls_cert",
        requires = "tls_self_webhooks"
    )]
    pub tls_self_secret: Option<String>,
    /// With --tls-self-secret: tenantguard's own MutatingWebhookConfiguration
    /// and ValidatingWebhookConfiguration, whose entries' caBundle it sets
    /// (no other configuration is touched).
    #[arg(
        long,
        env = "TENANTGUARD_TLS_SELF_WEBHOOKS",
        value_name = "MUTATING,VALIDATING",
        value_delimiter = ',',
        requires = "tls_self_secret"
    )]
    pub tls_self_webhooks: Vec<String>,
    /// With --tls-self-secret: the Service the apiserver calls; the
    /// certificate is for S.NS.svc, S.NS.svc.cluster.local, S.NS and S.
    #[arg(
        long,
        env = "TENANTGUARD_TLS_SELF_SERVICE",
        default_value = "tenantguard",
        value_name = "S"
    )]
    pub tls_self_service: String,
    /// Seconds a request may wait for the direct lookup of a namespace the cache has not seen yet.
    #[arg(
        long,
        env = "TENANTGUARD_NAMESPACE_LOOKUP_TIMEOUT",
        default_value_t = 1.5
    )]
    pub namespace_lookup_timeout: f64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest file, directory (walked for .yaml, .yml, .json) or - for stdin; repeatable.
    #[arg(short = 'f', long = "filename", required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Requester's username [default: an admin].
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Requester's group; repeatable (needs --as, as in kubectl).
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    pub as_groups: Vec<String>,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Read Namespaces and Tenants from the current kubeconfig context.
    #[arg(long)]
    pub cluster: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// `check`'s flags, for objects as they stand: `-f` or `--cluster` (or
/// both: the files judged with the cluster's tenancy).
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Manifest file, directory (walked for .yaml, .yml, .json) or - for stdin; repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        required_unless_present = "cluster",
        value_name = "PATH"
    )]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Requester matched against policy exclusions [default: no one in particular, no admin].
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Requester's group; repeatable (needs --as, as in kubectl).
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    pub as_groups: Vec<String>,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Read the tenancy from the current kubeconfig context and, without
    /// -f, judge the objects of every tenant namespace there.
    #[arg(long)]
    pub cluster: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Recorded AdmissionReview, or a bare AdmissionRequest (its `request`), as JSON; - or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "validate")]
    pub endpoint: EndpointArg,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct VapArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// tenantguard's own namespace: left out of every binding.
    #[arg(
        long = "own-namespace",
        env = "TENANTGUARD_NAMESPACE",
        default_value = "tenantguard-system"
    )]
    pub own_namespace: String,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Service name the certificate is for.
    #[arg(long, default_value = "tenantguard")]
    pub service: String,
    /// Namespace of the Service.
    #[arg(long, default_value = "tenantguard-system")]
    pub namespace: String,
    /// Directory to write ca.crt, tls.crt and tls.key into.
    #[arg(long, default_value = "certs")]
    pub out: PathBuf,
    /// Extra DNS names or IP addresses (repeatable), e.g. 127.0.0.1 for local tests.
    #[arg(long = "extra-name")]
    pub extra_names: Vec<String>,
}

/// `serve` flags parsed as from the command line, for tests elsewhere.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn serve(args: &[&str]) -> ServeArgs {
        let mut all = vec!["tenantguard", "serve"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all) {
            Ok(Cli {
                command: Command::Serve(s),
            }) => s,
            other => panic!("not serve flags: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_flags() {
        let cli = Cli::try_parse_from([
            "tenantguard",
            "check",
            "-f",
            "a.yaml",
            "-f",
            "-",
            "--as",
            "bob",
            "--as-group",
            "g1",
            "--as-group",
            "g2",
            "--output",
            "json",
        ])
        .unwrap();
        let Command::Check(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.as_groups, ["g1", "g2"]);
        assert_eq!(c.output, OutputFormat::Json);
    }

    #[test]
    fn plugin_usage_says_kubectl_tenantguard() {
        let err = Cli::parse_invocation(["/x/kubectl-tenantguard", "check"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("Usage: kubectl tenantguard check --filename <PATH>"),
            "{err}"
        );
        let err = Cli::parse_invocation(["/x/tenantguard", "check"]).unwrap_err();
        assert!(
            err.to_string().contains("Usage: tenantguard check"),
            "{err}"
        );
        assert!(
            Cli::parse_invocation(["tenantguard", "check", "-f", "a", "--as-group", "g"]).is_err()
        );
    }

    #[test]
    fn cluster_flags() {
        let cli = Cli::try_parse_from([
            "tenantguard",
            "serve",
            "--cluster",
            "--no-controller",
            "--lease-name",
            "tg",
            "--leader-identity",
            "pod-a",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!()
        };
        let c = s.cluster;
        assert!(c.cluster && c.no_controller);
        assert_eq!(
            (c.lease_name.as_str(), c.leader_identity.as_deref()),
            ("tg", Some("pod-a"))
        );
        assert!(Cli::try_parse_from([
            "tenantguard",
            "serve",
            "--cluster",
            "--inventory",
            "i.yaml"
        ])
        .is_err());
    }

    #[test]
    fn tls_files_come_in_pairs() {
        assert!(Cli::try_parse_from(["tenantguard", "serve", "--tls-cert", "c"]).is_err());
    }
}

/// Parses `--audit-interval`: `0` (off), or numbers with units `h`, `m`,
/// `s`, `ms`, as in `1h`, `30m`, `1h30m`, `90s`.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad =
        || format!("{s:?} is not a duration: write it as 0 (off), or like 1h, 30m, 1h30m or 90s");
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => n.checked_mul(3600),
            "m" => n.checked_mul(60),
            "s" => Some(n),
            "ms" => {
                total += Duration::from_millis(n);
                rest = &rest[unit_len..];
                continue;
            }
            _ => return Err(bad()),
        }
        .ok_or_else(bad)?;
        total += Duration::from_secs(secs);
        rest = &rest[unit_len..];
    }
    Ok(total)
}
