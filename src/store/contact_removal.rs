//! Taking a never-dialed contact out of its campaign, fenced against a
//! claim at the same instant: one DELETE whose WHERE clause is the domain's
//! rule (`domain::contact_removal`). A claim moves the contact to
//! `in_flight` and raises `attempt_seq` in the same transaction as it
//! inserts the attempt, so the DELETE matches the row before the claim or
//! not at all: on PostgreSQL it waits for the claim's row lock and then
//! re-reads the row; SQLite's write transactions run one at a time.

use super::StoreError;
use crate::domain::contact_removal::{self, REMOVABLE_STATES, Refusal};
use entity::{attempt, contact};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The contact with this id is gone.
    Removed { id: i64 },
    /// The campaign has no contact with this number.
    NoContact,
    /// The contact stays, for this reason.
    Kept(Refusal),
}

/// Remove the campaign's contact `phone` (E.164) if it was never dialed.
pub async fn remove_undialed<C: ConnectionTrait>(db: &C, campaign_id: i64, phone: &str) -> Result<Removal, StoreError> {
    let of_contact = || {
        contact::Entity::find()
            .filter(contact::Column::CampaignId.eq(campaign_id))
            .filter(contact::Column::Phone.eq(phone))
    };
    let Some(row) = of_contact().one(db).await? else { return Ok(Removal::NoContact) };
    let deleted = contact::Entity::delete_many()
        .filter(contact::Column::Id.eq(row.id))
        .filter(contact::Column::AttemptSeq.eq(0))
        .filter(contact::Column::State.is_in(REMOVABLE_STATES.map(|s| s.as_str())))
        .filter(Expr::cust("NOT EXISTS (SELECT 1 FROM attempts WHERE attempts.contact_id = contacts.id)"))
        .exec(db)
        .await?
        .rows_affected;
    if deleted == 1 {
        return Ok(Removal::Removed { id: row.id });
    }
    // Kept: read it again, as it is now (a claim may have just taken it).
    let Some(now) = of_contact().one(db).await? else { return Ok(Removal::NoContact) };
    let attempts = attempt::Entity::find().filter(attempt::Column::ContactId.eq(now.id)).count(db).await?;
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX).max(now.attempt_seq);
    match contact_removal::check(&now.state, attempts) {
        Err(refusal) => Ok(Removal::Kept(refusal)),
        // The rule allows it now: a row that changed between the statements
        // (released back to pending). Say it is being dialed; a retry decides.
        Ok(()) => Ok(Removal::Kept(Refusal::Dialing)),
    }
}
