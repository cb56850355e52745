//! Two campaigns share the same numbers under a deployment-wide cap of 3 dials
//! per number per 24 h. Both route to AIRudder with its own redials on, so a
//! single attempt may dial a number twice, reported after the fact in the
//! webhook's `redail_call[]`. The daemon must reserve room for those redials
//! before it starts an attempt and count them afterwards: at no moment does
//! any number have more than 3 dials, across both campaigns and the vendor's
//! own redials, and no number is ever on two calls at once.

use crate::common;

use campaignd::vendors::embedded::fake_config;
use chrono::Utc;
use common::daemon::{Daemon, cli};
use common::{TestDb, poll_until, rows, scalar, write_contacts};
use doubles::FakeBehavior;
use entity::contact;
use sea_orm::EntityTrait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::time::Duration;

const NUMBERS: usize = 40;

fn campaign(name: &str) -> String {
    format!(
        r#"
[[campaigns]]
name = "{name}"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 20
vendors = ["airudder"]
vendor_redial = true
default_country_code = "62"

[campaigns.recall]
max_attempts = 10
vendor_failure_backoff = "1s"
max_vendor_failures = 50
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["answered", "no_answer", "busy", "power_off", "unreachable", "rejected", "out_of_service", "vacant", "unknown", "vendor_error", "call_loss"]
retry_after = "1s"
max = 9
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_campaigns_sharing_numbers_never_exceed_three_dials_per_day() {
    let db = TestDb::new();
    let daemon_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_port = listener.local_addr().unwrap().port();
    let config_text = format!(
        r#"[database]
url = "{db_url}"

[http]
listen = "127.0.0.1:{daemon_port}"

[scheduler]
tick = "100ms"
reconcile_every = "300ms"

[compliance]
caps = ["phone:3/24h"]
busy_backoff = "1s"

[[vendors]]
id = "airudder"
kind = "airudder"
base_url = "http://127.0.0.1:{fake_port}"
max_concurrency = 30
api_key = "ar-key"
api_secret = "ar-secret"
callback_token = "cb-t0ken"
options = {{ robot_hash = "robot-1", redial_count = 1 }}
{a}{b}"#,
        db_url = db.url,
        a = campaign("a"),
        b = campaign("b"),
    );
    let config = db.path("config.toml");
    std::fs::write(&config, config_text).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");

    // Mostly unanswered calls: the vendor redials, and the recall rules
    // redial again, so the cap is what stops the dialing.
    let behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/airudder?token=cb-t0ken")),
        outcomes: [("E".to_string(), 0.2), ("F".to_string(), 0.8)].into(),
        ..FakeBehavior::fast(7)
    };
    let vendor = &settings.vendors[0];
    let spec = doubles::kinds::find(&vendor.kind).expect("known kind");
    let fake = (spec.spawn)(&fake_config(vendor), behavior, listener).await.expect("fake starts");

    let csv = db.path("contacts.csv");
    write_contacts(&csv, NUMBERS);
    for name in ["a", "b"] {
        let out = cli(&config, &["import", "--campaign", name, csv.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    let conn = db.connect().await;
    // Sample while it runs: dials per number, and numbers on two calls at once.
    let stop = Arc::new(AtomicBool::new(false));
    let (max_dials, double_calls, samples) =
        (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let sampler = {
        let (db, stop) = (db.connect().await, stop.clone());
        let (max_dials, double_calls, samples) = (max_dials.clone(), double_calls.clone(), samples.clone());
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                let most = scalar(
                    &db,
                    "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM dials GROUP BY phone) AS d",
                )
                .await;
                max_dials.fetch_max(most, Relaxed);
                let doubles = scalar(
                    &db,
                    "SELECT COUNT(*) FROM (SELECT phone FROM attempts WHERE state IN ('dispatching','dispatched') \
                     GROUP BY phone HAVING COUNT(*) > 1) AS d",
                )
                .await;
                double_calls.fetch_max(doubles, Relaxed);
                samples.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };

    let daemon = Daemon::start(&config);
    // Settled: nothing in flight, and every open contact waits for the cap
    // (due a day later) rather than for the next tick.
    poll_until(Duration::from_secs(180), "every number capped or finished", || async {
        let contacts = contact::Entity::find().all(&conn).await.unwrap();
        let soon = Utc::now() + chrono::TimeDelta::hours(1);
        let busy = contacts.iter().any(|c| match c.state.as_str() {
            "done" | "exhausted" | "stopped" | "suppressed" => false,
            _ => c.due_at.is_none_or(|due| due < soon),
        });
        (!busy).then_some(())
    })
    .await;
    stop.store(true, Relaxed);
    sampler.await.unwrap();
    drop(daemon);

    assert!(samples.load(Relaxed) > 5, "the sampler must have watched the run");
    assert!(max_dials.load(Relaxed) <= 3, "a number had {} dials within 24 h", max_dials.load(Relaxed));
    assert_eq!(double_calls.load(Relaxed), 0, "a number was on two calls at once");
    assert_eq!(fake.stats.concurrent_same_phone.load(Relaxed), 0, "the vendor had one number on two lines");

    // Every dial the vendor made, its own redials included, is on record.
    let dial_rows = scalar(&conn, "SELECT COUNT(*) FROM dials").await;
    let vendor_dials = fake.stats.dials.load(Relaxed) as i64;
    assert_eq!(dial_rows, vendor_dials, "dials recorded vs dials the vendor made");
    let redials = scalar(&conn, "SELECT COUNT(*) FROM dials WHERE vendor_redial").await;
    assert!(redials > 0, "the vendor redialed on its own");
    assert_eq!(redials, fake.stats.vendor_redials.load(Relaxed) as i64);

    // Per number, across both campaigns: never more than 3, and the cap was
    // what stopped most of them (both campaigns wanted up to 10 attempts).
    let mut per_number: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows(&conn, "SELECT phone, COUNT(*) FROM dials GROUP BY phone").await {
        per_number.insert(r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap());
    }
    assert_eq!(per_number.len(), NUMBERS, "every number was dialed");
    assert!(per_number.values().all(|n| *n <= 3), "{per_number:?}");
    assert!(per_number.values().filter(|n| **n >= 2).count() > NUMBERS / 2, "{per_number:?}");
    let two_campaigns = scalar(
        &conn,
        "SELECT COUNT(*) FROM (SELECT phone FROM dials GROUP BY phone HAVING COUNT(DISTINCT campaign_id) = 2) AS d",
    )
    .await;
    assert!(two_campaigns > 0, "both campaigns dialed some of the same numbers");
    let capped =
        scalar(&conn, "SELECT COUNT(*) FROM decisions WHERE kind = 'capped' AND reason LIKE 'phone:3/24h%'").await;
    assert!(capped > 0, "capped contacts are in the decision audit");
    let waiting = scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state IN ('pending', 'waiting_retry')").await;
    assert!(waiting > 0, "some contacts wait for the cap to allow them tomorrow");

    // explain shows the trail of a capped contact.
    let row = &rows(
        &conn,
        "SELECT cp.name, c.phone FROM contacts c JOIN decisions d ON d.contact_id = c.id \
         JOIN campaigns cp ON cp.id = c.campaign_id WHERE d.kind = 'capped' ORDER BY d.id LIMIT 1",
    )
    .await[0];
    let (name, phone): (String, String) = (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap());
    let out = cli(&config, &["explain", "--campaign", &name, "--phone", &phone]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("capped") && text.contains("phone:3/24h"), "{text}");
}
