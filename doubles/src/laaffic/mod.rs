//! A protocol-faithful Laaffic: the create/query/cancel endpoints with the
//! document's auth headers, limits and reply codes, dialing through the shared
//! fake engine and pushing JSON arrays of call records to `behavior.callback_url`
//! (Laaffic takes the push address in its console, not per task).
//!
//! Every record is built here as JSON from the documented field list
//! (voiceId, callee, callTime, answerTime, hangupTime, ringDuration,
//! chargedDuration, cost, terminationCode, terminationReason, sipCode,
//! intent) and nothing else: no task id, no reference of ours. What real
//! pushes do beyond that is switched on in [`Variations`].

mod push;

use crate::config::FakeConfig;
use crate::fake::{self, Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats};
use crate::itnio::{self, AuthFault};
use crate::json::{as_i64, code_text};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::{NaiveTime, TimeZone, Utc};
use push::record;
pub use push::{OPTIONAL_FIELDS, PUSH_FIELDS, UNKNOWN_INTENT, Variations};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// `POST /voice/group/call/send/agent`: create an AI Agent group call task.
pub const CREATE_PATH: &str = "voice/group/call/send/agent";
/// `POST /voice/group/call/query`: the paged task list (public sources).
pub const QUERY_PATH: &str = "voice/group/call/query";
/// `POST /voice/group/call/cancel {"taskIdList":[...]}` (public sources).
pub const CANCEL_PATH: &str = "voice/group/call/cancel";
/// Most numbers in one task (最大20w個手機號).
pub const MAX_NUMBERS: usize = 200_000;

/// Codes a fake's `outcomes` may weight: the document's intent codes
/// (編碼對應表), and `99999-<sip>` for a call that was not connected with
/// that SIP answer.
pub const CODES: &[&str] = &[
    "99999-480",
    "99999-486",
    "99999-404",
    "99999-603",
    "99999-503",
    "101",
    "102",
    "104",
    "105",
    "106",
    "201",
    "202",
    "204",
    "205",
    "206",
    "207",
    "208",
    "209",
    "2010",
    "301",
    "302",
    "304",
    "305",
    "306",
];

/// The default mix (a collections campaign): about 40 % answered.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("99999-480", 30.0),
    ("99999-486", 10.0),
    ("99999-404", 5.0),
    ("99999-603", 5.0),
    ("99999-503", 5.0),
    ("201", 5.0),
    ("202", 4.0),
    ("204", 8.0),
    ("205", 10.0),
    ("206", 5.0),
    ("207", 6.0),
    ("208", 2.0),
    ("209", 2.0),
    ("2010", 3.0),
];

/// The account settings the fake reads from [`FakeConfig::options`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Options {
    /// Path prefix before `/voice/...` (a `/v3` prefix also appears).
    path_prefix: String,
    /// The account's application: `appId` must name it.
    app_id: String,
    /// The account's AI agent: `agentId` must name it when set.
    agent_id: Option<i64>,
    /// The account's zone: `allowSendTime` windows and push times are in it.
    timezone: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { path_prefix: String::new(), app_id: String::new(), agent_id: None, timezone: "Asia/Shanghai".into() }
    }
}

impl Options {
    fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }
}

struct Task {
    name: String,
    status: i64,
    keys: Vec<String>,
    done: usize,
}

struct Fake {
    api_key: String,
    api_secret: String,
    opts: Options,
    dialer: Arc<FakeDialer>,
    http: reqwest::Client,
    tasks: Mutex<BTreeMap<i64, Task>>,
    names: Mutex<HashSet<String>>,
    variations: Variations,
    /// Finished calls' records per task, waiting for `records_per_push`.
    held: Mutex<BTreeMap<i64, Vec<Value>>>,
}

fn reply(code: i64, reason: &str) -> Json<Value> {
    Json(json!({ "status": code.to_string(), "reason": reason }))
}

impl Fake {
    /// The auth check every endpoint makes, and the fatal state.
    fn gate(&self, headers: &HeaderMap) -> Result<(), (i64, &'static str)> {
        match itnio::check_auth(headers, &self.api_key, &self.api_secret, Utc::now().timestamp()) {
            Ok(()) => {}
            Err(AuthFault::Expired) => return Err((-16, "時間戳過期")),
            Err(_) => return Err((-1, "賬號認證異常")),
        }
        if self.dialer.is_fatal() {
            return Err((-10, "餘額不足"));
        }
        Ok(())
    }

    fn refuse(&self, code: i64, reason: &str) -> Json<Value> {
        if code == -1 || code == -16 {
            self.dialer.stats.bad_auth.fetch_add(1, Relaxed);
        } else {
            self.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        }
        reply(code, reason)
    }
}

/// Start the fake on `listener` for the account `config`, pushing the
/// documented record.
pub fn spawn(
    config: &FakeConfig,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> impl Future<Output = std::io::Result<FakeHandle>> + Send + 'static {
    spawn_with(config, behavior, Variations::default(), listener)
}

/// [`spawn`] with pushes departing from the document as `variations` say.
pub fn spawn_with(
    config: &FakeConfig,
    behavior: FakeBehavior,
    variations: Variations,
    listener: tokio::net::TcpListener,
) -> impl Future<Output = std::io::Result<FakeHandle>> + Send + 'static {
    let (api_key, api_secret) = (config.api_key.clone(), config.api_secret.clone());
    let opts: Options = config.options();
    async move {
        let stats = Arc::new(FakeStats::default());
        let (stop_tx, stop_rx) = fake::stop_signal();
        let dialer = FakeDialer::new(behavior, DEFAULTS, stats.clone(), stop_rx);
        let prefix = opts.path_prefix.trim_matches('/').to_string();
        let path = |p: &str| if prefix.is_empty() { format!("/{p}") } else { format!("/{prefix}/{p}") };
        let state = Arc::new(Fake {
            api_key,
            api_secret,
            opts,
            dialer,
            http: reqwest::Client::new(),
            tasks: Mutex::new(BTreeMap::new()),
            names: Mutex::new(HashSet::new()),
            variations,
            held: Mutex::new(BTreeMap::new()),
        });
        let router = axum::Router::new()
            .route(&path(CREATE_PATH), post(create))
            .route(&path(QUERY_PATH), post(query))
            .route(&path(CANCEL_PATH), post(cancel))
            .with_state(state);
        fake::serve(router, listener, stats, stop_tx)
    }
}

fn hhmm(v: Option<&Value>) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(v?.as_str()?, "%H:%M").ok()
}

async fn create(State(f): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err((code, reason)) = f.gate(&headers) {
        return f.refuse(code, reason);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return f.refuse(-22, "參數異常") };
    if f.dialer.roll_busy() {
        return f.refuse(-37, "您提交的群呼任務超過最大並發任務限制,請完成任務後再提交!");
    }
    if body.get("appId").and_then(Value::as_str) != Some(f.opts.app_id.as_str()) {
        return f.refuse(-24, "數據不存在");
    }
    if f.opts.agent_id.is_some() && body.get("agentId").and_then(as_i64) != f.opts.agent_id {
        return f.refuse(-60, "AI話術模板不存在");
    }
    let name = body.get("taskName").and_then(Value::as_str).unwrap_or_default().to_string();
    if !(2..=64).contains(&name.chars().count()) {
        return f.refuse(-22, "參數異常");
    }
    let numbers = body.get("numberInfoList").and_then(Value::as_array).cloned().unwrap_or_default();
    if numbers.is_empty() {
        return f.refuse(-35, "沒有被叫號碼");
    }
    if numbers.len() > MAX_NUMBERS {
        return f.refuse(-23, "數據上限");
    }
    let mut phones = Vec::new();
    for n in &numbers {
        let phone = n.get("calleeNumber").and_then(code_text).unwrap_or_default();
        if !(6..=18).contains(&phone.len()) || !phone.chars().all(|c| c.is_ascii_digit()) {
            return f.refuse(-21, "數據校驗異常");
        }
        phones.push(phone);
    }
    let windows = body.get("allowSendTime").and_then(Value::as_array).cloned().unwrap_or_default();
    if windows.len() > 3 {
        return f.refuse(-22, "參數異常");
    }
    let mut ends = Vec::new();
    for w in &windows {
        match (hhmm(w.get("strTime")), hhmm(w.get("endTime"))) {
            (Some(s), Some(e)) if s < e => ends.push(e),
            _ => return f.refuse(-22, "參數異常"),
        }
    }
    let max_calls = body.get("maxCalls").and_then(as_i64).unwrap_or(300);
    let ringing = body.get("maxRingingTime").and_then(as_i64).unwrap_or(60);
    if !(1..=999).contains(&max_calls) || !(10..=120).contains(&ringing) {
        return f.refuse(-22, "參數異常");
    }
    if !f.names.lock().unwrap().insert(name.clone()) {
        return f.refuse(-41, "任務名稱已經存在");
    }
    // Dialing stops at the end of today's last window (in the account's zone).
    let tz = f.opts.tz();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let not_after = ends.iter().max().and_then(|e| tz.from_local_datetime(&today.and_time(*e)).earliest());
    let not_after = not_after.map(|t| t.with_timezone(&Utc));
    let task_id = {
        let mut tasks = f.tasks.lock().unwrap();
        let id = tasks.keys().next_back().map_or(1001, |k| k + 1);
        let keys = phones.iter().map(|p| format!("{id}/{p}")).collect();
        tasks.insert(id, Task { name, status: 1, keys, done: 0 });
        id
    };
    f.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    for (i, phone) in phones.into_iter().enumerate() {
        let me = f.clone();
        let call = FakeCall { key: format!("{task_id}/{phone}"), phone: phone.clone(), not_after };
        f.dialer.place(call, None, move |d| me.finish(task_id, i, &phone, d));
    }
    Json(json!({ "status": "0", "reason": "success", "data": task_id }))
}

impl Fake {
    /// Push the record of one finished call (held until `records_per_push`
    /// are collected or its task has no call left) and count it on its task.
    fn finish(&self, task_id: i64, i: usize, phone: &str, d: Dialed) {
        let record = record(&self.opts, &self.variations, task_id, i, phone, &d);
        // One critical section for counting the call on its task and holding
        // its record: two calls finishing together cannot both see records
        // left over after the task's last call.
        let batch = {
            let mut held = self.held.lock().unwrap();
            let task_done = {
                let mut tasks = self.tasks.lock().unwrap();
                match tasks.get_mut(&task_id) {
                    Some(t) => {
                        t.done += 1;
                        if t.done == t.keys.len() && t.status == 1 {
                            t.status = 2;
                        }
                        t.done >= t.keys.len()
                    }
                    None => true,
                }
            };
            let records = held.entry(task_id).or_default();
            records.push(record);
            if task_done || records.len() >= self.variations.records_per_push.max(1) {
                held.remove(&task_id).unwrap_or_default()
            } else {
                Vec::new()
            }
        };
        if batch.is_empty() {
            return;
        }
        // Delivery is counted pending before the record is logged: a test
        // that sees every record logged and nothing pending has seen every
        // push answered.
        if let Some(url) = &self.dialer.behavior.callback_url {
            let body = serde_json::to_vec(&batch).unwrap_or_default();
            fake::deliver(self.http.clone(), &self.dialer, url.clone(), body, Vec::new());
        }
        if let Some(log) = &self.variations.sent {
            log.lock().unwrap().extend(batch);
        }
    }
}

async fn query(State(f): State<Arc<Fake>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    if let Err((code, reason)) = f.gate(&headers) {
        return f.refuse(code, reason);
    }
    let page = body.get("pageNum").and_then(as_i64).unwrap_or(1).max(1) as usize;
    let size = body.get("pageSize").and_then(as_i64).unwrap_or(10).clamp(1, 1000) as usize;
    let tasks = f.tasks.lock().unwrap();
    // Newest first, like a console list; the list is not filtered.
    let list: Vec<Value> = (tasks.iter().rev().skip((page - 1) * size).take(size))
        .map(|(id, t)| {
            json!({ "taskId": id, "taskName": t.name, "status": t.status, "totalCount": t.keys.len(), "finishCount": t.done })
        })
        .collect();
    Json(json!({ "status": "0", "reason": "success", "data": { "total": tasks.len(), "list": list } }))
}

async fn cancel(State(f): State<Arc<Fake>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    if let Err((code, reason)) = f.gate(&headers) {
        let _ = f.refuse(code, reason);
        return Json(json!({ "code": code.to_string(), "msg": reason }));
    }
    let ids: Vec<i64> =
        body.get("taskIdList").and_then(Value::as_array).into_iter().flatten().filter_map(as_i64).collect();
    let mut tasks = f.tasks.lock().unwrap();
    if ids.is_empty() || ids.iter().any(|id| !tasks.contains_key(id)) {
        f.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        return Json(json!({ "code": "-24", "msg": "數據不存在" }));
    }
    for id in ids {
        let t = tasks.get_mut(&id).expect("checked above");
        for key in &t.keys {
            f.dialer.cancel(key);
        }
        if t.status != 2 {
            t.status = 4;
        }
    }
    Json(json!({ "code": "0", "msg": "success" }))
}
