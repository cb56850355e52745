//! PostgreSQL beside SQLite, with one and with three instances on one
//! database: dispatch throughput, callback ingest and result processing.
//! SQLite runs one instance only: its single-daemon file lock refuses a second.
//!
//! The instances are in-process `App`s (see `cluster`), each ticking or
//! draining in its own tokio task, so they share this process's cores: on a
//! 2-core box three instances measure how well the claims and inbox pages
//! interleave on one database, not three machines' worth of CPU.

use super::cluster::Cluster;
use super::config::{BenchConfig, CAMPAIGN};
use super::dispatch::{self, Callbacks, DISPATCH_LIMIT};
use super::import::{import_file, write_csv};
use super::pg::{Backend, BenchDb};
use super::report::{Report, dec, int};
use super::{count, per_second};
use campaignd::context::Ctx;
use campaignd::store::campaigns;
use doubles::sim::SimStats;
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Instance counts measured on PostgreSQL.
const PG_INSTANCES: [usize; 2] = [1, 3];

/// Sizes of one run of the measurement.
pub struct Sizes {
    pub contacts: u64,
    pub callbacks: usize,
}

/// One database setup and how many instances share it, with the note that
/// says what it is.
pub struct Setup {
    pub backend: Backend,
    pub instances: usize,
    pub note: String,
}

impl Setup {
    pub fn label(&self) -> String {
        let plural = if self.instances == 1 { "" } else { "s" };
        format!("{}, {} instance{plural}", self.backend.name(), self.instances)
    }
}

pub async fn measure(pg_server: &str, sizes: &Sizes, report: &mut Report) -> anyhow::Result<()> {
    let server = server_note(pg_server).await?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut setups =
        vec![Setup { backend: Backend::Sqlite, instances: 1, note: "SQLite WAL, synchronous=full".into() }];
    for n in PG_INSTANCES {
        let shared = match n {
            1 => String::new(),
            n => format!("; {n} instances in one process on {cores} cores (they share the CPU)"),
        };
        setups.push(Setup {
            backend: Backend::Postgres(pg_server.into()),
            instances: n,
            note: format!("{server}{shared}"),
        });
    }
    for setup in &setups {
        dispatch_run(setup, sizes.contacts, Callbacks::Sink, report).await?;
    }
    for setup in &setups {
        super::instances_inbox::ingest(setup, sizes.callbacks, report).await?;
    }
    for setup in &setups {
        dispatch_run(setup, sizes.contacts, Callbacks::Daemon, report).await?;
    }
    Ok(())
}

/// The server as measured: version, address, and the settings that decide
/// the cost of a commit and of a table's growth, read from the server rather
/// than assumed (a "default" config can differ: Debian's turns nothing off,
/// a CI box may turn autovacuum off).
async fn server_note(pg_server: &str) -> anyhow::Result<String> {
    let conn = Database::connect(pg_server).await?;
    let settings = ["synchronous_commit", "fsync", "shared_buffers", "autovacuum"];
    let selects: Vec<String> = settings.iter().map(|s| format!("current_setting('{s}')")).collect();
    let sql = format!(
        "SELECT current_setting('server_version'), COALESCE(host(inet_server_addr()), 'a unix socket'), {}",
        selects.join(", ")
    );
    let statement = sea_orm::Statement::from_string(conn.get_database_backend(), sql.clone());
    let row = conn.query_one_raw(statement).await?.ok_or_else(|| anyhow::anyhow!("no row from `{sql}`"))?;
    let value = |i: usize| row.try_get_by_index::<String>(i);
    // "15.20 (Debian 15.20-0+deb12u1)" → "15.20"
    let version = value(0)?.split_whitespace().next().unwrap_or_default().to_string();
    let mut note = format!("PostgreSQL {version} at {}", value(1)?);
    for (i, setting) in settings.iter().enumerate() {
        note.push_str(&format!(", {setting}={}", value(i + 2)?));
    }
    campaignd::store::db::close(conn).await?;
    Ok(note)
}

/// What one instance's ticks did.
#[derive(Debug, Default)]
struct Share {
    ticks: u32,
    claimed: usize,
}

/// Dispatch every contact with the setup's instances ticking concurrently.
/// With `Callbacks::Sink` the dispatch rate is the figure; with
/// `Callbacks::Daemon` each instance stores the results it is sent and then
/// every instance drains the inbox at once: the processing rate is the figure.
pub async fn dispatch_run(
    setup: &Setup,
    contacts: u64,
    callbacks: Callbacks,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = BenchDb::create(&setup.backend, "instances").await?;
    let sim = dispatch::start_sim().await?;
    // Caps at least the contact count: results are applied only after the
    // dispatch (or never, with a sink), so every attempt stays in flight.
    let cap = u32::try_from(contacts)?;
    let base = BenchConfig {
        vendor_url: sim.base_url(),
        vendor_max_concurrency: cap,
        campaign_max_concurrency: cap,
        ..BenchConfig::with_url(db.url.clone(), db.path())
    };
    let cluster = Cluster::start(setup.instances, &base, callbacks).await?;
    let ctx = cluster.first().clone();
    let csv = db.path().join("contacts.csv");
    write_csv(&csv, contacts)?;
    import_file(&ctx.db, &campaigns::find_by_name(&ctx.db, CAMPAIGN).await?, &csv).await?;

    let first = campaignd::scheduler::tick(&ctx, chrono::Utc::now()).await?;
    anyhow::ensure!(first.started == [CAMPAIGN], "campaign did not start: {first:?}");
    let started = Instant::now();
    let tasks: Vec<_> = cluster
        .instances
        .iter()
        .map(|i| tokio::spawn(tick_until_all_claimed(i.ctx.clone(), sim.stats.clone(), contacts)))
        .collect();
    let mut shares = Vec::new();
    for task in tasks {
        shares.push(task.await??);
    }
    let elapsed = started.elapsed();
    verify_dispatch(&ctx, &sim.stats, contacts, cap, &shares).await?;
    let claims: Vec<String> = shares.iter().map(|s| int(s.claimed as f64)).collect();
    if callbacks == Callbacks::Sink {
        report.add(
            format!("Dispatch {} attempts, {}", int(contacts as f64), setup.label()),
            int(per_second(contacts as f64, elapsed)),
            "attempts/s",
            format!(
                "each instance ticks back to back (claim_batch {}), callbacks to a sink; {} s; claimed per instance {}; {}",
                base.claim_batch,
                dec(elapsed.as_secs_f64()),
                claims.join(" / "),
                setup.note
            ),
        );
    } else {
        dispatch::wait_for_callbacks(&sim, contacts).await?;
        super::instances_inbox::process(&cluster, setup, contacts, report).await?;
    }
    cluster.stop().await?;
    sim.shutdown().await;
    Ok(())
}

/// One instance's loop: tick until every contact has an attempt. A tick
/// returns only after its dispatches are recorded, so once every instance's
/// loop has returned, no attempt of theirs is still `dispatching`.
async fn tick_until_all_claimed(ctx: Ctx, stats: Arc<SimStats>, contacts: u64) -> anyhow::Result<Share> {
    let started = Instant::now();
    let mut share = Share::default();
    loop {
        dispatch::pace(&stats).await?;
        let tick = campaignd::scheduler::tick(&ctx, chrono::Utc::now()).await?;
        share.ticks += 1;
        share.claimed += tick.claimed;
        let attempts = count(&ctx.db, "SELECT COUNT(*) FROM attempts").await?;
        if attempts as u64 >= contacts {
            return Ok(share);
        }
        anyhow::ensure!(
            started.elapsed() < DISPATCH_LIMIT,
            "instance {} stalled at {attempts} of {contacts} attempts after {} ticks",
            ctx.settings.scheduler.instance_id,
            share.ticks
        );
        if tick.claimed == 0 {
            // The last due contacts are being claimed by another instance;
            // this only paces the retry, as the daemon's tick interval would.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Every contact has exactly one attempt, each recorded `dispatched`; the
/// instances together claimed each contact once and the vendor got each call
/// once; in flight never above the caps (with callbacks not applied yet no
/// attempt ever leaves flight, so the final count is the peak).
async fn verify_dispatch(ctx: &Ctx, stats: &SimStats, contacts: u64, cap: u32, shares: &[Share]) -> anyhow::Result<()> {
    let db = &ctx.db;
    let attempts = count(db, "SELECT COUNT(*) FROM attempts").await? as u64;
    let contacts_dialed = count(db, "SELECT COUNT(DISTINCT contact_id) FROM attempts").await? as u64;
    anyhow::ensure!(
        attempts == contacts && contacts_dialed == contacts,
        "{attempts} attempts for {contacts_dialed} of {contacts} contacts: a contact was claimed twice or never"
    );
    let dispatched = count(db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await? as u64;
    anyhow::ensure!(dispatched == contacts, "{dispatched} of {contacts} attempts recorded as dispatched");
    let claimed: usize = shares.iter().map(|s| s.claimed).sum();
    anyhow::ensure!(claimed as u64 == contacts, "the instances' ticks claimed {claimed} for {contacts} contacts");
    let (accepted, doubles) = (stats.calls_accepted.load(Relaxed), stats.double_dials.load(Relaxed));
    anyhow::ensure!(accepted == contacts && doubles == 0, "the sim accepted {accepted} calls, {doubles} dialed twice");
    let in_flight = "state IN ('dispatching', 'dispatched')";
    let peaks = [
        ("campaign", format!("SELECT COUNT(*) FROM attempts WHERE {in_flight}")),
        (
            "vendor",
            format!(
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM attempts WHERE {in_flight} GROUP BY vendor_id) AS v"
            ),
        ),
    ];
    for (what, sql) in peaks {
        let peak = count(db, &sql).await?;
        anyhow::ensure!(peak <= i64::from(cap), "{what} in flight {peak} above its cap {cap}");
    }
    Ok(())
}
