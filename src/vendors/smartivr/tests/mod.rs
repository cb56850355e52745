//! smartivr tests: the document's examples, cut from the vendor's own text,
//! and the row variations (`contract`), error codes and options (`units`),
//! the adapter against the fake on loopback (`against_fake`), and lookups
//! over incomplete lists (`lookup`), every variation of the fake
//! (`variations`). Shared helpers live here.

mod against_fake;
mod contract;
mod doc;
mod lookup;
mod units;
mod variations;

use super::SmartivrOptions;
use super::adapter::SmartivrAdapter;
use crate::config::{Secret, VendorSettings};
use crate::vendors::embedded::fake_config;
use crate::vendors::{AttemptHandle, CallEvent, DispatchBatch, DispatchItem, TaskHandle, VendorAdapter};
use chrono::{DateTime, TimeZone, Utc};
use doubles::smartivr::Variations;
use doubles::{FakeBehavior, FakeHandle};
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-bearer-token";

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
        base_url: Some("http://127.0.0.1:9".into()),
        api_key: Some(Secret::new(TOKEN)),
        options: options_table(options),
        ..VendorSettings::for_test("ivr", "smartivr")
    }
}

fn adapter_for(s: &VendorSettings, base_url: &str, token: &str) -> SmartivrAdapter {
    let (opts, tz) = SmartivrOptions::from_settings(s).unwrap();
    SmartivrAdapter::new(&s.id, base_url, token.to_string(), s.request_timeout, opts, tz)
        .unwrap()
        .with_tags(s.tag_intents.clone())
}

fn shanghai(text: &str) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.from_local_datetime(&text.parse().unwrap()).unwrap().with_timezone(&Utc)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

async fn fake_with(s: &VendorSettings, behavior: FakeBehavior) -> FakeHandle {
    fake_varying(s, behavior, Variations::default()).await
}

async fn fake_varying(s: &VendorSettings, behavior: FakeBehavior, vary: Variations) -> FakeHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    doubles::smartivr::spawn_with(&fake_config(s), behavior, vary, listener).await.unwrap()
}

fn phone(i: usize) -> String {
    format!("+861390000{i:04}")
}

fn batch(n: usize, offset: usize) -> DispatchBatch {
    DispatchBatch {
        campaign: "collect-march".into(),
        now: chrono::Utc::now(),
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
