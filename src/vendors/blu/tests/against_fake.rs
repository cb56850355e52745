//! The adapter against the fake on loopback: dispatch, callbacks, pre-dial
//! checks, cancels, lookups and polls, limits and credentials, and every
//! variation the fake can send.

use super::{APP_ID, APP_KEY, Receiver, adapter, batch, fake, fake_varying, handle, settings, wait_until};
use crate::config::{Secret, VendorSettings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::blu::adapter::BluAdapter;
use crate::vendors::blu::sign;
use crate::vendors::embedded::fake_config;
use crate::vendors::{AttemptHandle, LookupResult, TaskHandle, VendorAdapter, VendorErrorKind};
use chrono::Utc;
use doubles::blu::Variations;
use doubles::{FakeBehavior, FakeHandle};
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

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
    let fake = doubles::kinds::find("blu").unwrap();
    let handle = (fake.spawn)(&fake_config(&s), FakeBehavior::fast(1), listener).await.unwrap();
    let a = (spec.build)(&s, &handle.base_url()).unwrap();
    assert_eq!((a.kind(), a.max_batch()), ("blu", 200));
    let polled = a.poll_task(&TaskHandle { vendor_task_id: "none".into(), created_at: Utc::now() }).await.unwrap();
    assert!(polled.is_empty());
    assert_eq!(
        doubles::blu::predial_url("http://h/callbacks/v?token=a%2Fb"),
        "http://h/callbacks/v/predial?token=a%2Fb"
    );
    assert_eq!(doubles::blu::predial_url("http://h/callbacks/v"), "http://h/callbacks/v/predial");
    handle.shutdown().await;
}

/// Every switch of the fake's [`Variations`], one fake each: every record
/// still ends in exactly one final result (by callback, lookup and poll),
/// read as the fake meant it, and no record of a POST is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variation_the_fake_can_send_is_read() {
    let cases: [(&str, Variations); 8] = [
        ("nulls", Variations { nulls: true, ..Variations::default() }),
        ("omit", Variations { omit_optional: true, ..Variations::default() }),
        ("loose", Variations { loose_types: true, ..Variations::default() }),
        ("unknown", Variations { unknown_codes: true, ..Variations::default() }),
        // `{"code":2000,"status":"success","msg":...}`: read by its code, not its status word.
        ("status", Variations { status_beside_code: true, msg_key: true, ..Variations::default() }),
        ("flat", Variations { flat_callbacks: true, ..Variations::default() }),
        ("badcb", Variations { bad_record_in_callbacks: true, ..Variations::default() }),
        ("pages", Variations { no_total: true, page_cap: Some(2), bad_record_in_pages: true, ..Variations::default() }),
    ];
    for (name, vary) in cases {
        let rx = Receiver::start(|_| false).await;
        let behavior = FakeBehavior {
            callback_url: Some(rx.url.clone()),
            outcomes: [("HPTP".to_string(), 1.0), ("D01".to_string(), 1.0)].into(),
            ..FakeBehavior::fast(3)
        };
        let (fake, a) = fake_varying(behavior, toml::toml! { query_page_size = 4 }, vary.clone()).await;
        let b = batch(name, 7);
        let receipt = a.dispatch(&b).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(receipt.accepted.len(), 7, "{name}");
        wait_until(name, Duration::from_secs(20), || rx.finals().len() == 7).await;
        wait_until(name, Duration::from_secs(5), || fake.stats.callbacks_pending.load(Relaxed) == 0).await;
        let per_post = if vary.bad_record_in_callbacks { 2 } else { 1 };
        assert!(rx.inbox.posts.lock().unwrap().iter().all(|n| *n == per_post), "{name}: a record was dropped");
        let rejected = rx.inbox.rejected.lock().unwrap().clone();
        assert_eq!(rejected.len(), if vary.bad_record_in_callbacks { 7 } else { 0 }, "{name}: {rejected:?}");
        assert!(rejected.iter().all(|r| r.index == 1 && r.reason.starts_with("callStatus: expected")), "{rejected:?}");

        let finals = rx.finals();
        let task = receipt.vendor_task_id.clone();
        for (i, item) in b.items.iter().enumerate() {
            let e = &finals[&item.attempt_ref];
            assert_eq!(e.len(), 1, "{name}: exactly one final for {i}");
            let e = &e[0];
            assert_eq!(e.phone.as_deref(), Some(item.phone.as_str()), "{name}");
            let expected_task = (!vary.flat_callbacks).then_some(task.as_str());
            assert_eq!(e.vendor_task_id.as_deref(), expected_task, "{name}: no task id is invented");
            let o = &e.outcome;
            match (vary.unknown_codes, o.raw_code.as_deref()) {
                (false, Some("blu:D99")) => {
                    assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::PromiseToPay)));
                    assert_eq!(e.duration_ms.is_some(), !vary.omit_optional, "{name}");
                    assert_eq!(o.requested_at.is_some(), !vary.omit_optional, "{name}: the payment slot");
                    // The connected call's scripts and recording, when sent.
                    let (transcript, recording) = (e.transcript.as_deref(), e.recording_url.as_deref());
                    if vary.omit_optional {
                        assert_eq!((transcript, recording), (None, None), "{name}");
                    } else {
                        let said = format!("robot: Hello, this is Blu\nuser: Yes, record {}", item.attempt_ref);
                        assert_eq!(transcript, Some(said.as_str()), "{name}");
                        let url = format!("https://records.blu.example/{}.mp3", item.attempt_ref);
                        assert_eq!(recording, Some(url.as_str()), "{name}");
                    }
                }
                (false, Some("blu:D01")) => {
                    assert_eq!((o.disposition, o.intent), (Disposition::Busy, None));
                    assert_eq!((e.transcript.as_deref(), e.recording_url.as_deref()), (None, None), "{name}");
                }
                (true, Some("blu:D99")) => {
                    assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Unknown), Some("blu:Maybe")))
                }
                (true, Some("blu:D55")) => assert_eq!(o.disposition, Disposition::Unknown),
                other => panic!("{name}: unexpected {other:?} in {e:?}"),
            }
            assert_eq!(e.started_at.is_some(), !vary.omit_optional, "{name}: call times");
            // The same result by lookup (every page read, the bad record skipped).
            match a.lookup(&handle(&b, i, &task)).await {
                Ok(LookupResult::Finished(found)) => assert_eq!(found.outcome, e.outcome, "{name}"),
                other => panic!("{name}: lookup {i}: {other:?}"),
            }
        }
        let polled = a.poll_task(&TaskHandle { vendor_task_id: task.clone(), created_at: Utc::now() }).await.unwrap();
        assert_eq!(polled.len(), 7, "{name}: poll");
        let mut never = handle(&b, 0, &task);
        never.attempt_ref = format!("{name}-never");
        never.phone = "+62899999999".into();
        assert_eq!(a.lookup(&never).await.unwrap(), LookupResult::NotFound, "{name}: the whole task was read");
        fake.shutdown().await;
    }
}
