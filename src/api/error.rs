//! The admin API's error answer: a status and a JSON `{"error": ...}` whose
//! text is our own words (a database's error text stays in the log).

use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

/// An error answer: what was wrong, and nothing else.
// Exactly one field (`deny_unknown_fields` makes the schema say so): a body
// with more, like a refused import's counts, is a schema of its own, and a
// `oneOf` of the two can tell them apart.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What was wrong, in our words; names the field or parameter at fault.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

/// A query string that does not fit the handler's parameters answers 400
/// in the same JSON as every other error, naming the parameter.
impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError(StatusCode::BAD_REQUEST, e.body_text())
    }
}

/// The answers every admin route can give besides its own: the `Admin`
/// extractor's refusals and a database failure. Listed in each
/// `#[utoipa::path(responses(..., AdminErrors))]`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its responses are used, by the OpenAPI document
pub enum AdminErrors {
    /// Missing or wrong bearer token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The admin API is disabled: no `http.admin_token` configured.
    #[response(status = 403)]
    Disabled(ErrorBody),
    /// The database failed; retry (the detail is in the daemon's log).
    #[response(status = 503)]
    Unavailable(ErrorBody),
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
