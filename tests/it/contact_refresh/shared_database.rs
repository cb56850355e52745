//! Two daemons on one PostgreSQL database, both woken by the same schedule
//! every two seconds: each firing runs once (the run row is its lock), none
//! is skipped by both, and the list is imported once.

use super::{config, never_answering_sim, write_list};
use crate::common::daemon::Daemon;
use crate::common::{TestDb, poll_until, rows, scalar, start_sim};
use chrono::{DateTime, Utc};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_run_each_firing_once() {
    let db = TestDb::postgres_always();
    let sim = start_sim(never_answering_sim()).await;
    let drop = db.path("drop");
    std::fs::create_dir(&drop).unwrap();
    write_list(&drop.join("export.csv"), &["081200000001", "081200000002", "081200000003"]);
    let refresh = format!(
        "schedule = \"*/2 * * * * *\"\nsource = {{ glob = \"{}/*.csv\" }}\non_removed = \"stop\"\ngrace = \"1m\"",
        drop.display()
    );
    let mut daemons = Vec::new();
    for id in ["refresh-1", "refresh-2"] {
        let scheduler = format!("instance_id = \"{id}\"");
        let path = db.path(&format!("{id}.toml"));
        std::fs::write(&path, config(&db.url, &sim.base_url(), &scheduler, &refresh)).unwrap();
        daemons.push(Daemon::start(&path));
    }
    let conn = db.connect().await;
    let count = "SELECT COUNT(*) FROM contact_refresh_runs WHERE \"trigger\" = 'schedule' AND state = 'ok'";
    poll_until(Duration::from_secs(60), "eight scheduled runs", || async {
        (scalar(&conn, count).await >= 8).then_some(())
    })
    .await;
    for mut d in daemons {
        d.terminate();
    }

    let runs = rows(
        &conn,
        "SELECT scheduled_for, instance_id, \"trigger\", state, added FROM contact_refresh_runs ORDER BY scheduled_for",
    )
    .await;
    let firings: Vec<(DateTime<Utc>, String, String)> = runs
        .iter()
        .map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap(), r.try_get_by_index(2).unwrap()))
        .collect();
    // Every two seconds, one run (the first firing caught up at start-up by
    // whichever instance came first, the rest woken by the schedule): no
    // firing twice, none skipped by both.
    for pair in firings.windows(2) {
        assert_eq!((pair[1].0 - pair[0].0).num_seconds(), 2, "firings one period apart: {firings:?}");
    }
    assert!(firings.iter().all(|f| f.2 == "schedule" || f.2 == "missed"), "{firings:?}");
    assert!(firings.iter().all(|f| f.1 == "refresh-1" || f.1 == "refresh-2"), "{firings:?}");
    let states: Vec<String> = runs.iter().map(|r| r.try_get_by_index::<String>(3).unwrap()).collect();
    assert!(states.iter().all(|s| s == "ok"), "{states:?}");
    let added: i64 = runs.iter().map(|r| r.try_get_by_index::<i64>(4).unwrap()).sum();
    assert_eq!(added, 3, "the list was imported once");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM contacts").await, 3);
}
