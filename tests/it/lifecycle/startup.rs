//! Start-up: no race between a starting daemon and CLI commands on a fresh
//! database, one daemon per SQLite file even when its files are deleted, and
//! a daemon with nothing to dial says so.

use crate::common::daemon::{Daemon, cli, launch};
use crate::common::{ConfigSpec, TestDb, poll_until, start_sim, write_contacts};
use doubles::sim::SimSettings;
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

async fn exit_within(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    poll_until(timeout, what, || {
        let exited = child.try_wait().expect("try_wait");
        async move { exited }
    })
    .await
}

/// Issue 12 saw `run &` followed at once by `status` fail 6 times in 6 on a
/// fresh SQLite file (`table "campaigns" already exists`, `database is
/// locked`), the daemon dying in 2. Here `status` and `import` start while
/// the daemon is still creating the database, ten times over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_then_status_and_import_at_once_on_a_fresh_database_all_succeed() {
    let sim = start_sim(SimSettings::default()).await;
    for round in 0..10 {
        let db = TestDb::new();
        let config = db.path("config.toml");
        std::fs::write(&config, ConfigSpec::new(&db.url, &sim.base_url()).render()).unwrap();
        let csv = db.path("contacts.csv");
        write_contacts(&csv, 3);
        let log = std::fs::File::create(db.path("daemon.log")).unwrap();
        let child = launch(&config, Stdio::from(log), "warn");
        let (c1, c2) = (config.clone(), config.clone());
        let csv = csv.to_str().unwrap().to_string();
        let status = std::thread::spawn(move || cli(&c1, &["status"]));
        let import = std::thread::spawn(move || cli(&c2, &["import", "--campaign", "e2e", &csv]));
        let (status, import) = (status.join().unwrap(), import.join().unwrap());
        assert!(status.status.success(), "round {round}: status failed: {}", String::from_utf8_lossy(&status.stderr));
        assert!(import.status.success(), "round {round}: import failed: {}", String::from_utf8_lossy(&import.stderr));
        assert!(String::from_utf8_lossy(&import.stdout).contains("3 imported"), "round {round}");
        let mut daemon = Daemon::listening(child);
        let health = reqwest::get(daemon.url("/healthz")).await.expect("the daemon serves");
        assert!(health.status().is_success(), "round {round}");
        let exit = daemon.terminate();
        let log = std::fs::read_to_string(db.path("daemon.log")).unwrap();
        assert!(exit.success(), "round {round}: the daemon stayed up and stops cleanly ({exit}):\n{log}");
    }
}

/// Deleting `campaignd.db*` and the lock file under a running daemon used to
/// let a second daemon create a new database beside it. The first daemon
/// is stopped (SIGSTOP) while the files go and the second starts, so it
/// cannot notice the deletion first: the second must still refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_database_files_does_not_let_a_second_daemon_in_and_stops_the_first() {
    let db = TestDb::sqlite();
    let sim = start_sim(SimSettings::default()).await;
    let config = ConfigSpec { contacts: 5, ..ConfigSpec::new(&db.url, &sim.base_url()) }.write(&db, "");
    let log = db.path("first.log");
    let mut first = Daemon::start_logging_to(&config, &log);
    first.signal("STOP");
    let files = ["campaignd.db", "campaignd.db-wal", "campaignd.db-shm", "campaignd.db.lock"];
    for f in files {
        let _ = std::fs::remove_file(db.path(f));
    }
    assert!(!db.path("campaignd.db").exists() && !db.path("campaignd.db.lock").exists());

    let second_log = db.path("second.log");
    let mut second = launch(&config, Stdio::from(std::fs::File::create(&second_log).unwrap()), "warn");
    let exit = exit_within(&mut second, Duration::from_secs(30), "the second daemon to refuse").await;
    let said = std::fs::read_to_string(&second_log).unwrap();
    assert!(!exit.success(), "the second daemon must refuse to start:\n{said}");
    assert!(said.contains("another campaignd is already running on"), "{said}");
    assert!(!db.path("campaignd.db").exists(), "the refused daemon created a new database");

    first.signal("CONT");
    let exit = exit_within(&mut first.child, Duration::from_secs(30), "the first daemon to stop").await;
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(!exit.success(), "the first daemon must stop with an error once its file is gone:\n{said}");
    // "deleted", or "replaced" when its own pool opened a new connection
    // (creating an empty file) before the once-a-second check ran.
    let stopped = said.lines().find(|l| l.contains("while campaignd was running")).unwrap_or_default();
    assert!(stopped.contains("campaignd.db was deleted") || stopped.contains("campaignd.db was replaced"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_nothing_to_dial_says_how_to_give_it_work() {
    let db = TestDb::new();
    let sim = start_sim(SimSettings::default()).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec::new(&db.url, &sim_url);
    let config = spec.write(&db, "");
    let log = db.path("idle.log");
    let mut idle = Daemon::start_logging_to(&config, &log);
    let text = poll_until(Duration::from_secs(10), "the nothing-to-dial line", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("nothing to dial").then_some(text)
    })
    .await;
    let line = text.lines().find(|l| l.contains("nothing to dial")).unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("campaign e2e has no contacts left to call"), "{line}");
    assert!(line.contains("campaignd import --campaign e2e FILE") && line.contains("contacts_file"), "{line}");
    assert!(idle.terminate().success());

    // With contacts to call, no such line.
    let csv = db.path("contacts.csv");
    write_contacts(&csv, 3);
    assert!(cli(&config, &["import", "--campaign", "e2e", csv.to_str().unwrap()]).status.success());
    let log = db.path("busy.log");
    let mut busy = Daemon::start_logging_at(&config, &log, "info,sea_orm=warn,sqlx=warn");
    let text = poll_until(Duration::from_secs(10), "the running line", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("campaignd running").then_some(text)
    })
    .await;
    assert!(!text.contains("nothing to dial"), "{text}");
    assert!(busy.terminate().success());
}
