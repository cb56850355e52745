use sea_orm::entity::prelude::*;

/// One callee in one campaign.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    /// E.164, normalized at import.
    pub phone: String,
    pub case_id: Option<String>,
    /// IANA zone of the callee; the campaign's zone when absent.
    pub timezone: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub variables: Json,
    /// pending | in_flight | waiting_retry | done | exhausted | stopped | suppressed
    pub state: String,
    /// When the contact may next be dialed. NULL unless the contact is
    /// dispatchable, so "due contacts" is a range scan on (campaign_id, due_at).
    pub due_at: Option<DateTimeUtc>,
    /// Number of attempts created so far (the next attempt's number is +1).
    /// Also the fence for write-backs: a result applies to the contact only
    /// while `attempt_seq` equals the attempt's `attempt_no`.
    pub attempt_seq: i32,
    /// Counters the recall policy needs (attempts used, per-rule retries, ...).
    #[sea_orm(column_type = "JsonBinary")]
    pub recall_history: Json,
    pub last_disposition: Option<String>,
    pub last_intent: Option<String>,
    pub last_raw_code: Option<String>,
    /// Why the contact reached its terminal state.
    pub finished_reason: Option<String>,
    pub last_vendor_id: Option<String>,
    pub last_vendor_failed: bool,
    /// The callee's candidate zones, comma-separated IANA names, resolved at
    /// import (explicit zone, country of the number, NANP area code); the
    /// allowed window is their intersection. NULL = the campaign's zone.
    pub zones: Option<String>,
    /// How `zones` was found: `explicit`, `country`, `nanp`, `country-zones`, ...
    pub zone_source: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
