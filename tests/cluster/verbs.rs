//! The verbs of the stand-in apiserver (list, get, create, update, patch,
//! watch) and the API semantics they need: label selectors, server-side
//! apply and JSON merge patch, metadata-only answers, watch streams that
//! replay from a resourceVersion and then stay open.

use std::collections::HashMap;
use std::convert::Infallible;
use std::ops::Bound;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Response, StatusCode};
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use super::{full, kind_of, status_error, ApiServer, Body, Change, Target};

/// `k`, `!k`, `k=v`, `k==v`, `k!=v`, comma separated (all must hold).
pub(super) fn selector_matches(selector: &str, obj: &Value) -> bool {
    let labels = obj
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).and_then(Value::as_str) != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels.get(k).and_then(Value::as_str) == Some(v.trim_start_matches('='))
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k).is_none()
        } else {
            labels.get(term).is_some()
        }
    })
}

/// Maps merge key by key (`patch` wins); anything else is replaced.
pub(super) fn apply_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                apply_merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// RFC 7386 JSON merge patch.
pub(super) fn merge_patch(base: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !base.is_object() {
                *base = Value::Object(Map::new());
            }
            let b = base.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge_patch(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        p => *base = p.clone(),
    }
}

/// The object without what the server maintains (for no-op detection).
pub(super) fn content(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "managedFields", "generation"] {
            m.remove(k);
        }
    }
    c
}

/// What counts for `metadata.generation`: everything but metadata and status.
pub(super) fn spec_part(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    c
}

pub(super) fn metadata_only(v: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]})
}

impl ApiServer {
    pub(super) fn list(
        &self,
        t: &Target,
        query: &HashMap<String, String>,
        meta_only: bool,
    ) -> Response<Body> {
        let selector = query.get("labelSelector").cloned().unwrap_or_default();
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        // The continue token: the namespace and name of the last item served.
        let after = query.get("continue").map(|c| {
            let (ns, name) = c.split_once('/').unwrap_or(("", c));
            (t.resource.clone(), ns.to_string(), name.to_string())
        });
        let st = self.lock();
        // Keys sort by resource, namespace, name: a list reads one range
        // (a large cluster's list costs its page, not the whole store).
        let from = match &after {
            Some(a) => Bound::Excluded(a.clone()),
            None => Bound::Included((t.resource.clone(), t.namespace.clone(), String::new())),
        };
        let mut selected = st
            .objects
            .range((from, Bound::Unbounded))
            .take_while(|(k, _)| Self::in_scope(t, k))
            .filter(|(_, o)| selector_matches(&selector, o))
            .peekable();
        let mut page = Vec::new();
        while page.len() < limit {
            match selected.next() {
                Some(kv) => page.push(kv),
                None => break,
            }
        }
        let next = match (selected.peek(), page.last()) {
            (Some(_), Some(((_, ns, name), _))) => format!("{ns}/{name}"),
            _ => String::new(),
        };
        let items: Vec<Value> = page
            .into_iter()
            .map(|(_, o)| {
                if meta_only {
                    metadata_only(o)
                } else if !matches!(t.resource.as_str(), "tenants" | "policyreports") {
                    // Built-in lists carry no kind or apiVersion per item
                    // (custom resource lists do).
                    let mut o = o.clone();
                    o.as_object_mut().unwrap().remove("kind");
                    o.as_object_mut().unwrap().remove("apiVersion");
                    o
                } else {
                    o.clone()
                }
            })
            .collect();
        let (kind, api) = kind_of(&t.resource);
        let (kind, api) = if meta_only {
            ("PartialObjectMetadata".to_string(), "meta.k8s.io/v1")
        } else {
            (kind.to_string(), api)
        };
        full(
            StatusCode::OK,
            &json!({"kind": format!("{kind}List"), "apiVersion": api,
                "metadata": {"resourceVersion": st.rv.to_string(), "continue": next}, "items": items}),
        )
    }

    pub(super) fn get_one(&self, t: &Target, meta_only: bool) -> Response<Body> {
        match self.get(&t.resource, &t.namespace, &t.name) {
            Some(o) if meta_only => full(StatusCode::OK, &metadata_only(&o)),
            Some(o) => full(StatusCode::OK, &o),
            None => self.not_found(t),
        }
    }

    pub(super) fn create(&self, t: &Target, body: Option<Value>) -> Response<Body> {
        let Some(mut obj) = body else {
            return status_error(400, "BadRequest", "no body".into());
        };
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        if !t.namespace.is_empty() {
            obj["metadata"]["namespace"] = json!(t.namespace);
        }
        let key = (t.resource.clone(), t.namespace.clone(), name.clone());
        let mut st = self.lock();
        if st.objects.contains_key(&key) {
            return status_error(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.resource),
            );
        }
        self.stamp(&mut st, &mut obj, None);
        self.commit(&mut st, key.clone(), None, Some(obj));
        full(StatusCode::CREATED, &st.objects[&key])
    }

    pub(super) fn update(&self, t: &Target, body: Option<Value>) -> Response<Body> {
        let Some(mut obj) = body else {
            return status_error(400, "BadRequest", "no body".into());
        };
        let key = (t.resource.clone(), t.namespace.clone(), t.name.clone());
        let mut st = self.lock();
        let Some(old) = st.objects.get(&key).cloned() else {
            drop(st);
            return self.not_found(t);
        };
        let sent = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if sent.is_some_and(|rv| Some(rv) != old["metadata"]["resourceVersion"].as_str()) {
            return status_error(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again", t.resource, t.name),
            );
        }
        self.stamp(&mut st, &mut obj, Some(&old));
        self.commit(&mut st, key.clone(), Some(old), Some(obj));
        full(StatusCode::OK, &st.objects[&key])
    }

    pub(super) fn patch(
        &self,
        t: &Target,
        query: &HashMap<String, String>,
        content_type: &str,
        body: Option<Value>,
    ) -> (Response<Body>, bool) {
        let Some(patch) = body else {
            return (status_error(400, "BadRequest", "no body".into()), false);
        };
        let key = (t.resource.clone(), t.namespace.clone(), t.name.clone());
        let mut st = self.lock();
        let old = st.objects.get(&key).cloned();
        let mut next = match content_type {
            "application/apply-patch+yaml" => {
                let Some(manager) = query.get("fieldManager") else {
                    return (
                        status_error(
                            400,
                            "BadRequest",
                            "fieldManager is required for apply patch".into(),
                        ),
                        false,
                    );
                };
                let mut next = old.clone().unwrap_or_else(|| json!({"metadata": {}}));
                apply_merge(&mut next, &patch);
                next["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply",
                    "apiVersion": patch["apiVersion"], "time": "2025-06-02T08:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}}]);
                next
            }
            "application/merge-patch+json" => {
                let Some(mut next) = old.clone() else {
                    drop(st);
                    return (self.not_found(t), false);
                };
                if t.subresource == "status" {
                    merge_patch(&mut next, &json!({"status": patch["status"]}));
                } else {
                    merge_patch(&mut next, &patch);
                }
                next
            }
            other => {
                return (
                    status_error(
                        415,
                        "UnsupportedMediaType",
                        format!("{other} is not supported"),
                    ),
                    false,
                )
            }
        };
        if !t.namespace.is_empty() {
            next["metadata"]["namespace"] = json!(t.namespace);
        }
        next["metadata"]["name"] = json!(t.name);
        if old.as_ref().is_some_and(|o| content(o) == content(&next)) {
            let o = old.unwrap();
            return (full(StatusCode::OK, &o), false);
        }
        self.stamp(&mut st, &mut next, old.as_ref());
        let created = old.is_none();
        self.commit(&mut st, key.clone(), old, Some(next));
        (
            full(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &st.objects[&key],
            ),
            created,
        )
    }

    pub(super) fn watch(
        &self,
        client: &str,
        t: &Target,
        query: &HashMap<String, String>,
        meta_only: bool,
    ) -> Response<Body> {
        let since: u64 = query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let selector = query.get("labelSelector").cloned().unwrap_or_default();
        let target = Target {
            group: t.group.clone(),
            resource: t.resource.clone(),
            namespace: t.namespace.clone(),
            name: String::new(),
            subresource: String::new(),
        };
        let filter = Arc::new(move |change: &Change| -> Option<(u64, Value)> {
            let Change::Object { rv, key, old, new } = change else {
                return None;
            };
            if !Self::in_scope(&target, key) {
                return None;
            }
            let was = old.as_ref().is_some_and(|o| selector_matches(&selector, o));
            let is = new.as_ref().is_some_and(|n| selector_matches(&selector, n));
            let (kind, obj) = match (was, is) {
                (false, true) => ("ADDED", new.clone()?),
                (true, true) => ("MODIFIED", new.clone()?),
                // Leaving the selection is a deletion for this watch.
                (true, false) => ("DELETED", new.clone().or_else(|| old.clone())?),
                (false, false) => return None,
            };
            let obj = if meta_only { metadata_only(&obj) } else { obj };
            Some((*rv, json!({"type": kind, "object": obj})))
        });
        let (kind, api) = kind_of(&t.resource);
        let (kind, api) = if meta_only {
            ("PartialObjectMetadata", "meta.k8s.io/v1")
        } else {
            (kind, api)
        };
        let (backlog, rx, now) = {
            let st = self.lock();
            let rx = self.changes.subscribe();
            let backlog: Vec<(u64, Value)> = st
                .history
                .iter()
                .filter_map(|c| filter(c))
                .filter(|(rv, _)| *rv > since)
                .collect();
            (backlog, rx, st.rv)
        };
        let mut first: Vec<(u64, Value)> = backlog;
        first.push((now, json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": now.to_string()}}})));
        let server = self.clone();
        let mark = (
            client.to_string(),
            t.resource.clone(),
            query.get("labelSelector").cloned().unwrap_or_default(),
        );
        let live = futures::stream::unfold((rx, filter), |(mut rx, filter)| async move {
            loop {
                match rx.recv().await {
                    Ok(Change::CloseWatches) | Err(broadcast::error::RecvError::Closed) => {
                        return None
                    }
                    // Too far behind: end the watch; the client re-watches from its resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_)) => return None,
                    Ok(c) => {
                        if let Some(ev) = filter(&c) {
                            return Some((ev, (rx, filter)));
                        }
                    }
                }
            }
        });
        let events = futures::stream::iter(first)
            .chain(live)
            .map(move |(rv, ev)| {
                let mut st = server.lock();
                let d = st.delivered.entry(mark.clone()).or_default();
                *d = (*d).max(rv);
                Ok::<_, Infallible>(Frame::data(Bytes::from(format!("{ev}\n"))))
            });
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(StreamBody::new(events).boxed_unsync())
            .unwrap()
    }
}
