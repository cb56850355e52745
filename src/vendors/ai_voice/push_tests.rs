//! The status push as ITNIO accounts really send it: the documented push
//! and each variation the fake can send, through the adapter over loopback.
//! For each: the normalized result, the dials, and that nothing is dropped
//! (events + rejected = pushes sent).

use super::AiVoiceAdapter;
use super::doc_tests::{documented_fields, documented_push, json_type, type_of};
use super::tests::{options, zone_at};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::embedded::fake_config;
use crate::vendors::itnio_family::testkit::{Receiver, batch, listener, settings, wait_until};
use crate::vendors::{CallEvent, RejectedRecord, VendorAdapter};
use doubles::FakeBehavior;
use doubles::ai_voice::{self as fake, PUSH_FIELDS, UNKNOWN_STATUS, Variations, optional_fields};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MIX: &[&str] = &["ANSWERED:A", "ANSWERED:D", "NO_ANSWER", "BUSY", "TRANSFER_ARTIFICIAL"];

struct Run {
    sent: Vec<Value>,
    events: Vec<CallEvent>,
    rejected: Vec<RejectedRecord>,
    vendor_redials: u64,
}

/// Dispatch `n` numbers to a fake pushing with `variations`; with
/// `redial`, the vendor redials unconnected calls up to twice.
async fn run(variations: Variations, n: usize, seed: u64, redial: bool, mix: &[(&str, f64)]) -> Run {
    let log: Arc<Mutex<Vec<Value>>> = Arc::default();
    let variations = Variations { sent: Some(log.clone()), ..variations };
    let mut opts = options(&zone_at(12));
    opts["redial_times"] = json!(2);
    let s = settings("ai-voice", opts);
    let receiver = Receiver::start(Arc::new(AiVoiceAdapter::new(&s, "http://127.0.0.1:9").unwrap())).await;
    let outcomes = mix.iter().map(|(c, w)| (c.to_string(), *w)).collect();
    let behavior = FakeBehavior { callback_url: Some(receiver.url.clone()), outcomes, ..FakeBehavior::fast(seed) };
    let handle = fake::spawn_with(&fake_config(&s), behavior, variations, listener().await).await.unwrap();
    let adapter = AiVoiceAdapter::new(&s, &handle.base_url()).unwrap();
    let mut b = batch("v", n);
    b.vendor_redial = redial;
    adapter.dispatch(&b).await.unwrap();
    wait_until("every push answered", Duration::from_secs(20), || {
        log.lock().unwrap().len() == n && handle.stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    assert_eq!(handle.stats.callback_failures.load(Relaxed), 0, "every push answered 2xx");
    let vendor_redials = handle.stats.vendor_redials.load(Relaxed);
    handle.shutdown().await;
    let sent = log.lock().unwrap().clone();
    Run { sent, events: receiver.events(), rejected: receiver.rejected(), vendor_redials }
}

fn even_mix() -> Vec<(&'static str, f64)> {
    MIX.iter().map(|c| (*c, 1.0)).collect()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a push must read as, from the document's words: answered calls
/// carry the grade's intent (A interested, D not interested, none unknown),
/// a transfer to a human is a conversation.
fn expected(status: &str, level: Option<&str>) -> (Disposition, Option<Intent>) {
    match status {
        "ANSWERED" => match level.and_then(|l| l.chars().next()) {
            Some('A') => (Disposition::Answered, Some(Intent::Interested)),
            Some('D') => (Disposition::Answered, Some(Intent::NotInterested)),
            _ => (Disposition::Answered, Some(Intent::Unknown)),
        },
        "TRANSFER_ARTIFICIAL" => (Disposition::Answered, Some(Intent::Transferred)),
        "NO_ANSWER" => (Disposition::NoAnswer, None),
        "BUSY" => (Disposition::Busy, None),
        other => panic!("not in the mix: {other}"),
    }
}

impl Run {
    fn nothing_dropped(&self) {
        assert_eq!(self.events.len() + self.rejected.len(), self.sent.len(), "events + rejected = pushes sent");
    }

    fn event_for(&self, push: &Value) -> &CallEvent {
        let phone = format!("+{}", text(&push["calledPhoneNumber"]).unwrap());
        let mut found = self.events.iter().filter(|e| e.phone.as_deref() == Some(phone.as_str()));
        let e = found.next().unwrap_or_else(|| panic!("no event for {phone}"));
        assert!(found.next().is_none(), "one event per push: {phone}");
        e
    }

    /// Every push read as documented; `tagged` is the intent a tag must
    /// give instead (conversations only, or every push).
    fn outcomes_as_documented(&self, tagged: Option<(Intent, bool)>) {
        for p in &self.sent {
            let e = self.event_for(p);
            let status = text(&p["resultStatus"]).unwrap();
            let (d, mut i) = expected(&status, p.get("intentLevelDetailName").and_then(Value::as_str));
            if let Some((t, everywhere)) = tagged
                && (everywhere || d == Disposition::Answered)
            {
                i = Some(t);
            }
            assert_eq!((e.outcome.disposition, e.outcome.intent), (d, i), "{p}");
            assert_eq!(e.outcome.raw_code, Some(format!("ai-voice:{status}")));
            assert_eq!(e.started_at.map(|t| t.timestamp().to_string()), text(&p["startTime"]));
            assert_eq!(e.ended_at.map(|t| t.timestamp().to_string()), text(&p["endTime"]));
            assert_eq!(e.vendor_task_id, text(&p["robotCallJobId"]));
            assert_eq!(e.external_call_id, text(&p["callId"]));
            let dials = p.get("callCount").and_then(text).map_or(1, |c| c.parse::<usize>().unwrap());
            assert_eq!(e.redials.len(), dials - 1, "{p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_push_has_exactly_the_documented_fields_and_types() {
    let run = run(Variations::default(), 20, 1, false, &even_mix()).await;
    run.nothing_dropped();
    assert!(run.rejected.is_empty(), "{:?}", run.rejected);
    let fields = documented_fields();
    for p in &run.sent {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), PUSH_FIELDS.iter().copied().collect(), "{p}");
        for (name, ty, nested) in &fields {
            let v = if *nested { p["callDetailList"].get(0).and_then(|d| d.get(*name)) } else { p.get(*name) };
            if let Some(v) = v {
                assert_eq!(type_of(v), json_type(ty), "{name} is documented as {ty}: {p}");
            }
        }
        let e = run.event_for(p);
        assert!(e.attempt_ref.as_deref().is_some_and(|r| r.starts_with("v-")), "our reference echoed in properties");
    }
    run.outcomes_as_documented(None);
    let seen: BTreeSet<Disposition> = run.events.iter().map(|e| e.outcome.disposition).collect();
    assert!(seen.len() >= 3, "the mix was rolled: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_missing_fields_and_loose_types_read_the_same() {
    for (variations, seed) in [
        (Variations { nulls: true, ..Variations::default() }, 2),
        (Variations { missing_optional: true, ..Variations::default() }, 3),
        (Variations { numbers_as_strings: true, ..Variations::default() }, 4),
        (Variations { strings_as_numbers: true, ..Variations::default() }, 5),
    ] {
        let run = run(variations.clone(), 12, seed, false, &even_mix()).await;
        run.nothing_dropped();
        assert!(run.rejected.is_empty(), "{variations:?}: {:?}", run.rejected);
        for p in &run.sent {
            for f in optional_fields() {
                if variations.missing_optional {
                    assert!(p.get(*f).is_none(), "{f}");
                } else if variations.nulls {
                    assert!(p[*f].is_null(), "{f}");
                }
            }
            if variations.numbers_as_strings {
                assert!(p["startTime"].is_string() && p["robotCallJobId"].is_string(), "{p}");
            }
            if variations.strings_as_numbers {
                assert!(p["calledPhoneNumber"].is_number() && p["callId"].is_number(), "{p}");
            }
            let without_properties = variations.nulls || variations.missing_optional;
            assert_eq!(run.event_for(p).attempt_ref.is_none(), without_properties, "{p}");
        }
        run.outcomes_as_documented(None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_status_keeps_its_raw_value() {
    let run = run(Variations { unknown_codes: true, ..Variations::default() }, 8, 6, false, &even_mix()).await;
    run.nothing_dropped();
    for e in &run.events {
        assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Unknown, None));
        assert_eq!(e.outcome.raw_code, Some(format!("ai-voice:{UNKNOWN_STATUS}")));
    }
    assert_eq!(run.events.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_and_dispute_tags_reach_the_intent() {
    // A call tag on every conversation, as an array.
    let tags = Variations { call_tags: vec!["投诉".into()], ..Variations::default() };
    let calls = run(tags, 12, 7, false, &even_mix()).await;
    calls.nothing_dropped();
    calls.outcomes_as_documented(Some((Intent::Complaint, false)));
    for e in calls.events.iter().filter(|e| e.outcome.intent == Some(Intent::Complaint)) {
        assert!(e.outcome.raw_intent.as_deref().is_some_and(|r| r.ends_with("tag:投诉")), "{e:?}");
    }
    // A customer tag on every push, as one comma-separated string.
    let tags = Variations {
        customer_tags: vec!["意向客户".into(), "否认借贷".into()],
        tags_as_text: true,
        ..Variations::default()
    };
    let customers = run(tags, 12, 8, false, &even_mix()).await;
    customers.nothing_dropped();
    assert!(customers.sent.iter().all(|p| p["customerTagNames"] == json!("意向客户,否认借贷")));
    customers.outcomes_as_documented(Some((Intent::Dispute, true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_typed_status_is_rejected_not_read_as_unknown() {
    let bad = batch("v", 6).items[2].phone.trim_start_matches('+').to_string();
    let variations = Variations { wrong_status_for: [bad.clone()].into_iter().collect(), ..Variations::default() };
    let run = run(variations, 6, 9, false, &even_mix()).await;
    run.nothing_dropped();
    assert_eq!(run.rejected.len(), 1);
    let r = &run.rejected[0];
    assert_eq!((r.index, r.phone.as_deref()), (0, Some(format!("+{bad}").as_str())));
    assert_eq!(r.reason, "resultStatus: expected a string, got 1");
    assert_eq!(run.events.len(), 5);
    assert!(run.events.iter().all(|e| e.phone.as_deref() != Some(format!("+{bad}").as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_redials_are_recorded_as_they_happened() {
    let mix = [("NO_ANSWER", 6.0), ("BUSY", 2.0), ("ANSWERED:A", 2.0)];
    let run = run(Variations::default(), 30, 10, true, &mix).await;
    run.nothing_dropped();
    let mut redials = 0;
    for p in &run.sent {
        let e = run.event_for(p);
        let count: usize = text(&p["callCount"]).unwrap().parse().unwrap();
        assert_eq!(e.redials.len(), count - 1, "{p}");
        redials += e.redials.len() as u64;
        if count == 1 {
            assert!(e.first_dial.is_none());
            continue;
        }
        // The earlier dials did not connect (they were redialed), but the
        // push does not say how they failed: unknown, raw code kept.
        let first = e.first_dial.as_ref().map(|d| &d.outcome).expect("first dial's outcome");
        assert_eq!((first.disposition, first.raw_code.as_deref()), (Disposition::Unknown, Some("ai-voice:REDIALED")));
        let (last, earlier) = e.redials.split_last().unwrap();
        assert_eq!(last.outcome, e.outcome, "the result is the last dial's");
        assert_eq!(last.at, e.started_at);
        assert!(earlier.iter().all(|r| r.outcome == *first));
    }
    assert!(redials > 0, "unconnected calls were redialed");
    assert_eq!(redials, run.vendor_redials, "one recorded redial per redial the vendor made");
}

#[test]
fn wrong_types_are_rejected_naming_the_field_loose_ones_are_read() {
    let a = AiVoiceAdapter::new(&settings("ai-voice", options("Asia/Jakarta")), "http://x").unwrap();
    let with = |k: &str, v: Value| {
        let mut p = documented_push();
        p[k] = v;
        a.parse_callback(p.to_string().as_bytes()).unwrap()
    };
    for (field, value) in [
        ("resultStatus", json!(1)),
        ("resultStatus", json!(["ANSWERED"])),
        ("intentLevelDetailName", json!({"A": 1})),
        ("callRecordTagNames", json!(5)),
        ("customerTagNames", json!([{"name": "投诉"}])),
        ("startTime", json!("soon")),
        ("callCount", json!("many")),
        ("properties", json!(7)),
        ("calledPhoneNumber", json!(["6281234567890"])),
    ] {
        let p = with(field, value.clone());
        assert!(p.events.is_empty(), "{field}: {value} must not be read as a result");
        assert!(p.rejected[0].reason.starts_with(&format!("{field}: ")), "{}", p.rejected[0].reason);
    }
    let p = with("resultStatus", json!("answered"));
    assert_eq!(p.events[0].outcome.disposition, Disposition::Answered, "every spelling of a status word");
    let p = with("callCount", json!("1"));
    assert!(p.events[0].redials.is_empty());
    let p = with("properties", json!(r#"{"attemptRef":"3fa9c2d41b7e-7-1"}"#));
    assert_eq!(p.events[0].attempt_ref.as_deref(), Some("3fa9c2d41b7e-7-1"), "properties sent as a JSON string");
    let p = with("callRecordTagNames", json!("脏话；其他"));
    assert_eq!(p.events[0].outcome.intent, Some(Intent::Complaint));
    let p = with("resultStatus", Value::Null);
    assert_eq!(p.events[0].outcome.raw_code.as_deref(), Some("ai-voice:none"));
    // Only a body that is not the vendor's format at all is malformed.
    assert!(a.parse_callback(b"nonsense").is_err());
    assert!(a.parse_callback(b"5").is_err());
    let both = json!([documented_push(), {"calledPhoneNumber": "628", "resultStatus": 1}]);
    let p = a.parse_callback(both.to_string().as_bytes()).unwrap();
    assert_eq!((p.events.len(), p.rejected.len(), p.rejected[0].index), (1, 1, 1));
}
