use sea_orm::entity::prelude::*;

/// One dial of one contact through one vendor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    /// 1-based, per contact.
    pub attempt_no: i32,
    pub vendor_id: String,
    pub vendor_task_id: Option<i64>,
    /// Idempotency key sent to the vendor: `<contact_id>-<attempt_no>`.
    #[sea_orm(unique)]
    pub attempt_ref: String,
    pub external_call_id: Option<String>,
    /// dispatching | dispatched | completed | failed | lost | cancelled
    pub state: String,
    pub disposition: Option<String>,
    pub intent: Option<String>,
    pub raw_code: Option<String>,
    pub raw_intent: Option<String>,
    pub error: Option<String>,
    /// When the scheduler claimed the contact (the dispatch decision instant).
    pub created_at: DateTimeUtc,
    pub dispatched_at: Option<DateTimeUtc>,
    /// After this instant without a result the reconciler asks the vendor.
    pub deadline_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub phone: Option<String>,
    pub not_after: Option<DateTimeUtc>,
    pub cancel_requested_at: Option<DateTimeUtc>,
    pub case_id: Option<String>,
    /// Dials this attempt may make at most (1 + the vendor's own redials):
    /// reserved against frequency caps while the attempt is in flight.
    pub max_dials: i32,
    /// The instance dispatching this attempt, while `dispatching`.
    pub lease_owner: Option<String>,
    /// Until then no other instance looks the attempt up or rescues it.
    pub lease_expires_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Where the call's recording is (URL or the vendor's reference).
    pub recording_url: Option<String>,
    /// The dialogue as text, when the vendor sent it with the result.
    pub transcript: Option<String>,
    /// Time from dial to answer.
    pub ring_ms: Option<i64>,
    /// The call's end by the vendor's clock.
    pub vendor_ended_at: Option<DateTimeUtc>,
    /// When we received the result (callback lag = this − `vendor_ended_at`).
    pub received_at: Option<DateTimeUtc>,
    /// What the call cost, in millionths of `cost_currency`'s unit.
    pub cost_micros: Option<i64>,
    pub cost_currency: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
