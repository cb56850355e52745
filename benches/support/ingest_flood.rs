//! Callbacks for calls we never made must not starve the real ones (issue
//! 12): the rate at which normal callbacks are stored and applied (HTTP →
//! inbox → processor → attempt finished), alone and again while ten times as
//! many valid, signed callbacks for unknown calls arrive on other
//! connections; then the cost of one drain pass with those rows waiting.

use super::config::{BenchConfig, CAMPAIGN, VENDOR_ID};
use super::import::{import_file, write_csv};
use super::ingest::{CLIENTS, Signed, post_spread, signed};
use super::report::{Report, dec, int};
use super::{HttpServer, count, loopback_listener, per_second, wait_until};
use campaignd::app::App;
use campaignd::clock::SystemClock;
use campaignd::context::Ctx;
use campaignd::store::campaigns;
use campaignd::store::claim::{Lease, claim};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Unknown-call callbacks per normal one.
pub const FLOOD_FACTOR: usize = 10;

pub async fn measure(normal: usize, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (listener, public_url) = loopback_listener().await?;
    let contacts = 2 * normal;
    let cap = u32::try_from(contacts)?;
    let config = BenchConfig {
        public_url: Some(public_url.clone()),
        vendor_max_concurrency: cap,
        campaign_max_concurrency: cap,
        ..BenchConfig::new(&dir.path().join("flood.db"))
    };
    let app = App::build(config.settings()?, Arc::new(SystemClock)).await?;
    let ctx = app.ctx().clone();
    let csv = dir.path().join("contacts.csv");
    write_csv(&csv, contacts as u64)?;
    import_file(&ctx.db, &campaigns::find_by_name(&ctx.db, CAMPAIGN).await?, &csv).await?;
    let refs = claim_all(&ctx, contacts).await?;

    let http = HttpServer::daemon(listener, ctx.clone());
    let stop = CancellationToken::new();
    let processor = tokio::spawn(campaignd::ingest::processor::run(ctx.clone(), stop.clone()));
    let url = vec![format!("{public_url}/callbacks/{VENDOR_ID}")];
    let half = CLIENTS / 2;

    // Alone: normal callbacks on half the clients.
    let alone = results(&refs[..normal])?;
    let started = Instant::now();
    post_spread(&url, alone, half).await?;
    wait_applied(&ctx, normal).await?;
    let alone_rate = per_second(normal as f64, started.elapsed());

    // The same number again, while 10x as many unknown-call callbacks arrive
    // on the other half of the clients (still arriving when the normal ones
    // are done: they are 10x as many on as many connections).
    let flood_count = FLOOD_FACTOR * normal;
    let normal_again = results(&refs[normal..])?;
    let flood = unknown_calls(flood_count)?;
    let started = Instant::now();
    let flooding = tokio::spawn({
        let url = url.clone();
        async move { post_spread(&url, flood, half).await }
    });
    let normal_runs = post_spread(&url, normal_again, half).await?;
    wait_applied(&ctx, 2 * normal).await?;
    let flooded = started.elapsed();
    let flood_runs = flooding.await??;
    let flood_elapsed = started.elapsed();
    for runs in [&normal_runs, &flood_runs] {
        let failed: Vec<&String> = runs.iter().flat_map(|r| &r.failures).collect();
        anyhow::ensure!(failed.is_empty(), "{} callbacks failed, first: {}", failed.len(), failed[0]);
    }
    let flooded_rate = per_second(normal as f64, flooded);
    let mut latencies: Vec<Duration> = normal_runs.into_iter().flat_map(|r| r.latencies).collect();
    latencies.sort();
    let p99 = latencies[(latencies.len() - 1) * 99 / 100];

    // Let the processor look at every flood row once, then stop it and time
    // one pass with all of them waiting.
    wait_until("every flood row looked at", Duration::from_secs(120), || async {
        let fresh = "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending' AND retry_at = received_at";
        Ok(count(&ctx.db, fresh).await? == 0)
    })
    .await?;
    stop.cancel();
    processor.await?;
    http.stop().await?;
    let waiting = count(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await?;
    let started = Instant::now();
    let pass = campaignd::ingest::processor::drain(&ctx).await?;
    let pass_time = started.elapsed();

    let n = int(normal as f64);
    report.add(
        format!("Normal callbacks stored + applied, {n} alone"),
        int(alone_rate),
        "callbacks/s",
        format!("{half} clients; HTTP → inbox → processor::run → attempt completed"),
    );
    report.add(
        format!("Normal callbacks stored + applied, {n} during a {FLOOD_FACTOR}x unknown-call flood"),
        int(flooded_rate),
        "callbacks/s",
        format!(
            "{half} clients each for normal and flood; {} flood callbacks in {} s ({} requests/s); normal p99 {} ms",
            int(flood_count as f64),
            dec(flood_elapsed.as_secs_f64()),
            int(per_second(flood_count as f64, flood_elapsed)),
            dec(p99.as_secs_f64() * 1000.0)
        ),
    );
    report.add(
        "Normal callback rate, flood / alone",
        dec(flooded_rate / alone_rate),
        "ratio",
        "1.0 = the flood costs the normal callbacks nothing",
    );
    report.add(
        format!("Inbox rows examined by one drain pass with {} rows waiting", int(waiting as f64)),
        int(pass.rows as f64),
        "rows",
        format!(
            "waiting rows are due only after their backoff or when woken; the pass took {} ms",
            dec(pass_time.as_secs_f64() * 1000.0)
        ),
    );
    drop(app);
    Ok(())
}

/// Claim every contact (attempts `dispatching`, as if handed to the vendor);
/// their references, in claim order.
async fn claim_all(ctx: &Ctx, contacts: usize) -> anyhow::Result<Vec<String>> {
    let row = campaigns::find_by_name(&ctx.db, CAMPAIGN).await?;
    let camp = ctx.campaign(row.id).await?;
    let mut refs = Vec::with_capacity(contacts);
    while refs.len() < contacts {
        let now = chrono::Utc::now();
        let lease = Lease { owner: "bench", until: now + chrono::Duration::hours(1) };
        let report = claim(&ctx.db, &camp, &ctx.vendors.caps(now), 1000, &lease, now).await?;
        anyhow::ensure!(!report.claimed.is_empty(), "claimed {} of {contacts} contacts", refs.len());
        refs.extend(report.claimed.into_iter().map(|c| c.attempt_ref));
    }
    Ok(refs)
}

async fn wait_applied(ctx: &Ctx, attempts: usize) -> anyhow::Result<()> {
    wait_until("normal callbacks applied", Duration::from_secs(300), || async {
        Ok(count(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await? as usize >= attempts)
    })
    .await
}

fn results(refs: &[String]) -> anyhow::Result<Vec<Signed>> {
    refs.iter().enumerate().map(|(i, r)| signed(r, &format!("call-{r}"), &format!("batch-{}", i / 100))).collect()
}

/// Valid, signed results naming a reference, call and batch we never made.
fn unknown_calls(n: usize) -> anyhow::Result<Vec<Signed>> {
    (0..n).map(|i| signed(&format!("unknown-{i}-1"), &format!("unknown-call-{i}"), "unknown-batch")).collect()
}
