//! The admin API's error answer: a status and a JSON `{"error": ...}` whose
//! text is our own words (a database's error text stays in the log).

use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
