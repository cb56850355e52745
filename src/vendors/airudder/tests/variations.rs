//! Contract tests on what real AIRudder bodies show beyond the document's
//! example: each variation applied to the example (or built by the fake),
//! asserting the normalized result, the dials, and that nothing is dropped.

use super::{OPTS, adapter, doc_example, parse_all, parser};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::airudder::record::MAX_DIALS;
use crate::vendors::{CallEvent, CallbackError, VendorAdapter};
use chrono::{TimeZone, Utc};
use doubles::airudder::body::{Builder, Callee, DialDone, TaskInfo, Variations};
use serde_json::{Value, json};

fn example() -> Value {
    serde_json::from_str(doc_example()).unwrap()
}

/// The example with its one record changed by `f`.
fn with_record(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut body = example();
    f(body["details"][0].as_object_mut().unwrap());
    body
}

fn one(body: &Value) -> CallEvent {
    let mut parsed = parse_all(&parser(), body);
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    assert_eq!(parsed.events.len(), 1);
    parsed.events.remove(0)
}

/// The example's record turned into an unanswered call.
fn unanswered(r: &mut serde_json::Map<String, Value>) {
    r.insert("result_label".into(), json!("F"));
    r.insert("duration".into(), json!(0));
    r.insert("hangup_type".into(), json!("ByRobot"));
    r.insert("EventLabel".into(), Value::Null);
    r.insert("talk_round".into(), json!(0));
}

#[test]
fn a_null_is_an_absent_field() {
    // The document: `ring_type` starts as null; unanswered calls have no call_start_time.
    let e = one(&with_record(|r| {
        unanswered(r);
        for k in [
            "ring_type",
            "call_start_time",
            "redail_call",
            "intention_description",
            "EventLabel",
            "NerSlots",
            "caller_number",
            "CaseID",
            "call_times",
            "question_answer",
            "id",
        ] {
            r.insert(k.into(), Value::Null);
        }
        r.insert("Variables".into(), json!({"campaignd_ref": "3fa9c2d41b7e-1042-2"}));
    }));
    assert!(e.is_final);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::NoAnswer, None));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("airudder:finished/null/ByRobot"));
    assert_eq!(e.attempt_ref.as_deref(), Some("3fa9c2d41b7e-1042-2"));
    assert_eq!((e.started_at, e.duration_ms), (None, None));
    assert_eq!(e.ended_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 25, 12).unwrap()));
    assert!(e.redials.is_empty() && e.first_dial.is_none(), "one dial");

    // Everything but `callee` and `result` null: still a finished dial.
    let e = one(&with_record(|r| {
        for (k, v) in r.iter_mut() {
            if k != "callee" && k != "result" {
                *v = Value::Null;
            }
        }
    }));
    assert!(e.is_final);
    assert_eq!(e.outcome.disposition, Disposition::NoAnswer);
    assert_eq!((e.external_call_id.as_deref(), e.outcome.raw_intent.as_deref()), (None, None));

    // An answered call whose ring type was never classified.
    let e = one(&with_record(|r| {
        r.insert("ring_type".into(), Value::Null);
    }));
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Undecided)));
}

#[test]
fn every_dial_call_times_counts_is_reported_even_without_redail_call() {
    let dials = |e: &CallEvent| 1 + e.redials.len();
    // No redail_call: call_times alone says there were 2 dials.
    let e = one(&with_record(|r| {
        r.remove("redail_call");
    }));
    assert_eq!(dials(&e), 2);
    let first = e.first_dial.as_ref().map(|d| &d.outcome).unwrap();
    assert_eq!(first.disposition, Disposition::Unknown);
    assert_eq!(first.raw_code.as_deref(), Some("airudder:unreported"));
    assert_eq!(e.redials[0].outcome, e.outcome, "the final outcome is the last dial's");
    assert_eq!(e.redials[0].external_call_id.as_deref(), Some("ic1689265xxxxxxxxxxfe7b7da5b5"));

    // call_times 3 but one redial described: the unreported one sits between.
    let e = one(&with_record(|r| {
        r.insert("call_times".into(), json!(3));
    }));
    assert_eq!(dials(&e), 3);
    assert_eq!(e.first_dial.as_ref().map(|d| &d.outcome).unwrap().disposition, Disposition::NoAnswer);
    assert_eq!((e.redials[0].external_call_id.as_ref(), e.redials[0].at), (None, None));
    assert_eq!(e.redials[0].outcome.raw_code.as_deref(), Some("airudder:unreported"));
    assert_eq!(e.redials[1].outcome.disposition, Disposition::Answered);

    // No call_times: redail_call alone counts. A glitch of 1000 is capped.
    let e = one(&with_record(|r| {
        r.remove("call_times");
    }));
    assert_eq!(dials(&e), 2);
    let e = one(&with_record(|r| {
        r.insert("call_times".into(), json!(1000));
    }));
    assert_eq!(dials(&e) as i64, MAX_DIALS);
    // redail_call repeating the record's own call is not a second dial.
    let e = one(&with_record(|r| {
        r["redail_call"][0]["call_id"] = json!("ic1689265xxxxxxxxxxfe7b7da5b5");
        r.insert("call_times".into(), json!(1));
    }));
    assert_eq!(dials(&e), 1);
}

#[test]
fn optional_fields_left_out_change_nothing_else() {
    let base = one(&example());
    let e = one(&with_record(|r| {
        for k in ["NerSlots", "intention_description", "EventLabel", "caller_number"] {
            r.remove(k);
        }
    }));
    assert_eq!(e, base);
}

#[test]
fn numbers_may_come_as_strings_and_times_as_unix_numbers() {
    let base = one(&example());
    let mut body = with_record(|r| {
        for k in ["id", "duration", "call_times", "ring_time", "talk_round"] {
            let text = r[k].to_string();
            r.insert(k.into(), json!(text));
        }
        r["redail_call"][0]["ring_time"] = json!("3");
    });
    body["repeat_number"] = json!("3");
    assert_eq!(one(&body), base);
    // A callee sent as a number, times as Unix seconds.
    let e = one(&with_record(|r| {
        r.insert("callee".into(), json!(628123456789_i64));
        r.insert("call_start_time".into(), json!(1710163469));
    }));
    assert_eq!(e.phone.as_deref(), Some("+628123456789"));
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 24, 29).unwrap()));
}

#[test]
fn unknown_result_values_are_progress_and_keep_their_raw_code() {
    for result in ["dialing", "calling", "paused", "Finished!"] {
        let e = one(&with_record(|r| {
            r.insert("result".into(), json!(result));
        }));
        assert!(!e.is_final, "{result} must not finish the attempt");
        assert_eq!(e.outcome.raw_code, Some(format!("airudder:{result}/normal/ByCallee")));
        assert_eq!(e.outcome.disposition, Disposition::Unknown);
    }
    // Unknown ring and hangup values on a finished call: final, unknown, raw kept.
    let e = one(&with_record(|r| {
        r.insert("ring_type".into(), json!("siren"));
        r.insert("result_label".into(), json!("F"));
    }));
    assert!(e.is_final);
    assert_eq!(e.outcome.disposition, Disposition::Unknown);
    assert_eq!(e.outcome.raw_code.as_deref(), Some("airudder:finished/siren/ByCallee"));
}

#[test]
fn an_unmapped_label_takes_its_intent_from_the_description_and_event_labels() {
    let labelled = |label: &str, description: Value, events: Value| {
        one(&with_record(|r| {
            r.insert("result_label".into(), json!(label));
            r.insert("intention_description".into(), description);
            r.insert("EventLabel".into(), events);
        }))
    };
    let e = labelled("Z9", json!("Promise to pay"), json!({"Correct_Person": "identity_correct_person"}));
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::PromiseToPay)));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("airudder:Z9"), "the raw label is kept");
    let e = labelled("Z9", Value::Null, json!({"PTP": "action_item_promise_to_pay"}));
    assert_eq!(e.outcome.intent, Some(Intent::PromiseToPay));
    let e = labelled("Z9", json!("Wrong number"), Value::Null);
    assert_eq!(e.outcome.intent, Some(Intent::WrongPerson));
    let e = labelled("Z9", json!("No Answer"), Value::Null);
    assert_eq!(e.outcome.intent, Some(Intent::Unknown), "talked 43 s, nothing said what came of it");
    // A complaint among the event labels outranks the label's own intent.
    let e = labelled("E", Value::Null, json!({"投诉": "complaint"}));
    assert_eq!(e.outcome.intent, Some(Intent::Complaint));
    // The operator's label table comes first.
    let mapped = adapter(&format!("{OPTS}[intent_labels]\nZ9 = \"refuse\"\n"), "http://127.0.0.1:9");
    let body = with_record(|r| {
        r.insert("result_label".into(), json!("Z9"));
    });
    assert_eq!(parse_all(&mapped, &body).events[0].outcome.intent, Some(Intent::Refuse));
    // Signals make a connected call of an unmapped label without talk time.
    let e = one(&with_record(|r| {
        r.insert("result_label".into(), json!("Z9"));
        r.insert("duration".into(), json!(0));
        r.insert("intention_description".into(), json!("Promise to pay"));
    }));
    assert_eq!(e.outcome.disposition, Disposition::Answered);
}

#[test]
fn cancelled_in_every_spelling_finishes_as_cancelled() {
    for (result, hangup) in [("cancelled", "Canceled"), ("canceled", "canceled"), ("Canceled", "Cancelled")] {
        let e = one(&with_record(|r| {
            r.insert("result".into(), json!(result));
            r.insert("hangup_type".into(), json!(hangup));
        }));
        assert!(e.is_final, "{result}");
        assert_eq!(e.outcome.disposition, Disposition::Cancelled, "{result}/{hangup}");
        assert_eq!(e.outcome.raw_code, Some(format!("airudder:{result}/normal/{hangup}")));
    }
}

#[test]
fn one_bad_record_is_rejected_with_its_field_and_phone_and_the_others_apply() {
    let cases: &[(&str, Value, &str)] = &[
        ("result", json!(1), "result: expected a string, got a number 1"),
        ("result", Value::Null, "result: missing"),
        ("callee", json!({"n": 1}), "callee: expected a string"),
        ("ring_type", json!(5), "ring_type: expected a string"),
        ("hangup_type", json!(true), "hangup_type: expected a string"),
        ("duration", json!("forty"), "duration: expected an integer"),
        ("call_times", json!([2]), "call_times: expected an integer"),
        ("call_start_time", json!({}), "call_start_time: expected a time"),
        ("Variables", json!(5), "Variables: expected an object"),
        ("NerSlots", json!([1]), "NerSlots: expected an object"),
        ("EventLabel", json!(3), "EventLabel: expected an object"),
        ("redail_call", json!("x"), "redail_call: expected an array"),
        ("redail_call", json!([1]), "redail_call[0]: expected an object"),
        ("redail_call", json!([{"ring_type": 7}]), "redail_call[0].ring_type: expected a string"),
    ];
    for (field, value, reason) in cases {
        let mut body = example();
        let good = body["details"][0].clone();
        let mut bad = good.clone();
        bad[*field] = value.clone();
        bad["callee"] = if *field == "callee" { value.clone() } else { json!("+628111222333") };
        let mut third = good.clone();
        third["callee"] = json!("+628999");
        body["details"] = json!([good, bad, third]);
        let parsed = parse_all(&parser(), &body);
        assert_eq!(parsed.events.len(), 2, "{field}");
        assert_eq!(parsed.rejected.len(), 1, "{field}");
        let r = &parsed.rejected[0];
        assert_eq!(r.index, 1);
        assert!(r.reason.starts_with(reason), "{field}: {}", r.reason);
        let phone = (*field != "callee").then(|| "+628111222333".to_string());
        assert_eq!(r.phone, phone, "{field}");
        assert_eq!(parsed.events[1].phone.as_deref(), Some("+628999"), "the record after the bad one applies");
    }
}

#[test]
fn only_an_unreadable_envelope_is_refused() {
    let a = parser();
    for body in [&b"not json"[..], b"[]", b"\"x\"", b"{}", b"{\"details\": null}"] {
        assert!(
            matches!(a.parse_callback(body), Err(CallbackError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for (k, v) in [("details", json!("x")), ("task_id", json!({"id": 1}))] {
        let mut body = example();
        body[k] = v;
        assert!(matches!(a.parse_callback(body.to_string().as_bytes()), Err(CallbackError::Malformed(_))), "{k}");
    }
    // No task id (or null): records still parse, matched by reference or phone.
    let mut body = example();
    body.as_object_mut().unwrap().remove("task_id");
    assert_eq!(one(&body).vendor_task_id, None);
    body["task_id"] = Value::Null;
    assert_eq!(one(&body).vendor_task_id, None);
    body["task_id"] = json!(12345);
    assert_eq!(one(&body).vendor_task_id.as_deref(), Some("12345"));
    // A task-level body without calls, and an empty details[]: nothing to apply.
    let parsed = a.parse_callback(br#"{"task_id": "t1", "status": "finished"}"#).unwrap();
    assert!(parsed.events.is_empty() && parsed.rejected.is_empty());
    body["details"] = json!([]);
    assert!(a.parse_callback(body.to_string().as_bytes()).unwrap().events.is_empty());
}

/// Callees in every state the fake reports, with earlier dials.
fn callees() -> Vec<Callee> {
    let t = |m: u32| Utc.with_ymd_and_hms(2024, 3, 11, 13, m, 0).unwrap();
    let dial = |id: &str, code: &str, m: u32| DialDone {
        call_id: id.into(),
        code: code.into(),
        started_at: t(m),
        ended_at: t(m + 1),
    };
    let callee = |n: i64, result: &'static str, dials: Vec<DialDone>| Callee {
        id: n,
        callee: format!("+62812000{n:03}"),
        case_id: format!("case-{n}"),
        variables: json!({"campaignd_ref": format!("inst-{n}-1")}),
        result,
        dials,
        robot_hash: "robot-1".into(),
    };
    vec![
        callee(1, "finished", vec![dial("a1", "F", 1), dial("a2", "E", 5)]),
        callee(2, "finished", vec![dial("b1", "busy", 1)]),
        callee(3, "failed", vec![dial("c1", "failed", 1)]),
        callee(4, "cancelled", vec![dial("d1", "F", 1)]),
        callee(5, "pending", vec![]),
        callee(6, "finished", vec![dial("f1", "E", 2)]),
    ]
}

#[test]
fn every_body_the_fake_sends_is_read_without_loss() {
    let info = TaskInfo {
        task_id: "task-1".into(),
        task_name: "t".into(),
        status: "calling".into(),
        created_at: "2024-03-11 13:00:00".into(),
        repeat_interval: 0,
        repeat_number: 1,
        robot_hash: "robot-1".into(),
        schedule_start_time: "2024-03-11 13:00:00".into(),
        schedule_end_time: "2024-03-11 14:00:00".into(),
    };
    let all = Variations {
        nulls: true,
        omit_optional: false,
        numbers_as_strings: true,
        unmapped_label: Some("Z9".into()),
        progress_result: None,
        cancelled_spelling: Some("Canceled".into()),
        bad_record: false,
        no_task_id: true,
        ..Variations::default()
    };
    let cases = [
        Variations::default(),
        Variations { nulls: true, ..Variations::default() },
        Variations { omit_optional: true, ..Variations::default() },
        Variations { numbers_as_strings: true, ..Variations::default() },
        Variations { unmapped_label: Some("Z9".into()), ..Variations::default() },
        Variations { cancelled_spelling: Some("canceled".into()), ..Variations::default() },
        Variations { no_task_id: true, ..Variations::default() },
        Variations { bad_record: true, ..Variations::default() },
        all,
    ];
    for v in cases {
        let b = Builder { tz: chrono_tz::UTC, v: &v };
        let records: Vec<Value> = callees().iter().map(|c| b.record(c, None)).collect();
        let parsed = parse_all(&parser(), &b.webhook(&info, records));
        let by_ref = |n: i64| parsed.events.iter().find(|e| e.attempt_ref == Some(format!("inst-{n}-1")));
        if v.bad_record {
            assert_eq!(parsed.rejected.len(), 1, "{v:?}");
            assert!(parsed.rejected[0].reason.starts_with("result:"), "{v:?}");
            assert_eq!(parsed.rejected[0].phone.as_deref(), Some("+62812000002"));
            assert!(by_ref(2).is_none());
        } else {
            assert!(parsed.rejected.is_empty(), "{v:?}: {:?}", parsed.rejected);
            let busy = by_ref(2).unwrap();
            assert_eq!((busy.outcome.disposition, busy.is_final), (Disposition::Busy, true), "{v:?}");
        }
        let answered = by_ref(1).unwrap();
        let want = if v.unmapped_label.is_some() { Intent::PromiseToPay } else { Intent::Undecided };
        assert_eq!((answered.outcome.disposition, answered.outcome.intent), (Disposition::Answered, Some(want)));
        // Two dials, whether redail_call[] describes the first or only call_times counts it.
        assert_eq!(answered.redials.len(), 1, "{v:?}");
        let first = answered.first_dial.as_ref().map(|d| &d.outcome).unwrap().disposition;
        assert_eq!(first, if v.omit_optional { Disposition::Unknown } else { Disposition::NoAnswer }, "{v:?}");
        assert_eq!(answered.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 5, 0).unwrap()));
        let task = if v.no_task_id { None } else { Some("task-1") };
        assert_eq!(answered.vendor_task_id.as_deref(), task);
        assert_eq!(by_ref(3).unwrap().outcome.disposition, Disposition::VendorError);
        let cancelled = by_ref(4).unwrap();
        assert_eq!((cancelled.outcome.disposition, cancelled.is_final), (Disposition::Cancelled, true), "{v:?}");
        assert!(!by_ref(5).unwrap().is_final, "a pending callee is progress");
        assert_eq!(by_ref(6).unwrap().outcome.disposition, Disposition::Answered);
    }
    // Progress records: an undocumented result value never finishes.
    let v = Variations { progress_result: Some("dialing".into()), ..Variations::default() };
    let b = Builder { tz: chrono_tz::UTC, v: &v };
    let records: Vec<Value> = callees().iter().map(|c| b.record(c, Some("dialing"))).collect();
    let parsed = parse_all(&parser(), &b.webhook(&info, records));
    assert!(parsed.events.iter().all(|e| !e.is_final));
}
