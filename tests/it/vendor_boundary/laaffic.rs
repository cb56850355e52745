//! Laaffic at the boundary: the daemon as built, spoken to by Laaffic's fake
//! over loopback. The fake pushes the documented record (voiceId, callee,
//! times, durations, cost, terminationCode/Reason, sipCode, intent): no task
//! id and no reference of ours, so every result must be matched on
//! (vendor, phone) by the call's time.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, rows, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use doubles::laaffic::{PUSH_FIELDS, Variations, spawn_with};
use doubles::{FakeBehavior, FakeHandle};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";

fn config_text(db_url: &str, listen: u16, fake_port: u16) -> String {
    let head = super::daemon_head(db_url, &format!("127.0.0.1:{listen}"), "");
    format!(
        r#"{head}
[[vendors]]
id = "laaffic"
kind = "laaffic"
base_url = "http://127.0.0.1:{fake_port}"
api_key = "bDqJFiq9"
api_secret = "7bz1lzh9"
callback_token = "{TOKEN}"
max_concurrency = 50
options = {{ app_id = "app-1", agent_id = 1001 }}

[[campaigns]]
name = "collect"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 50
vendors = ["laaffic"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 1
default = {{ action = "stop" }}
"#
    )
}

/// The number of contact `i` of `write_contacts` as Laaffic dials it (digits, no `+`).
fn dialed(i: usize) -> String {
    format!("62812{:08}", 10_000_000 + i)
}

struct Setup {
    db: TestDb,
    config: PathBuf,
    fake: FakeHandle,
    sent: Arc<Mutex<Vec<Value>>>,
}

/// A database with `contacts` imported and Laaffic's fake running with
/// `variations`, rolling `outcomes`; the daemon is started by the test.
async fn setup(contacts: usize, outcomes: &[(&str, f64)], variations: Variations, seed: u64) -> Setup {
    let db = TestDb::new();
    let daemon_port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, listener.local_addr().unwrap().port())).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/laaffic?token={TOKEN}")),
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(60),
        outcomes: outcomes.iter().map(|(c, w)| (c.to_string(), *w)).collect(),
        ..FakeBehavior::fast(seed)
    };
    let variations = Variations { sent: Some(sent.clone()), ..variations };
    let fake =
        spawn_with(&fake_config(&settings.vendors[0]), behavior, variations, listener).await.expect("fake starts");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, contacts);
    let out = cli(&config, &["import", "--campaign", "collect", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Setup { db, config, fake, sent }
}

impl Setup {
    /// Until the fake has pushed `n` records, each answered, and the daemon
    /// has processed every stored body.
    async fn pushed(&self, conn: &sea_orm::DatabaseConnection, n: usize) {
        poll_until(Duration::from_secs(60), "every push delivered and processed", || async {
            let pushed = self.sent.lock().unwrap().len() == n && self.fake.stats.callbacks_pending.load(Relaxed) == 0;
            let pending = scalar(conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
            (pushed && pending == 0).then_some(())
        })
        .await;
        assert_eq!(self.fake.stats.callback_failures.load(Relaxed), 0, "every push answered 2xx the first time");
        let stored = scalar(conn, "SELECT COUNT(*) FROM callback_inbox WHERE vendor_id = 'laaffic'").await;
        assert_eq!(stored, self.fake.stats.callbacks_delivered.load(Relaxed) as i64, "no redelivery");
    }

    /// The intent code each callee's record was sent with (as text, whatever its type).
    fn sent_codes(&self) -> BTreeMap<String, String> {
        let code = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or_default().to_string(),
            other => other.to_string(),
        };
        let sent = self.sent.lock().unwrap();
        sent.iter().map(|r| (format!("+{}", code(&r["callee"])), code(&r["intent"]))).collect()
    }
}

/// What the document's table says each code the fake rolls here means.
fn documented_intent(code: &str) -> Option<&'static str> {
    match code {
        "205" | "206" => Some("promise_to_pay"), // 承諾還款:按時/延期還款
        "207" => Some("refuse"),                 // 無法還款:主觀拒絕還款
        "208" => Some("dispute"),                // 無法還款:否認借貸 (denies the loan)
        "209" => Some("callback"),               // 無法還款:需要申請分期
        "2010" => Some("paid"),                  // 客戶已還款
        "204" => Some("unknown"),                // 客戶還款意向未知
        "99999" => None,                         // 已呼叫未接通
        other => panic!("not rolled here: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_among_good_ones_is_kept_for_audit_and_the_rest_applies() {
    let bad = dialed(3);
    let variations = Variations {
        records_per_push: 5,
        wrong_intent_for: [bad.clone()].into_iter().collect(),
        ..Variations::default()
    };
    let s = setup(10, &[("205", 1.0), ("208", 1.0), ("207", 1.0)], variations, 31).await;
    let conn = s.db.connect().await;
    let daemon = Daemon::start(&s.config);
    s.pushed(&conn, 10).await;

    // The bad record: kept with its reason and phone, not read as a result.
    let rejected =
        rows(&conn, "SELECT inbox_id, phone, reason FROM rejected_records WHERE vendor_id = 'laaffic'").await;
    assert_eq!(rejected.len(), 1);
    let inbox_id: i64 = rejected[0].try_get_by_index(0).unwrap();
    let phone: Option<String> = rejected[0].try_get_by_index(1).unwrap();
    let reason: String = rejected[0].try_get_by_index(2).unwrap();
    assert_eq!(phone, Some(format!("+{bad}")));
    assert!(reason.starts_with(r#"intent: expected a string or a number, got [""#), "{reason}");
    // Its body was stored, answered 2xx and processed: the good records
    // beside it applied, the row notes the rejection.
    let row = rows(&conn, &format!("SELECT state, error, events FROM callback_inbox WHERE id = {inbox_id}")).await;
    let (state, error, events): (String, Option<String>, i32) =
        (row[0].try_get_by_index(0).unwrap(), row[0].try_get_by_index(1).unwrap(), row[0].try_get_by_index(2).unwrap());
    assert_eq!(state, "processed");
    assert!(error.as_deref().is_some_and(|e| e.contains("1 record(s) rejected") && e.contains("intent")), "{error:?}");
    assert!(events >= 1, "good records in the same body applied: {events}");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state <> 'processed'").await, 0);
    // An operator asking about that number sees the rejected record on its trail.
    let explained = cli(&s.config, &["explain", "--campaign", "collect", "--phone", &format!("+{bad}")]);
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(explained.status.success(), "{}", String::from_utf8_lossy(&explained.stderr));
    assert!(text.contains("could not be read") && text.contains(&format!("inbox #{inbox_id}")), "{text}");
    assert!(text.contains(r#""intent":["#), "the record as sent: {text}");

    // Every good record applied with its intent; the bad one's contact is
    // still waiting (for a lookup), not finished as `unknown`.
    let codes = s.sent_codes();
    let done = rows(
        &conn,
        "SELECT c.phone, a.state, a.intent, a.raw_intent FROM attempts a JOIN contacts c ON c.id = a.contact_id",
    )
    .await;
    assert_eq!(done.len(), 10);
    for r in &done {
        let (phone, state, intent, raw): (String, String, Option<String>, Option<String>) = (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
            r.try_get_by_index(3).unwrap(),
        );
        if phone == format!("+{bad}") {
            assert_eq!((state.as_str(), intent), ("dispatched", None), "the bad record finished nothing");
            continue;
        }
        assert_eq!(state, "completed", "{phone}");
        assert_eq!(intent.as_deref(), documented_intent(&codes[&phone]), "{phone}");
        assert_eq!(raw, Some(format!("laaffic:{}", codes[&phone])), "{phone}");
    }
    assert_eq!(s.fake.stats.double_dials.load(Relaxed), 0);
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_push_lands_every_result_with_its_intent() {
    let mix = [
        ("205", 3.0),
        ("208", 3.0),
        ("206", 1.0),
        ("207", 1.0),
        ("209", 1.0),
        ("2010", 1.0),
        ("204", 1.0),
        ("99999-486", 1.0),
    ];
    let s = setup(30, &mix, Variations::default(), 32).await;
    let conn = s.db.connect().await;
    let daemon = Daemon::start(&s.config);
    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'collect' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    s.pushed(&conn, 30).await;

    // The fake sent exactly the documented fields: no task id, no reference.
    let documented: BTreeSet<&str> = PUSH_FIELDS.iter().copied().collect();
    for r in s.sent.lock().unwrap().iter() {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, documented, "{r}");
    }
    let codes = s.sent_codes();
    assert_eq!(codes.len(), 30, "one record per contact");
    let rolled: BTreeSet<&str> = codes.values().map(String::as_str).collect();
    assert!(rolled.contains("205") && rolled.contains("208"), "{rolled:?}");

    // Every contact terminal, every attempt completed with the intent sent.
    let terminal = "('done','exhausted','stopped','suppressed')";
    assert_eq!(scalar(&conn, &format!("SELECT COUNT(*) FROM contacts WHERE state IN {terminal}")).await, 30);
    let attempts = rows(
        &conn,
        "SELECT c.phone, a.state, a.intent, a.raw_intent, a.raw_code FROM attempts a JOIN contacts c ON c.id = a.contact_id",
    )
    .await;
    assert_eq!(attempts.len(), 30);
    for r in &attempts {
        let (phone, state, intent, raw_intent, raw_code): (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
            r.try_get_by_index(3).unwrap(),
            r.try_get_by_index(4).unwrap(),
        );
        let code = &codes[&phone];
        assert_eq!(state, "completed", "{phone}");
        assert_eq!(intent.as_deref(), documented_intent(code), "{phone}: sent {code}");
        assert_eq!(raw_code, Some(format!("laaffic:{code}")), "{phone}");
        let kept = documented_intent(code).map(|_| format!("laaffic:{code}"));
        assert_eq!(raw_intent, kept, "{phone}: the raw intent is kept");
    }
    // Zero unmatched: every record of every body matched its attempt.
    let applied = scalar(&conn, "SELECT COALESCE(SUM(events), 0) FROM callback_inbox WHERE state = 'processed'").await;
    assert_eq!(applied, 30, "every record matched an attempt");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM rejected_records").await, 0);
    // Each dial recorded once, with the vendor's own time kept.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM dials WHERE vendor_dialed_at IS NOT NULL").await, 30);
    assert_eq!(s.fake.stats.double_dials.load(Relaxed), 0);
    drop(daemon);
}
