//! `/api/v1/campaigns/{name}/contacts`: add contacts to a campaign (an
//! upload of CSV or NDJSON, imported as `campaignd import` imports a file),
//! list them a page at a time, and remove one that was never dialed.
//!
//! An upload is never held in memory: its body is pumped into a parser on a
//! blocking thread (`upload_body`), whose batches the one importer of the
//! daemon (`crate::import`) writes as they come.

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use super::upload_body::{self, UploadError};
use crate::context::Ctx;
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::phone::E164;
use crate::domain::state::{CampaignState, ContactState};
use crate::import::{self, CsvRows, ImportError, ImportReport, JsonLines, RowContext};
use crate::store::campaigns;
use crate::store::contact_list::{self, ContactFilter};
use crate::store::contact_removal::{Removal, remove_undialed};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use entity::{campaign, contact};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(upload, list)).routes(routes!(remove))
}

/// Contacts per page unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

/// What an upload did: the counts of `campaignd import`.
#[derive(Serialize, ToSchema)]
pub struct ContactImportReport {
    /// Rows read (header and blank lines not counted).
    pub rows: u64,
    /// Contacts added.
    pub added: u64,
    /// Valid rows whose number the campaign already had (or an earlier row had).
    pub duplicates: u64,
    /// Rows refused; the first 1000 are in `errors`.
    pub rejected: u64,
    pub errors: Vec<RowErrorView>,
}

/// One refused row.
#[derive(Serialize, ToSchema)]
pub struct RowErrorView {
    /// 1-based line of the body (a CSV's header is line 1).
    pub line: u64,
    /// `phone`, `case_id`, `timezone`, `variables`, or `row` for a line that
    /// does not parse.
    pub field: String,
    pub message: String,
}

impl From<ImportReport> for ContactImportReport {
    fn from(r: ImportReport) -> Self {
        ContactImportReport {
            rows: r.rows,
            added: r.inserted,
            duplicates: r.duplicates,
            rejected: r.rejected,
            errors: r
                .errors
                .into_iter()
                .map(|e| RowErrorView { line: e.line, field: e.field.to_string(), message: e.message })
                .collect(),
        }
    }
}

/// A refused upload: no row was valid, so nothing was imported.
#[derive(Serialize, ToSchema)]
pub struct NoValidRow {
    pub error: String,
    #[serde(flatten)]
    pub report: ContactImportReport,
}

/// A 400 from an upload: every row rejected, or an error.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the 400; each arm is built as its own type
pub enum UploadRefused {
    NoValidRow(NoValidRow),
    Error(ErrorBody),
}

/// The formats an upload is read in.
enum Format {
    Csv,
    Ndjson,
}

fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    match content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "text/csv" => Ok(Format::Csv),
        "application/x-ndjson" => Ok(Format::Ndjson),
        _ => Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type `{content_type}`: send text/csv, or application/x-ndjson (one JSON object per line)"),
        )),
    }
}

/// Refuse an upload larger than the cap before reading it, when the client
/// said its length.
fn check_length(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body of {len} bytes is larger than {limit} (http.max_upload_bytes): split the list"),
        )),
        _ => Ok(()),
    }
}

/// A finished campaign takes no contacts, as `campaignd import` refuses
/// them: nothing would ever dial them.
fn refuse_finished(camp: &campaign::Model) -> Result<(), ApiError> {
    let state: CampaignState = camp
        .state
        .parse()
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("campaign `{}`: {e}", camp.name)))?;
    if state.is_terminal() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "campaign `{}` is {state}: a finished campaign never dials again and nothing reopens it, so nothing \
                 was imported; to call these contacts, add a new [[campaigns]] entry and upload them to it",
                camp.name
            ),
        ));
    }
    Ok(())
}

/// The status an upload failure answers with.
fn upload_status(e: &std::io::Error) -> StatusCode {
    match UploadError::of(e) {
        Some(UploadError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        Some(UploadError::Stalled { .. }) => StatusCode::REQUEST_TIMEOUT,
        Some(UploadError::Broken) | None => StatusCode::BAD_REQUEST,
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Header(why) => ApiError(StatusCode::BAD_REQUEST, format!("header: {why}")),
            ImportError::CampaignZone { .. } => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            ImportError::Read(error) => ApiError(upload_status(&error), format!("body: {error}; nothing was imported")),
            ImportError::Interrupted { error, kept } => ApiError(
                upload_status(&error),
                format!(
                    "body: {error}, after {} rows: the {} contacts added before it stay; sending the list again \
                     adds the rest (rows already added are skipped as duplicates)",
                    kept.rows, kept.inserted
                ),
            ),
            ImportError::Store(e) => e.into(),
        }
    }
}

/// Add contacts to a campaign.
///
/// The body is read as a stream and imported as `campaignd import` imports a
/// file: numbers normalized to E.164 (national ones take the campaign's
/// `default_country_code`), each contact's zones inferred, duplicates
/// skipped, bad rows reported with their line and field while the good ones
/// are added. Rows are committed as they come (every 20,000): an upload cut
/// short keeps what came before, and sending it again adds the rest.
#[utoipa::path(post, path = "/campaigns/{name}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo")),
    request_body(description = "The contact list, as `campaignd import` reads it. CSV: a header line \
            (`phone` required; `case_id`, `timezone` optional; every other column a variable for the bot), \
            then one contact per line. NDJSON: one JSON object per line with the same names as keys; \
            strings, numbers and booleans are read as text, null as empty. At most `http.max_upload_bytes` \
            (default 1 GiB).",
        content(
            (String = "text/csv", example = "phone,case_id,timezone,name\n+6281100000001,C-1,,Ann\n0812 0000 0002,C-2,Asia/Makassar,Ben\n"),
            (String = "application/x-ndjson", example = "{\"phone\":\"+6281100000001\",\"case_id\":\"C-1\",\"name\":\"Ann\"}\n{\"phone\":\"0812 0000 0002\",\"timezone\":\"Asia/Makassar\"}\n"),
        )),
    responses(
        (status = 200, description = "The counts and the rejected rows (the others were added)", body = ContactImportReport),
        (status = 400, description = "No valid row (nothing imported), an unreadable header or body, or a path \
            segment", body = UploadRefused),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 408, description = "No data for `http.body_read_timeout`; the rows before it were added", body = ErrorBody),
        (status = 409, description = "The campaign is finished (completed or cancelled): nothing imported", body = ErrorBody),
        (status = 413, description = "Larger than `http.max_upload_bytes`; the rows before it were added", body = ErrorBody),
        (status = 415, description = "Neither text/csv nor application/x-ndjson", body = ErrorBody),
        (status = 422, description = "The stored campaign cannot be read", body = ErrorBody),
        AdminErrors,
    ))]
async fn upload(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    import_upload(&ctx, &name, &headers, body).await.map_err(|e| {
        // A refusal may leave the body unread (413, 404, 409 are answered
        // before it is): the connection cannot carry another request, and
        // the client must know not to reuse it.
        let mut answer = e.into_response();
        answer.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        answer
    })
}

async fn import_upload(ctx: &Ctx, name: &str, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let format = format(headers)?;
    let limits = &ctx.settings.http.limits;
    check_length(headers, limits.max_upload_bytes)?;
    let camp = campaigns::find_by_name(&ctx.db, name).await?;
    refuse_finished(&camp)?;
    let row_ctx = RowContext::of(&camp)?;
    let (tx, reader) = upload_body::channel();
    let rows = match format {
        Format::Csv => import::background(move || CsvRows::new(reader, row_ctx, None)),
        Format::Ndjson => import::background(move || Ok(JsonLines::new(std::io::BufReader::new(reader), row_ctx))),
    };
    let pump = upload_body::pump(body, tx, limits.max_upload_bytes, limits.body_read_timeout);
    let (_, imported) = tokio::join!(pump, import::import_rows(&ctx.db, &camp, rows, ctx.clock.now()));
    let report = ContactImportReport::from(imported?);
    if report.rows > 0 && report.rejected == report.rows {
        // Not a list of contacts at all, most likely: say so with the
        // reasons, as the suppression list's import does.
        let error = format!("no valid row: {} rows, {} rejected", report.rows, report.rejected);
        return Ok((StatusCode::BAD_REQUEST, Json(NoValidRow { error, report })).into_response());
    }
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only contacts in this state: `pending`, `in_flight`, `waiting_retry`,
    /// `done`, `exhausted`, `stopped` or `suppressed`.
    #[param(example = "pending")]
    state: Option<String>,
    /// Only contacts whose last attempt had this disposition (`answered`, `no_answer`, `busy`, ...).
    #[param(example = "no_answer")]
    disposition: Option<String>,
    /// Only contacts whose last attempt had this intent (`promise_to_pay`, `refuse`, ...).
    #[param(example = "promise_to_pay")]
    intent: Option<String>,
    /// Contacts after this id: the `next` of the previous page.
    after: Option<i64>,
    /// Contacts per page, 1 to 1000 (default 100).
    limit: Option<u64>,
}

/// A page of contacts, by id.
#[derive(Serialize, ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<ContactView>,
    /// `after` for the next page; null on the last page.
    pub next: Option<i64>,
}

/// One contact as stored.
#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub case_id: Option<String>,
    pub state: String,
    /// Attempts made so far.
    pub attempts: i32,
    pub last_disposition: Option<String>,
    pub last_intent: Option<String>,
    /// The vendor's own code of the last result.
    pub last_raw_code: Option<String>,
    /// Why the contact reached its final state.
    pub finished_reason: Option<String>,
    /// When it may next be dialed; null unless it waits to be.
    pub due_at: Option<DateTime<Utc>>,
    /// The zone(s) given in the list.
    pub timezone: Option<String>,
    /// The candidate zones inferred at import (comma-separated); null: the campaign's zone.
    pub zones: Option<String>,
    /// How `zones` was inferred: `explicit`, `country`, `nanp`, `campaign`, ...
    pub zone_source: Option<String>,
    /// The list's other columns, for the bot.
    #[schema(value_type = Object)]
    pub variables: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<contact::Model> for ContactView {
    fn from(c: contact::Model) -> Self {
        ContactView {
            id: c.id,
            phone: c.phone,
            case_id: c.case_id,
            state: c.state,
            attempts: c.attempt_seq,
            last_disposition: c.last_disposition,
            last_intent: c.last_intent,
            last_raw_code: c.last_raw_code,
            finished_reason: c.finished_reason,
            due_at: c.due_at,
            timezone: c.timezone,
            zones: c.zones,
            zone_source: c.zone_source,
            variables: c.variables,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A filter's value as its type, the error naming the parameter.
fn parse_param<T: std::str::FromStr>(name: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    value.map(|v| v.parse::<T>().map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{name}: {e}")))).transpose()
}

/// A campaign's contacts, a page at a time.
///
/// By id, filtered by state, last disposition and last intent (all that are
/// given). Pages are keyed by id: pass `next` as `after` to get the next one;
/// a contact added meanwhile comes on a later page, none is listed twice.
#[utoipa::path(get, path = "/campaigns/{name}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo"), ListParams),
    responses(
        (status = 200, description = "A page of contacts", body = ContactPage),
        (status = 400, description = "An unknown state, disposition or intent, a limit out of range, \
            or an unreadable parameter; the error names it", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        AdminErrors,
    ))]
async fn list(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ContactPage>, ApiError> {
    let Query(params) = params?;
    let filter = ContactFilter {
        state: parse_param::<ContactState>("state", params.state.as_deref())?,
        disposition: parse_param::<Disposition>("disposition", params.disposition.as_deref())?,
        intent: parse_param::<Intent>("intent", params.intent.as_deref())?,
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("limit: {limit} is not between 1 and {MAX_LIMIT}")));
    }
    let camp = campaigns::find_by_name(&ctx.db, &name).await?;
    // One more than asked: whether a next page exists, without an empty last page.
    let mut rows = contact_list::page(&ctx.db, camp.id, filter, params.after.unwrap_or(0), limit + 1).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map_or(0, |c| c.id)
    });
    Ok(Json(ContactPage { contacts: rows.into_iter().map(ContactView::from).collect(), next }))
}

#[derive(Serialize, ToSchema)]
pub struct ContactRemoved {
    /// The number, normalized.
    pub phone: String,
    pub removed: bool,
}

/// Remove a contact that was never dialed.
///
/// Only a contact without any attempt (pending, or finished before its first
/// call) is removed; one being dialed or already dialed stays on record
/// (409): suppress the number or cancel the campaign to stop its calls.
/// Safe against the dispatcher claiming the contact at the same moment.
#[utoipa::path(delete, path = "/campaigns/{name}/contacts/{phone}", tag = "contacts", security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "The campaign's name", example = "demo"),
        ("phone" = String, Path, description = "The number as imported (national numbers take the campaign's \
            default country code); a leading `+` as is or as `%2B`", example = "+628125550021"),
    ),
    responses(
        (status = 200, description = "Removed", body = ContactRemoved),
        (status = 400, description = "An unreadable phone number or path segment", body = ErrorBody),
        (status = 404, description = "No such campaign, or the number is not a contact of it", body = ErrorBody),
        (status = 409, description = "The contact is being dialed or was dialed: it stays", body = ErrorBody),
        AdminErrors,
    ))]
async fn remove(
    _: Admin,
    State(ctx): State<Ctx>,
    Path((name, phone)): Path<(String, String)>,
) -> Result<Json<ContactRemoved>, ApiError> {
    let camp = campaigns::find_by_name(&ctx.db, &name).await?;
    let phone = E164::parse(&phone, camp.default_country_code.as_deref())
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("phone: {e}")))?;
    match remove_undialed(&ctx.db, camp.id, phone.as_str()).await? {
        Removal::Removed { .. } => Ok(Json(ContactRemoved { phone: phone.as_str().into(), removed: true })),
        Removal::NoContact => {
            Err(ApiError(StatusCode::NOT_FOUND, format!("{phone} is not a contact of campaign `{name}`")))
        }
        Removal::Kept(why) => Err(ApiError(StatusCode::CONFLICT, format!("contact {phone} {why}"))),
    }
}
