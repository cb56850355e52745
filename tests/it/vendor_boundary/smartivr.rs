//! smartivr at the boundary: the daemon polls a fake that sends what real
//! servers send beyond the examples — a 脏话 (swearing) tag on the call
//! record, `is_blacklist` — and the recall policy and the suppression list
//! act on them.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, rows, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use doubles::smartivr::{Variations, spawn_with};
use doubles::{FakeBehavior, FakeHandle};
use sea_orm::DatabaseConnection;
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const VENDOR: &str = "sivr";
const CONTACTS: usize = 8;

fn config_text(db_url: &str, fake_port: u16) -> String {
    let head = super::daemon_head(db_url, "127.0.0.1:0", "reconcile_every = \"300ms\"\n");
    format!(
        r#"{head}
[[vendors]]
id = "{VENDOR}"
kind = "smartivr"
base_url = "http://127.0.0.1:{fake_port}"
api_key = "sivr-token"
max_concurrency = 20
options = {{ group_id = 7 }}

[[campaigns]]
name = "boundary"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 20
vendors = ["{VENDOR}"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1s"
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["intent:complaint"]
action = "suppress"

[[campaigns.recall.rules]]
when = ["no_answer"]
retry_after = "1s"
max = 2
"#
    )
}

/// The daemon on a fresh database, polling a smartivr fake that sends
/// `vary` with every call ending in one of `outcomes`; returns once every
/// contact is suppressed.
async fn run_until_suppressed(vary: Variations, outcome: &str) -> (TestDb, DatabaseConnection, FakeHandle, Daemon) {
    let db = TestDb::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, listener.local_addr().unwrap().port())).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let behavior = FakeBehavior {
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(40),
        outcomes: [(outcome.to_string(), 1.0)].into(),
        ..FakeBehavior::fast(17)
    };
    let fake = spawn_with(&fake_config(&settings.vendors[0]), behavior, vary, listener).await.expect("fake starts");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, CONTACTS);
    let out = cli(&config, &["import", "--campaign", "boundary", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(90), "every contact suppressed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state = 'suppressed'").await == CONTACTS as i64)
            .then_some(())
    })
    .await;
    (db, conn, fake, daemon)
}

/// Every contact is on the suppression list with `source`, by its own phone.
async fn suppressed_by(conn: &DatabaseConnection, source: &str) {
    let listed = scalar(
        conn,
        &format!(
            "SELECT COUNT(*) FROM suppressions s JOIN contacts c ON c.phone = s.phone WHERE s.source = '{source}'"
        ),
    )
    .await;
    assert_eq!(listed, CONTACTS as i64, "suppressions with source {source}");
}

/// The call records tag every answered call 脏话; the campaign's rule
/// `intent:complaint → suppress` must fire although the grade is D (no
/// intention): the numbers land on the suppression list and are never
/// dialed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swearing_tag_suppresses_the_number_by_the_complaint_rule() {
    let vary = Variations { tags: vec!["脏话".into()], ..Variations::default() };
    let (_db, conn, fake, daemon) = run_until_suppressed(vary, "1D").await;
    suppressed_by(&conn, "campaign:boundary").await;
    let attempts = rows(&conn, "SELECT disposition, intent, raw_code, raw_intent FROM attempts").await;
    assert_eq!(attempts.len(), CONTACTS, "one attempt each: suppressed after the first");
    for a in &attempts {
        let got: (String, String, String, String) = (
            a.try_get_by_index(0).unwrap(),
            a.try_get_by_index(1).unwrap(),
            a.try_get_by_index(2).unwrap(),
            a.try_get_by_index(3).unwrap(),
        );
        assert_eq!(
            got,
            ("answered".into(), "complaint".into(), "smartivr:1".into(), "smartivr:脏话".into()),
            "the tag's intent, the raw tag kept"
        );
    }
    assert_eq!(fake.stats.dials.load(Relaxed), CONTACTS as u64, "never dialed again");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM dials").await, CONTACTS as i64);
    drop(daemon);
}

/// Every number reports `is_blacklist: "1"` after an unanswered call: a
/// no-answer would be retried by the campaign's rule, but the vendor's
/// blacklist suppresses the number with the vendor as its source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_blacklist_flag_suppresses_with_the_vendor_as_source() {
    let vary = Variations { is_blacklist: Some(json!("1")), ..Variations::default() };
    let (_db, conn, fake, daemon) = run_until_suppressed(vary, "4").await;
    suppressed_by(&conn, &format!("vendor:{VENDOR}")).await;
    let no_answers =
        scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed' AND disposition = 'no_answer'").await;
    assert_eq!(no_answers, CONTACTS as i64, "one attempt each, its outcome kept");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts").await, CONTACTS as i64, "no retry");
    assert_eq!(fake.stats.dials.load(Relaxed), CONTACTS as u64);
    drop(daemon);
}
