use sea_orm::entity::prelude::*;

/// Every callback delivery as received, stored before the vendor gets its 2xx.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "callback_inbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The vendor id from the URL, even when no such vendor is configured.
    pub vendor_id: String,
    pub received_at: DateTimeUtc,
    pub remote_addr: Option<String>,
    /// Request headers (secrets such as Authorization are redacted).
    #[sea_orm(column_type = "JsonBinary")]
    pub headers: Json,
    pub body: Vec<u8>,
    /// SHA-256 of the body: vendors retry with identical bodies.
    pub dedupe_key: String,
    /// pending | processed | duplicate | rejected
    pub state: String,
    pub error: Option<String>,
    /// Result events the body carried and applied.
    pub events: i32,
    pub processed_at: Option<DateTimeUtc>,
    /// When the processor may take the row: on arrival, then (while it waits
    /// for a call it cannot match yet) after a backoff or when woken.
    pub retry_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
