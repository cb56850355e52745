//! Contract: every example of `smartivr-call-records-api.txt` (cut from the
//! document's own text) and every way a row may come: nulls, missing
//! optional fields, numbers as strings and strings as numbers, unknown
//! statuses, tags, `is_blacklist` spellings, several dials, a wrong type,
//! a bad row among good ones.

use super::doc::{self, DOC};
use super::{OPTIONS, TOKEN, adapter_for, settings, shanghai, utc};
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::tags::TagIntents;
use crate::vendors::smartivr::adapter::SmartivrAdapter;
use crate::vendors::smartivr::codes::{self, STATUS_CODES};
use crate::vendors::smartivr::wire::{self, CallRecord, NumberRow, Page, RecordInfo};
use crate::vendors::{CallbackError, ParsedCallback, VendorAdapter};
use serde_json::{Value, json};

fn ivr() -> SmartivrAdapter {
    adapter_for(&settings(OPTIONS), "http://127.0.0.1:9", TOKEN)
}

/// With call notifications on, so that `parse_callback` reads rows.
fn notified() -> SmartivrAdapter {
    adapter_for(&settings(&format!("{OPTIONS}\ncall_notify_type = 2")), "http://127.0.0.1:9", TOKEN)
}

/// Parse a notification body and check that none of its `rows` was dropped.
fn parse(a: &SmartivrAdapter, body: &Value, rows: usize) -> ParsedCallback {
    let parsed = a.parse_callback(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(parsed.events.len() + parsed.rejected.len(), rows, "every row is an event or rejected: {body}");
    parsed
}

#[test]
fn the_documents_status_list_is_the_status_table() {
    // "0等待呼叫、1呼叫成功、2线路故障、…、12呼损"
    let line = DOC.lines().map(str::trim).find(|l| l.starts_with("0等待呼叫")).expect("the status list");
    let listed: Vec<(i64, &str)> = line
        .split('、')
        .map(|item| {
            let digits = item.chars().take_while(char::is_ascii_digit).count();
            (item[..digits].parse().unwrap(), &item[digits..])
        })
        .collect();
    let ours: Vec<i64> = STATUS_CODES.iter().map(|r| r.0).collect();
    assert_eq!(listed.iter().map(|(c, _)| *c).collect::<Vec<_>>(), ours);
    let expected = [
        ("等待呼叫", Disposition::Unknown),
        ("呼叫成功", Disposition::Answered),
        ("线路故障", Disposition::VendorError),
        ("拒接", Disposition::Rejected),
        ("无应答/无人接听", Disposition::NoAnswer),
        ("空号", Disposition::Vacant),
        ("关机", Disposition::PowerOff),
        ("停机", Disposition::OutOfService),
        ("占线/用户正忙", Disposition::Busy),
        ("呼入限制", Disposition::Blocked),
        ("欠费", Disposition::OutOfService),
        ("黑名单", Disposition::Blocked),
        ("呼损", Disposition::CallLoss),
    ];
    for ((code, words), (want_words, disposition)) in listed.iter().zip(expected) {
        assert_eq!(*words, want_words, "{code}");
        let o = codes::normalize(*code, None);
        assert_eq!(o.disposition, disposition, "{code} {words}");
        assert_eq!(o.raw_code, Some(format!("smartivr:{code}")));
        assert_eq!(codes::is_final(*code), *code != 0, "only 等待呼叫 is no result");
    }
}

#[test]
fn doc_query_done_task_phones_example_is_a_complaint_by_its_tag() {
    let value = doc::json(doc::example("接口:POST v1/task/query_done_task_phones"));
    let page = Page::read(&value).unwrap();
    assert_eq!((page.total, page.last_page, page.rows.len()), (Some(1), Some(1), 1));
    let r = CallRecord::read(&page.rows[0]).unwrap();
    assert_eq!(r.id.as_deref(), Some("6d44d2f4-90f9-4621-8c77-e5e70c810623"));
    assert_eq!(r.task_id.as_deref(), Some("234cdcac-501c-47b5-9c06-47a658f363b8"));
    assert_eq!(r.callid.as_deref(), Some("d6a577d4-7180-11e9-80bd-7fed30fcff3f"));
    assert_eq!(r.callee.as_deref(), Some("18810495721"));
    assert_eq!((r.duration, r.bill, r.rounds), (Some(60080), Some(31319), Some(0)));
    assert_eq!(r.grade_label().as_deref(), Some("D级(无意向)"));
    assert_eq!(r.tags, ["脏话"]);
    assert_eq!(r.tag_groups, ["有意向", "有意向", "无意向"]);

    // The document's own call was tagged 脏话 (swearing): a complaint,
    // whatever its grade D (no intention) says.
    let row = NumberRow::read(&json!({"number": r.callee, "status": 1, "callid": r.callid,
        "calldate": r.calldate, "hangupdate": r.hangupdate, "bill": r.bill}))
    .unwrap();
    let e = ivr().number_event(r.task_id.as_deref(), &row, Some(&r)).unwrap();
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Complaint)));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("smartivr:1"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("smartivr:脏话"));
    assert_eq!(e.phone.as_deref(), Some("+8618810495721"));
    assert_eq!(e.started_at, Some(shanghai("2019-05-08T19:02:58")));
    assert_eq!(e.duration_ms, Some(31319), "bill: talk time in ms");
    // Without the tag the grade decides.
    let untagged = CallRecord { tags: Vec::new(), ..r.clone() };
    let e = ivr().number_event(None, &row, Some(&untagged)).unwrap();
    assert_eq!(
        (e.outcome.intent, e.outcome.raw_intent.as_deref()),
        (Some(Intent::NotInterested), Some("smartivr:D级(无意向)"))
    );
}

#[test]
fn doc_task_number_example_is_two_dials_with_the_answer_last() {
    let value = doc::json(doc::example("接口:GET v1/task/number"));
    assert_eq!(value["code"], 200);
    let page = Page::read(&value).unwrap();
    assert_eq!((page.total, page.last_page, page.rows.len()), (Some(1), Some(1), 1));
    let row = NumberRow::read(&page.rows[0]).unwrap();
    assert_eq!(
        (row.number.as_str(), row.status, row.bill, row.duration),
        ("18651683344", Some(1), Some(26638), Some(35639))
    );
    assert_eq!((row.is_blacklist, row.call_history.len()), (Some(false), 2));

    let e = ivr().number_event(Some("task-1"), &row, None).unwrap();
    assert!(e.is_final && !e.blacklisted);
    assert_eq!(e.phone.as_deref(), Some("+8618651683344"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("task-1"));
    assert_eq!(e.attempt_ref, None, "the document's rows echo only the phone");
    assert_eq!((e.outcome.disposition, e.outcome.raw_code.as_deref()), (Disposition::Answered, Some("smartivr:1")));
    // The first dial: busy on 03-04 (the history lists the newest first).
    assert_eq!(e.external_call_id.as_deref(), Some("1569523c-d3d3-48fd-97a0-ad88d6606a19"));
    assert_eq!(e.started_at, Some(shanghai("2020-03-04T20:50:36")));
    let first = e.first_dial.clone().unwrap().outcome;
    assert_eq!((first.disposition, first.raw_code.as_deref()), (Disposition::Busy, Some("smartivr:8")));
    // Then the vendor's redial on 03-06, answered: the final outcome is its own.
    assert_eq!(e.redials.len(), 1);
    let r = &e.redials[0];
    assert_eq!(r.external_call_id.as_deref(), Some("90a48ed3-a5f6-4904-b1f3-a9ec883b069f"));
    assert_eq!(r.at, Some(utc("2020-03-06T15:04:37Z")));
    assert_eq!(r.outcome, e.outcome);
    assert_eq!(e.ended_at, Some(utc("2020-03-06T15:05:12Z")));
    assert_eq!(e.duration_ms, Some(26638));
    // Rang from the dial (23:04:37) to the answer (23:04:46); `bill` is the billed time.
    assert_eq!((e.ring_ms, e.billed_ms), (Some(9_000), Some(26638)));
    assert_eq!(e.recording_url, None, "the number list names no recording");
    // With its call record, the call's recording is the record's `recordfile`.
    let record = CallRecord::read(&serde_json::json!({ "recordfile": "/mnt/smartivr/recordings/x.wav" })).unwrap();
    let e = ivr().number_event(Some("task-1"), &row, Some(&record)).unwrap();
    assert_eq!(e.recording_url.as_deref(), Some("/mnt/smartivr/recordings/x.wav"));

    // The same row as an (assumed) call notification: the task comes from its history.
    let parsed = parse(&notified(), &page.rows[0], 1);
    assert_eq!(parsed.events[0].vendor_task_id.as_deref(), Some("772dd881-dcf7-42ee-a32b-b40a0ee5afb7"));
    assert_eq!(parsed.events[0].redials.len(), 1);
}

#[test]
fn doc_record_example_parses() {
    let value = doc::json(doc::example("接口:GET v1/record/{record_id}"));
    let r = CallRecord::read(wire::data(&value)).unwrap();
    assert_eq!(r.id.as_deref(), Some("b1e91cb9-5994-47cc-a5df-25c3e8439a99"));
    assert_eq!(r.task_id.as_deref(), Some("d77d6f95-0e40-46d4-8bda-30343411da47"));
    assert_eq!(r.callee.as_deref(), Some("1890685250"));
    assert_eq!((r.duration, r.bill, r.score, r.rounds), (Some(58999), Some(48079), Some(165), Some(12)));
    assert_eq!(r.hangup_disposition, Some(2));
    assert_eq!(
        r.recordfile.as_deref(),
        Some("/mnt/smartivr/recordings/2020-02-22/18906023250.eb9464a2-adf2-4621-9157-64892e86e273.wav")
    );
    let o = codes::normalize(codes::ANSWERED, r.grade_label().as_deref());
    assert_eq!(o.intent, Some(Intent::Callback), "C级(可再次跟进): follow up again");
    let t = crate::vendors::common::local_time(r.answerdate.as_deref().unwrap(), chrono_tz::Asia::Shanghai);
    assert_eq!(t, Some(utc("2020-02-22T07:17:07Z")));
}

#[test]
fn doc_record_info_example_parses_without_progress_turns() {
    let info =
        RecordInfo::read(&doc::json(doc::example("接口:GET /v1/task/record_info/{task_id}/{record_id}"))).unwrap();
    assert_eq!(info.records.len(), 5);
    let dialogue = info.dialogue();
    let seqs: Vec<_> = dialogue.iter().map(|t| t.sequence.unwrap()).collect();
    assert_eq!(seqs, [1, 3, 5], "asrprogress_notify turns are skipped");
    assert!(dialogue[0].answer_content.as_deref().unwrap().contains("沪江网校"));
    assert_eq!(dialogue[0].tags, ["承认发布"]);
    assert_eq!(dialogue[2].question.as_deref(), Some("不再见,再见。"));
    let record = info.record.as_ref().unwrap();
    assert_eq!(record.callee.as_deref(), Some("18651683344"));
    assert_eq!((record.bill, record.duration), (Some(10120), Some(17600)));
    assert_eq!(record.grade_label().as_deref(), Some("D级(无意向)"));
    assert_eq!(info.task.as_ref().unwrap()["call_notify_type"], 2);
}

#[test]
fn nulls_and_missing_optional_fields_read_as_absent() {
    let a = ivr();
    let bare = json!({"number": "18651683344", "status": 4});
    let mut nulls = bare.clone();
    for k in ["id", "callid", "calldate", "answerdate", "hangupdate", "bill", "duration", "hangupcause"] {
        nulls[k] = Value::Null;
    }
    for k in ["is_blacklist", "call_history", "status_str", "custom", "task_id", "level_name", "tags"] {
        nulls[k] = Value::Null;
    }
    for body in [bare, nulls] {
        let e = a.number_event(Some("t"), &NumberRow::read(&body).unwrap(), None).unwrap();
        assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::NoAnswer, None), "{body}");
        assert_eq!((e.started_at, e.ended_at, e.duration_ms, e.external_call_id.clone()), (None, None, None, None));
        assert_eq!((e.redials.len(), e.first_dial.clone(), e.blacklisted), (0, None, false));
    }
    let record = json!({"id": "r", "callee": "18651683344", "level_name": null, "level": null, "tags": null,
        "tag_groups": null, "bill": null, "score": null});
    let r = CallRecord::read(&record).unwrap();
    assert_eq!((r.grade_label(), r.tags.len(), r.bill), (None, 0, None));
    // A row without a status says nothing yet.
    assert_eq!(a.number_event(None, &NumberRow::read(&json!({"number": "1865"})).unwrap(), None), None);
}

#[test]
fn numbers_and_strings_stand_for_each_other() {
    let body = json!({"number": 18651683344_i64, "status": "1", "id": "1691", "bill": "26638", "duration": 35639.0,
    "is_blacklist": "0", "calldate": "2020-03-06 23:04:37", "callid": "c2",
    "call_history": [
        {"id": "356036", "status": "1", "call_id": "c2", "call_time": "2020-03-06 23:04:37", "bill": "26638"},
        {"id": 354060, "status": 8.0, "call_id": "c1", "call_time": "2020-03-04 20:50:36", "hangup_code": 200}
    ]});
    let row = NumberRow::read(&body).unwrap();
    assert_eq!((row.number.as_str(), row.id, row.is_blacklist), ("18651683344", Some(1691), Some(false)));
    let e = ivr().number_event(None, &row, None).unwrap();
    assert_eq!(e.outcome.disposition, Disposition::Answered);
    assert_eq!((e.duration_ms, e.first_dial.map(|d| d.outcome.disposition)), (Some(26638), Some(Disposition::Busy)));
    let page = Page::read(&json!({"data": [], "total": "0", "last_page": "1"})).unwrap();
    assert_eq!((page.total, page.last_page), (Some(0), Some(1)));
}

#[test]
fn an_unknown_status_keeps_its_raw_value_and_finishes() {
    let row = NumberRow::read(&json!({"number": "13900000000", "status": 13,
        "call_history": [{"call_id": "x", "status": 13, "call_time": "2024-01-01 10:00:00"}]}))
    .unwrap();
    let e = ivr().number_event(Some("t"), &row, None).unwrap();
    assert!(e.is_final);
    assert_eq!((e.outcome.disposition, e.outcome.raw_code.as_deref()), (Disposition::Unknown, Some("smartivr:13")));
}

#[test]
fn is_blacklist_in_every_spelling_and_status_11_blacklist_the_number() {
    let a = ivr();
    let event = |extra: Value| {
        let mut body = json!({"number": "13900000000", "status": 1});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        a.number_event(Some("t"), &NumberRow::read(&body).unwrap(), None).unwrap()
    };
    for yes in [json!(1), json!("1"), json!(true), json!("true")] {
        assert!(event(json!({ "is_blacklist": yes })).blacklisted, "{yes}");
    }
    for no in [json!(0), json!("0"), json!(false), Value::Null, json!("")] {
        assert!(!event(json!({ "is_blacklist": no })).blacklisted, "{no}");
    }
    let e = event(json!({"status": 11, "is_blacklist": false}));
    assert!(e.blacklisted);
    assert_eq!((e.outcome.disposition, e.outcome.raw_code.as_deref()), (Disposition::Blocked, Some("smartivr:11")));
    let e = event(json!({"status": 4, "call_history": [
        {"call_id": "b", "status": 4, "call_time": "2024-01-01 11:00:00"},
        {"call_id": "a", "status": 11, "call_time": "2024-01-01 10:00:00"}]}));
    assert!(e.blacklisted, "a dial that met the blacklist");
}

#[test]
fn tags_reach_the_intent_through_the_vendor_table() {
    let a = ivr();
    let row = NumberRow::read(&json!({"number": "13900000000", "status": 1, "callid": "c"})).unwrap();
    let graded = |tags: Value| {
        let r = CallRecord::read(&json!({"callid": "c", "level_name": "A级", "tags": tags})).unwrap();
        a.number_event(None, &row, Some(&r)).unwrap().outcome
    };
    let o = graded(json!([{"name": "投诉"}]));
    assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Complaint), Some("smartivr:投诉")));
    assert_eq!(graded(json!(["脏话"])).intent, Some(Intent::Complaint), "bare names too");
    assert_eq!(graded(json!([{"name": "有意向"}])).intent, Some(Intent::Interested), "unknown tags change nothing");
    let r = CallRecord::read(&json!({"callid": "c", "tag_groups": [{"name": "黑名单"}]})).unwrap();
    assert_eq!(a.number_event(None, &row, Some(&r)).unwrap().outcome.intent, Some(Intent::DoNotCall));

    // The operator's `[vendors.tag_intents]` reaches the adapter the registry builds.
    let mut s = settings(&format!("{OPTIONS}\ncall_notify_type = 2"));
    s.tag_intents = TagIntents::with_overrides([("承诺还款", Intent::PromiseToPay)]);
    let built = (crate::vendors::kinds::find("smartivr").unwrap().build)(&s, "http://127.0.0.1:9").unwrap();
    let body = json!({"number": "13900000000", "status": 1, "task_id": "t", "level_name": "D级(无意向)",
        "tags": [{"name": "承诺还款"}]});
    let e = built.parse_callback(body.to_string().as_bytes()).unwrap().events.remove(0);
    assert_eq!(
        (e.outcome.intent, e.outcome.raw_intent.as_deref()),
        (Some(Intent::PromiseToPay), Some("smartivr:承诺还款"))
    );
}

#[test]
fn dials_are_recorded_oldest_first_with_the_final_outcome_on_the_last() {
    let row = NumberRow::read(&json!({"number": "13900000000", "status": 1, "callid": "c3",
    "calldate": "2024-01-01 12:00:00", "hangupdate": "2024-01-01 12:01:00", "bill": 30000,
    "call_history": [
        {"id": 4, "call_id": "c3", "status": 1, "call_time": "2024-01-01 12:00:00"},
        {"id": 9, "call_id": "c0", "status": 0, "call_time": null},
        {"id": 3, "call_id": "c2", "status": 4, "call_time": "2024-01-01 11:00:00"},
        {"id": 2, "call_id": "c1", "status": 8, "call_time": "2024-01-01 10:00:00"}
    ]}))
    .unwrap();
    let record = CallRecord::read(&json!({"callid": "c3", "level_name": "B级", "tags": [{"name": "投诉"}]})).unwrap();
    let e = ivr().number_event(Some("t"), &row, Some(&record)).unwrap();
    assert_eq!(e.external_call_id.as_deref(), Some("c1"));
    assert_eq!(e.started_at, Some(shanghai("2024-01-01T10:00:00")));
    assert_eq!(e.first_dial.as_ref().map(|d| d.outcome.disposition), Some(Disposition::Busy));
    let redials: Vec<_> =
        e.redials.iter().map(|r| (r.external_call_id.clone().unwrap(), r.outcome.disposition)).collect();
    assert_eq!(redials, [("c2".to_string(), Disposition::NoAnswer), ("c3".to_string(), Disposition::Answered)]);
    assert_eq!(e.redials[0].outcome.intent, None, "grade and tags belong to the last dial only");
    assert_eq!(e.redials[1].outcome, e.outcome);
    assert_eq!((e.outcome.intent, e.ended_at), (Some(Intent::Complaint), Some(shanghai("2024-01-01T12:01:00"))));
    assert_eq!(e.redials[1].at, Some(shanghai("2024-01-01T12:00:00")));
}

#[test]
fn a_wrong_type_rejects_the_row_with_the_field_named() {
    let a = notified();
    let cases = [
        ("status", json!({"code": 1}), "status: expected"),
        ("is_blacklist", json!("yes"), "is_blacklist: expected"),
        ("bill", json!([1]), "bill: expected"),
        ("call_history", json!("x"), "call_history: expected an array"),
        ("call_history", json!([{"status": [8]}]), "call_history[0].status: expected"),
        ("call_history", json!([5]), "call_history[0]: expected an object"),
        ("tags", json!("脏话"), "tags: expected an array"),
        ("calldate", json!({"at": 1}), "calldate: expected"),
    ];
    for (field, value, reason) in cases {
        let mut body = json!({"number": "18651683344", "status": 1, "task_id": "t"});
        body[field] = value;
        let parsed = parse(&a, &body, 1);
        assert!(parsed.events.is_empty(), "{field} must not read as a result");
        let r = &parsed.rejected[0];
        assert!(r.reason.starts_with(reason), "{field}: {}", r.reason);
        assert_eq!((r.index, r.phone.as_deref()), (0, Some("+8618651683344")), "with the configured country code");
    }
    let parsed = parse(&a, &json!({"status": 1, "task_id": "t"}), 1);
    assert_eq!((parsed.rejected[0].reason.as_str(), parsed.rejected[0].phone.clone()), ("number: missing", None));
    for (record, reason) in [
        (json!({"bill": {"ms": 1}}), "bill: expected"),
        (json!({"level": "D"}), "level: expected an object"),
        (json!({"tags": [{"name": ["x"]}]}), "tags[0].name: expected"),
        (json!({"tags": [true]}), "tags[0]: expected a tag"),
    ] {
        let got = CallRecord::read(&record).unwrap_err();
        assert!(got.starts_with(reason), "{record}: {got}");
    }
}

#[test]
fn one_bad_row_among_several_loses_none_of_the_others() {
    let body = json!([
        {"number": "13900000000", "status": 4, "task_id": "t"},
        {"number": "13900000001", "status": [4], "task_id": "t"},
        {"number": "13900000002", "status": 1, "task_id": "t", "level_name": "C级", "tags": ["投诉"]},
    ]);
    let parsed = parse(&notified(), &body, 3);
    let phones: Vec<_> = parsed.events.iter().map(|e| e.phone.clone().unwrap()).collect();
    assert_eq!(phones, ["+8613900000000", "+8613900000002"]);
    assert_eq!(parsed.events[1].outcome.intent, Some(Intent::Complaint));
    assert_eq!(parsed.rejected.len(), 1);
    assert_eq!((parsed.rejected[0].index, parsed.rejected[0].phone.as_deref()), (1, Some("+8613900000001")));
}

#[test]
fn notifications_without_a_task_id_invent_none_and_bodies_of_another_shape_are_malformed() {
    let a = notified();
    let e = parse(&a, &json!({"number": "13900000000", "status": 4}), 1).events.remove(0);
    assert_eq!((e.vendor_task_id, e.phone.as_deref()), (None, Some("+8613900000000")));
    for body in [&b"nope"[..], b"[]", b"\"x\"", b"5"] {
        let got = a.parse_callback(body);
        assert!(matches!(got, Err(CallbackError::Malformed(_))), "{}: {got:?}", String::from_utf8_lossy(body));
    }
}
