//! Peak RSS of the real release binary (`campaignd run`) idling, with its
//! scheduler ticking, on a database holding the largest import's contacts.

use super::config::{BenchConfig, CAMPAIGN};
use super::import::ImportedDb;
use super::per_second;
use super::report::{Report, dec, int, mib};
use anyhow::Context as _;
use chrono::Datelike;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const STARTUP_LIMIT: Duration = Duration::from_secs(120);
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);
const READY_LINE: &str = "campaignd listening on http://";

/// A one-minute window three days from today (UTC): every zone within ±14 h
/// of UTC is on another weekday, so no contact can be called during the run.
fn closed_windows() -> String {
    let day = (chrono::Utc::now() + chrono::Duration::days(3)).weekday();
    let name = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.num_days_from_monday() as usize];
    format!("{name} 00:00-00:01")
}

pub async fn measure(db: &ImportedDb, idle: Duration, report: &mut Report) -> anyhow::Result<()> {
    // Cargo builds the binary for benches and says where it is.
    let exe = Path::new(env!("CARGO_BIN_EXE_campaignd"));
    anyhow::ensure!(exe.exists(), "{} is missing: run `cargo build --release` first", exe.display());
    // The shipped config's scheduler settings, with every contact outside its window:
    // each tick claims due contacts and defers them to their next window.
    let config =
        BenchConfig { windows: closed_windows(), campaign_max_concurrency: 500, ..BenchConfig::new(&db.db_file) };
    let config_file = config.write()?;
    let log_file = db.db_file.with_extension("log");

    let mut daemon = Command::new(exe)
        .arg("--config")
        .arg(&config_file)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_file)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let pid = daemon.id().context("the daemon has no pid")?;
    // Keep stdout open while the daemon runs: it must not write to a closed pipe.
    let mut stdout = BufReader::new(daemon.stdout.take().context("no stdout")?).lines();
    let started = Instant::now();
    wait_ready(&mut stdout, &log_file).await?;
    let startup = started.elapsed();

    idle_while_alive(&mut daemon, idle, &log_file).await?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let peak = status_kib(&status, "VmHWM")?;
    let current = status_kib(&status, "VmRSS")?;
    let stop = terminate(&mut daemon, pid).await?;
    drop(stdout);
    let deferred = deferred_contacts(&config).await?;

    let contacts = int(db.contacts as f64);
    report.add(
        format!("Peak RSS (VmHWM), daemon idle {} s, {contacts} contacts", idle.as_secs()),
        dec(mib(peak * 1024)),
        "MiB",
        format!(
            "VmRSS at the end {} MiB; startup {} s; {} contacts deferred by its ticks ({}/s); SIGTERM to exit {} ms",
            dec(mib(current * 1024)),
            dec(startup.as_secs_f64()),
            int(deferred as f64),
            int(per_second(deferred as f64, idle)),
            stop.as_millis()
        ),
    );
    Ok(())
}

/// Read stdout until the daemon says it is listening.
async fn wait_ready(
    stdout: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    log: &Path,
) -> anyhow::Result<()> {
    let ready = async {
        while let Some(line) = stdout.next_line().await? {
            if line.starts_with(READY_LINE) {
                return Ok(());
            }
        }
        anyhow::bail!("the daemon exited before listening; see {}", log.display())
    };
    tokio::time::timeout(STARTUP_LIMIT, ready).await.with_context(|| format!("no `{READY_LINE}` line"))?
}

/// Let the daemon run for `idle`, failing at once if it exits meanwhile.
async fn idle_while_alive(daemon: &mut Child, idle: Duration, log: &Path) -> anyhow::Result<()> {
    let until = Instant::now() + idle;
    while Instant::now() < until {
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!("the daemon exited ({status}) while idling: {}", read_tail(log));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// SIGTERM by pid (graceful shutdown), then wait for the exit.
async fn terminate(daemon: &mut Child, pid: u32) -> anyhow::Result<Duration> {
    let sent = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
    anyhow::ensure!(kill.success(), "kill -TERM {pid} failed");
    let status = tokio::time::timeout(SHUTDOWN_LIMIT, daemon.wait()).await.context("no exit after SIGTERM")??;
    anyhow::ensure!(status.success(), "the daemon exited with {status}");
    Ok(sent.elapsed())
}

/// A `Vm*:   1234 kB` line of /proc/<pid>/status, in KiB.
fn status_kib(status: &str, field: &str) -> anyhow::Result<u64> {
    let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field} line"))?;
    let kib = line.split_whitespace().nth(1).with_context(|| format!("bad line `{line}`"))?;
    Ok(kib.parse()?)
}

/// Contacts the daemon's ticks moved to a later window (their `updated_at`
/// no longer equals the import's `created_at`): proof that it was ticking.
async fn deferred_contacts(config: &BenchConfig) -> anyhow::Result<i64> {
    let settings = config.settings()?;
    let conn = campaignd::store::db::connect(&settings.database).await?;
    let sql = format!(
        "SELECT COUNT(*) FROM contacts WHERE updated_at <> created_at \
         AND campaign_id = (SELECT id FROM campaigns WHERE name = '{CAMPAIGN}')"
    );
    let deferred = super::count(&conn, &sql).await?;
    conn.close().await?;
    Ok(deferred)
}

fn read_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
