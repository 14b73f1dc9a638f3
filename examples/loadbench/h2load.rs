//! Driving h2load (nghttp2-client) and reading its results: the summary
//! (req/s, request counts, status codes, negotiated protocol) from stdout,
//! and latency percentiles from its per-request `--log-file` (h2load 1.52
//! prints only min/max/mean/sd, so p50/p99 are computed here from every
//! request's "microseconds until end of response").

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    H2,
    H1,
}

impl Proto {
    pub fn label(self) -> &'static str {
        match self {
            Proto::H2 => "h2",
            Proto::H1 => "http/1.1",
        }
    }
}

/// How the load is shaped.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// A fixed number of requests as fast as the server answers.
    Count {
        requests: u64,
        clients: u32,
        streams: u32,
    },
    /// A fixed total rate for a duration (after a warm-up that is not counted).
    Rate {
        per_second: u64,
        clients: u32,
        seconds: u64,
    },
    /// As fast as possible for a duration (the soak).
    Duration {
        seconds: u64,
        clients: u32,
        streams: u32,
    },
}

/// One h2load invocation.
#[derive(Debug, Clone)]
pub struct Spec {
    pub url: String,
    pub body: PathBuf,
    pub proto: Proto,
    pub mode: Mode,
    /// Per-request log (latencies); None for the soak.
    pub log: Option<PathBuf>,
    /// Pin h2load to this CPU.
    pub cpu: Option<usize>,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub req_per_s: f64,
    pub seconds: f64,
    pub done: u64,
    pub succeeded: u64,
    pub status_2xx: u64,
    pub protocol: String,
    /// Sorted ascending.
    pub latencies_us: Vec<u64>,
}

impl Outcome {
    /// Nearest-rank percentile of the latencies, in µs.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        percentile(&self.latencies_us, p)
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// A running h2load.
pub struct Running {
    child: Child,
    spec: Spec,
    started: Instant,
    deadline: Duration,
}

/// Starts h2load for `spec`.
pub fn spawn(spec: &Spec) -> Result<Running, String> {
    let mut args: Vec<String> = vec![
        "-t".into(),
        "1".into(),
        "-H".into(),
        "content-type: application/json".into(),
        "-d".into(),
        spec.body.display().to_string(),
    ];
    if spec.proto == Proto::H1 {
        args.push("--h1".into());
    }
    let deadline = match spec.mode {
        Mode::Count {
            requests,
            clients,
            streams,
        } => {
            args.extend([
                format!("-n{requests}"),
                format!("-c{clients}"),
                format!("-m{streams}"),
            ]);
            // Even at 500 req/s the run ends in time; more means a stall.
            Duration::from_secs(30 + requests / 500)
        }
        Mode::Rate {
            per_second,
            clients,
            seconds,
        } => {
            let per_client = (per_second / u64::from(clients)).max(1);
            args.extend([
                format!("-c{clients}"),
                // Room for requests a late timer tick releases together.
                "-m4".into(),
                format!("--rps={per_client}"),
                format!("-D{seconds}"),
                "--warm-up-time=1".into(),
            ]);
            Duration::from_secs(seconds + 30)
        }
        Mode::Duration {
            seconds,
            clients,
            streams,
        } => {
            args.extend([
                format!("-c{clients}"),
                format!("-m{streams}"),
                format!("-D{seconds}"),
            ]);
            Duration::from_secs(seconds + 30)
        }
    };
    if let Some(log) = &spec.log {
        // h2load appends to an existing log file.
        let _ = std::fs::remove_file(log);
        args.push(format!("--log-file={}", log.display()));
    }
    args.push(spec.url.clone());
    let mut cmd = match spec.cpu {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.arg("-a").arg("-c").arg(c.to_string()).arg("h2load");
            t
        }
        None => Command::new("h2load"),
    };
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        format!("cannot run h2load ({e}); install it with bench/setup.sh (Debian nghttp2-client)")
    })?;
    Ok(Running {
        child,
        spec: spec.clone(),
        started: Instant::now(),
        deadline,
    })
}

impl Running {
    /// Waits (bounded) for h2load to end and reads its results.
    pub fn finish(mut self) -> Result<Outcome, String> {
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if self.started.elapsed() > self.deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "h2load against {} did not finish within {:?}: the server stalled",
                        self.spec.url, self.deadline
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for h2load: {e}")),
            }
        }
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| format!("reading h2load's output: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut outcome = parse_summary(&stdout).ok_or_else(|| {
            format!(
                "h2load printed no summary for {}:\n{stdout}\n{}",
                self.spec.url,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if let Some(log) = &self.spec.log {
            outcome.latencies_us = read_latencies(log)?;
        }
        let want = self.spec.proto.label();
        if outcome.protocol != want {
            return Err(format!(
                "h2load negotiated {:?}, expected {want}",
                outcome.protocol
            ));
        }
        Ok(outcome)
    }
}

/// Runs h2load to the end.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    spawn(spec)?.finish()
}

fn number_before(line: &str, suffix: &str) -> Option<f64> {
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .find(|w| w[1] == suffix)
        .and_then(|w| w[0].trim_end_matches('s').parse().ok())
}

/// `2.56s`, `50.03ms` or `900us` in seconds.
fn parse_duration(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else {
        (s.strip_suffix('s')?, 1.0)
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// The summary h2load prints, e.g.
/// `finished in 2.56s, 7803.61 req/s, 1.60MB/s`,
/// `requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, ...`,
/// `status codes: 20000 2xx, 0 3xx, 0 4xx, 0 5xx`, `Application protocol: h2`.
fn parse_summary(stdout: &str) -> Option<Outcome> {
    let mut o = Outcome::default();
    let mut seen = 0;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("finished in ") {
            o.seconds = parse_duration(rest.split(',').next()?.trim())?;
            o.req_per_s = number_before(line, "req/s")?;
            seen += 1;
        } else if line.starts_with("requests:") {
            o.done = number_before(line, "done")? as u64;
            o.succeeded = number_before(line, "succeeded")? as u64;
            seen += 1;
        } else if line.starts_with("status codes:") {
            o.status_2xx = number_before(line, "2xx")? as u64;
        } else if let Some(p) = line.strip_prefix("Application protocol:") {
            o.protocol = p.trim().to_string();
        }
    }
    (seen == 2).then_some(o)
}

/// Latencies (third column, µs) of successful requests in an h2load log.
fn read_latencies(log: &Path) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(log)
        .map_err(|e| format!("cannot read h2load's log {}: {e}", log.display()))?;
    let mut v: Vec<u64> = text
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let _start = cols.next()?;
            let status: i32 = cols.next()?.trim().parse().ok()?;
            let us: u64 = cols.next()?.trim().parse().ok()?;
            (200..300).contains(&status).then_some(us)
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_h2load_summary() {
        let out = "finished in 2.56s, 7803.61 req/s, 1.60MB/s\nrequests: 20000 total, 20000 started, 19990 done, 19990 succeeded, 10 failed, 0 errored, 0 timeout\nstatus codes: 19990 2xx, 0 3xx, 0 4xx, 0 5xx\nApplication protocol: h2\n";
        let o = parse_summary(out).unwrap();
        assert_eq!(o.seconds, 2.56);
        assert_eq!(o.req_per_s, 7803.61);
        assert_eq!((o.done, o.succeeded, o.status_2xx), (19990, 19990, 19990));
        assert_eq!(o.protocol, "h2");
        let short = out.replace("2.56s", "50.03ms");
        assert!((parse_summary(&short).unwrap().seconds - 0.05003).abs() < 1e-12);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
