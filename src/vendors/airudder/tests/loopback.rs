//! The adapter against the fake over loopback HTTP: dispatch, aggregated
//! webhooks, AIRudder's own redials, cancels, tokens and error codes.

use super::super::adapter::AirudderAdapter;
use super::{OPTS, adapter, settings};
use crate::config::Secret;
use crate::domain::outcome::Disposition;
use crate::vendors::embedded::fake_config;
use crate::vendors::{
    AttemptHandle, CallEvent, DispatchBatch, DispatchItem, LookupResult, RejectedRecord, VendorAdapter, VendorErrorKind,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use doubles::airudder::{self as fake, FakeControl, Variations};
use doubles::{FakeBehavior, FakeHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Inbox {
    adapter: AirudderAdapter,
    pub events: Mutex<Vec<CallEvent>>,
    pub rejected: Mutex<Vec<RejectedRecord>>,
    pub posts: AtomicU64,
    pub multi: AtomicU64,
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> (StatusCode, axum::Json<Value>) {
    if inbox.adapter.verify_callback(&headers, &body, None).is_err() {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
    }
    let Ok(parsed) = inbox.adapter.parse_callback(&body) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({})));
    };
    inbox.posts.fetch_add(1, Relaxed);
    if parsed.events.len() + parsed.rejected.len() > 1 {
        inbox.multi.fetch_add(1, Relaxed);
    }
    inbox.events.lock().unwrap().extend(parsed.events);
    inbox.rejected.lock().unwrap().extend(parsed.rejected);
    let (status, ack) = inbox.adapter.callback_ack();
    (StatusCode::from_u16(status).unwrap(), axum::Json(ack))
}

pub struct Rig {
    pub inbox: Arc<Inbox>,
    pub fake: FakeHandle,
    pub control: Arc<FakeControl>,
    pub adapter: AirudderAdapter,
    _receiver: tokio::task::JoinHandle<()>,
}

impl Rig {
    pub async fn start(behavior: FakeBehavior, options: &str) -> Rig {
        Rig::start_with(behavior, options, options, Duration::from_secs(24 * 3600)).await
    }

    pub async fn start_with(behavior: FakeBehavior, options: &str, fake_options: &str, token_life: Duration) -> Rig {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let inbox = Arc::new(Inbox {
            adapter: adapter(options, "http://127.0.0.1:9"),
            events: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            posts: AtomicU64::new(0),
            multi: AtomicU64::new(0),
        });
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(inbox.clone());
        let receiver = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let behavior = FakeBehavior { callback_url: Some(url), ..behavior };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (fake, control) =
            fake::spawn_with(&fake_config(&settings(fake_options)), behavior, listener, token_life).await.unwrap();
        let adapter = adapter(options, &fake.base_url());
        Rig { inbox, fake, control, adapter, _receiver: receiver }
    }

    pub fn finals(&self) -> Vec<CallEvent> {
        self.inbox.events.lock().unwrap().iter().filter(|e| e.is_final).cloned().collect()
    }

    pub async fn wait_finals(&self, n: usize) -> Vec<CallEvent> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.finals();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "only {} of {n} results arrived", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn batch(n: usize, tag: &str) -> DispatchBatch {
    DispatchBatch {
        campaign: "camp".into(),
        now: chrono::Utc::now(),
        callback_url: "http://unused/callbacks/ar".into(),
        predial_url: "http://unused/callbacks/ar/predial".into(),
        not_after: Some(Utc::now() + chrono::TimeDelta::hours(1)),
        vendor_redial: false,
        items: (0..n)
            .map(|i| DispatchItem {
                attempt_ref: format!("{tag}{i}-1"),
                phone: format!("+62812{:06}", i),
                case_id: (i % 2 == 0).then(|| format!("case-{i}")),
                variables: json!({"name": format!("n{i}")}),
            })
            .collect(),
    }
}

pub fn handle(b: &DispatchBatch, i: usize, task: &str) -> AttemptHandle {
    AttemptHandle {
        attempt_ref: b.items[i].attempt_ref.clone(),
        phone: b.items[i].phone.clone(),
        vendor_task_id: Some(task.to_string()),
        external_call_id: None,
        dispatched_at: None,
    }
}

#[tokio::test]
async fn dispatch_delivers_one_aggregated_result_per_item_and_lookup_finds_it() {
    let rig = Rig::start(FakeBehavior::fast(11), OPTS).await;
    let b = batch(20, "a");
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    assert!(!receipt.vendor_task_id.is_empty());
    assert_eq!(receipt.accepted.len(), 20);
    assert!(receipt.rejected.is_empty());
    assert!(receipt.raw_response.as_deref().unwrap().contains(&receipt.vendor_task_id));
    assert_eq!(rig.control.repeat_number(&receipt.vendor_task_id), Some(0), "vendor redial off by default");
    let finals = rig.wait_finals(20).await;
    let mut per_ref: HashMap<String, usize> = HashMap::new();
    for e in &finals {
        *per_ref.entry(e.attempt_ref.clone().unwrap()).or_default() += 1;
        assert_eq!(e.vendor_task_id.as_deref(), Some(receipt.vendor_task_id.as_str()));
        let item = b.items.iter().find(|i| Some(&i.attempt_ref) == e.attempt_ref.as_ref()).unwrap();
        assert_eq!(e.phone.as_deref(), Some(item.phone.as_str()));
        assert!(e.external_call_id.is_some());
        assert_ne!(e.outcome.disposition, Disposition::Unknown, "{:?}", e.outcome);
        assert!(e.redials.is_empty());
    }
    assert_eq!(per_ref.len(), 20);
    assert!(per_ref.values().all(|n| *n == 1));
    let stats = &rig.fake.stats;
    assert_eq!(stats.double_dials.load(Relaxed), 0);
    assert_eq!(stats.dials.load(Relaxed), 20);
    assert_eq!(stats.vendor_redials.load(Relaxed), 0);
    // Calls finishing within the same 50 ms come in one POST.
    assert!(rig.inbox.posts.load(Relaxed) < 20, "posts: {}", rig.inbox.posts.load(Relaxed));
    assert!(rig.inbox.multi.load(Relaxed) >= 1);
    assert_eq!(rig.control.webhook_details.load(Relaxed), 20);

    let h = handle(&b, 3, &receipt.vendor_task_id);
    let LookupResult::Finished(found) = rig.adapter.lookup(&h).await.unwrap() else { panic!("not finished") };
    let pushed = finals.iter().find(|e| e.attempt_ref == Some(h.attempt_ref.clone())).unwrap();
    assert_eq!(found.outcome, pushed.outcome);
    assert_eq!(found.external_call_id, pushed.external_call_id);
    let mut stranger = h.clone();
    stranger.attempt_ref = "zz-1".into();
    stranger.phone = "+15550001111".into();
    assert_eq!(rig.adapter.lookup(&stranger).await.unwrap(), LookupResult::NotFound);
    let polled = rig
        .adapter
        .poll_task(&crate::vendors::TaskHandle {
            vendor_task_id: receipt.vendor_task_id.clone(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(polled.len(), 20);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn vendor_redial_dials_again_and_reports_each_dial() {
    // With and without `redail_call[]` in the webhook: `call_times` alone
    // still reports every dial.
    for omit_optional in [false, true] {
        let behavior = FakeBehavior { outcomes: [("F".to_string(), 1.0)].into(), ..FakeBehavior::fast(5) };
        let rig = Rig::start(behavior, &format!("{OPTS}redial_count = 2\n")).await;
        rig.control.set_variations(Variations { omit_optional, ..Variations::default() });
        let mut b = batch(4, "r");
        b.vendor_redial = true;
        let receipt = rig.adapter.dispatch(&b).await.unwrap();
        assert_eq!(rig.control.repeat_number(&receipt.vendor_task_id), Some(2));
        let finals = rig.wait_finals(4).await;
        for e in &finals {
            assert_eq!(e.outcome.disposition, Disposition::NoAnswer);
            // Three dials: the first, then two redials, the last one the record's own.
            let first = e.first_dial.as_ref().map(|d| &d.outcome).expect("first dial").disposition;
            let described = if omit_optional { Disposition::Unknown } else { Disposition::NoAnswer };
            assert_eq!(first, described, "{e:?}");
            assert_eq!(e.redials.len(), 2, "{e:?}");
            assert_eq!(e.redials[1].external_call_id, e.external_call_id);
            assert_eq!(e.redials[1].outcome, e.outcome);
            if !omit_optional {
                assert_ne!(e.redials[0].external_call_id, e.redials[1].external_call_id, "each dial its own call id");
            }
        }
        let stats = &rig.fake.stats;
        assert_eq!(stats.vendor_redials.load(Relaxed), 8);
        assert_eq!(stats.dials.load(Relaxed), 12);
        assert_eq!(stats.double_dials.load(Relaxed), 0);
        rig.fake.shutdown().await;
    }
}

#[tokio::test]
async fn cancel_stops_queued_calls_per_callee_then_the_whole_task() {
    let behavior = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_millis(800),
        latency_max: Duration::from_millis(800),
        outcomes: [("E".to_string(), 1.0)].into(),
        ..FakeBehavior::fast(2)
    };
    let rig = Rig::start(behavior, OPTS).await;
    let b = batch(3, "c");
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    let task = receipt.vendor_task_id.as_str();
    // One number of three: cancelphonecall.
    rig.adapter.cancel(&[handle(&b, 2, task)]).await.unwrap();
    // Every number of the task: the whole task is stopped.
    let all: Vec<_> = (0..3).map(|i| handle(&b, i, task)).collect();
    rig.adapter.cancel(&all).await.unwrap();
    let finals = rig.wait_finals(3).await;
    let by_ref: HashMap<_, _> =
        finals.iter().map(|e| (e.attempt_ref.clone().unwrap(), e.outcome.disposition)).collect();
    let cancelled = by_ref.values().filter(|d| **d == Disposition::Cancelled).count();
    let answered = by_ref.values().filter(|d| **d == Disposition::Answered).count();
    assert_eq!((cancelled, answered), (2, 1), "{by_ref:?}");
    assert_eq!(by_ref[&b.items[2].attempt_ref], Disposition::Cancelled);
    assert_eq!(rig.fake.stats.dials.load(Relaxed), 1);
    assert_eq!(rig.fake.stats.cancelled.load(Relaxed), 2);
    let LookupResult::Finished(e) = rig.adapter.lookup(&handle(&b, 2, task)).await.unwrap() else { panic!() };
    assert_eq!(e.outcome.disposition, Disposition::Cancelled);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn tokens_are_cached_renewed_after_refusal_and_fatal_when_auth_fails() {
    let rig = Rig::start(FakeBehavior::fast(3), OPTS).await;
    let b = batch(2, "t");
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    rig.adapter.lookup(&handle(&b, 0, &receipt.vendor_task_id)).await.unwrap();
    assert_eq!(rig.control.auth_requests.load(Relaxed), 1, "one token for both requests");
    // AIRudder forgets the token (expired early): one new auth, the request goes through.
    rig.control.invalidate_tokens();
    rig.adapter.lookup(&handle(&b, 0, &receipt.vendor_task_id)).await.unwrap();
    assert_eq!(rig.control.auth_requests.load(Relaxed), 2);
    // The token is refused and so are the credentials: Fatal.
    rig.control.invalidate_tokens();
    rig.control.refuse_auth(true);
    let err = rig.adapter.lookup(&handle(&b, 0, &receipt.vendor_task_id)).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(!err.message.contains("app-secret") && !err.message.contains("app-key"), "{}", err.message);
    rig.fake.shutdown().await;

    // Tokens that die at once: the re-auth's token is refused too → Fatal, one retry only.
    let rig = Rig::start_with(FakeBehavior::fast(3), OPTS, OPTS, Duration::ZERO).await;
    let err = rig.adapter.dispatch(&batch(1, "z")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert_eq!(rig.control.auth_requests.load(Relaxed), 2);
    assert_eq!(rig.fake.stats.tasks_created.load(Relaxed), 0);
    rig.fake.shutdown().await;

    // Renewed ahead of expiry: with the margin equal to the lifetime every request authenticates.
    let eager = format!("{OPTS}token_lifetime = \"1h\"\ntoken_refresh_margin = \"1h\"\n");
    let rig = Rig::start(FakeBehavior::fast(3), &eager).await;
    let receipt = rig.adapter.dispatch(&batch(1, "e")).await.unwrap();
    let h = handle(&batch(1, "e"), 0, &receipt.vendor_task_id);
    rig.adapter.lookup(&h).await.unwrap();
    assert_eq!(rig.control.auth_requests.load(Relaxed), 2);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_fatal_after_calls_and_busy() {
    let rig = Rig::start(FakeBehavior::fast(4), OPTS).await;
    let mut wrong = settings(OPTS);
    wrong.api_secret = Some(Secret::new("nope"));
    let bad = AirudderAdapter::new(&wrong, &rig.fake.base_url()).unwrap();
    let err = bad.dispatch(&batch(1, "w")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("10301"), "{}", err.message);
    assert!(rig.fake.stats.bad_auth.load(Relaxed) >= 1);
    // A request without a token gets the documented auth code.
    let raw: Value = reqwest::Client::new()
        .post(format!("{}/service/cloud/task", rig.fake.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["code"], json!(10302));
    rig.fake.shutdown().await;

    let rig = Rig::start(FakeBehavior { fatal_after_calls: Some(2), ..FakeBehavior::fast(4) }, OPTS).await;
    rig.adapter.dispatch(&batch(2, "f")).await.unwrap();
    let err = rig.adapter.dispatch(&batch(1, "g")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    rig.fake.shutdown().await;

    let rig = Rig::start(FakeBehavior { busy_rate: 1.0, ..FakeBehavior::fast(4) }, OPTS).await;
    let err = rig.adapter.dispatch(&batch(1, "b")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn limits_are_checked_before_sending_and_vendor_codes_are_handled() {
    let rig = Rig::start(FakeBehavior::fast(6), OPTS).await;
    // 10510: a number the vendor would refuse is rejected alone, with a reason.
    let mut b = batch(2, "p");
    b.items[1].phone = "+123456789012345".into();
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    assert_eq!(receipt.accepted.len(), 1);
    assert_eq!(receipt.rejected.len(), 1);
    assert!(receipt.rejected[0].1.contains("14 digits"), "{}", receipt.rejected[0].1);
    // Nothing acceptable: nothing sent (AIRudder would answer 10505).
    let mut b = batch(1, "q");
    b.items[0].phone = "62812".into();
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    assert!(receipt.accepted.is_empty() && receipt.vendor_task_id.is_empty());
    assert_eq!(rig.fake.stats.tasks_created.load(Relaxed), 1);
    // 10620: a window closing within 5 minutes is not sent.
    let mut b = batch(1, "s");
    b.not_after = Some(Utc::now() + chrono::TimeDelta::minutes(3));
    let err = rig.adapter.dispatch(&b).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("5 minutes"), "{}", err.message);
    assert_eq!(rig.fake.stats.tasks_created.load(Relaxed), 1);
    // 10508: a taken name is regenerated once; a second clash is RetryLater.
    rig.control.name_clashes.store(1, Relaxed);
    rig.adapter.dispatch(&batch(1, "n")).await.unwrap();
    assert_eq!(rig.fake.stats.tasks_created.load(Relaxed), 2);
    rig.control.name_clashes.store(2, Relaxed);
    let err = rig.adapter.dispatch(&batch(1, "m")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::RetryLater);
    assert!(err.message.contains("10508"), "{}", err.message);
    rig.fake.shutdown().await;

    // 10509: the adapter's zone is behind the account's, so every start looks
    // past to AIRudder; one retry from now, then Fatal (clock/zone is wrong).
    let fake_opts = format!("{OPTS}account_timezone = \"Asia/Tokyo\"\n");
    let ours = format!("{OPTS}account_timezone = \"America/New_York\"\n");
    let rig = Rig::start_with(FakeBehavior::fast(6), &ours, &fake_opts, Duration::from_secs(3600)).await;
    let err = rig.adapter.dispatch(&batch(1, "z")).await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Fatal);
    assert!(err.message.contains("10509"), "{}", err.message);
    assert_eq!(rig.fake.stats.requests_refused.load(Relaxed), 2, "sent twice");
    rig.fake.shutdown().await;
}
