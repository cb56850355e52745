//! Writing the decision audit: every scheduling decision about a contact, with
//! its reason. Rows are buffered and written in multi-row INSERTs of a few
//! fixed sizes ([`super::raw_sql::insert_chunks`]), inside the transaction
//! that carries out the decision, so the audit never claims a decision that
//! did not happen (or misses one that did).

use super::StoreError;
use chrono::{DateTime, Utc};
use entity::decision;
use sea_orm::{ConnectionTrait, Set};

pub use crate::domain::audit::kind;

/// The `zones` of a group decision about every open contact of a campaign
/// (stopped because the campaign was cancelled or ended).
pub const ALL_ZONES: &str = "*";

/// Who a decision is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// One contact: `(id, phone)`.
    Contact { id: i64, phone: &'a str, attempt_no: Option<i32> },
    /// Every due contact of a campaign in one zone group (`contacts.zones`,
    /// `""` for the campaign's zone, [`ALL_ZONES`] for all): `count` of them.
    ZoneGroup { zones: &'a str, count: u64 },
}

#[derive(Debug, Default)]
pub struct DecisionBuffer(Vec<decision::ActiveModel>);

impl DecisionBuffer {
    pub fn record(
        &mut self,
        campaign_id: i64,
        subject: Subject<'_>,
        kind: &str,
        reason: impl Into<String>,
        next_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let (contact_id, phone, zones, attempt_no, detail) = match subject {
            Subject::Contact { id, phone, attempt_no } => (Some(id), Some(phone.to_string()), None, attempt_no, None),
            Subject::ZoneGroup { zones, count } => {
                (None, None, Some(zones.to_string()), None, Some(serde_json::json!({ "contacts": count })))
            }
        };
        self.0.push(decision::ActiveModel {
            at: Set(now),
            campaign_id: Set(campaign_id),
            contact_id: Set(contact_id),
            phone: Set(phone),
            zones: Set(zones),
            attempt_no: Set(attempt_no),
            kind: Set(kind.to_string()),
            reason: Set(reason.into()),
            next_at: Set(next_at),
            detail: Set(detail),
            ..Default::default()
        });
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), StoreError> {
        for chunk in super::raw_sql::insert_chunks(std::mem::take(&mut self.0)) {
            super::raw_sql::insert_many(db, chunk, None).await?;
        }
        Ok(())
    }
}
