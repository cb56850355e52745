//! Blu at the boundary: a fake whose replies carry a `status` word beside
//! the documented `code` (`{"code":"2000","status":"success","msg":...}`)
//! and whose callbacks hold, beside each result, a record of the wrong
//! shape. The daemon must read replies by their code (the circuit stays
//! closed), apply every good record and keep every bad one for audit.

use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, scalar, write_contacts};
use campaignd::vendors::embedded::fake_config;
use doubles::FakeBehavior;
use doubles::blu::{Variations, spawn_with};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";
const CONTACTS: i64 = 8;

fn config_text(db_url: &str, listen: u16, fake_port: u16) -> String {
    let head = super::daemon_head(db_url, &format!("127.0.0.1:{listen}"), "reconcile_every = \"300ms\"\n");
    format!(
        r#"{head}
[[vendors]]
id = "blu"
kind = "blu"
base_url = "http://127.0.0.1:{fake_port}"
api_key = "blu-app"
api_secret = "blu-key"
callback_token = "{TOKEN}"
max_concurrency = 20

[[campaigns]]
name = "boundary"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 20
vendors = ["blu"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1s"
default = {{ action = "stop" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_then_status_replies_and_a_bad_record_per_callback_lose_nothing() {
    let db = TestDb::new();
    let listen = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, listen, listener.local_addr().unwrap().port())).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let vary = Variations {
        status_beside_code: true,
        msg_key: true,
        loose_types: true,
        bad_record_in_callbacks: true,
        ..Variations::default()
    };
    let behavior = FakeBehavior {
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(40),
        outcomes: [("HPTP".to_string(), 1.0), ("D01".to_string(), 1.0)].into(),
        callback_url: Some(format!("http://127.0.0.1:{listen}/callbacks/blu?token={TOKEN}")),
        ..FakeBehavior::fast(5)
    };
    let fake = spawn_with(&fake_config(&settings.vendors[0]), behavior, vary, listener).await.expect("fake starts");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, CONTACTS as usize);
    let out = cli(&config, &["import", "--campaign", "boundary", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(90), "every contact finished", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state = 'done'").await == CONTACTS).then_some(())
    })
    .await;
    poll_until(Duration::from_secs(30), "callbacks delivered and processed", || async {
        let pending = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
        (fake.stats.callbacks_pending.load(Relaxed) == 0 && pending == 0).then_some(())
    })
    .await;
    // Replies were read by their code: no upload failed, no circuit opened.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state <> 'completed'").await, 0);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts").await, CONTACTS);
    assert_eq!(fake.stats.dials.load(Relaxed) as i64, CONTACTS);
    assert_eq!(fake.stats.callback_failures.load(Relaxed), 0, "every callback got its 2xx");
    let raw = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE raw_code IN ('blu:D99', 'blu:D01')").await;
    assert_eq!(raw, CONTACTS, "every result applied with its line status");
    // Each callback's foreign record was kept, with the field that was wrong.
    let kept = scalar(
        &conn,
        "SELECT COUNT(*) FROM rejected_records WHERE vendor_id = 'blu' AND record_index = 1 \
         AND reason LIKE 'callStatus: expected%'",
    )
    .await;
    let processed = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'processed'").await;
    assert_eq!(kept, processed, "one rejected record per stored callback");
    assert!(kept >= CONTACTS, "{kept}");
    drop(daemon);
}
