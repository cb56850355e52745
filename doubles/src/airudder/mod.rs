//! A protocol-faithful AIRudder: Bearer tokens from `/auth` with a lifetime,
//! task creation with AIRudder's checks and error codes, dialing through the
//! shared [`FakeDialer`] (with AIRudder's own redials when the task asks for
//! `repeat_number`), per-call and whole-task cancels, a paged `/detail`, and
//! webhooks aggregating every call that finished within 50 ms into one POST.
//!
//! Requests are read as JSON values and every body it sends is built as JSON
//! from the document's field list ([`body`]), never with the adapter's
//! types; [`Variations`] make it send what real AIRudder bodies show beyond
//! the document's example.

mod api;
pub mod body;

use crate::config::FakeConfig;
use crate::fake::{FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats, deliver, serve, stop_signal};
use api::{Reply, code};
use axum::http::HeaderMap;
use axum::routing::post;
pub use body::Variations;
use body::{Builder, Callee, DialDone, TaskInfo};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Key of `X-AIRudder-Sign` when the account sets none (AIRudder's default).
pub const DEFAULT_SIGN_KEY: &str = "airudder";
/// Local times of the webhook and of task schedules, in the account's zone.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `X-AIRudder-Sign`: the algorithm is not public; the fake signs the raw
/// body with `hex(HMAC-SHA256(key, body))`, the one the daemon can check.
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// AIRudder's number rule (10510): `+` then at most 14 digits.
fn phone_ok(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|d| (1..=14).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The account settings the fake reads from [`FakeConfig::options`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Options {
    /// Path prefix of every API call (`/service/cloud/task` ...).
    path_prefix: String,
    /// The account's zone: schedules and webhook times are in it.
    account_timezone: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { path_prefix: "service/cloud".into(), account_timezone: "UTC".into() }
    }
}

/// Codes a fake's `outcomes` may weight: `E` answered (robot label E), `F`
/// rang without an answer, a `ring_type` for an announcement, `failed`.
pub const CODES: &[&str] = &[
    "E",
    "F",
    "busy",
    "cantuse",
    "hold",
    "line",
    "switchoff",
    "outofarea",
    "unregister",
    "wrongnum",
    "notmatch",
    "failed",
];

/// The default mix: 40 % answered.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("E", 0.40),
    ("F", 0.22),
    ("busy", 0.10),
    ("switchoff", 0.08),
    ("outofarea", 0.05),
    ("notmatch", 0.03),
    ("wrongnum", 0.03),
    ("unregister", 0.02),
    ("cantuse", 0.02),
    ("line", 0.02),
    ("hold", 0.01),
    ("failed", 0.02),
];

/// How often finished calls are flushed into one webhook per task.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Test handles on a running fake: token lifetime, invalidation, variations, counters.
pub struct FakeControl {
    token_lifetime: Mutex<Duration>,
    /// Every `/auth` request, answered or refused.
    pub auth_requests: AtomicU64,
    /// While set, `/auth` refuses every APPKey with 10301.
    refuse_auth: std::sync::atomic::AtomicBool,
    /// The next this-many task creations answer 10508 (name taken) whatever the name.
    pub name_clashes: AtomicU64,
    /// Webhook POSTs sent and the records they carried.
    pub webhooks: AtomicU64,
    pub webhook_details: AtomicU64,
    /// Webhooks not sent (`drop_callbacks`).
    pub webhooks_dropped: AtomicU64,
    /// `/detail` pages asked for.
    pub detail_requests: AtomicU64,
    variations: Mutex<Variations>,
    state: Mutex<Books>,
}

impl FakeControl {
    pub fn set_token_lifetime(&self, d: Duration) {
        *self.token_lifetime.lock().unwrap() = d;
    }
    /// Forget every token issued so far (as if they all expired).
    pub fn invalidate_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }
    pub fn refuse_auth(&self, refuse: bool) {
        self.refuse_auth.store(refuse, Relaxed);
    }
    /// The variations in force from now on.
    pub fn set_variations(&self, v: Variations) {
        *self.variations.lock().unwrap() = v;
    }
    pub fn update_variations(&self, f: impl FnOnce(&mut Variations)) {
        f(&mut self.variations.lock().unwrap());
    }
    fn variations(&self) -> Variations {
        self.variations.lock().unwrap().clone()
    }
    /// Names of the tasks created so far (for name-clash tests).
    pub fn task_names(&self) -> Vec<String> {
        self.state.lock().unwrap().names.iter().cloned().collect()
    }
    /// A task's `status` (`calling`, or `canceled` once stopped).
    pub fn task_status(&self, task_id: &str) -> Option<String> {
        self.state.lock().unwrap().tasks.get(task_id).map(|t| t.info.status.clone())
    }
    /// `repeat_number` of a task.
    pub fn repeat_number(&self, task_id: &str) -> Option<i64> {
        self.state.lock().unwrap().tasks.get(task_id).map(|t| t.info.repeat_number)
    }
}

#[derive(Default)]
struct Books {
    tokens: HashMap<String, Instant>,
    names: HashSet<String>,
    tasks: HashMap<String, Task>,
    /// Records waiting for the next webhook, per task.
    outbox: BTreeMap<String, Vec<Value>>,
    next_id: i64,
}

struct Task {
    info: TaskInfo,
    rows: Vec<Row>,
}

struct Row {
    callee: Callee,
    current_key: Option<String>,
    cancel: bool,
}

struct Fake {
    dialer: Arc<FakeDialer>,
    control: Arc<FakeControl>,
    app_key: String,
    app_secret: String,
    sign_key: String,
    tz: chrono_tz::Tz,
    callback_url: Option<String>,
    http: reqwest::Client,
}

/// Start the fake for the account `config` (tokens live 24 h).
pub async fn spawn(
    config: &FakeConfig,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    spawn_with(config, behavior, listener, Duration::from_secs(24 * 3600)).await.map(|(h, _)| h)
}

/// Start the fake with tokens living `token_lifetime`, returning its control.
pub async fn spawn_with(
    config: &FakeConfig,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
    token_lifetime: Duration,
) -> std::io::Result<(FakeHandle, Arc<FakeControl>)> {
    let opts: Options = config.options();
    let (stop_tx, stop_rx) = stop_signal();
    let stats = Arc::new(FakeStats::default());
    let callback_url = behavior.callback_url.clone();
    let dialer = FakeDialer::new(behavior, DEFAULTS, stats.clone(), stop_rx.clone());
    let control = Arc::new(FakeControl {
        token_lifetime: Mutex::new(token_lifetime),
        auth_requests: AtomicU64::new(0),
        refuse_auth: Default::default(),
        name_clashes: AtomicU64::new(0),
        webhooks: AtomicU64::new(0),
        webhook_details: AtomicU64::new(0),
        webhooks_dropped: AtomicU64::new(0),
        detail_requests: AtomicU64::new(0),
        variations: Mutex::new(Variations::default()),
        state: Mutex::new(Books::default()),
    });
    let fake = Arc::new(Fake {
        dialer,
        control: control.clone(),
        app_key: config.api_key.clone(),
        app_secret: config.api_secret.clone(),
        sign_key: config.callback_secret.clone().unwrap_or_else(|| DEFAULT_SIGN_KEY.to_string()),
        tz: opts.account_timezone.parse().unwrap_or(chrono_tz::UTC),
        callback_url,
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
    });
    let prefix = opts.path_prefix.trim_matches('/').to_string();
    let router = axum::Router::new()
        .route(&format!("/{prefix}/auth"), post(api::auth))
        .route(&format!("/{prefix}/task"), post(api::create))
        .route(&format!("/{prefix}/detail"), post(api::detail))
        .route(&format!("/{prefix}/cancelphonecall"), post(api::cancel_call))
        .route(&format!("/{prefix}/operation"), post(api::operation))
        .with_state(fake.clone());
    let mut stop = stop_rx;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tick.tick() => fake.flush(),
            }
        }
    });
    Ok((serve(router, listener, stats, stop_tx)?, control))
}

impl Fake {
    fn refuse(&self, reply: Reply) -> Reply {
        self.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        reply
    }

    /// The Bearer check every API call makes; `Some` is the refusal.
    fn gate(&self, headers: &HeaderMap) -> Option<Reply> {
        if self.dialer.is_fatal() {
            return Some(self.refuse(code(10302, "auth failed")));
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let valid = self.control.state.lock().unwrap().tokens.get(token).is_some_and(|exp| Instant::now() < *exp);
        if valid {
            None
        } else {
            self.dialer.stats.bad_auth.fetch_add(1, Relaxed);
            Some(code(10302, "auth failed"))
        }
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format(TIME_FORMAT).to_string()
    }

    /// One POST per task with every record queued since the last flush
    /// (or, with `one_body_per_task`, once the whole task has finished).
    fn flush(&self) {
        let v = self.control.variations();
        let b = Builder { tz: self.tz, v: &v };
        let mut st = self.control.state.lock().unwrap();
        let ready: Vec<String> =
            st.outbox
                .keys()
                .filter(|t| {
                    !v.one_body_per_task
                        || st.tasks.get(*t).is_none_or(|task| {
                            task.rows.iter().all(|r| !matches!(r.callee.result, "created" | "pending"))
                        })
                })
                .cloned()
                .collect();
        for task_id in ready {
            let Some(records) = st.outbox.remove(&task_id) else { continue };
            let Some(task) = st.tasks.get(&task_id) else { continue };
            let Some(url) = self.callback_url.clone() else { continue };
            if v.drop_callbacks {
                self.control.webhooks_dropped.fetch_add(1, Relaxed);
                continue;
            }
            self.control.webhooks.fetch_add(1, Relaxed);
            self.control.webhook_details.fetch_add(records.len() as u64, Relaxed);
            let body = serde_json::to_vec(&b.webhook(&task.info, records)).unwrap_or_default();
            let headers = vec![
                ("User-Agent".to_string(), "Airudder".to_string()),
                ("X-AIRudder-Sign".to_string(), sign(&self.sign_key, &body)),
            ];
            deliver(self.http.clone(), &self.dialer, url, body, headers);
        }
    }

    /// Change row `i` of a task and, when `queue` says so, queue its record
    /// (as it stands after the change) for the next webhook.
    fn with_row<T>(
        &self,
        task_id: &str,
        i: usize,
        f: impl FnOnce(&mut Row) -> (T, Option<Option<String>>),
    ) -> Option<T> {
        let v = self.control.variations();
        let b = Builder { tz: self.tz, v: &v };
        let mut st = self.control.state.lock().unwrap();
        let (out, record) = {
            let row = st.tasks.get_mut(task_id).and_then(|t| t.rows.get_mut(i))?;
            let (out, queue) = f(row);
            (out, queue.map(|progress| b.record(&row.callee, progress.as_deref())))
        };
        if let Some(record) = record {
            st.outbox.entry(task_id.to_string()).or_default().push(record);
        }
        Some(out)
    }

    /// Dial one callee: the first dial, then up to `repeat_number` redials
    /// while nobody answers. Earlier dials end up in `redail_call[]`.
    async fn run(self: Arc<Self>, task_id: String, i: usize, start: DateTime<Utc>, end: DateTime<Utc>, repeats: u32) {
        if let Ok(wait) = (start - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let callee = self.with_row(&task_id, i, |r| (r.callee.callee.clone(), None)).unwrap_or_default();
        for n in 0..=repeats {
            let key = format!("{task_id}/{callee}#{n}");
            let progress = self.control.variations().progress_result;
            let cancelled = self
                .with_row(&task_id, i, |r| {
                    r.current_key = Some(key.clone());
                    if r.callee.result == "created" {
                        r.callee.result = "pending";
                    }
                    (r.cancel, progress.clone().map(Some))
                })
                .unwrap_or(true);
            let (tx, rx) = tokio::sync::oneshot::channel();
            if cancelled {
                self.dialer.cancel(&key);
            }
            let call = FakeCall { key, phone: callee.clone(), not_after: Some(end) };
            self.dialer.place(call, None, move |d| {
                let _ = tx.send(d);
            });
            let Ok(dialed) = rx.await else { return };
            let Some(code) = dialed.code.clone() else {
                // Not dialed (cancelled, or the window closed first).
                self.with_row(&task_id, i, |r| {
                    r.callee.result = "cancelled";
                    r.current_key = None;
                    ((), Some(None))
                });
                return;
            };
            if n > 0 {
                self.dialer.stats.vendor_redials.fetch_add(1, Relaxed);
            }
            let last = code == "E" || n == repeats;
            let dial = DialDone {
                call_id: format!("ic{}", uuid::Uuid::new_v4().simple()),
                code: code.clone(),
                started_at: dialed.started_at,
                ended_at: dialed.ended_at,
            };
            self.with_row(&task_id, i, |r| {
                r.callee.dials.push(dial);
                if !last {
                    return ((), None);
                }
                r.callee.result = if code == "failed" { "failed" } else { "finished" };
                r.current_key = None;
                ((), Some(None))
            });
            if last {
                return;
            }
            tokio::time::sleep(self.dialer.behavior.latency_min).await;
        }
    }
}
