//! The inbox side of the instances measurement: callback ingest spread over
//! the instances' `/callbacks` URLs, and the stored results applied by every
//! instance's `processor::drain` at once (inbox pages locked per instance).

use super::cluster::Cluster;
use super::config::BenchConfig;
use super::dispatch::{Callbacks, RESULTS_LIMIT};
use super::ingest::{CLIENTS, post_all, prepare};
use super::instances::Setup;
use super::pg::BenchDb;
use super::report::{Report, dec, int};
use super::{count, per_second};
use campaignd::context::Ctx;
use std::time::{Duration, Instant};

const PENDING: &str = "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'";

/// Signed callbacks POSTed by `CLIENTS` clients, request `i` to instance
/// `i % n`; each is durably in the inbox before its 2xx.
pub async fn ingest(setup: &Setup, callbacks: usize, report: &mut Report) -> anyhow::Result<()> {
    let db = BenchDb::create(&setup.backend, "ingest").await?;
    // No tick runs, so the vendor's base URL is never contacted.
    let cluster =
        Cluster::start(setup.instances, &BenchConfig::with_url(db.url.clone(), db.path()), Callbacks::Daemon).await?;
    let ctx = cluster.first().clone();
    let requests = prepare(callbacks)?;
    let started = Instant::now();
    let runs = post_all(&cluster.callback_urls(), requests).await?;
    let elapsed = started.elapsed();
    cluster.stop().await?;

    let failures: Vec<&String> = runs.iter().flat_map(|r| &r.failures).collect();
    anyhow::ensure!(failures.is_empty(), "{} callbacks failed, first: {}", failures.len(), failures[0]);
    let stored = count(&ctx.db, PENDING).await?;
    anyhow::ensure!(stored as usize == callbacks, "{stored} inbox rows for {callbacks} answered callbacks");
    let mut latencies: Vec<Duration> = runs.into_iter().flat_map(|r| r.latencies).collect();
    latencies.sort();
    let ms = |at: usize| dec(latencies[at].as_secs_f64() * 1000.0);
    let last = latencies.len() - 1;
    report.add(
        format!("Callback ingest, {} POSTs, {}", int(callbacks as f64), setup.label()),
        int(per_second(callbacks as f64, elapsed)),
        "requests/s",
        format!(
            "{CLIENTS} clients round-robin over the instances' URLs; {} s; latency p50 {} ms, p99 {} ms; \
             every 2xx'd body found in the inbox; {}",
            dec(elapsed.as_secs_f64()),
            ms(last / 2),
            ms(last * 99 / 100),
            setup.note
        ),
    );
    Ok(())
}

/// What one instance's drains applied.
#[derive(Debug, Default)]
struct Applied {
    rows: usize,
    applied: usize,
    duplicates: usize,
}

/// Apply the `contacts` stored results (one per dispatched attempt) with
/// every instance of `cluster` draining at once, each until none is pending.
pub async fn process(cluster: &Cluster, setup: &Setup, contacts: u64, report: &mut Report) -> anyhow::Result<()> {
    let ctx = cluster.first();
    let pending = count(&ctx.db, PENDING).await?;
    anyhow::ensure!(pending as u64 == contacts, "{pending} pending inbox rows for {contacts} calls");
    let started = Instant::now();
    let tasks: Vec<_> = cluster.instances.iter().map(|i| tokio::spawn(drain_until_empty(i.ctx.clone()))).collect();
    let mut shares = Vec::new();
    for task in tasks {
        shares.push(task.await??);
    }
    let elapsed = started.elapsed();

    let applied: usize = shares.iter().map(|s| s.applied).sum();
    let rows: usize = shares.iter().map(|s| s.rows).sum();
    let duplicates: usize = shares.iter().map(|s| s.duplicates).sum();
    anyhow::ensure!(
        applied as u64 == contacts && rows as u64 == contacts && duplicates == 0,
        "{rows} inbox rows taken for {contacts} results: {applied} applied, {duplicates} duplicates (a row applied twice?)"
    );
    let in_flight =
        count(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching', 'dispatched')").await?;
    anyhow::ensure!(in_flight == 0, "{in_flight} attempts still in flight after every result was applied");
    let per_instance: Vec<String> = shares.iter().map(|s| int(s.applied as f64)).collect();
    report.add(
        format!("Process {} results, {}", int(contacts as f64), setup.label()),
        int(per_second(contacts as f64, elapsed)),
        "results/s",
        format!(
            "processor::drain from every instance at once; {} s; applied per instance {}; {}",
            dec(elapsed.as_secs_f64()),
            per_instance.join(" / "),
            setup.note
        ),
    );
    Ok(())
}

/// Drain passes until nothing is pending. Rows another instance holds are
/// skipped by a pass and stay pending until that instance commits them.
async fn drain_until_empty(ctx: Ctx) -> anyhow::Result<Applied> {
    let started = Instant::now();
    let mut total = Applied::default();
    loop {
        let pass = campaignd::ingest::processor::drain(&ctx).await?;
        anyhow::ensure!(pass.failed == 0, "instance {}: {pass:?}", ctx.settings.scheduler.instance_id);
        total.rows += pass.rows;
        total.applied += pass.applied;
        total.duplicates += pass.duplicates;
        if count(&ctx.db, PENDING).await? == 0 {
            return Ok(total);
        }
        anyhow::ensure!(started.elapsed() < RESULTS_LIMIT, "inbox not drained after {RESULTS_LIMIT:?}: {total:?}");
        if pass.rows == 0 {
            // What is left is locked by another instance: only pace the retry.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
