//! AIRudder adapter tests: the document's webhook example, signatures,
//! settings checks, and the adapter against the fake on loopback.

use super::adapter::{AirudderAdapter, sign};
use super::fake::{self, FakeControl};
use super::{KIND, check};
use crate::config::{Secret, VendorSettings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::fake::{FakeBehavior, FakeHandle};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchItem, LookupResult, VendorAdapter, VendorErrorKind,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The example body of "Notification of Call Completion in Workflow (Info
/// Check)", verbatim from the document.
const DOC_EXAMPLE: &str = r#"{
  "workflow_id": "8e364f6729exxxxxxxxxx5c2d9b2a2c2",
  "workflow_name": "test_wf_call_webhook3",
  "nodetask_id": "5e4e48c5a8axxxxxxxxxxb4ac4b8",
  "nodetask_name": "Voicebot Call1_67554d",
  "task_id": "ea617807492xxxxxxxxxx09c11650",
  "task_name": "wf_test_wf_call_webhook_Voicebot Call1_d01cb6",
  "status": "calling",
  "created_at": "2024-03-11 13:19:52",
  "repeat_interval": 0,
  "repeat_number": 3,
  "robot_hash": "a37e555fxxxxxxxxxxca7ac3575d8",
  "robot_method": "single",
  "sip_line": "CH_SOFTPHONE_Lyntest_HK_LINE",
  "schedule_start_time": "2024-03-11 13:21:27",
  "schedule_end_time": "2024-03-11 13:52:52",
  "details": [
    {
      "id": 2124875281,
      "callee": "+8618xxxxx721",
      "result": "finished",
      "result_label": "E",
      "duration": 43,
      "hangup_type": "ByCallee",
      "ring_type": "normal",
      "question_answer": [
        {
          "question_name": "Q0",
          "answer": "/",
          "answer_text": "",
          "status": "Completed",
          "answer_text_slot": "-",
          "var": "-",
          "verification_results": "-",
          "question_content": "\\u610f\\u613f\\u786e\\u8ba4 Willingness Check",
          "question_type": "whether",
          "whether_answer": "Hangup"
        },
        {
          "question_name": "Q1",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "-",
          "var": "-",
          "verification_results": "-",
          "question_content": "\\u59d3\\u540d\\u786e\\u8ba4 NameCheck",
          "question_type": "whether",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q2",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "-",
          "var": "-",
          "verification_results": "-",
          "question_content": "\\u8d37\\u6b3e\\u4eba\\u786e\\u8ba4 BorrowerCheck",
          "question_type": "whether",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q3",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "/",
          "var": "200",
          "verification_results": "/",
          "question_content": "CURP\\u6838\\u9a8c CURP Verification",
          "question_type": "open",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q3N",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "/",
          "var": "200",
          "verification_results": "/",
          "question_content": "CURP\\u518d\\u6b21\\u6838\\u9a8c CURP Reverification",
          "question_type": "open",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q4",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "/",
          "var": "1101",
          "verification_results": "/",
          "question_content": "\\u751f\\u65e5\\u6838\\u9a8c DoB Verification",
          "question_type": "open",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q4N",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "/",
          "var": "1101",
          "verification_results": "/",
          "question_content": "\\u751f\\u65e5\\u518d\\u6b21\\u6838\\u9a8c DoB Reverification",
          "question_type": "open",
          "whether_answer": "Skip"
        },
        {
          "question_name": "Q5",
          "answer": "/",
          "answer_text": "",
          "status": "Skip",
          "answer_text_slot": "/",
          "var": "200",
          "verification_results": "/",
          "question_content": "CURP2\\u4f4d\\u6838\\u9a8c CURP Verification for 2 character",
          "question_type": "open",
          "whether_answer": "Skip"
        }
      ],
      "NerSlots": {
        "PaymentMethod": "Transfer",
        "PaymentTime": "Time_0"
      },
      "robot_hash": "a37e555fxxxxxxxxxxa7ac3575d8",
      "call_id": "ic1689265xxxxxxxxxxfe7b7da5b5",
      "call_times": 2,
      "call_start_time": "2024-03-11 13:24:29",
      "call_end_time": "2024-03-11 13:25:12",
      "ring_time": 2,
      "talk_round": 3,
      "redail_call": [
        {
          "call_id": "icea62exxxxxxxxxx70982a5c2f7",
          "call_start_time": "2024-03-11 13:23:34",
          "ring_type": "normal",
          "ring_time": 3,
          "hangup_type": "ByCallee",
          "result_label": "F",
          "callee_number": "+861xxxxxxxxxx5721",
          "caller_number": "+95xxxxxxxxxx088"
        }
      ],
      "intention_description": "No Answer",
      "EventLabel": {
        "A0": "A0",
        "Correct_Person": "identity_correct_person",
        "Request_Installment": "action_item_request_installment"
      },
      "caller_number": "+95xxxxxxxxxx088",
      "CaseID": "",
      "Variables": {
        "DoB": "1101",
        "CURP": "200",
        "name": "lyn",
        "gender": "male"
      }
    }
  ]
}"#;

fn settings(options: &str) -> VendorSettings {
    VendorSettings {
        id: "ar".into(),
        kind: KIND.into(),
        base_url: None,
        api_key: Some(Secret::new("app-key")),
        api_secret: Some(Secret::new("app-secret")),
        callback_secret: None,
        callback_token: Some(Secret::new("url-token")),
        callback_allow_ips: Vec::new(),
        circuit_cooldown: Duration::from_secs(60),
        max_concurrency: 10,
        rate_per_second: None,
        request_timeout: Duration::from_secs(5),
        embedded_listen: None,
        sim: None,
        fake: FakeBehavior::default(),
        options: toml::from_str(options).unwrap(),
        tag_intents: Default::default(),
    }
}

const OPTS: &str = "robot_hash = \"robot-1\"\nstart_lead = \"0s\"\n";

fn adapter(options: &str, base_url: &str) -> AirudderAdapter {
    AirudderAdapter::new(&settings(options), base_url).unwrap()
}

#[test]
fn document_example_parses_into_one_final_answered_event_with_its_redial() {
    let a = adapter(OPTS, "http://127.0.0.1:9");
    let events = a.parse_callback(DOC_EXAMPLE.as_bytes()).unwrap().events;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.vendor_task_id.as_deref(), Some("ea617807492xxxxxxxxxx09c11650"));
    assert_eq!(e.phone.as_deref(), Some("+8618721"), "callee `+8618xxxxx721` keeps its digits");
    assert_eq!(e.external_call_id.as_deref(), Some("ic1689265xxxxxxxxxxfe7b7da5b5"));
    assert_eq!(e.attempt_ref, None, "the example's Variables carry no campaignd_ref");
    assert!(e.is_final);
    assert_eq!(e.outcome.disposition, Disposition::Answered);
    assert_eq!(e.outcome.intent, Some(Intent::Undecided));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("airudder:finished/normal/ByCallee"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("airudder:E"));
    assert_eq!(e.duration_ms, Some(43_000));
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 24, 29).unwrap()));
    assert_eq!(e.ended_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 25, 12).unwrap()));
    // call_times 2: one earlier dial in redail_call[], the detail itself is the last dial.
    assert_eq!(e.redials.len(), 1);
    let r = &e.redials[0];
    assert_eq!(r.external_call_id.as_deref(), Some("icea62exxxxxxxxxx70982a5c2f7"));
    assert_eq!(r.at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 13, 23, 34).unwrap()));
    assert_eq!(r.outcome.disposition, Disposition::NoAnswer);
    assert_eq!(r.outcome.intent, None);
    assert_eq!(r.outcome.raw_intent.as_deref(), Some("airudder:F"));
    assert_eq!(r.outcome.raw_code.as_deref(), Some("airudder:redial/normal/ByCallee"));

    // Times are in the account's zone.
    let shanghai = adapter(&format!("{OPTS}account_timezone = \"Asia/Shanghai\"\n"), "http://127.0.0.1:9");
    let e = &shanghai.parse_callback(DOC_EXAMPLE.as_bytes()).unwrap().events[0];
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 5, 24, 29).unwrap()));
    assert_eq!(e.redials[0].at, Some(Utc.with_ymd_and_hms(2024, 3, 11, 5, 23, 34).unwrap()));
}

#[test]
fn a_time_in_the_callback_slot_becomes_the_requested_time() {
    // The document's own example carries the placeholder `Time_0`: no time.
    let a = adapter(&format!("{OPTS}account_timezone = \"Asia/Shanghai\"\n"), "http://127.0.0.1:9");
    let e = &a.parse_callback(DOC_EXAMPLE.as_bytes()).unwrap().events[0];
    assert_eq!(e.outcome.requested_at, None, "`Time_0` is not a time");
    assert_eq!(e.outcome.disposition, Disposition::Answered, "the rest of the detail is read as before");

    // The same webhook with a local time in the default slot, in the account zone.
    let mut doc: Value = serde_json::from_str(DOC_EXAMPLE).unwrap();
    doc["details"][0]["NerSlots"]["PaymentTime"] = json!("2024-03-13 10:00");
    let e = &a.parse_callback(doc.to_string().as_bytes()).unwrap().events[0];
    assert_eq!(e.outcome.requested_at, Some(Utc.with_ymd_and_hms(2024, 3, 13, 2, 0, 0).unwrap()), "Shanghai is UTC+8");

    // Another robot names its slot differently: the key is an option, and an empty one turns it off.
    doc["details"][0]["NerSlots"] = json!({"CallbackTime": "2024-03-12T18:30:00+07:00", "PaymentTime": "Time_1"});
    let callback = adapter(&format!("{OPTS}callback_slot = \"CallbackTime\"\n"), "http://127.0.0.1:9");
    let e = &callback.parse_callback(doc.to_string().as_bytes()).unwrap().events[0];
    assert_eq!(e.outcome.requested_at, Some(Utc.with_ymd_and_hms(2024, 3, 12, 11, 30, 0).unwrap()));
    let off = adapter(&format!("{OPTS}callback_slot = \"\"\n"), "http://127.0.0.1:9");
    doc["details"][0]["NerSlots"]["PaymentTime"] = json!("2024-03-13 10:00");
    assert_eq!(off.parse_callback(doc.to_string().as_bytes()).unwrap().events[0].outcome.requested_at, None);
}

#[test]
fn aggregated_details_each_become_an_event_and_non_final_ones_stay_open() {
    let a = adapter(OPTS, "http://127.0.0.1:9");
    let mut doc: Value = serde_json::from_str(DOC_EXAMPLE).unwrap();
    let mut second = doc["details"][0].clone();
    second["callee"] = json!("+628123456789");
    second["result"] = json!("pending");
    second["call_id"] = json!("ic-second");
    second["Variables"] = json!({"campaignd_ref": "42-1"});
    let mut third = doc["details"][0].clone();
    third["callee"] = json!("628111");
    third["result"] = json!("finished");
    third["ring_type"] = json!("switchoff");
    third["result_label"] = json!("F");
    third["duration"] = json!(0);
    third["call_start_time"] = json!("");
    third.as_object_mut().unwrap().remove("redail_call");
    doc["details"].as_array_mut().unwrap().extend([second, third]);
    let events = a.parse_callback(doc.to_string().as_bytes()).unwrap().events;
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].attempt_ref.as_deref(), Some("42-1"));
    assert!(!events[1].is_final);
    assert_eq!(events[2].phone.as_deref(), Some("+628111"));
    assert_eq!(events[2].outcome.disposition, Disposition::PowerOff);
    assert!(events[2].redials.is_empty());
    assert!(events.iter().all(|e| e.vendor_task_id.as_deref() == Some("ea617807492xxxxxxxxxx09c11650")));
    assert!(matches!(a.parse_callback(b"{\"details\":[]}"), Err(CallbackError::Malformed(_))));
    assert!(matches!(a.parse_callback(b"[]"), Err(CallbackError::Malformed(_))));
    assert_eq!(a.callback_ack(), (200, json!({})));
}

#[test]
fn signature_modes() {
    let body = DOC_EXAMPLE.as_bytes();
    let none = adapter(OPTS, "http://127.0.0.1:9");
    assert!(!none.signs_callbacks());
    none.verify_callback(&HeaderMap::new(), body, None).unwrap();

    let hmac = adapter(&format!("{OPTS}signature = \"hmac-sha256\"\n"), "http://127.0.0.1:9");
    assert!(hmac.signs_callbacks());
    let mut headers = HeaderMap::new();
    assert!(matches!(hmac.verify_callback(&headers, body, None), Err(CallbackError::Unauthorized(_))));
    // The documented default key is "airudder" when no callback_secret is set.
    headers.insert("X-AIRudder-Sign", HeaderValue::from_str(&sign("airudder", body)).unwrap());
    hmac.verify_callback(&headers, body, None).unwrap();
    headers.insert("X-AIRudder-Sign", HeaderValue::from_str(&sign("other", body)).unwrap());
    assert!(matches!(hmac.verify_callback(&headers, body, None), Err(CallbackError::Unauthorized(_))));
    // Known HMAC-SHA256 vector (RFC 4231 style check of the helper itself).
    assert_eq!(
        sign("key", b"The quick brown fox jumps over the lazy dog"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[test]
fn check_reports_missing_credentials_options_and_callback_token() {
    let fields = |s: &VendorSettings| check(s).into_iter().map(|(f, _)| f).collect::<Vec<_>>();
    assert!(check(&settings(OPTS)).is_empty(), "{:?}", check(&settings(OPTS)));
    let mut s = settings("");
    s.api_key = None;
    s.api_secret = None;
    s.callback_token = None;
    let f = fields(&s);
    for want in ["api_key", "api_secret", "options.robot_hash", "callback_token"] {
        assert!(f.contains(&want.to_string()), "{want} missing from {f:?}");
    }
    let why = check(&s).into_iter().find(|(f, _)| f == "callback_token").unwrap().1;
    assert!(why.contains("not verified"), "{why}");
    // Signed webhooks need no URL token.
    let mut signed = settings(&format!("{OPTS}signature = \"hmac-sha256\"\n"));
    signed.callback_token = None;
    assert!(check(&signed).is_empty());
    let unknown = check(&settings(&format!("{OPTS}robot = \"x\"\n")));
    assert_eq!(unknown[0].0, "options");
    assert!(unknown[0].1.contains("unknown field") && unknown[0].1.contains("robot"), "{}", unknown[0].1);
    let bad = fields(&settings(&format!("{OPTS}account_timezone = \"Mars/Olympus\"\n[intent_labels]\nA = \"rich\"\n")));
    assert!(
        bad.contains(&"options.account_timezone".to_string()) && bad.contains(&"options.intent_labels".to_string())
    );
}

#[test]
fn fake_codes_cover_the_default_weights() {
    let known = crate::vendors::kinds::find(KIND).unwrap().fake_codes;
    assert_eq!(known, fake::FAKE_CODES);
    let b = FakeBehavior { outcomes: [("E".to_string(), 1.0)].into(), ..FakeBehavior::default() };
    b.validate(known).unwrap();
}

// ---------------------------------------------------------------- loopback

struct Inbox {
    adapter: AirudderAdapter,
    events: Mutex<Vec<CallEvent>>,
    posts: AtomicU64,
    multi: AtomicU64,
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> (StatusCode, axum::Json<Value>) {
    if inbox.adapter.verify_callback(&headers, &body, None).is_err() {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
    }
    let Ok(events) = inbox.adapter.parse_callback(&body).map(|p| p.events) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({})));
    };
    inbox.posts.fetch_add(1, Relaxed);
    if events.len() > 1 {
        inbox.multi.fetch_add(1, Relaxed);
    }
    inbox.events.lock().unwrap().extend(events);
    let (status, ack) = inbox.adapter.callback_ack();
    (StatusCode::from_u16(status).unwrap(), axum::Json(ack))
}

struct Rig {
    inbox: Arc<Inbox>,
    fake: FakeHandle,
    control: Arc<FakeControl>,
    adapter: AirudderAdapter,
    _receiver: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start(behavior: FakeBehavior, options: &str) -> Rig {
        Rig::start_with(behavior, options, options, Duration::from_secs(24 * 3600)).await
    }

    async fn start_with(behavior: FakeBehavior, options: &str, fake_options: &str, token_life: Duration) -> Rig {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let inbox = Arc::new(Inbox {
            adapter: adapter(options, "http://127.0.0.1:9"),
            events: Mutex::new(Vec::new()),
            posts: AtomicU64::new(0),
            multi: AtomicU64::new(0),
        });
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(inbox.clone());
        let receiver = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let behavior = FakeBehavior { callback_url: Some(url), ..behavior };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (fake, control) = fake::spawn_with(&settings(fake_options), behavior, listener, token_life).await.unwrap();
        let adapter = adapter(options, &fake.base_url());
        Rig { inbox, fake, control, adapter, _receiver: receiver }
    }

    fn finals(&self) -> Vec<CallEvent> {
        self.inbox.events.lock().unwrap().iter().filter(|e| e.is_final).cloned().collect()
    }

    async fn wait_finals(&self, n: usize) -> Vec<CallEvent> {
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

fn batch(n: usize, tag: &str) -> DispatchBatch {
    DispatchBatch {
        campaign: "camp".into(),
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

fn handle(b: &DispatchBatch, i: usize, task: &str) -> AttemptHandle {
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
    let behavior = FakeBehavior { outcomes: [("F".to_string(), 1.0)].into(), ..FakeBehavior::fast(5) };
    let rig = Rig::start(behavior, &format!("{OPTS}redial_count = 2\n")).await;
    let mut b = batch(4, "r");
    b.vendor_redial = true;
    let receipt = rig.adapter.dispatch(&b).await.unwrap();
    assert_eq!(rig.control.repeat_number(&receipt.vendor_task_id), Some(2));
    let finals = rig.wait_finals(4).await;
    for e in &finals {
        assert_eq!(e.outcome.disposition, Disposition::NoAnswer);
        assert_eq!(e.redials.len(), 2, "{e:?}");
        let mut ids: Vec<_> = e.redials.iter().map(|r| r.external_call_id.clone().unwrap()).collect();
        ids.push(e.external_call_id.clone().unwrap());
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "every dial has its own call id");
    }
    let stats = &rig.fake.stats;
    assert_eq!(stats.vendor_redials.load(Relaxed), 8);
    assert_eq!(stats.dials.load(Relaxed), 12);
    assert_eq!(stats.double_dials.load(Relaxed), 0);
    rig.fake.shutdown().await;
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
