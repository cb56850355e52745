//! Per-attempt call details end to end (issues 15 and 16): the ITNIO fake
//! pushes its documented record (recording URLs, `callDetailList`, `pay`,
//! `billingTime`, numbers as strings) and the smartivr fake answers polls
//! with its documented rows (`recordfile`, `calldate`/`answerdate`, `bill`),
//! priced by the vendor's configured `price_per_minute`. The attempt rows,
//! `explain` (CLI and API), `export` and the vendor scorecard must show what
//! the vendors sent.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, rows, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use doubles::FakeBehavior;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";
const ADMIN: &str = "adm1n";
const CONTACTS: usize = 24;

fn config_text(db_url: &str, listen: u16, itnio_port: u16, sivr_port: u16) -> String {
    let head = super::daemon_head(db_url, &format!("127.0.0.1:{listen}"), "reconcile_every = \"300ms\"\n");
    let head = head.replace("[http]\n", &format!("[http]\nadmin_token = \"{ADMIN}\"\n"));
    format!(
        r#"{head}
[[vendors]]
id = "itnio"
kind = "ai-voice"
base_url = "http://127.0.0.1:{itnio_port}"
api_key = "itnio-key"
api_secret = "itnio-secret"
callback_token = "{TOKEN}"
max_concurrency = 50
options = {{ dialog_flow_id = 77, timezone = "{zone}" }}

[[vendors]]
id = "sivr"
kind = "smartivr"
base_url = "http://127.0.0.1:{sivr_port}"
api_key = "sivr-token"
max_concurrency = 50
price_per_minute = "0.06"
currency = "EUR"
options = {{ group_id = 7 }}

[[campaigns]]
name = "details"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 50
vendors = ["itnio", "sivr"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 1
default = {{ action = "stop" }}
"#,
        zone = super::ai_voice::noon_zone()
    )
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn int(v: &Value) -> i64 {
    text(v).unwrap().parse().unwrap()
}

/// An attempt row's call details, by the contact's phone.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    vendor: String,
    call_id: Option<String>,
    recording_url: Option<String>,
    transcript: Option<String>,
    ring_ms: Option<i64>,
    duration_ms: Option<i64>,
    cost_micros: Option<i64>,
    cost_currency: Option<String>,
    has_end: bool,
    has_receipt: bool,
}

async fn attempt_rows(conn: &sea_orm::DatabaseConnection) -> BTreeMap<String, Row> {
    let sql = "SELECT c.phone, a.vendor_id, a.external_call_id, a.recording_url, a.transcript, a.ring_ms, \
               a.duration_ms, a.cost_micros, a.cost_currency, \
               CASE WHEN a.vendor_ended_at IS NULL THEN 0 ELSE 1 END, \
               CASE WHEN a.received_at IS NULL THEN 0 ELSE 1 END \
               FROM attempts a JOIN contacts c ON c.id = a.contact_id";
    let mut out = BTreeMap::new();
    for r in rows(conn, sql).await {
        let phone: String = r.try_get_by_index(0).unwrap();
        out.insert(
            phone,
            Row {
                vendor: r.try_get_by_index(1).unwrap(),
                call_id: r.try_get_by_index(2).unwrap(),
                recording_url: r.try_get_by_index(3).unwrap(),
                transcript: r.try_get_by_index(4).unwrap(),
                ring_ms: r.try_get_by_index(5).unwrap(),
                duration_ms: r.try_get_by_index(6).unwrap(),
                cost_micros: r.try_get_by_index(7).unwrap(),
                cost_currency: r.try_get_by_index(8).unwrap(),
                has_end: r.try_get_by_index::<i32>(9).unwrap() == 1,
                has_receipt: r.try_get_by_index::<i32>(10).unwrap() == 1,
            },
        );
    }
    out
}

/// Micro-units of a decimal amount as a vendor sends it ("0.010").
fn micros(amount: &str) -> i64 {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    whole.parse::<i64>().unwrap() * 1_000_000 + format!("{fraction:0<6}")[..6].parse::<i64>().unwrap()
}

/// A micro-unit amount as the API prints it.
fn decimal(micros: i64) -> String {
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    if fraction == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{fraction:06}").trim_end_matches('0'))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_transcripts_ring_times_and_costs_reach_attempts_explain_export_and_the_scorecard() {
    let db = TestDb::new();
    let daemon_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let itnio_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sivr_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    let ports = (itnio_listener.local_addr().unwrap().port(), sivr_listener.local_addr().unwrap().port());
    std::fs::write(&config, config_text(&db.url, daemon_port, ports.0, ports.1)).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");

    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let itnio_behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/itnio?token={TOKEN}")),
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(40),
        outcomes: [("ANSWERED:A".to_string(), 2.0), ("NO_ANSWER".to_string(), 1.0)].into(),
        ..FakeBehavior::fast(61)
    };
    // Numbers as strings, as real pushes send them (`"billingTime": "6"`).
    let variations =
        doubles::ai_voice::Variations { numbers_as_strings: true, sent: Some(sent.clone()), ..Default::default() };
    let itnio =
        doubles::ai_voice::spawn_with(&fake_config(&settings.vendors[0]), itnio_behavior, variations, itnio_listener)
            .await
            .expect("itnio fake starts");
    let sivr_behavior = FakeBehavior {
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(40),
        outcomes: [("1A".to_string(), 2.0), ("4".to_string(), 1.0)].into(),
        ..FakeBehavior::fast(62)
    };
    let _sivr = doubles::smartivr::spawn_with(
        &fake_config(&settings.vendors[1]),
        sivr_behavior,
        doubles::smartivr::Variations::default(),
        sivr_listener,
    )
    .await
    .expect("smartivr fake starts");

    let csv = db.path("contacts.csv");
    write_contacts(&csv, CONTACTS);
    let out = cli(&config, &["import", "--campaign", "details", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "campaign completed and every push processed", || async {
        let done = scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1;
        let itnio_attempts = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE vendor_id = 'itnio'").await;
        let pushed =
            sent.lock().unwrap().len() as i64 == itnio_attempts && itnio.stats.callbacks_pending.load(Relaxed) == 0;
        let pending = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
        (done && pushed && pending == 0).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM rejected_records").await, 0);
    let attempts = attempt_rows(&conn).await;
    assert_eq!(attempts.len(), CONTACTS);

    // ITNIO: each attempt keeps what its push said.
    let pushes = sent.lock().unwrap().clone();
    assert!(!pushes.is_empty(), "itnio dialed some contacts");
    let mut itnio_answered = None;
    for p in &pushes {
        let phone = format!("+{}", text(&p["calledPhoneNumber"]).unwrap());
        let a = &attempts[&phone];
        assert_eq!(a.vendor, "itnio");
        assert!(p["billingTime"].is_string(), "numbers were sent as strings: {p}");
        assert_eq!(a.recording_url, text(&p["fullAudioUrl"]).or_else(|| text(&p["customerAudioUrl"])), "{p}");
        let lines: Vec<String> = p["callDetailList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| format!("{}: {}", text(&d["type"]).unwrap(), text(&d["text"]).unwrap()))
            .collect();
        assert_eq!(a.transcript, (!lines.is_empty()).then(|| lines.join("\n")), "{p}");
        assert_eq!((a.cost_micros, a.cost_currency.as_deref()), (Some(micros(&text(&p["pay"]).unwrap())), Some("USD")));
        let ring = (int(&p["endTime"]) - int(&p["startTime"]) - int(&p["chatDuration"])).max(0) * 1000;
        assert_eq!(a.ring_ms, Some(ring), "{p}");
        assert!(a.has_end && a.has_receipt, "{phone}: the call's end and our receipt give its callback lag");
        if a.transcript.is_some() {
            itnio_answered = Some((phone.clone(), p.clone()));
        }
    }

    // smartivr: the documented `recordfile` of answered calls, ring time from
    // `calldate` to `answerdate`, and the configured price of `bill`
    // (0.06 EUR a minute: 1000 micro-units per started second).
    let mut sivr_answered = None;
    for (phone, a) in attempts.iter().filter(|(_, a)| a.vendor == "sivr") {
        let call = a.call_id.clone().unwrap();
        if a.recording_url.is_some() {
            let url = a.recording_url.as_deref().unwrap();
            assert!(url.starts_with("/mnt/smartivr/recordings/") && url.ends_with(&format!(".{call}.wav")), "{url}");
            assert!(a.ring_ms.is_some_and(|ms| ms > 0), "{phone}: an answered call rang first: {a:?}");
            sivr_answered = Some(phone.clone());
        }
        let billed = a.duration_ms.expect("smartivr reports `bill`");
        assert_eq!((a.cost_micros, a.cost_currency.as_deref()), (Some((billed + 999) / 1000 * 1000), Some("EUR")));
        assert!(a.has_end && a.has_receipt, "{phone}");
    }
    let sivr_answered = sivr_answered.expect("smartivr answered some calls");
    let (itnio_phone, itnio_push) = itnio_answered.expect("itnio answered some calls");

    // explain (CLI) shows an attempt's recording, transcript and cost.
    let out = cli(&config, &["explain", "--campaign", "details", "--phone", &itnio_phone]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = &attempts[&itnio_phone];
    assert!(shown.contains(&format!("recording: {}", a.recording_url.as_deref().unwrap())), "{shown}");
    let person = format!("PERSON: Yes, call {}", text(&itnio_push["callId"]).unwrap());
    assert!(shown.contains(&person), "{shown}");
    assert!(shown.contains(&format!("cost {} USD", decimal(a.cost_micros.unwrap()))), "{shown}");

    // explain (API) gives the same, with the vendor's end time as pushed.
    let http = reqwest::Client::new();
    let url = daemon.url(&format!("/api/v1/campaigns/details/contacts/{itnio_phone}/explain"));
    let e: Value = http.get(url).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap();
    let attempt = &e["attempts"][0];
    assert_eq!(text(&attempt["recording_url"]), a.recording_url, "{e}");
    assert_eq!(text(&attempt["transcript"]), a.transcript, "{e}");
    assert_eq!(text(&attempt["cost"]), Some(decimal(a.cost_micros.unwrap())));
    let ended = chrono::DateTime::parse_from_rfc3339(attempt["vendor_ended_at"].as_str().unwrap()).unwrap();
    assert_eq!(ended.timestamp(), int(&itnio_push["endTime"]), "{e}");
    assert!(attempt["received_at"].is_string(), "{e}");

    // export: the latest call's recording, transcript and cost per contact.
    let out = cli(&config, &["export", "--campaign", "details", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported.len(), CONTACTS);
    for row in &exported {
        let a = &attempts[row["phone"].as_str().unwrap()];
        assert_eq!(text(&row["recording_url"]), a.recording_url, "{row}");
        assert_eq!(text(&row["transcript"]), a.transcript, "{row}");
        assert_eq!(text(&row["cost"]), a.cost_micros.map(decimal), "{row}");
        assert_eq!(text(&row["cost_total"]), a.cost_micros.map(decimal), "one attempt each: {row}");
        assert_eq!(text(&row["cost_currency"]), a.cost_currency, "{row}");
    }
    assert!(
        exported.iter().any(|r| text(&r["phone"]) == Some(sivr_answered.clone()) && r["recording_url"].is_string())
    );

    // The scorecard: per vendor, ring time, callback lag and cost as the rows give them.
    let url = daemon.url("/api/v1/vendors/scorecard?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z");
    let card: Value = http.get(url).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap();
    for id in ["itnio", "sivr"] {
        let v = card["vendors"].as_array().unwrap().iter().find(|v| v["id"] == id).unwrap();
        let mine: Vec<&Row> = attempts.values().filter(|a| a.vendor == id).collect();
        // Ring time is the time to answer: of answered calls (those with a recording here).
        let mut rings: Vec<i64> = mine.iter().filter(|a| a.recording_url.is_some()).filter_map(|a| a.ring_ms).collect();
        rings.sort();
        let p50 = rings[(rings.len() * 50).div_ceil(100).max(1) - 1] as f64 / 1000.0;
        assert_eq!(v["ring_p50_seconds"].as_f64(), Some(p50), "{id}: {v}");
        let mean = rings.iter().sum::<i64>() as f64 / rings.len() as f64 / 1000.0;
        assert!((v["ring_average_seconds"].as_f64().unwrap() - mean).abs() < 1e-9, "{id}: {v}");
        let (lag50, lag95) =
            (v["callback_lag_p50_seconds"].as_f64().unwrap(), v["callback_lag_p95_seconds"].as_f64().unwrap());
        assert!((0.0..=lag95).contains(&lag50) && lag95 < 120.0, "{id}: lag within the run: {v}");
        let total: i64 = mine.iter().filter_map(|a| a.cost_micros).sum();
        let costs = v["costs"].as_array().unwrap();
        assert_eq!(costs.len(), 1, "{id}: one currency: {v}");
        let expected_currency = if id == "itnio" { "USD" } else { "EUR" };
        assert_eq!(costs[0]["currency"], expected_currency, "{v}");
        assert_eq!(costs[0]["total"], decimal(total), "{v}");
        assert_eq!(costs[0]["attempts"], mine.len(), "{v}");
        // Answered calls, the only ones with a recording in this mix.
        let reached = mine.iter().filter(|a| a.recording_url.is_some()).count();
        assert_eq!(v["reached_contacts"], reached, "{id}: answered contacts: {v}");
        let per = (2 * i128::from(total) + reached as i128) / (2 * reached as i128);
        assert_eq!(costs[0]["per_reached_contact"], decimal(per as i64), "{v}");
        assert_eq!(costs[0]["per_promise"], Value::Null, "no promises in this mix: {v}");
    }
}
