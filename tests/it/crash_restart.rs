//! The daemon's process lifecycle. kill -9 mid-campaign, restart, and the
//! campaign completes with the same guarantees; SIGTERM exits 0 and a
//! restart resumes; SIGHUP reloads the config (`lifecycle/reload.rs`);
//! start-up races, the single-instance lock and the idle notice
//! (`lifecycle/startup.rs`).

use crate::common;
#[path = "lifecycle/reload.rs"]
mod reload;
#[path = "lifecycle/startup.rs"]
mod startup;

use common::daemon::Daemon;
use common::invariants::{assert_final, assert_peaks, spawn_sampler};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use doubles::sim::SimSettings;
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

/// A count from the environment (the long runs of docs/reliability.md set them),
/// else the CI default.
fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name} must be a whole number, got `{v}`")),
        Err(_) => default,
    }
}

/// The crash loop of docs/reliability.md: the daemon is killed with SIGKILL at
/// random moments spread over a whole campaign while the simulator (in this
/// test process, so it outlives every kill and keeps the record of every
/// answer the daemon gave to a callback) dials, duplicates callbacks up to
/// three times and delivers them out of order. CI runs it small; the long
/// run sets `CAMPAIGND_SOAK_CONTACTS` and `CAMPAIGND_SOAK_KILLS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_loses_no_acknowledged_callback_and_dials_no_number_twice_at_once() {
    use rand::{Rng, SeedableRng};
    let contacts = env_count("CAMPAIGND_SOAK_CONTACTS", 1200);
    let kills = env_count("CAMPAIGND_SOAK_KILLS", 4);
    let seed = env_count("CAMPAIGND_SOAK_SEED", rand::random::<u16>() as usize) as u64;
    eprintln!(
        "crash loop: {contacts} contacts, {kills} kills, seed {seed} (CAMPAIGND_SOAK_SEED reproduces the moments)"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let db = TestDb::new();
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(20),
        latency_max: Duration::from_millis(400),
        duplicate_max: 3,
        callback_jitter: Duration::from_millis(300),
        callback_retries: 20,
        ..fast_sim(0.15)
    })
    .await;
    let config = setup(&db, &sim.base_url(), contacts);
    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());
    let started = std::time::Instant::now();

    for k in 0..kills {
        let mut daemon = Daemon::start(&config);
        // Spread the kills over the campaign: each waits for its share of
        // the contacts to be dialed, then a random moment more.
        let share = (k + 1) * contacts / (kills + 1);
        poll_until(Duration::from_secs(600), "the next share of contacts dialed", || async {
            (scalar(&conn, "SELECT COUNT(DISTINCT contact_id) FROM attempts").await >= share as i64).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await; // the random moment, not a wait
        daemon.kill9();
    }
    let _last = Daemon::start(&config);
    complete_with_every_guarantee(&conn, &sim, contacts, Duration::from_secs(1800), (stop, peaks, sampler)).await;
    let acked = acknowledged_in_inbox(&conn, &sim.deliveries()).await;
    eprintln!("crash loop figures: contacts={contacts} kills={kills} seconds={} {acked}", started.elapsed().as_secs());
    assert_eq!(acked.missing, 0, "acknowledged callbacks missing from the inbox: {acked}");
}

type Sampler = (Arc<AtomicBool>, Arc<common::invariants::Peaks>, tokio::task::JoinHandle<()>);

/// Wait for the e2e campaign to complete and the simulator's deliveries
/// (duplicates, retries) to land, stop the in-flight sampler, then check the
/// guarantees every scenario keeps: caps, terminal contacts within limits,
/// no reference dialed twice, no number on two lines at once.
async fn complete_with_every_guarantee(
    conn: &sea_orm::DatabaseConnection,
    sim: &doubles::sim::SimHandle,
    contacts: usize,
    limit: Duration,
    (stop, peaks, sampler): Sampler,
) {
    poll_until(limit, "campaign completed", || async {
        (scalar(conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    poll_until(Duration::from_secs(120), "the simulator's deliveries finished", || async {
        (sim.stats.callbacks_pending.load(Relaxed) == 0).then_some(())
    })
    .await;
    stop.store(true, Relaxed);
    sampler.await.unwrap();
    assert_peaks(&peaks, 40, &[("sim-a", 30), ("sim-b", 15)]);
    assert_final(conn, contacts as i64, 3, Duration::from_secs(1)).await;
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0, "a reference was dialed twice");
    assert_eq!(sim.stats.number_overlaps.load(Relaxed), 0, "a number was on two lines at once");
}

/// The daemon's answers to the simulator's deliveries against the inbox.
struct Acknowledged {
    by_status: std::collections::BTreeMap<u16, usize>,
    acknowledged: usize,
    missing: usize,
}

impl std::fmt::Display for Acknowledged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answers={:?} acknowledged={} missing_from_inbox={}", self.by_status, self.acknowledged, self.missing)
    }
}

async fn acknowledged_in_inbox(
    conn: &sea_orm::DatabaseConnection,
    deliveries: &[doubles::sim::DeliveryRecord],
) -> Acknowledged {
    let stored: std::collections::HashSet<String> = common::rows(conn, "SELECT dedupe_key FROM callback_inbox")
        .await
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    let mut by_status = std::collections::BTreeMap::new();
    let (mut acknowledged, mut missing) = (0, 0);
    for d in deliveries {
        *by_status.entry(d.status).or_insert(0) += 1;
        if (200..300).contains(&d.status) {
            acknowledged += 1;
            missing += usize::from(!stored.contains(&d.sha256));
        }
    }
    Acknowledged { by_status, acknowledged, missing }
}

/// Vendor faults, all at once, from the simulator in this process: CreateBatch
/// refused with 5xx (20 %) and, for a while, answered only after the
/// daemon's request timeout; results never called back (10 %: found by
/// lookup), delivered again 1–5 times (30 %), out of order, and validly
/// signed results for calls the daemon never sent (20 %). The campaign must
/// complete with every guarantee, every dial with exactly one result, and
/// every acknowledged body stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_faults_all_at_once_lose_nothing_and_dial_nothing_twice() {
    let contacts = env_count("CAMPAIGND_FAULTS_CONTACTS", 600);
    let db = TestDb::new();
    let sim = start_sim(SimSettings {
        dispatch_failure_rate: 0.2,
        callback_drop_rate: 0.1,
        duplicate_max: 5,
        callback_jitter: Duration::from_millis(500),
        unknown_callback_rate: 0.2,
        ..fast_sim(0.3)
    })
    .await;
    let config = setup(&db, &sim.base_url(), contacts);
    // A short request timeout, so that held answers are timeouts.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("max_concurrency = 30", "max_concurrency = 30\nrequest_timeout = \"500ms\"");
    std::fs::write(&config, text.replace("max_concurrency = 15", "max_concurrency = 15\nrequest_timeout = \"500ms\""))
        .unwrap();
    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());
    let started = std::time::Instant::now();
    let _daemon = Daemon::start(&config);

    poll_until(Duration::from_secs(120), "a fifth of the contacts dialed", || async {
        (scalar(&conn, "SELECT COUNT(DISTINCT contact_id) FROM attempts").await >= (contacts / 5) as i64).then_some(())
    })
    .await;
    // The vendor API hangs past the request timeout for a while.
    sim.hold_answers(Duration::from_secs(2));
    let held_from = sim.stats.batches_accepted.load(Relaxed);
    poll_until(Duration::from_secs(60), "a few batches answered too late", || async {
        (sim.stats.batches_accepted.load(Relaxed) >= held_from + 5).then_some(())
    })
    .await;
    sim.hold_answers(Duration::ZERO);
    let fault_ended = std::time::Instant::now();
    let dialed_at_end = sim.stats.calls_dialed.load(Relaxed);
    poll_until(Duration::from_secs(60), "dialing resumed after the slow answers", || async {
        (sim.stats.calls_dialed.load(Relaxed) > dialed_at_end + 20).then_some(())
    })
    .await;
    let recovered = fault_ended.elapsed();
    complete_with_every_guarantee(&conn, &sim, contacts, Duration::from_secs(600), (stop, peaks, sampler)).await;
    let s = &sim.stats;
    assert!(s.batches_refused.load(Relaxed) > 0 && s.callbacks_dropped.load(Relaxed) > 0);
    assert!(s.unknown_callbacks_sent.load(Relaxed) > 0 && s.duplicate_callbacks_sent.load(Relaxed) > 0);
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(
        s.calls_dialed.load(Relaxed) as i64,
        completed,
        "every dial has exactly one result (dropped ones by lookup)"
    );
    let acked = acknowledged_in_inbox(&conn, &sim.deliveries()).await;
    eprintln!(
        "vendor faults figures: contacts={contacts} seconds={} refused_batches={} dropped={} duplicates={} unknown={} recovered_after_slow_answers_ms={} {acked}",
        started.elapsed().as_secs(),
        s.batches_refused.load(Relaxed),
        s.callbacks_dropped.load(Relaxed),
        s.duplicate_callbacks_sent.load(Relaxed),
        s.unknown_callbacks_sent.load(Relaxed),
        recovered.as_millis(),
    );
    assert_eq!(acked.missing, 0, "acknowledged callbacks missing from the inbox: {acked}");
}
