//! Result processing (`ingest::processor::drain`): the results the dispatch
//! measurement left in the inbox applied on SQLite, and with `--pg URL` the
//! same on a fresh PostgreSQL database (one instance: the figure of the
//! processor itself; `instances` measures several at once).

use super::dispatch::{Callbacks, RESULTS_LIMIT};
use super::instances::{Setup, dispatch_run};
use super::pg::Backend;
use super::report::{Report, dec, int};
use super::{count, per_second};
use anyhow::Context as _;
use campaignd::context::Ctx;
use std::time::Instant;

/// Apply every stored callback with the inbox processor's `drain`.
pub async fn process_results(ctx: &Ctx, contacts: u64, report: &mut Report) -> anyhow::Result<()> {
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
        format!("{} s; recall policy applied to each contact", dec(elapsed.as_secs_f64())),
    );
    Ok(())
}

/// Dispatch `contacts` calls with one instance on a fresh PostgreSQL
/// database, the sim calling back the daemon, then drain the inbox: the
/// figure is "Process N results, PostgreSQL, 1 instance".
pub async fn measure_pg(pg_server: &str, contacts: u64, report: &mut Report) -> anyhow::Result<()> {
    let setup = Setup {
        backend: Backend::Postgres(pg_server.into()),
        instances: 1,
        note: "PostgreSQL at --pg, one instance".into(),
    };
    dispatch_run(&setup, contacts, Callbacks::Daemon, report).await
}
