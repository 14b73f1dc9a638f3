//! A stand-in kube-apiserver: kube's `Client` over a tower service that
//! answers list, watch, get, create, update, patch and delete from objects
//! held in memory, in the apiserver's JSON shapes (lists, Status errors,
//! newline-delimited WatchEvents that stay open, metadata-only responses
//! for `as=PartialObjectMetadata`, resourceVersions, generations).
//!
//! Lists honour `limit` and `continue` (the token is the last key served).
//! Create answers 409 AlreadyExists for an existing object, update 409
//! Conflict for a stale resourceVersion; patches are server-side apply,
//! merge patch or JSON patch (a failed `test` operation answers 422).
//! The resources served are listed in `resources.rs`.
//!
//! Approximations, stated so no test leans on them by accident: server-side
//! apply merges maps key by key and replaces lists whole (the real field
//! manager also drops fields a manager stops applying); label selectors know
//! `k`, `!k`, `k=v` and `k!=v`; every write bumps one global
//! resourceVersion and the full history is kept (no 410 Gone).
//!
//! Tests drive it from the side (`put`, `delete`, faults) and read what the
//! clients asked for from the call log.
#![allow(dead_code)]

#[path = "resources.rs"]
mod resources;
#[path = "verbs.rs"]
mod verbs;

use resources::{kind_of, resource_of, served};
use verbs::spec_part;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;
type Key = (String, String, String);

/// One request a client made.
#[derive(Debug, Clone)]
pub struct Call {
    pub client: String,
    pub verb: &'static str,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub query: HashMap<String, String>,
    pub content_type: String,
    pub body: Option<Value>,
    /// A server-side apply that created the object (needs `create` too).
    pub created: bool,
    pub status: u16,
    /// Holder of the tenantguard Lease when the call arrived.
    pub lease_holder: Option<String>,
}

#[derive(Clone)]
pub enum Fault {
    /// Answer with this status code and a Status body.
    Status(u16),
    /// Never answer (the client's timeout must act).
    Stall,
    /// Answer once the sender says true.
    Hold(watch::Receiver<bool>),
}

struct FaultRule {
    id: u64,
    method: Method,
    path: String,
    fault: Fault,
}

#[derive(Debug, Clone)]
enum Change {
    Object {
        rv: u64,
        key: Key,
        old: Option<Value>,
        new: Option<Value>,
    },
    /// Ends every open watch (as when the apiserver restarts).
    CloseWatches,
}

#[derive(Default)]
struct State {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    calls: Vec<Call>,
    faults: Vec<FaultRule>,
    next_id: u64,
    /// Highest resourceVersion each (client, resource, labelSelector) watch delivered.
    delivered: HashMap<(String, String, String), u64>,
}

#[derive(Clone)]
pub struct ApiServer {
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
}

impl Default for ApiServer {
    fn default() -> Self {
        ApiServer {
            state: Arc::default(),
            changes: broadcast::channel(4096).0,
        }
    }
}

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed_unsync())
        .unwrap()
}

fn status_error(code: u16, reason: &str, message: String) -> Response<Body> {
    let v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    full(StatusCode::from_u16(code).unwrap(), &v)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Target {
    group: String,
    resource: String,
    namespace: String,
    name: String,
    subresource: String,
}

fn parse_path(path: &str) -> Target {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.first() {
        Some(&"api") => (String::new(), &segs[2..]),
        Some(&"apis") => (segs[1].to_string(), &segs[3..]),
        _ => panic!("not an API path: {path}"),
    };
    let (namespace, rest): (String, &[&str]) = if rest.len() >= 3 && rest[0] == "namespaces" {
        (rest[1].to_string(), &rest[2..])
    } else {
        (String::new(), rest)
    };
    let at = |i: usize| rest.get(i).map_or(String::new(), |s| s.to_string());
    Target {
        group,
        resource: at(0),
        namespace,
        name: at(1),
        subresource: at(2),
    }
}

impl ApiServer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A kube client over this server; its calls are logged under `name`.
    pub fn client(&self, name: &str) -> kube::Client {
        let server = self.clone();
        let name = name.to_string();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let server = server.clone();
            let name = name.clone();
            async move { Ok::<_, Infallible>(server.handle(&name, req).await) }
        });
        kube::Client::new(svc, "default")
    }

    /// Serves this apiserver over plain HTTP on 127.0.0.1 (port 0, kept
    /// bound), for a real `tenantguard serve` process; calls are logged as `name`.
    pub async fn serve_http(&self, name: &str) -> std::net::SocketAddr {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (server, name) = (self.clone(), name.to_string());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (server, name) = (server.clone(), name.clone());
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (server, name) = (server.clone(), name.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let req = Request::from_parts(parts, kube::client::Body::from(bytes));
                        Ok::<_, Infallible>(server.handle(&name, req).await)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        addr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `obj` (create or replace), emitting the watch event; returns its resourceVersion.
    pub fn put(&self, mut obj: Value) -> u64 {
        let resource = resource_of(obj["kind"].as_str().expect("kind"));
        let key = (
            resource.to_string(),
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .expect("name")
                .to_string(),
        );
        let mut st = self.lock();
        let old = st.objects.get(&key).cloned();
        self.stamp(&mut st, &mut obj, old.as_ref());
        self.commit(&mut st, key, old, Some(obj))
    }

    /// Every item of a `...List` fixture, via [`ApiServer::put`].
    pub fn put_list(&self, list: &Value) {
        let kind = list["kind"].as_str().unwrap().trim_end_matches("List");
        let api = list["apiVersion"].as_str().unwrap();
        for item in list["items"].as_array().unwrap() {
            let mut item = item.clone();
            item["kind"] = json!(kind);
            item["apiVersion"] = json!(api);
            self.put(item);
        }
    }

    /// Stores `obj` without a watch event (a watch that missed it).
    pub fn put_quietly(&self, mut obj: Value) {
        let resource = resource_of(obj["kind"].as_str().unwrap());
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let key = (
            resource.to_string(),
            ns.to_string(),
            obj["metadata"]["name"].as_str().unwrap().to_string(),
        );
        let mut st = self.lock();
        self.stamp(&mut st, &mut obj, None);
        st.objects.insert(key, obj);
    }

    pub fn delete(&self, resource: &str, namespace: &str, name: &str) {
        let key = (
            resource.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let mut st = self.lock();
        let old = st.objects.get(&key).cloned();
        assert!(old.is_some(), "nothing to delete at {key:?}");
        self.commit(&mut st, key, old, None);
    }

    /// Plays the ResourceQuota controller (kube-controller-manager), which
    /// no test cluster runs: sets the quota's `status.hard` from its spec
    /// and `status.used` to `used`, as a status-only change.
    pub fn set_quota_used(&self, namespace: &str, name: &str, used: Value) -> u64 {
        let mut q = self
            .get("resourcequotas", namespace, name)
            .unwrap_or_else(|| panic!("no ResourceQuota {namespace}/{name}"));
        q["status"] = json!({"hard": q["spec"]["hard"].clone(), "used": used});
        self.put(q)
    }

    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            resource.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.lock().objects.get(&key).cloned()
    }

    /// Objects of these resources in `namespace`.
    pub fn count_in(&self, namespace: &str, resources: &[&str]) -> usize {
        self.lock()
            .objects
            .keys()
            .filter(|(r, ns, _)| ns == namespace && resources.contains(&r.as_str()))
            .count()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn calls_len(&self) -> usize {
        self.lock().calls.len()
    }

    /// The calls after the first `from` (a long run's log without copying it all).
    pub fn calls_from(&self, from: usize) -> Vec<Call> {
        let st = self.lock();
        st.calls
            .get(from..)
            .map(<[Call]>::to_vec)
            .unwrap_or_default()
    }

    /// The highest resourceVersion watches of `resource` with `selector` delivered.
    pub fn delivered(&self, resource: &str, selector: &str) -> u64 {
        self.lock()
            .delivered
            .iter()
            .filter(|((_, r, s), _)| r == resource && s == selector)
            .map(|(_, rv)| *rv)
            .max()
            .unwrap_or(0)
    }

    /// Makes requests whose method is `method` and whose path contains `path` fail.
    pub fn fault(&self, method: Method, path: &str, fault: Fault) -> u64 {
        let mut st = self.lock();
        st.next_id += 1;
        let id = st.next_id;
        st.faults.push(FaultRule {
            id,
            method,
            path: path.to_string(),
            fault,
        });
        id
    }

    pub fn clear_fault(&self, id: u64) {
        self.lock().faults.retain(|f| f.id != id);
    }

    pub fn close_watches(&self) {
        let _ = self.changes.send(Change::CloseWatches);
    }

    fn stamp(&self, st: &mut State, obj: &mut Value, old: Option<&Value>) {
        let meta = obj["metadata"].as_object_mut().expect("metadata");
        let uid = old
            .and_then(|o| o.pointer("/metadata/uid").cloned())
            .unwrap_or_else(|| json!(format!("00000000-0000-4000-8000-{:012}", st.rv + 1)));
        meta.insert("uid".into(), uid);
        let created = old
            .and_then(|o| o.pointer("/metadata/creationTimestamp").cloned())
            .unwrap_or_else(|| json!("2025-06-02T08:00:00Z"));
        meta.insert("creationTimestamp".into(), created);
    }

    /// Bumps the resourceVersion (and generation when the spec changed),
    /// stores, records and broadcasts one change. Under the state lock, so a
    /// watch starting concurrently sees it either in its backlog or live.
    fn commit(&self, st: &mut State, key: Key, old: Option<Value>, new: Option<Value>) -> u64 {
        st.rv += 1;
        let rv = st.rv;
        let new = new.map(|mut n| {
            let generation = match &old {
                None => 1,
                Some(o) => {
                    let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                    if spec_part(o) == spec_part(&n) {
                        g
                    } else {
                        g + 1
                    }
                }
            };
            n["metadata"]["resourceVersion"] = json!(rv.to_string());
            n["metadata"]["generation"] = json!(generation);
            n
        });
        match &new {
            Some(n) => st.objects.insert(key.clone(), n.clone()),
            None => st.objects.remove(&key),
        };
        let change = Change::Object { rv, key, old, new };
        st.history.push(change.clone());
        let _ = self.changes.send(change);
        rv
    }

    async fn handle(&self, client: &str, req: Request<kube::client::Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let path = parts.uri.path().to_string();
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let header = |h: &str| {
            parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let meta_only = header("accept").contains("as=PartialObjectMetadata");
        let content_type = header("content-type");
        let t = parse_path(&path);
        let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match parts.method {
            Method::GET if watching => "watch",
            Method::GET if t.name.is_empty() => "list",
            Method::GET => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "unknown",
        };
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let fault = {
            let st = self.lock();
            let target = format!("{path}?{}", parts.uri.query().unwrap_or(""));
            st.faults
                .iter()
                .find(|f| f.method == parts.method && target.contains(&f.path))
                .map(|f| f.fault.clone())
        };
        let mut call = Call {
            client: client.to_string(),
            verb,
            group: t.group.clone(),
            resource: t.resource.clone(),
            subresource: t.subresource.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
            created: false,
            status: 0,
            lease_holder: self.lease_holder(),
        };
        match fault {
            Some(Fault::Status(code)) => {
                call.status = code;
                self.lock().calls.push(call);
                let reason = match code {
                    403 => "Forbidden",
                    422 => "Invalid",
                    _ => "InternalError",
                };
                return status_error(
                    code,
                    reason,
                    format!("injected fault on {} {path}", parts.method),
                );
            }
            Some(Fault::Stall) => {
                self.lock().calls.push(call);
                return std::future::pending::<Response<Body>>().await;
            }
            Some(Fault::Hold(mut rx)) => {
                let _ = rx.wait_for(|go| *go).await;
            }
            None => {}
        }
        let resp = match verb {
            _ if !served(&t.resource) => status_error(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            ),
            "watch" => self.watch(client, &t, &query, meta_only),
            "list" => self.list(&t, &query, meta_only),
            "get" => self.get_one(&t, meta_only),
            "create" => self.create(&t, body),
            "update" => self.update(&t, body),
            "patch" => {
                let (resp, created) = self.patch(&t, &query, &content_type, body);
                call.created = created;
                resp
            }
            "delete" => match self.get(&t.resource, &t.namespace, &t.name) {
                Some(o) => {
                    self.delete(&t.resource, &t.namespace, &t.name);
                    full(StatusCode::OK, &o)
                }
                None => self.not_found(&t),
            },
            _ => status_error(405, "MethodNotAllowed", "method not allowed".into()),
        };
        call.status = resp.status().as_u16();
        self.lock().calls.push(call);
        resp
    }

    fn lease_holder(&self) -> Option<String> {
        let st = self.lock();
        // A range read: keys sort by resource first.
        st.objects
            .range(("leases".to_string(), String::new(), String::new())..)
            .take_while(|((r, _, _), _)| r == "leases")
            .next()
            .and_then(|(_, l)| l.pointer("/spec/holderIdentity").and_then(Value::as_str))
            .map(str::to_string)
    }

    fn not_found(&self, t: &Target) -> Response<Body> {
        status_error(
            404,
            "NotFound",
            format!("{}.{} \"{}\" not found", t.resource, t.group, t.name),
        )
    }

    fn in_scope(t: &Target, key: &Key) -> bool {
        key.0 == t.resource && (t.namespace.is_empty() || key.1 == t.namespace)
    }
}

/// A kubeconfig for a client of the stand-in served at `addr` (plain HTTP,
/// no credentials: the stand-in knows its client by the identity it was
/// served for).
pub fn kubeconfig(addr: std::net::SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: stand-in\n\
         clusters: [{{name: stand-in, cluster: {{server: \"http://{addr}\"}}}}]\n\
         users: [{{name: tenantguard, user: {{}}}}]\n\
         contexts: [{{name: stand-in, context: {{cluster: stand-in, user: tenantguard}}}}]\n"
    )
}
