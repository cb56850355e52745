use super::gauges;
use crate::context::Ctx;
use crate::domain::campaign::Campaign;
use crate::domain::state::CampaignState;
use crate::store::campaigns;
use crate::store::{StoreError, contacts};
use chrono::{DateTime, Utc};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub claimed: usize,
    pub deferred: usize,
    pub suppressed: usize,
    pub exhausted: usize,
    pub started: Vec<String>,
    pub completed: Vec<String>,
}

/// One scheduler step at `now`. Tests call this directly with a manual clock.
pub async fn tick(ctx: &Ctx, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    for row in campaigns::load_active(&ctx.db).await? {
        let camp = match crate::store::campaigns::parse(&row, &ctx.settings.compliance) {
            Ok(c) => c,
            Err(e) => {
                // A bad SQL edit must not stop the other campaigns.
                metrics::counter!("campaignd_campaign_errors_total").increment(1);
                tracing::error!(campaign = %row.name, error = %e, "campaign row is invalid; skipped");
                continue;
            }
        };
        gauges::record_window(&camp, now);
        match camp.state {
            CampaignState::Scheduled => start_if_due(ctx, &camp, now, &mut report).await?,
            CampaignState::Running => run_campaign(ctx, &camp, now, &mut report).await?,
            CampaignState::Cancelled => {
                contacts::stop_open(&ctx.db, camp.id, "campaign cancelled", now).await?;
            }
            _ => {}
        }
    }
    Ok(report)
}

async fn start_if_due(
    ctx: &Ctx,
    camp: &Campaign,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let due = camp.starts_at.is_none_or(|s| s <= now);
    if due && campaigns::set_state_fenced(&ctx.db, camp.id, camp.state, CampaignState::Running, now).await? {
        tracing::info!(campaign = %camp.name, "campaign started");
        report.started.push(camp.name.clone());
    }
    Ok(())
}

async fn run_campaign(
    ctx: &Ctx,
    camp: &Campaign,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    if camp.ends_at.is_some_and(|end| end <= now) {
        contacts::stop_open(&ctx.db, camp.id, "campaign ended", now).await?;
        complete(ctx, camp, now, report).await?;
        return Ok(());
    }
    let claimed = super::pipeline::claim_and_dispatch(ctx, camp, now, report).await?;
    if claimed == 0 && !contacts::any_open(&ctx.db, camp.id).await? && has_contacts(ctx, camp.id).await? {
        complete(ctx, camp, now, report).await?;
    }
    Ok(())
}

async fn complete(ctx: &Ctx, camp: &Campaign, now: DateTime<Utc>, report: &mut TickReport) -> Result<(), StoreError> {
    // In-flight attempts keep the campaign running until their results land.
    if contacts::any_open(&ctx.db, camp.id).await? {
        return Ok(());
    }
    if campaigns::set_state_fenced(&ctx.db, camp.id, camp.state, CampaignState::Completed, now).await? {
        tracing::info!(campaign = %camp.name, "campaign completed");
        report.completed.push(camp.name.clone());
    }
    // Only claims set the in-flight gauges, and this campaign will not
    // claim again: its last claim counted its last calls still in flight
    // (their results landed since), so the gauges are set once more from
    // the database, whichever instance's write completed it (on-call saw a
    // phantom call otherwise). An instance that never saw it with nothing
    // open keeps its last claim's count until it claims again.
    let in_flight = crate::store::claim::in_flight_now(&ctx.db, camp, &ctx.vendors.caps(now)).await?;
    gauges::record_in_flight(camp, &in_flight, &ctx.vendors);
    Ok(())
}

async fn has_contacts(ctx: &Ctx, campaign_id: i64) -> Result<bool, StoreError> {
    Ok(contacts::page(&ctx.db, campaign_id, 0, 1).await?.len() == 1)
}
