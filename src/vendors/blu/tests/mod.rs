//! Blu tests: the document (annex tables, cut from the vendor's text) and
//! the record variations (`contract`), code tables and options (`units`),
//! the adapter against the fake on loopback (`against_fake`), and lookups
//! over incomplete query pages (`lookup`). Shared helpers live here.

mod against_fake;
mod contract;
mod lookup;
mod units;

use super::adapter::BluAdapter;
use crate::config::{Secret, VendorSettings};
use crate::vendors::common::check_url_token;
use crate::vendors::embedded::fake_config;
use crate::vendors::{
    AttemptHandle, CallEvent, DispatchBatch, DispatchItem, PredialVerdict, RejectedRecord, VendorAdapter,
};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::routing::post;
use chrono::Utc;
use doubles::blu::Variations;
use doubles::{FakeBehavior, FakeHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APP_ID: &str = "10001";
const APP_KEY: &str = "test-app-key";
const TOKEN: &str = "cb-token";

fn settings(options: toml::Table) -> VendorSettings {
    VendorSettings {
        api_key: Some(Secret::new(APP_ID)),
        api_secret: Some(Secret::new(APP_KEY)),
        callback_token: Some(Secret::new(TOKEN)),
        options,
        ..VendorSettings::for_test("blu-test", "blu")
    }
}

fn adapter(base: &str) -> BluAdapter {
    BluAdapter::from_settings(&settings(toml::Table::new()), base).unwrap()
}

struct Inbox {
    adapter: BluAdapter,
    events: Mutex<Vec<CallEvent>>,
    rejected: Mutex<Vec<RejectedRecord>>,
    /// Records per POST (events + rejected): nothing may be dropped.
    posts: Mutex<Vec<usize>>,
    predials: Mutex<Vec<String>>,
    refuse: fn(&str) -> bool,
}

/// Our side: result callbacks at `/cb`, pre-dial checks at `/cb/predial`,
/// both behind the URL token.
struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(refuse: fn(&str) -> bool) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb?token={TOKEN}", listener.local_addr().unwrap());
        let inbox = Arc::new(Inbox {
            adapter: adapter("http://127.0.0.1:9"),
            events: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            posts: Mutex::new(Vec::new()),
            predials: Mutex::new(Vec::new()),
            refuse,
        });
        let app = axum::Router::new()
            .route("/cb", post(callback))
            .route("/cb/predial", post(predial))
            .with_state(inbox.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inbox, task }
    }

    fn finals(&self) -> HashMap<String, Vec<CallEvent>> {
        let mut out: HashMap<String, Vec<CallEvent>> = HashMap::new();
        for e in self.inbox.events.lock().unwrap().iter().filter(|e| e.is_final) {
            out.entry(e.attempt_ref.clone().unwrap_or_default()).or_default().push(e.clone());
        }
        out
    }
}

async fn callback(
    State(inbox): State<Arc<Inbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    if check_url_token(Some(TOKEN), q.as_deref()).is_err() {
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(Value::Null));
    }
    match inbox.adapter.parse_callback(&body) {
        Ok(parsed) => {
            inbox.posts.lock().unwrap().push(parsed.events.len() + parsed.rejected.len());
            inbox.events.lock().unwrap().extend(parsed.events);
            inbox.rejected.lock().unwrap().extend(parsed.rejected);
            let (status, ack) = inbox.adapter.callback_ack();
            (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(ack))
        }
        Err(_) => (axum::http::StatusCode::BAD_REQUEST, axum::Json(Value::Null)),
    }
}

async fn predial(
    State(inbox): State<Arc<Inbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    if check_url_token(Some(TOKEN), q.as_deref()).is_err() {
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(Value::Null));
    }
    let Ok(query) = inbox.adapter.parse_predial(&body) else {
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(Value::Null));
    };
    let id = query.attempt_ref.unwrap_or_default();
    inbox.predials.lock().unwrap().push(id.clone());
    let verdict = if (inbox.refuse)(&id) {
        PredialVerdict::Refuse { reason: "suppressed".into() }
    } else {
        PredialVerdict::Proceed
    };
    let (status, reply) = inbox.adapter.predial_reply(&verdict);
    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(reply))
}

async fn fake(behavior: FakeBehavior, options: toml::Table) -> (FakeHandle, BluAdapter) {
    fake_varying(behavior, options, Variations::default()).await
}

async fn fake_varying(behavior: FakeBehavior, options: toml::Table, vary: Variations) -> (FakeHandle, BluAdapter) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = settings(options);
    let handle = doubles::blu::spawn_with(&fake_config(&s), behavior, vary, listener).await.unwrap();
    let adapter = BluAdapter::from_settings(&s, &handle.base_url()).unwrap();
    (handle, adapter)
}

fn batch(prefix: &str, n: usize) -> DispatchBatch {
    DispatchBatch {
        campaign: "c".into(),
        now: chrono::Utc::now(),
        callback_url: String::new(),
        predial_url: String::new(),
        not_after: None,
        vendor_redial: false,
        items: (0..n)
            .map(|i| DispatchItem {
                attempt_ref: format!("{prefix}-{i}"),
                phone: format!("+62812{i:07}"),
                case_id: Some(format!("case-{i}")),
                variables: json!({ "name": format!("Name {i}"), "amount": i }),
            })
            .collect(),
    }
}

fn handle(b: &DispatchBatch, i: usize, task: &str) -> AttemptHandle {
    AttemptHandle {
        attempt_ref: b.items[i].attempt_ref.clone(),
        phone: b.items[i].phone.clone(),
        vendor_task_id: Some(task.to_string()),
        external_call_id: None,
        dispatched_at: Some(Utc::now()),
    }
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
