//! `GET /api/v1/vendors/scorecard?from=&to=`: per vendor over a period,
//! its dials and attempts, connect and conversation rates, intents, talk
//! and ring time, errors by code, callback lag and cost.
//!
//! The store counts (one grouped query per table), the domain decides what
//! the counts mean (`domain::vendor_scorecard`); this handler reads the
//! period, `now` and the configured vendors and joins them.

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::domain::scorecard_calls::add_call_figures;
use crate::domain::vendor_scorecard::{VendorScorecard, scorecards};
use crate::store::vendor_scorecard::{attempt_groups, call_figures, dials_by_vendor};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The period when `from` is not given: the last day.
const DEFAULT_PERIOD: Duration = Duration::hours(24);

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(vendor_scorecard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodParams {
    /// Start of the period (RFC 3339, inclusive); 24 hours before `to` by default.
    #[param(example = "2026-12-04T00:00:00Z")]
    from: Option<String>,
    /// End of the period (RFC 3339, exclusive); now by default.
    #[param(example = "2026-12-05T00:00:00Z")]
    to: Option<String>,
}

/// Every vendor's scorecard over one period.
#[derive(Serialize, ToSchema)]
pub struct Scorecard {
    /// Attempts created at or after this instant are counted…
    pub from: DateTime<Utc>,
    /// …and before this one.
    pub to: DateTime<Utc>,
    /// Every configured vendor, zeros included, and any other vendor with
    /// attempts in the period; ordered by id.
    pub vendors: Vec<VendorScorecard>,
}

/// Every vendor's scorecard over a period.
///
/// Over the attempts created in [`from`, `to`): per vendor its dials
/// (vendor redials included), attempts, completed and connected attempts,
/// connect and conversation rates, attempts by intent, average talk time,
/// errors by raw vendor code, ring time (p50, mean), callback lag (p50,
/// p95), reached contacts, promises, and cost by currency (total, per
/// reached contact, per promise).
#[utoipa::path(get, path = "/vendors/scorecard", tag = "vendors", security(("bearer" = [])),
    params(PeriodParams),
    responses(
        (status = 200, description = "The scorecards", body = Scorecard),
        (status = 400, description = "A `from` or `to` that is not an RFC 3339 time, or `from` after `to`", body = ErrorBody),
        AdminErrors,
    ))]
async fn vendor_scorecard(
    _: Admin,
    State(ctx): State<Ctx>,
    params: Result<Query<PeriodParams>, QueryRejection>,
) -> Result<Json<Scorecard>, ApiError> {
    let Query(params) = params?;
    let to = match params.to.as_deref() {
        Some(text) => instant("to", text)?,
        None => ctx.clock.now(),
    };
    let from = match params.from.as_deref() {
        Some(text) => instant("from", text)?,
        None => to - DEFAULT_PERIOD,
    };
    if from > to {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("from: {from:?} is after to ({to:?})")));
    }
    let groups = attempt_groups(&ctx.db, from, to).await?;
    let dials = dials_by_vendor(&ctx.db, from, to).await?;
    let figures = call_figures(&ctx.db, from, to).await?;
    let configured: Vec<String> = ctx.vendors.all().map(|v| v.adapter.id().to_string()).collect();
    let mut vendors = scorecards(&configured, &groups, &dials);
    add_call_figures(&mut vendors, &figures);
    Ok(Json(Scorecard { from, to, vendors }))
}

fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{name}: `{text}` is not an RFC 3339 time ({e})")))
}
