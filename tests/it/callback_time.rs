//! A callee's requested callback time decides when the next attempt is made:
//! the simulator answers every call with intent `callback` and a time a few
//! seconds later, while the matching recall rule would wait an hour. Windows
//! are open all day, so clamping the time into them leaves it unchanged.

use crate::common;

use chrono::{DateTime, TimeDelta, Utc};
use common::daemon::{Daemon, cli};
use common::{API_KEY, ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim, write_contacts};
use doubles::sim::SimSettings;
use doubles::sim::wire::CallStatus;
use entity::{attempt, contact};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

const CONTACTS: usize = 3;

/// Every call is answered and ends with the callee asking to be called back
/// `callback_after` later.
fn callback_sim(callback_after: Duration) -> SimSettings {
    let only = |code: &str| [(code.to_string(), 1.0)].into_iter().collect();
    SimSettings {
        outcomes: only("ANSWERED"),
        intents: only("CALLBACK"),
        callback_after: Some(callback_after),
        ..fast_sim(0.0)
    }
}

/// The common e2e config plus a recall rule that retries callbacks after an
/// hour (once), and `max_callback_delay`; contacts imported.
fn write_config(db: &TestDb, sim_url: &str, max_callback_delay: &str) -> PathBuf {
    let text = ConfigSpec::new(&db.url, sim_url).render().replace(
        "vendor_failure_backoff =",
        &format!("max_callback_delay = \"{max_callback_delay}\"\nvendor_failure_backoff ="),
    ) + "\n[[campaigns.recall.rules]]\nwhen = [\"intent:callback\"]\nretry_after = \"1h\"\nmax = 1\n";
    let config = db.path("config.toml");
    std::fs::write(&config, text).expect("write config");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, CONTACTS);
    let out = cli(&config, &["import", "--campaign", "e2e", csv.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    config
}

/// Each contact as seen between its first result and its second attempt:
/// waiting for a retry, with the due time and reason the first result set.
async fn first_results(conn: &DatabaseConnection) -> BTreeMap<i64, contact::Model> {
    let seen = Mutex::new(BTreeMap::new());
    poll_until(Duration::from_secs(60), "every contact waiting for its callback", || {
        let seen = &seen;
        async move {
            let waiting = contact::Entity::find()
                .filter(contact::Column::State.eq("waiting_retry"))
                .filter(contact::Column::AttemptSeq.eq(1))
                .all(conn)
                .await
                .expect("read contacts");
            let mut seen = seen.lock().unwrap();
            for c in waiting {
                seen.entry(c.id).or_insert(c);
            }
            (seen.len() == CONTACTS).then_some(())
        }
    })
    .await;
    seen.into_inner().unwrap()
}

async fn attempts_of(conn: &DatabaseConnection, contact_id: i64) -> Vec<attempt::Model> {
    attempt::Entity::find()
        .filter(attempt::Column::ContactId.eq(contact_id))
        .order_by_asc(attempt::Column::AttemptNo)
        .all(conn)
        .await
        .expect("read attempts")
}

/// The time the simulator told the daemon the callee asked for.
async fn requested_by_sim(sim_url: &str, attempt_ref: &str) -> DateTime<Utc> {
    let status: CallStatus = reqwest::Client::new()
        .get(format!("{sim_url}/v1/calls/{attempt_ref}"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("sim lookup")
        .json()
        .await
        .expect("sim CallStatus");
    let text = status.result.and_then(|r| r.callback_at).expect("the sim named a callback time");
    DateTime::parse_from_rfc3339(&text).expect("RFC 3339").with_timezone(&Utc)
}

async fn wait_completed(conn: &DatabaseConnection) {
    poll_until(Duration::from_secs(60), "campaign completed", || async {
        (scalar(conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_attempt_is_made_at_the_requested_time_not_after_the_rules_hour() {
    let db = TestDb::new();
    let sim = start_sim(callback_sim(Duration::from_secs(6))).await;
    let config = write_config(&db, &sim.base_url(), "14d");
    let conn = db.connect().await;
    let _daemon = Daemon::start(&config);

    let waiting = first_results(&conn).await;
    wait_completed(&conn).await;
    for (id, first) in waiting {
        let attempts = attempts_of(&conn, id).await;
        assert_eq!(attempts.len(), 2, "contact {id}: one callback retry (max = 1), then exhausted");
        let asked = requested_by_sim(&sim.base_url(), &attempts[0].attempt_ref).await;
        assert_eq!(first.due_at, Some(asked), "contact {id}: due at the requested time (windows open all day)");
        let reason = first.finished_reason.unwrap_or_default();
        assert!(reason.contains(&format!("callback requested for {asked}")), "contact {id}: {reason}");
        assert!(!reason.contains("capped"), "contact {id}: {reason}");
        let second = attempts[1].created_at;
        assert!(second >= asked, "contact {id}: second attempt at {second}, before the requested {asked}");
        assert!(
            second < asked + TimeDelta::minutes(1),
            "contact {id}: second attempt at {second}, long after the requested {asked}: the rule's hour decided"
        );
    }
    let exhausted = scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state = 'exhausted'").await;
    assert_eq!(exhausted, CONTACTS as i64, "the callback rule's max still applies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_time_beyond_max_callback_delay_is_capped() {
    let db = TestDb::new();
    // The callee asks for two hours later; the campaign waits at most 3 s.
    let sim = start_sim(callback_sim(Duration::from_secs(2 * 3600))).await;
    let config = write_config(&db, &sim.base_url(), "3s");
    let conn = db.connect().await;
    let _daemon = Daemon::start(&config);

    let waiting = first_results(&conn).await;
    wait_completed(&conn).await;
    for (id, first) in waiting {
        let attempts = attempts_of(&conn, id).await;
        assert_eq!(attempts.len(), 2, "contact {id}");
        // The policy ran when the first attempt was completed: capped to that + 3 s.
        let decided = attempts[0].completed_at.expect("first attempt completed");
        assert_eq!(first.due_at, Some(decided + TimeDelta::seconds(3)), "contact {id}");
        let asked = requested_by_sim(&sim.base_url(), &attempts[0].attempt_ref).await;
        let reason = first.finished_reason.unwrap_or_default();
        assert!(
            reason.contains(&format!("callback requested for {asked}"))
                && reason.contains("capped by max_callback_delay"),
            "contact {id}: {reason}"
        );
        assert!(attempts[1].created_at < asked, "contact {id}: the cap, not the callee's two hours, decided");
    }
}
