//! Tests of the smartivr adapter and fake: the document's examples through
//! the parsers, options/check, and the adapter against the fake on loopback.

use super::adapter::{self, SmartivrAdapter};
use super::doc_examples as doc;
use super::wire::{self, CallRecord, NumberRow, RecordInfo};
use super::{SmartivrOptions, check, codes};
use crate::config::{Secret, VendorSettings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::common::Answer;
use crate::vendors::fake::{FakeBehavior, FakeHandle};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchItem, LookupResult, TaskHandle, VendorAdapter,
    VendorErrorKind,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-bearer-token";

/// Read one of the document's annotated examples: no-break spaces read as
/// spaces, `//` comments (outside strings) and trailing commas dropped, bare `key: value` lines quoted and
/// comma-separated.
fn doc_json(text: &str) -> Value {
    // 1. Comments.
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            for d in chars.by_ref() {
                if d == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else if c.is_whitespace() && c != '\n' {
            out.push(' '); // the web copy indents with no-break spaces
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    // 2. Bare keys (`id: 12` lines without commas).
    let lines: Vec<&str> = out.lines().collect();
    let mut fixed = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let bare = trimmed.split_once(':').filter(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with('"')
        });
        match bare {
            Some((key, value)) => {
                let value = value.trim();
                let next = lines[i + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or("}");
                let comma = !value.ends_with(',') && !next.starts_with('}') && !next.starts_with(']');
                fixed.push(format!("\"{key}\": {value}{}", if comma { "," } else { "" }));
            }
            None => fixed.push(line.to_string()),
        }
    }
    let out = fixed.join("\n");
    // 3. Trailing commas.
    let mut clean = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = out.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        clean.push(c);
    }
    serde_json::from_str(&clean).unwrap_or_else(|e| panic!("doc example unreadable: {e}\n{clean}"))
}

fn options_table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

const OPTIONS: &str = r#"
group_id = 297
country_code = "86"
server_timezone = "Asia/Shanghai"
"#;

fn settings(options: &str) -> VendorSettings {
    VendorSettings {
        id: "ivr".into(),
        kind: "smartivr".into(),
        base_url: Some("http://127.0.0.1:9".into()),
        api_key: Some(Secret::new(TOKEN)),
        api_secret: None,
        callback_secret: None,
        callback_token: None,
        callback_allow_ips: Vec::new(),
        circuit_cooldown: Duration::from_secs(60),
        max_concurrency: 10,
        rate_per_second: None,
        request_timeout: Duration::from_secs(5),
        embedded_listen: None,
        sim: None,
        fake: FakeBehavior::default(),
        options: options_table(options),
        tag_intents: Default::default(),
    }
}

fn adapter_for(s: &VendorSettings, base_url: &str, token: &str) -> SmartivrAdapter {
    let (opts, tz) = SmartivrOptions::from_settings(s).unwrap();
    SmartivrAdapter::new(&s.id, base_url, token.to_string(), s.request_timeout, opts, tz)
}

fn shanghai(text: &str) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.from_local_datetime(&text.parse().unwrap()).unwrap().with_timezone(&Utc)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

// ---- Contract tests: the document's examples ----

#[test]
fn doc_query_done_task_phones_example_parses() {
    let page: wire::Page<CallRecord> = wire::page(&doc_json(doc::DONE_TASK_PHONES)).unwrap();
    assert_eq!((page.total, page.last_page, page.data.len()), (Some(1), Some(1), 1));
    let r = &page.data[0];
    assert_eq!(r.id, "6d44d2f4-90f9-4621-8c77-e5e70c810623");
    assert_eq!(r.task_id.as_deref(), Some("234cdcac-501c-47b5-9c06-47a658f363b8"));
    assert_eq!(r.callid.as_deref(), Some("d6a577d4-7180-11e9-80bd-7fed30fcff3f"));
    assert_eq!(r.callee.as_deref(), Some("18810495721"));
    assert_eq!((r.duration, r.bill, r.rounds), (Some(60080), Some(31319), Some(0)));
    assert_eq!(r.level_name.as_deref(), Some("D级(无意向)"));
    assert_eq!(r.level.as_ref().unwrap().name.as_deref(), Some("D级"));
    let o = codes::normalize(codes::ANSWERED, r.grade_label().as_deref());
    assert_eq!(o.intent, Some(Intent::NotInterested));
    assert_eq!(o.raw_intent.as_deref(), Some("smartivr:D级(无意向)"));
    let tz = chrono_tz::Asia::Shanghai;
    let called = crate::vendors::common::local_time(r.calldate.as_deref().unwrap(), tz).unwrap();
    assert_eq!(called, utc("2019-05-08T11:02:58Z"));
    let tags: Vec<_> = r.tag_groups.as_ref().unwrap().iter().filter_map(|t| t.name.as_deref()).collect();
    assert_eq!(tags, ["有意向", "有意向", "无意向"]);
}

#[test]
fn doc_task_number_example_becomes_an_event_with_its_redial() {
    let s = settings(OPTIONS);
    let a = adapter_for(&s, "http://127.0.0.1:9", TOKEN);
    let value = doc_json(doc::TASK_NUMBER);
    assert_eq!(value["code"], 200);
    let page: wire::Page<NumberRow> = wire::page(&value).unwrap();
    assert_eq!((page.total, page.last_page, page.data.len()), (Some(1), Some(1), 1));
    let row = &page.data[0];
    assert_eq!(
        (row.number.as_str(), row.status, row.bill, row.duration),
        ("18651683344", Some(1), Some(26638), Some(35639))
    );
    assert_eq!(row.call_history.as_ref().unwrap().len(), 2);

    let ev = a.number_event("task-1", row, None).unwrap();
    assert!(ev.is_final);
    assert_eq!(ev.phone.as_deref(), Some("+8618651683344"));
    assert_eq!(ev.vendor_task_id.as_deref(), Some("task-1"));
    assert_eq!(ev.external_call_id.as_deref(), Some("90a48ed3-a5f6-4904-b1f3-a9ec883b069f"));
    assert_eq!(ev.attempt_ref, None, "the document's rows echo only the phone");
    assert_eq!(ev.outcome.disposition, Disposition::Answered);
    assert_eq!(ev.outcome.raw_code.as_deref(), Some("smartivr:1"));
    assert_eq!(ev.started_at, Some(shanghai("2020-03-06T23:04:37")));
    assert_eq!(ev.ended_at, Some(utc("2020-03-06T15:05:12Z")));
    assert_eq!(ev.duration_ms, Some(26638), "bill: talk time in ms");
    // The older busy dial of the history is a vendor redial.
    assert_eq!(ev.redials.len(), 1);
    let r = &ev.redials[0];
    assert_eq!(r.external_call_id.as_deref(), Some("1569523c-d3d3-48fd-97a0-ad88d6606a19"));
    assert_eq!(r.at, Some(utc("2020-03-04T12:50:36Z")));
    assert_eq!(r.outcome.disposition, Disposition::Busy);
    assert_eq!(r.outcome.raw_code.as_deref(), Some("smartivr:8"));

    // The same row as an (assumed) call notification: the task comes from its history.
    let on = settings(&format!("{OPTIONS}\ncall_notify_type = 2"));
    let notified = adapter_for(&on, "http://127.0.0.1:9", TOKEN);
    let body = serde_json::to_vec(&value["data"]["data"][0]).unwrap();
    let events = notified.parse_callback(&body).unwrap().events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].vendor_task_id.as_deref(), Some("772dd881-dcf7-42ee-a32b-b40a0ee5afb7"));
    assert_eq!(events[0].phone.as_deref(), Some("+8618651683344"));
    assert_eq!(events[0].outcome.disposition, Disposition::Answered);
}

#[test]
fn doc_record_example_parses() {
    let value = doc_json(doc::RECORD);
    let r: CallRecord = wire::data(&value).unwrap();
    assert_eq!(r.id, "b1e91cb9-5994-47cc-a5df-25c3e8439a99");
    assert_eq!(r.task_id.as_deref(), Some("d77d6f95-0e40-46d4-8bda-30343411da47"));
    assert_eq!(r.callee.as_deref(), Some("1890685250"));
    assert_eq!((r.duration, r.bill, r.score, r.rounds), (Some(58999), Some(48079), Some(165), Some(12)));
    assert_eq!(r.hangup_disposition, Some(2));
    let o = codes::normalize(codes::ANSWERED, r.grade_label().as_deref());
    assert_eq!(o.intent, Some(Intent::Callback), "C级(可再次跟进): follow up again");
    let t = crate::vendors::common::local_time(r.answerdate.as_deref().unwrap(), chrono_tz::Asia::Shanghai);
    assert_eq!(t, Some(utc("2020-02-22T07:17:07Z")));
}

#[test]
fn doc_record_info_example_parses_without_progress_turns() {
    let info: RecordInfo = serde_json::from_value(doc_json(doc::RECORD_INFO)).unwrap();
    assert_eq!(info.records.len(), 5);
    let dialogue = info.dialogue();
    let seqs: Vec<_> = dialogue.iter().map(|t| t.sequence.unwrap()).collect();
    assert_eq!(seqs, [1, 3, 5], "asrprogress_notify turns are skipped");
    assert!(dialogue[0].answer_content.as_deref().unwrap().contains("沪江网校"));
    assert_eq!(dialogue[0].tags.as_ref().unwrap()[0].name.as_deref(), Some("承认发布"));
    assert_eq!(dialogue[2].question.as_deref(), Some("不再见,再见。"));
    let record = info.info.as_ref().unwrap().record.as_ref().unwrap();
    assert_eq!(record.callee.as_deref(), Some("18651683344"));
    assert_eq!((record.bill, record.duration), (Some(10120), Some(17600)));
    assert_eq!(record.grade_label().as_deref(), Some("D级(无意向)"));
    let task = info.info.as_ref().unwrap().task.as_ref().unwrap();
    assert_eq!(task["call_notify_type"], 2);
}

// ---- Errors, options, callbacks ----

#[test]
fn error_codes_are_classified() {
    for (code, kind, meaning) in adapter::ERROR_CODES {
        assert_eq!(adapter::classify(*code), *kind, "{code} {meaning}");
        let expected = if *code == 408 || *code == 429 || *code >= 500 {
            VendorErrorKind::RetryLater
        } else {
            VendorErrorKind::Fatal
        };
        assert_eq!(*kind, expected, "{code}");
    }
    assert_eq!(adapter::classify(507), VendorErrorKind::RetryLater);
    assert_eq!(adapter::classify(418), VendorErrorKind::Fatal);
    assert_eq!(adapter::classify(-1), VendorErrorKind::Fatal);

    let answer =
        |status: u16, body: &str| Answer { status: reqwest::StatusCode::from_u16(status).unwrap(), body: body.into() };
    assert_eq!(adapter::refusal(&answer(200, r#"{"code":200,"status":"ok","data":{}}"#)), None);
    assert_eq!(adapter::refusal(&answer(200, r#"{"data":[],"total":0,"last_page":1}"#)), None);
    let taken = adapter::refusal(&answer(
        422,
        r#"{"message":"The given data was invalid.","errors":{"name":["The name has already been taken."]}}"#,
    ))
    .unwrap();
    assert!(taken.name_taken && taken.code == 422 && taken.message.contains("already been taken"), "{taken:?}");
    let in_body =
        adapter::refusal(&answer(200, r#"{"code":429,"status":"error","message":"Too Many Attempts."}"#)).unwrap();
    assert_eq!((in_body.code, in_body.name_taken), (429, false));
    let bare = adapter::refusal(&answer(502, "<html>bad gateway</html>")).unwrap();
    assert_eq!(bare.code, 502);
}

#[test]
fn check_reports_missing_credentials_and_bad_options() {
    assert!(check(&settings(OPTIONS)).is_empty(), "{:?}", check(&settings(OPTIONS)));
    let mut s = settings("");
    s.api_key = None;
    let issues = check(&s);
    let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"api_key"), "{issues:?}");
    assert!(fields.contains(&"options.group_id"), "{issues:?}");
    assert!(!fields.contains(&"callback_token"), "polling only: no token needed");

    let issues = check(&settings("group_id = 1\nrobot = 3"));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].0, "options");
    assert!(issues[0].1.contains("robot"), "{issues:?}");

    let issues = check(&settings("group_id = 1\nserver_timezone = \"Mars/Base\"\ncall_notify_type = 3"));
    let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"options.server_timezone") && fields.contains(&"options.call_notify_type"), "{issues:?}");

    let issues = check(&settings("group_id = 1\ncall_notify_type = 1"));
    assert_eq!(issues.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["callback_token"]);
    let mut with_token = settings("group_id = 1\ncall_notify_type = 1");
    with_token.callback_token = Some(Secret::new("t"));
    assert!(check(&with_token).is_empty());
    // The secret never shows in the adapter's Debug.
    let a = adapter_for(&settings(OPTIONS), "http://127.0.0.1:9", TOKEN);
    assert!(!format!("{a:?}").contains(TOKEN));
}

#[test]
fn callbacks_are_refused_unless_notifications_are_on() {
    let off = adapter_for(&settings(OPTIONS), "http://127.0.0.1:9", TOKEN);
    assert!(off.signs_callbacks(), "nothing to verify: the registry needs no callback_token");
    let err = off.verify_callback(&Default::default(), b"{}", None).unwrap_err();
    assert!(matches!(&err, CallbackError::Unauthorized(m) if m.contains("disabled")), "{err}");
    let on = adapter_for(&settings(&format!("{OPTIONS}\ncall_notify_type = 2")), "http://127.0.0.1:9", TOKEN);
    assert!(!on.signs_callbacks());
    on.verify_callback(&Default::default(), b"{}", None).unwrap();
    assert!(matches!(on.parse_callback(b"{\"number\":\"1\",\"status\":1}"), Err(CallbackError::Malformed(_))));
    assert!(matches!(on.parse_callback(b"[]"), Err(CallbackError::Malformed(_))));
    let waiting = on.parse_callback(br#"{"number":"13900000000","status":0,"task_id":"t"}"#).unwrap().events;
    assert!(!waiting[0].is_final);
    assert_eq!(on.callback_ack(), (200, json!({ "code": 200, "status": "ok", "message": "success" })));
}

// ---- Adapter against the fake ----

async fn fake_with(s: &VendorSettings, behavior: FakeBehavior) -> FakeHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    super::fake::spawn(s, behavior, listener).await.unwrap()
}

fn phone(i: usize) -> String {
    format!("+861390000{i:04}")
}

fn batch(n: usize, offset: usize) -> DispatchBatch {
    DispatchBatch {
        campaign: "collect-march".into(),
        callback_url: "http://127.0.0.1:9/callbacks/ivr".into(),
        predial_url: "http://127.0.0.1:9/callbacks/ivr/predial".into(),
        not_after: Some(Utc::now() + chrono::Duration::hours(1)),
        vendor_redial: false,
        items: (offset..offset + n)
            .map(|i| DispatchItem {
                attempt_ref: format!("c{i}-1"),
                phone: phone(i),
                case_id: None,
                variables: json!({ "name": format!("客户{i}") }),
            })
            .collect(),
    }
}

fn handle(task: &str, i: usize) -> AttemptHandle {
    AttemptHandle {
        attempt_ref: format!("c{i}-1"),
        phone: phone(i),
        vendor_task_id: Some(task.to_string()),
        external_call_id: None,
        dispatched_at: None,
    }
}

/// Poll the task until `done` holds for its events, or fail after 15 s.
async fn poll_until(a: &SmartivrAdapter, task: &str, done: impl Fn(&[CallEvent]) -> bool) -> Vec<CallEvent> {
    let t = TaskHandle { vendor_task_id: task.to_string(), created_at: Utc::now() };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let events = a.poll_task(&t).await.unwrap();
        if done(&events) {
            return events;
        }
        assert!(Instant::now() < deadline, "timed out polling {task}: {} events", events.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn forty_numbers_are_dialed_once_and_polled_across_pages() {
    let s = settings(OPTIONS);
    let fake = fake_with(&s, FakeBehavior::fast(11)).await;
    let a = adapter_for(&s, &fake.base_url(), TOKEN);
    assert!(a.polls());
    let receipt = a.dispatch(&batch(40, 0)).await.unwrap();
    assert_eq!(receipt.accepted.len(), 40, "{:?}", receipt.rejected);
    assert!(receipt.rejected.is_empty());
    assert!(receipt.raw_response.as_deref().unwrap().contains(&receipt.vendor_task_id));
    let task = receipt.vendor_task_id.clone();

    let events = poll_until(&a, &task, |e| e.len() == 40).await;
    let phones: HashSet<_> = events.iter().map(|e| e.phone.clone().unwrap()).collect();
    assert_eq!(phones, (0..40).map(phone).collect::<HashSet<_>>(), "every number exactly once");
    let now = Utc::now();
    for e in &events {
        assert!(e.is_final);
        assert_eq!(e.vendor_task_id.as_deref(), Some(task.as_str()));
        assert!(e.external_call_id.is_some());
        assert!(e.redials.is_empty(), "vendor redial off");
        // Server-zone times (Asia/Shanghai) read back as UTC: within minutes of now.
        let ended = e.ended_at.unwrap();
        assert!((now - ended).num_seconds().abs() < 120, "{ended} vs {now}");
        assert!(e.started_at.unwrap() <= ended);
        assert_ne!(e.outcome.disposition, Disposition::Unknown);
        if e.outcome.disposition == Disposition::Answered {
            assert!(e.outcome.intent.is_some_and(|i| i != Intent::Unknown), "graded from its record: {e:?}");
            assert!(e.duration_ms.unwrap() >= 10_000);
        } else {
            assert_eq!(e.outcome.intent, None);
        }
    }
    let answered: Vec<&CallEvent> = events.iter().filter(|e| e.outcome.disposition == Disposition::Answered).collect();
    assert!(answered.len() >= 5 && answered.len() < 40, "a realistic mix: {} answered", answered.len());
    assert_eq!(fake.stats.dials.load(Relaxed), 40);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);

    // The lists really are paged: 40 numbers are 3 pages of 15.
    let p3 = a.numbers_page(&task, 3, None, false).await.unwrap();
    assert_eq!((p3.data.len(), p3.total, p3.last_page), (10, Some(40), Some(3)));
    let records = a.all_records(&task, None).await.unwrap();
    assert_eq!(records.len(), answered.len());

    // A record and its dialogue.
    let record = a.record(&records[0].id).await.unwrap();
    assert_eq!(record.callee, records[0].callee);
    let info = a.record_info(&task, &records[0].id).await.unwrap();
    assert_eq!(info.records.len(), 3);
    assert_eq!(info.dialogue().len(), 2);

    // Lookups: finished, not in a known task, never handed over.
    let e = &events[7];
    let p = e.phone.as_deref().unwrap();
    let i: usize = p[p.len() - 4..].parse().unwrap();
    match a.lookup(&handle(&task, i)).await.unwrap() {
        LookupResult::Finished(found) => assert_eq!(&found, e),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.lookup(&handle(&task, 99)).await.unwrap(), LookupResult::NotFound);
    let mut no_task = handle(&task, 1);
    no_task.vendor_task_id = None;
    assert_eq!(a.lookup(&no_task).await.unwrap(), LookupResult::NotFound);
    fake.shutdown().await;
}

#[tokio::test]
async fn cancel_deletes_queued_numbers_or_stops_the_task() {
    let s = settings(OPTIONS);
    let behavior = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_secs(1),
        latency_max: Duration::from_secs(1),
        ..FakeBehavior::fast(5)
    };
    let fake = fake_with(&s, behavior).await;
    let a = adapter_for(&s, &fake.base_url(), TOKEN);
    // One call takes the only line; the next task's three wait behind it.
    let first = a.dispatch(&batch(1, 0)).await.unwrap().vendor_task_id;
    wait_for("the first dial", || fake.stats.dials.load(Relaxed) == 1).await;
    let task = a.dispatch(&batch(3, 1)).await.unwrap().vendor_task_id;
    // Only one of the waiting numbers: it is deleted from the task.
    a.cancel(&[handle(&task, 3)]).await.unwrap();
    assert_eq!(a.lookup(&handle(&task, 3)).await.unwrap(), LookupResult::NotFound);
    // Every number still waiting: the task is stopped.
    a.cancel(&[handle(&task, 1), handle(&task, 2)]).await.unwrap();
    wait_for("the three queued calls skipped", || fake.stats.cancelled.load(Relaxed) == 3).await;
    let events = poll_until(&a, &first, |e| !e.is_empty()).await;
    assert_eq!(events[0].phone.as_deref(), Some(phone(0).as_str()), "the call on the line finishes");
    let t = TaskHandle { vendor_task_id: task.clone(), created_at: Utc::now() };
    assert!(a.poll_task(&t).await.unwrap().is_empty());
    assert!(matches!(a.lookup(&handle(&task, 1)).await.unwrap(), LookupResult::Pending { .. }));
    assert_eq!(fake.stats.dials.load(Relaxed), 1);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    fake.shutdown().await;
}

#[tokio::test]
async fn calls_past_the_window_end_are_not_dialed() {
    let s = settings(OPTIONS);
    let fake = fake_with(&s, FakeBehavior::fast(2)).await;
    let a = adapter_for(&s, &fake.base_url(), TOKEN);
    let mut b = batch(3, 0);
    b.not_after = Some(Utc::now() - chrono::Duration::seconds(2));
    let task = a.dispatch(&b).await.unwrap().vendor_task_id;
    wait_for("calls skipped", || fake.stats.cancelled.load(Relaxed) == 3).await;
    assert_eq!(fake.stats.dials.load(Relaxed), 0);
    assert!(a.poll_task(&TaskHandle { vendor_task_id: task, created_at: Utc::now() }).await.unwrap().is_empty());
    fake.shutdown().await;
}

#[tokio::test]
async fn limits_and_credentials_give_the_vendor_codes() {
    let s = settings(&format!("{OPTIONS}\nmax_numbers_per_task = 2"));
    let fake = fake_with(&s, FakeBehavior::fast(3)).await;

    // Wrong token: 401 Unauthenticated, fatal.
    let wrong = adapter_for(&s, &fake.base_url(), "nope");
    let err = wrong.dispatch(&batch(1, 0)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("401") && !err.message.contains("nope"), "{err}");
    assert!(fake.stats.bad_auth.load(Relaxed) >= 1);

    // The adapter keeps to the limit and refuses numbers it cannot send.
    let a = adapter_for(&s, &fake.base_url(), TOKEN);
    assert_eq!(a.max_batch(), 2);
    let mut b = batch(3, 0);
    b.items.push(DispatchItem {
        attempt_ref: "us-1".into(),
        phone: "+15550001111".into(),
        case_id: None,
        variables: Value::Null,
    });
    b.items.push(DispatchItem {
        attempt_ref: "short-1".into(),
        phone: "+86123".into(),
        case_id: None,
        variables: Value::Null,
    });
    let receipt = a.dispatch(&b).await.unwrap();
    let rejected: HashMap<&str, &str> = receipt.rejected.iter().map(|(r, m)| (r.as_str(), m.as_str())).collect();
    assert_eq!(receipt.accepted.len(), 2);
    assert!(rejected["c2-1"].contains("max_numbers_per_task"));
    assert!(rejected["us-1"].contains("+86"));
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(rejected["short-1"].contains("over") || rejected["short-1"].contains("invalid"));

    // The fake enforces its own limit with a 422 validation error.
    let lax = adapter_for(&settings(OPTIONS), &fake.base_url(), TOKEN);
    let err = lax.dispatch(&batch(3, 10)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("422") && err.message.contains("numbers"), "{err}");
    // ...and refuses malformed numbers one by one.
    let mut b = batch(1, 20);
    b.items.push(DispatchItem {
        attempt_ref: "short-2".into(),
        phone: "+86123".into(),
        case_id: None,
        variables: Value::Null,
    });
    let receipt = a.dispatch(&b).await.unwrap();
    assert_eq!(receipt.accepted, vec![("c20-1".to_string(), None)]);
    assert_eq!(receipt.rejected.len(), 1);
    assert!(receipt.rejected[0].1.contains("invalid"), "{:?}", receipt.rejected);
    assert!(fake.stats.requests_refused.load(Relaxed) >= 1);
    fake.shutdown().await;
}

#[tokio::test]
async fn busy_is_retry_later_and_fatal_after_calls_is_fatal() {
    let s = settings(OPTIONS);
    let busy = fake_with(&s, FakeBehavior { busy_rate: 1.0, ..FakeBehavior::fast(4) }).await;
    let a = adapter_for(&s, &busy.base_url(), TOKEN);
    let err = a.dispatch(&batch(2, 0)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("429"), "{err}");
    assert_eq!(busy.stats.dials.load(Relaxed), 0);
    busy.shutdown().await;

    let fatal = fake_with(&s, FakeBehavior { fatal_after_calls: Some(2), ..FakeBehavior::fast(4) }).await;
    let a = adapter_for(&s, &fatal.base_url(), TOKEN);
    let task = a.dispatch(&batch(2, 0)).await.unwrap().vendor_task_id;
    let err = a.dispatch(&batch(2, 2)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("403"), "{err}");
    let t = TaskHandle { vendor_task_id: task, created_at: Utc::now() };
    assert_eq!(a.poll_task(&t).await.unwrap_err().kind, VendorErrorKind::Fatal);
    fatal.shutdown().await;

    // Nobody listening: nothing was sent, retry later.
    let a = adapter_for(&s, "http://127.0.0.1:9", TOKEN);
    assert_eq!(a.dispatch(&batch(1, 0)).await.unwrap_err().kind, VendorErrorKind::RetryLater);
}

/// Call notifications (`call_notify_type = 2`) reach a receiver that feeds
/// them to `parse_callback`.
#[tokio::test]
async fn notifications_carry_one_result_per_number() {
    let mut s = settings(&format!("{OPTIONS}\ncall_notify_type = 2"));
    s.callback_token = Some(Secret::new("tok"));
    let fake = fake_with(&s, FakeBehavior::fast(9)).await;
    let a = Arc::new(adapter_for(&s, &fake.base_url(), TOKEN));

    let got: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
    let (inbox, parser) = (got.clone(), a.clone());
    let app = axum::Router::new().route(
        "/callbacks/ivr",
        axum::routing::post(move |body: axum::body::Bytes| async move {
            match parser.parse_callback(&body).map(|p| p.events) {
                Ok(events) => {
                    inbox.lock().unwrap().extend(events);
                    axum::http::StatusCode::OK
                }
                Err(_) => axum::http::StatusCode::BAD_REQUEST,
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callbacks/ivr?token=tok", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut b = batch(5, 0);
    b.callback_url = url;
    let task = a.dispatch(&b).await.unwrap().vendor_task_id;
    wait_for("5 notifications", || got.lock().unwrap().len() == 5).await;
    let events = got.lock().unwrap().clone();
    let phones: HashSet<_> = events.iter().map(|e| e.phone.clone().unwrap()).collect();
    assert_eq!(phones.len(), 5);
    for e in &events {
        assert!(e.is_final);
        assert_eq!(e.vendor_task_id.as_deref(), Some(task.as_str()));
        if e.outcome.disposition == Disposition::Answered {
            assert!(e.outcome.intent.is_some());
        }
    }
    assert_eq!(fake.stats.callback_failures.load(Relaxed), 0);
    server.abort();
    fake.shutdown().await;
}

/// The daemon's registry builds a polling-only smartivr without a
/// `callback_token` (nothing to verify), but not one with notifications on.
#[tokio::test]
async fn registry_needs_a_callback_token_only_with_notifications() {
    let mut s = settings(OPTIONS);
    s.base_url = None;
    s.embedded_listen = Some("127.0.0.1:0".parse().unwrap());
    let reg =
        crate::vendors::registry::VendorRegistry::build(std::slice::from_ref(&s), "http://127.0.0.1:1").await.unwrap();
    let h = reg.get("ivr").unwrap();
    assert_eq!(h.adapter.kind(), "smartivr");
    assert!(h.adapter.polls());
    drop(reg);

    let mut on = settings(&format!("{OPTIONS}\ncall_notify_type = 2"));
    on.base_url = None;
    on.embedded_listen = Some("127.0.0.1:0".parse().unwrap());
    let err = crate::vendors::registry::VendorRegistry::build(&[on], "http://127.0.0.1:1").await.err().unwrap();
    assert!(err.to_string().contains("callback_token"), "{err}");
}

/// A taken task name (Laravel 422 `errors.name`) is regenerated once.
#[tokio::test]
async fn a_taken_task_name_is_retried_once_with_a_new_name() {
    use axum::routing::post;
    let names: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = names.clone();
    let app = axum::Router::new()
        .route(
            "/v1/task",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                let mut names = seen.lock().unwrap();
                names.push(body["name"].as_str().unwrap_or_default().to_string());
                if names.len() == 1 {
                    let taken = json!({"message": "The given data was invalid.", "errors": {"name": ["The name has already been taken."]}});
                    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, axum::Json(taken))
                } else {
                    (axum::http::StatusCode::OK, axum::Json(json!({"code": 200, "status": "ok", "data": {"uuid": "t-2"}})))
                }
            }),
        )
        .route("/v1/task/t-2/numbers", post(|| async { axum::Json(json!({"code": 200, "status": "ok", "data": {"added": 1}})) }))
        .route("/v1/task/t-2/start", post(|| async { axum::Json(json!({"code": 200, "status": "ok", "data": {}})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let a = adapter_for(&settings(OPTIONS), &base, TOKEN);
    let receipt = a.dispatch(&batch(1, 0)).await.unwrap();
    assert_eq!(receipt.vendor_task_id, "t-2");
    assert_eq!(receipt.accepted, vec![("c0-1".to_string(), None)]);
    let names = names.lock().unwrap().clone();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1]);
    assert!(names.iter().all(|n| n.starts_with("collect-march-")));
    server.abort();
}

/// With the campaign's vendor redial on, `recycle_limit` is sent and the
/// vendor's own dials come back as redials of the one attempt.
#[tokio::test]
async fn vendor_redials_come_back_as_redials() {
    let s = settings(&format!("{OPTIONS}\nvendor_redial_times = 2"));
    let behavior = FakeBehavior { outcomes: [("4".to_string(), 1.0)].into(), ..FakeBehavior::fast(8) };
    let fake = fake_with(&s, behavior).await;
    let a = adapter_for(&s, &fake.base_url(), TOKEN);
    let mut b = batch(4, 0);
    b.vendor_redial = true;
    let task = a.dispatch(&b).await.unwrap().vendor_task_id;
    let events = poll_until(&a, &task, |e| e.len() == 4).await;
    for e in &events {
        assert_eq!(e.outcome.disposition, Disposition::NoAnswer);
        assert_eq!(e.redials.len(), 2, "{e:?}");
        assert!(
            e.redials.iter().all(|r| r.outcome.disposition == Disposition::NoAnswer && r.external_call_id.is_some())
        );
        assert!(e.redials[0].at <= e.redials[1].at);
    }
    assert_eq!(fake.stats.vendor_redials.load(Relaxed), 8);
    assert_eq!(fake.stats.dials.load(Relaxed), 12);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);

    // Off by default: the same fake makes one dial per number.
    let task = a.dispatch(&batch(2, 10)).await.unwrap().vendor_task_id;
    let events = poll_until(&a, &task, |e| e.len() == 2).await;
    assert!(events.iter().all(|e| e.redials.is_empty()));
    assert_eq!(fake.stats.dials.load(Relaxed), 14);
    fake.shutdown().await;
}
