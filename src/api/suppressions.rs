//! `/api/v1/suppressions`: export, import and remove suppression list
//! entries. Imports never weaken an entry (the longer-lasting one wins);
//! only DELETE takes a number off.

use super::auth::Admin;
use super::body::{BodyError, contains_nul, read_within};
use super::error::ApiError;
use crate::context::Ctx;
use crate::domain::phone::E164;
use crate::domain::suppression::parse_expiry;
use crate::store::suppressions::{self, ListFilter};
use crate::suppression_list::{self, Defaults, ExportError, ListFormat, ParsedList};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Largest list accepted in one request; larger lists go through the CLI or
/// in several requests.
pub const MAX_IMPORT_BYTES: usize = 32 << 20;

pub fn router() -> Router<Ctx> {
    Router::new().route("/suppressions", get(export).post(import)).route("/suppressions/{phone}", delete(remove))
}

#[derive(Debug, Deserialize)]
struct ExportParams {
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// Include expired entries (with `active`).
    #[serde(default)]
    all: bool,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Store(e) => e.into(),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

async fn export(_: Admin, State(ctx): State<Ctx>, Query(params): Query<ExportParams>) -> Result<Response, ApiError> {
    let (format, content_type) = match params.format.as_deref() {
        None | Some("json") => (ListFormat::Json, "application/json"),
        Some("csv") => (ListFormat::Csv, "text/csv; charset=utf-8"),
        Some(other) => {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("format: `{other}` is not csv or json")));
        }
    };
    let filter = if params.all { ListFilter::All } else { ListFilter::Active };
    let mut body = Vec::new();
    suppression_list::export(&ctx.db, filter, format, ctx.clock.now(), &mut body).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

#[derive(Debug, Deserialize)]
struct ImportParams {
    /// Reason for entries without one.
    reason: Option<String>,
    /// Source for entries without one (default `api`).
    source: Option<String>,
    /// Expiry for entries without one (default never).
    expires: Option<String>,
    /// Country calling code for national numbers.
    country_code: Option<String>,
}

/// Body: `text/csv` with a header line, or `application/json` (an array of
/// objects). 200 with the counts and the rejected rows; 400 when no entry in
/// the body is valid (nothing was imported).
async fn import(
    _: Admin,
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(params): Query<ImportParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let now = ctx.clock.now();
    let expires_at = match params.expires.as_deref() {
        Some(text) => {
            parse_expiry(text, now).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("expires: {e}")))?
        }
        None => None,
    };
    let defaults = Defaults {
        reason: params.reason,
        source: params.source.unwrap_or_else(|| "api".into()),
        expires_at,
        country_code: params.country_code,
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "text/csv" && media != "application/json" {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type `{content_type}`: send text/csv or application/json"),
        ));
    }
    let deadline = ctx.settings.http.limits.body_read_timeout;
    let bytes = read_within(body, MAX_IMPORT_BYTES, deadline).await.map_err(|e| match e {
        BodyError::TooLarge { .. } => ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("{e}: split the list")),
        BodyError::TimedOut { .. } => ApiError(StatusCode::REQUEST_TIMEOUT, e.to_string()),
        BodyError::Broken => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
    })?;
    if contains_nul(&bytes, Some(media.as_str())) {
        // PostgreSQL text columns refuse NUL; say so instead of failing there.
        let reason = "body: contains a NUL character (a 0 byte or \\u0000), which no entry may carry";
        return Err(ApiError(StatusCode::BAD_REQUEST, reason.into()));
    }
    let parsed: ParsedList = if media == "text/csv" {
        suppression_list::parse_csv(&bytes[..], &defaults, now)
    } else {
        suppression_list::parse_json(&bytes, &defaults, now)
    }
    .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    if parsed.entries.is_empty() {
        let errors = serde_json::to_value(&parsed.errors).unwrap_or_default();
        let body = json!({
            "error": format!("no valid entry: {} rows, {} rejected", parsed.rows, parsed.rejected),
            "rows": parsed.rows,
            "rejected": parsed.rejected,
            "errors": errors,
        });
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let report = suppression_list::import(&ctx.db, parsed, now).await?;
    Ok(Json(report).into_response())
}

/// `{phone}` in E.164; the `+` may be sent as is or as `%2B`.
async fn remove(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(phone): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let phone = E164::parse(&phone, None).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("phone: {e}")))?;
    if !suppressions::remove(&ctx.db, phone.as_str()).await? {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("{phone} is not on the suppression list")));
    }
    Ok(Json(json!({ "phone": phone.as_str(), "removed": true })))
}
