//! A protocol-faithful AIRudder: Bearer tokens from `/auth` with a lifetime,
//! task creation with AIRudder's checks and error codes, dialing through the
//! shared [`FakeDialer`] (with AIRudder's own redials when the task asks for
//! `repeat_number`), per-call and whole-task cancels, a paged `/detail`, and
//! webhooks aggregating every call that finished within 50 ms into one POST.

use super::Options;
use super::adapter::{DEFAULT_SIGN_KEY, TIME_FORMAT, phone_ok, sign};
use super::wire::{AuthRequest, CancelCall, CreateTask, Detail, DetailRequest, Operation, RedialCall, Webhook};
use crate::config::VendorSettings;
use crate::vendors::common::local_time;
use crate::vendors::fake::{
    Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats, deliver, serve, stop_signal,
};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Codes a fake's `outcomes` may weight: `E` answered (robot label E), `F`
/// rang without an answer, a `ring_type` for an announcement, `failed`.
pub const FAKE_CODES: &[&str] = &[
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

const DEFAULT_WEIGHTS: &[(&str, f64)] = &[
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

/// Test handles on a running fake: token lifetime, invalidation, counters.
pub struct FakeControl {
    token_lifetime: Mutex<Duration>,
    /// Every `/auth` request, answered or refused.
    pub auth_requests: AtomicU64,
    /// While set, `/auth` refuses every APPKey with 10301.
    refuse_auth: std::sync::atomic::AtomicBool,
    /// The next this-many task creations answer 10508 (name taken) whatever the name.
    pub name_clashes: AtomicU64,
    /// Webhook POSTs and the details they carried.
    pub webhooks: AtomicU64,
    pub webhook_details: AtomicU64,
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
    /// Names of the tasks created so far (for name-clash tests).
    pub fn task_names(&self) -> Vec<String> {
        self.state.lock().unwrap().names.iter().cloned().collect()
    }
    /// `repeat_number` of a task.
    pub fn repeat_number(&self, task_id: &str) -> Option<u32> {
        self.state.lock().unwrap().tasks.get(task_id).map(|t| t.body.repeat_number)
    }
}

#[derive(Default)]
struct Books {
    tokens: HashMap<String, Instant>,
    names: HashSet<String>,
    tasks: HashMap<String, Task>,
    outbox: BTreeMap<String, Vec<Detail>>,
    next_id: i64,
}

struct Task {
    body: CreateTask,
    status: String,
    created_at: String,
    rows: Vec<Row>,
}

struct Row {
    detail: Detail,
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

/// Start the fake (the [`KindSpec`](crate::vendors::kinds::KindSpec) entry point).
pub async fn spawn(
    settings: &VendorSettings,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    spawn_with(settings, behavior, listener, Duration::from_secs(24 * 3600)).await.map(|(h, _)| h)
}

/// Start the fake with tokens living `token_lifetime`, returning its control.
pub async fn spawn_with(
    settings: &VendorSettings,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
    token_lifetime: Duration,
) -> std::io::Result<(FakeHandle, Arc<FakeControl>)> {
    let opts: Options = crate::vendors::common::options(&settings.options).unwrap_or_default();
    let secret = crate::config::Secret::exposed_or_empty;
    let (stop_tx, stop_rx) = stop_signal();
    let stats = Arc::new(FakeStats::default());
    let callback_url = behavior.callback_url.clone();
    let dialer = FakeDialer::new(behavior, DEFAULT_WEIGHTS, stats.clone(), stop_rx.clone());
    let control = Arc::new(FakeControl {
        token_lifetime: Mutex::new(token_lifetime),
        auth_requests: AtomicU64::new(0),
        refuse_auth: Default::default(),
        name_clashes: AtomicU64::new(0),
        webhooks: AtomicU64::new(0),
        webhook_details: AtomicU64::new(0),
        state: Mutex::new(Books::default()),
    });
    let fake = Arc::new(Fake {
        dialer,
        control: control.clone(),
        app_key: secret(&settings.api_key),
        app_secret: secret(&settings.api_secret),
        sign_key: settings
            .callback_secret
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_else(|| DEFAULT_SIGN_KEY.to_string()),
        tz: opts.timezone().unwrap_or(chrono_tz::UTC),
        callback_url,
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
    });
    let prefix = opts.path_prefix.trim_matches('/').to_string();
    let router = axum::Router::new()
        .route(&format!("/{prefix}/auth"), post(auth))
        .route(&format!("/{prefix}/task"), post(create))
        .route(&format!("/{prefix}/detail"), post(detail))
        .route(&format!("/{prefix}/cancelphonecall"), post(cancel_call))
        .route(&format!("/{prefix}/operation"), post(operation))
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

type Reply = (StatusCode, Json<Value>);

fn ok(data: Value) -> Reply {
    (StatusCode::OK, Json(json!({"status": "OK", "code": 200, "message": "success", "data": data})))
}

fn code(code: i64, message: &str) -> Reply {
    (StatusCode::OK, Json(json!({"status": "Error", "code": code, "message": message})))
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

    /// One POST per task with every detail finished since the last flush.
    fn flush(&self) {
        let mut st = self.control.state.lock().unwrap();
        let outbox = std::mem::take(&mut st.outbox);
        for (task_id, details) in outbox {
            let Some(task) = st.tasks.get(&task_id) else { continue };
            let Some(url) = self.callback_url.clone() else { continue };
            self.control.webhooks.fetch_add(1, Relaxed);
            self.control.webhook_details.fetch_add(details.len() as u64, Relaxed);
            let hook = Webhook {
                workflow_id: String::new(),
                workflow_name: String::new(),
                nodetask_id: String::new(),
                nodetask_name: String::new(),
                task_id: task_id.clone(),
                task_name: task.body.task_name.clone(),
                status: task.status.clone(),
                created_at: task.created_at.clone(),
                repeat_interval: json!(task.body.repeat_interval),
                repeat_number: json!(task.body.repeat_number),
                robot_hash: task.body.robot_hash.clone(),
                robot_method: "single".into(),
                sip_line: "FAKE_LINE".into(),
                schedule_start_time: task.body.schedule_start_time.clone(),
                schedule_end_time: task.body.schedule_end_time.clone(),
                details,
            };
            let body = serde_json::to_vec(&hook).unwrap_or_default();
            let headers = vec![
                ("User-Agent".to_string(), "Airudder".to_string()),
                ("X-AIRudder-Sign".to_string(), sign(&self.sign_key, &body)),
            ];
            deliver(self.http.clone(), &self.dialer, url, body, headers);
        }
    }

    /// A dial's fields as AIRudder reports them.
    fn dialed_detail(&self, row: &mut Detail, d: &Dialed, code: &str, times: u32) {
        let connected = code == "E";
        let (result, ring, hangup, label) = match code {
            "E" => ("finished", "normal", "ByCallee", "E"),
            "F" => ("finished", "normal", "ByCallee", "F"),
            "failed" => ("failed", "null", "ByRobot", ""),
            ring => ("finished", ring, "ByRobot", "F"),
        };
        let talked = (d.ended_at - d.started_at).num_seconds().max(1);
        row.result = result.into();
        row.result_label = Some(label.into());
        row.ring_type = Some(ring.into());
        row.hangup_type = Some(hangup.into());
        row.duration = json!(if connected { talked } else { 0 });
        row.call_id = format!("ic{}", uuid::Uuid::new_v4().simple());
        row.call_times = json!(times);
        row.call_start_time = if connected { self.local(d.started_at) } else { String::new() };
        row.call_end_time = self.local(d.ended_at);
        row.talk_round = json!(if connected { 3 } else { 0 });
        row.ring_time = json!(2);
        row.question_answer = json!([]);
        row.intention_description = Some(if connected { "Connected" } else { "No Answer" }.into());
    }

    fn redial_of(&self, d: &Detail, dialed: &Dialed) -> RedialCall {
        RedialCall {
            call_id: d.call_id.clone(),
            call_start_time: self.local(dialed.started_at),
            ring_type: d.ring_type.clone(),
            ring_time: json!(2),
            hangup_type: d.hangup_type.clone(),
            result_label: d.result_label.clone(),
            callee_number: d.callee.clone(),
            caller_number: "+10000000000".into(),
        }
    }

    fn with_row<T>(&self, task_id: &str, i: usize, f: impl FnOnce(&mut Row) -> T) -> Option<T> {
        self.control.state.lock().unwrap().tasks.get_mut(task_id).and_then(|t| t.rows.get_mut(i)).map(f)
    }

    /// Dial one callee: the first dial, then up to `repeat_number` redials
    /// while nobody answers. Earlier dials end up in `redail_call[]`.
    async fn run(self: Arc<Self>, task_id: String, i: usize, start: DateTime<Utc>, end: DateTime<Utc>, repeats: u32) {
        if let Ok(wait) = (start - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let callee = self.with_row(&task_id, i, |r| r.detail.callee.clone()).unwrap_or_default();
        let mut earlier = Vec::new();
        for n in 0..=repeats {
            let key = format!("{task_id}/{callee}#{n}");
            let cancelled = self
                .with_row(&task_id, i, |r| {
                    r.current_key = Some(key.clone());
                    if r.detail.result == "created" {
                        r.detail.result = "pending".into();
                    }
                    r.cancel
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
            let mut detail = self.with_row(&task_id, i, |r| r.detail.clone()).unwrap_or_default();
            let last = match dialed.code.as_deref() {
                None => {
                    detail.result = "cancelled".into();
                    detail.hangup_type = Some("Canceled".into());
                    detail.ring_type = Some("null".into());
                    detail.result_label = Some(String::new());
                    detail.call_times = json!(n);
                    true
                }
                Some(code) => {
                    if n > 0 {
                        self.dialer.stats.vendor_redials.fetch_add(1, Relaxed);
                    }
                    self.dialed_detail(&mut detail, &dialed, code, n + 1);
                    code == "E" || n == repeats
                }
            };
            if !last {
                earlier.push(self.redial_of(&detail, &dialed));
                self.with_row(&task_id, i, |r| r.detail.call_times = json!(n + 1));
                let pause = self.dialer.behavior.latency_min;
                tokio::time::sleep(pause).await;
                continue;
            }
            detail.redail_call = std::mem::take(&mut earlier);
            let mut st = self.control.state.lock().unwrap();
            if let Some(row) = st.tasks.get_mut(&task_id).and_then(|t| t.rows.get_mut(i)) {
                row.detail = detail.clone();
                row.current_key = None;
            }
            st.outbox.entry(task_id.clone()).or_default().push(detail);
            return;
        }
    }
}

async fn auth(State(fake): State<Arc<Fake>>, body: axum::body::Bytes) -> Reply {
    let parsed = serde_json::from_slice::<AuthRequest>(&body).ok();
    fake.control.auth_requests.fetch_add(1, Relaxed);
    if fake.dialer.is_fatal() {
        return fake.refuse(code(10302, "auth failed"));
    }
    let Some(body) = parsed else { return (StatusCode::BAD_REQUEST, Json(json!({"code": 400}))) };
    let good = body.app_key == fake.app_key && body.app_secret == fake.app_secret;
    if !good || fake.control.refuse_auth.load(Relaxed) {
        fake.dialer.stats.bad_auth.fetch_add(1, Relaxed);
        return code(10301, "appkey error");
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let life = *fake.control.token_lifetime.lock().unwrap();
    fake.control.state.lock().unwrap().tokens.insert(token.clone(), Instant::now() + life);
    ok(json!({ "token": token }))
}

async fn create(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let parsed = serde_json::from_slice::<CreateTask>(&body).ok();
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    if fake.dialer.roll_busy() {
        let busy = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"status": "Error", "code": 429, "message": "busy"})));
        return fake.refuse(busy);
    }
    let Some(body) = parsed else {
        return fake.refuse((StatusCode::BAD_REQUEST, Json(json!({"status": "Error", "code": 400}))));
    };
    if body.contacts.is_empty() {
        return fake.refuse(code(10505, "contact list is empty"));
    }
    let (Some(start), Some(end)) =
        (local_time(&body.schedule_start_time, fake.tz), local_time(&body.schedule_end_time, fake.tz))
    else {
        return fake.refuse((StatusCode::BAD_REQUEST, Json(json!({"status": "Error", "code": 400}))));
    };
    if start < Utc::now() - chrono::TimeDelta::seconds(5) {
        return fake.refuse(code(10509, "schedule start time is in the past"));
    }
    if end < start + chrono::TimeDelta::minutes(5) {
        return fake.refuse(code(10620, "end time must be at least 5 minutes after start"));
    }
    if body.contacts.iter().any(|c| !phone_ok(&c.callee)) {
        return fake.refuse(code(10510, "phone must start with + and have at most 14 digits"));
    }
    let (task_id, n, repeats) = {
        let mut st = fake.control.state.lock().unwrap();
        let forced = fake.control.name_clashes.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok();
        if forced || !st.names.insert(body.task_name.clone()) {
            drop(st);
            return fake.refuse(code(10508, "task name already exists"));
        }
        let task_id = uuid::Uuid::new_v4().simple().to_string();
        let mut rows = Vec::new();
        for c in &body.contacts {
            st.next_id += 1;
            let detail = Detail {
                id: json!(st.next_id),
                callee: c.callee.clone(),
                result: "created".into(),
                robot_hash: body.robot_hash.clone(),
                case_id: c.case_id.clone(),
                variables: c.variables.clone(),
                ring_type: Some("null".into()),
                hangup_type: Some("ByRobot".into()),
                ..Detail::default()
            };
            rows.push(Row { detail, current_key: None, cancel: false });
        }
        let (n, repeats) = (rows.len(), body.repeat_number);
        let created_at = fake.local(Utc::now());
        st.tasks.insert(task_id.clone(), Task { body, status: "calling".into(), created_at, rows });
        (task_id, n, repeats)
    };
    fake.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    for i in 0..n {
        tokio::spawn(fake.clone().run(task_id.clone(), i, start, end, repeats));
    }
    ok(json!({ "task_id": task_id }))
}

async fn detail(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let parsed = serde_json::from_slice::<DetailRequest>(&body).ok();
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    let Some(req) = parsed else { return (StatusCode::BAD_REQUEST, Json(json!({"code": 400}))) };
    let st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get(&req.task_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"status": "Error", "code": 404, "message": "task not found"})));
    };
    let size = req.page_size.clamp(1, 1000) as usize;
    let skip = (req.page.max(1) as usize - 1) * size;
    let details: Vec<&Detail> = task.rows.iter().skip(skip).take(size).map(|r| &r.detail).collect();
    ok(json!({ "task_id": req.task_id, "status": task.status, "total": task.rows.len(), "details": details }))
}

async fn cancel_call(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let parsed = serde_json::from_slice::<CancelCall>(&body).ok();
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    let Some(req) = parsed else { return (StatusCode::BAD_REQUEST, Json(json!({"code": 400}))) };
    let mut st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get_mut(&req.task_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"status": "Error", "code": 404, "message": "task not found"})));
    };
    for row in task.rows.iter_mut().filter(|r| r.detail.callee == req.callee) {
        row.cancel = true;
        if let Some(key) = &row.current_key {
            fake.dialer.cancel(key);
        }
    }
    ok(json!({}))
}

async fn operation(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let parsed = serde_json::from_slice::<Operation>(&body).ok();
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    let Some(req) = parsed else { return (StatusCode::BAD_REQUEST, Json(json!({"code": 400}))) };
    if req.operation != "stop" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "Error", "code": 400, "message": "unknown operation"})),
        );
    }
    let mut st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get_mut(&req.task_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"status": "Error", "code": 404, "message": "task not found"})));
    };
    task.status = "canceled".into();
    for row in task.rows.iter_mut() {
        row.cancel = true;
        if let Some(key) = &row.current_key {
            fake.dialer.cancel(key);
        }
    }
    ok(json!({}))
}
