//! The simulator's dialer and callback delivery.
//!
//! One task takes queued references in order, waits for a free line (a
//! semaphore of `max_lines` permits) and starts each call on its own task,
//! which holds the line for a random latency, picks a weighted result, stores
//! it and POSTs it, signed, to the batch's callback URL with retries.

use super::codes::{CALLBACK, CANCELLED};
use super::server::{CallRecord, DeliveryRecord, Shared, SimStats, stopped};
use super::settings::pick_weighted;
use super::sign;
use super::wire::{CallResult, CallState, SIGNATURE_HEADER};
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Take queued references in order and start each once a line is free.
pub(crate) async fn run(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<String>) {
    let lines = Arc::new(Semaphore::new(shared.settings.max_lines));
    loop {
        let reference = tokio::select! {
            _ = stopped(shared.stop.clone()) => return,
            next = queue.recv() => match next {
                Some(reference) => reference,
                None => return,
            },
        };
        let permit = tokio::select! {
            _ = stopped(shared.stop.clone()) => return,
            permit = lines.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return, // the semaphore is never closed
            },
        };
        start(&shared, reference, permit);
    }
}

enum Start {
    Skip,
    Cancel { url: String, result: CallResult, seq: u64 },
    Dial(Call),
}

struct Call {
    seq: u64,
    call_id: String,
    batch_id: String,
    reference: String,
    phone: String,
    url: String,
}

fn start(shared: &Arc<Shared>, reference: String, permit: OwnedSemaphorePermit) {
    let now = Utc::now();
    let decision = {
        let mut store = shared.store();
        let store = &mut *store;
        match store.calls.get_mut(&reference) {
            // Cancelled through the API while queued: already reported.
            Some(record) if record.state != CallState::Queued => Start::Skip,
            None => Start::Skip,
            Some(record) if record.not_after.is_some_and(|limit| limit <= now) => {
                let result = cancelled_result(record);
                record.state = CallState::Cancelled;
                record.result = Some(result.clone());
                Start::Cancel { url: record.callback_url.clone(), result, seq: record.seq }
            }
            Some(record) => {
                record.state = CallState::Dialing;
                if !store.dialed.insert(reference.clone()) {
                    shared.stats.double_dials.fetch_add(1, Relaxed);
                    tracing::error!(%reference, "sim dialed a reference twice");
                }
                let phone = record.phone.clone();
                let on_line = store.on_line.entry(phone.clone()).or_default();
                if *on_line > 0 {
                    shared.stats.number_overlaps.fetch_add(1, Relaxed);
                    tracing::error!(%reference, "sim put a number on a second line while it was still on one");
                }
                *on_line += 1;
                Start::Dial(Call {
                    seq: record.seq,
                    call_id: record.call_id.clone(),
                    batch_id: record.batch_id.clone(),
                    reference,
                    phone,
                    url: record.callback_url.clone(),
                })
            }
        }
    };
    match decision {
        Start::Skip => {}
        Start::Cancel { url, result, seq } => {
            drop(permit);
            shared.stats.calls_cancelled.fetch_add(1, Relaxed);
            tracing::debug!(reference = %result.reference, "sim cancelled a call past not_after");
            let pending = Pending::new(&shared.stats);
            let duplicate = roll_duplicate(shared, seq);
            tokio::spawn(deliver(shared.clone(), url, result, duplicate, pending));
        }
        Start::Dial(call) => {
            let stats = &shared.stats;
            stats.calls_dialed.fetch_add(1, Relaxed);
            let now_dialing = stats.current_dialing.fetch_add(1, Relaxed) + 1;
            stats.max_dialing.fetch_max(now_dialing, Relaxed);
            tokio::spawn(dial(shared.clone(), call, permit));
        }
    }
}

async fn dial(shared: Arc<Shared>, call: Call, line: OwnedSemaphorePermit) {
    let settings = &shared.settings;
    let mut rng = call_rng(settings.seed, call.seq, 0);
    let (lo, hi) = (settings.latency_min.as_micros(), settings.latency_max.as_micros());
    let latency = Duration::from_micros(rng.random_range(lo as u64..=hi as u64));
    let started_at = Utc::now();
    tokio::select! {
        _ = stopped(shared.stop.clone()) => return,
        _ = tokio::time::sleep(latency) => {}
    }
    // validate() guarantees a positive total; FAILED is a safe fallback anyway.
    let status = pick_weighted(&shared.outcome_table, rng.random()).unwrap_or("FAILED");
    let intent = match status {
        "ANSWERED" => pick_weighted(&shared.intent_table, rng.random()).map(str::to_string),
        _ => None,
    };
    let ended_at = Utc::now();
    let callback_at = match (intent.as_deref(), settings.callback_after) {
        (Some(CALLBACK), Some(after)) => Some(callback_time(ended_at, after)),
        _ => None,
    };
    let result = CallResult {
        event_id: uuid::Uuid::new_v4().to_string(),
        call_id: call.call_id.clone(),
        reference: call.reference,
        batch_id: call.batch_id,
        status: status.to_string(),
        intent,
        started_at: Some(started_at),
        ended_at,
        duration_ms: (ended_at - started_at).num_milliseconds(),
        callback_at,
    };
    {
        let mut store = shared.store();
        if let Some(record) = store.calls.get_mut(&result.reference) {
            record.state = CallState::Finished;
            record.result = Some(result.clone());
        }
        if let Some(n) = store.on_line.get_mut(&call.phone) {
            *n -= 1;
            if *n == 0 {
                store.on_line.remove(&call.phone);
            }
        }
    }
    let pending = Pending::new(&shared.stats);
    shared.stats.current_dialing.fetch_sub(1, Relaxed);
    drop(line);
    tracing::debug!(reference = %result.reference, status = %result.status, "sim call finished");
    if roll(&shared, call.seq, 3, settings.unknown_callback_rate) {
        let stranger = CallResult {
            event_id: uuid::Uuid::new_v4().to_string(),
            call_id: format!("x-{}", call.seq),
            reference: format!("unknown-{}", uuid::Uuid::new_v4()),
            ..result.clone()
        };
        shared.stats.unknown_callbacks_sent.fetch_add(1, Relaxed);
        let pending = Pending::new(&shared.stats);
        tokio::spawn(deliver(shared.clone(), call.url.clone(), stranger, 0, pending));
    }
    if roll(&shared, call.seq, 2, settings.callback_drop_rate) {
        shared.stats.callbacks_dropped.fetch_add(1, Relaxed);
        tracing::debug!(reference = %result.reference, "sim dropped a callback (result available by lookup)");
        return;
    }
    let jitter = settings.callback_jitter.as_micros() as u64;
    if jitter > 0 {
        let wait = Duration::from_micros(call_rng(settings.seed, call.seq, 4).random_range(0..=jitter));
        tokio::select! {
            _ = stopped(shared.stop.clone()) => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    let duplicate = roll_duplicate(&shared, call.seq);
    deliver(shared, call.url, result, duplicate, pending).await;
}

/// A yes/no of one call's own random stream `stream`, true with `rate`.
fn roll(shared: &Shared, seq: u64, stream: u64, rate: f64) -> bool {
    rate > 0.0 && call_rng(shared.settings.seed, seq, stream).random_bool(rate)
}

/// The result reported for a call that was never dialed.
pub(crate) fn cancelled_result(record: &CallRecord) -> CallResult {
    CallResult {
        event_id: uuid::Uuid::new_v4().to_string(),
        call_id: record.call_id.clone(),
        reference: record.reference.clone(),
        batch_id: record.batch_id.clone(),
        status: CANCELLED.to_string(),
        intent: None,
        started_at: None,
        ended_at: Utc::now(),
        duration_ms: 0,
        callback_at: None,
    }
}

/// `after` past `ended_at`, in whole seconds like a vendor's slot, as RFC 3339.
fn callback_time(ended_at: DateTime<Utc>, after: Duration) -> String {
    let at = ended_at + chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::MAX);
    at.trunc_subsecs(0).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Randomness of one call: reproducible per call number when a seed is set,
/// whatever order the calls finish in.
fn call_rng(seed: Option<u64>, seq: u64, stream: u64) -> StdRng {
    match seed {
        Some(seed) => {
            let mixed = seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.rotate_left(32);
            StdRng::seed_from_u64(mixed)
        }
        None => StdRng::from_os_rng(),
    }
}

/// How many extra deliveries of the same body a result gets: 0, or (with
/// `duplicate_rate`) between 1 and `duplicate_max`.
pub(crate) fn roll_duplicate(shared: &Shared, seq: u64) -> u32 {
    let s = &shared.settings;
    if !roll(shared, seq, 1, s.duplicate_rate) {
        return 0;
    }
    call_rng(s.seed, seq, 5).random_range(1..=s.duplicate_max.max(1))
}

/// POST a result to the callback URL (with retries); then deliver the very
/// same body `duplicates` more times after the first success.
/// `pending` is held until the delivery is over.
pub(crate) async fn deliver(shared: Arc<Shared>, url: String, result: CallResult, duplicates: u32, pending: Pending) {
    let _pending = pending;
    let body = match serde_json::to_vec(&result) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            tracing::error!(error = %e, "sim could not encode a CallResult");
            return;
        }
    };
    let signature = sign(&shared.auth.callback_secret, &body);
    match send(&shared, &url, &body, &signature, &result.reference).await {
        Sent::Delivered => {}
        Sent::GaveUp => {
            shared.stats.callbacks_abandoned.fetch_add(1, Relaxed);
            return;
        }
        Sent::Stopped => return,
    }
    for _ in 0..duplicates {
        if send(&shared, &url, &body, &signature, &result.reference).await != Sent::Delivered {
            break;
        }
        shared.stats.duplicate_callbacks_sent.fetch_add(1, Relaxed);
    }
}

/// Counts a delivery in `callbacks_pending` for as long as it lives, even
/// when the task is dropped at shutdown.
pub(crate) struct Pending(Arc<SimStats>);

impl Pending {
    pub(crate) fn new(stats: &Arc<SimStats>) -> Self {
        stats.callbacks_pending.fetch_add(1, Relaxed);
        Pending(stats.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.callbacks_pending.fetch_sub(1, Relaxed);
    }
}

/// How one delivery (with its retries) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// The receiver answered 2xx.
    Delivered,
    /// Every try failed; the result stays available by lookup.
    GaveUp,
    /// The simulator is shutting down.
    Stopped,
}

/// One delivery with its retries.
async fn send(shared: &Shared, url: &str, body: &Bytes, signature: &str, reference: &str) -> Sent {
    let settings = &shared.settings;
    let stats = &shared.stats;
    for attempt in 0..=settings.callback_retries {
        if attempt > 0 {
            tokio::select! {
                _ = stopped(shared.stop.clone()) => return Sent::Stopped,
                _ = tokio::time::sleep(settings.callback_retry_interval) => {}
            }
        }
        // A sender of the pool for this try only: a delivery waiting to
        // retry holds none.
        let _sender = match &shared.callback_slots {
            None => None,
            Some(slots) => tokio::select! {
                _ = stopped(shared.stop.clone()) => return Sent::Stopped,
                permit = slots.acquire() => permit.ok(),
            },
        };
        let request = shared
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send();
        let answer = tokio::select! {
            _ = stopped(shared.stop.clone()) => return Sent::Stopped,
            answer = request => answer,
        };
        record(shared, body, reference, answer.as_ref().map(|r| r.status().as_u16()).unwrap_or(0));
        match answer {
            Ok(response) if response.status().is_success() => {
                stats.callbacks_delivered.fetch_add(1, Relaxed);
                return Sent::Delivered;
            }
            Ok(response) => {
                stats.callback_failures.fetch_add(1, Relaxed);
                tracing::debug!(%reference, attempt, status = %response.status(), "sim callback refused");
            }
            Err(e) => {
                stats.callback_failures.fetch_add(1, Relaxed);
                tracing::debug!(%reference, attempt, error = %e.without_url(), "sim callback failed");
            }
        }
    }
    tracing::warn!(
        %reference, url = crate::json::loggable_url(url), attempts = settings.callback_retries + 1,
        "sim gave up delivering a callback; the result stays available by lookup"
    );
    Sent::GaveUp
}

/// Keep the daemon's answer to one delivery (see [`DeliveryRecord`]).
fn record(shared: &Shared, body: &Bytes, reference: &str, status: u16) {
    use sha2::Digest;
    if !shared.settings.record_deliveries {
        return;
    }
    let entry = DeliveryRecord {
        sha256: hex::encode(sha2::Sha256::digest(body)),
        reference: reference.to_string(),
        status,
        at: Utc::now(),
    };
    shared.deliveries.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
}
