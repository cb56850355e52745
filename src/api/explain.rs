//! `GET /api/v1/campaigns/{name}/contacts/{phone}/explain`: a contact's
//! decision trail, attempts and recent dials (the JSON of `campaignd explain`).

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::store::explain::{ExplainError, Explanation, explain};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(explain_contact))
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

/// Why a contact was or was not called.
///
/// Its decisions (its own and its zone group's) in time order, its attempts, the number's suppression entry and
/// its dials in the last 7 days across all campaigns.
#[utoipa::path(get, path = "/campaigns/{name}/contacts/{phone}/explain", tag = "campaigns",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "The campaign's name", example = "demo"),
        ("phone" = String, Path, description = "The number as imported (national numbers take the campaign's \
            default country code); a leading `+` as is or as `%2B`", example = "+628125550021"),
    ),
    responses(
        (status = 200, description = "The contact's trail", body = Explanation),
        (status = 400, description = "An unreadable phone number or path segment", body = ErrorBody),
        (status = 404, description = "No such campaign, or the number is not a contact of it", body = ErrorBody),
        AdminErrors,
    ))]
async fn explain_contact(
    _: Admin,
    State(ctx): State<Ctx>,
    Path((name, phone)): Path<(String, String)>,
) -> Result<Json<Explanation>, ApiError> {
    Ok(Json(explain(&ctx.db, &name, &phone, ctx.clock.now()).await?))
}
