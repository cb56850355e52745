//! AI voice: contract tests on the documented push, and the adapter against its fake on loopback.

use super::AiVoiceAdapter;
use super::adapter::daily_hours;
use crate::config::Secret;
use crate::domain::outcome::Disposition;
use crate::vendors::embedded::fake_config;
use crate::vendors::itnio_family::sign;
use crate::vendors::itnio_family::testkit::{
    KEY, Receiver, SECRET, batch, listener, raw_post, settings, signed, wait_until,
};
use crate::vendors::{AttemptHandle, VendorAdapter, VendorErrorKind};
use chrono::{TimeZone, Timelike, Utc};
use doubles::{FakeBehavior, FakeHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A fixed-offset zone in which it is now about `hour` o'clock.
pub(super) fn zone_at(hour: i64) -> String {
    let offset = (hour - i64::from(Utc::now().hour()) + 36) % 24 - 12; // -12..=11
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

pub(super) fn options(tz: &str) -> Value {
    json!({ "dialog_flow_id": 77, "app_id": "app-1", "timezone": tz, "inactive_periods": ["12:00-13:00"] })
}

async fn setup(behavior: FakeBehavior) -> (FakeHandle, Arc<AiVoiceAdapter>, Receiver) {
    let s = settings("ai-voice", options(&zone_at(12)));
    let adapter = Arc::new(AiVoiceAdapter::new(&s, "http://127.0.0.1:9").unwrap());
    let receiver = Receiver::start(adapter.clone()).await;
    let behavior = FakeBehavior { callback_url: Some(receiver.url.clone()), ..behavior };
    let fake = doubles::ai_voice::spawn(&fake_config(&s), behavior, listener().await).await.unwrap();
    let adapter = Arc::new(AiVoiceAdapter::new(&s, &fake.base_url()).unwrap());
    (fake, adapter, receiver)
}

#[test]
fn check_reports_missing_credentials_and_unknown_options() {
    let mut s = settings("ai-voice", json!({ "dialog_flow_id": 1, "robot": 2 }));
    s.api_key = None;
    s.callback_token = None;
    let issues: Vec<String> = super::check(&s).into_iter().map(|(f, m)| format!("{f}: {m}")).collect();
    assert!(issues.iter().any(|f| f.starts_with("api_key: required")), "{issues:?}");
    assert!(issues.iter().any(|f| f.starts_with("callback_token:")), "{issues:?}");
    assert!(issues.iter().any(|f| f.starts_with("options:") && f.contains("robot")), "{issues:?}");
    let issues = super::check(&settings("ai-voice", json!({ "inactive_periods": ["a", "b"], "days_of_week": [8] })));
    let names: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["options.dialog_flow_id", "options.inactive_periods", "options.days_of_week"]);
    assert!(super::check(&settings("ai-voice", options("Asia/Jakarta"))).is_empty());
}

#[test]
fn daily_hours_are_clamped_to_nine_to_eight() {
    let tz = chrono_tz::Asia::Jakarta; // UTC+7
    let at = |h: u32, m: u32| tz.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap().with_timezone(&Utc);
    let (date, s, e) = daily_hours(at(7, 30), None, tz).unwrap();
    assert_eq!((date.as_str(), s.to_string().as_str(), e.to_string().as_str()), ("2026-03-02", "09:00:00", "20:00:00"));
    let (_, s, e) = daily_hours(at(14, 10), Some(at(17, 45)), tz).unwrap();
    assert_eq!((s.to_string().as_str(), e.to_string().as_str()), ("14:11:00", "17:45:00"));
    let (_, _, e) = daily_hours(at(14, 10), Some(at(23, 0)), tz).unwrap();
    assert_eq!(e.to_string(), "20:00:00");
    assert_eq!(daily_hours(at(20, 30), None, tz), None);
    assert_eq!(daily_hours(at(7, 0), Some(at(8, 30)), tz), None);
    assert_eq!(daily_hours(at(23, 59), None, tz), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_and_push_end_to_end_with_vendor_redials() {
    let (fake, adapter, receiver) = setup(FakeBehavior { max_lines: 5, ..FakeBehavior::fast(21) }).await;
    assert_eq!(adapter.max_batch(), 100);
    let mut b = batch("v", 100);
    b.vendor_redial = true;
    let receipt = adapter.dispatch(&b).await.unwrap();
    assert_eq!(receipt.accepted.len(), 100);
    assert!(receipt.raw_response.as_deref().unwrap().contains("\"import\""));
    wait_until("100 pushes", Duration::from_secs(20), || receiver.events().len() >= 100).await;
    let mut by_ref: HashMap<String, usize> = HashMap::new();
    let mut redials = 0;
    for e in receiver.events() {
        assert!(e.is_final);
        assert_eq!(e.vendor_task_id.as_deref(), Some(receipt.vendor_task_id.as_str()));
        assert!(e.phone.is_some());
        assert_ne!(e.outcome.disposition, Disposition::Unknown);
        redials += e.redials.len();
        *by_ref.entry(e.attempt_ref.clone().unwrap()).or_default() += 1;
    }
    assert!(b.items.iter().all(|i| by_ref.get(&i.attempt_ref) == Some(&1)), "one result per attempt");
    assert_eq!(redials as u64, fake.stats.vendor_redials.load(Relaxed));
    assert!(redials > 0, "unconnected calls were redialed by the vendor");
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    let lookup = adapter.lookup(&AttemptHandle::by_ref("v-0")).await.unwrap_err();
    assert_eq!(lookup.kind, VendorErrorKind::Unknown);
    // More than one import's worth is refused before sending.
    assert_eq!(adapter.dispatch(&batch("big", 101)).await.unwrap_err().kind, VendorErrorKind::Fatal);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_queued_calls() {
    let slow = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_millis(300),
        latency_max: Duration::from_millis(300),
        ..FakeBehavior::fast(6)
    };
    let (fake, adapter, receiver) = setup(slow).await;
    let b = batch("s", 3);
    let receipt = adapter.dispatch(&b).await.unwrap();
    let handles: Vec<AttemptHandle> = (b.items.iter())
        .map(|i| AttemptHandle {
            vendor_task_id: Some(receipt.vendor_task_id.clone()),
            ..AttemptHandle::by_ref(&i.attempt_ref)
        })
        .collect();
    // ITNIO stops whole tasks (the daemon asks only with all of a task's outstanding calls).
    assert!(adapter.cancels_whole_tasks());
    adapter.cancel(&handles[..1]).await.unwrap();
    wait_until("calls settled", Duration::from_secs(10), || {
        fake.stats.cancelled.load(Relaxed) + fake.stats.dials.load(Relaxed) == 3
            && fake.stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    assert!(fake.stats.cancelled.load(Relaxed) >= 1);
    assert_eq!(receiver.events().len() as u64, fake.stats.dials.load(Relaxed), "only dialed calls are pushed");
    fake.shutdown().await;
}

#[tokio::test]
async fn vendor_codes_are_classified() {
    let (fake, adapter, _rx) = setup(FakeBehavior::fast(1)).await;
    let mut wrong = settings("ai-voice", options(&zone_at(12)));
    wrong.api_key = Some(Secret::new("other"));
    let err = AiVoiceAdapter::new(&wrong, &fake.base_url()).unwrap().dispatch(&batch("w", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("-1"), "{}", err.message);
    let create = format!("{}/apiOpen/v1/job/create", fake.base_url());
    let import = format!("{}/apiOpen/v1/job/importCustomer", fake.base_url());
    let mut h = signed();
    h.retain(|(k, _)| *k != "Sign");
    assert_eq!(raw_post(&create, &json!({}), &h).await["status"], "-57");
    let h: Vec<(&str, String)> = signed().into_iter().filter(|(k, _)| *k != "Timestamp").collect();
    assert_eq!(raw_post(&create, &json!({}), &h).await["status"], "-58");
    let h: Vec<(&str, String)> = signed().into_iter().filter(|(k, _)| *k != "Api-Key").collect();
    assert_eq!(raw_post(&create, &json!({}), &h).await["status"], "-59");
    let old: Vec<(&str, String)> = sign::auth_headers(KEY, SECRET, 1630468800).into_iter().collect();
    assert_eq!(raw_post(&create, &json!({}), &old).await["status"], "-4");
    let job = json!({"name":"n1","dialogFlowId":77,"mode":"AUTO","startDate":"2026-03-02","dailyStartTime":"08:30","dailyEndTime":"19:00"});
    assert_eq!(raw_post(&create, &job, &signed()).await["status"], "-48");
    let mut late = job.clone();
    late["dailyStartTime"] = json!("09:00");
    late["dailyEndTime"] = json!("20:30");
    assert_eq!(raw_post(&create, &late, &signed()).await["status"], "-48");
    let mut ok = job.clone();
    ok["dailyStartTime"] = json!("09:00");
    let id = raw_post(&create, &ok, &signed()).await["data"].clone();
    assert_eq!(raw_post(&create, &ok, &signed()).await["status"], "-33");
    let many: Vec<Value> = (0..101).map(|i| json!({ "phoneNumber": format!("62812{i:07}") })).collect();
    assert_eq!(raw_post(&import, &json!({"robotCallJobId": id, "customers": many}), &signed()).await["status"], "-56");
    assert_eq!(raw_post(&import, &json!({"robotCallJobId": 1, "customers": []}), &signed()).await["status"], "-32");
    // A name taken (−33) is regenerated once by the adapter.
    adapter.dispatch(&batch("d", 1)).await.unwrap();
    adapter.dispatch(&batch("d", 1)).await.unwrap();
    // Outside 09:00-20:00 in the account's zone: refused before sending.
    let night = AiVoiceAdapter::new(&settings("ai-voice", options(&zone_at(22))), &fake.base_url()).unwrap();
    let err = night.dispatch(&batch("n", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("09:00-20:00"), "{}", err.message);
    fake.shutdown().await;

    let (fake, adapter, _rx) = setup(FakeBehavior { busy_rate: 1.0, ..FakeBehavior::fast(2) }).await;
    let err = adapter.dispatch(&batch("b", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("-52"), "{}", err.message);
    fake.shutdown().await;

    let (fake, adapter, _rx) = setup(FakeBehavior { fatal_after_calls: Some(2), ..FakeBehavior::fast(3) }).await;
    adapter.dispatch(&batch("f", 2)).await.unwrap();
    let err = adapter.dispatch(&batch("g", 1)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("-3"), "{}", err.message);
    fake.shutdown().await;
}
