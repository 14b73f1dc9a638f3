//! The results table: medians of the repetitions, tenantguard/floor ratios,
//! and which of the targets the run meets.

use std::fmt::Write as _;

use crate::h2load::Proto;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Floor,
    Tenantguard,
}

impl Which {
    pub fn label(self) -> &'static str {
        match self {
            Which::Floor => "floor",
            Which::Tenantguard => "tenantguard",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Validate => "/validate",
            Endpoint::Mutate => "/mutate",
        }
    }
}

/// One measured h2load run.
#[derive(Debug, Clone)]
pub struct Run {
    pub which: Which,
    pub proto: Proto,
    pub endpoint: Endpoint,
    pub saturation: bool,
    pub req_per_s: f64,
    /// Server CPU per request (saturation runs only: the fixed-rate warm-up
    /// is not counted by h2load but costs CPU).
    pub cpu_us: Option<f64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// Server CPU time over wall time, percent of one core.
    pub server_busy_pct: f64,
    /// What other processes took of the server's core, percent.
    pub others_pct: Option<f64>,
}

/// Start-up and memory figures of one server.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    /// Spawn to the first `/readyz` 200, one per start, in ms.
    pub startup_ms: Vec<f64>,
    /// VmRSS right after ready, KiB.
    pub idle_rss_kib: Vec<u64>,
    /// VmHWM at the end of the run, KiB.
    pub peak_rss_kib: u64,
}

/// RSS over the soak: (seconds since start, KiB).
#[derive(Debug, Clone, Default)]
pub struct Soak {
    pub samples: Vec<(f64, u64)>,
    pub requests: u64,
}

impl Soak {
    /// RSS growth from the end of the first sixth of the soak (allocator
    /// and connection buffers settle) to the end, in KiB.
    pub fn growth_kib(&self) -> Option<i64> {
        let end = self.samples.last()?;
        let settle = end.0 / 6.0;
        let start = self.samples.iter().find(|(t, _)| *t >= settle)?;
        Some(end.1 as i64 - start.1 as i64)
    }
}

/// Growth above this over the soak is not "flat".
pub const FLAT_KIB: i64 = 1024;

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn med_of(runs: &[Run], which: Which, f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.which == which)
            .filter_map(f)
            .collect(),
    )
}

fn num(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{}{unit}", thousands(x.round() as u64)),
        Some(x) if x >= 10.0 => format!("{x:.1}{unit}"),
        Some(x) => format!("{x:.2}{unit}"),
    }
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// A markdown table: metric | floor | tenantguard | tg/floor | target.
struct Table(Vec<[String; 5]>);

impl Table {
    fn row(&mut self, metric: String, f: Option<f64>, t: Option<f64>, unit: &str, target: String) {
        let ratio = match (f, t) {
            (Some(f), Some(t)) if f > 0.0 => format!("{:.2}×", t / f),
            _ => "-".into(),
        };
        self.0
            .push([metric, num(f, unit), num(t, unit), ratio, target]);
    }

    fn render(&self) -> String {
        let head = ["metric", "floor", "tenantguard", "tg/floor", "target"];
        let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
        for r in &self.0 {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut s = String::from("|");
            for (i, c) in cells.iter().enumerate() {
                let pad = w[i] - c.chars().count();
                if i == 0 || i == 4 {
                    let _ = write!(s, " {c}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {}{c} |", " ".repeat(pad));
                }
            }
            s.push('\n');
            s
        };
        let mut out = line(&head);
        let dashes: Vec<String> = w.iter().map(|n| "-".repeat(*n)).collect();
        out.push_str(&line(
            &dashes.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        for r in &self.0 {
            out.push_str(&line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
        }
        out
    }
}

/// Median share of the server's core that other processes took during
/// saturation and fixed-rate runs (None when not pinned).
pub fn interference(runs: &[Run]) -> Option<(f64, f64)> {
    let m = |sat: bool| {
        median(
            runs.iter()
                .filter(|r| r.saturation == sat)
                .filter_map(|r| r.others_pct)
                .collect(),
        )
    };
    Some((m(true)?, m(false)?))
}

/// The whole table.
pub fn render(runs: &[Run], floor: &Footprint, tg: &Footprint, soak: &Soak, rate: u64) -> String {
    let mut t = Table(Vec::new());
    for proto in [Proto::H1, Proto::H2] {
        for ep in [Endpoint::Validate, Endpoint::Mutate] {
            let sat: Vec<Run> = runs
                .iter()
                .filter(|r| r.proto == proto && r.endpoint == ep && r.saturation)
                .cloned()
                .collect();
            let fixed: Vec<Run> = runs
                .iter()
                .filter(|r| r.proto == proto && r.endpoint == ep && !r.saturation)
                .cloned()
                .collect();
            let name = format!("{} {}", proto.label(), ep.path());
            // Throughput per server core: 10^6 / CPU µs per request. It
            // does not depend on whether h2load, sharing a 2-core machine,
            // could push the server to 100% of its core.
            let per_core = |which| {
                med_of(&sat, which, |r| r.cpu_us)
                    .filter(|c| *c > 0.0)
                    .map(|c| 1e6 / c)
            };
            let (f, g) = (per_core(Which::Floor), per_core(Which::Tenantguard));
            let ok = matches!((f, g), (Some(f), Some(g)) if g >= 0.6 * f);
            t.row(
                format!("{name} req/s per server core"),
                f,
                g,
                "",
                format!("≥ 0.6×: {}", verdict(ok)),
            );
            t.row(
                format!("{name} server CPU µs/request"),
                med_of(&sat, Which::Floor, |r| r.cpu_us),
                med_of(&sat, Which::Tenantguard, |r| r.cpu_us),
                "",
                String::new(),
            );
            let busy = |which| med_of(&sat, which, |r| Some(r.server_busy_pct)).unwrap_or(0.0);
            let (fb, gb) = (busy(Which::Floor), busy(Which::Tenantguard));
            t.row(
                format!("{name} req/s observed (saturation)"),
                med_of(&sat, Which::Floor, |r| Some(r.req_per_s)),
                med_of(&sat, Which::Tenantguard, |r| Some(r.req_per_s)),
                "",
                if fb.min(gb) >= 90.0 {
                    "servers saturated".into()
                } else {
                    format!("server cores {fb:.0}% / {gb:.0}% busy: h2load-bound")
                },
            );
            let p = |which, f: fn(&Run) -> Option<u64>| {
                med_of(&fixed, which, |r| f(r).map(|us| us as f64 / 1000.0))
            };
            t.row(
                format!("{name} p50 ms @ {rate} req/s"),
                p(Which::Floor, |r| r.p50_us),
                p(Which::Tenantguard, |r| r.p50_us),
                "",
                String::new(),
            );
            let (f99, g99) = (
                p(Which::Floor, |r| r.p99_us),
                p(Which::Tenantguard, |r| r.p99_us),
            );
            let ok = matches!((f99, g99), (Some(f), Some(g)) if g <= 1.5 * f);
            t.row(
                format!("{name} p99 ms @ {rate} req/s"),
                f99,
                g99,
                "",
                format!("≤ 1.5×: {}", verdict(ok)),
            );
        }
    }
    let mut out = t.render();
    let med_ms = |fp: &Footprint| median(fp.startup_ms.clone());
    let med_idle = |fp: &Footprint| median(fp.idle_rss_kib.iter().map(|k| *k as f64).collect());
    let mut m = Table(Vec::new());
    let tg_start = med_ms(tg);
    m.0.push([
        "start-up to /readyz 200 (median)".into(),
        num(med_ms(floor), " ms"),
        num(tg_start, " ms"),
        String::new(),
        format!(
            "≤ 200 ms: {}",
            verdict(tg_start.is_some_and(|ms| ms <= 200.0))
        ),
    ]);
    m.0.push([
        "RSS when ready (10k namespaces loaded)".into(),
        med_idle(floor).map_or("-".into(), mib),
        med_idle(tg).map_or("-".into(), mib),
        String::new(),
        String::new(),
    ]);
    let peak_ok = tg.peak_rss_kib > 0 && tg.peak_rss_kib <= 32 * 1024;
    m.0.push([
        "peak RSS (VmHWM, after all load)".into(),
        mib(floor.peak_rss_kib as f64),
        mib(tg.peak_rss_kib as f64),
        String::new(),
        format!("≤ 32 MiB: {}", verdict(peak_ok)),
    ]);
    let soak_secs = soak.samples.last().map_or(0.0, |s| s.0);
    let growth = soak.growth_kib();
    m.0.push([
        format!("RSS growth over {soak_secs:.0} s of load"),
        String::new(),
        growth.map_or("-".into(), |g| format!("{g:+} KiB")),
        String::new(),
        format!(
            "flat (≤ {FLAT_KIB} KiB): {}",
            verdict(growth.is_some_and(|g| g <= FLAT_KIB))
        ),
    ]);
    out.push('\n');
    out.push_str(&m.render());
    out
}
