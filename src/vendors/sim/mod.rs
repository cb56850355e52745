//! The `sim` vendor: a protocol-level simulator of a call vendor over real
//! HTTP (used by the demo config, integration tests and benchmarks) and the
//! adapter the daemon talks to it with.

pub mod adapter;
pub mod codes;
mod dialer;
pub mod server;
pub mod settings;
pub mod wire;

pub use adapter::{SimAdapter, SimAdapterConfig, sign};
pub use server::{DeliveryRecord, SimAuth, SimHandle, SimServer, SimStats, spawn};
pub use settings::SimSettings;

/// Most calls the simulator accepts in one CreateBatch.
pub const MAX_BATCH_CALLS: usize = 500;

/// Pieces shared by the simulator's tests: a callback receiver, a sim on
/// loopback with an adapter for it, and polling with a deadline.
#[cfg(test)]
pub(crate) mod testkit {
    use super::wire::CallResult;
    use super::{SimAdapter, SimAdapterConfig, SimAuth, SimHandle, SimSettings};
    use crate::vendors::{DispatchBatch, DispatchItem, VendorAdapter};
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
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
        SimAdapter::new("sim-test", config)
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
        let handle = super::spawn(settings, auth, listener).await.unwrap();
        let adapter = adapter(&handle.base_url(), Duration::from_secs(5));
        (handle, adapter)
    }

    /// `n` calls with references `{prefix}-0` .. `{prefix}-{n-1}`.
    pub fn batch(callback_url: &str, prefix: &str, n: usize) -> DispatchBatch {
        DispatchBatch {
            campaign: "test".into(),
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

#[cfg(test)]
mod tests {
    use super::testkit::{Receiver, batch, fast, sim, wait_until};
    use crate::domain::outcome::Disposition;
    use crate::vendors::{LookupResult, VendorAdapter};
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hundred_calls_end_to_end() {
        let receiver = Receiver::start(&[]).await;
        let settings = super::SimSettings { duplicate_rate: 0.5, max_lines: 5, seed: Some(7), ..fast() };
        let weights = settings.outcomes.clone();
        let (sim, adapter) = sim(settings).await;
        let stats = sim.stats.clone();

        let calls = batch(&receiver.url, "r", 200);
        let receipt = adapter.dispatch(&calls).await.unwrap();
        assert_eq!(receipt.vendor_task_id, "b-1");
        assert_eq!(receipt.accepted.len(), 200);
        assert!(receipt.rejected.is_empty());
        let call_ids: HashSet<_> = receipt.accepted.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(call_ids.len(), 200);
        assert!(call_ids.iter().all(|id| id.as_deref().is_some_and(|id| id.starts_with("c-"))));

        wait_until("200 references called back and deliveries drained", Duration::from_secs(30), || {
            receiver.distinct_references() == 200 && stats.callbacks_pending.load(Relaxed) == 0
        })
        .await;
        let deliveries = receiver.deliveries();
        assert_eq!(receiver.bad_signatures(), 0);
        assert_eq!(stats.callbacks_delivered.load(Relaxed), deliveries.len() as u64);
        assert_eq!(stats.callback_failures.load(Relaxed), 0);
        assert_eq!(stats.callbacks_abandoned.load(Relaxed), 0);

        // Duplicates repeat the very same result (same event_id), never more than once.
        let mut by_event: HashMap<&str, Vec<_>> = HashMap::new();
        for d in &deliveries {
            by_event.entry(d.result.event_id.as_str()).or_default().push(&d.result);
        }
        assert_eq!(by_event.len(), 200, "one event id per call");
        let duplicated = by_event.values().filter(|v| v.len() == 2).count();
        assert!(by_event.values().all(|v| v.len() <= 2 && v.iter().all(|r| *r == v[0])));
        assert_eq!(duplicated as u64, stats.duplicate_callbacks_sent.load(Relaxed));
        assert!((60..=140).contains(&duplicated), "{duplicated} duplicates at rate 0.5");

        // The statuses follow the weights (binomial, within 4 standard deviations).
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for results in by_event.values() {
            *counts.entry(results[0].status.as_str()).or_default() += 1;
            let answered = results[0].status == "ANSWERED";
            assert_eq!(results[0].intent.is_some(), answered, "{:?}", results[0]);
        }
        let total: f64 = weights.values().sum();
        for (code, weight) in &weights {
            let p = weight / total;
            let (expected, sd) = (200.0 * p, (200.0 * p * (1.0 - p)).sqrt());
            let got = counts.get(code.as_str()).copied().unwrap_or(0) as f64;
            assert!((got - expected).abs() <= 4.0 * sd + 1.0, "{code}: {got} vs {expected:.0}");
        }
        assert!(counts.keys().all(|c| weights.contains_key(*c)), "{counts:?}");

        // Lines were shared, never exceeded.
        let max = stats.max_dialing.load(Relaxed);
        assert!((2..=5).contains(&max), "max_dialing {max} with 5 lines");
        assert_eq!(stats.calls_dialed.load(Relaxed), 200);

        // Re-sending the batch returns the same calls and dials nobody again.
        let again = adapter.dispatch(&calls).await.unwrap();
        let first: HashMap<_, _> = receipt.accepted.iter().cloned().collect();
        assert!(again.accepted.iter().all(|(r, id)| first.get(r) == Some(id)));
        assert_eq!(again.accepted.len(), 200);
        // A fresh call queued after them: once it is back, anything re-queued would have been dialed.
        adapter.dispatch(&batch(&receiver.url, "probe", 1)).await.unwrap();
        wait_until("the probe call", Duration::from_secs(10), || receiver.distinct_references() == 201).await;
        assert_eq!(stats.calls_dialed.load(Relaxed), 201);
        assert_eq!(stats.calls_accepted.load(Relaxed), 201);
        assert_eq!(stats.double_dials.load(Relaxed), 0);

        // Results stay available by lookup after delivery.
        for d in deliveries.iter().take(50) {
            let LookupResult::Finished(event) =
                adapter.lookup(&crate::vendors::AttemptHandle::by_ref(&d.result.reference)).await.unwrap()
            else {
                panic!("{} not finished", d.result.reference);
            };
            assert_eq!(event.attempt_ref.as_deref(), Some(d.result.reference.as_str()));
            assert_eq!(event.external_call_id.as_deref(), Some(d.result.call_id.as_str()));
            assert_eq!(event.outcome.raw_code, Some(format!("sim:{}", d.result.status)));
            assert!(event.is_final && event.outcome.disposition != Disposition::Unknown);
        }
        assert_eq!(
            adapter.lookup(&crate::vendors::AttemptHandle::by_ref("never-sent")).await.unwrap(),
            LookupResult::NotFound
        );
        sim.shutdown().await;
    }

    /// The harness's fault knobs do what they say, and the recorder keeps
    /// every answer with the body's digest.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fault_knobs_drop_repeat_and_invent_results_and_every_answer_is_recorded() {
        // The receiver refuses the first two deliveries: recorded as 503.
        let receiver = Receiver::start(&[503, 503]).await;
        let settings = super::SimSettings {
            duplicate_rate: 1.0,
            duplicate_max: 4,
            callback_drop_rate: 0.25,
            unknown_callback_rate: 0.5,
            callback_jitter: Duration::from_millis(30),
            ..fast()
        };
        let (sim, adapter) = sim(settings).await;
        let stats = sim.stats.clone();
        adapter.dispatch(&batch(&receiver.url, "k", 100)).await.unwrap();
        let finished = || {
            let delivered = receiver.deliveries().iter().filter(|d| d.result.reference.starts_with('k')).count();
            let refs: HashSet<String> = receiver.deliveries().into_iter().map(|d| d.result.reference).collect();
            let ours = refs.iter().filter(|r| r.starts_with('k')).count() as u64;
            delivered > 0 && ours + stats.callbacks_dropped.load(Relaxed) == 100
        };
        wait_until("every call finished and its deliveries done", Duration::from_secs(30), || {
            finished() && stats.callbacks_pending.load(Relaxed) == 0
        })
        .await;
        let dropped = stats.callbacks_dropped.load(Relaxed);
        let strangers = stats.unknown_callbacks_sent.load(Relaxed);
        assert!((10..=45).contains(&dropped), "{dropped} of 100 dropped at rate 0.25");
        assert!((30..=70).contains(&strangers), "{strangers} of 100 unknown at rate 0.5");
        let ours = receiver.deliveries().into_iter().filter(|d| d.result.reference.starts_with('k'));
        let mut per_ref: HashMap<String, usize> = HashMap::new();
        for d in ours.filter(|d| d.answered == 200) {
            *per_ref.entry(d.result.reference).or_default() += 1;
        }
        assert_eq!(per_ref.len() as u64, 100 - dropped, "a dropped result is never delivered");
        assert!(per_ref.values().all(|n| (2..=5).contains(n)), "1 + 1..=4 duplicates: {per_ref:?}");
        assert!(per_ref.values().any(|n| *n >= 4), "duplicates reach duplicate_max");
        let records = sim.deliveries();
        assert_eq!(records.iter().filter(|r| r.status == 503).count(), 2, "refusals are recorded too");
        assert_eq!(records.len(), receiver.deliveries().len(), "one record per answer");
        assert!(records.iter().all(|r| r.sha256.len() == 64));
        assert_eq!(stats.number_overlaps.load(Relaxed), 0, "distinct numbers never overlap");
        sim.shutdown().await;
    }

    /// The overlap counter the crash loop relies on does count: two calls to
    /// one number on two lines at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_number_on_two_lines_at_once_is_counted() {
        let receiver = Receiver::start(&[]).await;
        let settings = super::SimSettings {
            latency_min: Duration::from_millis(300),
            latency_max: Duration::from_millis(300),
            ..fast()
        };
        let (sim, adapter) = sim(settings).await;
        let mut calls = batch(&receiver.url, "o", 2);
        let phone = calls.items[0].phone.clone();
        calls.items[1].phone = phone;
        adapter.dispatch(&calls).await.unwrap();
        wait_until("both calls called back", Duration::from_secs(10), || receiver.distinct_references() == 2).await;
        wait_until("deliveries done", Duration::from_secs(10), || sim.stats.callbacks_pending.load(Relaxed) == 0).await;
        assert_eq!(sim.stats.number_overlaps.load(Relaxed), 1);
        sim.shutdown().await;
    }
}
