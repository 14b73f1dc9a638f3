//! The server's Prometheus metrics, read over plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `metrics=ADDR` from the server's start-up line.
pub fn metrics_addr(log: &str) -> Result<SocketAddr, String> {
    log.lines()
        .find_map(|l| {
            let rest = &l[l.find("metrics=")? + "metrics=".len()..];
            rest.split(|c: char| c.is_whitespace() || c == '"' || c == ',')
                .next()?
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no metrics=ADDR in the server's log:\n{log}"))
}

/// `GET /metrics`, plain HTTP/1.1.
pub fn scrape(addr: &SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(addr, Duration::from_secs(5))
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    Ok(out)
}

/// The sum of every sample whose name and labels start with `prefix`.
pub fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
