//! Admin API under `/api/v1`, behind a bearer token (`http.admin_token`).

use crate::context::Ctx;
use crate::domain::state::CampaignEvent;
use crate::store::report;
use crate::store::{StoreError, campaigns, contacts};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<Ctx> {
    Router::new()
        .route("/campaigns", get(list))
        .route("/campaigns/{name}", get(show))
        .route("/campaigns/{name}/{action}", post(action))
        .route("/vendors", get(vendors))
        .route("/openapi.json", get(openapi))
        .merge(super::suppressions::router())
        .merge(super::explain::router())
}

/// Every admin handler calls this first.
pub(crate) fn check_token(ctx: &Ctx, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &ctx.settings.http.admin_token else {
        return Err(ApiError(StatusCode::FORBIDDEN, "admin API disabled: set http.admin_token".into()));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// What a client is told when the database failed: the database's own text
/// (SQL, table names, driver details) stays in the log.
pub const DATABASE_UNAVAILABLE: &str = "database unavailable; retry";

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NoSuchCampaign(_) => StatusCode::NOT_FOUND,
            StoreError::Transition(_) => StatusCode::CONFLICT,
            StoreError::BadCampaign { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Db(db) => {
                tracing::error!(error = %db, "admin API request failed in the database");
                return ApiError(StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE.into());
            }
            StoreError::NoInstallationId | StoreError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

async fn list(State(ctx): State<Ctx>, headers: axum::http::HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    check_token(&ctx, &headers)?;
    let all = report::statuses(&ctx.db, None).await?;
    Ok(Json(json!({ "campaigns": all })))
}

async fn show(
    State(ctx): State<Ctx>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_token(&ctx, &headers)?;
    let one = report::statuses(&ctx.db, Some(&name)).await?;
    Ok(Json(serde_json::to_value(&one[0]).unwrap_or_default()))
}

async fn action(
    State(ctx): State<Ctx>,
    headers: axum::http::HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_token(&ctx, &headers)?;
    let event = match action.as_str() {
        "pause" => CampaignEvent::Pause,
        "resume" => CampaignEvent::Resume,
        "cancel" => CampaignEvent::Cancel,
        other => {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("unknown action `{other}` (pause, resume, cancel)")));
        }
    };
    let now = ctx.clock.now();
    let (from, to) = campaigns::transition(&ctx.db, &name, event, now).await?;
    if event == CampaignEvent::Cancel {
        let row = campaigns::find_by_name(&ctx.db, &name).await?;
        contacts::stop_open(&ctx.db, row.id, "campaign cancelled", now).await?;
    }
    Ok(Json(json!({ "name": name, "from": from.as_str(), "to": to.as_str() })))
}

/// Every configured vendor: kind, cap, calls in flight (across all campaigns
/// and instances, from the database) and whether its circuit is open here.
async fn vendors(State(ctx): State<Ctx>, headers: axum::http::HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    check_token(&ctx, &headers)?;
    let now = ctx.clock.now();
    let in_flight = report::in_flight_by_vendor(&ctx.db).await?;
    let mut all: Vec<serde_json::Value> = ctx
        .vendors
        .all()
        .map(|v| {
            let id = v.adapter.id();
            json!({
                "id": id,
                "kind": v.adapter.kind(),
                "max_concurrency": v.max_concurrency,
                "in_flight": in_flight.get(id).copied().unwrap_or(0),
                "circuit_open": v.circuit_open(now),
                "polls": v.adapter.polls(),
            })
        })
        .collect();
    all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(json!({ "vendors": all })))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_reach_the_client_as_our_own_words_only() {
        let db = crate::store::DbErr::Custom("invalid byte sequence for encoding \"UTF8\": 0x00 in campaigns".into());
        let ApiError(status, text) = StoreError::Db(db).into();
        assert_eq!((status, text.as_str()), (StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE));
        let ApiError(status, text) = StoreError::NoSuchCampaign("x".into()).into();
        assert_eq!((status, text.as_str()), (StatusCode::NOT_FOUND, "no campaign named `x`"));
    }
}
