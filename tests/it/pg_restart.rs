//! PostgreSQL restarted, or stopped for seconds, in the middle of a campaign:
//! the daemon stays up, its pool reconnects on its own, and the campaign
//! completes with nothing lost — every dial the vendor made has its result
//! recorded once, no attempt is left in flight, nobody is dialed twice.
//!
//! These tests restart the local PostgreSQL cluster (`pg_ctlcluster`, as
//! root), so the server they use must be that cluster; each has the server
//! to itself (`TestDb::postgres_alone`): the other tests' PostgreSQL
//! databases wait, in this process. (Tests of other processes on the same
//! server should not run meanwhile.)

use crate::common;

use common::daemon::Daemon;
use common::invariants::assert_final;
use common::recorder::{Recorder, acknowledged_vs_stored, by_status};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use doubles::sim::SimSettings;
use sea_orm::DatabaseConnection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const CONTACTS: usize = 2000;

/// How long PostgreSQL stays down in the outage test.
const OUTAGE: Duration = Duration::from_secs(10);

/// After the server is back, callbacks and `/readyz` are back within this.
const RECOVERS_WITHIN: Duration = Duration::from_secs(10);

const RECOVERY: &str = common::FAULT_RECOVERY;

/// Run `pg_ctlcluster` on the only local cluster.
fn pg_ctlcluster(action: &str, output: Stdio) -> std::process::ExitStatus {
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql: these tests control the local PostgreSQL cluster")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(versions.len(), 1, "expected one PostgreSQL version in /etc/postgresql, found {versions:?}");
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &versions[0], "main", action])
        .stdout(Stdio::null())
        .stderr(output)
        .status()
        .expect("run pg_ctlcluster")
}

fn must(action: &str) {
    let status = pg_ctlcluster(action, Stdio::inherit());
    assert!(status.success(), "pg_ctlcluster {action}: {status}");
}

/// The server is started again even when the test fails while it is down.
/// (Declared after the [`Run`], so it drops first: the run's database is
/// dropped, and the server handed on, only once the server is up again.)
struct StartOnDrop;

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        // Exits non-zero when it is running already; that is fine here.
        let _ = pg_ctlcluster("start", Stdio::null());
    }
}

/// A running 2,000-contact campaign on a fresh PostgreSQL database, with
/// `database` added to the config's `[database]` table.
/// (Fields drop in order: the daemon stops before its database is dropped.)
struct Run {
    daemon: Daemon,
    sim: doubles::sim::SimHandle,
    conn: DatabaseConnection,
    log: PathBuf,
    _db: TestDb,
}

async fn start_run(database: &str) -> Run {
    let db = TestDb::postgres_alone();
    // Calls of 0.2-0.6 s: a few dozen are on the line at any moment. Two
    // retries 200 ms apart: a callback that meets a multi-second outage is
    // given up, like a real vendor's after its last retry.
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(200),
        latency_max: Duration::from_millis(600),
        callback_retries: 2,
        ..fast_sim(0.1)
    })
    .await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: CONTACTS, extra_scheduler: RECOVERY, ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, "");
    add_to_database_table(&config, database);
    let conn = db.connect().await;
    let log = db.path("daemon.log");
    let daemon = Daemon::start_logging_to(&config, &log);
    Run { daemon, sim, conn, log, _db: db }
}

fn add_to_database_table(config: &Path, lines: &str) {
    let text = std::fs::read_to_string(config).expect("read config");
    assert!(text.contains("[database]\n"));
    std::fs::write(config, text.replacen("[database]\n", &format!("[database]\n{lines}\n"), 1)).expect("write config");
}

/// Until some attempts have finished and most contacts are still to dial.
async fn wait_until_mid_run(conn: &DatabaseConnection) {
    poll_until(Duration::from_secs(120), "the campaign mid-run", || async {
        let finished = scalar(conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
        let pending = scalar(conn, "SELECT COUNT(*) FROM contacts WHERE state = 'pending'").await;
        (finished >= 200 && pending >= CONTACTS as i64 / 2).then_some(())
    })
    .await;
}

async fn server_started_at(conn: &DatabaseConnection) -> String {
    let rows = common::rows(conn, "SELECT pg_postmaster_start_time()::text").await;
    rows[0].try_get_by_index::<String>(0).expect("start time")
}

/// CPU time (user + system) the daemon process has used so far.
fn cpu_time(daemon: &Daemon) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", daemon.child.id())).expect("read /proc/<pid>/stat");
    // Fields after the command name (which may contain spaces) start at field 3;
    // utime and stime are fields 14 and 15, in clock ticks.
    let rest: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks: u64 = rest[11].parse::<u64>().expect("utime") + rest[12].parse::<u64>().expect("stime");
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf CLK_TCK");
    let per_second: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("CLK_TCK");
    Duration::from_millis(ticks * 1000 / per_second)
}

fn assert_alive(daemon: &mut Daemon, when: &str) {
    let exited = daemon.child.try_wait().expect("try_wait");
    assert!(exited.is_none(), "campaignd exited {when}: {exited:?}");
}

/// Completion, and the proof that nothing was lost or done twice.
async fn assert_completed_with_nothing_lost(run: &mut Run) {
    let conn = &run.conn;
    poll_until(Duration::from_secs(300), "campaign completed after the disruption", || async {
        (scalar(conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    assert_alive(&mut run.daemon, "after the disruption");
    assert_final(conn, CONTACTS as i64, 3, Duration::from_secs(1)).await;

    let stats = &run.sim.stats;
    poll_until(Duration::from_secs(30), "the simulator finished delivering", || async {
        (stats.callbacks_pending.load(Relaxed) == 0).then_some(())
    })
    .await;
    assert_eq!(stats.double_dials.load(Relaxed), 0, "a reference was dialed twice");
    // A 2xx only for a stored callback: at least one inbox row per delivery
    // the vendor saw answered 2xx (more when a stored one was answered 503).
    let delivered = stats.callbacks_delivered.load(Relaxed) as i64;
    let stored = scalar(conn, "SELECT COUNT(*) FROM callback_inbox").await;
    assert!(stored >= delivered, "{delivered} callbacks answered 2xx, only {stored} stored");
    let dialed = stats.calls_dialed.load(Relaxed) as i64;
    let completed = scalar(conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(completed, dialed, "every dial has exactly one recorded result");
    assert_eq!(scalar(conn, "SELECT COUNT(*) FROM dials").await, dialed, "one dial row per dial made");
    assert_eq!(
        scalar(conn, "SELECT COUNT(*) FROM attempts WHERE state = 'lost'").await,
        0,
        "no result may be lost: the vendor has every one"
    );
    let stuck = scalar(conn, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching', 'dispatched')").await;
    assert_eq!(stuck, 0, "attempts left in flight");
    // Callbacks for calls we do not know wait up to dispatch_timeout (2 s), then end unmatched.
    poll_until(Duration::from_secs(30), "every stored callback processed", || async {
        (scalar(conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await == 0).then_some(())
    })
    .await;
}

/// The daemon's log lines at WARN or ERROR.
fn loud_lines(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).expect("read the daemon's log");
    let loud: Vec<String> =
        text.lines().filter(|l| l.contains(" ERROR ") || l.contains(" WARN ")).map(str::to_string).collect();
    eprintln!("daemon log, {} warnings and errors:\n{}", loud.len(), loud.join("\n"));
    loud
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restart_mid_campaign_loses_nothing() {
    // Default pool settings: the restart is shorter than acquire_timeout, so
    // most database calls just wait it out.
    let mut run = start_run("").await;
    let _restart = StartOnDrop;
    wait_until_mid_run(&run.conn).await;
    let before = server_started_at(&run.conn).await;

    must("restart");
    assert_alive(&mut run.daemon, "during the restart");
    assert_ne!(server_started_at(&run.conn).await, before, "PostgreSQL was not restarted");
    assert_completed_with_nothing_lost(&mut run).await;

    let loud = loud_lines(&run.log);
    assert!(loud.len() <= 60, "{} warnings and errors for one restart:\n{}", loud.len(), loud.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_without_postgresql_mid_campaign_lose_nothing() {
    // A 1 s acquire timeout: during the outage ticks, callback inserts,
    // dispatch write-backs and sweeps fail instead of waiting it out.
    let mut run = start_run(r#"acquire_timeout = "1s""#).await;
    let _restart = StartOnDrop;
    wait_until_mid_run(&run.conn).await;
    let before = server_started_at(&run.conn).await;

    // The vendor holds its answers back for a while: PostgreSQL goes down
    // while a batch it accepted (its calls already dialing) waits for its
    // answer, so the write-back of that answer fails.
    let stats = run.sim.stats.clone();
    run.sim.hold_answers(Duration::from_millis(1500));
    poll_until(Duration::from_secs(30), "a batch answer held at the vendor", || async {
        (stats.batches_held.load(Relaxed) > 0).then_some(())
    })
    .await;
    // A vendor posts callbacks (for calls we do not know) through the outage
    // and records every answer.
    let recorder = Recorder::start(run.daemon.url("/callbacks/sim-b"), 2, Duration::from_millis(50));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let stopped = Instant::now();
    let cpu_before = cpu_time(&run.daemon);
    must("stop");
    run.sim.hold_answers(Duration::ZERO);
    eprintln!("PostgreSQL stopped in {:?}", stopped.elapsed());
    let refused = poll_until(OUTAGE, "a callback answered 503 without PostgreSQL", || async {
        recorder.answered_since(stopped, |s| s == 503)
    })
    .await;
    eprintln!("first 503 {:?} after PostgreSQL stopped", refused.sent.duration_since(stopped));
    let ready = client.get(run.daemon.url("/readyz")).send().await.expect("/readyz answers");
    let (status, text) = (ready.status().as_u16(), ready.text().await.unwrap_or_default());
    assert_eq!(
        (status, text.as_str()),
        (503, "store not writable: database unreachable"),
        "/readyz without PostgreSQL"
    );
    // The outage itself, not a synchronization.
    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    assert_alive(&mut run.daemon, "while PostgreSQL was down");
    // Failing loops wait for their next round instead of spinning.
    let (cpu, wall) = (cpu_time(&run.daemon) - cpu_before, stopped.elapsed());
    eprintln!("campaignd used {cpu:?} of CPU in {wall:?} without PostgreSQL");
    assert!(cpu < wall / 4, "campaignd used {cpu:?} of CPU in {wall:?} without PostgreSQL: a loop spins");
    must("start");
    let started = Instant::now();
    let back = poll_until(RECOVERS_WITHIN, "a callback answered 200 after PostgreSQL came back", || async {
        recorder.answered_since(started, |s| s == 200)
    })
    .await;
    let callbacks_back = back.sent.duration_since(started) + back.took;
    poll_until(RECOVERS_WITHIN, "/readyz ready after PostgreSQL came back", || async {
        let r = client.get(run.daemon.url("/readyz")).send().await.ok()?;
        (r.status().as_u16() == 200).then_some(())
    })
    .await;
    let ready_back = started.elapsed();
    let answers = recorder.stop().await;
    assert_ne!(server_started_at(&run.conn).await, before, "PostgreSQL was not stopped");
    assert_completed_with_nothing_lost(&mut run).await;

    let counts = by_status(&answers);
    let (acked, stored) = acknowledged_vs_stored(&run.conn, &answers).await;
    let slowest_503 = answers.iter().filter(|a| a.status == 503).map(|a| a.took).max().unwrap_or_default();
    eprintln!(
        "FIGURES PostgreSQL stopped {OUTAGE:?}: answers by status {counts:?}; acknowledged {acked}, of them stored \
         {stored}; callbacks 200 again {callbacks_back:?} and /readyz 200 {ready_back:?} after the server started; \
         slowest 503 {slowest_503:?}"
    );
    assert_eq!(stored, acked, "callbacks answered 2xx but not in the inbox");
    assert!(counts.keys().all(|s| [200, 503].contains(s)), "only 200 and 503 are right answers here: {counts:?}");
    assert!(slowest_503 < Duration::from_secs(6), "a 503 took {slowest_503:?}: handlers must not hang");

    // The outage hit callbacks: they were refused (never 2xx'd unstored), and
    // some were given up by the vendor; their results came in by lookup.
    assert!(stats.callback_failures.load(Relaxed) > 0, "no callback met the outage");
    assert!(stats.callbacks_abandoned.load(Relaxed) > 0, "no callback was given up: the lookup path went untested");

    // Each loop said once that it failed and once that it works again.
    // (The recorder's callbacks are for calls we do not know, summed up once per pass.)
    let loud: Vec<String> =
        loud_lines(&run.log).into_iter().filter(|l| !l.contains("callbacks for attempts we do not know")).collect();
    let text = loud.join("\n");
    for needle in [
        "store not writable",
        "storing callbacks failed",
        "recording its answer failed",
        "store writable again",
        "storing callbacks works again",
    ] {
        assert!(text.contains(needle), "no `{needle}` in the log:\n{text}");
    }
    assert!(loud.len() <= 60, "{} warnings and errors for a {OUTAGE:?} outage:\n{text}", loud.len());
}
