//! Dispatch throughput (claim → sim vendor → record, driven by
//! `scheduler::tick`) and result processing (`ingest::processor::drain`) on an
//! in-process App talking to an in-process sim over loopback HTTP.

use super::claim_baseline;
use super::config::{API_KEY, BenchConfig, CALLBACK_SECRET, CAMPAIGN};
use super::import::{import_file, open_store, write_csv, write_csv_in};
use super::pg::{Backend, BenchDb};
use super::report::{Report, dec, int};
use super::{HttpServer, PlannerStats, count, loopback_listener, per_second, wait_until};
use axum::http::StatusCode;
use campaignd::app::App;
use campaignd::clock::SystemClock;
use campaignd::context::Ctx;
use campaignd::store::campaigns;
use doubles::sim::{self, SimAuth, SimHandle, SimSettings, SimStats};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Generous limits: only a stall (a bug) should ever reach them.
pub const DISPATCH_LIMIT: Duration = Duration::from_secs(300);
pub const RESULTS_LIMIT: Duration = Duration::from_secs(300);
/// A tick starts only when at most this many results are still undelivered.
/// The sim opens one connection per concurrent callback and keeps it pooled,
/// and sim and daemon share this process's file descriptors: unpaced, 50,000
/// results in a few seconds exhaust a 20,000-fd limit (EMFILE in accept, then
/// SQLite "unable to open database file").
pub const MAX_UNDELIVERED: u64 = 2_000;

/// A fast sim: calls take 0-1 ms and enough lines that nobody queues.
pub async fn start_sim() -> anyhow::Result<SimHandle> {
    let settings = SimSettings {
        latency_min: Duration::ZERO,
        latency_max: Duration::from_millis(1),
        max_lines: 100_000,
        ..SimSettings::default()
    };
    let auth = SimAuth { api_key: API_KEY.into(), callback_secret: CALLBACK_SECRET.into() };
    let (listener, _) = loopback_listener().await?;
    Ok(sim::spawn(settings, auth, listener).await?)
}

/// Where the sim POSTs its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callbacks {
    /// A no-op receiver answering 200: the dispatch path alone, no inbox writes.
    Sink,
    /// The daemon's `/callbacks` route, storing each result while dispatch runs.
    Daemon,
}

/// Frequency caps and a legal profile: the claim then reads every number's
/// recent dials and calls in flight and decides through the full policy.
const POLICY: &str = r#"profiles = ["us-reg-f"]
caps = ["phone:3/24h", "phone:7/7d"]"#;

/// Dispatch on fresh databases: alone and with caps and a legal profile (on
/// SQLite, then on the PostgreSQL server if given), then with callbacks
/// flowing into the daemon (and those results processed afterwards). Each
/// dispatch alone is read against the minimal claim loop on the same contacts.
pub async fn measure(contacts: u64, pg_server: Option<&str>, report: &mut Report) -> anyhow::Result<()> {
    measure_with(&Backend::Sqlite, contacts, Callbacks::Sink, "", report).await?;
    measure_with(&Backend::Sqlite, contacts, Callbacks::Sink, POLICY, report).await?;
    if let Some(server) = pg_server {
        let pg = Backend::Postgres(server.to_string());
        measure_with(&pg, contacts, Callbacks::Sink, "", report).await?;
        measure_with(&pg, contacts, Callbacks::Sink, POLICY, report).await?;
    }
    measure_with(&Backend::Sqlite, contacts, Callbacks::Daemon, "", report).await
}

/// The bench's `claim_batch`; the minimal loop claims batches of the same size.
const CLAIM_BATCH: u32 = 1000;

async fn measure_with(
    backend: &Backend,
    contacts: u64,
    callbacks: Callbacks,
    policy: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = BenchDb::create(backend, "dispatch").await?;
    let sim = start_sim().await?;
    let (listener, public_url) = loopback_listener().await?;
    // Caps at least the contact count: results are only applied after the
    // dispatch phase (that is a figure of its own), so every attempt stays in
    // flight until then and a smaller cap would stall the claims at the cap.
    let cap = u32::try_from(contacts)?;
    let config = BenchConfig {
        public_url: Some(public_url),
        claim_batch: CLAIM_BATCH,
        vendor_url: sim.base_url(),
        vendor_max_concurrency: cap,
        campaign_max_concurrency: cap,
        campaign_policy: policy.to_string(),
        ..BenchConfig::with_url(db.url.clone(), db.path())
    };
    let app = App::build(config.settings()?, Arc::new(SystemClock)).await?;
    let ctx = app.ctx().clone();
    let _planner_stats = PlannerStats::spawn(&ctx);
    let http = match callbacks {
        Callbacks::Sink => HttpServer::start(listener, sink()),
        Callbacks::Daemon => HttpServer::daemon(listener, ctx.clone()),
    };
    let csv = db.path().join("contacts.csv");
    match policy.is_empty() {
        true => write_csv(&csv, contacts)?,
        // The legal profile allows 08:00-21:00 only: callees in a zone where it
        // is daytime now, or most of them would (rightly) be deferred.
        false => write_csv_in(&csv, contacts, &[daytime_zone(chrono::Utc::now())])?,
    };
    import_file(&ctx.db, &campaigns::find_by_name(&ctx.db, CAMPAIGN).await?, &csv).await?;
    // The minimal loop runs on its own fresh database with the same contacts,
    // just before the dispatch it is the baseline of.
    let baseline = match callbacks {
        Callbacks::Sink => Some(minimal_claim_loop(backend, &config, &csv, contacts).await?),
        Callbacks::Daemon => None,
    };

    let dispatched = dispatch_all(&ctx, &sim.stats, contacts).await?;
    let during = match (callbacks, policy.is_empty()) {
        (Callbacks::Sink, true) => "callbacks to a no-op sink (no inbox writes)",
        (Callbacks::Sink, false) => "caps phone:3/24h + phone:7/7d and profile us-reg-f, callbacks to a sink",
        (Callbacks::Daemon, _) => "callbacks stored by the daemon meanwhile",
    };
    let name = format!("Dispatch {} attempts, {during}, {}", int(contacts as f64), backend.name());
    let rate = per_second(contacts as f64, dispatched.elapsed);
    let note = format!(
        "tick: claim → sim → record; {} s, {} ticks of claim_batch {CLAIM_BATCH}, {} s of it waiting for ≤ {} undelivered results",
        dec(dispatched.elapsed.as_secs_f64()),
        dispatched.ticks,
        dec(dispatched.paced.as_secs_f64()),
        int(MAX_UNDELIVERED as f64)
    );
    match baseline {
        Some(b) => {
            let baseline_rate = per_second(contacts as f64, b.elapsed);
            let note = format!("{note}; the minimal loop: {} s, {} batches", dec(b.elapsed.as_secs_f64()), b.batches);
            report.add_vs(name, rate, "attempts/s", "minimal claim loop, hand-written SQL", baseline_rate, note);
        }
        None => report.add(name, int(rate), "attempts/s", note),
    }
    wait_for_callbacks(&sim, contacts).await?;
    if callbacks == Callbacks::Daemon {
        let stored = dispatched.started.elapsed();
        report.add(
            format!("Dispatch + every callback stored, {} calls", int(contacts as f64)),
            int(per_second(contacts as f64, stored)),
            "calls/s",
            format!("last result in the inbox {} s after the first claim", dec(stored.as_secs_f64())),
        );
        super::process::process_results(&ctx, contacts, report).await?;
    }
    http.stop().await?;
    sim.shutdown().await;
    drop(app);
    Ok(())
}

/// [`claim_baseline::run`] on a fresh database of `backend` holding the
/// contacts of `csv`, set up as `config` sets up the daemon's.
async fn minimal_claim_loop(
    backend: &Backend,
    config: &BenchConfig,
    csv: &std::path::Path,
    contacts: u64,
) -> anyhow::Result<claim_baseline::Baseline> {
    let db = BenchDb::create(backend, "baseline").await?;
    let settings =
        BenchConfig { database_url: db.url.clone(), dir: db.path().to_path_buf(), ..config.clone() }.settings()?;
    let (conn, camp) = open_store(&settings).await?;
    import_file(&conn, &camp, csv).await?;
    let baseline = claim_baseline::run(&conn, contacts, CLAIM_BATCH).await?;
    campaignd::store::db::close(conn).await?;
    Ok(baseline)
}

/// A zone where it is between 09:00 and 19:00 at `now` (one always is).
fn daytime_zone(now: chrono::DateTime<chrono::Utc>) -> &'static str {
    const AROUND_THE_CLOCK: [&str; 12] = [
        "Pacific/Honolulu",
        "America/Los_Angeles",
        "America/New_York",
        "America/Sao_Paulo",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Moscow",
        "Asia/Kolkata",
        "Asia/Jakarta",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Pacific/Auckland",
    ];
    use chrono::Timelike;
    AROUND_THE_CLOCK
        .into_iter()
        .find(|z| {
            let tz: chrono_tz::Tz = z.parse().expect("known zone");
            (9..19).contains(&now.with_timezone(&tz).hour())
        })
        .unwrap_or("Asia/Jakarta")
}

/// Answers every callback 200 without looking at it.
pub fn sink() -> axum::Router {
    axum::Router::new().route("/callbacks/{vendor}", axum::routing::post(|| async { StatusCode::OK }))
}

struct Dispatched {
    started: Instant,
    elapsed: Duration,
    ticks: u32,
    /// Part of `elapsed` spent waiting for the sim's callbacks to drain.
    paced: Duration,
}

/// Tick until every contact has an attempt. The first tick only moves the
/// campaign from `scheduled` to `running`, so it is run before the clock starts.
async fn dispatch_all(ctx: &Ctx, stats: &SimStats, contacts: u64) -> anyhow::Result<Dispatched> {
    let first = campaignd::scheduler::tick(ctx, chrono::Utc::now()).await?;
    anyhow::ensure!(first.started == [CAMPAIGN], "campaign did not start: {first:?}");
    let started = Instant::now();
    let mut ticks = 0;
    let mut paced = Duration::ZERO;
    // The ticks' own reports say how many attempts they made: a count of
    // the attempts table after each tick would time the bench's query too
    // (the minimal loop runs none).
    let mut claimed = 0;
    loop {
        paced += pace(stats).await?;
        let tick = campaignd::scheduler::tick(ctx, chrono::Utc::now()).await?;
        ticks += 1;
        claimed += tick.claimed as u64;
        if claimed >= contacts {
            break;
        }
        anyhow::ensure!(
            tick.claimed > 0 && started.elapsed() < DISPATCH_LIMIT,
            "dispatch stalled at {claimed} of {contacts} attempts after {ticks} ticks: {tick:?}"
        );
    }
    let elapsed = started.elapsed();
    let attempts = count(&ctx.db, "SELECT COUNT(*) FROM attempts").await?;
    anyhow::ensure!(attempts as u64 == claimed, "the ticks reported {claimed} attempts, the table holds {attempts}");
    let unconfirmed = count(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatching'").await?;
    anyhow::ensure!(unconfirmed == 0, "{unconfirmed} attempts were not recorded as dispatched");
    Ok(Dispatched { started, elapsed, ticks, paced })
}

/// Wait until at most `MAX_UNDELIVERED` results are undelivered; how long it took.
pub async fn pace(stats: &SimStats) -> anyhow::Result<Duration> {
    let waiting = Instant::now();
    wait_until("callbacks to catch up", RESULTS_LIMIT, || {
        let undelivered = stats.calls_accepted.load(Relaxed).saturating_sub(stats.callbacks_delivered.load(Relaxed));
        async move { Ok(undelivered <= MAX_UNDELIVERED) }
    })
    .await?;
    Ok(waiting.elapsed())
}

/// Wait until the sim has dialed every call and finished every delivery.
pub async fn wait_for_callbacks(sim: &SimHandle, contacts: u64) -> anyhow::Result<()> {
    let stats = sim.stats.clone();
    wait_until("the sim to deliver every callback", RESULTS_LIMIT, || {
        let done = stats.calls_dialed.load(Relaxed) == contacts
            && stats.current_dialing.load(Relaxed) == 0
            && stats.callbacks_pending.load(Relaxed) == 0;
        async move { Ok(done) }
    })
    .await?;
    let failures = stats.callback_failures.load(Relaxed);
    anyhow::ensure!(failures == 0, "{failures} callback deliveries were refused");
    Ok(())
}
