//! The kubectl plugin through the real `kubectl`: a `kubectl-tenantguard`
//! symlink to the built binary in a directory on PATH is what `kubectl plugin
//! list` finds and what `kubectl tenantguard ...` execs, with usage lines
//! that say `kubectl tenantguard`.
//!
//! `kubectl` must be on PATH: `scripts/setup-tools.sh` installs the pinned
//! one into `.tools/bin` and `scripts/test.sh` puts that on PATH. A machine
//! without it fails here rather than skipping the test.
#![cfg(unix)]

mod common;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// `kubectl` from PATH, or a failure that says how to get it.
fn kubectl() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "kubectl is not on PATH ({}); these tests run the plugin through the real kubectl. \
                 Run scripts/setup-tools.sh and export PATH=\"$PWD/.tools/bin:$PATH\" \
                 (scripts/test.sh does both)",
                path.to_string_lossy()
            )
        })
}

/// A directory holding only the `kubectl-tenantguard` symlink, as the
/// README's install step makes it.
struct Plugin {
    dir: tempfile::TempDir,
    kubectl: PathBuf,
}

impl Plugin {
    fn install() -> Plugin {
        let kubectl = kubectl();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(common::bin(), dir.path().join("kubectl-tenantguard")).unwrap();
        Plugin { dir, kubectl }
    }

    fn link(&self) -> PathBuf {
        self.dir.path().join("kubectl-tenantguard")
    }

    /// Runs `kubectl <args>` in the repository with the plugin on PATH, and
    /// a HOME and KUBECONFIG of its own so nothing of the
    /// machine's configuration is read or written.
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        // Only the plugin and kubectl's own directory: other plugins of the
        // machine cannot make `kubectl plugin list` fail or shadow this one.
        let mut path = OsString::from(self.dir.path());
        path.push(":");
        path.push(self.kubectl.parent().unwrap());
        let mut child = Command::new(&self.kubectl)
            .args(args)
            .current_dir(common::repo())
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env_remove("TENANTGUARD_POLICIES")
            .env_remove("TENANTGUARD_INVENTORY")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        if let Some(text) = stdin {
            // A run that fails early may not read stdin; the exit code tells.
            let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const TENANCY: &str = "tests/fixtures/manifests/tenancy.yaml";

#[test]
fn kubectl_plugin_list_finds_it() {
    let p = Plugin::install();
    let (code, out, err) = p.kubectl(&["plugin", "list"], None);
    assert_eq!(code, 0, "{out}{err}");
    let link = p.link();
    assert!(
        out.lines().any(|l| Path::new(l.trim()) == link),
        "kubectl plugin list does not show {}:\n{out}{err}",
        link.display()
    );
    assert!(
        !err.contains(&link.display().to_string()),
        "kubectl warns about the plugin: {err}"
    );
}

#[test]
fn kubectl_tenantguard_version() {
    let p = Plugin::install();
    let (code, out, err) = p.kubectl(&["tenantguard", "version"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("tenantguard {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn kubectl_tenantguard_check_exit_codes_and_output() {
    let p = Plugin::install();
    let check = |extra: &[&str], stdin: Option<&str>| {
        let mut args = vec!["tenantguard", "check", "--policies", "policies"];
        args.extend_from_slice(extra);
        p.kubectl(&args, stdin)
    };

    let (code, out, err) = check(
        &[
            "-f",
            "tests/fixtures/manifests/good",
            "--inventory",
            TENANCY,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ALLOWED Pod acme-prod/web  (tenant acme)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("6 object(s): 6 allowed, 0 denied, 0 with warnings\n"),
        "{out}"
    );

    let (code, out, err) = check(
        &[
            "-f",
            "tests/fixtures/manifests/bad/pod-without-limits.yaml",
            "--inventory",
            TENANCY,
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["results"][0]["allowed"], false);
    assert_eq!(
        report["results"][0]["violations"][0]["rule"],
        "require-limits"
    );

    // stdin reaches the plugin through kubectl.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: globex-prod}\nspec: {containers: [{name: a}]}\n";
    let (code, out, err) = check(&["-f", "-", "--inventory", TENANCY], Some(pod));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("DENIED  Pod globex-prod/p  (tenant globex)\n  from  -#1, line 1\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  deny  [require-limits] spec.containers[0] \"a\": resources.limits.cpu is not set"
        ) && out.contains("        at spec.containers[0].resources.limits.cpu\n"),
        "{out}"
    );

    let (code, out, err) = check(&["-f", "does-not-exist.yaml"], None);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("does-not-exist.yaml: no such file or directory"),
        "{err}"
    );
}

#[test]
fn usage_says_kubectl_tenantguard() {
    let p = Plugin::install();
    let (code, out, err) = p.kubectl(&["tenantguard", "check"], None);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("Usage: kubectl tenantguard check --filename <PATH>"),
        "{err}"
    );
    let (code, out, err) = p.kubectl(&["tenantguard", "--help"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Usage: kubectl tenantguard <COMMAND>"),
        "{out}"
    );
    // The same binary under its own name keeps its own name.
    let own = Command::new(common::bin()).arg("--help").output().unwrap();
    let own = String::from_utf8_lossy(&own.stdout);
    assert!(own.contains("Usage: tenantguard <COMMAND>"), "{own}");
}
