//! One startup shape: build from settings (database, config sync, vendors,
//! listener), expose the bound address, then run the HTTP server and the
//! background loops under one shutdown signal. A reload (SIGHUP) swaps the
//! loops and the server for ones built from the new config; the socket, the
//! database pool and the single-instance lock outlive it.

use crate::cadence::Cadence;
use crate::clock::Clock;
use crate::config::{CampaignSettings, Settings};
use crate::context::Ctx;
use crate::domain::state::CampaignState;
use crate::domain::work::{CampaignWork, nothing_to_dial};
use crate::failure_log::FailureLog;
use crate::store::Db;
use crate::store::db::{self, InstanceLock};
use crate::store::{campaigns, contacts, leases};
use crate::vendors::registry::VendorRegistry;
use crate::{api, import, ingest, reconcile, refresh, scheduler};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod reload;

pub struct App {
    ctx: Ctx,
    /// The listening socket, kept for the daemon's lifetime: each
    /// configuration's HTTP server accepts on a duplicate of it, so a reload
    /// never closes the port (connections wait in the backlog meanwhile).
    listener: std::net::TcpListener,
    addr: SocketAddr,
    lock: Option<InstanceLock>,
}

/// Where a reload reads the config, and the requests for one (SIGHUP).
pub struct Reloads {
    pub config: PathBuf,
    pub requests: mpsc::Receiver<()>,
}

impl App {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let mut lock = db::lock_sqlite(&settings.database.url)?;
        let conn = db::connect(&settings.database).await.context("connecting to the database")?;
        db::migrate(&conn).await.context("running migrations")?;
        if let Some(lock) = &mut lock {
            lock.pin_database()?;
        }
        let now = clock.now();
        let me = &settings.scheduler.instance_id;
        let leftover = leases::recover_leftovers(&conn, me, lock.is_some(), now).await?;
        if leftover > 0 {
            tracing::warn!(attempts = leftover, instance = %me, "dispatches of a previous run of this instance are looked up");
        }
        sync_campaigns(&conn, &settings.campaigns, now).await?;
        let listener = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("binding http.listen {}", settings.http.listen))?;
        let addr = listener.local_addr()?;
        let callback_base = callback_base(&settings, addr);
        let vendors = VendorRegistry::build(&settings.vendors, &callback_base).await?;
        vendors.share_limits(&conn, &clock).await.context("registering the vendors' shared limits")?;
        let store_health = crate::store::health::StoreHealth::new(
            conn.clone(),
            crate::config::validate::sqlite_file(&settings.database.url),
        );
        let ctx = Ctx {
            inbox: crate::store::inbox_writer::InboxWriter::spawn(conn.clone(), store_health.clone()),
            store_health,
            db: conn,
            settings: Arc::new(settings),
            vendors: Arc::new(vendors),
            clock,
            callback_base,
            inbox_notify: Arc::new(Notify::new()),
            forward_notify: Arc::new(Notify::new()),
        };
        say_if_idle(&ctx.db).await;
        Ok(App { ctx, listener: listener.into_std()?, addr, lock })
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
        let lock = self.lock;
        let max = self.ctx.settings.http.max_connections;
        let listener = self.listener;
        let ctx = self.ctx.clone();
        let handle = tokio::spawn(async move {
            let served = match TcpListener::from_std(listener) {
                Ok(listener) => api::serve(listener, ctx, max, shutdown).await,
                Err(e) => Err(e),
            };
            drop(lock);
            served
        });
        (self.ctx, handle)
    }

    /// Serve until `shutdown` fires: stop claiming, let the current tick's
    /// dispatches finish and be recorded, stop accepting callbacks, apply the
    /// stored ones, then return.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.run(shutdown, None).await
    }

    /// [`App::run_until_stopped`], reloading the config on each request of
    /// `reloads`; and stopping with an error if the SQLite database file is
    /// deleted or replaced under the daemon.
    pub async fn run(self, shutdown: CancellationToken, mut reloads: Option<Reloads>) -> anyhow::Result<()> {
        let App { mut ctx, listener, addr, lock } = self;
        let watchdog = tokio::spawn(watchdog(shutdown.clone()));
        let mut running = Generation::start(&ctx, &listener, &shutdown)?;
        // HTTP servers of earlier configurations finishing their requests.
        let mut draining = Vec::new();
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        tracing::info!(%addr, "campaignd running");

        let mut check_database = tokio::time::interval(DATABASE_CHECK);
        let mut fatal = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(()) = next_request(&mut reloads) => {
                    let Some(r) = &reloads else { continue };
                    let reloading = sd_notify::NotifyState::monotonic_usec_now();
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]
                        .into_iter().chain(reloading.ok()).collect::<Vec<_>>());
                    if let Some(next) = reload_ctx(&ctx, addr, &r.config).await {
                        draining.retain(|http: &JoinHandle<_>| !http.is_finished());
                        draining.push(running.stop_for_reload().await);
                        ctx = next;
                        running = Generation::start(&ctx, &listener, &shutdown)?;
                        say_if_idle(&ctx.db).await;
                    }
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                }
                _ = check_database.tick(), if lock.is_some() => {
                    if let Some(why) = lock.as_ref().and_then(InstanceLock::database_replaced) {
                        tracing::error!("{why} while campaignd was running: stopping, since everything \
                            written from now on would go to a file nobody reads; restore the file or \
                            start again on the new one");
                        fatal = Some(why);
                        break;
                    }
                }
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        running.stop().await;
        for http in draining {
            let _ = http.await;
        }
        watchdog.abort();
        drop(lock);
        match fatal {
            Some(why) => anyhow::bail!("{why} while campaignd was running"),
            None => {
                tracing::info!("campaignd stopped");
                Ok(())
            }
        }
    }
}

/// How often a daemon on SQLite checks that its database path still names
/// the file it has open: a stat(2), cheap enough to do every second.
const DATABASE_CHECK: Duration = Duration::from_secs(1);

async fn next_request(reloads: &mut Option<Reloads>) -> Option<()> {
    match reloads {
        Some(r) => r.requests.recv().await,
        None => std::future::pending().await,
    }
}

fn callback_base(settings: &Settings, addr: SocketAddr) -> String {
    settings.http.public_url.clone().unwrap_or_else(|| format!("http://{addr}"))
}

/// Make the config's campaigns exist as configured, and import their
/// `contacts_file`s (duplicates are skipped, so a restart or reload
/// re-importing the same file adds nothing). Every file is opened before
/// anything is written: a missing one changes nothing.
async fn sync_campaigns(conn: &Db, campaigns: &[CampaignSettings], now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for c in campaigns {
        let Some(path) = &c.contacts_file else { continue };
        let file = std::fs::File::open(path)
            .with_context(|| format!("campaign {}: contacts_file {}", c.name, path.display()))?;
        files.push((c, path, file));
    }
    campaigns::sync_from_config(conn, campaigns, now).await?;
    for (c, path, file) in files {
        let row = campaigns::find_by_name(conn, &c.name).await?;
        let report = import::import_csv(conn, &row, std::io::BufReader::new(file), None, now).await?;
        tracing::info!(campaign = %c.name, inserted = report.inserted, duplicates = report.duplicates, rejected = report.rejected, "contacts_file imported");
        for e in &report.errors {
            tracing::warn!(campaign = %c.name, file = %path.display(), "{e}");
        }
    }
    Ok(())
}

/// Read the config again and build the context it runs with: vendors
/// rebuilt (unchanged ones kept as they run), config campaigns synced.
/// `None` (and the reason logged) when the file is refused or changes
/// nothing: the running configuration stays.
async fn reload_ctx(ctx: &Ctx, addr: SocketAddr, config: &Path) -> Option<Ctx> {
    tracing::info!(config = %config.display(), "SIGHUP: reloading the config");
    let loaded = match crate::config::load(config, &crate::vendors::Kinds) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("config reload refused, the running config is kept: {e}");
            return None;
        }
    };
    let plan = reload::plan(&ctx.settings, loaded);
    if !plan.needs_restart.is_empty() {
        tracing::warn!(
            "config reload: {} changed but needs a restart (the running value is kept until then)",
            plan.needs_restart.join(", ")
        );
    }
    if plan.applied.is_empty() {
        let nothing = if plan.needs_restart.is_empty() { "nothing changed" } else { "nothing else changed" };
        tracing::info!("config reloaded: {nothing}");
        return None;
    }
    match apply(ctx, addr, &plan).await {
        Ok(next) => {
            tracing::info!("config reloaded: {}", plan.applied.join(", "));
            Some(next)
        }
        Err(e) => {
            tracing::error!("config reload failed, the running config is kept: {e:#}");
            None
        }
    }
}

async fn apply(ctx: &Ctx, addr: SocketAddr, plan: &reload::Plan) -> anyhow::Result<Ctx> {
    let now = ctx.clock.now();
    let settings = plan.settings.clone();
    let callback_base = callback_base(&settings, addr);
    let vendors = ctx.vendors.rebuild(&settings.vendors, &plan.unchanged_vendors, &callback_base).await?;
    vendors.share_limits(&ctx.db, &ctx.clock).await.context("registering the vendors' shared limits")?;
    sync_campaigns(&ctx.db, &settings.campaigns, now).await?;
    Ok(Ctx { settings: Arc::new(settings), vendors: Arc::new(vendors), callback_base, ..ctx.clone() })
}

/// One WARN line when no campaign has anything to dial, saying how to give
/// the daemon work. A failure to find out is not worth more than a debug line.
async fn say_if_idle(conn: &Db) {
    let mut work = Vec::new();
    let rows = match campaigns::load_active(conn).await {
        Ok(rows) => rows,
        Err(e) => return tracing::debug!(error = %e, "cannot tell whether there is work"),
    };
    for row in rows {
        let Ok(state) = row.state.parse::<CampaignState>() else { continue };
        match contacts::open_count(conn, row.id).await {
            Ok(open_contacts) => work.push(CampaignWork { name: row.name, state, open_contacts }),
            Err(e) => return tracing::debug!(error = %e, "cannot tell whether there is work"),
        }
    }
    if let Some(line) = nothing_to_dial(&work) {
        tracing::warn!("{line}");
    }
}

/// The HTTP server and the loops of one configuration. A reload stops one
/// generation and starts the next on the same socket, database pool and
/// inbox writer.
struct Generation {
    stop: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    sched: JoinHandle<()>,
    processor: JoinHandle<()>,
    sweeps: JoinHandle<()>,
    /// The campaigns' scheduled contact refresh (docs/crm-refresh.md).
    refresh: JoinHandle<()>,
    forwarder: JoinHandle<()>,
    /// PostgreSQL: `ANALYZE` of tables a burst changed (`crate::planner_stats`).
    planner_stats: JoinHandle<()>,
}

impl Generation {
    fn start(ctx: &Ctx, listener: &std::net::TcpListener, shutdown: &CancellationToken) -> anyhow::Result<Generation> {
        let stop = shutdown.child_token();
        let socket = TcpListener::from_std(listener.try_clone().context("duplicating the listening socket")?)?;
        let max = ctx.settings.http.max_connections;
        Ok(Generation {
            http: tokio::spawn(api::serve(socket, ctx.clone(), max, stop.clone())),
            sched: tokio::spawn(scheduler::run(ctx.clone(), stop.clone())),
            processor: tokio::spawn(ingest::processor::run(ctx.clone(), stop.clone())),
            sweeps: tokio::spawn(sweep_loop(ctx.clone(), stop.clone())),
            refresh: tokio::spawn(refresh::run(ctx.clone(), stop.clone())),
            forwarder: tokio::spawn(crate::forwarding::run(ctx.clone(), stop.clone())),
            planner_stats: tokio::spawn(crate::planner_stats::run(ctx.clone(), stop.clone())),
            stop,
        })
    }

    /// Stop for a reload: the loops are awaited (two schedulers must never
    /// claim side by side); the HTTP server stops accepting at once and
    /// finishes its requests in the background, its handle returned.
    async fn stop_for_reload(self) -> JoinHandle<std::io::Result<()>> {
        self.stop.cancel();
        Generation::stopped("scheduler", self.sched).await;
        Generation::stopped("inbox processor", self.processor).await;
        Generation::stopped("sweeps", self.sweeps).await;
        Generation::stopped("contact refresh", self.refresh).await;
        Generation::stopped("forwarding", self.forwarder).await;
        Generation::stopped("planner statistics", self.planner_stats).await;
        self.http
    }

    /// Stop for good: no new claims, the current tick's dispatches recorded,
    /// the listener closed, the stored callbacks applied.
    async fn stop(self) {
        self.stop.cancel();
        tracing::info!("shutting down: no new claims");
        Generation::stopped("scheduler", self.sched).await;
        match self.http.await {
            Ok(Ok(())) => tracing::info!("http listener closed"),
            Ok(Err(e)) => tracing::error!(error = %e, "http server failed"),
            Err(e) => tracing::error!(error = %e, "http task ended abnormally"),
        }
        Generation::stopped("inbox processor", self.processor).await;
        let _ = self.sweeps.await;
        Generation::stopped("contact refresh", self.refresh).await;
        Generation::stopped("forwarding", self.forwarder).await;
        Generation::stopped("planner statistics", self.planner_stats).await;
    }

    async fn stopped(what: &str, task: JoinHandle<()>) {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "{what} task ended abnormally");
        }
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
/// (A [`Cadence`], a tokio interval, not a tokio-cron-scheduler job: with sub-second periods
/// the cron job sometimes stopped firing after its first run, and a
/// reconciler that silently stops is the one failure this loop must not have.)
async fn sweep_loop(ctx: Ctx, shutdown: CancellationToken) {
    let s = &ctx.settings.scheduler;
    let mut every = Cadence::every(s.reconcile_every);
    let mut leading = false;
    let mut lease_failures = FailureLog::new("renewing the leader lease (no sweeps meanwhile)");
    let mut sweep_failures =
        [FailureLog::new("reconciliation sweep"), FailureLog::new("cancel sweep"), FailureLog::new("poll sweep")];
    while every.next(shutdown.cancelled()).await {
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
