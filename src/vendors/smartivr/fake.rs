//! A protocol-faithful SmartIVR fake: bearer-token auth (401 `Unauthenticated.`),
//! the assumed task endpoints (create / add numbers / start / stop / delete
//! numbers, on the configured paths), the documented paged lists (15 rows per
//! page, `last_page`), `v1/record/{id}` and `record_info`, times in the
//! server zone. Results are stored for polling and, when a task asks for
//! notifications, POSTed to its `call_notify_url` as one number row.
//!
//! Independent of the adapter: requests are read as JSON values and every
//! body is written in `fake_json` from the document's field lists; the
//! [`Variations`] switch on what real servers send beyond the examples.

use super::SmartivrOptions;
pub use super::fake_json::Variations;
use super::fake_json::{Dial, Rec, Writer};
use crate::config::VendorSettings;
use crate::vendors::common::{as_i64, code_text, constant_time_eq, local_time};
use crate::vendors::fake::{self, Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

/// Codes the fake can roll: a number status, answered ones with their grade.
pub const FAKE_CODES: &[&str] = &["1A", "1B", "1C", "1D", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];

/// Default mix: 40% answered (graded), then no answer, busy, power off...
const DEFAULT_WEIGHTS: &[(&str, f64)] = &[
    ("1A", 6.0),
    ("1B", 8.0),
    ("1C", 10.0),
    ("1D", 16.0),
    ("2", 1.0),
    ("3", 6.0),
    ("4", 22.0),
    ("5", 4.0),
    ("6", 8.0),
    ("7", 3.0),
    ("8", 10.0),
    ("9", 1.0),
    ("10", 1.0),
    ("11", 1.0),
    ("12", 2.0),
];

const WAITING: i64 = 0;
const ANSWERED: i64 = 1;
const BLACKLISTED: i64 = 11;

struct Num {
    id: i64,
    number: String,
    status: i64,
    /// Every dial, oldest first.
    dials: Vec<Dial>,
    /// The call records of its answered dials.
    records: Vec<Rec>,
    key: String,
    /// Vendor redials (`recycle_limit`) made so far.
    recycled: u32,
    /// The foreign row of `Variations::bad_rows`.
    foreign: bool,
}

struct Task {
    id: String,
    name: String,
    notify_url: String,
    notify_type: i64,
    end_at: Option<DateTime<Utc>>,
    /// Redials of unanswered numbers (assumed `recycle_limit` semantics).
    recycle_limit: u32,
    started: bool,
    stopped: bool,
    numbers: Vec<Num>,
}

struct Fake {
    token: String,
    tz: Tz,
    opts: SmartivrOptions,
    vary: Variations,
    dialer: Arc<FakeDialer>,
    tasks: Mutex<HashMap<String, Task>>,
    names: Mutex<HashSet<String>>,
    next_id: AtomicI64,
    history_id: AtomicU64,
    http: reqwest::Client,
}

/// Start the fake on `listener`, checking the bearer token of `settings.api_key`.
pub async fn spawn(
    settings: &VendorSettings,
    behavior: FakeBehavior,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    spawn_with(settings, behavior, Variations::default(), listener).await
}

/// The fake, sending the variations `vary` switches on.
pub async fn spawn_with(
    settings: &VendorSettings,
    behavior: FakeBehavior,
    vary: Variations,
    listener: tokio::net::TcpListener,
) -> std::io::Result<FakeHandle> {
    let (opts, tz) = SmartivrOptions::from_settings(settings).unwrap_or_else(|_| {
        let opts: SmartivrOptions = crate::vendors::common::options(&settings.options).unwrap_or_default();
        let tz = opts.server_timezone.parse().unwrap_or(chrono_tz::UTC);
        (opts, tz)
    });
    let (stop_tx, stop_rx) = fake::stop_signal();
    let stats = Arc::new(FakeStats::default());
    let dialer = FakeDialer::new(behavior, DEFAULT_WEIGHTS, stats.clone(), stop_rx);
    let state = Arc::new(Fake {
        token: crate::config::Secret::exposed_or_empty(&settings.api_key),
        tz,
        opts,
        vary,
        dialer,
        tasks: Mutex::new(HashMap::new()),
        names: Mutex::new(HashSet::new()),
        next_id: AtomicI64::new(1000),
        history_id: AtomicU64::new(350_000),
        http: reqwest::Client::new(),
    });
    let router = axum::Router::new().fallback(handle).with_state(state);
    fake::serve(router, listener, stats, stop_tx)
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(code: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    answer(status, json!({ "code": code, "status": "error", "message": message }))
}

/// Laravel's validation answer.
fn invalid(field: &str, message: &str) -> Response {
    let body = json!({
        "code": 422, "status": "error", "message": "The given data was invalid.",
        "errors": { field: [message] },
    });
    answer(StatusCode::UNPROCESSABLE_ENTITY, body)
}

fn ok(message: &str, data: Value) -> Response {
    answer(StatusCode::OK, json!({ "code": 200, "status": "ok", "message": message, "data": data }))
}

/// `path` against a template like `v1/task/{task_id}/start`: the captures.
fn route(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if template.trim_matches('/').is_empty() || t.len() != p.len() {
        return None;
    }
    let mut captures = HashMap::new();
    for (t, p) in t.iter().zip(&p) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            captures.insert(name.to_string(), urlencoding::decode(p).ok()?.into_owned());
        } else if t != p {
            return None;
        }
    }
    Some(captures)
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    (uri.query().unwrap_or_default().split('&'))
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| urlencoding::decode(&s.replace('+', " ")).map(|c| c.into_owned()).unwrap_or_default();
            (d(k), d(v))
        })
        .collect()
}

async fn handle(State(s): State<Arc<Fake>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let stats = &s.dialer.stats;
    let expected = format!("Bearer {}", s.token);
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if s.token.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        stats.bad_auth.fetch_add(1, Relaxed);
        return error(401, "Unauthenticated.");
    }
    if s.dialer.is_fatal() {
        stats.requests_refused.fetch_add(1, Relaxed);
        return error(403, "账户已欠费,请充值 (account in arrears)");
    }
    let path = uri.path().to_string();
    let json_body = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let o = &s.opts;
    let post = method == Method::POST;
    if post && route(&o.create_task_path, &path).is_some() {
        return create(&s, json_body());
    }
    if post && let Some(c) = route(&o.add_numbers_path, &path) {
        return add_numbers(&s, &c["task_id"], json_body());
    }
    if post && let Some(c) = route(&o.start_task_path, &path) {
        return start(&s, &c["task_id"]);
    }
    if post && let Some(c) = route(&o.stop_task_path, &path) {
        return stop(&s, &c["task_id"]);
    }
    if post && let Some(c) = route(&o.delete_numbers_path, &path) {
        return delete_numbers(&s, &c["task_id"], json_body());
    }
    if method == Method::GET && route(&o.numbers_path, &path).is_some() {
        return numbers(&s, &query_pairs(&uri));
    }
    if post && route(&o.done_phones_path, &path).is_some() {
        return done_phones(&s, json_body());
    }
    if method == Method::GET
        && let Some(c) = route("v1/record/{record_id}", &path)
    {
        return record(&s, &c["record_id"]);
    }
    if method == Method::GET
        && let Some(c) = route("v1/task/record_info/{task_id}/{record_id}", &path)
    {
        return record_info(&s, &c["task_id"], &c["record_id"]);
    }
    error(404, "Not Found")
}

fn refuse(s: &Fake, response: Response) -> Response {
    s.dialer.stats.requests_refused.fetch_add(1, Relaxed);
    response
}

impl Fake {
    fn writer(&self) -> Writer<'_> {
        Writer { vary: &self.vary, tz: self.tz }
    }
}

fn create(s: &Fake, body: Value) -> Response {
    if s.dialer.roll_busy() {
        return refuse(s, error(429, "Too Many Attempts."));
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let int = |k: &str| body.get(k).and_then(as_i64);
    let notify_type = int("call_notify_type").unwrap_or(0);
    let notify_url = body.get("call_notify_url").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return refuse(s, invalid("name", "The name must be 1 to 64 characters."));
    }
    if int("group_id").is_none_or(|g| g <= 0) {
        return refuse(s, invalid("group_id", "The selected group id is invalid."));
    }
    if !(0..=2).contains(&notify_type) || (notify_type > 0 && notify_url.is_empty()) {
        return refuse(s, invalid("call_notify_url", "The call notify url is required when notifying."));
    }
    let end_at = match body.get(s.opts.end_time_field.as_str()).and_then(Value::as_str) {
        Some(text) => match local_time(text, s.tz) {
            Some(t) => Some(t),
            None => return refuse(s, invalid(&s.opts.end_time_field, "The end time is not a valid date.")),
        },
        None => None,
    };
    if !s.names.lock().unwrap().insert(name.clone()) {
        return refuse(s, invalid("name", "The name has already been taken."));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut numbers = Vec::new();
    if s.vary.bad_rows {
        let id = s.next_id.fetch_add(1, Relaxed);
        let key = format!("foreign-{id}");
        numbers.push(Num {
            id,
            number: "10000000000".into(),
            status: ANSWERED,
            dials: Vec::new(),
            records: Vec::new(),
            key,
            recycled: 0,
            foreign: true,
        });
    }
    let row = Task {
        id: id.clone(),
        name: name.clone(),
        notify_url,
        notify_type,
        end_at,
        recycle_limit: int("recycle_limit").and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        started: false,
        stopped: false,
        numbers,
    };
    s.tasks.lock().unwrap().insert(id.clone(), row);
    s.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    ok("创建任务成功", json!({ "uuid": id, "name": name, "start": 0 }))
}

fn valid_number(n: &str) -> bool {
    (5..=20).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit())
}

fn add_numbers(s: &Arc<Fake>, task_id: &str, body: Value) -> Response {
    let Some(list) = body.get("numbers").and_then(Value::as_array) else {
        return refuse(s, invalid("numbers", "The numbers field is required."));
    };
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let real = task.numbers.iter().filter(|n| !n.foreign).count();
    if list.is_empty() || real + list.len() > s.opts.max_numbers_per_task {
        let msg = format!("A task holds 1 to {} numbers.", s.opts.max_numbers_per_task);
        return refuse(s, invalid("numbers", &msg));
    }
    let (mut invalid_numbers, mut duplicate, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for item in list {
        let number = item.get("number").and_then(code_text).unwrap_or_default();
        if !valid_number(&number) {
            invalid_numbers.push(number);
        } else if task.numbers.iter().any(|x| x.number == number) {
            duplicate.push(number);
        } else {
            let key = format!("{}/{number}", task.id);
            let id = s.next_id.fetch_add(1, Relaxed);
            task.numbers.push(Num {
                id,
                number: number.clone(),
                status: WAITING,
                dials: Vec::new(),
                records: Vec::new(),
                key,
                recycled: 0,
                foreign: false,
            });
            added.push(number);
        }
    }
    if task.started && !task.stopped {
        for number in &added {
            place(s, task, number);
        }
    }
    let data = json!({ "added": added.len(), "invalid": invalid_numbers, "duplicate": duplicate });
    ok("添加号码成功", data)
}

fn place(s: &Arc<Fake>, task: &Task, number: &str) {
    let Some(num) = task.numbers.iter().find(|n| n.number == number && !n.foreign) else { return };
    let key = match num.recycled {
        0 => num.key.clone(),
        n => format!("{}#recycle{n}", num.key),
    };
    let call = FakeCall { key, phone: number.to_string(), not_after: task.end_at };
    let (me, task_id, number) = (s.clone(), task.id.clone(), number.to_string());
    s.dialer.place(call, None, move |d| finish(&me, &task_id, &number, d));
}

fn start(s: &Arc<Fake>, task_id: &str) -> Response {
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    if !task.started && !task.stopped {
        task.started = true;
        let waiting: Vec<String> = task.numbers.iter().filter(|n| !n.foreign).map(|n| n.number.clone()).collect();
        for number in &waiting {
            place(s, task, number);
        }
    }
    ok("任务已开始", json!({ "uuid": task_id, "start": 1 }))
}

fn stop(s: &Fake, task_id: &str) -> Response {
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    task.stopped = true;
    for n in task.numbers.iter().filter(|n| n.status == WAITING) {
        s.dialer.cancel(&n.key);
    }
    ok("任务已暂停", json!({ "uuid": task_id, "start": 0 }))
}

fn delete_numbers(s: &Fake, task_id: &str, body: Value) -> Response {
    let Some(list) = body.get("numbers").and_then(Value::as_array) else {
        return refuse(s, invalid("numbers", "The numbers field is required."));
    };
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let (mut deleted, mut kept) = (Vec::new(), Vec::new());
    for number in list.iter().filter_map(code_text) {
        let Some(i) = task.numbers.iter().position(|n| n.number == number && !n.foreign) else { continue };
        let n = &task.numbers[i];
        // Only a number not dialed yet can go.
        if n.status == WAITING && n.dials.is_empty() && (!task.started || s.dialer.cancel(&n.key)) {
            task.numbers.remove(i);
            deleted.push(number);
        } else {
            kept.push(number);
        }
    }
    ok("删除号码成功", json!({ "deleted": deleted, "not_deleted": kept }))
}

/// Record what became of a dialed number (a number not dialed stays waiting).
fn finish(s: &Arc<Fake>, task_id: &str, number: &str, d: Dialed) {
    let Some(code) = d.code else { return };
    let (rolled, grade) = match code.strip_prefix('1').filter(|g| !g.is_empty() && !g.starts_with(char::is_numeric)) {
        Some(grade) => (ANSWERED, Some(grade.to_string())),
        None => (code.parse::<i64>().unwrap_or(12), None),
    };
    let status = if s.vary.unknown_status && rolled != ANSWERED { 13 } else { rolled };
    let mut rng = s.dialer.rng(d.seq, 3);
    let ring_ms: i64 = rng.random_range(3_000..15_000);
    let talk_ms: i64 = if status == ANSWERED { rng.random_range(10_000..90_000) } else { 0 };
    let hangup = d.ended_at;
    let call = hangup - chrono::Duration::milliseconds(ring_ms + talk_ms);
    let dial = Dial {
        id: s.history_id.fetch_add(1, Relaxed) as i64,
        call_id: uuid::Uuid::new_v4().to_string(),
        status,
        call_time: call,
        answered_at: (status == ANSWERED).then(|| call + chrono::Duration::milliseconds(ring_ms)),
        hangup_at: hangup,
        bill_ms: talk_ms,
        duration_ms: ring_ms + talk_ms,
    };
    let notify = {
        let mut tasks = s.tasks.lock().unwrap();
        let Some(task) = tasks.get_mut(task_id) else { return };
        let Some(num) = task.numbers.iter_mut().find(|n| n.number == number && !n.foreign) else { return };
        num.status = status;
        if let Some(grade) = grade {
            num.records.push(Rec {
                id: uuid::Uuid::new_v4().to_string(),
                task_id: task_id.to_string(),
                number: number.to_string(),
                dial: dial.clone(),
                grade,
                tags: s.vary.tags.clone(),
            });
        }
        num.dials.push(dial);
        // An unanswered number with redials left goes back to waiting
        // (assumption: the vendor shows a number due for its recycle dial as waiting).
        if matches!(rolled, 3 | 4 | 8 | 12) && num.recycled < task.recycle_limit && !task.stopped {
            num.recycled += 1;
            num.status = WAITING;
            s.dialer.stats.vendor_redials.fetch_add(1, Relaxed);
            place(s, task, number);
            return;
        }
        let wanted = task.notify_type == 2 || (task.notify_type == 1 && status != ANSWERED);
        (wanted && !task.notify_url.is_empty()).then(|| (task.notify_url.clone(), notification(s, task_id, num)))
    };
    if let Some((url, body)) = notify {
        fake::deliver(s.http.clone(), &s.dialer, url, body.to_string().into_bytes(), Vec::new());
    }
}

/// The (undocumented) call notification: the number row with its dials,
/// plus `task_id`, the grade and the tags of its call record.
fn notification(s: &Fake, task_id: &str, n: &Num) -> Value {
    let task = (!s.vary.notify_without_task_id).then_some(task_id);
    let mut row = number_row(s, task, n, true);
    if let Some(t) = task {
        row["task_id"] = json!(t);
    }
    if let Some(r) = n.records.last() {
        let record = s.writer().record(r);
        row["level_name"] = record["level_name"].clone();
        if !r.tags.is_empty() {
            row["tags"] = record["tags"].clone();
        }
    }
    row
}

fn number_row(s: &Fake, task_id: Option<&str>, n: &Num, history: bool) -> Value {
    let w = s.writer();
    if n.foreign {
        return w.foreign_number(n.id);
    }
    let dialed = !n.dials.is_empty();
    let blacklisted = n.status == BLACKLISTED || (dialed && s.vary.is_blacklist.is_some());
    w.number(task_id, n.id, &n.number, n.status, &n.dials, blacklisted, history)
}

fn numbers(s: &Fake, query: &[(String, String)]) -> Response {
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let Some(task_id) = get("task_id") else {
        return refuse(s, invalid("task_id", "The task id field is required."));
    };
    let Some(page) = get("page").and_then(|p| p.parse::<i64>().ok()) else {
        return refuse(s, invalid("page", "The page field is required."));
    };
    let history = get("call_history").is_some_and(|v| v != "0");
    let keyword = get("keyword").filter(|k| !k.is_empty());
    let statuses: Vec<i64> =
        (query.iter()).filter(|(k, _)| k == "status[]" || k == "status").filter_map(|(_, v)| v.parse().ok()).collect();
    let tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get(&task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let rows: Vec<Value> = (task.numbers.iter())
        .filter(|n| keyword.as_ref().is_none_or(|k| n.number.contains(k.as_str())))
        .filter(|n| statuses.is_empty() || statuses.contains(&n.status))
        .map(|n| number_row(s, Some(&task.id), n, history))
        .collect();
    ok("获取号码列表成功", s.writer().page(rows, page))
}

fn done_phones(s: &Fake, body: Value) -> Response {
    let Some(task_id) = body.get("task_id").and_then(Value::as_str) else {
        return refuse(s, invalid("task_id", "The task id field is required."));
    };
    let Some(page) = body.get("page").and_then(as_i64) else {
        return refuse(s, invalid("page", "The page field is required."));
    };
    let keyword = body.get("keyword").and_then(Value::as_str).filter(|k| !k.is_empty());
    let tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let w = s.writer();
    let mut rows: Vec<Value> = Vec::new();
    for n in task.numbers.iter().filter(|n| keyword.is_none_or(|k| n.number.contains(k))) {
        if n.foreign {
            rows.push(w.foreign_record(task_id));
        }
        rows.extend(n.records.iter().map(|r| w.record(r)));
    }
    // This list answers without the code/status envelope, as documented.
    answer(StatusCode::OK, w.page(rows, page))
}

fn find_record(s: &Fake, record_id: &str) -> Option<(Rec, String)> {
    let tasks = s.tasks.lock().unwrap();
    tasks.values().find_map(|t| {
        let r = t.numbers.iter().flat_map(|n| &n.records).find(|r| r.id == record_id)?;
        Some((r.clone(), t.name.clone()))
    })
}

fn record(s: &Fake, record_id: &str) -> Response {
    match find_record(s, record_id) {
        Some((r, _)) => ok("获取任务信息成功", s.writer().record(&r)),
        None => refuse(s, error(404, "通话记录不存在")),
    }
}

fn record_info(s: &Fake, task_id: &str, record_id: &str) -> Response {
    let Some((r, name)) = find_record(s, record_id).filter(|(r, _)| r.task_id == task_id) else {
        return refuse(s, error(404, "通话记录不存在"));
    };
    let turn = |seq: i64, notify: &str, question: &str, robot: Option<&str>| {
        json!({ "id": uuid::Uuid::new_v4().to_string(), "record_id": r.id, "task_id": task_id, "notify": notify,
                "callid": r.dial.call_id, "callee": r.number, "question": question, "question_index": seq - 1,
                "answer_content": robot, "sequence": seq, "contents": [], "tags": [] })
    };
    let records = vec![
        turn(1, "enter", "", Some("您好,这里是回访中心")),
        turn(2, "asrprogress_notify", "嗯", None),
        turn(3, "asrmessage_notify", "嗯,你说", Some("感谢您的接听,再见")),
    ];
    let body = json!({
        "records": records,
        "is_intervene_bridge": false,
        "is_intervene_hangup": false,
        "info": { "record": s.writer().record(&r), "task": { "uuid": task_id, "name": name, "call_notify_type": 0 } },
    });
    answer(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_fake_codes() {
        let c = route("v1/task/{task_id}/start", "/v1/task/abc-1/start").unwrap();
        assert_eq!(c["task_id"], "abc-1");
        assert!(route("v1/task/{task_id}/start", "/v1/task/abc/stop").is_none());
        assert!(route("v1/task/number", "/v1/task/number").is_some());
        assert!(route("", "/").is_none());
        let defaults: Vec<&str> = DEFAULT_WEIGHTS.iter().map(|(c, _)| *c).collect();
        assert_eq!(defaults, FAKE_CODES);
        let answered: f64 = DEFAULT_WEIGHTS
            .iter()
            .filter(|(c, _)| c.starts_with("1") && c.len() == 2 && !c.ends_with(char::is_numeric))
            .map(|(_, w)| w)
            .sum();
        let total: f64 = DEFAULT_WEIGHTS.iter().map(|(_, w)| w).sum();
        assert!((0.35..0.45).contains(&(answered / total)), "{answered}/{total}");
        assert_eq!(crate::vendors::smartivr::PAGE_SIZE, 15);
    }
}
