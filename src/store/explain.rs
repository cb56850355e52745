//! Why a contact was (or was not) called: its scheduling decisions in time
//! order, its attempts, its number's suppression entry and the number's
//! recent dials across all campaigns. Read-only; `campaignd explain` and
//! `GET /api/v1/campaigns/{name}/contacts/{phone}/explain` print it.

use super::StoreError;
use super::suppressions;
use crate::domain::call_cost::format_amount;
use crate::domain::phone::{E164, PhoneError};
use crate::domain::state::ContactState;
use crate::domain::suppression::is_active;
use crate::domain::zones::parse_zone_list;
use crate::store::decisions::ALL_ZONES;
use chrono::{DateTime, Duration, Utc};
use entity::{attempt, campaign, contact, decision, dial};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::HashMap;

/// Decisions returned at most (the newest); a contact due for weeks under a
/// closed window can collect many group decisions.
pub const MAX_DECISIONS: usize = 1000;
/// Dials of the number looked at, across all campaigns.
pub const DIALS_LOOKBACK_DAYS: i64 = 7;
const MAX_DIALS: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("phone: {0}")]
    Phone(#[from] PhoneError),
    #[error("{phone} is not a contact of campaign `{campaign}`")]
    NotInCampaign { campaign: String, phone: String },
}

impl From<DbErr> for ExplainError {
    fn from(e: DbErr) -> Self {
        ExplainError::Store(StoreError::Db(e))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    pub campaign: CampaignInfo,
    pub contact: ContactInfo,
    /// The zone local times are best read in: the contact's own zone, else
    /// its first candidate zone, else the campaign's.
    pub local_timezone: String,
    /// The number's entry on the suppression list, in force or expired.
    pub suppression: Option<SuppressionInfo>,
    /// Oldest first: the contact's own decisions and the decisions taken for
    /// its zone group while it existed.
    pub decisions: Vec<DecisionInfo>,
    /// Older decisions exist beyond the [`MAX_DECISIONS`] shown.
    pub decisions_truncated: bool,
    pub attempts: Vec<AttemptInfo>,
    /// Dials of this number since `dials_since`, every campaign, oldest first.
    pub recent_dials: Vec<DialInfo>,
    pub dials_since: DateTime<Utc>,
    /// Vendor callback records about this number that could not be read
    /// (kept for audit; the rest of their bodies applied), newest first.
    pub rejected_records: Vec<RejectedRecordInfo>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RejectedRecordInfo {
    pub vendor_id: String,
    /// `callback` or `poll`.
    pub source: String,
    /// The inbox row of a callback record.
    pub inbox_id: Option<i64>,
    pub record_index: i32,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    /// The record as the vendor sent it.
    pub raw: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignInfo {
    pub name: String,
    pub state: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactInfo {
    pub id: i64,
    pub phone: String,
    pub case_id: Option<String>,
    pub state: String,
    pub attempt_seq: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub zones: Option<String>,
    pub zone_source: Option<String>,
    pub finished_reason: Option<String>,
    pub last_disposition: Option<String>,
    pub last_intent: Option<String>,
    pub last_raw_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SuppressionInfo {
    pub reason: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionInfo {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `contact` (about this contact) or `group` (about every due contact of its zone group).
    pub scope: &'static str,
    pub kind: String,
    pub reason: String,
    pub attempt_no: Option<i32>,
    pub next_at: Option<DateTime<Utc>>,
    /// The zone group of a group decision.
    pub zones: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptInfo {
    pub attempt_no: i32,
    pub vendor_id: String,
    pub state: String,
    pub disposition: Option<String>,
    pub intent: Option<String>,
    pub raw_code: Option<String>,
    pub raw_intent: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Where the call's recording is (a URL or the vendor's reference).
    pub recording_url: Option<String>,
    /// The dialogue as text, when the vendor sent it.
    pub transcript: Option<String>,
    /// Time from dial to answer.
    pub ring_ms: Option<i64>,
    /// The call's end by the vendor's clock.
    pub vendor_ended_at: Option<DateTime<Utc>>,
    /// When we received the result.
    pub received_at: Option<DateTime<Utc>>,
    /// What the call cost, as a decimal in `cost_currency`.
    #[schema(example = "0.0123")]
    pub cost: Option<String>,
    pub cost_currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DialInfo {
    /// The campaign's name (`#<id>` if it no longer exists).
    pub campaign: String,
    pub vendor_id: String,
    pub dialed_at: DateTime<Utc>,
    pub disposition: String,
    pub intent: Option<String>,
    pub raw_code: Option<String>,
    /// A redial the vendor made on its own inside one attempt.
    pub vendor_redial: bool,
}

/// Explain one contact of a campaign. `phone` is normalized with the
/// campaign's default country code, as at import.
pub async fn explain<C: ConnectionTrait>(
    db: &C,
    campaign_name: &str,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<Explanation, ExplainError> {
    let camp = campaign::Entity::find()
        .filter(campaign::Column::Name.eq(campaign_name))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NoSuchCampaign(campaign_name.to_string()))?;
    let phone = E164::parse(phone, camp.default_country_code.as_deref())?;
    let c = contact::Entity::find()
        .filter(contact::Column::CampaignId.eq(camp.id))
        .filter(contact::Column::Phone.eq(phone.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ExplainError::NotInCampaign { campaign: camp.name.clone(), phone: phone.to_string() })?;
    let suppression = suppressions::get(db, phone.as_str()).await?.map(|s| SuppressionInfo {
        active: is_active(s.expires_at, now),
        reason: s.reason,
        source: s.source,
        created_at: s.created_at,
        expires_at: s.expires_at,
    });
    let (decisions, decisions_truncated) = decisions(db, &c).await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::ContactId.eq(c.id))
        .order_by_asc(attempt::Column::AttemptNo)
        .order_by_asc(attempt::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(attempt_info)
        .collect();
    let dials_since = now - Duration::days(DIALS_LOOKBACK_DAYS);
    let recent_dials = recent_dials(db, phone.as_str(), dials_since).await?;
    let rejected_records = super::inbox::rejects_for_phone(db, phone.as_str())
        .await?
        .into_iter()
        .map(|r| RejectedRecordInfo {
            vendor_id: r.vendor_id,
            source: r.source,
            inbox_id: r.inbox_id,
            record_index: r.record_index,
            reason: r.reason,
            received_at: r.received_at,
            raw: r.raw,
        })
        .collect();
    Ok(Explanation {
        local_timezone: local_timezone(&c, &camp.timezone),
        campaign: CampaignInfo { name: camp.name, state: camp.state, timezone: camp.timezone },
        contact: contact_info(c),
        suppression,
        decisions,
        decisions_truncated,
        attempts,
        recent_dials,
        dials_since,
        rejected_records,
    })
}

/// The contact's own decisions merged with its zone group's: group decisions
/// of the campaign whose `zones` is the contact's (`''` for a contact in the
/// campaign's zone) or `*` (every contact), taken from its creation on, and, once the contact is
/// finished, no later than its last change (a finished contact is no longer
/// among the due contacts a group decision is about).
async fn decisions<C: ConnectionTrait>(db: &C, c: &contact::Model) -> Result<(Vec<DecisionInfo>, bool), DbErr> {
    let newest_first = |q: sea_orm::Select<decision::Entity>| {
        q.order_by_desc(decision::Column::At).order_by_desc(decision::Column::Id).limit(MAX_DECISIONS as u64 + 1)
    };
    let own = newest_first(decision::Entity::find().filter(decision::Column::ContactId.eq(c.id))).all(db).await?;
    let mut group = decision::Entity::find()
        .filter(decision::Column::CampaignId.eq(c.campaign_id))
        .filter(decision::Column::ContactId.is_null())
        .filter(decision::Column::Zones.is_in([c.zones.as_deref().unwrap_or(""), ALL_ZONES]))
        .filter(decision::Column::At.gte(c.created_at));
    if c.state.parse::<ContactState>().is_ok_and(|s| s.is_terminal()) {
        group = group.filter(decision::Column::At.lte(c.updated_at));
    }
    let group = newest_first(group).all(db).await?;
    let mut all: Vec<decision::Model> = own.into_iter().chain(group).collect();
    all.sort_by_key(|d| (d.at, d.id));
    let truncated = all.len() > MAX_DECISIONS;
    let skip = all.len().saturating_sub(MAX_DECISIONS);
    Ok((all.into_iter().skip(skip).map(decision_info).collect(), truncated))
}

fn decision_info(d: decision::Model) -> DecisionInfo {
    DecisionInfo {
        id: d.id,
        at: d.at,
        scope: if d.contact_id.is_some() { "contact" } else { "group" },
        kind: d.kind,
        reason: d.reason,
        attempt_no: d.attempt_no,
        next_at: d.next_at,
        zones: d.zones,
        detail: d.detail,
    }
}

async fn recent_dials<C: ConnectionTrait>(db: &C, phone: &str, since: DateTime<Utc>) -> Result<Vec<DialInfo>, DbErr> {
    let dials = dial::Entity::find()
        .filter(dial::Column::Phone.eq(phone))
        .filter(dial::Column::DialedAt.gte(since))
        .order_by_asc(dial::Column::DialedAt)
        .order_by_asc(dial::Column::Id)
        .limit(MAX_DIALS)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = dials.iter().map(|d| d.campaign_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(dials
        .into_iter()
        .map(|d| DialInfo {
            campaign: names.get(&d.campaign_id).cloned().unwrap_or_else(|| format!("#{}", d.campaign_id)),
            vendor_id: d.vendor_id,
            dialed_at: d.dialed_at,
            disposition: d.disposition,
            intent: d.intent,
            raw_code: d.raw_code,
            vendor_redial: d.vendor_redial,
        })
        .collect())
}

fn local_timezone(c: &contact::Model, campaign_zone: &str) -> String {
    if let Some(tz) = c.timezone.as_deref().filter(|z| !z.trim().is_empty()) {
        return tz.trim().to_string();
    }
    let first_candidate = c.zones.as_deref().and_then(|z| parse_zone_list(z).ok()).and_then(|z| z.first().copied());
    first_candidate.map_or_else(|| campaign_zone.to_string(), |z| z.name().to_string())
}

fn contact_info(c: contact::Model) -> ContactInfo {
    ContactInfo {
        id: c.id,
        phone: c.phone,
        case_id: c.case_id,
        state: c.state,
        attempt_seq: c.attempt_seq,
        due_at: c.due_at,
        timezone: c.timezone,
        zones: c.zones,
        zone_source: c.zone_source,
        finished_reason: c.finished_reason,
        last_disposition: c.last_disposition,
        last_intent: c.last_intent,
        last_raw_code: c.last_raw_code,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn attempt_info(a: attempt::Model) -> AttemptInfo {
    AttemptInfo {
        attempt_no: a.attempt_no,
        vendor_id: a.vendor_id,
        state: a.state,
        disposition: a.disposition,
        intent: a.intent,
        raw_code: a.raw_code,
        raw_intent: a.raw_intent,
        error: a.error,
        created_at: a.created_at,
        dispatched_at: a.dispatched_at,
        completed_at: a.completed_at,
        duration_ms: a.duration_ms,
        recording_url: a.recording_url,
        transcript: a.transcript,
        ring_ms: a.ring_ms,
        vendor_ended_at: a.vendor_ended_at,
        received_at: a.received_at,
        cost: a.cost_micros.map(format_amount),
        cost_currency: a.cost_currency,
    }
}
