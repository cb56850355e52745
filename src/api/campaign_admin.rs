//! `/api/v1/campaigns` definitions: create, read, replace and delete
//! campaigns the API owns. A definition has the fields of a `[[campaigns]]`
//! table and passes the same validation as config.toml
//! ([`campaign_definition::validate`]); campaigns config.toml defines are
//! read-only here. The state is not part of a definition: it changes only
//! through `POST /campaigns/{name}/{action}` and the state machine.

use super::auth::Admin;
use super::body::{BodyError, contains_nul, read_within};
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::config::CampaignSettings;
use crate::config::campaign_definition::{self, CampaignDefinition, FieldIssue};
use crate::context::Ctx;
use crate::store::campaign_definitions::{self, DefinitionError, Owner, StoredDefinition};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(definition)).routes(routes!(replace, delete))
}

/// Who edits a campaign's definition.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum CampaignOwner {
    /// config.toml: edit it there; read-only through the API.
    Config,
    /// The admin API.
    Api,
}

/// A campaign's definition with who owns it.
#[derive(Serialize, ToSchema)]
struct StoredCampaignDefinition {
    name: String,
    owner: CampaignOwner,
    /// The campaign's state (changed only by the state routes).
    state: String,
    /// The definition's version; send it as `If-Match` with a PUT.
    etag: String,
    updated_at: DateTime<Utc>,
    /// What PUT takes back, edited.
    definition: CampaignDefinition,
}

/// A definition refused: every bad field, each with why.
#[derive(Serialize, ToSchema)]
struct InvalidDefinition {
    /// All problems in one line (`timezone: ...; recall.max_attempts: ...`).
    error: String,
    fields: Vec<FieldIssue>,
}

/// What a DELETE did.
#[derive(Serialize, ToSchema)]
struct CampaignDeleted {
    name: String,
    deleted: bool,
}

/// An answer other than the success: a plain error or the refused fields.
enum Refusal {
    Api(ApiError),
    Invalid(Vec<FieldIssue>),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Api(e) => e.into_response(),
            Refusal::Invalid(fields) => {
                let error = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
                (StatusCode::UNPROCESSABLE_ENTITY, Json(InvalidDefinition { error, fields })).into_response()
            }
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl From<DefinitionError> for Refusal {
    fn from(e: DefinitionError) -> Self {
        Refusal::Api(e.into())
    }
}

impl From<DefinitionError> for ApiError {
    fn from(e: DefinitionError) -> Self {
        let status = match e {
            DefinitionError::Store(e) => return e.into(),
            DefinitionError::Exists(_) | DefinitionError::ConfigOwned(_) | DefinitionError::HasHistory { .. } => {
                StatusCode::CONFLICT
            }
            DefinitionError::Stale { .. } => StatusCode::PRECONDITION_FAILED,
        };
        ApiError(status, e.to_string())
    }
}

/// The answer for a stored definition, with its ETag also as a header.
fn answer(status: StatusCode, stored: StoredDefinition) -> Response {
    let body = StoredCampaignDefinition {
        name: stored.definition.name.clone(),
        owner: match stored.owner {
            Owner::Config => CampaignOwner::Config,
            Owner::Api => CampaignOwner::Api,
        },
        state: stored.state,
        etag: stored.etag.clone(),
        updated_at: stored.updated_at,
        definition: stored.definition,
    };
    (status, [(header::ETAG, stored.etag)], Json(body)).into_response()
}

/// The body as a definition: 415 unless JSON, 400 unless readable JSON,
/// 422 naming the field whose value has the wrong type.
async fn read_definition(ctx: &Ctx, headers: &HeaderMap, body: Body) -> Result<CampaignDefinition, Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "application/json" {
        let reason = format!("Content-Type `{content_type}`: send application/json");
        return Err(ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, reason).into());
    }
    let limits = &ctx.settings.http;
    let bytes = read_within(body, limits.max_body_bytes, limits.limits.body_read_timeout).await.map_err(|e| {
        let status = match e {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken => StatusCode::BAD_REQUEST,
        };
        ApiError(status, e.to_string())
    })?;
    if contains_nul(&bytes, Some(&media)) {
        let reason = "body: contains a NUL character (a 0 byte or \\u0000), which no field may carry";
        return Err(ApiError(StatusCode::BAD_REQUEST, reason.into()).into());
    }
    parse_definition(&bytes)
}

/// JSON text as a definition; a value of the wrong shape is named by its path.
fn parse_definition(bytes: &[u8]) -> Result<CampaignDefinition, Refusal> {
    let unreadable = |e: &serde_json::Error| ApiError(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let def = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if !inner.is_data() {
            return Refusal::Api(unreadable(inner));
        }
        let field = field_of(&e.path().to_string(), &inner.to_string());
        Refusal::Invalid(vec![FieldIssue { field, message: inner.to_string() }])
    })?;
    de.end().map_err(|e| unreadable(&e))?;
    Ok(def)
}

/// The field a deserialization error is about: its path, or for a missing
/// or unknown key (reported at the object holding it) that key.
fn field_of(path: &str, message: &str) -> String {
    let key = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, key) {
        (".", Some(key)) => key.to_string(),
        (".", None) => "body".to_string(),
        (path, Some(key)) if !path.ends_with(key) => format!("{path}.{key}"),
        (path, _) => path.to_string(),
    }
}

/// The same checks as a `[[campaigns]]` table, against the running config's vendors.
fn validate(ctx: &Ctx, def: &CampaignDefinition) -> Result<CampaignSettings, Vec<FieldIssue>> {
    let vendor_ids: BTreeSet<String> = ctx.settings.vendors.iter().map(|v| v.id.clone()).collect();
    campaign_definition::validate(def, &vendor_ids)
}

/// Create a campaign.
///
/// The body has the fields of a `[[campaigns]]` table in config.toml and is
/// validated like one. The campaign starts `scheduled`: the scheduler starts
/// it at `starts_at` (at once without one) and dials its contacts once they
/// are imported (`campaignd import --campaign NAME FILE`).
#[utoipa::path(post, path = "/campaigns", tag = "campaigns", security(("bearer" = [])),
    request_body(content = CampaignDefinition, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; its ETag in the `ETag` header", body = StoredCampaignDefinition),
        (status = 400, description = "The body is not JSON or carries a NUL character", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `http.body_read_timeout`", body = ErrorBody),
        (status = 409, description = "The name is taken, or defined in config.toml", body = ErrorBody),
        (status = 413, description = "The body is larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = InvalidDefinition),
        AdminErrors,
    ))]
async fn create(_: Admin, State(ctx): State<Ctx>, headers: HeaderMap, body: Body) -> Result<Response, Refusal> {
    let def = read_definition(&ctx, &headers, body).await?;
    let settings = validate(&ctx, &def).map_err(Refusal::Invalid)?;
    if ctx.settings.campaigns.iter().any(|c| c.name == settings.name) {
        return Err(ApiError::from(DefinitionError::ConfigOwned(settings.name)).into());
    }
    let stored = campaign_definitions::create(&ctx.db, &settings, ctx.clock.now()).await?;
    tracing::info!(campaign = %stored.definition.name, "campaign created through the admin API");
    Ok(answer(StatusCode::CREATED, stored))
}

/// One campaign's definition and owner.
#[utoipa::path(get, path = "/campaigns/{name}/definition", tag = "campaigns", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo")),
    responses(
        (status = 200, description = "The definition; its ETag also in the `ETag` header", body = StoredCampaignDefinition),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 422, description = "The stored campaign cannot be read", body = ErrorBody),
        AdminErrors,
    ))]
async fn definition(_: Admin, State(ctx): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(answer(StatusCode::OK, campaign_definitions::read(&ctx.db, &name).await?))
}

/// Replace an API-owned campaign's definition.
///
/// Validated as at creation; the name cannot change and the state is kept.
/// With `If-Match: <etag>` the change applies only if nobody changed the
/// definition since it was read (else 412). Takes effect at the next
/// scheduler tick.
#[utoipa::path(put, path = "/campaigns/{name}", tag = "campaigns", security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "The campaign's name", example = "demo"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change is based on"),
    ),
    request_body(content = CampaignDefinition, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced; the new ETag in the `ETag` header", body = StoredCampaignDefinition),
        (status = 400, description = "An unreadable path segment, or a body that is not JSON", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `http.body_read_timeout`", body = ErrorBody),
        (status = 409, description = "The campaign is owned by config.toml", body = ErrorBody),
        (status = 412, description = "Changed since read: `If-Match` is not its ETag", body = ErrorBody),
        (status = 413, description = "The body is larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = InvalidDefinition),
        AdminErrors,
    ))]
async fn replace(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "If-Match: not readable text".into()))?
                .to_string(),
        ),
    };
    let def = read_definition(&ctx, &headers, body).await?;
    let renamed = (def.name.trim() != name).then(|| FieldIssue {
        field: "name".into(),
        message: format!("must be `{name}`, the name in the path: a campaign cannot be renamed"),
    });
    let settings = match (validate(&ctx, &def), renamed) {
        (Ok(settings), None) => settings,
        (Ok(_), Some(renamed)) => return Err(Refusal::Invalid(vec![renamed])),
        (Err(issues), renamed) => return Err(Refusal::Invalid(renamed.into_iter().chain(issues).collect())),
    };
    let allows = |current: &str| if_match.as_deref().is_none_or(|m| if_match_allows(m, current));
    let stored = campaign_definitions::replace(&ctx.db, &settings, allows, ctx.clock.now()).await?;
    tracing::info!(campaign = %name, "campaign definition replaced through the admin API");
    Ok(answer(StatusCode::OK, stored))
}

/// Whether an `If-Match` header value names `etag` (or is `*`).
fn if_match_allows(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Delete an API-owned campaign that never had a contact.
///
/// A campaign with contacts is kept for their history (409): cancel it
/// instead, which stops its dialing for good.
#[utoipa::path(delete, path = "/campaigns/{name}", tag = "campaigns", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo")),
    responses(
        (status = 200, description = "Deleted", body = CampaignDeleted),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 409, description = "Owned by config.toml, or has contacts (cancel it instead)", body = ErrorBody),
        AdminErrors,
    ))]
async fn delete(_: Admin, State(ctx): State<Ctx>, Path(name): Path<String>) -> Result<Json<CampaignDeleted>, ApiError> {
    campaign_definitions::delete(&ctx.db, &name).await?;
    tracing::info!(campaign = %name, "campaign deleted through the admin API");
    Ok(Json(CampaignDeleted { name, deleted: true }))
}

#[cfg(test)]
#[path = "campaign_admin_tests.rs"]
mod tests;
