//! `GET /api/v1/campaigns/{name}/stats`: a campaign's contacts and attempts
//! counted, its calls in flight against the caps, its rates, its window now
//! and an estimate of when it will be done.
//!
//! The store counts (one grouped query per table), the domain decides what
//! the counts mean (`domain::campaign_stats`, `domain::campaign_eta`); this
//! handler only reads `now` and the configured vendors' caps and joins them.

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::domain::campaign_eta::{self, Eta, EtaInput, RATE_PERIOD};
use crate::domain::campaign_stats::{
    self, AttemptCounts, Caps, ContactCounts, InFlight, Rates, WindowNow, attempt_counts, contact_counts,
};
use crate::store::campaign_stats::{attempt_tally, contact_tally};
use crate::store::{StoreError, campaigns, report};
use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(campaign_stats))
}

/// A campaign's statistics at one instant.
#[derive(Serialize, ToSchema)]
pub struct CampaignStats {
    pub name: String,
    /// `draft`, `scheduled`, `running`, `paused`, `completed` or `cancelled`.
    pub state: String,
    /// The instant the counts were taken.
    pub at: DateTime<Utc>,
    pub contacts: ContactCounts,
    pub attempts: AttemptCounts,
    pub in_flight: InFlight,
    pub rates: Rates,
    /// The window in the campaign's own zone; contacts in other zones may
    /// open and close at other times.
    pub window: WindowNow,
    pub eta: Eta,
}

/// A campaign's statistics.
///
/// Contacts by state; attempts by state, disposition, intent and vendor;
/// calls in flight against the campaign's and each vendor's cap; the
/// contact, right-party and promise-to-pay rates; whether the calling window
/// (in the campaign's zone) is open and when it next opens; and an estimated
/// completion time from the attempts finished in the last 15 minutes.
#[utoipa::path(get, path = "/campaigns/{name}/stats", tag = "campaigns", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo")),
    responses(
        (status = 200, description = "The campaign's statistics", body = CampaignStats),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 422, description = "The stored campaign cannot be read", body = ErrorBody),
        AdminErrors,
    ))]
async fn campaign_stats(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
) -> Result<Json<CampaignStats>, ApiError> {
    let now = ctx.clock.now();
    let row = campaigns::find_by_name(&ctx.db, &name).await?;
    let campaign = campaigns::parse(&row, &ctx.settings.compliance)?;
    let contacts = contact_tally(&ctx.db, row.id, campaign.policy.max_attempts).await?;
    let (groups, finished_recently) = attempt_tally(&ctx.db, row.id, now - RATE_PERIOD).await?;
    let vendor_in_flight = report::in_flight_by_vendor(&ctx.db).await?;
    let vendor_caps: BTreeMap<String, u32> =
        ctx.vendors.all().map(|v| (v.adapter.id().to_string(), v.max_concurrency)).collect();
    let caps = Caps {
        campaign_cap: campaign.max_concurrency,
        routes: &campaign.vendors,
        vendor_caps: &vendor_caps,
        vendor_in_flight: &vendor_in_flight,
    };
    let window = campaign.dial_window(None).map_err(StoreError::from)?;
    let eta = campaign_eta::estimate(&EtaInput {
        state: campaign.state,
        starts_at: campaign.starts_at,
        work: contacts.open_work,
        finished_recently,
        period: RATE_PERIOD,
        cap: campaign_stats::effective_cap(&caps),
        window: &window,
        now,
    });
    Ok(Json(CampaignStats {
        name: row.name.clone(),
        state: row.state.clone(),
        at: now,
        contacts: contact_counts(&contacts.by_state),
        attempts: attempt_counts(&groups),
        in_flight: campaign_stats::in_flight(&groups, &caps),
        rates: campaign_stats::rates(&groups),
        window: campaign_stats::window_now(&window, campaign.timezone.name(), now),
        eta,
    }))
}
