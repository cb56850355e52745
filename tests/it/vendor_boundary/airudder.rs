//! AIRudder at the boundary, against the real daemon: an aggregated webhook
//! with one bad record applies the good ones, keeps the bad one for audit
//! and still gets its 2xx; a `/detail` listing that may be truncated never
//! lets the daemon redial a call it could not find.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, rows, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use doubles::airudder::{self as fake, FakeControl, Variations};
use doubles::{FakeBehavior, FakeHandle};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";

/// A daemon config with one AIRudder vendor at `fake_port` and one campaign
/// that retries `unknown` (so a call the daemon wrongly gives up on as lost
/// would be dialed again).
fn config_text(db_url: &str, listen: u16, fake_port: u16, result_timeout: &str) -> String {
    let head = super::daemon_head(
        db_url,
        &format!("127.0.0.1:{listen}"),
        &format!("reconcile_every = \"300ms\"\nresult_timeout = \"{result_timeout}\"\nlost_after = \"10m\"\n"),
    );
    format!(
        r#"{head}
[[vendors]]
id = "airudder"
kind = "airudder"
base_url = "http://127.0.0.1:{fake_port}"
max_concurrency = 20
api_key = "ar-key"
api_secret = "ar-secret"
callback_token = "{TOKEN}"
options = {{ robot_hash = "robot-1", start_lead = "0s" }}

[[campaigns]]
name = "ar"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 20
vendors = ["airudder"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1s"
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy", "unknown", "vendor_error"]
retry_after = "1s"
max = 2
"#
    )
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// The AIRudder fake (every call answered) with `variations`, `contacts`
/// imported, and the daemon started.
async fn start(
    db: &TestDb,
    contacts: usize,
    result_timeout: &str,
    variations: Variations,
) -> (FakeHandle, Arc<FakeControl>, Daemon) {
    let daemon_port = free_port().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_port = listener.local_addr().unwrap().port();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, fake_port, result_timeout)).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/airudder?token={TOKEN}")),
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(60),
        outcomes: [("E".to_string(), 1.0)].into(),
        ..FakeBehavior::fast(11)
    };
    let (handle, control) =
        fake::spawn_with(&fake_config(&settings.vendors[0]), behavior, listener, Duration::from_secs(24 * 3600))
            .await
            .expect("fake starts");
    control.set_variations(variations);
    let csv = db.path("contacts.csv");
    write_contacts(&csv, contacts);
    let out = cli(&config, &["import", "--campaign", "ar", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (handle, control, Daemon::start(&config))
}

fn text(row: &sea_orm::QueryResult, i: usize) -> String {
    row.try_get_by_index(i).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_in_a_webhook_is_kept_for_audit_and_the_others_apply() {
    let db = TestDb::new();
    // One webhook for the whole task, its second record with `result: 1`.
    let variations = Variations { bad_record: true, one_body_per_task: true, ..Variations::default() };
    // The bad record's call is looked up only after 8 s without a result.
    let (fake, control, daemon) = start(&db, 6, "8s", variations).await;
    let conn = db.connect().await;
    poll_until(Duration::from_secs(60), "the webhook processed", || async {
        let n =
            scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE vendor_id = 'airudder' AND state = 'processed'")
                .await;
        (n == 1).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT COUNT(DISTINCT vendor_task_id) FROM attempts").await, 1, "one task, one body");

    // The vendor got its 2xx at once: one delivery, no retry of that body.
    assert_eq!(control.webhooks.load(Relaxed), 1);
    assert_eq!(control.webhook_details.load(Relaxed), 6);
    assert_eq!(fake.stats.callbacks_delivered.load(Relaxed), 1);
    assert_eq!(fake.stats.callback_failures.load(Relaxed), 0);

    // The bad record is kept, with its field and its phone; the row says so.
    let rejected = rows(&conn, "SELECT phone, reason, record_index FROM rejected_records").await;
    assert_eq!(rejected.len(), 1);
    let (bad_phone, reason) = (text(&rejected[0], 0), text(&rejected[0], 1));
    assert!(reason.starts_with("result: expected a string"), "{reason}");
    assert_eq!(rejected[0].try_get_by_index::<i32>(2).unwrap(), 1);
    let inbox = rows(&conn, "SELECT error, events FROM callback_inbox").await;
    let note: Option<String> = inbox[0].try_get_by_index(0).unwrap();
    assert!(note.as_deref().is_some_and(|n| n.contains("1 record(s) rejected") && n.contains("result")), "{note:?}");
    assert_eq!(inbox[0].try_get_by_index::<i32>(1).unwrap(), 5, "the five good records applied");

    // The good ones completed with their outcome; the bad one's call is
    // still in flight: the bad record did not finish it.
    let attempts = rows(&conn, "SELECT phone, state, disposition, intent FROM attempts ORDER BY id").await;
    assert_eq!(attempts.len(), 6);
    for a in &attempts {
        let (phone, state) = (text(a, 0), text(a, 1));
        if phone == bad_phone {
            assert_eq!(state, "dispatched", "{phone}: finished by a record that could not be read");
        } else {
            assert_eq!(state, "completed", "{phone}");
            let outcome: (Option<String>, Option<String>) =
                (a.try_get_by_index(2).unwrap(), a.try_get_by_index(3).unwrap());
            assert_eq!(outcome, (Some("answered".into()), Some("undecided".into())), "{phone}");
        }
    }

    // The lookup (after result_timeout) reads its result from /detail.
    poll_until(Duration::from_secs(60), "the bad record's call completed by lookup", || async {
        let sql = format!("SELECT COUNT(*) FROM attempts WHERE phone = '{bad_phone}' AND state = 'completed'");
        (scalar(&conn, &sql).await == 1).then_some(())
    })
    .await;
    assert!(control.detail_requests.load(Relaxed) >= 1);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts").await, 6, "nobody dialed twice");
    assert_eq!(fake.stats.dials.load(Relaxed), 6);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM dials").await, 6, "one dial each");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_lookup_never_redials_a_call_it_did_not_find() {
    let db = TestDb::new();
    // No webhook arrives; /detail pages carry no total and the server
    // returns at most 2 of the 100 rows asked: only 2 of 6 calls are listed.
    let variations = Variations { drop_callbacks: true, no_total: true, page_cap: Some(2), ..Variations::default() };
    let (fake, control, daemon) = start(&db, 6, "1s", variations).await;
    let conn = db.connect().await;
    poll_until(Duration::from_secs(60), "every call made and its webhook dropped", || async {
        (fake.stats.dials.load(Relaxed) == 6 && control.webhooks_dropped.load(Relaxed) >= 1).then_some(())
    })
    .await;
    // Let the reconciler look the 4 unlisted calls up again and again
    // (2 pages per lookup): each time the listing may lack rows. (Stop
    // waiting at once if a contact is redialed: the assertions below say so.)
    let asked = control.detail_requests.load(Relaxed);
    poll_until(Duration::from_secs(60), "repeated lookups", || async {
        let redialed = scalar(&conn, "SELECT COUNT(*) FROM attempts").await > 6;
        (redialed || control.detail_requests.load(Relaxed) >= asked + 40).then_some(())
    })
    .await;
    let states = rows(&conn, "SELECT state, COUNT(*) FROM attempts GROUP BY state ORDER BY state").await;
    let states: Vec<(String, i64)> = states.iter().map(|r| (text(r, 0), r.try_get_by_index(1).unwrap())).collect();
    assert_eq!(
        states,
        [("completed".to_string(), 2), ("dispatched".to_string(), 4)],
        "the 2 listed calls are done; the 4 unlisted stay in flight, neither lost nor failed"
    );
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts").await, 6, "no contact redialed");
    assert_eq!(fake.stats.dials.load(Relaxed), 6);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox").await, 0, "no webhook reached the daemon");

    // The vendor lists every row again: the real results arrive by lookup.
    control.update_variations(|v| v.page_cap = None);
    poll_until(Duration::from_secs(60), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'ar' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let done = scalar(
        &conn,
        "SELECT COUNT(*) FROM attempts WHERE state = 'completed' AND disposition = 'answered' AND attempt_no = 1",
    )
    .await;
    assert_eq!(done, 6, "each contact's one attempt completed with its real result");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts").await, 6);
    assert_eq!(fake.stats.dials.load(Relaxed), 6);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    drop(daemon);
}
