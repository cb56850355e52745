//! The daemon's process lifecycle. kill -9 mid-campaign, restart, and the
//! campaign completes with the same guarantees; SIGTERM exits 0 and a
//! restart resumes; SIGHUP reloads the config (`lifecycle/reload.rs`);
//! start-up races, the single-instance lock and the idle notice
//! (`lifecycle/startup.rs`).

mod common;
#[path = "lifecycle/reload.rs"]
mod reload;
#[path = "lifecycle/startup.rs"]
mod startup;

use campaignd::vendors::sim::SimSettings;
use common::daemon::Daemon;
use common::invariants::{assert_final, assert_peaks, spawn_sampler};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// Short timeouts so that attempts orphaned by the crash are reconciled fast.
const RECOVERY: &str = r#"dispatch_timeout = "1s"
result_timeout = "2s"
lost_after = "60s"
reconcile_every = "1s""#;

fn setup(db: &TestDb, sim_url: &str, contacts: usize) -> std::path::PathBuf {
    ConfigSpec { contacts, extra_scheduler: RECOVERY, ..ConfigSpec::new(&db.url, sim_url) }.write(db, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_campaign_then_restart_completes_with_every_guarantee() {
    let db = TestDb::new();
    // Slower calls so that many are in flight at the moment of the kill.
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(100),
        latency_max: Duration::from_millis(400),
        ..fast_sim(0.2)
    })
    .await;
    let config = setup(&db, &sim.base_url(), 1000);
    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());

    let mut first = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "a third of the contacts dialed", || async {
        (scalar(&conn, "SELECT COUNT(DISTINCT contact_id) FROM attempts").await >= 330).then_some(())
    })
    .await;
    let in_flight_at_kill =
        scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
    first.kill9();
    assert!(in_flight_at_kill > 0, "the kill must hit attempts in flight");

    let second = Daemon::start(&config);
    poll_until(Duration::from_secs(240), "campaign completed after restart", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    stop.store(true, Relaxed);
    sampler.await.unwrap();

    assert_peaks(&peaks, 40, &[("sim-a", 30), ("sim-b", 15)]);
    assert_final(&conn, 1000, 3, Duration::from_secs(1)).await;
    // The crash never caused a redial of something the vendor already had.
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0, "a reference was dialed twice");
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(sim.stats.calls_dialed.load(Relaxed) as i64, completed, "every dial has exactly one result");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_a_restart_resumes() {
    let db = TestDb::new();
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(50),
        latency_max: Duration::from_millis(150),
        ..fast_sim(0.0)
    })
    .await;
    let config = setup(&db, &sim.base_url(), 300);
    let conn = db.connect().await;

    let mut first = Daemon::start(&config);
    poll_until(Duration::from_secs(60), "some contacts dialed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts").await >= 50).then_some(())
    })
    .await;
    let status = first.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    // Nothing was left half-dispatched: every attempt reached the vendor or
    // was handed back.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatching'").await, 0);

    let _second = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "campaign completed after restart", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    assert_final(&conn, 300, 3, Duration::from_secs(1)).await;
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0);
}
