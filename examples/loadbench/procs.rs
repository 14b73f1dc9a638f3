//! The servers under test as child processes, and what `/proc` says about
//! them: CPU time (utime + stime), peak and current RSS, which cores the
//! benchmark may use and how busy each core was.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of a server's log kept for error messages (the rest is dropped, so
/// a long run cannot grow the driver's memory).
const KEPT_LOG_LINES: usize = 200;

/// A running server; killed when dropped.
pub struct Server {
    pub name: &'static str,
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub spawned_at: Instant,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); its log:\n{}",
                self.name,
                self.log_tail()
            )),
            Err(e) => Err(format!("cannot check on {}: {e}", self.name)),
        }
    }
}

/// The address in a log line `... webhook=127.0.0.1:PORT ...` (text or JSON log).
fn parse_addr(line: &str) -> Option<SocketAddr> {
    let key = "webhook=";
    let start = line.find(key)? + key.len();
    line[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .next()?
        .parse()
        .ok()
}

/// Starts `cmd` (optionally pinned to `cpu` with `taskset -a -c`, which
/// execs the server so the pid is the server's and every thread it starts
/// inherits the pinning) and waits for its `webhook=ADDR` line; then checks
/// that every thread of the server is on `cpu` (`taskset -p PID` would move
/// only the main thread, and a multi-threaded server would use both cores).
pub fn start(name: &'static str, cmd: &[String], cpu: Option<usize>) -> Result<Server, String> {
    let mut command = match cpu {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.arg("-a").arg("-c").arg(c.to_string()).args(cmd);
            t
        }
        None => {
            let mut t = Command::new(&cmd[0]);
            t.args(&cmd[1..]);
            t
        }
    };
    command
        .env("TENANTGUARD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let spawned_at = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {name} ({}): {e}", cmd.join(" ")))?;
    let pid = child.id();
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| format!("{name}: no stderr pipe"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let kept = log.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(a) = parse_addr(&line) {
                    let _ = tx.send(a);
                    sent = true;
                }
            }
            if let Ok(mut l) = kept.lock() {
                if l.len() >= KEPT_LOG_LINES {
                    l.remove(0);
                }
                l.push(line);
            }
        }
    });
    let mut server = Server {
        name,
        child,
        pid,
        addr: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        spawned_at,
        log,
    };
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(a) => server.addr = a,
        Err(_) => {
            server.check_alive()?;
            return Err(format!(
                "{name} logged no webhook=ADDR line within 30 s; its log:\n{}",
                server.log_tail()
            ));
        }
    }
    if let Some(c) = cpu {
        check_pinned(name, pid, c)?;
    }
    Ok(server)
}

/// Every thread of `pid` may run on `cpu` only (`/proc/PID/task/*/status`).
pub fn check_pinned(name: &str, pid: u32, cpu: usize) -> Result<usize, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut threads = 0;
    for t in tasks.flatten() {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        else {
            continue;
        };
        if list.trim() != cpu.to_string() {
            return Err(format!(
                "{name}: thread {} may run on CPUs {} (not only {cpu}): the pinning did not reach every thread",
                t.file_name().to_string_lossy(),
                list.trim()
            ));
        }
        threads += 1;
    }
    Ok(threads)
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// utime + stime of a process, all threads, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("/proc/{pid}/stat is not in the expected format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the man page, utime 14, stime 15.
    let get = |i: usize| -> Result<u64, String> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: field {i} missing"))
    };
    Ok(get(14)? + get(15)?)
}

/// A `Vm*` line of `/proc/<pid>/status`, in KiB (VmHWM: peak RSS, VmRSS: now).
pub fn status_kib(pid: u32, key: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status has no {key}"))
}

/// The CPUs this process may run on (`Cpus_allowed_list`, e.g. `0-1`).
pub fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<usize>().ok()),
        }
    }
    cpus
}

/// Busy and total time of one CPU from `/proc/stat`, in clock ticks
/// (busy counts user, nice, system, irq, softirq and steal).
pub fn cpu_core_ticks(cpu: usize) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let prefix = format!("cpu{cpu} ");
    let line = stat.lines().find(|l| l.starts_with(&prefix))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let field = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    Some((busy, busy + field(3) + field(4)))
}

/// `cores, CPU model, kernel` for the report.
pub fn machine_line() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown kernel".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}, Linux {kernel}")
}

/// The 1-minute load average (others' work on a shared machine shows here).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The first line a command prints, or why it could not run.
pub fn first_line_of(cmd: &str, args: &[&str]) -> String {
    match Command::new(cmd).args(args).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(e) => format!("{cmd}: {e}"),
    }
}

/// `cargo build --release` of `targets` (e.g. `["--bin", "tenantguard"]`)
/// in `repo`, with the cargo that runs this driver.
pub fn build_release(repo: &Path, targets: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("building: cargo build --release {}", targets.join(" "));
    let status = Command::new(cargo)
        .args(["build", "--release"])
        .args(targets)
        .current_dir(repo)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release failed ({status})"));
    }
    Ok(())
}

/// `tenantguard certs` for the Service name the benchmark clients check
/// (`tenantguard.tenantguard-system.svc`), written to `out`.
pub fn make_certs(tg_bin: &Path, out: &Path) -> Result<(), String> {
    let res = Command::new(tg_bin)
        .args([
            "certs",
            "--service",
            "tenantguard",
            "--namespace",
            "tenantguard-system",
            "--out",
        ])
        .arg(out)
        .output()
        .map_err(|e| format!("tenantguard certs: {e}"))?;
    if !res.status.success() {
        return Err(format!(
            "tenantguard certs failed: {}",
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    Ok(())
}

/// `tenantguard serve` as every benchmark driver starts it: both listeners
/// on free loopback ports, text logs, the certificates in `certs`, the
/// repository's policies. Callers append what their run needs.
pub fn serve_command(tg_bin: &Path, certs: &Path, repo: &Path) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    vec![
        s(tg_bin),
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
        "--log-format".into(),
        "text".into(),
        "--tls-cert".into(),
        s(&certs.join("tls.crt")),
        "--tls-key".into(),
        s(&certs.join("tls.key")),
        "--policies".into(),
        s(&repo.join("policies")),
    ]
}
