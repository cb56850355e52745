//! `GET /api/v1/campaigns/{name}/refresh-runs`: a campaign's scheduled
//! contact refresh runs, newest first (docs/crm-refresh.md).

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::store::{campaigns, contact_refresh};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entity::contact_refresh_run;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Runs listed unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Runs to list, 1 to 500 (default 20).
    limit: Option<u64>,
}

/// One run of a campaign's contact refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshRun {
    pub id: i64,
    /// The schedule's firing time (for a manual run: when it was asked for).
    pub scheduled_for: DateTime<Utc>,
    /// `schedule`, `missed` (run at start-up within the grace) or `manual`.
    pub trigger: String,
    /// The instance that ran it (`cli:<instance>` for `campaignd refresh now`).
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    /// Null while it runs (or if its instance died during it).
    pub finished_at: Option<DateTime<Utc>>,
    /// The file read, or the URL (never credentials).
    pub source: String,
    /// `running`, `ok` or `failed`.
    pub state: String,
    /// Data rows read.
    pub rows: i64,
    /// New contacts imported.
    pub added: i64,
    /// Rows whose number the campaign already had (or that came twice).
    pub duplicates: i64,
    /// Rows that could not be read; the first 1,000 are in `rejected_rows`.
    pub rejected: i64,
    /// Contacts stopped because the source no longer lists them.
    pub removed: i64,
    /// Why the run failed; a failed run stopped no contact.
    pub error: Option<String>,
    pub rejected_rows: Vec<RejectedRow>,
}

/// A row of the source that could not be read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectedRow {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// `phone`, `timezone`, `case_id`, `variables` or `row`.
    pub field: String,
    pub message: String,
}

impl From<&contact_refresh_run::Model> for RefreshRun {
    fn from(r: &contact_refresh_run::Model) -> RefreshRun {
        RefreshRun {
            id: r.id,
            scheduled_for: r.scheduled_for,
            trigger: r.trigger.clone(),
            instance_id: r.instance_id.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            source: r.source.clone(),
            state: r.state.clone(),
            rows: r.rows,
            added: r.added,
            duplicates: r.duplicates,
            rejected: r.rejected,
            removed: r.removed,
            error: r.error.clone(),
            // Written by this daemon only; a row edited into another shape lists nothing.
            rejected_rows: serde_json::from_value(r.rejected_rows.clone()).unwrap_or_default(),
        }
    }
}

/// A campaign's contact refresh runs, newest first.
///
/// Each run of the campaign's `[campaigns.refresh]` schedule (and each
/// `campaignd refresh now`): when, from which file or URL, how many rows were
/// read, added, rejected (with their lines) and how many contacts were
/// stopped because the source no longer lists them.
#[utoipa::path(get, path = "/campaigns/{name}/refresh-runs", tag = "campaigns", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo"), ListParams),
    responses(
        (status = 200, description = "The campaign's refresh runs, newest first", body = Vec<RefreshRun>),
        (status = 400, description = "A limit out of range, or an unreadable parameter; the error names it", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        AdminErrors,
    ))]
async fn list(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<RefreshRun>>, ApiError> {
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("limit: {limit} is not between 1 and {MAX_LIMIT}")));
    }
    let camp = campaigns::find_by_name(&ctx.db, &name).await?;
    let runs = contact_refresh::runs(&ctx.db, camp.id, limit).await?;
    Ok(Json(runs.iter().map(RefreshRun::from).collect()))
}
