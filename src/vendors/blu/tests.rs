//! Blu: contract tests on the published examples, code tables, options, and
//! the adapter against the fake on loopback.

use super::adapter::{BluAdapter, predial_says_call};
use super::codes::{self, API_ERRORS, DICT1, DICT2, LINE_STATUS, SPECIAL};
use super::{BluOptions, MobileFormat, sign};
use crate::config::{Secret, VendorSettings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::common::check_url_token;
use crate::vendors::fake::{FakeBehavior, FakeHandle};
use crate::vendors::{
    AttemptHandle, CallEvent, DispatchBatch, DispatchItem, LookupResult, PredialVerdict, TaskHandle, VendorAdapter,
    VendorErrorKind,
};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APP_ID: &str = "10001";
const APP_KEY: &str = "test-app-key";
const TOKEN: &str = "cb-token";

fn settings(options: toml::Table) -> VendorSettings {
    VendorSettings {
        id: "blu-test".into(),
        kind: "blu".into(),
        base_url: None,
        api_key: Some(Secret::new(APP_ID)),
        api_secret: Some(Secret::new(APP_KEY)),
        callback_secret: None,
        callback_token: Some(Secret::new(TOKEN)),
        callback_allow_ips: Vec::new(),
        circuit_cooldown: Duration::from_secs(60),
        max_concurrency: 10,
        rate_per_second: None,
        request_timeout: Duration::from_secs(5),
        embedded_listen: None,
        sim: None,
        fake: FakeBehavior::default(),
        options,
        tag_intents: Default::default(),
    }
}

fn adapter(base: &str) -> BluAdapter {
    BluAdapter::from_settings(&settings(toml::Table::new()), base).unwrap()
}

fn utc_opts() -> BluOptions {
    BluOptions::default()
}

// ---------------------------------------------------------------- contract

#[test]
fn sign_is_lowercase_hex_sha256_of_app_id_key_and_timestamp() {
    // printf 'id''key''1700000000000' | sha256sum
    assert_eq!(sign("id", "key", "1700000000000"), "1d3b66c4f0cea0e828bfc3ce111fde18ff96641607f521cb3cd4ba9a58673b17");
    // printf '10001''secret''1626856869046' | sha256sum (the headers of Blu's curl examples)
    assert_eq!(
        sign("10001", "secret", "1626856869046"),
        "8b0c247d7fcb84e35efbd5ff9b5ab6a5ef49b536c71567bc1a81f50058b4b918"
    );
}

/// Blu's callback page, verbatim: not JSON (`66635573.` and unescaped quotes
/// inside `extVars`). The adapter refuses it as malformed (400, so Blu
/// retries) rather than guessing; the same record written as JSON parses.
#[test]
fn published_callback_example_is_refused_and_its_json_form_parses() {
    let verbatim = r#"{
    "taskId": 66635573.
    "records": [
        {
            "id": 55667448,
            "name": "Anoj Mohoo",
            "mobile": "0177****3990",
            "extVars": "{"key": "string", "intkey":10000}",
            "callVars": "{"name": "Bob", "salary":10000}"
        }
    ]
}"#;
    let a = adapter("http://127.0.0.1:9");
    assert!(matches!(a.parse_callback(verbatim.as_bytes()), Err(crate::vendors::CallbackError::Malformed(_))));

    let as_json = r#"{"taskId": 66635573, "records": [{"id": 55667448, "name": "Anoj Mohoo",
        "mobile": "0177****3990", "extVars": "{\"key\": \"string\", \"intkey\":10000}",
        "callVars": "{\"name\": \"Bob\", \"salary\":10000}"}]}"#;
    let events = a.parse_callback(as_json.as_bytes()).unwrap().events;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.attempt_ref.as_deref(), Some("55667448"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("66635573"));
    assert_eq!(e.phone, None, "a masked number is no phone");
    assert!(!e.is_final, "the example carries no line status nor conclusion");
    assert_eq!(e.outcome.disposition, Disposition::Unknown);
    assert_eq!(a.callback_ack(), (200, json!({"code": 200, "message": "success"})));
    assert!(!a.signs_callbacks());
}

#[test]
fn payment_slots_of_the_annex_parse() {
    let tz = chrono_tz::UTC;
    let morning = super::wire::payment_slot(&json!("['2024-08-15 07:00:00', '2024-08-15 12:00:00']"), tz).unwrap();
    assert_eq!(morning.0, Utc.with_ymd_and_hms(2024, 8, 15, 7, 0, 0).unwrap());
    assert_eq!(morning.1, Utc.with_ymd_and_hms(2024, 8, 15, 12, 0, 0).unwrap());
    let tomorrow_or_after =
        super::wire::payment_slot(&json!(["2024-08-16 00:00:00", "2024-08-17 23:59:59"]), tz).unwrap();
    assert_eq!(tomorrow_or_after.1, Utc.with_ymd_and_hms(2024, 8, 17, 23, 59, 59).unwrap());
    assert_eq!(super::wire::payment_slot(&Value::Null, tz), None, "Payment time not extracted: null");
    assert_eq!(super::wire::payment_slot(&json!("garbage"), tz), None);
}

#[test]
fn a_result_record_becomes_a_final_event() {
    let a = BluAdapter::from_settings(
        &settings(toml::toml! { task_timezone = "Asia/Jakarta" mobile_format = "national" country_code = "62" }),
        "http://127.0.0.1:9",
    )
    .unwrap();
    let body = r#"{"taskId":"20240815","records":[{"id":"c7-1","mobile":"081234567","orderId":"c7-1",
        "callStatus":"D99","intention":"HPTP","callStartTime":"2024-08-15 10:00:00",
        "callEndTime":"2024-08-15 10:01:05","duration":65,
        "paymentTime":"['2024-08-15 17:00:00', '2024-08-15 18:00:00']"}]}"#;
    let e = a.parse_callback(body.as_bytes()).unwrap().events.remove(0);
    assert_eq!(e.attempt_ref.as_deref(), Some("c7-1"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("20240815"));
    assert_eq!(e.phone.as_deref(), Some("+6281234567"));
    assert!(e.is_final);
    assert_eq!(e.outcome.disposition, Disposition::Answered);
    assert_eq!(e.outcome.intent, Some(Intent::PromiseToPay));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("blu:D99"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("blu:HPTP"));
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 8, 15, 3, 0, 0).unwrap()), "Jakarta is UTC+7");
    assert_eq!(e.duration_ms, Some(65_000));
    let record = super::wire::callback_records(&serde_json::from_str(body).unwrap(), chrono_tz::Asia::Jakarta)
        .unwrap()
        .remove(0);
    assert_eq!(record.payment_slot.unwrap().0, Utc.with_ymd_and_hms(2024, 8, 15, 10, 0, 0).unwrap());

    // A flat record, times in Unix ms, a line status only.
    let flat = r#"{"taskId":"t","id":"x-2","mobile":"6281","callStatus":"D02","callStartTime":1723690800000}"#;
    let e = a.parse_callback(flat.as_bytes()).unwrap().events.remove(0);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::PowerOff, None));
    assert_eq!(e.started_at.unwrap().timestamp_millis(), 1723690800000);
    assert!(a.parse_callback(br#"{"records":[{"callStatus":"D01"}]}"#).is_err(), "no id, no task+mobile");
    assert!(a.parse_callback(b"[1]").is_err());
}

#[test]
fn the_payment_slot_becomes_the_requested_time_per_option() {
    // A promise to pay with the annex's slot format, in the account zone.
    let body = r#"{"taskId":"20240815","id":"c7-1","mobile":"6281234567","callStatus":"D99","intention":"HPTP",
        "paymentTime":"['2024-08-16 09:00:00', '2024-08-16 17:00:00']"}"#;
    let requested = |choice: &str| {
        let opts = toml::toml! { task_timezone = "Asia/Jakarta" }
            .into_iter()
            .chain([("payment_slot_callback".to_string(), toml::Value::String(choice.into()))])
            .collect();
        let a = BluAdapter::from_settings(&settings(opts), "http://127.0.0.1:9").unwrap();
        a.parse_callback(body.as_bytes()).unwrap().events.remove(0).outcome.requested_at
    };
    let jakarta = |h: u32| Some(Utc.with_ymd_and_hms(2024, 8, 16, h - 7, 0, 0).unwrap());
    assert_eq!(requested("start"), jakarta(9));
    assert_eq!(requested("end"), jakarta(17));
    assert_eq!(requested("off"), None);
    assert_eq!(utc_opts().payment_slot_callback, super::PaymentSlotCallback::Start, "documented default");
    // No slot extracted (`null`), or one that cannot be read: no requested time.
    for slot in ["null", r#""Payment time not extracted""#] {
        let body =
            format!(r#"{{"taskId":"t","id":"c7-2","callStatus":"D99","intention":"HPTP","paymentTime":{slot}}}"#);
        let e = adapter("http://127.0.0.1:9").parse_callback(body.as_bytes()).unwrap().events.remove(0);
        assert_eq!((e.outcome.intent, e.outcome.requested_at), (Some(Intent::PromiseToPay), None), "{slot}");
    }
    let bad = settings(toml::toml! { payment_slot_callback = "middle" });
    let err = BluAdapter::from_settings(&bad, "http://127.0.0.1:9").unwrap_err();
    assert!(err.contains("middle") && err.contains("start"), "{err}");
}

#[test]
fn predial_queries_and_replies() {
    let a = adapter("http://127.0.0.1:9");
    let q = a.parse_predial(br#"{"taskId":"20261121","id":"c1-2","mobile":"6281234","orderId":"c1-2"}"#).unwrap();
    assert_eq!(q.attempt_ref.as_deref(), Some("c1-2"));
    assert_eq!(q.vendor_task_id.as_deref(), Some("20261121"));
    assert_eq!(q.phone.as_deref(), Some("+6281234"));
    // Only the merchant's customised parameters (extVars): orderId is our reference.
    let q = a.parse_predial(br#"{"orderId":"c1-3"}"#).unwrap();
    assert_eq!(q.attempt_ref.as_deref(), Some("c1-3"));
    assert!(a.parse_predial(br#"{"foo":"bar"}"#).is_err());
    assert!(a.parse_predial(b"nope").is_err());

    let opts = utc_opts();
    let (status, yes) = a.predial_reply(&PredialVerdict::Proceed);
    assert_eq!((status, &yes), (200, &json!({"code": 200, "data": {"call": true}, "message": "call"})));
    assert!(predial_says_call(&opts, status, &yes));
    let (status, no) = a.predial_reply(&PredialVerdict::Refuse { reason: "window closed".into() });
    assert_eq!(no["code"], json!(0));
    assert!(!predial_says_call(&opts, status, &no));
    // Blu's published example answer, verbatim: a cancel.
    let published: Value = serde_json::from_str(
        r#"{
    "code": 0,
    "message": "Cancel call"
}"#,
    )
    .unwrap();
    assert!(!predial_says_call(&opts, 200, &published));
    assert!(!predial_says_call(&opts, 500, &yes), "no clear yes, no dial");
}

// ---------------------------------------------------------------- codes

#[test]
fn every_code_row_maps_as_intended() {
    for (code, d, _) in LINE_STATUS.iter().chain(SPECIAL) {
        let o = codes::normalize(Some(code), None);
        assert_eq!(o.disposition, *d, "{code}");
        assert_eq!(o.raw_code, Some(format!("blu:{code}")));
        assert_eq!((o.intent, o.raw_intent), (None, None));
        if *d == Disposition::Unknown {
            assert!(["D90", "NAN"].contains(code), "{code} should not map to unknown");
        }
    }
    for (code, d, i) in DICT1.iter().chain(DICT2) {
        let o = codes::normalize(None, Some(code));
        assert_eq!((o.disposition, o.intent), (*d, *i), "{code}");
        assert_eq!(o.raw_intent, Some(format!("blu:{code}")));
        if *i == Some(Intent::Unknown) {
            assert!(["unknown", "undefined"].contains(code), "{code} should not map to unknown");
        }
        // Connected calls: the conclusion refines the line status.
        let connected = codes::normalize(Some("D99"), Some(code));
        let expected = match d {
            Disposition::Voicemail | Disposition::Cancelled => *d,
            _ => Disposition::Answered,
        };
        assert_eq!(connected.disposition, expected, "D99 + {code}");
        assert_eq!(connected.raw_code.as_deref(), Some("blu:D99"));
    }
    let all: HashMap<&str, (Disposition, Option<Intent>)> =
        LINE_STATUS.iter().chain(SPECIAL).chain(DICT1).chain(DICT2).map(|(c, d, i)| (*c, (*d, *i))).collect();
    assert_eq!(all.len(), LINE_STATUS.len() + SPECIAL.len() + DICT1.len() + DICT2.len() - 1, "only Busy repeats");
    assert_eq!(LINE_STATUS.len(), 15);
    assert_eq!(all["D01"].0, Disposition::Busy);
    assert_eq!(all["D03"].0, Disposition::Vacant);
    assert_eq!(all["D08"].0, Disposition::Voicemail);
    assert_eq!(all["D99"].0, Disposition::Answered);
    assert_eq!(all["LICERROR"].0, Disposition::VendorError);
    assert_eq!(all["CPL"].1, Some(Intent::Complaint));
    assert_eq!(all["Complan"].1, Some(Intent::Complaint));
    assert_eq!(all["AP"].1, Some(Intent::Paid));
    assert_eq!(all["HPTP"].1, Some(Intent::PromiseToPay));
    assert_eq!(all["NotOneself"].1, Some(Intent::WrongPerson));
    assert_eq!(all["Taskcancel"].0, Disposition::Cancelled);
    for code in codes::FAKE_CODES {
        assert!(all.contains_key(code), "fake code {code} is in no table");
    }
    for (code, _) in codes::FAKE_DEFAULTS {
        assert!(codes::FAKE_CODES.contains(code), "{code}");
    }
}

#[test]
fn unknown_codes_keep_their_raw_value() {
    let o = codes::normalize(Some("D55"), Some("Maybe"));
    assert_eq!(o.disposition, Disposition::Unknown);
    assert_eq!(o.raw_code.as_deref(), Some("blu:D55"));
    assert_eq!(o.intent, Some(Intent::Unknown));
    assert_eq!(o.raw_intent.as_deref(), Some("blu:Maybe"));
    // An unknown line status with a known conclusion: the conclusion decides.
    let o = codes::normalize(Some("D55"), Some("AP"));
    assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::Paid)));
    assert_eq!(codes::normalize(None, None).disposition, Disposition::Unknown);
}

#[test]
fn api_error_codes_are_classified() {
    for (code, kind, _) in API_ERRORS {
        assert_eq!(codes::classify(code, &[]).0, *kind, "{code}");
    }
    assert_eq!(codes::classify("4001", &[]).0, VendorErrorKind::Fatal);
    assert_eq!(codes::classify("5000", &[]).0, VendorErrorKind::RetryLater);
    assert_eq!(codes::classify("9999", &[]), (VendorErrorKind::Fatal, "undocumented code"));
    assert_eq!(codes::classify("9999", &["9999".into()]).0, VendorErrorKind::RetryLater);
}

// ---------------------------------------------------------------- options

#[test]
fn check_reports_missing_credentials_and_bad_options_by_field() {
    assert!(super::check(&settings(toml::Table::new())).is_empty());
    let mut s = settings(toml::toml! { task_prefx = "x" });
    s.api_key = None;
    s.api_secret = None;
    s.callback_token = None;
    let problems: HashMap<String, String> = super::check(&s).into_iter().collect();
    assert!(problems["options"].contains("task_prefx"), "{problems:?}");
    assert!(problems.contains_key("api_key") && problems.contains_key("api_secret"), "{problems:?}");
    assert!(problems["callback_token"].contains("does not sign"), "{problems:?}");
    let s = settings(toml::toml! {
        task_timezone = "Mars/Base" task_id_template = "{prefix}" mobile_format = "national" query_page_size = 0
    });
    let fields: Vec<String> = super::check(&s).into_iter().map(|(f, _)| f).collect();
    for f in ["options.task_timezone", "options.task_id_template", "options.country_code", "options.query_page_size"] {
        assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
    }
    assert!(BluAdapter::from_settings(&s, "http://x").is_err());
}

#[test]
fn task_ids_and_mobiles_follow_the_options() {
    let opts: BluOptions = crate::vendors::common::options(
        &toml::toml! { task_id_template = "{prefix}{campaign}-{yyyyMMdd}" task_prefix = "cd-" },
    )
    .unwrap();
    let late = Utc.with_ymd_and_hms(2026, 11, 21, 20, 0, 0).unwrap();
    assert_eq!(super::adapter::task_id(&opts, chrono_tz::UTC, late, "c1"), "cd-c1-20261121");
    assert_eq!(super::adapter::task_id(&opts, chrono_tz::Asia::Jakarta, late, "c1"), "cd-c1-20261122");

    let mut opts = BluOptions::default();
    assert_eq!(super::adapter::to_mobile(&opts, "+6281234567").unwrap(), "6281234567");
    opts.mobile_format = MobileFormat::E164;
    assert_eq!(super::adapter::to_mobile(&opts, "+6281234567").unwrap(), "+6281234567");
    opts.mobile_format = MobileFormat::National;
    opts.country_code = Some("62".into());
    assert_eq!(super::adapter::to_mobile(&opts, "+6281234567").unwrap(), "081234567");
    assert!(super::adapter::to_mobile(&opts, "+4481234567").is_err());
    assert_eq!(super::adapter::from_mobile(&opts, "081234567").as_deref(), Some("+6281234567"));
    assert_eq!(super::adapter::from_mobile(&opts, "0177****3990"), None);
}

// ---------------------------------------------------------------- against the fake

struct Inbox {
    adapter: BluAdapter,
    events: Mutex<Vec<CallEvent>>,
    predials: Mutex<Vec<String>>,
    refuse: fn(&str) -> bool,
}

/// Our side: result callbacks at `/cb`, pre-dial checks at `/cb/predial`,
/// both behind the URL token.
struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(refuse: fn(&str) -> bool) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb?token={TOKEN}", listener.local_addr().unwrap());
        let inbox = Arc::new(Inbox {
            adapter: adapter("http://127.0.0.1:9"),
            events: Mutex::new(Vec::new()),
            predials: Mutex::new(Vec::new()),
            refuse,
        });
        let app = axum::Router::new()
            .route("/cb", post(callback))
            .route("/cb/predial", post(predial))
            .with_state(inbox.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inbox, task }
    }

    fn finals(&self) -> HashMap<String, Vec<CallEvent>> {
        let mut out: HashMap<String, Vec<CallEvent>> = HashMap::new();
        for e in self.inbox.events.lock().unwrap().iter().filter(|e| e.is_final) {
            out.entry(e.attempt_ref.clone().unwrap_or_default()).or_default().push(e.clone());
        }
        out
    }
}

async fn callback(
    State(inbox): State<Arc<Inbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    if check_url_token(Some(TOKEN), q.as_deref()).is_err() {
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(Value::Null));
    }
    match inbox.adapter.parse_callback(&body).map(|p| p.events) {
        Ok(events) => {
            assert_eq!(events.len(), 1, "one record per POST");
            inbox.events.lock().unwrap().extend(events);
            let (status, ack) = inbox.adapter.callback_ack();
            (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(ack))
        }
        Err(_) => (axum::http::StatusCode::BAD_REQUEST, axum::Json(Value::Null)),
    }
}

async fn predial(
    State(inbox): State<Arc<Inbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    if check_url_token(Some(TOKEN), q.as_deref()).is_err() {
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(Value::Null));
    }
    let Ok(query) = inbox.adapter.parse_predial(&body) else {
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(Value::Null));
    };
    let id = query.attempt_ref.unwrap_or_default();
    inbox.predials.lock().unwrap().push(id.clone());
    let verdict = if (inbox.refuse)(&id) {
        PredialVerdict::Refuse { reason: "suppressed".into() }
    } else {
        PredialVerdict::Proceed
    };
    let (status, reply) = inbox.adapter.predial_reply(&verdict);
    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(reply))
}

async fn fake(behavior: FakeBehavior, options: toml::Table) -> (FakeHandle, BluAdapter) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = settings(options);
    let handle = super::fake::spawn(&s, behavior, listener).await.unwrap();
    let adapter = BluAdapter::from_settings(&s, &handle.base_url()).unwrap();
    (handle, adapter)
}

fn batch(prefix: &str, n: usize) -> DispatchBatch {
    DispatchBatch {
        campaign: "c".into(),
        callback_url: String::new(),
        predial_url: String::new(),
        not_after: None,
        vendor_redial: false,
        items: (0..n)
            .map(|i| DispatchItem {
                attempt_ref: format!("{prefix}-{i}"),
                phone: format!("+62812{i:07}"),
                case_id: Some(format!("case-{i}")),
                variables: json!({ "name": format!("Name {i}"), "amount": i }),
            })
            .collect(),
    }
}

fn handle(b: &DispatchBatch, i: usize, task: &str) -> AttemptHandle {
    AttemptHandle {
        attempt_ref: b.items[i].attempt_ref.clone(),
        phone: b.items[i].phone.clone(),
        vendor_task_id: Some(task.to_string()),
        external_call_id: None,
        dispatched_at: Some(Utc::now()),
    }
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_callbacks_lookup_and_poll_against_the_fake() {
    let rx = Receiver::start(|_| false).await;
    let behavior = FakeBehavior { max_lines: 8, callback_url: Some(rx.url.clone()), ..FakeBehavior::fast(11) };
    let (fake, a) = fake(behavior, toml::toml! { query_page_size = 7 }).await;
    let mut b = batch("r", 40);
    b.items[39].phone = "12".into(); // not a number: refused by the adapter, never sent
    let receipt = a.dispatch(&b).await.unwrap();
    let today = Utc::now().format("%Y%m%d").to_string();
    assert_eq!(receipt.vendor_task_id, today);
    assert_eq!(receipt.accepted.len(), 39);
    assert_eq!(receipt.rejected.len(), 1);
    assert!(receipt.raw_response.as_deref().unwrap().contains("2000"));

    wait_until("39 final results", Duration::from_secs(20), || rx.finals().len() == 39).await;
    wait_until("deliveries drained", Duration::from_secs(5), || fake.stats.callbacks_pending.load(Relaxed) == 0).await;
    let finals = rx.finals();
    assert!(finals.values().all(|v| v.len() == 1), "exactly one final per record");
    assert_eq!(rx.inbox.predials.lock().unwrap().len(), 39, "a pre-dial check before every dial");
    for (i, item) in b.items.iter().take(39).enumerate() {
        let e = &finals[&item.attempt_ref][0];
        assert_eq!(e.vendor_task_id.as_deref(), Some(today.as_str()));
        assert_eq!(e.phone.as_deref(), Some(item.phone.as_str()));
        assert_ne!(e.outcome.disposition, Disposition::Cancelled, "{i}");
        assert!(e.outcome.raw_code.as_deref().is_some_and(|c| c.starts_with("blu:")));
    }
    let answered = finals.values().filter(|v| v[0].outcome.disposition == Disposition::Answered).count();
    assert!(answered > 0 && answered < 39, "a mix of outcomes: {answered} answered");
    assert_eq!(fake.stats.dials.load(Relaxed), 39);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    assert_eq!(fake.stats.bad_auth.load(Relaxed), 0);

    // Lookup pages through the task (page size 7) and finds each record.
    for i in [0, 6, 7, 38] {
        let LookupResult::Finished(e) = a.lookup(&handle(&b, i, &today)).await.unwrap() else { panic!("{i}") };
        assert_eq!(e.outcome, finals[&b.items[i].attempt_ref][0].outcome);
        assert_eq!(e.started_at, finals[&b.items[i].attempt_ref][0].started_at);
    }
    // Derived from the dispatch day when the task id is not known.
    let mut by_day = handle(&b, 3, &today);
    by_day.vendor_task_id = None;
    assert!(matches!(a.lookup(&by_day).await.unwrap(), LookupResult::Finished(_)));
    assert_eq!(a.lookup(&handle(&b, 39, &today)).await.unwrap(), LookupResult::NotFound);

    let polled = a.poll_task(&TaskHandle { vendor_task_id: today.clone(), created_at: Utc::now() }).await.unwrap();
    assert_eq!(polled.len(), 39);
    assert!(!a.polls());

    // Uploading the same records again dials nobody twice.
    let again = a.dispatch(&b).await.unwrap();
    assert_eq!(again.accepted.len(), 39);
    assert_eq!(fake.stats.dials.load(Relaxed), 39);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predial_refusal_means_no_dial() {
    // Odd references are refused by our pre-dial answer.
    let rx =
        Receiver::start(|id| id.rsplit('-').next().and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n % 2 == 1))
            .await;
    let behavior = FakeBehavior { callback_url: Some(rx.url.clone()), ..FakeBehavior::fast(5) };
    let (fake, a) = fake(behavior, toml::Table::new()).await;
    let b = batch("p", 10);
    a.dispatch(&b).await.unwrap();
    wait_until("10 final results", Duration::from_secs(20), || rx.finals().len() == 10).await;
    assert_eq!(fake.stats.predial_refused.load(Relaxed), 5);
    assert_eq!(fake.stats.dials.load(Relaxed), 5);
    assert_eq!(fake.stats.predial_refused.load(Relaxed) + fake.stats.dials.load(Relaxed), 10);
    let finals = rx.finals();
    for (i, item) in b.items.iter().enumerate() {
        let e = &finals[&item.attempt_ref][0];
        if i % 2 == 1 {
            assert_eq!(e.outcome.disposition, Disposition::Cancelled, "{i}");
            assert_eq!(e.outcome.raw_intent.as_deref(), Some("blu:Taskcancel"));
            assert_eq!(e.started_at, None);
        } else {
            assert_ne!(e.outcome.disposition, Disposition::Cancelled, "{i}");
        }
    }
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_queued_call() {
    let rx = Receiver::start(|_| false).await;
    let behavior = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_millis(800),
        latency_max: Duration::from_millis(800),
        callback_url: Some(rx.url.clone()),
        ..FakeBehavior::fast(2)
    };
    let (fake, a) = fake(behavior, toml::Table::new()).await;
    let b = batch("k", 3);
    let receipt = a.dispatch(&b).await.unwrap();
    let task = receipt.vendor_task_id;
    assert_eq!(a.lookup(&handle(&b, 2, &task)).await.unwrap(), LookupResult::Pending { external_call_id: None });
    // One line: once one call is on it, the other two are queued. Cancel all
    // three: the one being made is not stopped ("call already made").
    wait_until("one call on the line", Duration::from_secs(5), || fake.stats.dials.load(Relaxed) == 1).await;
    a.cancel(&[handle(&b, 0, &task), handle(&b, 1, &task), handle(&b, 2, &task)]).await.unwrap();
    wait_until("3 final results", Duration::from_secs(10), || rx.finals().len() == 3).await;
    let finals = rx.finals();
    let cancelled = finals.values().filter(|v| v[0].outcome.disposition == Disposition::Cancelled).count();
    assert_eq!(cancelled, 2, "{finals:?}");
    assert_eq!(fake.stats.cancelled.load(Relaxed), 2);
    assert_eq!(fake.stats.dials.load(Relaxed), 1);
    // A call Blu never had is refused.
    let mut unknown = handle(&b, 0, &task);
    unknown.attempt_ref = "never".into();
    assert_eq!(a.cancel(&[unknown]).await.unwrap_err().kind, VendorErrorKind::Fatal);
    fake.shutdown().await;
}

async fn raw(base: &str, key: &str, ts: i64, path: &str, body: Value) -> Value {
    let ts = ts.to_string();
    let r = reqwest::Client::new()
        .post(format!("{base}/rest/v1/{path}"))
        .header("appId", APP_ID)
        .header("timeStamp", &ts)
        .header("sign", sign(APP_ID, key, &ts))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_credentials_produce_the_vendor_codes() {
    let (fake, a) =
        fake(FakeBehavior { fatal_after_calls: Some(3), ..FakeBehavior::fast(1) }, toml::Table::new()).await;
    let base = fake.base_url();
    let now = Utc::now().timestamp_millis();
    let today = Utc::now().format("%Y%m%d").to_string();
    let record = json!({"id":"1","name":"","mobile":"62812","extVars":"{}","callVars":"{}"});

    // Wrong appKey: sign fails.
    let wrong = BluAdapter::from_settings(
        &VendorSettings { api_secret: Some(Secret::new("nope")), ..settings(toml::Table::new()) },
        &base,
    )
    .unwrap();
    let e = wrong.dispatch(&batch("w", 1)).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::Fatal);
    assert!(e.message.contains("4001") && !e.message.contains("nope"), "{}", e.message);
    // A stale timestamp (6 minutes old), properly signed.
    let stale = raw(&base, APP_KEY, now - 6 * 60 * 1000, "queryCallResult", json!({"taskId": today})).await;
    assert_eq!(stale["code"], json!(4002));
    assert_eq!(fake.stats.bad_auth.load(Relaxed), 2);
    // Yesterday's taskId.
    let yesterday = (Utc::now() - chrono::Duration::days(1)).format("%Y%m%d").to_string();
    let old = raw(&base, APP_KEY, now, "uploadAndStartJob", json!({"taskId": yesterday, "records": [record]})).await;
    assert_eq!(old["code"], json!(4006));
    // extVars must be a JSON string.
    let bad = json!({"taskId": today, "records": [{"id":"1","name":"","mobile":"62812","extVars":{},"callVars":"{}"}]});
    assert_eq!(raw(&base, APP_KEY, now, "uploadAndStartJob", bad).await["code"], json!(4004));
    // More than 200 records.
    let e = a.dispatch(&batch("big", 201)).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::Fatal);
    assert!(e.message.contains("4005"), "{}", e.message);
    assert_eq!(fake.stats.calls_accepted.load(Relaxed), 0);

    // After 3 accepted calls the account fails every request.
    a.dispatch(&batch("ok", 3)).await.unwrap();
    let e = a.dispatch(&batch("late", 1)).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::Fatal);
    assert!(e.message.contains("4010"), "{}", e.message);
    let h = AttemptHandle::by_ref("ok-0");
    assert_eq!(
        a.lookup(&AttemptHandle { vendor_task_id: Some(today), ..h }).await.unwrap_err().kind,
        VendorErrorKind::Fatal
    );
    fake.shutdown().await;

    // Busy: retry later.
    let (fake, a) = fake_busy().await;
    let e = a.dispatch(&batch("b", 2)).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::RetryLater);
    assert!(e.message.contains("5000"), "{}", e.message);
    assert_eq!(fake.stats.calls_accepted.load(Relaxed), 0);
    fake.shutdown().await;

    // Nobody listening: nothing was sent, retry later.
    let e = adapter("http://127.0.0.1:9").dispatch(&batch("x", 1)).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::RetryLater);
}

async fn fake_busy() -> (FakeHandle, BluAdapter) {
    fake(FakeBehavior { busy_rate: 1.0, ..FakeBehavior::fast(1) }, toml::Table::new()).await
}

#[tokio::test]
async fn kind_table_row_builds_and_spawns() {
    let spec = crate::vendors::kinds::find("blu").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = settings(toml::Table::new());
    let handle = (spec.spawn_fake)(&s, FakeBehavior::fast(1), listener).await.unwrap();
    let a = (spec.build)(&s, &handle.base_url()).unwrap();
    assert_eq!((a.kind(), a.max_batch()), ("blu", 200));
    let polled = a.poll_task(&TaskHandle { vendor_task_id: "none".into(), created_at: Utc::now() }).await.unwrap();
    assert!(polled.is_empty());
    assert_eq!(
        super::fake::predial_url("http://h/callbacks/v?token=a%2Fb"),
        "http://h/callbacks/v/predial?token=a%2Fb"
    );
    assert_eq!(super::fake::predial_url("http://h/callbacks/v"), "http://h/callbacks/v/predial");
    handle.shutdown().await;
}
