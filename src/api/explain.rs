//! `GET /api/v1/campaigns/{name}/contacts/{phone}/explain`: a contact's
//! decision trail, attempts and recent dials (the JSON of `campaignd explain`).

use super::auth::Admin;
use super::error::ApiError;
use crate::context::Ctx;
use crate::store::explain::{ExplainError, Explanation, explain};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<Ctx> {
    Router::new().route("/campaigns/{name}/contacts/{phone}/explain", get(explain_contact))
}

impl From<ExplainError> for ApiError {
    fn from(e: ExplainError) -> Self {
        match e {
            ExplainError::Store(e) => e.into(),
            ExplainError::Phone(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            ExplainError::NotInCampaign { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
        }
    }
}

/// `{phone}` is the number as imported; a leading `+` may be sent as is or as `%2B`.
async fn explain_contact(
    _: Admin,
    State(ctx): State<Ctx>,
    Path((name, phone)): Path<(String, String)>,
) -> Result<Json<Explanation>, ApiError> {
    Ok(Json(explain(&ctx.db, &name, &phone, ctx.clock.now()).await?))
}
