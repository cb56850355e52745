//! The loop that keeps PostgreSQL's planner statistics of the daemon's
//! tables current: every `database.analyze_every` it reads how much each
//! table changed since its last `ANALYZE` (`store::planner_stats`) and
//! analyzes those `domain::planner_stats::stale` picks. Why the daemon does
//! this itself, and not only autovacuum: see `domain::planner_stats`.
//!
//! Every instance on a database runs it; an `ANALYZE` another instance is
//! running is skipped, and once one instance analyzed a table the server's
//! count of its changes starts again from zero for all of them.

use crate::cadence::Cadence;
use crate::context::Ctx;
use crate::domain::planner_stats::stale;
use crate::failure_log::FailureLog;
use crate::store::{Db, StoreError, planner_stats};
use tokio_util::sync::CancellationToken;

/// Run until `shutdown`; returns at once on SQLite, or when
/// `database.analyze_every` is off.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    if let Some(every) = ctx.settings.database.analyze_every {
        run_every(&ctx.db, every, shutdown).await;
    }
}

/// [`run`] on `db`, a round every `every` (the bench runs it beside its
/// hand-written baseline, which has a connection and no `Ctx`).
pub async fn run_every(db: &Db, every: std::time::Duration, shutdown: CancellationToken) {
    if !planner_stats::kept_by_the_daemon(db) {
        return;
    }
    let mut rounds = Cadence::every(every);
    let mut failures = FailureLog::new("refreshing the planner's statistics");
    while rounds.next(shutdown.cancelled()).await {
        match refresh(db).await {
            Ok(_) => failures.succeeded(),
            Err(e) => {
                metrics::counter!("campaignd_loop_failures_total", "loop" => "planner_stats").increment(1);
                failures.failed(&e);
            }
        }
    }
}

/// One round: `ANALYZE` each table whose statistics are stale. Returns the
/// tables this instance analyzed.
pub async fn refresh(db: &Db) -> Result<Vec<&'static str>, StoreError> {
    let mut analyzed = Vec::new();
    for (table, changes) in planner_stats::changes(db).await? {
        if !stale(changes) {
            continue;
        }
        let started = std::time::Instant::now();
        if planner_stats::analyze(db, table).await? {
            metrics::counter!("campaignd_planner_stats_analyzes_total", "table" => table).increment(1);
            tracing::debug!(
                table,
                changed = changes.changed_since,
                rows_before = changes.rows_at_last_analyze,
                ms = started.elapsed().as_millis() as u64,
                "planner statistics refreshed"
            );
            analyzed.push(table);
        }
    }
    Ok(analyzed)
}
