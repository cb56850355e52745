//! The simulator: a call vendor speaking the [`wire`] protocol over real HTTP.
//!
//! Batches are accepted by the HTTP handlers here and queued for the dialer
//! (`dialer.rs`), which waits for a free line, "dials", and POSTs the signed
//! result to the batch's callback URL. State lives in memory only: a restarted
//! simulator has forgotten every reference it saw.

use super::MAX_BATCH_CALLS;
use super::dialer::{self, Pending, cancelled_result, roll_duplicate};
use super::settings::SimSettings;
use super::wire::{
    BatchAccepted, CallAccepted, CallResult, CallState, CallStatus, CancelResult, CreateBatch, SimError,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Credentials the simulator expects and signs with. Deliberately no `Debug`.
#[derive(Clone)]
pub struct SimAuth {
    pub api_key: String,
    pub callback_secret: String,
}

/// Counters, all readable while the simulator runs.
#[derive(Default, Debug)]
pub struct SimStats {
    pub batches_accepted: AtomicU64,
    pub batches_refused: AtomicU64,
    /// New calls stored (a re-sent reference is not counted again).
    pub calls_accepted: AtomicU64,
    pub calls_dialed: AtomicU64,
    /// Calls reported `CANCELLED` without dialing (cancel request or `not_after`).
    pub calls_cancelled: AtomicU64,
    /// Callback deliveries answered 2xx (duplicates included).
    pub callbacks_delivered: AtomicU64,
    /// Callback deliveries answered non-2xx or failed to connect.
    pub callback_failures: AtomicU64,
    /// Results whose delivery was given up after every retry failed (they
    /// stay available by lookup).
    pub callbacks_abandoned: AtomicU64,
    /// Second deliveries of a result that were answered 2xx.
    pub duplicate_callbacks_sent: AtomicU64,
    /// Results whose delivery (retries and duplicate included) is under way:
    /// 0 once every finished call has been delivered or given up on.
    pub callbacks_pending: AtomicU64,
    pub current_dialing: AtomicU64,
    pub max_dialing: AtomicU64,
    /// References dialed more than once: must stay 0.
    pub double_dials: AtomicU64,
    /// CreateBatch answers held back right now (see [`SimHandle::hold_answers`]).
    pub batches_held: AtomicU64,
    /// Calls put on a line while another call to the same number was still
    /// on one: the daemon must never cause this, so it must stay 0.
    pub number_overlaps: AtomicU64,
    /// Results never called back (`callback_drop_rate`).
    pub callbacks_dropped: AtomicU64,
    /// Signed results sent for references the daemon never sent.
    pub unknown_callbacks_sent: AtomicU64,
}

/// One answer the daemon gave to one callback delivery: what the recorder
/// of the reliability harness compares with the inbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRecord {
    /// SHA-256 of the body, hex (the daemon's inbox `dedupe_key`).
    pub sha256: String,
    pub reference: String,
    /// HTTP status, or 0 when no answer came (refused, reset, timeout).
    pub status: u16,
    pub at: DateTime<Utc>,
}

/// A configured simulator, not yet serving.
pub struct SimServer {
    settings: SimSettings,
    auth: SimAuth,
}

/// A running simulator. Dropping it (or [`SimHandle::shutdown`]) stops the
/// HTTP server, the dialer and every pending callback delivery.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub stats: Arc<SimStats>,
    answer_delay_ms: Arc<AtomicU64>,
    deliveries: Arc<Mutex<Vec<DeliveryRecord>>>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

/// Start the simulator on an already-bound listener (tests bind 127.0.0.1:0).
/// Invalid settings give an `InvalidInput` error naming the field.
pub async fn spawn(
    settings: SimSettings,
    auth: SimAuth,
    listener: tokio::net::TcpListener,
) -> std::io::Result<SimHandle> {
    SimServer::new(settings, auth)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
        .start(listener)
        .await
}

impl SimServer {
    pub fn new(settings: SimSettings, auth: SimAuth) -> Result<SimServer, String> {
        settings.validate()?;
        Ok(SimServer { settings, auth })
    }

    pub async fn start(self, listener: tokio::net::TcpListener) -> std::io::Result<SimHandle> {
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(SimStats::default());
        let answer_delay_ms = Arc::new(AtomicU64::new(self.settings.answer_latency.as_millis() as u64));
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let rng = match self.settings.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let callback_slots = self.settings.callback_senders.map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
        let shared = Arc::new(Shared {
            outcome_table: self.settings.outcome_table(),
            intent_table: self.settings.intent_table(),
            settings: self.settings,
            auth: self.auth,
            stats: stats.clone(),
            answer_delay_ms: answer_delay_ms.clone(),
            deliveries: deliveries.clone(),
            rng: Mutex::new(rng),
            store: Mutex::new(Store::default()),
            queue,
            http,
            callback_slots,
            stop: stop_rx.clone(),
        });
        tokio::spawn(dialer::run(shared.clone(), queue_rx));
        let app = Router::new()
            .route("/v1/batches", post(create_batch))
            .route("/v1/calls/{reference}", get(get_call))
            .route("/v1/calls/{reference}/cancel", post(cancel_call))
            .with_state(shared);
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx));
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "sim server failed");
            }
        });
        tracing::info!(%addr, "sim vendor listening");
        Ok(SimHandle { addr, stats, answer_delay_ms, deliveries, stop, server: Some(server) })
    }
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, answer each CreateBatch `delay` after its calls are
    /// queued (zero: at once): a slow vendor API, whose calls may already be
    /// dialing when the client learns they were accepted.
    /// Every answer the daemon gave to a callback so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn hold_answers(&self, delay: Duration) {
        self.answer_delay_ms.store(delay.as_millis() as u64, Relaxed);
    }

    /// Stop everything and wait (at most 5 s) for the listener to close.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err()
        {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Resolves once the simulator is told to stop (or its handle is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

pub(crate) struct Shared {
    pub settings: SimSettings,
    pub outcome_table: Vec<(String, f64)>,
    pub intent_table: Vec<(String, f64)>,
    pub auth: SimAuth,
    pub stats: Arc<SimStats>,
    answer_delay_ms: Arc<AtomicU64>,
    pub deliveries: Arc<Mutex<Vec<DeliveryRecord>>>,
    /// Randomness of batch refusals (per-call randomness is seeded per call).
    rng: Mutex<StdRng>,
    store: Mutex<Store>,
    queue: mpsc::UnboundedSender<String>,
    pub http: reqwest::Client,
    /// `callback_senders` permits; `None`: no limit.
    pub callback_slots: Option<Arc<tokio::sync::Semaphore>>,
    pub stop: watch::Receiver<bool>,
}

impl Shared {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
pub(crate) struct Store {
    next_batch: u64,
    next_call: u64,
    pub calls: HashMap<String, CallRecord>,
    /// Every reference that ever went on a line.
    pub dialed: HashSet<String>,
    /// Numbers on a line right now, with how many calls each.
    pub on_line: HashMap<String, u32>,
}

pub(crate) struct CallRecord {
    /// Call number, also the per-call RNG stream.
    pub seq: u64,
    pub call_id: String,
    pub batch_id: String,
    pub reference: String,
    pub phone: String,
    pub callback_url: String,
    pub not_after: Option<DateTime<Utc>>,
    pub state: CallState,
    pub result: Option<CallResult>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = SimError { code: code.to_string(), message: message.into() };
    (status, Json(body)).into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    constant_time_eq(given, format!("Bearer {}", shared.auth.api_key).as_bytes())
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn validate(batch: &CreateBatch) -> Result<(), String> {
    if batch.calls.is_empty() {
        return Err("calls must not be empty".into());
    }
    if batch.calls.len() > MAX_BATCH_CALLS {
        return Err(format!("at most {MAX_BATCH_CALLS} calls per batch, got {}", batch.calls.len()));
    }
    match reqwest::Url::parse(&batch.callback_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => return Err("callback_url must be an absolute http(s) URL".into()),
    }
    for (i, call) in batch.calls.iter().enumerate() {
        if call.reference.is_empty() || call.reference.len() > 200 {
            return Err(format!("calls[{i}].reference must be 1 to 200 characters"));
        }
        let digits = call.phone.strip_prefix('+').unwrap_or_default();
        if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            // The number itself is not echoed: it is personal data.
            return Err(format!(
                "calls[{i}] (reference {}): phone must be E.164, '+' and 1 to 15 digits",
                call.reference
            ));
        }
    }
    Ok(())
}

async fn create_batch(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let batch: CreateBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("body: {e}")),
    };
    if let Err(reason) = validate(&batch) {
        return error(StatusCode::BAD_REQUEST, "bad_request", reason);
    }
    let rate = s.settings.dispatch_failure_rate;
    if rate > 0.0 && s.rng.lock().unwrap_or_else(|p| p.into_inner()).random_bool(rate) {
        s.stats.batches_refused.fetch_add(1, Relaxed);
        tracing::info!(campaign = %batch.campaign, "sim refused a batch (simulated outage)");
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "simulated outage, retry later");
    }
    let mut fresh = Vec::new();
    let accepted = {
        let mut store = s.store();
        store.next_batch += 1;
        let batch_id = format!("b-{}", store.next_batch);
        let mut calls = Vec::with_capacity(batch.calls.len());
        for call in &batch.calls {
            if let Some(existing) = store.calls.get(&call.reference) {
                let call_id = existing.call_id.clone();
                calls.push(CallAccepted { reference: call.reference.clone(), call_id });
                continue;
            }
            store.next_call += 1;
            let seq = store.next_call;
            let record = CallRecord {
                seq,
                call_id: format!("c-{seq}"),
                batch_id: batch_id.clone(),
                reference: call.reference.clone(),
                phone: call.phone.clone(),
                callback_url: batch.callback_url.clone(),
                not_after: batch.not_after,
                state: CallState::Queued,
                result: None,
            };
            calls.push(CallAccepted { reference: call.reference.clone(), call_id: record.call_id.clone() });
            store.calls.insert(call.reference.clone(), record);
            fresh.push(call.reference.clone());
        }
        BatchAccepted { batch_id, calls }
    };
    s.stats.batches_accepted.fetch_add(1, Relaxed);
    s.stats.calls_accepted.fetch_add(fresh.len() as u64, Relaxed);
    tracing::debug!(
        campaign = %batch.campaign, batch_id = %accepted.batch_id,
        new_calls = fresh.len(), known_calls = batch.calls.len() - fresh.len(),
        "sim accepted a batch"
    );
    for reference in fresh {
        let _ = s.queue.send(reference); // fails only while shutting down
    }
    let delay = Duration::from_millis(s.answer_delay_ms.load(Relaxed));
    if !delay.is_zero() {
        let _held = Held::new(&s.stats);
        tokio::select! {
            _ = stopped(s.stop.clone()) => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }
    Json(accepted).into_response()
}

/// Counts a held answer in `batches_held` while it lives (also when the
/// client gives up and the handler is dropped).
struct Held(Arc<SimStats>);

impl Held {
    fn new(stats: &Arc<SimStats>) -> Self {
        stats.batches_held.fetch_add(1, Relaxed);
        Held(stats.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.batches_held.fetch_sub(1, Relaxed);
    }
}

async fn get_call(State(s): State<Arc<Shared>>, Path(reference): Path<String>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let store = s.store();
    match store.calls.get(&reference) {
        None => error(StatusCode::NOT_FOUND, "not_found", "no call with this reference"),
        Some(r) => Json(CallStatus {
            reference: r.reference.clone(),
            call_id: r.call_id.clone(),
            batch_id: r.batch_id.clone(),
            state: r.state,
            result: r.result.clone(),
        })
        .into_response(),
    }
}

async fn cancel_call(State(s): State<Arc<Shared>>, Path(reference): Path<String>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let delivery = {
        let mut store = s.store();
        let Some(record) = store.calls.get_mut(&reference) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no call with this reference");
        };
        if record.state != CallState::Queued {
            None // dialing or finished calls are not affected
        } else {
            let result = cancelled_result(record);
            record.state = CallState::Cancelled;
            record.result = Some(result.clone());
            Some((record.callback_url.clone(), result, record.seq))
        }
    };
    let cancelled = match delivery {
        Some((url, result, seq)) => {
            s.stats.calls_cancelled.fetch_add(1, Relaxed);
            tracing::debug!(%reference, "sim cancelled a queued call");
            let pending = Pending::new(&s.stats);
            let duplicate = roll_duplicate(&s, seq);
            tokio::spawn(dialer::deliver(s.clone(), url, result, duplicate, pending));
            1
        }
        None => 0,
    };
    Json(CancelResult { cancelled }).into_response()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{API_KEY, fast, sim, wait_until};
    use super::*;
    use crate::sim::wire::CallRequest;

    fn batch(n: usize) -> CreateBatch {
        CreateBatch {
            campaign: "c".into(),
            callback_url: "http://127.0.0.1:1/cb".into(),
            not_after: None,
            calls: (0..n)
                .map(|i| CallRequest {
                    reference: format!("r-{i}"),
                    phone: "+15550100".into(),
                    case_id: None,
                    variables: serde_json::Value::Null,
                })
                .collect(),
        }
    }

    #[test]
    fn batches_are_validated() {
        validate(&batch(1)).unwrap();
        validate(&batch(MAX_BATCH_CALLS)).unwrap();
        type Breaker = fn(&mut CreateBatch);
        let cases: &[(&str, Breaker)] = &[
            ("calls must not be empty", |b| b.calls.clear()),
            ("at most 500", |b| b.calls = batch(MAX_BATCH_CALLS + 1).calls),
            ("callback_url", |b| b.callback_url = "/relative".into()),
            ("callback_url", |b| b.callback_url = "ftp://x/cb".into()),
            ("calls[0].reference", |b| b.calls[0].reference.clear()),
            ("phone", |b| b.calls[0].phone = "15550100".into()),
            ("phone", |b| b.calls[0].phone = "+1555-0100".into()),
            ("phone", |b| b.calls[0].phone = "+".into()),
            ("phone", |b| b.calls[0].phone = "+1234567890123456".into()),
        ];
        for (needle, breaker) in cases {
            let mut b = batch(1);
            breaker(&mut b);
            let err = validate(&b).unwrap_err();
            assert!(err.contains(needle), "expected `{needle}` in: {err}");
        }
    }

    #[tokio::test]
    async fn every_endpoint_wants_the_bearer_token_and_speaks_sim_errors() {
        let server = sim(fast()).await;
        let http = reqwest::Client::new();
        let base = server.base_url();
        let requests = [
            http.post(format!("{base}/v1/batches")).json(&batch(1)),
            http.get(format!("{base}/v1/calls/r-0")),
            http.post(format!("{base}/v1/calls/r-0/cancel")),
        ];
        for request in requests {
            let answer = request.bearer_auth("nope").send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(answer.json::<SimError>().await.unwrap().code, "unauthorized");
        }
        let answer = http.post(format!("{base}/v1/batches")).bearer_auth(API_KEY).body("{").send();
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let error = answer.json::<SimError>().await.unwrap();
        assert!(error.code == "bad_request" && error.message.contains("line 1"), "{error:?}");
        for path in ["/v1/calls/r-0", "/v1/calls/r-0/cancel"] {
            let request = if path.ends_with("cancel") {
                http.post(format!("{base}{path}"))
            } else {
                http.get(format!("{base}{path}"))
            };
            let answer = request.bearer_auth(API_KEY).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND);
            assert_eq!(answer.json::<SimError>().await.unwrap().code, "not_found");
        }
        assert_eq!(server.stats.batches_accepted.load(Relaxed), 0);
    }

    /// The most callback requests a slow receiver held at once while the
    /// simulator delivered the results of 30 calls.
    async fn peak_deliveries_in_flight(callback_senders: Option<usize>) -> usize {
        use std::sync::atomic::AtomicUsize;
        let (held, peak, got) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counters = (held.clone(), peak.clone(), got.clone());
        let receiver = Router::new().route(
            "/cb",
            post(move || {
                let (held, peak, got) = counters.clone();
                async move {
                    peak.fetch_max(held.fetch_add(1, Relaxed) + 1, Relaxed);
                    // A slow receiver: each answer takes 100 ms.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    held.fetch_sub(1, Relaxed);
                    got.fetch_add(1, Relaxed);
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });
        let server = sim(SimSettings { callback_senders, ..fast() }).await;
        let mut calls = batch(30);
        calls.callback_url = url;
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/batches", server.base_url()))
            .bearer_auth(API_KEY)
            .json(&calls)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        wait_until("every result delivered", Duration::from_secs(30), || got.load(Relaxed) == 30).await;
        peak.load(Relaxed)
    }

    #[tokio::test]
    async fn callback_senders_bound_the_deliveries_in_flight() {
        let bounded = peak_deliveries_in_flight(Some(3)).await;
        assert!((1..=3).contains(&bounded), "at most 3 senders, the receiver held {bounded}");
        let unbounded = peak_deliveries_in_flight(None).await;
        assert!(unbounded > 3, "without a pool the results arrive together: {unbounded}");
        let err = SimSettings { callback_senders: Some(0), ..fast() }.validate().unwrap_err();
        assert!(err.contains("callback_senders"), "{err}");
    }

    #[tokio::test]
    async fn invalid_settings_are_refused_and_a_dropped_handle_stops_listening() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth = SimAuth { api_key: "k".into(), callback_secret: "s".into() };
        let settings = SimSettings { duplicate_rate: 2.0, ..SimSettings::default() };
        let err = spawn(settings, auth, listener).await.err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("duplicate_rate"), "{err}");

        let server = sim(fast()).await;
        let addr = server.addr;
        drop(server);
        wait_until("the listener to close", Duration::from_secs(10), || std::net::TcpStream::connect(addr).is_err())
            .await;
    }
}
