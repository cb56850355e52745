//! Laaffic: contract tests on the documented shapes, and the adapter against its fake on loopback.

use super::adapter::{CREATE_PATH, LaafficAdapter};
use crate::config::Secret;
use crate::domain::outcome::Disposition;
use crate::vendors::embedded::fake_config;
use crate::vendors::itnio_family::sign;
use crate::vendors::itnio_family::testkit::*;
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter, VendorErrorKind};
use doubles::{FakeBehavior, FakeHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The documented example's application and agent.
pub(crate) fn options() -> Value {
    json!({ "app_id": "2Xql9RBI", "agent_id": 41, "text_variables": ["name", "amount"] })
}

async fn setup(behavior: FakeBehavior) -> (FakeHandle, Arc<LaafficAdapter>, Receiver) {
    let s = settings("laaffic", options());
    let adapter = Arc::new(LaafficAdapter::new(&s, "http://127.0.0.1:9").unwrap());
    let receiver = Receiver::start(adapter.clone()).await;
    let behavior = FakeBehavior { callback_url: Some(receiver.url.clone()), ..behavior };
    let fake = doubles::laaffic::spawn(&fake_config(&s), behavior, listener().await).await.unwrap();
    let adapter = Arc::new(LaafficAdapter::new(&s, &fake.base_url()).unwrap());
    (fake, adapter, receiver)
}

#[test]
fn check_reports_missing_credentials_and_unknown_options() {
    let mut s = settings("laaffic", json!({ "app_id": "a", "agent_id": 1, "colour": "red" }));
    s.api_secret = None;
    s.callback_token = None;
    let fields: Vec<String> = super::check(&s).into_iter().map(|(f, m)| format!("{f}: {m}")).collect();
    assert!(fields.iter().any(|f| f.starts_with("api_secret: required")), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("callback_token:") && f.contains("does not sign")), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("options:") && f.contains("colour")), "{fields:?}");
    let fields = super::check(&settings("laaffic", json!({})));
    let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["options.app_id", "options.agent_id"]);
    assert!(super::check(&settings("laaffic", options())).is_empty());
    assert!(
        format!("{:?}", LaafficAdapter::new(&settings("laaffic", options()), "http://x").unwrap())
            .contains("<redacted>")
    );
}

#[test]
fn create_body_follows_the_documented_example() {
    let a = LaafficAdapter::new(&settings("laaffic", options()), "http://x").unwrap();
    let mut b = batch("r", 2);
    b.items[1].phone = "+12345".into(); // 5 digits: refused
    b.vendor_redial = true;
    // Build through the public path: serialize what dispatch would send.
    let (body, accepted, rejected) = a.create_body_for_test(&b);
    assert_eq!(accepted.len(), 1);
    assert_eq!(rejected, vec![("r-1".to_string(), "calleeNumber must be 6-18 digits".to_string())]);
    assert_eq!(body["appId"], "2Xql9RBI");
    assert_eq!(body["agentId"], 41);
    assert_eq!(body["maxCalls"], 300);
    assert_eq!(body["maxRingingTime"], 60);
    assert_eq!(body["enableRecording"], 1);
    assert_eq!(body["numberInfoList"][0]["calleeNumber"], "628120000000");
    assert_eq!(body["numberInfoList"][0]["text1"].as_str().unwrap().chars().count(), 30);
    assert_eq!(body["numberInfoList"][0]["text2"], "0");
    assert_eq!(body["recallFlow"]["recallType"], 1);
    assert_eq!(body["recallFlow"]["nodeList"], json!([{ "agentId": 41 }]));
    b.vendor_redial = false;
    assert!(a.create_body_for_test(&b).0.get("recallFlow").is_none(), "vendor redial is off by default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_push_lookup_end_to_end() {
    let (fake, adapter, receiver) = setup(FakeBehavior { max_lines: 5, ..FakeBehavior::fast(11) }).await;
    let mut b = batch("e", 40);
    b.not_after = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    let receipt = adapter.dispatch(&b).await.unwrap();
    assert_eq!(receipt.accepted.len(), 40);
    assert!(receipt.rejected.is_empty());
    assert!(receipt.raw_response.as_deref().unwrap().contains("\"success\""));
    let task = receipt.vendor_task_id.clone();
    wait_until("40 results", Duration::from_secs(20), || receiver.events().len() >= 40).await;
    let events = receiver.events();
    let mut by_phone: HashMap<String, usize> = HashMap::new();
    for e in &events {
        assert!(e.is_final);
        // The documented push names no task: the phone and time match it.
        assert_eq!(e.vendor_task_id, None);
        assert!(e.started_at.is_some() && e.ended_at.is_some());
        assert_ne!(e.outcome.disposition, Disposition::Unknown, "{e:?}");
        *by_phone.entry(e.phone.clone().unwrap()).or_default() += 1;
    }
    for item in &b.items {
        assert_eq!(by_phone.get(&item.phone), Some(&1), "{}", item.phone);
    }
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    assert_eq!(fake.stats.dials.load(Relaxed), 40);
    // The task is finished: no per-call query, so the lookup says the result is unknown.
    let handle = AttemptHandle {
        vendor_task_id: Some(task.clone()),
        phone: b.items[0].phone.clone(),
        ..AttemptHandle::by_ref("e-0")
    };
    match adapter.lookup(&handle).await.unwrap() {
        LookupResult::Finished(e) => {
            assert_eq!(e.outcome.disposition, Disposition::Unknown);
            assert_eq!(e.outcome.raw_code.as_deref(), Some("laaffic:task-2"));
        }
        other => panic!("{other:?}"),
    }
    let missing = AttemptHandle { vendor_task_id: Some("424242".into()), ..AttemptHandle::by_ref("x") };
    assert_eq!(adapter.lookup(&missing).await.unwrap_err().kind, VendorErrorKind::Unknown);
    assert_eq!(adapter.lookup(&AttemptHandle::by_ref("x")).await.unwrap_err().kind, VendorErrorKind::Unknown);

    // The same first reference again: the name is taken (−41), regenerated once.
    let again = adapter.dispatch(&batch("e", 1)).await.unwrap();
    assert_ne!(again.vendor_task_id, task);
    assert_eq!(fake.stats.requests_refused.load(Relaxed), 1);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_queued_calls_of_the_whole_task() {
    let slow = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_millis(300),
        latency_max: Duration::from_millis(300),
        ..FakeBehavior::fast(5)
    };
    let (fake, adapter, receiver) = setup(slow).await;
    let b = batch("c", 3);
    let receipt = adapter.dispatch(&b).await.unwrap();
    let handles: Vec<AttemptHandle> = b
        .items
        .iter()
        .map(|i| AttemptHandle {
            vendor_task_id: Some(receipt.vendor_task_id.clone()),
            phone: i.phone.clone(),
            ..AttemptHandle::by_ref(&i.attempt_ref)
        })
        .collect();
    assert!(matches!(adapter.lookup(&handles[0]).await.unwrap(), LookupResult::Pending { .. }));
    // Laaffic cancels whole tasks (the daemon asks only with all of a task's outstanding calls).
    assert!(adapter.cancels_whole_tasks());
    adapter.cancel(&handles[..1]).await.unwrap();
    wait_until("3 results", Duration::from_secs(10), || receiver.events().len() >= 3).await;
    let cancelled = receiver.events().iter().filter(|e| e.outcome.disposition == Disposition::Cancelled).count();
    assert!(cancelled >= 1, "queued calls are reported not called (99998)");
    assert_eq!(fake.stats.cancelled.load(Relaxed), cancelled as u64);
    assert!(matches!(adapter.lookup(&handles[2]).await.unwrap(), LookupResult::Finished(_)));
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    fake.shutdown().await;
}

#[tokio::test]
async fn vendor_codes_are_classified() {
    // Wrong secret: −1, fatal.
    let (fake, _adapter, _rx) = setup(FakeBehavior::fast(1)).await;
    let mut wrong = settings("laaffic", options());
    wrong.api_secret = Some(Secret::new("nope"));
    let bad = LaafficAdapter::new(&wrong, &fake.base_url()).unwrap();
    let err = bad.dispatch(&batch("w", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("-1") && !err.message.contains("nope"), "{}", err.message);
    assert_eq!(fake.stats.bad_auth.load(Relaxed), 1);
    // An old timestamp: −16.
    let url = format!("{}/{CREATE_PATH}", fake.base_url());
    let old: Vec<(&str, String)> = sign::auth_headers(KEY, SECRET, 1630468800).into_iter().collect();
    assert_eq!(raw_post(&url, &json!({}), &old).await["status"], "-16");
    // Limits the fake enforces with the document's codes.
    let ok =
        json!({"appId":"2Xql9RBI","agentId":41,"taskName":"t-1","numberInfoList":[{"calleeNumber":"8613200000007"}]});
    let mut no_numbers = ok.clone();
    no_numbers["numberInfoList"] = json!([]);
    assert_eq!(raw_post(&url, &no_numbers, &signed()).await["status"], "-35");
    let mut windows = ok.clone();
    windows["allowSendTime"] = Value::Array(vec![json!({"strTime":"09:00","endTime":"10:00"}); 4]);
    assert_eq!(raw_post(&url, &windows, &signed()).await["status"], "-22");
    let mut short = ok.clone();
    short["numberInfoList"] = json!([{"calleeNumber":"12345"}]);
    assert_eq!(raw_post(&url, &short, &signed()).await["status"], "-21");
    let mut agent = ok.clone();
    agent["agentId"] = json!(7);
    assert_eq!(raw_post(&url, &agent, &signed()).await["status"], "-60");
    // The window already over: refused before sending, try later.
    let adapter = LaafficAdapter::new(&settings("laaffic", options()), &fake.base_url()).unwrap();
    let mut late = batch("l", 1);
    late.not_after = Some(chrono::Utc::now() - chrono::Duration::minutes(5));
    assert_eq!(adapter.dispatch(&late).await.unwrap_err().kind, VendorErrorKind::RetryLater);
    fake.shutdown().await;

    // Busy: −37, retry later.
    let (fake, adapter, _rx) = setup(FakeBehavior { busy_rate: 1.0, ..FakeBehavior::fast(2) }).await;
    let err = adapter.dispatch(&batch("b", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("-37"), "{}", err.message);
    fake.shutdown().await;

    // After `fatal_after_calls`: −10 (balance), fatal.
    let (fake, adapter, _rx) = setup(FakeBehavior { fatal_after_calls: Some(2), ..FakeBehavior::fast(3) }).await;
    adapter.dispatch(&batch("f", 2)).await.unwrap();
    let err = adapter.dispatch(&batch("g", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("-10"), "{}", err.message);
    fake.shutdown().await;

    // Nobody listening: a create that was never sent can be retried.
    let gone = LaafficAdapter::new(&settings("laaffic", options()), "http://127.0.0.1:9").unwrap();
    assert_eq!(gone.dispatch(&batch("n", 1)).await.unwrap_err().kind, VendorErrorKind::RetryLater);
}
