//! A protocol-faithful Blu: signed requests (5-minute timestamp window),
//! at most 200 records per upload, day-scoped taskIds, a pre-dial check
//! before every dial, per-call cancel, paged result queries, and one result
//! record per callback POST (retried) to the merchant's single callback URL.
//!
//! Records Blu does not dial (cancelled, or refused by the pre-dial check:
//! "Blu will give up the call") end with the conclusion `Taskcancel` and no
//! line status, delivered and queryable like any result, so that every
//! uploaded record has exactly one final record. A record id already in a
//! task is not dialed again (assumption: Blu de-duplicates on `id`).
//!
//! Independent of the adapter: requests are read as JSON values and every
//! body the fake sends is written here with `json!` from the field names of
//! Blu's pages (see `wire`'s docs for the record fields, which Blu does not
//! publish), so the fake can send what the adapter does not expect. What it
//! sends beyond its documented default is chosen with [`Variations`].

mod json;

use crate::config::FakeConfig;
use crate::fake::{
    Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats, PredialCheck, deliver, serve, stop_signal,
};
use crate::json::{as_i64, code_text, constant_time_eq};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::Utc;
pub use json::Variations;
use json::{SUCCESS, Uploaded, Writer};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most records Blu takes in one `uploadAndStartJob`.
pub const MAX_RECORDS: usize = 200;

/// Codes a fake's `outcomes` may weight: a line status (not connected), a
/// special error, or a conclusion label (connected, D99 + that label), all
/// from the annex "Dictionary of call conclusions".
pub const CODES: &[&str] = &[
    "D00",
    "D01",
    "D02",
    "D03",
    "D04",
    "D05",
    "D06",
    "D07",
    "D08",
    "D09",
    "D10",
    "D90",
    "D91",
    "D99",
    "NAN",
    "ROBOTERROR",
    "STERROR",
    "OVERERROR",
    "LICERROR",
    "LMS",
    "Busy",
    "AP",
    "HPTP",
    "NOST",
    "NotOneself",
    "CPL",
    "unknown",
    "undefined",
    "Voicemail",
    "Willing",
    "Unwilling",
    "Donotknow",
    "Whichcompany",
    "Complan",
    "Undecided",
];

/// The default mix: about 40 % answered with a conclusion.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("HPTP", 10.0),
    ("AP", 4.0),
    ("NOST", 5.0),
    ("NotOneself", 3.0),
    ("CPL", 2.0),
    ("Busy", 3.0),
    ("unknown", 3.0),
    ("Willing", 4.0),
    ("Unwilling", 4.0),
    ("Whichcompany", 2.0),
    ("LMS", 4.0),
    ("D00", 20.0),
    ("D01", 10.0),
    ("D02", 9.0),
    ("D03", 4.0),
    ("D04", 3.0),
    ("D06", 3.0),
    ("D08", 2.0),
    ("D91", 4.0),
    ("D90", 1.0),
];

/// Blu's API error codes. Only 2000 (success) is public: these are the
/// assumption the daemon's adapter documents too (`vendors/blu/codes.rs`).
mod errors {
    pub const SIGN_FAILED: &str = "4001";
    pub const TIMESTAMP_EXPIRED: &str = "4002";
    pub const BAD_PARAMETER: &str = "4004";
    pub const TOO_MANY_RECORDS: &str = "4005";
    pub const TASK_EXPIRED: &str = "4006";
    pub const NO_BALANCE: &str = "4010";
    pub const SYSTEM_BUSY: &str = "5000";
}
use errors::*;

/// `sign` header: lowercase hex SHA-256 of `appId + appKey + timeStamp`.
pub fn sign(app_id: &str, app_key: &str, timestamp_ms: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(app_key.as_bytes());
    h.update(timestamp_ms.as_bytes());
    hex::encode(h.finalize())
}

/// The account settings the fake reads from [`FakeConfig::options`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Options {
    /// Path prefix of the API.
    path_prefix: String,
    /// The account's zone: the "current day" of taskIds and local times.
    task_timezone: String,
    /// The account asks our pre-dial URL before every dial.
    predial: bool,
    /// The `code` of a pre-dial answer that says "go on" (Blu's reply codes are not public).
    predial_proceed_code: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path_prefix: "/rest/v1".into(),
            task_timezone: "UTC".into(),
            predial: true,
            predial_proceed_code: 200,
        }
    }
}

/// How Blu reads our answer to a pre-dial check: it dials only on a clear
/// yes, a 2xx with `data.call = true` or, without it, the account's
/// `proceed_code` (Blu's published example answer, `{"code":0,...}`, is a no).
pub fn predial_says_call(status: u16, body: &Value, proceed_code: i64) -> bool {
    if !(200..300).contains(&status) {
        return false;
    }
    match body.get("data").and_then(|d| d.get("call")).and_then(Value::as_bool) {
        Some(call) => call,
        None => body.get("code").and_then(as_i64) == Some(proceed_code),
    }
}

/// Timestamps further than this from the fake's clock are refused.
pub const TIMESTAMP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Header names as Blu's pages give them (not the adapter's constants).
const APP_ID: &str = "appId";
const TIMESTAMP: &str = "timeStamp";
const SIGN: &str = "sign";

enum Record {
    Uploaded {
        up: Uploaded,
        result: Option<Value>,
    },
    /// A record the adapter never sent, in the wrong shape (`bad_record_in_pages`).
    Foreign(Value),
}

#[derive(Default)]
struct Task {
    order: Vec<String>,
    records: HashMap<String, Record>,
}

struct Fake {
    app_id: String,
    app_key: String,
    opts: Options,
    tz: chrono_tz::Tz,
    vary: Variations,
    dialer: Arc<FakeDialer>,
    http: reqwest::Client,
    callback_url: Option<String>,
    predial_url: Option<String>,
    tasks: Mutex<HashMap<String, Task>>,
}

/// Our callback URL with `/predial` before the query string: the daemon's
/// pre-dial route (same token).
pub fn predial_url(callback_url: &str) -> String {
    match callback_url.split_once('?') {
        Some((path, query)) => format!("{}/predial?{query}", path.trim_end_matches('/')),
        None => format!("{}/predial", callback_url.trim_end_matches('/')),
    }
}

/// The fake with its documented default behaviour.
pub async fn spawn(
    config: &FakeConfig,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    spawn_with(config, behavior, Variations::default(), listener).await
}

/// The fake, sending the variations `vary` switches on.
pub async fn spawn_with(
    config: &FakeConfig,
    behavior: FakeBehavior,
    vary: Variations,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    let opts: Options = config.options();
    let tz = opts.task_timezone.parse().unwrap_or(chrono_tz::UTC);
    let (stop_tx, stop_rx) = stop_signal();
    let stats = Arc::new(FakeStats::default());
    let callback_url = behavior.callback_url.clone();
    let predial = (opts.predial).then(|| callback_url.as_deref().map(predial_url)).flatten();
    let dialer = FakeDialer::new(behavior, DEFAULTS, stats.clone(), stop_rx);
    let fake = Arc::new(Fake {
        app_id: config.api_key.clone(),
        app_key: config.api_secret.clone(),
        opts: opts.clone(),
        tz,
        vary,
        dialer,
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
        callback_url,
        predial_url: predial,
        tasks: Mutex::new(HashMap::new()),
    });
    let prefix = opts.path_prefix.trim_end_matches('/').to_string();
    let router = axum::Router::new()
        .route(&format!("{prefix}/uploadAndStartJob"), post(upload))
        .route(&format!("{prefix}/taskCancelPhoneCall"), post(cancel))
        .route(&format!("{prefix}/queryCallResult"), post(query))
        .with_state(fake);
    serve(router, listener, stats, stop_tx)
}

impl Fake {
    fn writer(&self) -> Writer<'_> {
        Writer { vary: &self.vary, tz: self.tz }
    }

    fn answer(&self, code: i64, message: &str, data: Value) -> Json<Value> {
        Json(self.writer().answer(code, message, data))
    }

    fn loose(&self, text: &str) -> Value {
        self.writer().loose(text)
    }

    fn refuse(&self, code: &str, message: &str) -> Json<Value> {
        self.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        self.answer(code.parse().unwrap_or(-1), message, Value::Null)
    }

    /// Signature, timestamp window and the account's fatal state.
    fn gate(&self, headers: &HeaderMap) -> Result<(), Json<Value>> {
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (app_id, ts, given) = (header(APP_ID), header(TIMESTAMP), header(SIGN));
        let bad = |code, message| {
            self.dialer.stats.bad_auth.fetch_add(1, Relaxed);
            Err(self.refuse(code, message))
        };
        if !constant_time_eq(app_id.as_bytes(), self.app_id.as_bytes()) {
            return bad(SIGN_FAILED, "sign verification failed");
        }
        let Ok(ms) = ts.parse::<i64>() else { return bad(TIMESTAMP_EXPIRED, "timeStamp missing") };
        if (Utc::now().timestamp_millis() - ms).abs() > TIMESTAMP_WINDOW_MS {
            return bad(TIMESTAMP_EXPIRED, "timeStamp expired");
        }
        if !constant_time_eq(given.as_bytes(), sign(&self.app_id, &self.app_key, &ts).as_bytes()) {
            return bad(SIGN_FAILED, "sign verification failed");
        }
        if self.dialer.is_fatal() {
            return Err(self.refuse(NO_BALANCE, "insufficient balance"));
        }
        Ok(())
    }

    fn today(&self) -> String {
        Utc::now().with_timezone(&self.tz).format("%Y%m%d").to_string()
    }

    fn predial_check(self: &Arc<Self>, task_id: &str, up: &Uploaded) -> Option<PredialCheck> {
        let url = self.predial_url.clone()?;
        let mut body = match serde_json::from_str::<Value>(&up.ext_vars) {
            Ok(Value::Object(m)) => Value::Object(m),
            _ => json!({}),
        };
        body["taskId"] = json!(task_id);
        body["id"] = json!(up.id);
        body["mobile"] = json!(up.mobile);
        let me = self.clone();
        Some(Box::new(move || {
            Box::pin(async move {
                let Ok(r) = me.http.post(&url).json(&body).send().await else { return false };
                let status = r.status().as_u16();
                let reply: Value = r.json().await.unwrap_or(Value::Null);
                predial_says_call(status, &reply, me.opts.predial_proceed_code)
            })
        }))
    }

    fn finish(self: &Arc<Self>, task_id: &str, id: &str, d: Dialed) {
        let result = {
            let mut tasks = self.tasks.lock().unwrap();
            let Some(Record::Uploaded { up, result }) = tasks.get_mut(task_id).and_then(|t| t.records.get_mut(id))
            else {
                return;
            };
            let record = self.writer().result(task_id, up, &d);
            *result = Some(record.clone());
            record
        };
        if let Some(url) = &self.callback_url {
            // One record per POST, in the shape of Blu's callback page.
            let body = if self.vary.flat_callbacks {
                result
            } else {
                let mut records = vec![result];
                if self.vary.bad_record_in_callbacks {
                    records.push(Writer::foreign(task_id, 0));
                }
                json!({ "taskId": self.loose(task_id), "records": records })
            };
            deliver(self.http.clone(), &self.dialer, url.clone(), body.to_string().into_bytes(), Vec::new());
        }
    }
}

async fn upload(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fake.refuse(BAD_PARAMETER, "bad request body");
    };
    let (Some(task_id), Some(list)) = (v.get("taskId").and_then(code_text), v.get("records").and_then(Value::as_array))
    else {
        return fake.refuse(BAD_PARAMETER, "taskId and records are required");
    };
    if list.len() > MAX_RECORDS {
        return fake.refuse(TOO_MANY_RECORDS, "no more than 200 records per upload");
    }
    if list.is_empty() {
        return fake.refuse(BAD_PARAMETER, "records is empty");
    }
    if !task_id.contains(&fake.today()) {
        return fake.refuse(TASK_EXPIRED, "taskId is only valid for the current day");
    }
    let mut records = Vec::new();
    for (i, r) in list.iter().enumerate() {
        match Uploaded::read(r) {
            Some(up) => records.push(up),
            None => return fake.refuse(BAD_PARAMETER, &format!("bad record #{i}")),
        }
    }
    if fake.dialer.roll_busy() {
        return fake.refuse(SYSTEM_BUSY, "system busy, try again later");
    }
    let mut fresh = Vec::new();
    {
        let mut tasks = fake.tasks.lock().unwrap();
        if !tasks.contains_key(&task_id) {
            fake.dialer.stats.tasks_created.fetch_add(1, Relaxed);
        }
        let task = tasks.entry(task_id.clone()).or_default();
        if fake.vary.bad_record_in_pages && task.order.is_empty() {
            task.order.push("foreign-0".into());
            task.records.insert("foreign-0".into(), Record::Foreign(Writer::foreign(&task_id, 0)));
        }
        for up in records {
            if task.records.contains_key(&up.id) {
                continue; // already in the task: not dialed again
            }
            task.order.push(up.id.clone());
            task.records.insert(up.id.clone(), Record::Uploaded { up: up.clone(), result: None });
            fresh.push(up);
        }
    }
    let count = fresh.len();
    for up in fresh {
        let (task, id) = (task_id.clone(), up.id.clone());
        let call = FakeCall { key: format!("{task}/{id}"), phone: up.mobile.clone(), not_after: None };
        let predial = fake.predial_check(&task, &up);
        let me = fake.clone();
        fake.dialer.place(call, predial, move |d| me.finish(&task, &id, d));
    }
    fake.answer(SUCCESS, "success", json!({ "taskId": task_id, "count": count }))
}

async fn cancel(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fake.refuse(BAD_PARAMETER, "bad request body");
    };
    let field = |k: &str| v.get(k).and_then(code_text).unwrap_or_default();
    let (task_id, mobile, order_id) = (field("taskId"), field("mobile"), field("orderId"));
    let key = {
        let tasks = fake.tasks.lock().unwrap();
        tasks.get(&task_id).and_then(|t| {
            t.records.values().find_map(|r| match r {
                Record::Uploaded { up, .. }
                    if up.mobile == mobile && (up.order_id().as_deref() == Some(&order_id) || up.id == order_id) =>
                {
                    Some(format!("{task_id}/{}", up.id))
                }
                _ => None,
            })
        })
    };
    match key {
        None => fake.refuse(BAD_PARAMETER, "no such call"),
        Some(key) => {
            let cancelled = fake.dialer.cancel(&key);
            fake.answer(SUCCESS, if cancelled { "success" } else { "call already made" }, Value::Null)
        }
    }
}

async fn query(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fake.refuse(BAD_PARAMETER, "bad request body");
    };
    let Some(task_id) = v.get("taskId").and_then(code_text) else {
        return fake.refuse(BAD_PARAMETER, "taskId is required");
    };
    let num = |k: &str, default: i64| v.get(k).and_then(as_i64).unwrap_or(default);
    let page_no = num("pageNo", 1).max(1) as usize;
    let mut size = num("pageSize", 10).clamp(1, 1000) as usize;
    if let Some(cap) = fake.vary.page_cap {
        size = size.min(cap.max(1) as usize);
    }
    let tasks = fake.tasks.lock().unwrap();
    let (total, page): (usize, Vec<Value>) = match tasks.get(&task_id) {
        None => (0, Vec::new()),
        Some(t) => {
            let records = (t.order.iter().skip((page_no - 1) * size).take(size))
                .filter_map(|id| t.records.get(id))
                .map(|r| match r {
                    Record::Foreign(v) => v.clone(),
                    Record::Uploaded { result: Some(result), .. } => result.clone(),
                    // Not called yet: the record as uploaded, no outcome.
                    Record::Uploaded { up, result: None } => json!({ "taskId": task_id, "id": up.id,
                        "mobile": up.mobile, "extVars": up.ext_vars, "callVars": up.call_vars }),
                })
                .collect();
            (t.order.len(), records)
        }
    };
    let mut data = json!({ "pageNo": page_no, "pageSize": size, "records": page });
    if !fake.vary.no_total {
        data["total"] = json!(total);
    }
    fake.answer(SUCCESS, "success", data)
}
