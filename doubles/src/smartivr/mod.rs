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

mod json;
mod lists;
mod tasks;

use crate::config::FakeConfig;
use crate::fake::{self, FakeBehavior, FakeDialer, FakeHandle, FakeStats};
use crate::json::constant_time_eq;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
pub use json::Variations;
use json::{Dial, Rec, Writer};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

/// Rows per page of the paged lists (每页15条).
pub const PAGE_SIZE: usize = 15;

/// Codes a fake's `outcomes` may weight: a number status (0-12 of the
/// document), answered ones (1) with their grade `A`..`D`.
pub const CODES: &[&str] = &["1A", "1B", "1C", "1D", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];

/// Default mix: 40% answered (graded), then no answer, busy, power off...
pub const DEFAULTS: &[(&str, f64)] = &[
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

/// The account settings the fake reads from [`FakeConfig::options`]. Only
/// the query endpoints are documented: the other paths, the task's end-time
/// field and the per-task number limit are the assumption the daemon's
/// adapter makes too.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Options {
    /// Zone of the server's `YYYY-MM-DD HH:MM:SS` times.
    server_timezone: String,
    create_task_path: String,
    add_numbers_path: String,
    start_task_path: String,
    stop_task_path: String,
    delete_numbers_path: String,
    /// Documented: `GET v1/task/number`.
    numbers_path: String,
    /// Documented: `POST v1/task/query_done_task_phones`.
    done_phones_path: String,
    max_numbers_per_task: usize,
    end_time_field: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_timezone: "UTC".into(),
            create_task_path: "v1/task".into(),
            add_numbers_path: "v1/task/{task_id}/numbers".into(),
            start_task_path: "v1/task/{task_id}/start".into(),
            stop_task_path: "v1/task/{task_id}/stop".into(),
            delete_numbers_path: "v1/task/{task_id}/numbers/delete".into(),
            numbers_path: "v1/task/number".into(),
            done_phones_path: "v1/task/query_done_task_phones".into(),
            max_numbers_per_task: 500,
            end_time_field: "end_at".into(),
        }
    }
}

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
    opts: Options,
    vary: Variations,
    dialer: Arc<FakeDialer>,
    tasks: Mutex<HashMap<String, Task>>,
    names: Mutex<HashSet<String>>,
    next_id: AtomicI64,
    history_id: AtomicU64,
    http: reqwest::Client,
}

/// Start the fake on `listener`, checking the bearer token `config.api_key`.
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
    let tz = opts.server_timezone.parse().unwrap_or(chrono_tz::UTC);
    let (stop_tx, stop_rx) = fake::stop_signal();
    let stats = Arc::new(FakeStats::default());
    let dialer = FakeDialer::new(behavior, DEFAULTS, stats.clone(), stop_rx);
    let state = Arc::new(Fake {
        token: config.api_key.clone(),
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
        return tasks::create(&s, json_body());
    }
    if post && let Some(c) = route(&o.add_numbers_path, &path) {
        return tasks::add_numbers(&s, &c["task_id"], json_body());
    }
    if post && let Some(c) = route(&o.start_task_path, &path) {
        return tasks::start(&s, &c["task_id"]);
    }
    if post && let Some(c) = route(&o.stop_task_path, &path) {
        return tasks::stop(&s, &c["task_id"]);
    }
    if post && let Some(c) = route(&o.delete_numbers_path, &path) {
        return tasks::delete_numbers(&s, &c["task_id"], json_body());
    }
    if method == Method::GET && route(&o.numbers_path, &path).is_some() {
        return lists::numbers(&s, &query_pairs(&uri));
    }
    if post && route(&o.done_phones_path, &path).is_some() {
        return lists::done_phones(&s, json_body());
    }
    if method == Method::GET
        && let Some(c) = route("v1/record/{record_id}", &path)
    {
        return lists::record(&s, &c["record_id"]);
    }
    if method == Method::GET
        && let Some(c) = route("v1/task/record_info/{task_id}/{record_id}", &path)
    {
        return lists::record_info(&s, &c["task_id"], &c["record_id"]);
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
        let defaults: Vec<&str> = DEFAULTS.iter().map(|(c, _)| *c).collect();
        assert_eq!(defaults, CODES);
        let answered: f64 = DEFAULTS
            .iter()
            .filter(|(c, _)| c.starts_with("1") && c.len() == 2 && !c.ends_with(char::is_numeric))
            .map(|(_, w)| w)
            .sum();
        let total: f64 = DEFAULTS.iter().map(|(_, w)| w).sum();
        assert!((0.35..0.45).contains(&(answered / total)), "{answered}/{total}");
        assert_eq!(PAGE_SIZE, 15);
    }
}
