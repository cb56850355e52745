//! Dispatch throughput (claim → sim vendor → record, driven by
//! `scheduler::tick`) and result processing (`ingest::processor::drain`) on an
//! in-process App talking to an in-process sim over loopback HTTP.

use super::config::{API_KEY, BenchConfig, CALLBACK_SECRET, CAMPAIGN};
use super::import::{import_file, write_csv};
use super::report::{Report, dec, int};
use super::{HttpServer, count, loopback_listener, per_second, wait_until};
use anyhow::Context as _;
use campaignd::app::App;
use campaignd::clock::SystemClock;
use campaignd::context::Ctx;
use campaignd::store::campaigns;
use campaignd::vendors::sim::{self, SimAuth, SimHandle, SimSettings};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Generous limits: only a stall (a bug) should ever reach them.
const DISPATCH_LIMIT: Duration = Duration::from_secs(300);
const RESULTS_LIMIT: Duration = Duration::from_secs(300);

/// A fast sim: calls take 0-1 ms and enough lines that nobody queues.
async fn start_sim() -> anyhow::Result<SimHandle> {
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

pub async fn measure(contacts: u64, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sim = start_sim().await?;
    let (listener, public_url) = loopback_listener().await?;
    // Caps at least the contact count: results are only applied after the
    // dispatch phase (that is the second figure), so every attempt stays in
    // flight until then and a smaller cap would stall the claims at the cap.
    let cap = u32::try_from(contacts)?;
    let config = BenchConfig {
        public_url: Some(public_url),
        claim_batch: 1000,
        vendor_url: sim.base_url(),
        vendor_max_concurrency: cap,
        campaign_max_concurrency: cap,
        ..BenchConfig::new(&dir.path().join("dispatch.db"))
    };
    let app = App::build(config.settings()?, Arc::new(SystemClock)).await?;
    let ctx = app.ctx().clone();
    let http = HttpServer::start(listener, ctx.clone());

    let csv = dir.path().join("contacts.csv");
    write_csv(&csv, contacts)?;
    import_file(&ctx.db, &campaigns::find_by_name(&ctx.db, CAMPAIGN).await?, &csv).await?;

    let dispatched = dispatch_all(&ctx, contacts).await?;
    report.add(
        format!("Dispatch {} attempts (tick: claim → sim → record)", int(contacts as f64)),
        int(per_second(contacts as f64, dispatched.elapsed)),
        "attempts/s",
        format!(
            "{} s, {} ticks of claim_batch 1000; callbacks were being ingested at the same time",
            dec(dispatched.elapsed.as_secs_f64()),
            dispatched.ticks
        ),
    );

    wait_for_callbacks(&sim, contacts).await?;
    let stored = dispatched.started.elapsed();
    report.add(
        "Callbacks stored while/after dispatching",
        int(per_second(contacts as f64, stored)),
        "callbacks/s",
        format!(
            "all {} results in the inbox {} s after the first claim",
            int(contacts as f64),
            dec(stored.as_secs_f64())
        ),
    );

    process_results(&ctx, contacts, report).await?;
    http.stop().await?;
    sim.shutdown().await;
    drop(app);
    Ok(())
}

struct Dispatched {
    started: Instant,
    elapsed: Duration,
    ticks: u32,
}

/// Tick until every contact has an attempt. The first tick only moves the
/// campaign from `scheduled` to `running`, so it is run before the clock starts.
async fn dispatch_all(ctx: &Ctx, contacts: u64) -> anyhow::Result<Dispatched> {
    let first = campaignd::scheduler::tick(ctx, chrono::Utc::now()).await?;
    anyhow::ensure!(first.started == [CAMPAIGN], "campaign did not start: {first:?}");
    let started = Instant::now();
    let mut ticks = 0;
    loop {
        let tick = campaignd::scheduler::tick(ctx, chrono::Utc::now()).await?;
        ticks += 1;
        let attempts = count(&ctx.db, "SELECT COUNT(*) FROM attempts").await?;
        if attempts as u64 >= contacts {
            break;
        }
        anyhow::ensure!(
            tick.claimed > 0 && started.elapsed() < DISPATCH_LIMIT,
            "dispatch stalled at {attempts} of {contacts} attempts after {ticks} ticks: {tick:?}"
        );
    }
    let elapsed = started.elapsed();
    let unconfirmed = count(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatching'").await?;
    anyhow::ensure!(unconfirmed == 0, "{unconfirmed} attempts were not recorded as dispatched");
    Ok(Dispatched { started, elapsed, ticks })
}

/// Wait until the sim has dialed every call and finished every delivery.
async fn wait_for_callbacks(sim: &SimHandle, contacts: u64) -> anyhow::Result<()> {
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

/// Apply every stored callback with the inbox processor's `drain`.
async fn process_results(ctx: &Ctx, contacts: u64, report: &mut Report) -> anyhow::Result<()> {
    let pending = count(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await?;
    anyhow::ensure!(pending as u64 == contacts, "{pending} pending inbox rows for {contacts} calls");
    let started = Instant::now();
    let drain = campaignd::ingest::processor::drain(ctx);
    let drained = tokio::time::timeout(RESULTS_LIMIT, drain).await.context("processor::drain did not finish")??;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        drained.applied as u64 == contacts,
        "applied {} of {contacts} results: {drained:?}",
        drained.applied
    );
    report.add(
        format!("Process {} results (processor::drain)", int(contacts as f64)),
        int(per_second(drained.applied as f64, elapsed)),
        "results/s",
        format!("{} s; one write transaction per inbox row, recall policy applied", dec(elapsed.as_secs_f64())),
    );
    Ok(())
}
