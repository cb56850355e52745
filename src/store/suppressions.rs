//! The suppression list: imports that never weaken an entry, listing,
//! look-up and explicit removal.
//!
//! The claim, the pre-dial check and the cancel sweep read this table; this
//! module is how people write to it (recall rules insert their own entries in
//! `apply.rs`).

use super::StoreError;
use super::db::{Writer, begin_write};
use crate::domain::suppression::{Expiry, MergeOutcome, merge, strongest_per_phone};
use chrono::{DateTime, Utc};
use entity::suppression;
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;

/// Rows per INSERT statement: well under SQLite's and PostgreSQL's bound
/// parameter limits (5 columns each), and one short write lock per batch.
const BATCH: usize = 500;

/// Only an entry that lasts strictly longer replaces the stored one. Checked
/// in the statement itself, so an entry written concurrently (a complaint
/// recorded by a recall rule between our read and our write) is never
/// weakened either. `excluded` is the row we tried to insert; both SQLite and
/// PostgreSQL name it so.
const OUTLASTS_STORED: &str = "suppressions.expires_at IS NOT NULL \
     AND (excluded.expires_at IS NULL OR excluded.expires_at > suppressions.expires_at)";

/// One entry to put on the list; `phone` is E.164.
pub use crate::domain::suppression::Entry;

/// What an import did, entry by entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UpsertCounts {
    /// Numbers that were not on the list.
    pub added: u64,
    /// Numbers whose entry now lasts longer (reason and source replaced too).
    pub extended: u64,
    /// Numbers already on the list at least as long: left as they were.
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.added += other.added;
        self.extended += other.extended;
        self.unchanged += other.unchanged;
    }
}

/// Which entries a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// Entries that suppress calls now (no expiry, or one in the future).
    Active,
    /// Expired entries too.
    All,
}

/// Put entries on the list without ever weakening one: where the number is
/// listed already, the entry that lasts longer wins (never-expiring beats any
/// date) with its reason and source; a tie keeps the stored entry. The same
/// rule picks among duplicates of one number inside `entries`; such a
/// duplicate counts as `unchanged`.
pub async fn upsert_many(
    db: &DatabaseConnection,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Result<UpsertCounts, StoreError> {
    let (strongest, duplicates) = strongest_per_phone(entries);
    let mut counts = UpsertCounts { unchanged: duplicates, ..Default::default() };
    for chunk in strongest.chunks(BATCH) {
        counts += upsert_chunk(db, chunk, now).await?;
    }
    Ok(counts)
}

async fn upsert_chunk(
    db: &DatabaseConnection,
    chunk: &[&Entry],
    now: DateTime<Utc>,
) -> Result<UpsertCounts, StoreError> {
    let txn = begin_write(db, Writer::Other).await?;
    let phones: Vec<&str> = chunk.iter().map(|e| e.phone.as_str()).collect();
    let stored: HashMap<String, Expiry> = suppression::Entity::find()
        .filter(suppression::Column::Phone.is_in(phones))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| (s.phone, s.expires_at))
        .collect();
    let mut counts = UpsertCounts::default();
    let mut writes = Vec::new();
    for &e in chunk {
        match merge(stored.get(&e.phone).copied(), e.expires_at) {
            MergeOutcome::Added => counts.added += 1,
            MergeOutcome::Extended => counts.extended += 1,
            MergeOutcome::Unchanged => {
                counts.unchanged += 1;
                continue;
            }
        }
        writes.push(e);
    }
    write_entries(&txn, &writes, now).await?;
    txn.commit().await?;
    Ok(counts)
}

/// Insert entries, replacing a stored entry only where the new one outlasts
/// it (the guard runs in the statement, whatever the caller read before).
async fn write_entries<C: ConnectionTrait>(db: &C, entries: &[&Entry], now: DateTime<Utc>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows = entries.iter().map(|e| suppression::ActiveModel {
        phone: Set(e.phone.clone()),
        reason: Set(e.reason.clone()),
        source: Set(e.source.clone()),
        created_at: Set(now),
        expires_at: Set(e.expires_at),
        ..Default::default()
    });
    suppression::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(suppression::Column::Phone)
                .update_columns([
                    suppression::Column::Reason,
                    suppression::Column::Source,
                    suppression::Column::ExpiresAt,
                ])
                .action_and_where(Expr::cust(OUTLASTS_STORED))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A page of entries by id (`after_id` 0 for the first), for exports that
/// never hold the whole list in memory.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    filter: ListFilter,
    after_id: i64,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<suppression::Model>, StoreError> {
    let mut query = suppression::Entity::find().filter(suppression::Column::Id.gt(after_id));
    if filter == ListFilter::Active {
        query = query.filter(
            Condition::any().add(suppression::Column::ExpiresAt.is_null()).add(suppression::Column::ExpiresAt.gt(now)),
        );
    }
    Ok(query.order_by_asc(suppression::Column::Id).limit(limit).all(db).await?)
}

/// Every entry the filter selects, oldest first. For small lists and tests;
/// exports page with [`page`].
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: ListFilter,
    now: DateTime<Utc>,
) -> Result<Vec<suppression::Model>, StoreError> {
    let mut out = Vec::new();
    loop {
        let next = page(db, filter, out.last().map_or(0, |s: &suppression::Model| s.id), 5000, now).await?;
        if next.is_empty() {
            return Ok(out);
        }
        out.extend(next);
    }
}

/// The entry for an E.164 number, active or expired.
/// Whether `phone` has an active suppression entry at `now`.
pub async fn is_suppressed<C: ConnectionTrait>(db: &C, phone: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    Ok(suppression::Entity::find()
        .filter(suppression::Column::Phone.eq(phone))
        .filter(
            Condition::any().add(suppression::Column::ExpiresAt.is_null()).add(suppression::Column::ExpiresAt.gt(now)),
        )
        .one(db)
        .await?
        .is_some())
}

pub async fn get<C: ConnectionTrait>(db: &C, phone: &str) -> Result<Option<suppression::Model>, StoreError> {
    Ok(suppression::Entity::find().filter(suppression::Column::Phone.eq(phone)).one(db).await?)
}

/// Take a number off the list; `false` when it was not on it. The only way
/// an entry is ever shortened.
pub async fn remove<C: ConnectionTrait>(db: &C, phone: &str) -> Result<bool, StoreError> {
    let res = suppression::Entity::delete_many().filter(suppression::Column::Phone.eq(phone)).exec(db).await?;
    Ok(res.rows_affected > 0)
}

#[cfg(test)]
#[path = "suppressions_tests.rs"]
mod tests;
