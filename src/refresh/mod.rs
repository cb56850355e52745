//! Scheduled contact refresh (docs/crm-refresh.md): each campaign with a
//! `[campaigns.refresh]` block has a tokio-cron-scheduler job on its
//! schedule, in the campaign's zone. A job only wakes this loop; the loop
//! decides which firing the wake-up stands for (`domain::contact_refresh`)
//! and runs it, one firing at a time. Several instances sharing a database
//! all wake; the run row's unique key lets one of them run it.
//!
//! At start-up (and after a reload) a firing missed while no daemon ran is
//! run once, if it is still within the campaign's `grace`.

pub mod firing;
pub mod source;

use crate::config::CampaignSettings;
use crate::context::Ctx;
use crate::domain::contact_refresh::{Trigger, firing_at_wakeup, missed_firing};
use crate::store::{campaigns, contact_refresh};
use firing::fire;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// Run the refresh jobs of the configured campaigns until `shutdown`.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    let refreshed: Vec<&CampaignSettings> = ctx.settings.campaigns.iter().filter(|c| c.refresh.is_some()).collect();
    if refreshed.is_empty() {
        return;
    }
    for c in &refreshed {
        if shutdown.is_cancelled() {
            return;
        }
        catch_up(&ctx, c).await;
    }
    let (wake_tx, mut wakes) = mpsc::channel::<String>(64);
    let mut sched = match jobs(&refreshed, &wake_tx).await {
        Ok(sched) => sched,
        Err(e) => {
            metrics::counter!("campaignd_loop_failures_total", "loop" => "contact_refresh").increment(1);
            tracing::error!("contact refresh: cannot start its schedule ({e}); no refresh will run until a restart");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(name) = wakes.recv() => {
                let Some(c) = refreshed.iter().find(|c| c.name == name) else { continue };
                on_wakeup(&ctx, c).await;
            }
        }
    }
    if let Err(e) = sched.shutdown().await {
        tracing::warn!(error = %e, "contact refresh: stopping its schedule");
    }
}

/// One job per campaign, on its schedule in its zone; each firing sends the
/// campaign's name to the loop.
async fn jobs(
    refreshed: &[&CampaignSettings],
    wake: &mpsc::Sender<String>,
) -> Result<JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
    let sched = JobScheduler::new().await?;
    for c in refreshed {
        let Some(r) = &c.refresh else { continue };
        let (name, wake) = (c.name.clone(), wake.clone());
        let job = Job::new_async_tz(r.schedule.text(), r.schedule.tz, move |_, _| {
            let (name, wake) = (name.clone(), wake.clone());
            Box::pin(async move {
                // A full queue means the loop is behind: this wake-up's firing
                // is then taken by the next one, or skipped (logged there).
                let _ = wake.try_send(name);
            })
        })?;
        sched.add(job).await?;
    }
    sched.start().await?;
    Ok(sched)
}

/// Run the firing a wake-up stands for.
async fn on_wakeup(ctx: &Ctx, c: &CampaignSettings) {
    let Some(r) = &c.refresh else { return };
    let Some(firing) = firing_at_wakeup(&r.schedule, ctx.clock.now()) else { return };
    report(c, fire(&ctx.db, &c.name, r, Trigger::Schedule, firing, instance(ctx), ctx.clock.as_ref()).await);
}

/// Run the firing missed while no daemon ran, if it is within the grace.
async fn catch_up(ctx: &Ctx, c: &CampaignSettings) {
    let Some(r) = &c.refresh else { return };
    let last = match campaigns::find_by_name(&ctx.db, &c.name).await {
        Ok(camp) => contact_refresh::last_scheduled(&ctx.db, camp.id).await,
        Err(e) => Err(e),
    };
    let last = match last {
        Ok(last) => last,
        Err(e) => {
            return tracing::warn!(campaign = %c.name, error = %e, "contact refresh: cannot look for a missed firing");
        }
    };
    let Some(firing) = missed_firing(&r.schedule, ctx.clock.now(), r.grace, last) else { return };
    tracing::info!(campaign = %c.name, %firing, "contact refresh: running the firing missed while stopped");
    report(c, fire(&ctx.db, &c.name, r, Trigger::Missed, firing, instance(ctx), ctx.clock.as_ref()).await);
}

fn instance(ctx: &Ctx) -> &str {
    &ctx.settings.scheduler.instance_id
}

fn report(c: &CampaignSettings, fired: Result<firing::Fired, crate::store::StoreError>) {
    if let Err(e) = fired {
        metrics::counter!("campaignd_loop_failures_total", "loop" => "contact_refresh").increment(1);
        tracing::error!(campaign = %c.name, error = %e, "contact refresh: the firing could not be recorded");
    }
}
