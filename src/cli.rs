//! Command-line flags (clap derive). Raw flags only: `config` validates them.
//! Every flag can also come from a `TENANTGUARD_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the admission webhook (HTTPS) and metrics (HTTP).
    Serve(ServeArgs),
    /// Judge manifests offline, as the webhook would on CREATE.
    Check(CheckArgs),
    /// Print the AdmissionReview response to a recorded request.
    Review(ReviewArgs),
    /// Write a CA and a serving certificate for S.N.svc.
    Certs(CertsArgs),
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
    /// Requester's group; repeatable.
    #[arg(long = "as-group", value_name = "GROUP")]
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

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Recorded AdmissionReview (JSON); - or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "validate")]
    pub endpoint: EndpointArg,
    #[command(flatten)]
    pub policy: PolicyArgs,
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
    fn tls_files_come_in_pairs() {
        assert!(Cli::try_parse_from(["tenantguard", "serve", "--tls-cert", "c"]).is_err());
    }
}
