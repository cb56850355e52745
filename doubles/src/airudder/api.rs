//! The fake's HTTP API: `/auth`, `/task`, `/detail`, `/cancelphonecall`,
//! `/operation`. Requests are read as JSON values (the create body's shape
//! is not public: it uses the webhook's field names).

use super::body::{Builder, Callee, TaskInfo};
use super::{Fake, Row, Task, phone_ok};
use crate::json::{as_i64, local_time};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

pub(super) type Reply = (StatusCode, Json<Value>);

pub(super) fn ok(data: Value) -> Reply {
    (StatusCode::OK, Json(json!({"status": "OK", "code": 200, "message": "success", "data": data})))
}

pub(super) fn code(code: i64, message: &str) -> Reply {
    (StatusCode::OK, Json(json!({"status": "Error", "code": code, "message": message})))
}

/// A request body as JSON (`Null` when it is not JSON: every check then fails).
pub(super) fn read(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

pub(super) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn bad_request() -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({"status": "Error", "code": 400})))
}

pub(super) fn no_task() -> Reply {
    (StatusCode::NOT_FOUND, Json(json!({"status": "Error", "code": 404, "message": "task not found"})))
}

pub(super) async fn auth(State(fake): State<Arc<Fake>>, body: axum::body::Bytes) -> Reply {
    let req = read(&body);
    fake.control.auth_requests.fetch_add(1, Relaxed);
    if fake.dialer.is_fatal() {
        return fake.refuse(code(10302, "auth failed"));
    }
    let (Some(key), Some(secret)) = (text(&req, "APPKey"), text(&req, "APPSecret")) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"code": 400})));
    };
    if key != fake.app_key || secret != fake.app_secret || fake.control.refuse_auth.load(Relaxed) {
        fake.dialer.stats.bad_auth.fetch_add(1, Relaxed);
        return code(10301, "appkey error");
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let life = *fake.control.token_lifetime.lock().unwrap();
    fake.control.state.lock().unwrap().tokens.insert(token.clone(), Instant::now() + life);
    ok(json!({ "token": token }))
}

/// One number of a create request: `callee`, `CaseID`, `Variables`.
fn contact(c: &Value) -> Option<(String, String, Value)> {
    let callee = text(c, "callee")?.to_string();
    let case_id = text(c, "CaseID").unwrap_or_default().to_string();
    Some((callee, case_id, c.get("Variables").cloned().unwrap_or(json!({}))))
}

pub(super) async fn create(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let req = read(&body);
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    if fake.dialer.roll_busy() {
        let busy = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"status": "Error", "code": 429, "message": "busy"})));
        return fake.refuse(busy);
    }
    let contacts: Option<Option<Vec<_>>> =
        req.get("contacts").and_then(Value::as_array).map(|a| a.iter().map(contact).collect());
    let (Some(Some(contacts)), Some(name), Some(robot)) = (contacts, text(&req, "task_name"), text(&req, "robot_hash"))
    else {
        return fake.refuse(bad_request());
    };
    if contacts.is_empty() {
        return fake.refuse(code(10505, "contact list is empty"));
    }
    let (start_text, end_text) =
        (text(&req, "schedule_start_time").unwrap_or_default(), text(&req, "schedule_end_time").unwrap_or_default());
    let (Some(start), Some(end)) = (local_time(start_text, fake.tz), local_time(end_text, fake.tz)) else {
        return fake.refuse(bad_request());
    };
    if start < Utc::now() - chrono::TimeDelta::seconds(5) {
        return fake.refuse(code(10509, "schedule start time is in the past"));
    }
    if end < start + chrono::TimeDelta::minutes(5) {
        return fake.refuse(code(10620, "end time must be at least 5 minutes after start"));
    }
    if contacts.iter().any(|(callee, ..)| !phone_ok(callee)) {
        return fake.refuse(code(10510, "phone must start with + and have at most 14 digits"));
    }
    let repeats = req.get("repeat_number").and_then(as_i64).unwrap_or(0).clamp(0, 10);
    let (task_id, n) = {
        let mut st = fake.control.state.lock().unwrap();
        let forced = fake.control.name_clashes.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok();
        if forced || !st.names.insert(name.to_string()) {
            drop(st);
            return fake.refuse(code(10508, "task name already exists"));
        }
        let task_id = uuid::Uuid::new_v4().simple().to_string();
        let mut rows = Vec::new();
        for (callee, case_id, variables) in contacts {
            st.next_id += 1;
            let callee = Callee {
                id: st.next_id,
                callee,
                case_id,
                variables,
                result: "created",
                dials: Vec::new(),
                robot_hash: robot.to_string(),
            };
            rows.push(Row { callee, current_key: None, cancel: false });
        }
        let info = TaskInfo {
            task_id: task_id.clone(),
            task_name: name.to_string(),
            status: "calling".into(),
            created_at: fake.local(Utc::now()),
            repeat_interval: req.get("repeat_interval").and_then(as_i64).unwrap_or(0),
            repeat_number: repeats,
            robot_hash: robot.to_string(),
            schedule_start_time: start_text.to_string(),
            schedule_end_time: end_text.to_string(),
        };
        let n = rows.len();
        st.tasks.insert(task_id.clone(), Task { info, rows });
        (task_id, n)
    };
    fake.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    for i in 0..n {
        tokio::spawn(fake.clone().run(task_id.clone(), i, start, end, repeats as u32));
    }
    ok(json!({ "task_id": task_id }))
}

pub(super) async fn detail(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let req = read(&body);
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    fake.control.detail_requests.fetch_add(1, Relaxed);
    let Some(task_id) = text(&req, "task_id") else { return bad_request() };
    let page = req.get("page").and_then(as_i64).unwrap_or(1).max(1) as usize;
    let size = req.get("page_size").and_then(as_i64).unwrap_or(10).clamp(1, 1000) as usize;
    let v = fake.control.variations();
    let b = Builder { tz: fake.tz, v: &v };
    let st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get(task_id) else { return no_task() };
    let records: Vec<Value> = task.rows.iter().map(|r| b.record(&r.callee, None)).collect();
    ok(b.page(task_id, &task.info.status, &records, page, size))
}

pub(super) async fn cancel_call(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let req = read(&body);
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    let (Some(task_id), Some(callee)) = (text(&req, "task_id"), text(&req, "callee")) else { return bad_request() };
    let mut st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get_mut(task_id) else { return no_task() };
    for row in task.rows.iter_mut().filter(|r| r.callee.callee == callee) {
        row.cancel = true;
        if let Some(key) = &row.current_key {
            fake.dialer.cancel(key);
        }
    }
    ok(json!({}))
}

pub(super) async fn operation(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Reply {
    let req = read(&body);
    if let Some(refusal) = fake.gate(&headers) {
        return refusal;
    }
    let (Some(task_id), Some(op)) = (text(&req, "task_id"), text(&req, "operation")) else { return bad_request() };
    if op != "stop" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "Error", "code": 400, "message": "unknown operation"})),
        );
    }
    let mut st = fake.control.state.lock().unwrap();
    let Some(task) = st.tasks.get_mut(task_id) else { return no_task() };
    task.info.status = "canceled".into();
    for row in task.rows.iter_mut() {
        row.cancel = true;
        if let Some(key) = &row.current_key {
            fake.dialer.cancel(key);
        }
    }
    ok(json!({}))
}
