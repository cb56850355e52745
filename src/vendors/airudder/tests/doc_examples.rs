//! Contract tests on the document's own examples, read out of the document.

use super::{OPTS, adapter, curl_example, doc_answer, doc_example, parse_all, parser};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::VendorAdapter;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

fn example(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn both_copies_of_the_example_give_one_final_answered_event_with_its_two_dials() {
    let a = parser();
    for text in [doc_example(), curl_example()] {
        let parsed = parse_all(&a, &example(text));
        assert!(parsed.rejected.is_empty());
        let e = &parsed.events[0];
        assert_eq!(e.vendor_task_id.as_deref(), Some("ea617807492xxxxxxxxxx09c11650"));
        assert_eq!(e.phone.as_deref(), Some("+8618721"), "callee `+8618xxxxx721` keeps its digits");
        assert_eq!(e.external_call_id.as_deref(), Some("ic1689265xxxxxxxxxxfe7b7da5b5"));
        assert_eq!(e.attempt_ref, None, "the example's Variables carry no campaignd_ref");
        assert!(e.is_final);
        assert_eq!(e.outcome.disposition, Disposition::Answered);
        // Label E (codes::LABELS); EventLabel `Correct_Person` says no more than that.
        assert_eq!(e.outcome.intent, Some(Intent::Undecided));
        assert_eq!(e.outcome.raw_code.as_deref(), Some("airudder:finished/normal/ByCallee"));
        assert_eq!(e.outcome.raw_intent.as_deref(), Some("airudder:E"));
        assert_eq!(e.outcome.requested_at, None, "`PaymentTime: Time_0` is a placeholder, not a time");
        assert_eq!(e.duration_ms, Some(43_000));
        assert_eq!(e.ring_ms, Some(2_000), "`ring_time: 2`, in seconds like `duration`");
        assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 24, 29).unwrap()));
        assert_eq!(e.ended_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 25, 12).unwrap()));
        assert!(!e.blacklisted);

        // call_times 2: the unanswered dial in redail_call[] came first, the
        // record itself is the last dial and carries the final outcome.
        let first = e.first_dial.as_ref().map(|d| &d.outcome).expect("first dial reported");
        assert_eq!(first.disposition, Disposition::NoAnswer);
        assert_eq!(first.intent, None);
        assert_eq!(first.raw_intent.as_deref(), Some("airudder:F"));
        assert_eq!(first.raw_code.as_deref(), Some("airudder:redial/normal/ByCallee"));
        assert_eq!(e.redials.len(), 1, "2 dials = the first + 1 redial");
        let last = &e.redials[0];
        assert_eq!(last.external_call_id.as_deref(), Some("ic1689265xxxxxxxxxxfe7b7da5b5"));
        assert_eq!(last.at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 24, 29).unwrap()));
        assert_eq!(last.outcome, e.outcome);
    }
}

#[test]
fn times_are_read_in_the_account_zone() {
    let shanghai = adapter(&format!("{OPTS}account_timezone = \"Asia/Shanghai\"\n"), "http://127.0.0.1:9");
    let e = &parse_all(&shanghai, &example(doc_example())).events[0];
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 5, 24, 29).unwrap()));
    assert_eq!(e.redials[0].at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 5, 24, 29).unwrap()));
}

#[test]
fn the_documented_answer_is_sent() {
    let (status, body) = parser().callback_ack();
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::from_str::<Value>(doc_answer()).unwrap());
}

#[test]
fn a_time_in_the_callback_slot_becomes_the_requested_time() {
    let a = adapter(&format!("{OPTS}account_timezone = \"Asia/Shanghai\"\n"), "http://127.0.0.1:9");
    // The example with a local time in the default slot, in the account zone.
    let mut doc = example(doc_example());
    doc["details"][0]["NerSlots"]["PaymentTime"] = json!("2024-03-13 10:00");
    let e = &parse_all(&a, &doc).events[0];
    assert_eq!(e.outcome.requested_at, Some(Utc.with_ymd_and_hms(2024, 3, 13, 2, 0, 0).unwrap()), "Shanghai is UTC+8");
    assert_eq!(e.outcome.disposition, Disposition::Answered, "the rest of the record is read as before");

    // Another robot names its slot differently: the key is an option, and an empty one turns it off.
    doc["details"][0]["NerSlots"] = json!({"CallbackTime": "2024-03-12T18:30:00+07:00", "PaymentTime": "Time_1"});
    let callback = adapter(&format!("{OPTS}callback_slot = \"CallbackTime\"\n"), "http://127.0.0.1:9");
    let e = &parse_all(&callback, &doc).events[0];
    assert_eq!(e.outcome.requested_at, Some(Utc.with_ymd_and_hms(2024, 3, 12, 11, 30, 0).unwrap()));
    let off = adapter(&format!("{OPTS}callback_slot = \"\"\n"), "http://127.0.0.1:9");
    doc["details"][0]["NerSlots"]["PaymentTime"] = json!("2024-03-13 10:00");
    assert_eq!(parse_all(&off, &doc).events[0].outcome.requested_at, None);
}

#[test]
fn an_answered_calls_recording_is_found_by_its_call_id_when_a_template_is_set() {
    let doc = example(doc_example());
    assert_eq!(parse_all(&parser(), &doc).events[0].recording_url, None, "off by default: the path is not public");
    let with = adapter(
        &format!("{OPTS}recording_url = \"https://rec.example/r?call_id={{call_id}}\"\n"),
        "http://127.0.0.1:9",
    );
    let e = &parse_all(&with, &doc).events[0];
    assert_eq!(e.recording_url.as_deref(), Some("https://rec.example/r?call_id=ic1689265xxxxxxxxxxfe7b7da5b5"));
    // A call nobody answered left no recording.
    let mut unanswered = doc.clone();
    let d = &mut unanswered["details"][0];
    (d["ring_type"], d["result_label"], d["duration"]) = (json!("busy"), json!("F"), json!(0));
    (d["EventLabel"], d["intention_description"]) = (Value::Null, Value::Null);
    let e = &parse_all(&with, &unanswered).events[0];
    assert_ne!(e.outcome.disposition, Disposition::Answered);
    assert_eq!(e.recording_url, None);
}
