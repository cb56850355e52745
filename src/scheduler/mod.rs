//! The scheduler: every tick it re-reads the campaigns (so SQL edits apply
//! within one tick), moves campaign states along, claims due contacts within
//! caps and windows, and dispatches them to vendors.

mod dispatch;
mod gauges;
mod pipeline;
mod tick;

pub use dispatch::dispatch_claimed;
pub use tick::{TickReport, tick};

use crate::cadence::Cadence;
use crate::context::Ctx;
use crate::failure_log::FailureLog;
use crate::store::StoreError;
use tokio_util::sync::CancellationToken;

/// Run ticks until shutdown. A tick in progress is finished, never cut: its
/// dispatches complete and are recorded, so nothing is left half-written.
/// A failed tick (database unreachable) is retried on the next one; what it
/// left half-done is in the database, where the next tick or the reconciler
/// finds it.
///
/// Ticks start `scheduler.tick` apart ([`Cadence`]); one that takes longer
/// is followed at once by the next.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    let mut ticks = Cadence::every(ctx.settings.scheduler.tick);
    let mut failures = FailureLog::new("scheduler tick");
    while ticks.next(shutdown.cancelled()).await {
        // While the store cannot write, claiming would only fail (or claim
        // contacts whose dispatch cannot be recorded): wait for the probe.
        if ctx.store_health.writable().is_ok() {
            let now = ctx.clock.now();
            match tick(&ctx, now).await {
                Ok(_) => failures.succeeded(),
                Err(e) => {
                    metrics::counter!("campaignd_loop_failures_total", "loop" => "scheduler").increment(1);
                    if let StoreError::Db(db) = &e {
                        ctx.store_health.report(db);
                    }
                    failures.failed(&e);
                }
            }
        }
    }
    tracing::info!("scheduler stopped");
}
