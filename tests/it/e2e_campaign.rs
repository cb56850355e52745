//! A 1,000-contact campaign runs to completion through the real daemon binary
//! and the simulator over loopback HTTP; every invariant is checked from the
//! database, caps are sampled during the run.

use crate::common;

use common::daemon::{Daemon, cli};
use common::invariants::{assert_final, assert_peaks, spawn_sampler};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_contacts_run_to_completion_within_all_invariants() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.3)).await;
    let config = ConfigSpec { contacts: 1000, ..ConfigSpec::new(&db.url, &sim.base_url()) }.write(&db, "");

    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());
    let started = std::time::Instant::now();
    let daemon = Daemon::start(&config);

    poll_until(Duration::from_secs(240), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    eprintln!("campaign completed in {:?}", started.elapsed());
    stop.store(true, Relaxed);
    sampler.await.unwrap();

    assert_peaks(&peaks, 40, &[("sim-a", 30), ("sim-b", 15)]);
    assert_final(&conn, 1000, 3, Duration::from_secs(1)).await;

    // Each result applied once: every delivered duplicate was recognised, and
    // the processed rows applied exactly one result per completed attempt.
    poll_until(Duration::from_secs(30), "simulator finished delivering", || async {
        (sim.stats.callbacks_pending.load(Relaxed) == 0).then_some(())
    })
    .await;
    let dup_sent = sim.stats.duplicate_callbacks_sent.load(Relaxed) as i64;
    assert!(dup_sent > 0, "the simulator must have sent duplicates");
    // At least the simulator's deliberate duplicates; more when it retried a
    // delivery whose 2xx it did not see in time (also a legitimate duplicate).
    poll_until(Duration::from_secs(30), "duplicates recorded", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'duplicate'").await >= dup_sent).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    let applied = scalar(&conn, "SELECT COALESCE(SUM(events), 0) FROM callback_inbox WHERE state = 'processed'").await;
    assert_eq!(applied, completed, "each completed attempt applied by exactly one callback");
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0, "no reference dialed twice");
    assert_eq!(sim.stats.calls_dialed.load(Relaxed) as i64, completed, "every dial reported exactly once");

    // A mixed distribution actually happened and was normalized.
    for d in ["answered", "no_answer", "busy", "vacant"] {
        let n = scalar(&conn, &format!("SELECT COUNT(*) FROM attempts WHERE disposition = '{d}'")).await;
        assert!(n > 0, "no `{d}` outcome in the run");
    }
    assert!(scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state = 'suppressed'").await > 0, "complaints suppress");
    assert!(
        scalar(&conn, "SELECT COUNT(*) FROM contacts WHERE state = 'exhausted'").await > 0,
        "some ran out of attempts"
    );

    let status = cli(&config, &["status", "e2e"]);
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(out.contains("e2e: completed"), "{out}");
    // The running daemon leads the sweeps, and status says so.
    assert!(out.contains("sweeps led by "), "{out}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_refusals_back_off_without_consuming_attempts_or_double_dialing() {
    let db = TestDb::new();
    // The vendor refuses 40 % of batches (503) before dialing anything.
    let sim = start_sim(doubles::sim::SimSettings { dispatch_failure_rate: 0.4, ..fast_sim(0.0) }).await;
    let sim_url = sim.base_url();
    let spec =
        ConfigSpec { contacts: 300, campaign_cap: 20, vendor_caps: (15, 10), ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, "");
    let conn = db.connect().await;
    let _daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(180), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let failed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'failed'").await;
    assert!(failed > 0, "refusals must have happened");
    assert!(sim.stats.batches_refused.load(Relaxed) > 0);
    // Refused attempts are not counted against max_attempts: contacts still
    // got their full recall treatment, and nobody was stopped for refusals.
    assert_final(&conn, 300, 3, Duration::from_secs(1)).await;
    let over = scalar(
        &conn,
        "SELECT COUNT(*) FROM (SELECT contact_id FROM attempts GROUP BY contact_id \
         HAVING SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) > 0 \
            AND SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) >= 1) AS x",
    )
    .await;
    assert!(over > 0, "contacts with refused attempts were still dialed afterwards");
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0);
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(sim.stats.calls_dialed.load(Relaxed) as i64, completed);
}
