//! `/api/v1/suppressions`: export, import and remove suppression list
//! entries. Imports never weaken an entry (the longer-lasting one wins);
//! only DELETE takes a number off.

use super::auth::Admin;
use super::body::{BodyError, contains_nul, read_within};
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::domain::phone::E164;
use crate::domain::suppression::parse_expiry;
use crate::store::suppressions::{self, ListFilter};
use crate::suppression_list::{
    self, Defaults, EntryError, ExportError, ExportedEntry, ImportReport, ListFormat, ParsedList,
};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest list accepted in one request; larger lists go through the CLI or
/// in several requests.
pub const MAX_IMPORT_BYTES: usize = 32 << 20;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(export, import)).routes(routes!(remove))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportParams {
    /// `json` (default) or `csv`.
    #[param(inline, value_type = Option<ExportFormat>)]
    format: Option<String>,
    /// Include expired entries (each with `active`).
    #[serde(default)]
    all: bool,
}

/// The formats an export is written in.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // the parameter is matched as text, to name a wrong one; this documents its values
enum ExportFormat {
    Json,
    Csv,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Store(e) => e.into(),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// Export the suppression list.
///
/// The entries in force, or all of them with `all=true` (each then with
/// `active`). CSV writes `never` for an entry
/// that never expires, so an export imports back unchanged.
#[utoipa::path(get, path = "/suppressions", tag = "suppressions", security(("bearer" = [])),
    params(ExportParams),
    responses(
        (status = 200, description = "The list", content(
            (Vec<ExportedEntry> = "application/json"),
            (String = "text/csv", example = "phone,reason,source,created_at,expires_at\n+6281100000001,complaint,api,2026-01-01T00:00:00Z,never\n"),
        )),
        (status = 400, description = "An unknown format or unreadable parameter", body = ErrorBody),
        AdminErrors,
    ))]
async fn export(
    _: Admin,
    State(ctx): State<Ctx>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// Reason for entries without one.
    reason: Option<String>,
    /// Source for entries without one (default `api`).
    source: Option<String>,
    /// Expiry for entries without one: `never` (default), a duration from
    /// now (`90d`), a date (`2026-12-31`, the whole day UTC) or RFC 3339.
    expires: Option<String>,
    /// Country calling code for national numbers.
    country_code: Option<String>,
}

/// One entry of a JSON import. Documents the body only: rows are read one
/// by one (a bad row is reported, the good ones imported), not as this type.
#[derive(ToSchema)]
#[schema(as = SuppressionImportRow)]
#[allow(dead_code)]
struct ImportRow {
    /// E.164, or national with `country_code`.
    phone: String,
    /// Default: the `reason` parameter; required where that is absent.
    reason: Option<String>,
    source: Option<String>,
    /// `never`, a duration, a date or RFC 3339; null: never; absent: the `expires` parameter.
    expires_at: Option<String>,
}

/// A refused import: nothing was imported, because no row was valid.
#[derive(Serialize, ToSchema)]
struct NoValidEntry {
    error: String,
    rows: u64,
    rejected: u64,
    /// The first rejected rows.
    errors: Vec<EntryError>,
}

/// A 400 from an import: an error, or the rows that were all rejected.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the 400; each arm is built as its own type
enum ImportRefused {
    NoValidEntry(NoValidEntry),
    Error(ErrorBody),
}

/// Import entries onto the suppression list.
///
/// Never weakens an entry: where a number is listed, the entry that lasts
/// longer wins (never beats any date), with its reason and
/// source. Bad rows are reported, good rows imported.
#[utoipa::path(post, path = "/suppressions", tag = "suppressions", security(("bearer" = [])),
    params(ImportParams),
    request_body(description = "CSV with a header line (`phone` required; `reason`, `source`, `expires_at`; \
            other columns ignored), or a JSON array of objects with the same fields",
        content(
            (String = "text/csv", example = "phone,reason\n+6281100000001,complaint\n"),
            (Vec<ImportRow> = "application/json"),
        )),
    responses(
        (status = 200, description = "The counts and the rejected rows", body = ImportReport),
        (status = 400, description = "No valid entry (nothing imported), an unreadable header, body or parameter",
            body = ImportRefused),
        (status = 408, description = "The body did not arrive within `http.body_read_timeout`", body = ErrorBody),
        (status = 413, description = "Larger than 32 MiB: split the list", body = ErrorBody),
        (status = 415, description = "Neither text/csv nor application/json", body = ErrorBody),
        AdminErrors,
    ))]
async fn import(
    _: Admin,
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    params: Result<Query<ImportParams>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
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
        let body = NoValidEntry {
            error: format!("no valid entry: {} rows, {} rejected", parsed.rows, parsed.rejected),
            rows: parsed.rows,
            rejected: parsed.rejected,
            errors: parsed.errors,
        };
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let report = suppression_list::import(&ctx.db, parsed, now).await?;
    Ok(Json(report).into_response())
}

#[derive(Serialize, ToSchema)]
struct Removed {
    /// The number, normalized.
    phone: String,
    removed: bool,
}

/// Take a number off the suppression list (the only way an entry is shortened).
#[utoipa::path(delete, path = "/suppressions/{phone}", tag = "suppressions", security(("bearer" = [])),
    params(("phone" = String, Path, description = "E.164; the leading `+` as is or as `%2B`", example = "+628125550021")),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 400, description = "An unreadable phone number", body = ErrorBody),
        (status = 404, description = "Not on the list", body = ErrorBody),
        AdminErrors,
    ))]
async fn remove(_: Admin, State(ctx): State<Ctx>, Path(phone): Path<String>) -> Result<Json<Removed>, ApiError> {
    let phone = E164::parse(&phone, None).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("phone: {e}")))?;
    if !suppressions::remove(&ctx.db, phone.as_str()).await? {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("{phone} is not on the suppression list")));
    }
    Ok(Json(Removed { phone: phone.as_str().into(), removed: true }))
}
