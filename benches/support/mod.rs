//! Pieces of the throughput benchmark: one module per measurement, the config
//! text they share, the database each runs on, the report table, and small
//! helpers.

pub mod backlog;
pub mod claim_baseline;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod dispatch;
pub mod e2e;
pub mod import;
pub mod ingest;
pub mod ingest_flood;
pub mod instances;
pub mod instances_inbox;
pub mod pg;
pub mod policy;
pub mod process;
pub mod report;
pub mod rss;
pub mod thread_times;
pub mod writer_share;
pub mod wrk;

use anyhow::Context as _;
use campaignd::context::Ctx;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Poll `done` until it says true; fail naming `what` after `limit`.
/// The 5 ms pause only paces the polling, it synchronizes nothing.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while !done().await? {
        anyhow::ensure!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// `SELECT COUNT(*) ...` (or any query whose first column is an integer).
pub async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let statement = Statement::from_string(db.get_database_backend(), sql.to_string());
    let row = db.query_one_raw(statement).await?.with_context(|| format!("no row from `{sql}`"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// An axum router served on a listener we own: the daemon's routes without
/// its scheduler and inbox loops (the benchmark drives those), or a stand-in.
pub struct HttpServer {
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    /// The daemon's routes. `listener` must be the one `http.public_url`
    /// points at, so the sim's callbacks reach it.
    pub fn daemon(listener: TcpListener, ctx: Ctx) -> HttpServer {
        let max = ctx.settings.http.max_connections;
        let stop = CancellationToken::new();
        let task = tokio::spawn(campaignd::api::serve(listener, ctx, max, stop.clone()));
        HttpServer { stop, task }
    }

    pub fn start(listener: TcpListener, router: axum::Router) -> HttpServer {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
        HttpServer { stop, task }
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        Ok(self.task.await??)
    }
}

/// The daemon's planner-statistics loop (`campaignd::planner_stats::run`,
/// PostgreSQL only) beside a measurement that drives the ticks and drains
/// itself: the daemon runs it beside those loops, and without it a burst
/// is planned from the counts before it. Stops when dropped.
pub struct PlannerStats(CancellationToken);

impl PlannerStats {
    pub fn spawn(ctx: &Ctx) -> PlannerStats {
        let stop = CancellationToken::new();
        tokio::spawn(campaignd::planner_stats::run(ctx.clone(), stop.clone()));
        PlannerStats(stop)
    }
}

impl Drop for PlannerStats {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A loopback listener on a free port, and its `http://` URL.
pub async fn loopback_listener() -> anyhow::Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// Events per second, guarding against a zero duration.
pub fn per_second(events: f64, elapsed: Duration) -> f64 {
    events / elapsed.as_secs_f64().max(1e-9)
}
