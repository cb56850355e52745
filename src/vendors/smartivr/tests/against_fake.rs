//! The adapter against the fake on loopback: dispatch, polling across
//! pages, lookups, cancels, limits and credentials, notifications, vendor
//! redials, and every variation the fake can send.

use super::{
    OPTIONS, TOKEN, adapter_for, batch, fake_varying, fake_with, handle, phone, poll_until, settings, wait_for,
};
use crate::config::Secret;
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::{CallEvent, DispatchItem, LookupResult, TaskHandle, VendorAdapter, VendorErrorKind};
use chrono::Utc;
use doubles::FakeBehavior;
use doubles::smartivr::Variations;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    assert_eq!((p3.rows.len(), p3.total, p3.last_page), (10, Some(40), Some(3)));
    let records = a.all_records(&task, None).await.unwrap().rows;
    assert_eq!(records.len(), answered.len());

    // A record and its dialogue.
    let record_id = records[0].id.clone().unwrap();
    let record = a.record(&record_id).await.unwrap();
    assert_eq!(record.callee, records[0].callee);
    let info = a.record_info(&task, &record_id).await.unwrap();
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
/// them to `parse_callback`: as documented-by-assumption (with `task_id`),
/// and without any task id but with a complaint tag.
#[tokio::test]
async fn notifications_carry_one_result_per_number() {
    let untasked = Variations { notify_without_task_id: true, tags: vec!["投诉".into()], ..Variations::default() };
    for vary in [Variations::default(), untasked] {
        let mut s = settings(&format!("{OPTIONS}\ncall_notify_type = 2"));
        s.callback_token = Some(Secret::new("tok"));
        let fake = fake_varying(&s, FakeBehavior::fast(9), vary.clone()).await;
        let a = Arc::new(adapter_for(&s, &fake.base_url(), TOKEN));

        let got: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
        let (inbox, parser) = (got.clone(), a.clone());
        let app = axum::Router::new().route(
            "/callbacks/ivr",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                match parser.parse_callback(&body) {
                    Ok(p) if p.rejected.is_empty() => {
                        inbox.lock().unwrap().extend(p.events);
                        axum::http::StatusCode::OK
                    }
                    _ => axum::http::StatusCode::BAD_REQUEST,
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
            let expected = (!vary.notify_without_task_id).then_some(task.as_str());
            assert_eq!(e.vendor_task_id.as_deref(), expected, "no task id is invented");
            if e.outcome.disposition == Disposition::Answered {
                let want = if vary.tags.is_empty() { e.outcome.intent } else { Some(Intent::Complaint) };
                assert!(e.outcome.intent.is_some() && e.outcome.intent == want, "{e:?}");
            }
        }
        assert_eq!(fake.stats.callback_failures.load(Relaxed), 0);
        server.abort();
        fake.shutdown().await;
    }
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
        assert_eq!(e.redials.len(), 2, "three dials: the first and two redials: {e:?}");
        assert_eq!(e.first_dial.as_ref().map(|d| d.outcome.disposition), Some(Disposition::NoAnswer));
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
