//! `tenantguard`: parse the command line, set up logging, dispatch, and map
//! errors to exit codes (0 ok, 1 denied, 2 bad input or usage).

use std::process::ExitCode;

use tenantguard::cli::{Cli, Command};
use tenantguard::commands;

fn main() -> ExitCode {
    let cli = match Cli::parse_invocation(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Serve(a) => commands::serve(a),
        Command::Check(a) => commands::check(a),
        Command::Audit(a) => tenantguard::commands::audit::command(a),
        Command::Review(a) => commands::review(a),
        Command::Certs(a) => commands::certs(a),
        Command::Vap(a) => commands::vap(a),
        Command::Crd => commands::crd(),
        Command::Version => {
            println!("tenantguard {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tenantguard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
