//! The push as Laaffic accounts really send it: the documented record and
//! each variation the fake can send, through the adapter over loopback. For
//! each: the normalized result, and that nothing is dropped (events +
//! rejected = records sent).

use super::adapter::LaafficAdapter;
use super::tests::options;
use crate::config::VendorSettings;
use crate::domain::call_cost::CallCost;
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::embedded::fake_config;
use crate::vendors::itnio_family::testkit::*;
use crate::vendors::{CallEvent, RejectedRecord, VendorAdapter};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use doubles::FakeBehavior;
use doubles::laaffic::{self as fake, OPTIONAL_FIELDS, PUSH_FIELDS, UNKNOWN_INTENT, Variations};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake rolls here, and what each must read as: written out from
/// the document's table, not taken from the adapter's.
const MIX: &[(&str, Disposition, Option<Intent>)] = &[
    ("205", Disposition::Answered, Some(Intent::PromiseToPay)), // 承諾還款:按時還款
    ("208", Disposition::Answered, Some(Intent::Dispute)),      // 無法還款:否認借貸
    ("2010", Disposition::Answered, Some(Intent::Paid)),        // 客戶已還款
    ("201", Disposition::Voicemail, None),                      // 語音信箱
    ("99999-486", Disposition::Busy, None),                     // 已呼叫未接通, SIP 486 Busy Here
    ("99999-404", Disposition::Vacant, None),                   // 已呼叫未接通, SIP 404 Not Found
];

struct Run {
    sent: Vec<Value>,
    events: Vec<CallEvent>,
    rejected: Vec<RejectedRecord>,
    bodies: usize,
}

/// Dispatch `n` numbers to a fake pushing with `variations` and collect
/// what it sent and what the adapter read.
async fn run(variations: Variations, n: usize, seed: u64) -> Run {
    let log: Arc<Mutex<Vec<Value>>> = Arc::default();
    let variations = Variations { sent: Some(log.clone()), ..variations };
    let s = settings("laaffic", options());
    let receiver = Receiver::start(Arc::new(LaafficAdapter::new(&s, "http://127.0.0.1:9").unwrap())).await;
    let outcomes = MIX.iter().map(|(c, _, _)| (c.to_string(), 1.0)).collect();
    let behavior = FakeBehavior { callback_url: Some(receiver.url.clone()), outcomes, ..FakeBehavior::fast(seed) };
    let handle = fake::spawn_with(&fake_config(&s), behavior, variations, listener().await).await.unwrap();
    let adapter = LaafficAdapter::new(&s, &handle.base_url()).unwrap();
    adapter.dispatch(&batch("p", n)).await.unwrap();
    wait_until("every push answered", Duration::from_secs(20), || {
        log.lock().unwrap().len() == n && handle.stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    assert_eq!(handle.stats.callback_failures.load(Relaxed), 0, "every push answered 2xx");
    handle.shutdown().await;
    let sent = log.lock().unwrap().clone();
    Run { sent, events: receiver.events(), rejected: receiver.rejected(), bodies: receiver.bodies() }
}

/// A code as sent, whatever its JSON type.
fn code(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) => a.first().and_then(code),
        _ => None,
    }
}

/// A time as sent: Unix seconds or local Asia/Shanghai (the account's default zone).
fn sent_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => DateTime::from_timestamp(n.as_i64()?, 0),
        Value::String(s) => {
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
            Some(chrono_tz::Asia::Shanghai.from_local_datetime(&naive).single()?.with_timezone(&Utc))
        }
        _ => None,
    }
}

impl Run {
    fn nothing_dropped(&self) {
        assert_eq!(self.events.len() + self.rejected.len(), self.sent.len(), "events + rejected = records sent");
    }

    fn event_for(&self, record: &Value) -> &CallEvent {
        let phone = format!("+{}", code(&record["callee"]).unwrap());
        let mut found = self.events.iter().filter(|e| e.phone.as_deref() == Some(phone.as_str()));
        let e = found.next().unwrap_or_else(|| panic!("no event for {phone}"));
        assert!(found.next().is_none(), "one event per record: {phone}");
        e
    }

    /// Every record read as the document's table says; `sip_sent` is false
    /// when the variation left `sipCode` out (an unconnected call is then
    /// just `no_answer`).
    fn outcomes_as_documented(&self, sip_sent: bool) {
        for r in &self.sent {
            let e = self.event_for(r);
            let intent = code(&r["intent"]).unwrap();
            let (d, i) = match (intent.as_str(), code(&r["sipCode"])) {
                ("99999", None) => {
                    assert!(!sip_sent);
                    (Disposition::NoAnswer, None)
                }
                ("99999", Some(sip)) => MIX.iter().find(|m| m.0 == format!("99999-{sip}")).map(|m| (m.1, m.2)).unwrap(),
                (c, _) => MIX.iter().find(|m| m.0 == c).map(|m| (m.1, m.2)).unwrap(),
            };
            assert_eq!((e.outcome.disposition, e.outcome.intent), (d, i), "{r}");
            assert_eq!(e.outcome.raw_code, Some(format!("laaffic:{intent}")), "{r}");
            assert_eq!(e.outcome.raw_intent, i.map(|_| format!("laaffic:{intent}")), "{r}");
            assert!(e.is_final && e.attempt_ref.is_none(), "{r}");
            assert_eq!(e.started_at, sent_time(&r["callTime"]), "{r}");
            assert_eq!(e.ended_at, sent_time(&r["hangupTime"]), "{r}");
            assert!(e.redials.is_empty() && e.first_dial.is_none());
            // The call's figures as sent: `cost` in the account's currency
            // (USD unless configured), `chargedDuration` and `ringDuration`
            // in seconds (without it, the time from the dial to the answer).
            let cost = code(&r["cost"]).map(|t| crate::domain::call_cost::parse_amount(&t).unwrap());
            assert_eq!(e.cost.as_ref().map(|c| (c.micros, c.currency.as_str())), cost.map(|m| (m, "USD")), "{r}");
            let secs = |k: &str| code(&r[k]).map(|t| t.parse::<i64>().unwrap() * 1000);
            assert_eq!(e.billed_ms, secs("chargedDuration"), "{r}");
            let derived =
                sent_time(&r["callTime"]).zip(sent_time(&r["answerTime"])).map(|(c, a)| (a - c).num_milliseconds());
            assert_eq!(e.ring_ms, secs("ringDuration").or(derived), "{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_push_has_exactly_the_documented_fields_and_reads_as_documented() {
    let run = run(Variations::default(), 24, 1).await;
    run.nothing_dropped();
    assert!(run.rejected.is_empty(), "{:?}", run.rejected);
    assert_eq!(run.bodies, 24, "one record per array by default");
    let documented: BTreeSet<&str> = PUSH_FIELDS.iter().copied().collect();
    for r in &run.sent {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, documented, "exactly the documented fields: {r}");
        let e = run.event_for(r);
        assert_eq!(e.vendor_task_id, None, "no task id is made up");
        assert_eq!(e.external_call_id, code(&r["voiceId"]));
    }
    run.outcomes_as_documented(true);
    let seen: BTreeSet<Disposition> = run.events.iter().map(|e| e.outcome.disposition).collect();
    assert!(seen.len() >= 3, "the mix was rolled: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_id_is_read_when_a_push_carries_one() {
    let run = run(Variations { task_id: true, ..Variations::default() }, 6, 2).await;
    run.nothing_dropped();
    for r in &run.sent {
        assert_eq!(run.event_for(r).vendor_task_id, code(&r["taskId"]));
    }
    run.outcomes_as_documented(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_and_missing_optional_fields_are_absent_values() {
    for (variations, seed) in [
        (Variations { nulls: true, ..Variations::default() }, 3),
        (Variations { missing_optional: true, ..Variations::default() }, 4),
    ] {
        let missing = variations.missing_optional;
        let run = run(variations, 12, seed).await;
        run.nothing_dropped();
        assert!(run.rejected.is_empty(), "{:?}", run.rejected);
        for r in &run.sent {
            for f in OPTIONAL_FIELDS {
                assert_eq!(r.get(*f).is_none(), missing, "{f}: {r}");
            }
            let e = run.event_for(r);
            assert_eq!(e.external_call_id, None);
            // Without chargedDuration an answered call's length comes from its times.
            if r.get("answerTime").is_some_and(|a| !a.is_null()) {
                assert!(e.duration_ms.is_some(), "{r}");
            }
        }
        run.outcomes_as_documented(false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_types_and_unix_times_read_the_same() {
    for (variations, seed) in [
        (Variations { numbers_as_strings: true, ..Variations::default() }, 5),
        (Variations { strings_as_numbers: true, ..Variations::default() }, 6),
        (Variations { unix_times: true, ..Variations::default() }, 7),
    ] {
        let run = run(variations.clone(), 12, seed).await;
        run.nothing_dropped();
        assert!(run.rejected.is_empty(), "{variations:?}: {:?}", run.rejected);
        let sample = &run.sent[0];
        if variations.numbers_as_strings {
            assert!(sample["sipCode"].is_string() && sample["terminationCode"].is_string(), "{sample}");
        }
        if variations.strings_as_numbers {
            assert!(sample["intent"].is_number() && sample["callee"].is_number(), "{sample}");
        }
        if variations.unix_times {
            assert!(sample["callTime"].is_number(), "{sample}");
        }
        run.outcomes_as_documented(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_intent_code_keeps_its_raw_value() {
    let run = run(Variations { unknown_codes: true, ..Variations::default() }, 12, 8).await;
    run.nothing_dropped();
    let mut unknown = 0;
    for r in &run.sent {
        let e = run.event_for(r);
        if code(&r["intent"]).as_deref() == Some(UNKNOWN_INTENT) {
            unknown += 1;
            // Answered (terminationCode 0) with a code nobody documented.
            assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Unknown)));
            assert_eq!(e.outcome.raw_code.as_deref(), Some("laaffic:2099"));
            assert_eq!(e.outcome.raw_intent.as_deref(), Some("laaffic:2099"));
        }
    }
    assert!(unknown > 0, "some answered calls were rolled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_inside_an_array_loses_only_itself() {
    let b = batch("p", 8);
    let bad = b.items[1].phone.trim_start_matches('+').to_string();
    let variations = Variations {
        records_per_push: 4,
        wrong_intent_for: [bad.clone()].into_iter().collect(),
        ..Variations::default()
    };
    let run = run(variations, 8, 9).await;
    run.nothing_dropped();
    assert_eq!(run.bodies, 2, "8 records in arrays of 4, each answered 2xx");
    assert_eq!(run.rejected.len(), 1);
    let position = run.sent.iter().position(|r| code(&r["callee"]).as_deref() == Some(bad.as_str())).unwrap();
    let r = &run.rejected[0];
    assert_eq!(r.index, position % 4, "index inside its own array");
    assert_eq!(r.phone.as_deref(), Some(format!("+{bad}").as_str()));
    assert!(r.reason.starts_with("intent: ") && r.reason.contains(r#"[""#), "{}", r.reason);
    assert!(run.events.iter().all(|e| e.phone.as_deref() != Some(format!("+{bad}").as_str())));
    assert_eq!(run.events.len(), 7);
}

fn adapter() -> LaafficAdapter {
    LaafficAdapter::new(&settings("laaffic", options()), "http://x").unwrap()
}

fn documented_record() -> Value {
    json!({"voiceId":"V1","callee":"8613200000007","callTime":"2021-09-01 10:00:00",
           "answerTime":"2021-09-01 10:00:06","hangupTime":"2021-09-01 10:01:06","ringDuration":6,
           "chargedDuration":60,"cost":"0.0300","terminationCode":0,"terminationReason":"success",
           "sipCode":200,"intent":"205"})
}

#[test]
fn wrong_types_are_rejected_naming_the_field_loose_ones_are_read() {
    let a = adapter();
    let parse = |r: Value| a.parse_callback(json!([r]).to_string().as_bytes()).unwrap();
    let with = |k: &str, v: Value| {
        let mut r = documented_record();
        r[k] = v;
        r
    };
    for (field, value) in [
        ("intent", json!(["205"])),
        ("intent", json!({"code": 205})),
        ("callTime", json!("yesterday")),
        ("sipCode", json!("486 Busy Here")),
        ("terminationCode", json!([0])),
        ("callee", json!(["8613200000007"])),
        ("voiceId", json!(true)),
    ] {
        let p = parse(with(field, value.clone()));
        assert!(p.events.is_empty(), "{field}: {value} must not be read as a result");
        assert_eq!(p.rejected.len(), 1);
        assert!(p.rejected[0].reason.starts_with(&format!("{field}: ")), "{}", p.rejected[0].reason);
        let phone = if field == "callee" { None } else { Some("+8613200000007".to_string()) };
        assert_eq!(p.rejected[0].phone, phone, "{field}");
    }
    for (field, value) in [("intent", json!(205)), ("intent", json!("205")), ("intent", json!(205.0))] {
        let p = parse(with(field, value.clone()));
        assert!(p.rejected.is_empty(), "{value}");
        assert_eq!(p.events[0].outcome.intent, Some(Intent::PromiseToPay), "{value}");
        assert_eq!(p.events[0].outcome.raw_code.as_deref(), Some("laaffic:205"), "{value}");
    }
    let mut no_callee = documented_record();
    no_callee.as_object_mut().unwrap().remove("callee");
    assert!(parse(no_callee).rejected[0].reason.starts_with("callee: missing"));
    // A record that is not an object, beside a good one.
    let p = a.parse_callback(json!([5, documented_record()]).to_string().as_bytes()).unwrap();
    assert_eq!((p.events.len(), p.rejected.len(), p.rejected[0].index), (1, 1, 0));
}

#[test]
fn cost_is_in_the_accounts_currency_and_a_rate_prices_the_charged_time_without_one() {
    let eur =
        LaafficAdapter::new(&VendorSettings { currency: "EUR".into(), ..settings("laaffic", options()) }, "http://x")
            .unwrap();
    let parse = |r: Value| eur.parse_callback(json!([r]).to_string().as_bytes()).unwrap().events.remove(0);
    let e = parse(documented_record());
    assert_eq!(e.cost, Some(CallCost { micros: 30_000, currency: "EUR".into() }));
    assert_eq!((e.ring_ms, e.billed_ms), (Some(6_000), Some(60_000)));
    // No `cost`, a per-minute `rate`: 60 charged seconds at 0.05 a minute.
    let mut r = documented_record();
    r.as_object_mut().unwrap().remove("cost");
    r["rate"] = json!("0.05");
    assert_eq!(parse(r.clone()).cost, Some(CallCost { micros: 50_000, currency: "EUR".into() }));
    // No ringDuration: the dial (10:00:00) to the answer (10:00:06).
    r.as_object_mut().unwrap().remove("ringDuration");
    assert_eq!(parse(r.clone()).ring_ms, Some(6_000));
    r["cost"] = json!("a lot");
    let p = eur.parse_callback(json!([r]).to_string().as_bytes()).unwrap();
    assert!(p.rejected[0].reason.starts_with("cost: "), "{}", p.rejected[0].reason);
}

#[test]
fn only_a_body_that_is_not_the_vendors_format_is_malformed() {
    let a = adapter();
    assert!(a.parse_callback(b"nonsense").is_err());
    assert!(a.parse_callback(b"5").is_err());
    assert!(a.parse_callback(b"\"text\"").is_err());
    assert_eq!(a.parse_callback(b"[]").unwrap().events.len(), 0);
    // One record without its array is read as one.
    let p = a.parse_callback(documented_record().to_string().as_bytes()).unwrap();
    assert_eq!(p.events.len(), 1);
    let e = &p.events[0];
    assert_eq!(e.phone.as_deref(), Some("+8613200000007"));
    // Account zone UTC+8: 10:00 local is 02:00 UTC.
    assert_eq!(e.started_at.unwrap().to_rfc3339(), "2021-09-01T02:00:00+00:00");
    assert_eq!(e.duration_ms, Some(60_000));
}
