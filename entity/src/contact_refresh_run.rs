//! One firing of a campaign's scheduled contact refresh: what it read, what
//! it changed, and the rows it could not read. Unique per (campaign,
//! scheduled time): the row is the lock that makes one instance run it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_refresh_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    /// The schedule's firing time (the time a manual run was asked for).
    pub scheduled_for: DateTimeUtc,
    /// `schedule`, `missed` or `manual`.
    pub trigger: String,
    /// The instance that ran it.
    pub instance_id: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// The file read or the URL, never credentials.
    pub source: String,
    /// `running`, `ok` or `failed`.
    pub state: String,
    pub rows: i64,
    pub added: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub removed: i64,
    pub error: Option<String>,
    /// `[{"line": 3, "field": "phone", "message": "..."}]`.
    pub rejected_rows: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
