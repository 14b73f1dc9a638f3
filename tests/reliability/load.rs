//! Bounded load for the reliability tests: workers that send AdmissionReviews
//! over kept-alive HTTP/2 and HTTP/1.1 connections or a fresh connection per
//! request, check every verdict, and count what failed before and after a
//! signal; and requests whose bodies arrive in two halves, to hold a request
//! in flight across a shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::common::{self, Client, Proto, SERVICE_NAME};

/// A Pod CREATE in `ns`: with limits (admitted) or without (denied in a tenant namespace).
pub fn pod_review(ns: &str, uid: &str, limited: bool) -> Value {
    let resources = if limited {
        json!({"limits": {"cpu": "500m", "memory": "256Mi"}})
    } else {
        json!({})
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": ns, "operation": "CREATE", "name": "web",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}]}}}})
}

/// The value of the sample `series` (name and labels exactly as printed), or 0.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// One kept-alive connection (reconnects after a failure).
    Keep(Proto),
    /// A new connection (new TLS handshake) per request, alternating protocols.
    Fresh,
}

#[derive(Default)]
struct Counters {
    sent: AtomicUsize,
    sent_before: AtomicUsize,
    failed_before: AtomicUsize,
    failed_after: AtomicUsize,
    fresh: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

/// What a load did.
#[derive(Debug)]
pub struct Tally {
    pub sent: usize,
    /// Started before `signalled` was set.
    pub sent_before: usize,
    /// Failures among those started before the signal.
    pub failed: usize,
    pub failed_after: usize,
    pub fresh: usize,
    pub errors: Vec<String>,
}

pub struct Load {
    /// Set just before the test signals the server; requests started after
    /// it are counted apart, and a worker stops at its first failure after it.
    pub signalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts one worker per `(mode, most requests)`.
    pub fn start(addr: SocketAddr, ca: &Path, workers: &[(Mode, usize)]) -> Load {
        let signalled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let workers = workers
            .iter()
            .enumerate()
            .map(|(id, &(mode, cap))| {
                let w = Worker {
                    addr,
                    ca: ca.to_path_buf(),
                    id,
                    mode,
                    signalled: signalled.clone(),
                    stop: stop.clone(),
                    counters: counters.clone(),
                };
                tokio::spawn(w.run(cap))
            })
            .collect();
        Load {
            signalled,
            stop,
            counters,
            workers,
        }
    }

    pub fn sent(&self) -> usize {
        self.counters.sent.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `n` requests have been answered or failed.
    pub async fn wait_sent(&self, n: usize) {
        common::eventually(
            &format!("{n} requests sent"),
            Duration::from_secs(60),
            async || self.sent() >= n || self.workers.iter().all(JoinHandle::is_finished),
        )
        .await;
        assert!(self.sent() >= n, "the workers ran out at {}", self.sent());
    }

    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for w in self.workers {
            w.await.unwrap();
        }
        let c = &self.counters;
        Tally {
            sent: c.sent.load(Ordering::SeqCst),
            sent_before: c.sent_before.load(Ordering::SeqCst),
            failed: c.failed_before.load(Ordering::SeqCst),
            failed_after: c.failed_after.load(Ordering::SeqCst),
            fresh: c.fresh.load(Ordering::SeqCst),
            errors: std::mem::take(&mut *c.errors.lock().unwrap()),
        }
    }
}

struct Worker {
    addr: SocketAddr,
    ca: PathBuf,
    id: usize,
    mode: Mode,
    signalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(self, cap: usize) {
        let mut client: Option<Client> = None;
        for i in 0..cap {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let proto = match self.mode {
                Mode::Keep(p) => p,
                Mode::Fresh => {
                    client = None;
                    self.counters.fresh.fetch_add(1, Ordering::SeqCst);
                    if i % 2 == 0 {
                        Proto::H2
                    } else {
                        Proto::H1
                    }
                }
            };
            let before = !self.signalled.load(Ordering::SeqCst);
            let uid = format!("w{}-{i}", self.id);
            let result = self.one(&mut client, proto, &uid, i % 2 == 0).await;
            let c = &self.counters;
            c.sent.fetch_add(1, Ordering::SeqCst);
            if before {
                c.sent_before.fetch_add(1, Ordering::SeqCst);
            }
            if let Err(e) = result {
                client = None;
                if before {
                    c.failed_before.fetch_add(1, Ordering::SeqCst);
                    c.errors
                        .lock()
                        .unwrap()
                        .push(format!("{uid} {proto:?}: {e}"));
                } else {
                    // The server is going away, as the test asked.
                    c.failed_after.fetch_add(1, Ordering::SeqCst);
                    break;
                }
            }
        }
    }

    /// One review; Err when it failed or the verdict is not the expected one.
    async fn one(
        &self,
        client: &mut Option<Client>,
        proto: Proto,
        uid: &str,
        limited: bool,
    ) -> Result<(), String> {
        if client.is_none() {
            *client = Some(Client::connect_to(self.addr, &self.ca.clone(), proto).await?);
        }
        let c = client.as_mut().ok_or("no client")?;
        let body = serde_json::to_vec(&pod_review("acme-prod", uid, limited)).unwrap();
        let r = c.request("POST", "/validate", body).await?;
        if r.status != 200 {
            return Err(format!("status {}: {}", r.status, r.text()));
        }
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        if v["response"]["uid"] != uid || v["response"]["allowed"] != limited {
            return Err(format!("wrong verdict: {v}"));
        }
        Ok(())
    }
}

/// A request body fed through a channel, so a test decides when it ends.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

type Answer = Result<(u16, Vec<u8>), String>;

/// A POST /validate whose first half is sent at start and the rest on `finish`.
pub struct SlowRequest {
    tx: mpsc::Sender<Bytes>,
    rest: Bytes,
    answer: JoinHandle<Answer>,
}

impl SlowRequest {
    pub async fn start(addr: SocketAddr, ca: &Path, proto: Proto, body: Vec<u8>) -> SlowRequest {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from(SERVICE_NAME).unwrap();
        let tls = common::tls_connector(ca, proto)
            .connect(name, tcp)
            .await
            .unwrap();
        let io = TokioIo::new(tls);
        let (tx, rx) = mpsc::channel(2);
        let req = hyper::Request::builder()
            .method("POST")
            .uri(format!("https://{SERVICE_NAME}/validate"))
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(ChannelBody(rx))
            .unwrap();
        let answer = match proto {
            Proto::H2 => {
                let (mut s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                tokio::spawn(async move { collect(s.send_request(req).await).await })
            }
            Proto::H1 => {
                let (mut s, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                s.ready().await.unwrap();
                tokio::spawn(async move { collect(s.send_request(req).await).await })
            }
        };
        let mut body = Bytes::from(body);
        let rest = body.split_off(body.len() / 2);
        tx.send(body).await.unwrap();
        SlowRequest { tx, rest, answer }
    }

    /// Sends the rest of the body and returns the answer.
    pub async fn finish(self) -> Answer {
        self.tx.send(self.rest).await.map_err(|e| e.to_string())?;
        drop(self.tx);
        self.answer.await.map_err(|e| e.to_string())?
    }
}

async fn collect(resp: hyper::Result<hyper::Response<hyper::body::Incoming>>) -> Answer {
    let resp = resp.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body.to_vec()))
}
