//! End to end: the release binary as a separate process, the simulator (no
//! call latency) in this bench's process so that the daemon's peak RSS is its
//! own (`CAMPAIGND_BENCH_E2E_SIM=embedded`: inside the daemon, through
//! `embedded_listen`, as before), a campaign whose recall
//! rules redial no-answer and busy up to 3 attempts in all, windows open all
//! day. The contacts are imported with `campaignd import` first (its own
//! process, timed apart); the clock runs from the daemon's start until every
//! contact is final, then the daemon's peak RSS (VmHWM) is read. The run
//! fails unless every attempt is final and no contact was dialed more than
//! 3 times.

use super::config::{API_KEY, CALLBACK_SECRET, CAMPAIGN, Synchronous, VENDOR_ID};
use super::daemon::{self, Daemon, Metrics, Profile};
use super::report::{Report, dec, int, mib};
use super::thread_times::ThreadTimes;
use super::writer_share::WriterShare;
use super::{count, import::write_csv, loopback_listener, per_second};
use anyhow::Context as _;
use doubles::sim::{self, SimAuth, SimHandle, SimSettings};
use sea_orm::DatabaseConnection;
use std::path::Path;
use std::time::{Duration, Instant};

const MAX_ATTEMPTS: i64 = 3;
/// A run that has not finished by then has failed.
const LIMIT: Duration = Duration::from_secs(600);
/// How often the database is read for the open contacts (paces the polling only).
const POLL: Duration = Duration::from_millis(250);

/// Where the simulator runs: `CAMPAIGND_BENCH_E2E_SIM=embedded` puts it
/// inside the daemon; by default it runs in this process.
pub const SIM_ENV: &str = "CAMPAIGND_BENCH_E2E_SIM";

/// The `[vendors.sim]` table, also the settings of the simulator run here.
const SIM_TABLE: &str = r#"latency_min = "0s"
latency_max = "0s"
max_lines = 2000
outcomes = { ANSWERED = 50, NO_ANSWER = 30, BUSY = 20 }
intents = { PTP = 50, REFUSE = 50 }
"#;

/// `CAMPAIGND_BENCH_E2E_SENDERS=N`: the simulator sends at most N callbacks
/// at once (`callback_senders`, a vendor's webhook workers) and the daemon
/// keeps its deployed per-address cap of 64 connections. Unset: every
/// finished call's callback at once (~1,800 connections), let in by a cap
/// of 3,000.
pub const SENDERS_ENV: &str = "CAMPAIGND_BENCH_E2E_SENDERS";

fn senders() -> anyhow::Result<Option<usize>> {
    std::env::var(SENDERS_ENV)
        .ok()
        .map(|v| v.parse().map_err(|_| anyhow::anyhow!("{SENDERS_ENV}: `{v}` is not a count")))
        .transpose()
}

/// `CAMPAIGND_BENCH_E2E_DB_CONNECTIONS=N`: the daemon's `database.max_connections`
/// (unset: the daemon's default), to weigh each pooled SQLite connection's
/// memory (page cache, prepared statements) against the run's time.
pub const DB_CONNECTIONS_ENV: &str = "CAMPAIGND_BENCH_E2E_DB_CONNECTIONS";

fn db_connections_line() -> anyhow::Result<String> {
    match std::env::var(DB_CONNECTIONS_ENV) {
        Err(_) => Ok(String::new()),
        Ok(v) => {
            let n: u32 = v.parse().map_err(|_| anyhow::anyhow!("{DB_CONNECTIONS_ENV}: `{v}` is not a count"))?;
            Ok(format!("max_connections = {n}\n"))
        }
    }
}

/// `CAMPAIGND_BENCH_E2E_SYNCHRONOUS=normal`: the daemon's
/// `database.sqlite_synchronous` (unset: its default, `full`). In WAL mode
/// `normal` leaves out the fsync of every commit, so the difference between
/// the two runs is what the commits' fsyncs cost, end to end: the most that
/// fewer commits could gain.
pub const SYNCHRONOUS_ENV: &str = "CAMPAIGND_BENCH_E2E_SYNCHRONOUS";

fn synchronous() -> anyhow::Result<Option<Synchronous>> {
    let Ok(v) = std::env::var(SYNCHRONOUS_ENV) else { return Ok(None) };
    match Synchronous::parse(&v) {
        Some(s) => Ok(Some(s)),
        None => anyhow::bail!("{SYNCHRONOUS_ENV}: `{v}` is neither `full` nor `normal`"),
    }
}

/// The `[vendors.sim]` table with the senders of [`SENDERS_ENV`], if any.
fn sim_table() -> anyhow::Result<String> {
    Ok(match senders()? {
        Some(n) => format!("{SIM_TABLE}callback_senders = {n}\n"),
        None => SIM_TABLE.to_string(),
    })
}

/// The simulator: inside the daemon, or in this process at `base_url`.
enum Sim {
    Embedded,
    Here(SimHandle),
}

impl Sim {
    async fn start() -> anyhow::Result<Sim> {
        if std::env::var(SIM_ENV).is_ok_and(|v| v == "embedded") {
            return Ok(Sim::Embedded);
        }
        let settings = SimSettings { record_deliveries: false, ..toml::from_str(&sim_table()?)? };
        let auth = SimAuth { api_key: API_KEY.into(), callback_secret: CALLBACK_SECRET.into() };
        let (listener, _) = loopback_listener().await?;
        Ok(Sim::Here(sim::spawn(settings, auth, listener).await?))
    }

    /// The vendor's line that says where the simulator listens.
    fn address_line(&self) -> String {
        match self {
            Sim::Embedded => r#"embedded_listen = "127.0.0.1:0""#.to_string(),
            Sim::Here(handle) => format!(r#"base_url = "{}""#, handle.base_url()),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Sim::Embedded => "the daemon with the embedded simulator",
            Sim::Here(_) => "the daemon alone (the simulator runs in the bench's process)",
        }
    }
}

/// The daemon's config: high caps so the store, not a limit, sets the pace.
fn config(db_file: &Path, sim: &Sim) -> anyhow::Result<String> {
    Ok(format!(
        r#"[database]
url = "sqlite://{db}?mode=rwc"
{db_connections}{synchronous}
[http]
listen = "127.0.0.1:0"
{peer_cap}
[scheduler]
tick = "200ms"
claim_batch = 2000

[[vendors]]
id = "{VENDOR_ID}"
kind = "sim"
{address}
api_key = "{API_KEY}"
callback_secret = "{CALLBACK_SECRET}"
max_concurrency = 2000

[vendors.sim]
{sim_table}
[[campaigns]]
name = "{CAMPAIGN}"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 2000
vendors = ["{VENDOR_ID}"]
default_country_code = "62"

[campaigns.recall]
max_attempts = {MAX_ATTEMPTS}
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy"]
retry_after = "1s"
max = 2
"#,
        db = db_file.display(),
        db_connections = db_connections_line()?,
        synchronous = synchronous()?.map_or(String::new(), |s| format!("sqlite_synchronous = \"{}\"\n", s.as_str())),
        address = sim.address_line(),
        sim_table = sim_table()?,
        // Without a senders pool the simulator opens one connection per
        // finished call (~1,800 at once), past the deployed cap of 64.
        peer_cap = if senders()?.is_some() { "" } else { "max_connections_per_peer = 3000" },
    ))
}

pub async fn measure(contacts: u64, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db_file = dir.path().join("e2e.db");
    let config_file = dir.path().join("e2e.toml");
    let sim = Sim::start().await?;
    std::fs::write(&config_file, config(&db_file, &sim)?)?;
    let csv = dir.path().join("contacts.csv");
    write_csv(&csv, contacts)?;

    let imported = Instant::now();
    let status = std::process::Command::new(daemon::exe()?)
        .arg("--config")
        .arg(&config_file)
        .args(["import", "--campaign", CAMPAIGN])
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .status()
        .context("campaignd import")?;
    anyhow::ensure!(status.success(), "campaignd import exited with {status}");
    let import_time = imported.elapsed();

    let started = Instant::now();
    let mut daemon = Daemon::start(&config_file, &dir.path().join("e2e.log")).await?;
    let profile = Profile::start(daemon.pid, "e2e")?;
    let reader = campaignd::store::db::connect(&read_only(&db_file)).await?;
    loop {
        daemon.ensure_alive()?;
        let open =
            count(&reader, "SELECT COUNT(*) FROM contacts WHERE state IN ('pending', 'in_flight', 'waiting_retry')")
                .await?;
        if open == 0 {
            break;
        }
        anyhow::ensure!(started.elapsed() < LIMIT, "{open} contacts still open after {LIMIT:?}");
        tokio::time::sleep(POLL).await;
    }
    let elapsed = started.elapsed();
    profile.finish()?;
    let peak = daemon.status_kib("VmHWM")?;
    let writer = WriterShare::between(&Metrics::default(), &daemon.metrics().await?, elapsed.as_secs_f64());
    let threads = ThreadTimes::read(daemon.pid)?.describe(elapsed.as_secs_f64());
    daemon.stop().await?;
    let placement = sim.describe();
    if let Sim::Here(handle) = sim {
        handle.shutdown().await;
    }

    let attempts = count(&reader, "SELECT COUNT(*) FROM attempts").await?;
    let checks = Checks::read(&reader).await?;
    campaignd::store::db::close(reader).await?;
    checks.ensure()?;
    let n = int(contacts as f64);
    let mut variant = match senders()? {
        Some(k) => format!(", callbacks from {k} senders"),
        None => String::new(),
    };
    if let Some(s) = synchronous()? {
        variant.push_str(&format!(", synchronous={}", s.as_str()));
    }
    report.add(
        format!("End to end, {n} contacts, up to {MAX_ATTEMPTS} attempts (release binary{variant})"),
        dec(elapsed.as_secs_f64()),
        "s",
        format!(
            "daemon start to every contact final; {} attempts ({}/s); {}; import beforehand {} s; {writer}; {threads}",
            int(attempts as f64),
            int(per_second(attempts as f64, elapsed)),
            checks.states,
            dec(import_time.as_secs_f64())
        ),
    );
    report.add(
        format!("End to end peak RSS (VmHWM), {n} contacts{variant}"),
        dec(mib(peak * 1024)),
        "MiB",
        format!("{placement}, read when every contact was final"),
    );
    Ok(())
}

/// A second connection that only reads, while the daemon writes (WAL).
fn read_only(db_file: &Path) -> campaignd::config::DatabaseSettings {
    let settings = super::config::BenchConfig::new(db_file).settings().expect("bench config");
    campaignd::config::DatabaseSettings {
        url: format!("sqlite://{}?mode=ro", db_file.display()),
        max_connections: 1,
        min_connections: 1,
        ..settings.database
    }
}

/// What must hold once every contact is final.
struct Checks {
    over_max: i64,
    unfinished_attempts: i64,
    /// `done 1234, stopped 567, ...`.
    states: String,
}

impl Checks {
    async fn read(db: &DatabaseConnection) -> anyhow::Result<Checks> {
        let over_max = count(
            db,
            &format!(
                "SELECT COUNT(*) FROM (SELECT contact_id FROM attempts GROUP BY contact_id HAVING COUNT(*) > {MAX_ATTEMPTS})"
            ),
        )
        .await?;
        let unfinished_attempts =
            count(db, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching', 'dispatched')").await?;
        let mut states = Vec::new();
        for state in ["done", "exhausted", "stopped", "suppressed"] {
            let n = count(db, &format!("SELECT COUNT(*) FROM contacts WHERE state = '{state}'")).await?;
            states.push(format!("{state} {}", int(n as f64)));
        }
        Ok(Checks { over_max, unfinished_attempts, states: states.join(", ") })
    }

    fn ensure(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.over_max == 0, "{} contacts were dialed more than {MAX_ATTEMPTS} times", self.over_max);
        anyhow::ensure!(self.unfinished_attempts == 0, "{} attempts are not final", self.unfinished_attempts);
        Ok(())
    }
}
