//! The scheduler: every tick it re-reads the campaigns (so SQL edits apply
//! within one tick), moves campaign states along, claims due contacts within
//! caps and windows, and dispatches them to vendors.

mod dispatch;
mod tick;

pub use dispatch::dispatch_claimed;
pub use tick::{TickReport, tick};

use crate::context::Ctx;
use tokio_util::sync::CancellationToken;

/// Run ticks until shutdown. A tick in progress is finished, never cut: its
/// dispatches complete and are recorded, so nothing is left half-written.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    let every = ctx.settings.scheduler.tick;
    loop {
        let now = ctx.clock.now();
        if let Err(e) = tick(&ctx, now).await {
            tracing::error!(error = %e, "scheduler tick failed; retrying next tick");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tracing::info!("scheduler stopped");
}
