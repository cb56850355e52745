//! A protocol-faithful ITNIO AI voice: create/import/stop on the configured
//! paths with the family's auth headers and the platform's reply codes, daily
//! hours 09:00-20:00, imports of at most 100, automatic redials, and one
//! status push per call to `behavior.callback_url` (set in the console).
//!
//! Every push is built here as JSON with exactly the fields of the published
//! push list ([`PUSH_FIELDS`]); what real pushes do beyond it is switched on
//! in [`Variations`].

mod push;

use crate::config::FakeConfig;
use crate::fake::{self, Dialed, FakeBehavior, FakeCall, FakeDialer, FakeHandle, FakeStats};
use crate::itnio::{self, AuthFault};
use crate::json::{as_i64, code_text};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use push::{Call, is_conversation, record};
pub use push::{PUSH_FIELDS, REQUIRED_FIELDS, UNKNOWN_STATUS, Variations, optional_fields};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// Customers per import request (−56 "Exceed import limit, Max. 100 entries").
pub const MAX_IMPORT: usize = 100;
/// The platform's daily dialing hours (−48 "Create a daily dial-up task between 9:00-20:00").
pub const DAY_START: &str = "09:00";
pub const DAY_END: &str = "20:00";

/// Codes a fake's `outcomes` may weight: the push's `resultStatus` values,
/// answered calls with the grade letter of `intentLevelDetailName`.
pub const CODES: &[&str] = &[
    "ANSWERED:A",
    "ANSWERED:B",
    "ANSWERED:C",
    "ANSWERED:D",
    "ANSWERED:E",
    "ANSWERED:F",
    "NO_ANSWER",
    "BUSY",
    "POWER_OFF",
    "OUT_OF_SERVICE",
    "REFUSED",
    "VACANT_NUMBER",
    "CAN_NOT_CONNECT",
    "FROM_PHONE_ERROR",
    "SYSTEM_ERROR",
    "CALL_LOSS",
    "TRANSFER_ARTIFICIAL",
];

/// The default mix: about 40 % answered.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("ANSWERED:A", 8.0),
    ("ANSWERED:B", 10.0),
    ("ANSWERED:C", 10.0),
    ("ANSWERED:D", 8.0),
    ("ANSWERED:E", 3.0),
    ("ANSWERED:F", 2.0),
    ("NO_ANSWER", 28.0),
    ("BUSY", 10.0),
    ("POWER_OFF", 8.0),
    ("VACANT_NUMBER", 4.0),
    ("REFUSED", 4.0),
    ("CAN_NOT_CONNECT", 3.0),
    ("CALL_LOSS", 1.0),
    ("SYSTEM_ERROR", 1.0),
];

/// The account settings the fake reads from [`FakeConfig::options`]. The
/// create/import/stop paths are not in the published page: these defaults
/// are the same assumption the daemon's adapter makes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Options {
    path_prefix: String,
    create_path: String,
    import_path: String,
    stop_path: String,
    /// `appId` the pushes carry.
    app_id: Option<String>,
    /// The account's robot script: `dialogFlowId` must name it.
    dialog_flow_id: Option<i64>,
    /// The account's lines (`tenantPhoneNumberId` of the pushes).
    phone_line_ids: Vec<i64>,
    /// The account's zone: daily hours and dates are in it.
    timezone: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path_prefix: String::new(),
            create_path: "/apiOpen/v1/job/create".into(),
            import_path: "/apiOpen/v1/job/importCustomer".into(),
            stop_path: "/apiOpen/v1/job/stop".into(),
            app_id: None,
            dialog_flow_id: None,
            phone_line_ids: Vec::new(),
            timezone: "Asia/Shanghai".into(),
        }
    }
}

impl Options {
    fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    fn full_path(&self, path: &str) -> String {
        let prefix = self.path_prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("/{}", path.trim_start_matches('/'))
        } else {
            format!("/{prefix}/{}", path.trim_start_matches('/'))
        }
    }
}

struct Job {
    date: NaiveDate,
    end: NaiveTime,
    redial_times: u32,
    phones: HashSet<String>,
}

struct Fake {
    api_key: String,
    api_secret: String,
    opts: Options,
    dialer: Arc<FakeDialer>,
    http: reqwest::Client,
    jobs: Mutex<BTreeMap<i64, Job>>,
    names: Mutex<HashSet<String>>,
    call_seq: std::sync::atomic::AtomicU64,
    variations: Variations,
}

impl Fake {
    fn gate(&self, headers: &HeaderMap) -> Result<(), Json<Value>> {
        let fault = match itnio::check_auth(headers, &self.api_key, &self.api_secret, Utc::now().timestamp()) {
            Ok(()) if self.dialer.is_fatal() => return Err(self.refuse(-3, "The customer's balance is insufficient")),
            Ok(()) => return Ok(()),
            Err(f) => f,
        };
        self.dialer.stats.bad_auth.fetch_add(1, Relaxed);
        let (code, reason) = match fault {
            AuthFault::MissingSign => (-57, "The Sign cannot be empty"),
            AuthFault::MissingTimestamp => (-58, "The Timestamp cannot be empty"),
            AuthFault::MissingApiKey => (-59, "The Api-Key cannot be empty"),
            AuthFault::BadCredentials => (-1, "Authentication error"),
            AuthFault::Expired => (-4, "Timestamp expires"),
        };
        Err(Json(json!({ "status": code.to_string(), "reason": reason })))
    }

    fn refuse(&self, code: i64, reason: &str) -> Json<Value> {
        self.dialer.stats.requests_refused.fetch_add(1, Relaxed);
        Json(json!({ "status": code.to_string(), "reason": reason }))
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
        let router = axum::Router::new()
            .route(&opts.full_path(&opts.create_path), post(create))
            .route(&opts.full_path(&opts.import_path), post(import))
            .route(&opts.full_path(&opts.stop_path), post(stop));
        let state = Arc::new(Fake {
            api_key,
            api_secret,
            opts,
            dialer,
            http: reqwest::Client::new(),
            jobs: Mutex::new(BTreeMap::new()),
            names: Mutex::new(HashSet::new()),
            call_seq: Default::default(),
            variations,
        });
        fake::serve(router.with_state(state), listener, stats, stop_tx)
    }
}

fn time(v: Option<&Value>) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(v?.as_str()?, "%H:%M").ok()
}

async fn create(State(f): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(e) = f.gate(&headers) {
        return e;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return f.refuse(-27, "Abnormal parameter verification");
    };
    if f.dialer.roll_busy() {
        return f.refuse(-52, "The number of concurrent requests exceeds the upper limit");
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() || body.get("dialogFlowId").and_then(as_i64) != f.opts.dialog_flow_id {
        return f.refuse(-27, "Abnormal parameter verification");
    }
    let date =
        body.get("startDate").and_then(Value::as_str).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let Some(date) = date else { return f.refuse(-28, "Automatic mode, the task start time cannot be empty") };
    let (min, max) = (time(Some(&json!(DAY_START))).unwrap(), time(Some(&json!(DAY_END))).unwrap());
    match (time(body.get("dailyStartTime")), time(body.get("dailyEndTime"))) {
        (Some(s), Some(e)) if s >= min && e <= max && s < e => {}
        _ => return f.refuse(-48, "Create a daily dial-up task between 9:00-20:00"),
    }
    let end = time(body.get("dailyEndTime")).unwrap_or(max);
    if body.get("inactiveTimeList").and_then(Value::as_array).is_some_and(|l| l.len() > 3) {
        return f.refuse(-27, "Abnormal parameter verification");
    }
    let redial_times = body.get("redialTimes").and_then(as_i64).unwrap_or(0);
    let interval = body.get("redialInterval").and_then(as_i64).unwrap_or(0);
    if !(0..=10).contains(&redial_times) {
        return f.refuse(-31, "Abnormal replayed on parameters");
    }
    if redial_times > 0 && interval <= 0 {
        return f.refuse(-30, "Replay abnormal interval parameters");
    }
    if !f.names.lock().unwrap().insert(name) {
        return f.refuse(-33, "Outbound task name already exists");
    }
    let id = {
        let mut jobs = f.jobs.lock().unwrap();
        let id = jobs.keys().next_back().map_or(5001, |k| k + 1);
        jobs.insert(id, Job { date, end, redial_times: redial_times as u32, phones: HashSet::new() });
        id
    };
    f.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    Json(json!({ "status": "0", "reason": "success", "data": id }))
}

async fn import(State(f): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    if let Err(e) = f.gate(&headers) {
        return e;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return f.refuse(-27, "Abnormal parameter verification");
    };
    let Some(job_id) = body.get("robotCallJobId").and_then(as_i64) else {
        return f.refuse(-41, "ID parameter abnormal");
    };
    let customers = body.get("customers").and_then(Value::as_array).cloned().unwrap_or_default();
    if customers.len() > MAX_IMPORT {
        return f.refuse(-56, "Exceed import limit, Max. 100 entries");
    }
    let mut calls = Vec::new();
    let (not_after, redial_times) = {
        let mut jobs = f.jobs.lock().unwrap();
        let Some(job) = jobs.get_mut(&job_id) else { return f.refuse(-32, "Outbound task does not exist") };
        if customers.is_empty() {
            return f.refuse(-35, "Customer information import failed");
        }
        let mut seen = HashSet::new();
        for c in &customers {
            let phone = c.get("phoneNumber").and_then(code_text).unwrap_or_default();
            if phone.len() < 6 || !phone.chars().all(|ch| ch.is_ascii_digit()) {
                return f.refuse(-27, "Abnormal parameter verification");
            }
            if job.phones.contains(&phone) || !seen.insert(phone.clone()) {
                return f.refuse(-53, "The customer already exists in this task");
            }
            calls.push((phone, c.get("properties").cloned().unwrap_or(json!({}))));
        }
        job.phones.extend(seen);
        let tz = f.opts.tz();
        let end = tz.from_local_datetime(&job.date.and_time(job.end)).earliest().map(|t| t.with_timezone(&Utc));
        (end, job.redial_times)
    };
    for (phone, props) in calls {
        let me = f.clone();
        let call = FakeCall { key: format!("{job_id}/{phone}"), phone: phone.clone(), not_after };
        f.dialer.place(call, None, move |d| me.finish(job_id, redial_times, &phone, props, d));
    }
    Json(json!({ "status": "0", "reason": "success" }))
}

impl Fake {
    /// Redial unconnected calls as configured, then push the record.
    fn finish(&self, job_id: i64, redial_times: u32, phone: &str, props: Value, d: Dialed) {
        let Some(mut code) = d.code.clone() else { return }; // not dialed: no call record
        let mut redials = 0;
        let mut rng = self.dialer.rng(d.seq, 3);
        let table: Vec<(String, f64)> = if self.dialer.behavior.outcomes.is_empty() {
            DEFAULTS.iter().map(|(c, w)| (c.to_string(), *w)).collect()
        } else {
            self.dialer.behavior.outcomes.iter().map(|(c, w)| (c.clone(), *w)).collect()
        };
        while !is_conversation(&code) && redials < redial_times {
            redials += 1;
            self.dialer.stats.vendor_redials.fetch_add(1, Relaxed);
            code = FakeDialer::pick(&table, rng.random()).unwrap_or("NO_ANSWER").to_string();
        }
        let n = self.call_seq.fetch_add(1, Relaxed);
        let record = record(
            &self.opts,
            &self.variations,
            Call { job_id, n, phone, code: &code, redials, props: &props, dialed: &d },
        );
        // Counted pending before it is logged (see the Laaffic fake).
        if let Some(url) = &self.dialer.behavior.callback_url {
            let body = serde_json::to_vec(&record).unwrap_or_default();
            fake::deliver(self.http.clone(), &self.dialer, url.clone(), body, Vec::new());
        }
        if let Some(log) = &self.variations.sent {
            log.lock().unwrap().push(record);
        }
    }
}

async fn stop(State(f): State<Arc<Fake>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    if let Err(e) = f.gate(&headers) {
        return e;
    }
    let Some(job_id) = body.get("robotCallJobId").and_then(as_i64) else {
        return f.refuse(-41, "ID parameter abnormal");
    };
    let jobs = f.jobs.lock().unwrap();
    let Some(job) = jobs.get(&job_id) else { return f.refuse(-32, "Outbound task does not exist") };
    for phone in &job.phones {
        f.dialer.cancel(&format!("{job_id}/{phone}"));
    }
    Json(json!({ "status": "0", "reason": "success" }))
}
