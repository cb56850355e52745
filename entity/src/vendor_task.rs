use sea_orm::entity::prelude::*;

/// The vendor-side batch that carries many attempts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vendor_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: String,
    pub campaign_id: i64,
    pub external_task_id: Option<String>,
    /// submitting | accepted | failed | unknown
    pub state: String,
    pub size: i32,
    pub not_after: Option<DateTimeUtc>,
    pub error: Option<String>,
    pub raw_response: Option<String>,
    pub polled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
