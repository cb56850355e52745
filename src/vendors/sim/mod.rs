//! The `sim` vendor: the adapter the daemon talks to a protocol-level
//! simulator with. The simulator itself (used by the demo config,
//! integration tests and benchmarks) is `doubles::sim`; the two share no
//! code, only the protocol of [`wire`].

pub mod adapter;
pub mod codes;
#[cfg(test)]
mod tests;
pub mod wire;

pub use adapter::{SimAdapter, SimAdapterConfig, sign};

/// Most calls the simulator accepts in one CreateBatch.
pub const MAX_BATCH_CALLS: usize = 500;

/// Pieces shared by the adapter's tests: a callback receiver, a simulator
/// (`doubles::sim`) on loopback with an adapter for it, and polling with a
/// deadline.
#[cfg(test)]
pub(crate) mod testkit {
    use super::wire::CallResult;
    use super::{SimAdapter, SimAdapterConfig};
    use crate::vendors::{DispatchBatch, DispatchItem, VendorAdapter};
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use doubles::sim::{SimAuth, SimHandle, SimSettings};
    use std::collections::{HashSet, VecDeque};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    pub const API_KEY: &str = "test-api-key";
    pub const SECRET: &str = "test-callback-secret";

    #[derive(Clone, Debug)]
    pub struct Delivery {
        pub result: CallResult,
        pub answered: u16,
        pub at: Instant,
    }

    struct Inbox {
        adapter: SimAdapter,
        script: Mutex<VecDeque<u16>>,
        deliveries: Mutex<Vec<Delivery>>,
        bad_signatures: AtomicU64,
    }

    /// Records every callback; answers the scripted statuses first, then 200.
    /// Callbacks whose signature does not verify are answered 401 and counted.
    pub struct Receiver {
        pub url: String,
        inbox: Arc<Inbox>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Receiver {
        pub async fn start(script: &[u16]) -> Receiver {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/callbacks/sim", listener.local_addr().unwrap());
            let inbox = Arc::new(Inbox {
                adapter: adapter("http://127.0.0.1:9", Duration::from_secs(1)),
                script: Mutex::new(script.iter().copied().collect()),
                deliveries: Mutex::new(Vec::new()),
                bad_signatures: AtomicU64::new(0),
            });
            let app =
                axum::Router::new().route("/callbacks/sim", axum::routing::post(receive)).with_state(inbox.clone());
            let task = tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
            Receiver { url, inbox, task }
        }

        pub fn deliveries(&self) -> Vec<Delivery> {
            self.inbox.deliveries.lock().unwrap().clone()
        }

        pub fn distinct_references(&self) -> usize {
            let all = self.inbox.deliveries.lock().unwrap();
            all.iter().map(|d| d.result.reference.clone()).collect::<HashSet<_>>().len()
        }

        pub fn bad_signatures(&self) -> u64 {
            self.inbox.bad_signatures.load(Relaxed)
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        if inbox.adapter.verify_callback(&headers, &body, None).is_err() {
            inbox.bad_signatures.fetch_add(1, Relaxed);
            return StatusCode::UNAUTHORIZED;
        }
        let Ok(result) = serde_json::from_slice::<CallResult>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        let answered = inbox.script.lock().unwrap().pop_front().unwrap_or(200);
        let delivery = Delivery { result, answered, at: Instant::now() };
        inbox.deliveries.lock().unwrap().push(delivery);
        StatusCode::from_u16(answered).unwrap()
    }

    pub fn adapter(base_url: &str, request_timeout: Duration) -> SimAdapter {
        let config = SimAdapterConfig {
            base_url: base_url.to_string(),
            api_key: API_KEY.to_string(),
            callback_secret: SECRET.to_string(),
            request_timeout,
        };
        SimAdapter::new("sim-test", config).unwrap()
    }

    /// Fast, seeded settings: calls take 1-20 ms, retries come after 50 ms.
    pub fn fast() -> SimSettings {
        SimSettings {
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(20),
            callback_retry_interval: Duration::from_millis(50),
            seed: Some(42),
            ..SimSettings::default()
        }
    }

    /// A simulator on 127.0.0.1:0 and an adapter pointed at it.
    pub async fn sim(settings: SimSettings) -> (SimHandle, SimAdapter) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth = SimAuth { api_key: API_KEY.into(), callback_secret: SECRET.into() };
        let handle = doubles::sim::spawn(settings, auth, listener).await.unwrap();
        let adapter = adapter(&handle.base_url(), Duration::from_secs(5));
        (handle, adapter)
    }

    /// `n` calls with references `{prefix}-0` .. `{prefix}-{n-1}`.
    pub fn batch(callback_url: &str, prefix: &str, n: usize) -> DispatchBatch {
        DispatchBatch {
            campaign: "test".into(),
            now: chrono::Utc::now(),
            callback_url: callback_url.into(),
            predial_url: String::new(),
            not_after: None,
            vendor_redial: false,
            items: (0..n)
                .map(|i| DispatchItem {
                    attempt_ref: format!("{prefix}-{i}"),
                    phone: format!("+1555{i:07}"),
                    case_id: Some(format!("case-{i}")),
                    variables: serde_json::json!({ "amount": i }),
                })
                .collect(),
        }
    }

    /// Poll `done` every few milliseconds; panic naming `what` after `limit`.
    pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
