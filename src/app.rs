//! One startup shape: build from settings (database, config sync, vendors,
//! listener), expose the bound address, then run the HTTP server and the
//! background loops under one shutdown signal.

use crate::clock::Clock;
use crate::config::Settings;
use crate::context::Ctx;
use crate::failure_log::FailureLog;
use crate::store::db::{self, InstanceLock};
use crate::store::{campaigns, leases};
use crate::vendors::registry::VendorRegistry;
use crate::{api, import, ingest, reconcile, scheduler};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct App {
    ctx: Ctx,
    listener: TcpListener,
    addr: SocketAddr,
    _lock: Option<InstanceLock>,
}

impl App {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let lock = db::lock_sqlite(&settings.database.url)?;
        let conn = db::connect(&settings.database).await.context("connecting to the database")?;
        db::migrate(&conn).await.context("running migrations")?;
        let now = clock.now();
        let me = &settings.scheduler.instance_id;
        let leftover = leases::recover_leftovers(&conn, me, lock.is_some(), now).await?;
        if leftover > 0 {
            tracing::warn!(attempts = leftover, instance = %me, "dispatches of a previous run of this instance are looked up");
        }
        campaigns::sync_from_config(&conn, &settings.campaigns, now).await?;
        for c in &settings.campaigns {
            let Some(path) = &c.contacts_file else { continue };
            let row = campaigns::find_by_name(&conn, &c.name).await?;
            let file = std::fs::File::open(path)
                .with_context(|| format!("campaign {}: contacts_file {}", c.name, path.display()))?;
            let report = import::import_csv(&conn, &row, std::io::BufReader::new(file), None, now).await?;
            tracing::info!(campaign = %c.name, inserted = report.inserted, duplicates = report.duplicates, rejected = report.rejected, "contacts_file imported");
            for e in &report.errors {
                tracing::warn!(campaign = %c.name, file = %path.display(), "{e}");
            }
        }
        let listener = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("binding http.listen {}", settings.http.listen))?;
        let addr = listener.local_addr()?;
        let callback_base = settings.http.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let vendors = VendorRegistry::build(&settings.vendors, &callback_base).await?;
        vendors.share_limits(&conn, now).await.context("registering the vendors' shared limits")?;
        let store_health = crate::store::health::StoreHealth::new(conn.clone());
        let ctx = Ctx {
            inbox: crate::ingest::writer::InboxWriter::spawn(conn.clone(), store_health.clone()),
            store_health,
            db: conn,
            settings: Arc::new(settings),
            vendors: Arc::new(vendors),
            clock,
            callback_base,
            inbox_notify: Arc::new(Notify::new()),
        };
        Ok(App { ctx, listener, addr, _lock: lock })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Serve only the HTTP listener, leaving the loops to the caller: tests
    /// drive `scheduler::tick` and `processor::drain` with their own clock.
    pub fn serve_http_only(self, shutdown: CancellationToken) -> (Ctx, tokio::task::JoinHandle<std::io::Result<()>>) {
        // The single-daemon lock lives as long as the server does.
        let lock = self._lock;
        let max = self.ctx.settings.http.max_connections;
        let serve = api::serve(self.listener, self.ctx.clone(), max, shutdown);
        let handle = tokio::spawn(async move {
            let served = serve.await;
            drop(lock);
            served
        });
        (self.ctx, handle)
    }

    /// Serve until `shutdown` fires: stop claiming, let the current tick's
    /// dispatches finish and be recorded, stop accepting callbacks, apply the
    /// stored ones, then return.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ctx = self.ctx.clone();
        let max = ctx.settings.http.max_connections;
        let http = tokio::spawn(api::serve(self.listener, ctx.clone(), max, shutdown.clone()));
        let sched = tokio::spawn(scheduler::run(ctx.clone(), shutdown.clone()));
        let processor = tokio::spawn(ingest::processor::run(ctx.clone(), shutdown.clone()));
        let sweeps = tokio::spawn(sweep_loop(ctx.clone(), shutdown.clone()));
        let watchdog = tokio::spawn(watchdog(shutdown.clone()));
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        tracing::info!(addr = %self.addr, "campaignd running");

        shutdown.cancelled().await;
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        tracing::info!("shutting down: no new claims");
        if let Err(e) = sched.await {
            tracing::error!(error = %e, "scheduler task ended abnormally");
        }
        match http.await {
            Ok(Ok(())) => tracing::info!("http listener closed"),
            Ok(Err(e)) => tracing::error!(error = %e, "http server failed"),
            Err(e) => tracing::error!(error = %e, "http task ended abnormally"),
        }
        if let Err(e) = processor.await {
            tracing::error!(error = %e, "inbox processor ended abnormally");
        }
        let _ = sweeps.await;
        watchdog.abort();
        tracing::info!("campaignd stopped");
        Ok(())
    }
}

/// The periodic sweeps (lookups of stale/overdue attempts, rescue of
/// dispatches whose instance died, active cancels, polls of poll-based
/// vendors), every `scheduler.reconcile_every`, the first one at start-up (to
/// recover from a crash). A sweep that overruns delays the next one instead
/// of overlapping it.
///
/// Only the instance holding the leader lease sweeps; it renews the lease
/// before every sweep. When it dies, another instance takes over within
/// `leader_lease` + `reconcile_every`; a clean shutdown hands over at once.
///
/// (A tokio interval, not a tokio-cron-scheduler job: with sub-second periods
/// the cron job sometimes stopped firing after its first run, and a
/// reconciler that silently stops is the one failure this loop must not have.)
async fn sweep_loop(ctx: Ctx, shutdown: CancellationToken) {
    let s = &ctx.settings.scheduler;
    let mut every = tokio::time::interval(s.reconcile_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    let mut lease_failures = FailureLog::new("renewing the leader lease (no sweeps meanwhile)");
    let mut sweep_failures =
        [FailureLog::new("reconciliation sweep"), FailureLog::new("cancel sweep"), FailureLog::new("poll sweep")];
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = every.tick() => {}
        }
        let was_leading = leading;
        match leases::try_acquire(&ctx.db, leases::LEADER, &s.instance_id, s.leader_lease, ctx.clock.now()).await {
            Ok(held) => {
                lease_failures.succeeded();
                leading = held;
            }
            Err(e) => {
                // Unknown whether we still lead (the database is likely
                // unreachable): skip this round, and say "lost" only once
                // another instance is seen holding the lease.
                metrics::counter!("campaignd_loop_failures_total", "loop" => "leader_lease").increment(1);
                lease_failures.failed(&e);
                continue;
            }
        }
        metrics::gauge!("campaignd_leader").set(if leading { 1.0 } else { 0.0 });
        match (was_leading, leading) {
            (false, true) => tracing::info!(instance = %s.instance_id, "this instance leads the sweeps"),
            (true, false) => tracing::warn!(instance = %s.instance_id, "leader lease lost; another instance sweeps"),
            _ => {}
        }
        if !leading {
            continue;
        }
        // A sweep can outlast the lease (lookups wait for rate-limit tokens):
        // the lease is renewed while it runs, and a sweep whose lease is lost
        // is dropped mid-way (its open transaction rolls back) within a third
        // of the lease, instead of running on beside the new leader's.
        tokio::select! {
            _ = sweeps(&ctx, &mut sweep_failures) => {}
            _ = keep_leading(&ctx) => {
                leading = false;
                metrics::gauge!("campaignd_leader").set(0.0);
                tracing::warn!(instance = %s.instance_id, "leader lease lost during a sweep; sweep abandoned");
                continue;
            }
            _ = shutdown.cancelled() => break,
        }
        metrics::counter!("campaignd_sweeps_total").increment(1);
    }
    if leading && let Err(e) = leases::release(&ctx.db, leases::LEADER, &s.instance_id).await {
        tracing::warn!(error = %e, "could not release the leader lease; it expires on its own");
    }
}

/// One round of the leader's sweeps; each kind logs its failures once per burst.
async fn sweeps(ctx: &Ctx, logs: &mut [FailureLog; 3]) {
    let [reconcile_log, cancel_log, poll_log] = logs;
    match reconcile::sweep(ctx, ctx.clock.now()).await {
        Ok(r) => {
            reconcile_log.succeeded();
            if r.looked_up > 0 {
                tracing::info!(?r, "reconciliation sweep");
            }
        }
        Err(e) => reconcile_log.failed(&e),
    }
    match reconcile::cancel::cancel_sweep(ctx, ctx.clock.now()).await {
        Ok(r) => {
            cancel_log.succeeded();
            if r.requested + r.errors > 0 {
                tracing::info!(?r, "cancel sweep");
            }
        }
        Err(e) => cancel_log.failed(&e),
    }
    match reconcile::poll::poll_sweep(ctx, ctx.clock.now()).await {
        Ok(r) => {
            poll_log.succeeded();
            if r.applied + r.errors > 0 {
                tracing::info!(?r, "poll sweep");
            }
        }
        Err(e) => poll_log.failed(&e),
    }
}

/// Renew the leader lease every third of its length; return once it is
/// lost: taken by another instance, or not renewed before it expired.
async fn keep_leading(ctx: &Ctx) {
    let s = &ctx.settings.scheduler;
    let mut renewed = ctx.clock.now();
    let expiry = chrono::Duration::from_std(s.leader_lease).unwrap_or(chrono::Duration::MAX);
    loop {
        tokio::time::sleep(s.leader_lease / 3).await;
        let now = ctx.clock.now();
        match leases::try_acquire(&ctx.db, leases::LEADER, &s.instance_id, s.leader_lease, now).await {
            Ok(true) => renewed = now,
            Ok(false) => return,
            Err(e) if now - renewed >= expiry => {
                tracing::error!(error = %e, "cannot renew the leader lease and it has expired");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the leader lease; retrying"),
        }
    }
}

/// systemd watchdog pings at half the configured interval, when enabled.
async fn watchdog(shutdown: CancellationToken) {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    loop {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
