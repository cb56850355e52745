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

use super::adapter::predial_says_call;
use super::codes::{self, FAKE_DEFAULTS};
use super::wire::{self, CancelCall, Query, Upload};
use super::{BluOptions, MAX_RECORDS, sign};
use crate::config::VendorSettings;
use crate::vendors::common::{code_text, constant_time_eq};
use crate::vendors::fake::{
    Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats, PredialCheck, deliver, serve, stop_signal,
};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Timestamps further than this from the fake's clock are refused.
pub const TIMESTAMP_WINDOW_MS: i64 = 5 * 60 * 1000;

struct Record {
    upload: wire::UploadRecord,
    /// The final result record, once there is one.
    result: Option<Value>,
}

#[derive(Default)]
struct Task {
    order: Vec<String>,
    records: HashMap<String, Record>,
}

struct Fake {
    app_id: String,
    app_key: String,
    opts: BluOptions,
    tz: chrono_tz::Tz,
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

pub async fn spawn(
    settings: &VendorSettings,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    let opts: BluOptions = crate::vendors::common::options(&settings.options).unwrap_or_default();
    let tz = opts.timezone().unwrap_or(chrono_tz::UTC);
    let (stop_tx, stop_rx) = stop_signal();
    let stats = Arc::new(FakeStats::default());
    let callback_url = behavior.callback_url.clone();
    let predial = (opts.predial).then(|| callback_url.as_deref().map(predial_url)).flatten();
    let dialer = FakeDialer::new(behavior, FAKE_DEFAULTS, stats.clone(), stop_rx);
    let secret = crate::config::Secret::exposed_or_empty;
    let fake = Arc::new(Fake {
        app_id: secret(&settings.api_key),
        app_key: secret(&settings.api_secret),
        opts: opts.clone(),
        tz,
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

fn answer(code: &str, message: &str, data: Value) -> Json<Value> {
    let code: Value = code.parse::<i64>().map_or_else(|_| json!(code), |n| json!(n));
    Json(json!({ "code": code, "message": message, "data": data }))
}

impl Fake {
    fn refuse(&self, code: &str, message: &str) -> Json<Value> {
        self.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        answer(code, message, Value::Null)
    }

    /// Signature, timestamp window and the account's fatal state.
    fn gate(&self, headers: &HeaderMap) -> Result<(), Json<Value>> {
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (app_id, ts, given) = (header(wire::APP_ID), header(wire::TIMESTAMP), header(wire::SIGN));
        let bad = |code, message| {
            self.dialer.stats.bad_auth.fetch_add(1, Relaxed);
            Err(self.refuse(code, message))
        };
        if !constant_time_eq(app_id.as_bytes(), self.app_id.as_bytes()) {
            return bad(codes::SIGN_FAILED, "sign verification failed");
        }
        let Ok(ms) = ts.parse::<i64>() else { return bad(codes::TIMESTAMP_EXPIRED, "timeStamp missing") };
        if (Utc::now().timestamp_millis() - ms).abs() > TIMESTAMP_WINDOW_MS {
            return bad(codes::TIMESTAMP_EXPIRED, "timeStamp expired");
        }
        if !constant_time_eq(given.as_bytes(), sign(&self.app_id, &self.app_key, &ts).as_bytes()) {
            return bad(codes::SIGN_FAILED, "sign verification failed");
        }
        if self.dialer.is_fatal() {
            return Err(self.refuse(codes::NO_BALANCE, "insufficient balance"));
        }
        Ok(())
    }

    fn today(&self) -> String {
        Utc::now().with_timezone(&self.tz).format("%Y%m%d").to_string()
    }

    /// The result record of a call: the upload's fields plus the outcome.
    fn result(&self, task_id: &str, up: &wire::UploadRecord, d: &Dialed) -> Value {
        let ext: Value = serde_json::from_str(&up.ext_vars).unwrap_or(Value::Null);
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let (status, intention) = match &d.code {
            Some(code) => codes::fake_record_codes(code),
            None => (None, Some(codes::TASK_CANCEL.to_string())),
        };
        let connected = status == Some("D99");
        let payment = (intention.as_deref() == Some("HPTP")).then(|| {
            let day = d.ended_at + chrono::Duration::days(1);
            format!("['{} 00:00:00', '{} 23:59:59']", day.format("%Y-%m-%d"), day.format("%Y-%m-%d"))
        });
        json!({
            "taskId": task_id,
            "id": up.id,
            "name": up.name,
            "mobile": up.mobile,
            "orderId": ext.get("orderId").cloned().unwrap_or(Value::Null),
            "extVars": up.ext_vars,
            "callVars": up.call_vars,
            "callStatus": status,
            "intention": intention,
            "callStartTime": d.code.as_ref().map(|_| local(d.started_at)),
            "callEndTime": d.code.as_ref().map(|_| local(d.ended_at)),
            "duration": if connected { (d.ended_at - d.started_at).num_seconds().max(1) } else { 0 },
            "paymentTime": payment,
        })
    }

    fn predial_check(self: &Arc<Self>, task_id: &str, up: &wire::UploadRecord) -> Option<PredialCheck> {
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
                predial_says_call(&me.opts, status, &reply)
            })
        }))
    }

    fn finish(self: &Arc<Self>, task_id: &str, id: &str, d: Dialed) {
        let result = {
            let mut tasks = self.tasks.lock().unwrap();
            let Some(rec) = tasks.get_mut(task_id).and_then(|t| t.records.get_mut(id)) else { return };
            let result = self.result(task_id, &rec.upload, &d);
            rec.result = Some(result.clone());
            result
        };
        if let Some(url) = &self.callback_url {
            // One record per POST, in the shape of Blu's callback page.
            let body = json!({ "taskId": task_id, "records": [result] });
            deliver(self.http.clone(), &self.dialer, url.clone(), body.to_string().into_bytes(), Vec::new());
        }
    }
}

async fn upload(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(up) = serde_json::from_slice::<Upload>(&body) else {
        return fake.refuse(codes::BAD_PARAMETER, "bad request body");
    };
    if up.records.len() > MAX_RECORDS {
        return fake.refuse(codes::TOO_MANY_RECORDS, "no more than 200 records per upload");
    }
    if up.records.is_empty() {
        return fake.refuse(codes::BAD_PARAMETER, "records is empty");
    }
    if !up.task_id.contains(&fake.today()) {
        return fake.refuse(codes::TASK_EXPIRED, "taskId is only valid for the current day");
    }
    let vars_ok = |s: &str| matches!(serde_json::from_str::<Value>(s), Ok(Value::Object(_)));
    if let Some(r) = up
        .records
        .iter()
        .find(|r| r.id.is_empty() || r.mobile.is_empty() || !vars_ok(&r.ext_vars) || !vars_ok(&r.call_vars))
    {
        return fake.refuse(codes::BAD_PARAMETER, &format!("bad record `{}`", r.id));
    }
    if fake.dialer.roll_busy() {
        return fake.refuse(codes::SYSTEM_BUSY, "system busy, try again later");
    }
    let mut fresh = Vec::new();
    {
        let mut tasks = fake.tasks.lock().unwrap();
        if !tasks.contains_key(&up.task_id) {
            fake.dialer.stats.tasks_created.fetch_add(1, Relaxed);
        }
        let task = tasks.entry(up.task_id.clone()).or_default();
        for r in up.records {
            if task.records.contains_key(&r.id) {
                continue; // already in the task: not dialed again
            }
            task.order.push(r.id.clone());
            task.records.insert(r.id.clone(), Record { upload: r.clone(), result: None });
            fresh.push(r);
        }
    }
    let count = fresh.len();
    for r in fresh {
        let (task_id, id) = (up.task_id.clone(), r.id.clone());
        let call = FakeCall { key: format!("{task_id}/{id}"), phone: r.mobile.clone(), not_after: None };
        let predial = fake.predial_check(&task_id, &r);
        let me = fake.clone();
        fake.dialer.place(call, predial, move |d| me.finish(&task_id, &id, d));
    }
    answer(wire::SUCCESS, "success", json!({ "taskId": up.task_id, "count": count }))
}

async fn cancel(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(c) = serde_json::from_slice::<CancelCall>(&body) else {
        return fake.refuse(codes::BAD_PARAMETER, "bad request body");
    };
    let key = {
        let tasks = fake.tasks.lock().unwrap();
        tasks.get(&c.task_id).and_then(|t| {
            t.records
                .values()
                .find(|r| {
                    let ext: Value = serde_json::from_str(&r.upload.ext_vars).unwrap_or(Value::Null);
                    let order = ext.get("orderId").and_then(code_text);
                    r.upload.mobile == c.mobile && (order.as_deref() == Some(&c.order_id) || r.upload.id == c.order_id)
                })
                .map(|r| format!("{}/{}", c.task_id, r.upload.id))
        })
    };
    match key {
        None => fake.refuse(codes::BAD_PARAMETER, "no such call"),
        Some(key) => {
            let cancelled = fake.dialer.cancel(&key);
            answer(wire::SUCCESS, if cancelled { "success" } else { "call already made" }, Value::Null)
        }
    }
}

async fn query(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(refused) = fake.gate(&headers) {
        return refused;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fake.refuse(codes::BAD_PARAMETER, "bad request body");
    };
    let Some(task_id) = v.get("taskId").and_then(code_text) else {
        return fake.refuse(codes::BAD_PARAMETER, "taskId is required");
    };
    let num = |k: &str, default: u32| v.get(k).and_then(crate::vendors::common::as_i64).map_or(default, |n| n as u32);
    let q = Query { task_id, page_no: num("pageNo", 1).max(1), page_size: num("pageSize", 10).clamp(1, 1000) };
    let tasks = fake.tasks.lock().unwrap();
    let page: Vec<Value> = tasks
        .get(&q.task_id)
        .map(|t| {
            (t.order.iter())
                .skip(((q.page_no - 1) * q.page_size) as usize)
                .take(q.page_size as usize)
                .filter_map(|id| t.records.get(id))
                .map(|r| {
                    r.result.clone().unwrap_or_else(|| {
                        json!({ "taskId": q.task_id, "id": r.upload.id, "mobile": r.upload.mobile,
                                "extVars": r.upload.ext_vars, "callVars": r.upload.call_vars })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let data = json!({ "count": page.len(), "pageNo": q.page_no, "pageSize": q.page_size, "records": page });
    answer(wire::SUCCESS, "success", data)
}
