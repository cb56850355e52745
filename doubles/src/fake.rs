//! The engine under every protocol-faithful vendor fake (`<kind>/mod.rs`):
//! lines, latency, weighted outcomes, cancels, double-dial detection and
//! callback delivery with retries. Each fake adds its vendor's endpoints,
//! signature checks, limits, error codes and payload formats on top.
//!
//! Fakes run in tests and inside the daemon (`embedded_listen` on a vendor of
//! any kind, with the daemon's `doubles` feature), so a campaign can be tried
//! against a vendor's real protocol without the vendor.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// Behaviour of a fake vendor, from the vendor's `[vendors.fake]` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FakeBehavior {
    /// Shortest time a call spends on a line before its result.
    #[serde(with = "humantime_serde")]
    pub latency_min: Duration,
    /// Longest time a call spends on a line before its result.
    #[serde(with = "humantime_serde")]
    pub latency_max: Duration,
    /// Deterministic randomness when set.
    pub seed: Option<u64>,
    /// Weights of the vendor's own result codes; empty means the fake's defaults.
    pub outcomes: BTreeMap<String, f64>,
    /// Most calls dialing at once; the rest wait for a line.
    pub max_lines: usize,
    /// Deliveries after the first on a non-2xx answer or a connection error.
    pub callback_retries: u32,
    #[serde(with = "humantime_serde")]
    pub callback_retry_interval: Duration,
    /// Once this many calls were accepted, every API request fails with the
    /// vendor's documented fatal error (e.g. balance or auth): for testing
    /// circuit breakers and failover.
    pub fatal_after_calls: Option<u64>,
    /// Share of task creations refused with the vendor's "busy, retry later" code.
    pub busy_rate: f64,
    /// Where the fake pushes results when the vendor's API has no per-task
    /// callback field (real vendors take it in their console). The daemon
    /// fills in its own `/callbacks/{vendor_id}?token=...` URL when unset.
    pub callback_url: Option<String>,
}

impl Default for FakeBehavior {
    fn default() -> Self {
        FakeBehavior {
            latency_min: Duration::from_millis(200),
            latency_max: Duration::from_secs(2),
            seed: None,
            outcomes: BTreeMap::new(),
            max_lines: 100,
            callback_retries: 5,
            callback_retry_interval: Duration::from_secs(1),
            fatal_after_calls: None,
            busy_rate: 0.0,
            callback_url: None,
        }
    }
}

impl FakeBehavior {
    /// Fast and deterministic, for tests.
    pub fn fast(seed: u64) -> FakeBehavior {
        FakeBehavior {
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(20),
            seed: Some(seed),
            callback_retry_interval: Duration::from_millis(50),
            ..FakeBehavior::default()
        }
    }

    pub fn validate(&self, known_codes: &[&str]) -> Result<(), String> {
        if self.latency_min > self.latency_max {
            return Err("latency_min must not exceed latency_max".into());
        }
        if self.max_lines == 0 {
            return Err("max_lines must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.busy_rate) {
            return Err("busy_rate must be between 0 and 1".into());
        }
        if let Some(code) = self.outcomes.keys().find(|c| !known_codes.contains(&c.as_str())) {
            return Err(format!("outcomes: unknown code `{code}` (known: {})", known_codes.join(", ")));
        }
        if self.outcomes.values().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("outcomes: weights must be finite and not negative".into());
        }
        if !self.outcomes.is_empty() && self.outcomes.values().sum::<f64>() <= 0.0 {
            return Err("outcomes: at least one weight must be positive".into());
        }
        Ok(())
    }
}

/// Counters a test (or the demo) reads off a running fake.
#[derive(Debug, Default)]
pub struct FakeStats {
    pub tasks_created: AtomicU64,
    /// Requests answered with a vendor error code (limits, busy, fatal).
    pub requests_refused: AtomicU64,
    /// Requests whose signature or token did not check out.
    pub bad_auth: AtomicU64,
    pub calls_accepted: AtomicU64,
    pub dials: AtomicU64,
    /// Dials the vendor made on its own (redial features) on top of `dials`.
    pub vendor_redials: AtomicU64,
    /// The same call key dialed twice: must stay 0.
    pub double_dials: AtomicU64,
    /// The same phone dialing on two lines at once: must stay 0.
    pub concurrent_same_phone: AtomicU64,
    pub cancelled: AtomicU64,
    /// Calls not dialed because the pre-dial check said no.
    pub predial_refused: AtomicU64,
    pub callbacks_delivered: AtomicU64,
    pub callback_failures: AtomicU64,
    pub callbacks_pending: AtomicU64,
    pub current_dialing: AtomicU64,
    pub max_dialing: AtomicU64,
}

/// One call handed to the dialer.
pub struct FakeCall {
    /// Unique per vendor call (e.g. `<task>/<phone>`): dialing a key twice is a double dial.
    pub key: String,
    pub phone: String,
    /// Not dialed after this instant (reported as cancelled instead).
    pub not_after: Option<DateTime<Utc>>,
}

/// What became of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialed {
    pub key: String,
    /// The vendor code rolled from the outcome weights; `None` when not dialed.
    pub code: Option<String>,
    /// Why it was not dialed (cancelled, past not_after, pre-dial refused).
    pub not_dialed: Option<String>,
    pub seq: u64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

/// A pre-dial check run right before a call is dialed: false means do not dial.
pub type PredialCheck = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, bool> + Send>;

pub struct FakeDialer {
    pub behavior: FakeBehavior,
    pub stats: Arc<FakeStats>,
    table: Vec<(String, f64)>,
    lines: Arc<Semaphore>,
    seq: AtomicU64,
    state: Mutex<DialerState>,
    stop: watch::Receiver<bool>,
}

#[derive(Default)]
struct DialerState {
    dialed: HashSet<String>,
    cancelled: HashSet<String>,
    on_line: HashMap<String, u32>,
}

impl FakeDialer {
    /// `defaults` are the vendor's codes and weights used when the behavior
    /// names none.
    pub fn new(
        behavior: FakeBehavior,
        defaults: &[(&str, f64)],
        stats: Arc<FakeStats>,
        stop: watch::Receiver<bool>,
    ) -> Arc<FakeDialer> {
        let table: Vec<(String, f64)> = if behavior.outcomes.is_empty() {
            defaults.iter().map(|(c, w)| (c.to_string(), *w)).collect()
        } else {
            behavior.outcomes.iter().map(|(c, w)| (c.clone(), *w)).collect()
        };
        Arc::new(FakeDialer {
            lines: Arc::new(Semaphore::new(behavior.max_lines.max(1))),
            behavior,
            stats,
            table,
            seq: AtomicU64::new(0),
            state: Mutex::new(DialerState::default()),
            stop,
        })
    }

    /// True once `fatal_after_calls` calls were accepted.
    pub fn is_fatal(&self) -> bool {
        self.behavior.fatal_after_calls.is_some_and(|n| self.stats.calls_accepted.load(Relaxed) >= n)
    }

    /// Roll whether a task creation is refused as "busy".
    pub fn roll_busy(&self) -> bool {
        self.behavior.busy_rate > 0.0
            && self.rng(self.seq.fetch_add(1, Relaxed), 7).random::<f64>() < self.behavior.busy_rate
    }

    /// A deterministic rng for call `seq` (stream separates independent rolls).
    pub fn rng(&self, seq: u64, stream: u64) -> StdRng {
        match self.behavior.seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (stream << 56)),
            None => StdRng::from_os_rng(),
        }
    }

    /// Pick one of `table`'s codes by weight, with a roll in [0, 1).
    pub fn pick(table: &[(String, f64)], roll: f64) -> Option<&str> {
        let total: f64 = table.iter().map(|(_, w)| w).sum();
        let mut left = roll * total;
        for (code, w) in table {
            if left < *w {
                return Some(code);
            }
            left -= w;
        }
        table.iter().rev().find(|(_, w)| *w > 0.0).map(|(c, _)| c.as_str())
    }

    /// Cancel a call that has not started dialing. True if it was still waiting.
    pub fn cancel(&self, key: &str) -> bool {
        let mut st = self.state.lock().unwrap();
        if st.dialed.contains(key) {
            return false;
        }
        st.cancelled.insert(key.to_string())
    }

    /// Queue a call; `done` runs once with what became of it.
    pub fn place(
        self: &Arc<Self>,
        call: FakeCall,
        predial: Option<PredialCheck>,
        done: impl FnOnce(Dialed) + Send + 'static,
    ) {
        self.stats.calls_accepted.fetch_add(1, Relaxed);
        let seq = self.seq.fetch_add(1, Relaxed);
        let me = self.clone();
        tokio::spawn(async move {
            let mut stop = me.stop.clone();
            let permit = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                p = me.lines.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            let started_at = Utc::now();
            let skip = |reason: &str| Dialed {
                key: call.key.clone(),
                code: None,
                not_dialed: Some(reason.to_string()),
                seq,
                started_at,
                ended_at: Utc::now(),
            };
            if me.state.lock().unwrap().cancelled.contains(&call.key) {
                me.stats.cancelled.fetch_add(1, Relaxed);
                return done(skip("cancelled"));
            }
            if call.not_after.is_some_and(|t| t <= started_at) {
                me.stats.cancelled.fetch_add(1, Relaxed);
                return done(skip("past not_after"));
            }
            if let Some(check) = predial
                && !check().await
            {
                me.stats.predial_refused.fetch_add(1, Relaxed);
                return done(skip("pre-dial check refused"));
            }
            {
                let mut st = me.state.lock().unwrap();
                if st.cancelled.contains(&call.key) {
                    me.stats.cancelled.fetch_add(1, Relaxed);
                    drop(st);
                    return done(skip("cancelled"));
                }
                if !st.dialed.insert(call.key.clone()) {
                    me.stats.double_dials.fetch_add(1, Relaxed);
                    tracing::error!(key = %call.key, "fake vendor dialed a call twice");
                }
                let n = st.on_line.entry(call.phone.clone()).or_default();
                *n += 1;
                if *n > 1 {
                    me.stats.concurrent_same_phone.fetch_add(1, Relaxed);
                }
            }
            me.stats.dials.fetch_add(1, Relaxed);
            let now_dialing = me.stats.current_dialing.fetch_add(1, Relaxed) + 1;
            me.stats.max_dialing.fetch_max(now_dialing, Relaxed);
            let mut rng = me.rng(seq, 0);
            let (lo, hi) = (me.behavior.latency_min.as_micros() as u64, me.behavior.latency_max.as_micros() as u64);
            let latency = Duration::from_micros(rng.random_range(lo..=hi.max(lo)));
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(latency) => {}
            }
            let code = Self::pick(&me.table, rng.random()).map(str::to_string);
            {
                let mut st = me.state.lock().unwrap();
                if let Some(n) = st.on_line.get_mut(&call.phone) {
                    *n -= 1;
                    if *n == 0 {
                        st.on_line.remove(&call.phone);
                    }
                }
            }
            me.stats.current_dialing.fetch_sub(1, Relaxed);
            drop(permit);
            done(Dialed { key: call.key, code, not_dialed: None, seq, started_at, ended_at: Utc::now() });
        });
    }
}

/// POST `body` to `url` until it is answered 2xx or the retries run out, in
/// the background. Deliveries are counted in `stats`.
pub fn deliver(
    http: reqwest::Client,
    dialer: &Arc<FakeDialer>,
    url: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
) {
    let stats = dialer.stats.clone();
    let (retries, interval) = (dialer.behavior.callback_retries, dialer.behavior.callback_retry_interval);
    let mut stop = dialer.stop.clone();
    stats.callbacks_pending.fetch_add(1, Relaxed);
    tokio::spawn(async move {
        for attempt in 0..=retries {
            if attempt > 0 {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
            let mut req = http.post(&url).header("content-type", "application/json").body(body.clone());
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    stats.callbacks_delivered.fetch_add(1, Relaxed);
                    break;
                }
                Ok(r) => {
                    tracing::debug!(url = crate::json::loggable_url(&url), status = %r.status(), "fake vendor callback refused");
                    stats.callback_failures.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    tracing::debug!(url = crate::json::loggable_url(&url), error = %e.without_url(), "fake vendor callback failed");
                    stats.callback_failures.fetch_add(1, Relaxed);
                }
            }
        }
        stats.callbacks_pending.fetch_sub(1, Relaxed);
    });
}

/// A running fake vendor.
pub struct FakeHandle {
    pub addr: SocketAddr,
    pub stats: Arc<FakeStats>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving, dialing and delivering.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A stop signal for a fake about to be built: the dialer takes the receiver,
/// [`serve`] the sender.
pub fn stop_signal() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

/// Serve `router` on `listener` until the handle is shut down or dropped.
pub fn serve(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    stats: Arc<FakeStats>,
    stop: watch::Sender<bool>,
) -> std::io::Result<FakeHandle> {
    let addr = listener.local_addr()?;
    let mut rx = stop.subscribe();
    let task = tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
    });
    Ok(FakeHandle { addr, stats, stop, task: Some(task) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_dialed_once_cancels_and_not_after_are_honoured() {
        let (stop_tx, stop_rx) = stop_signal();
        let behavior = FakeBehavior { max_lines: 1, ..FakeBehavior::fast(3) };
        let stats = Arc::new(FakeStats::default());
        let dialer = FakeDialer::new(behavior, &[("OK", 1.0)], stats.clone(), stop_rx);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let past = Some(Utc::now() - chrono::Duration::seconds(1));
        for (key, not_after) in [("a", None), ("b", None), ("c", past)] {
            let tx = tx.clone();
            let call = FakeCall { key: key.into(), phone: format!("+1{key}"), not_after };
            dialer.place(call, None, move |d| tx.send(d).unwrap());
        }
        // One line: "b" waits behind "a", so it can still be cancelled.
        assert!(dialer.cancel("b"));
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(rx.recv().await.unwrap());
        }
        got.sort_by(|x, y| x.key.cmp(&y.key));
        assert_eq!(got[0].code.as_deref(), Some("OK"));
        assert_eq!(got[1].not_dialed.as_deref(), Some("cancelled"));
        assert_eq!(got[2].not_dialed.as_deref(), Some("past not_after"));
        assert!(!dialer.cancel("a"), "a dialed call cannot be cancelled");
        assert_eq!(stats.dials.load(Relaxed), 1);
        assert_eq!(stats.cancelled.load(Relaxed), 2);
        assert_eq!(stats.double_dials.load(Relaxed), 0);
        drop(stop_tx);
    }

    #[test]
    fn weighted_pick_and_validation() {
        let table = vec![("A".to_string(), 1.0), ("B".to_string(), 3.0), ("Z".to_string(), 0.0)];
        assert_eq!(FakeDialer::pick(&table, 0.0), Some("A"));
        assert_eq!(FakeDialer::pick(&table, 0.3), Some("B"));
        assert_eq!(FakeDialer::pick(&table, 0.999), Some("B"));
        let bad = FakeBehavior { outcomes: [("X".to_string(), 1.0)].into(), ..FakeBehavior::default() };
        assert!(bad.validate(&["A"]).unwrap_err().contains("unknown code `X`"));
        assert!(FakeBehavior::default().validate(&["A"]).is_ok());
    }
}
