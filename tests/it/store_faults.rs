//! The store stops taking writes in the middle of a campaign while a vendor
//! keeps posting callbacks: every callback answered 2xx is in the inbox
//! afterwards, the others got 503 quickly, `/readyz` said why, and the daemon
//! resumed on its own within seconds of the fault ending — no restart.
//!
//! The SQLite file lives on a small tmpfs the test mounts (it needs root, as
//! CI runs it; it fails, never skips, when it cannot mount).

use crate::common;

use common::daemon::Daemon;
use common::invariants::assert_final;
use common::recorder::{Recorder, acknowledged_vs_stored, by_status};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use doubles::sim::SimSettings;
use sea_orm::DatabaseConnection;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CONTACTS: usize = 800;

/// How long the fault lasts once callbacks have met it.
const HOLD: Duration = Duration::from_secs(5);

/// After the fault, callbacks and `/readyz` are back within this.
const RECOVERS_WITHIN: Duration = Duration::from_secs(10);

const RECOVERY: &str = common::FAULT_RECOVERY;

/// A tmpfs mounted at `dir` for the test's lifetime.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("create mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot mount a tmpfs at {} ({status}): this test needs root", dir.display());
        Tmpfs { dir: dir.to_path_buf() }
    }

    /// Take every free byte; returns how many were taken.
    fn fill(&self) -> u64 {
        let mut file = std::fs::File::create(self.dir.join("fill")).expect("create fill file");
        let chunk = vec![0u8; 64 * 1024];
        let mut taken = 0;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => taken += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // Whatever a partial chunk could not take is left too: nothing.
        while file.write(&chunk[..512]).is_ok_and(|n| n > 0) {}
        taken
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.join("fill")).expect("remove fill file");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the daemon may still hold files open while the test unwinds.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// A running campaign on a SQLite file inside a fresh tmpfs.
/// (Fields drop in order: the daemon stops before its tmpfs goes.)
struct Run {
    daemon: Daemon,
    _sim: doubles::sim::SimHandle,
    conn: DatabaseConnection,
    tmpfs: Tmpfs,
    _db: TestDb,
}

async fn start_run() -> Run {
    let mut db = TestDb::sqlite();
    let tmpfs = Tmpfs::mount(&db.path("store"), "32m");
    db.url = format!("sqlite://{}?mode=rwc", tmpfs.dir.join("campaignd.db").display());
    // Calls of 0.2-0.6 s, so the campaign is mid-run when the fault comes;
    // two callback retries 200 ms apart, so the vendor gives some up during
    // it and their results must come back by lookup.
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
    let conn = db.connect().await;
    let daemon = Daemon::start_logging_to(&config, &db.path("daemon.log"));
    Run { daemon, _sim: sim, conn, tmpfs, _db: db }
}

async fn readyz(client: &reqwest::Client, daemon: &Daemon) -> (u16, String) {
    match client.get(daemon.url("/readyz")).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => panic!("/readyz did not answer: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_answers_503_loses_nothing_acknowledged_and_recovers_alone() {
    let mut run = start_run().await;
    let conn = run.conn.clone();
    poll_until(Duration::from_secs(120), "the campaign mid-run", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await >= 100).then_some(())
    })
    .await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let recorder = Recorder::start(run.daemon.url("/callbacks/sim-a"), 2, Duration::from_millis(50));

    let filled = Instant::now();
    let taken = run.tmpfs.fill();
    eprintln!("disk full: {taken} bytes taken");
    let refused = poll_until(Duration::from_secs(60), "a callback answered 503 on the full disk", || async {
        recorder.answered_since(filled, |s| s == 503)
    })
    .await;
    eprintln!("first 503 {:?} after the disk filled", refused.sent.duration_since(filled));
    let (status, text) = readyz(&client, &run.daemon).await;
    assert_eq!((status, text.as_str()), (503, "store not writable: disk full"), "/readyz on a full disk");
    // The fault itself, not a synchronization: it lasts HOLD.
    tokio::time::sleep(HOLD).await;
    let (status, text) = readyz(&client, &run.daemon).await;
    assert_eq!(status, 503, "/readyz still on a full disk: {text}");
    let paused_at = scalar(&conn, "SELECT COUNT(*) FROM attempts").await;

    run.tmpfs.free();
    let freed = Instant::now();
    let back = poll_until(RECOVERS_WITHIN, "a callback answered 200 after space came back", || async {
        recorder.answered_since(freed, |s| s == 200)
    })
    .await;
    let callbacks_back = back.sent.duration_since(freed) + back.took;
    poll_until(RECOVERS_WITHIN, "/readyz ready after space came back", || async {
        (readyz(&client, &run.daemon).await.0 == 200).then_some(())
    })
    .await;
    let ready_back = freed.elapsed();
    poll_until(RECOVERS_WITHIN, "claiming resumed after space came back", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts").await > paused_at).then_some(())
    })
    .await;

    finish(&mut run, recorder, "disk full (SQLite on a full tmpfs)", (callbacks_back, ready_back)).await;
}

/// The campaign completes, and every callback answered 2xx is in the inbox.
async fn finish(run: &mut Run, recorder: Recorder, scenario: &str, recovered: (Duration, Duration)) {
    let conn = &run.conn;
    poll_until(Duration::from_secs(180), "campaign completed after the fault", || async {
        (scalar(conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let answers = recorder.stop().await;
    assert!(run.daemon.child.try_wait().expect("try_wait").is_none(), "campaignd exited");
    assert_final(conn, CONTACTS as i64, 3, Duration::from_secs(1)).await;

    let counts = by_status(&answers);
    let (acked, stored) = acknowledged_vs_stored(conn, &answers).await;
    let slowest_503 = answers.iter().filter(|a| a.status == 503).map(|a| a.took).max().unwrap_or_default();
    eprintln!(
        "FIGURES {scenario}: answers by status {counts:?}; acknowledged {acked}, of them stored {stored}; \
         callbacks 200 again {:?} and /readyz 200 {:?} after the fault ended; slowest 503 {slowest_503:?}",
        recovered.0, recovered.1
    );
    assert_eq!(stored, acked, "callbacks answered 2xx but not in the inbox");
    assert!(counts.get(&503).is_some_and(|n| *n > 0), "no callback met the fault: {counts:?}");
    assert!(counts.keys().all(|s| [200, 503].contains(s)), "only 200 and 503 are right answers here: {counts:?}");
    assert!(slowest_503 < Duration::from_secs(6), "a 503 took {slowest_503:?}: handlers must not hang");
}
