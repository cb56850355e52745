//! ITNIO "AI voice" at the boundary: the daemon as built, spoken to by the
//! ITNIO fake over loopback, pushing the documented record. Complaint tags
//! reach the recall policy (the number is suppressed), and a push that stands
//! for several dials (`callCount`) records each of them, the result on the
//! last one.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, rows, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use chrono::Timelike;
use doubles::FakeBehavior;
use doubles::ai_voice::{Variations, spawn_with};
use serde_json::Value;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";

/// A fixed-offset zone in which it is now about noon: inside the
/// platform's 09:00-20:00 dialing hours whenever the test runs.
pub(super) fn noon_zone() -> String {
    let offset = (12 - i64::from(chrono::Utc::now().hour()) + 36) % 24 - 12;
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

fn config_text(db_url: &str, listen: u16, fake_port: u16) -> String {
    let head = super::daemon_head(db_url, &format!("127.0.0.1:{listen}"), "");
    format!(
        r#"{head}
[[vendors]]
id = "itnio"
kind = "ai-voice"
base_url = "http://127.0.0.1:{fake_port}"
api_key = "itnio-key"
api_secret = "itnio-secret"
callback_token = "{TOKEN}"
max_concurrency = 50
options = {{ dialog_flow_id = 77, timezone = "{zone}", redial_times = 2 }}

[[campaigns]]
name = "collect"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 50
vendors = ["itnio"]
vendor_redial = true
default_country_code = "62"

[campaigns.recall]
max_attempts = 1
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["intent:complaint"]
action = "suppress"
"#,
        zone = noon_zone()
    )
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_tags_suppress_and_every_vendor_dial_is_recorded() {
    let db = TestDb::new();
    let daemon_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, listener.local_addr().unwrap().port())).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/itnio?token={TOKEN}")),
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(60),
        outcomes: [("ANSWERED:A".to_string(), 1.0), ("NO_ANSWER".to_string(), 2.0)].into(),
        ..FakeBehavior::fast(41)
    };
    // Every conversation is tagged 投诉 (complaint) by the robot.
    let variations = Variations { call_tags: vec!["投诉".into()], sent: Some(sent.clone()), ..Variations::default() };
    let fake =
        spawn_with(&fake_config(&settings.vendors[0]), behavior, variations, listener).await.expect("fake starts");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, 20);
    let out = cli(&config, &["import", "--campaign", "collect", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "campaign completed and every push processed", || async {
        let done = scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1;
        let pushed = sent.lock().unwrap().len() == 20 && fake.stats.callbacks_pending.load(Relaxed) == 0;
        let pending = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
        (done && pushed && pending == 0).then_some(())
    })
    .await;
    assert_eq!(fake.stats.callback_failures.load(Relaxed), 0);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM rejected_records").await, 0);

    let (mut complaints, mut redialed) = (0, 0);
    let pushes = sent.lock().unwrap().clone();
    for p in &pushes {
        let phone = format!("+{}", text(&p["calledPhoneNumber"]));
        let status = text(&p["resultStatus"]);
        let calls: i64 = text(&p["callCount"]).parse().unwrap();
        let attempt = rows(
            &conn,
            &format!(
                "SELECT a.id, a.state, a.intent, a.raw_intent, c.state FROM attempts a \
                 JOIN contacts c ON c.id = a.contact_id WHERE c.phone = '{phone}'"
            ),
        )
        .await;
        assert_eq!(attempt.len(), 1, "{phone}");
        let id: i64 = attempt[0].try_get_by_index(0).unwrap();
        let state: String = attempt[0].try_get_by_index(1).unwrap();
        let intent: Option<String> = attempt[0].try_get_by_index(2).unwrap();
        let raw_intent: Option<String> = attempt[0].try_get_by_index(3).unwrap();
        let contact: String = attempt[0].try_get_by_index(4).unwrap();
        assert_eq!(state, "completed", "{phone}");
        if status == "ANSWERED" {
            complaints += 1;
            assert_eq!(intent.as_deref(), Some("complaint"), "{phone}: the 投诉 tag beats grade A");
            assert_eq!(raw_intent.as_deref(), Some("ai-voice:A级;tag:投诉"));
            assert_eq!(contact, "suppressed", "{phone}");
            let suppressed = scalar(&conn, &format!("SELECT COUNT(*) FROM suppressions WHERE phone = '{phone}'")).await;
            assert_eq!(suppressed, 1, "{phone} is never dialed again");
        } else {
            assert_eq!(intent, None, "{phone}");
        }
        // One dials row per real dial; the result on the last, the earlier
        // ones unknown (the push does not say how they failed).
        let dials = rows(
            &conn,
            &format!(
                "SELECT seq, disposition, raw_code, vendor_redial FROM dials WHERE attempt_id = {id} ORDER BY seq"
            ),
        )
        .await;
        assert_eq!(dials.len() as i64, calls, "{phone}: callCount {calls}");
        for (k, d) in dials.iter().enumerate() {
            let (seq, disposition, raw, vendor): (i32, String, Option<String>, bool) = (
                d.try_get_by_index(0).unwrap(),
                d.try_get_by_index(1).unwrap(),
                d.try_get_by_index(2).unwrap(),
                d.try_get_by_index(3).unwrap(),
            );
            assert_eq!((seq as usize, vendor), (k, k > 0), "{phone}");
            if k + 1 == dials.len() {
                assert_eq!(raw, Some(format!("ai-voice:{status}")), "{phone}: the result is the last dial's");
            } else {
                assert_eq!((disposition.as_str(), raw.as_deref()), ("unknown", Some("ai-voice:REDIALED")), "{phone}");
            }
        }
        if calls > 1 {
            redialed += 1;
        }
    }
    assert!(complaints > 0 && redialed > 0, "complaints {complaints}, redialed {redialed}");
    let all_dials = scalar(&conn, "SELECT COUNT(*) FROM dials").await;
    let made = fake.stats.dials.load(Relaxed) + fake.stats.vendor_redials.load(Relaxed);
    assert_eq!(all_dials, made as i64, "every dial the vendor made is recorded once");
    drop(daemon);
}
