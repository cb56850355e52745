//! A round-robin HTTP forwarder in front of several daemons, as the load
//! balancer of a multi-instance deployment: a vendor's callback lands on any
//! live instance, mostly not the one that dispatched the call.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Shared {
    /// `host:port` of each instance, in the order they were added.
    backends: Mutex<Vec<String>>,
    next: AtomicUsize,
    /// Requests each backend answered.
    answered: Mutex<BTreeMap<String, u64>>,
    http: reqwest::Client,
}

pub struct Balancer {
    /// What the daemons give vendors as their public URL.
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn start() -> Balancer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind balancer");
        let url = format!("http://{}", listener.local_addr().expect("balancer address"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
        let shared = Arc::new(Shared { http, ..Shared::default() });
        let app = axum::Router::new().fallback(forward).with_state(shared.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("balancer serve") });
        Balancer { url, shared, server }
    }

    /// Put the instance listening on `addr` (`host:port`) into rotation.
    pub fn add(&self, addr: &str) {
        self.shared.backends.lock().expect("lock").push(addr.to_string());
    }

    /// Requests answered per backend address.
    pub fn answered(&self) -> BTreeMap<String, u64> {
        self.shared.answered.lock().expect("lock").clone()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Send the request to the next backend in turn; one that cannot be reached
/// (a killed instance) is skipped for the one after it, as a load balancer's
/// retry on upstream failure does. 502 when none answers.
async fn forward(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response {
    for h in [header::HOST, header::CONTENT_LENGTH, header::CONNECTION] {
        headers.remove(h);
    }
    let backends = s.backends.lock().expect("lock").clone();
    let start = s.next.fetch_add(1, Ordering::Relaxed);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    for i in 0..backends.len() {
        let backend = &backends[(start + i) % backends.len()];
        let sent = s
            .http
            .request(method.clone(), format!("http://{backend}{path}"))
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let Ok(answer) = sent else { continue };
        let status = answer.status();
        let Ok(bytes) = answer.bytes().await else { continue };
        *s.answered.lock().expect("lock").entry(backend.clone()).or_insert(0) += 1;
        return (status, bytes).into_response();
    }
    (StatusCode::BAD_GATEWAY, "no instance answered").into_response()
}
