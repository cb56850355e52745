//! Test pieces the `laaffic` and `ai_voice` tests share: the documented
//! example's credentials, a vendor's settings, a callback receiver feeding
//! bodies through the adapter, batches, and signed raw requests.

use super::sign;
use crate::config::{Secret, VendorSettings};
use crate::vendors::{CallEvent, DispatchBatch, DispatchItem, RejectedRecord, VendorAdapter};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "bDqJFiq9";
pub const SECRET: &str = "7bz1lzh9";

pub fn settings(kind: &str, options: Value) -> VendorSettings {
    VendorSettings {
        api_key: Some(Secret::new(KEY)),
        api_secret: Some(Secret::new(SECRET)),
        callback_token: Some(Secret::new("tok")),
        options: toml::Value::try_from(options).unwrap().as_table().cloned().unwrap_or_default(),
        ..VendorSettings::for_test(&format!("{kind}-test"), kind)
    }
}

/// A callback receiver feeding every body through `adapter.parse_callback`.
pub struct Receiver {
    pub url: String,
    pub events: Arc<Mutex<Vec<CallEvent>>>,
    /// Records rejected by the adapter, and the number of bodies answered 2xx.
    pub rejected: Arc<Mutex<Vec<RejectedRecord>>>,
    pub bodies: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(adapter: Arc<dyn VendorAdapter>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callbacks/v?token=tok", listener.local_addr().unwrap());
        let events: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
        let rejected: Arc<Mutex<Vec<RejectedRecord>>> = Arc::default();
        let bodies: Arc<Mutex<usize>> = Arc::default();
        let sink = (events.clone(), rejected.clone(), bodies.clone());
        let app = axum::Router::new().route(
            "/callbacks/v",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (adapter, sink) = (adapter.clone(), sink.clone());
                async move {
                    match adapter.parse_callback(&body) {
                        Ok(parsed) => {
                            sink.0.lock().unwrap().extend(parsed.events);
                            sink.1.lock().unwrap().extend(parsed.rejected);
                            *sink.2.lock().unwrap() += 1;
                            let (status, ack) = adapter.callback_ack();
                            (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(ack))
                        }
                        Err(e) => (axum::http::StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))),
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, events, rejected, bodies, task }
    }

    pub fn events(&self) -> Vec<CallEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn rejected(&self) -> Vec<RejectedRecord> {
        self.rejected.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> usize {
        *self.bodies.lock().unwrap()
    }
}

pub fn batch(prefix: &str, n: usize) -> DispatchBatch {
    DispatchBatch {
        campaign: "camp".into(),
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
                variables: json!({ "name": format!("Customer number {i} with a rather long name"), "amount": i * 10 }),
            })
            .collect(),
    }
}

pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// A signed raw POST (to check the fakes' own limits and codes).
pub async fn raw_post(url: &str, body: &Value, headers: &[(&str, String)]) -> Value {
    let mut req = reqwest::Client::new().post(url).json(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().json().await.unwrap()
}

pub fn signed() -> Vec<(&'static str, String)> {
    sign::auth_headers(KEY, SECRET, chrono::Utc::now().timestamp()).into_iter().collect()
}
