use sea_orm::entity::prelude::*;

/// A campaign: contacts + windows + caps + recall policy + vendor routing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// draft | scheduled | running | paused | completed | cancelled
    pub state: String,
    /// IANA zone used for contacts without one of their own.
    pub timezone: String,
    /// Weekly calling windows, e.g. `mon-fri 09:00-12:00,14:00-20:00`.
    pub windows: String,
    /// Comma-separated local dates (YYYY-MM-DD) with no calls.
    pub blackout_dates: String,
    pub starts_at: Option<DateTimeUtc>,
    pub ends_at: Option<DateTimeUtc>,
    pub max_concurrency: i32,
    /// Comma-separated vendor ids with optional weights: `sim-a:3,sim-b:1`.
    pub vendors: String,
    /// Recall policy as JSON (same shape as the `[campaigns.recall]` table).
    #[sea_orm(column_type = "JsonBinary")]
    pub recall_policy: Json,
    /// Country calling code for numbers imported without `+`.
    pub default_country_code: Option<String>,
    /// Hash of the config.toml definition last synced, so that database edits
    /// survive restarts until the config itself changes.
    pub config_hash: Option<String>,
    pub redial_strategy: String,
    pub vendor_redial: bool,
    /// Comma-separated legal profiles (`us-reg-f, id-pojk-22-2023`); the
    /// campaign's windows are intersected with theirs.
    pub profiles: String,
    /// Frequency caps of this campaign, e.g. `phone:3/24h, case:7/7d`,
    /// counted over dials of every campaign.
    pub caps: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
