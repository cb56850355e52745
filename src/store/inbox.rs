//! The callback inbox: every delivery stored as received, before the 2xx.

use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{callback_inbox, rejected_record};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct NewCallback {
    pub vendor_id: String,
    pub remote_addr: Option<String>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    /// `pending` for a verified, parseable body; `rejected` otherwise.
    pub state: &'static str,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

pub fn dedupe_key(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Durably store deliveries in one statement (the caller's transaction).
pub async fn insert_many<C: ConnectionTrait>(db: &C, cbs: Vec<NewCallback>) -> Result<(), StoreError> {
    let rows = cbs.into_iter().map(|cb| callback_inbox::ActiveModel {
        dedupe_key: Set(dedupe_key(&cb.body)),
        vendor_id: Set(cb.vendor_id),
        received_at: Set(cb.received_at),
        remote_addr: Set(cb.remote_addr),
        headers: Set(cb.headers),
        body: Set(cb.body),
        state: Set(cb.state.to_string()),
        error: Set(cb.error),
        events: Set(0),
        processed_at: Set(None),
        ..Default::default()
    });
    callback_inbox::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// The next pending rows after `after` (or row `only`), locked to this
/// transaction; rows another instance is processing are skipped, not waited
/// for (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write transaction
/// is exclusive anyway).
pub async fn claim_pending<C: ConnectionTrait>(
    txn: &C,
    after: i64,
    only: Option<i64>,
    limit: u64,
) -> Result<Vec<callback_inbox::Model>, StoreError> {
    let mut q = callback_inbox::Entity::find()
        .filter(callback_inbox::Column::State.eq("pending"))
        .filter(callback_inbox::Column::Id.gt(after));
    if let Some(id) = only {
        q = q.filter(callback_inbox::Column::Id.eq(id));
    }
    Ok(q.order_by_asc(callback_inbox::Column::Id)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(txn)
        .await?)
}

pub async fn pending_after<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<callback_inbox::Model>, StoreError> {
    Ok(callback_inbox::Entity::find()
        .filter(callback_inbox::Column::State.eq("pending"))
        .filter(callback_inbox::Column::Id.gt(after))
        .order_by_asc(callback_inbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Has an identical body from this vendor already been processed?
pub async fn seen_before<C: ConnectionTrait>(db: &C, row: &callback_inbox::Model) -> Result<bool, StoreError> {
    Ok(callback_inbox::Entity::find()
        .filter(callback_inbox::Column::VendorId.eq(row.vendor_id.as_str()))
        .filter(callback_inbox::Column::DedupeKey.eq(row.dedupe_key.as_str()))
        .filter(callback_inbox::Column::Id.ne(row.id))
        .filter(callback_inbox::Column::State.is_in(["processed", "duplicate"]))
        .count(db)
        .await?
        > 0)
}

/// Keep the records of `row` that could not be read (once: a row passed
/// over again while it waits finds them stored). Returns the note its
/// `error` column gets (how many, and the first reasons) and how many were
/// stored now for the first time.
pub async fn record_rejects<C: ConnectionTrait>(
    db: &C,
    row: &callback_inbox::Model,
    rejected: &[crate::vendors::RejectedRecord],
) -> Result<(Option<String>, u64), StoreError> {
    if rejected.is_empty() {
        return Ok((None, 0));
    }
    let keyed = rejected.iter().map(|r| (format!("inbox:{}:{}", row.id, r.index), r));
    let stored = store_rejects(db, &row.vendor_id, Some(row.id), keyed, row.received_at).await?;
    let first: Vec<String> = rejected.iter().take(3).map(|r| format!("record {}: {}", r.index, r.reason)).collect();
    let more = if rejected.len() > 3 { format!("; and {} more", rejected.len() - 3) } else { String::new() };
    let note = format!("{} record(s) rejected, kept in rejected_records: {}{more}", rejected.len(), first.join("; "));
    Ok((Some(note), stored))
}

/// Keep the records of a poll answer that could not be read; a record the
/// vendor returns on every poll is kept once. Returns how many were new.
pub async fn record_poll_rejects<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    rejected: &[crate::vendors::RejectedRecord],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let keyed = rejected.iter().map(|r| {
        let digest = Sha256::digest(format!("{vendor_id}\n{}", r.raw).as_bytes());
        (format!("poll:{}", hex::encode(digest)), r)
    });
    store_rejects(db, vendor_id, None, keyed, now).await
}

/// Cut at this many characters: a record is evidence, not a second inbox.
const RAW_KEPT: usize = 4000;

async fn store_rejects<'a, C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    inbox_id: Option<i64>,
    keyed: impl Iterator<Item = (String, &'a crate::vendors::RejectedRecord)>,
    received_at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows: Vec<_> = keyed
        .map(|(key, r)| rejected_record::ActiveModel {
            inbox_id: Set(inbox_id),
            source: Set(if inbox_id.is_some() { "callback" } else { "poll" }.to_string()),
            record_key: Set(key),
            vendor_id: Set(vendor_id.to_string()),
            record_index: Set(i32::try_from(r.index).unwrap_or(i32::MAX)),
            phone: Set(r.phone.clone()),
            reason: Set(r.reason.clone()),
            raw: Set(r.raw.chars().take(RAW_KEPT).collect()),
            received_at: Set(received_at),
            ..Default::default()
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(rejected_record::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(rejected_record::Column::RecordKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?)
}

/// The rejected records naming `phone`, newest first (for `explain`).
pub async fn rejects_for_phone<C: ConnectionTrait>(
    db: &C,
    phone: &str,
) -> Result<Vec<rejected_record::Model>, StoreError> {
    Ok(rejected_record::Entity::find()
        .filter(rejected_record::Column::Phone.eq(phone))
        .order_by_desc(rejected_record::Column::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// Count events applied from a row that stays pending (some of its events
/// could not be matched yet).
pub async fn add_events<C: ConnectionTrait>(db: &C, id: i64, applied: i32) -> Result<(), StoreError> {
    if applied > 0 {
        callback_inbox::Entity::update_many()
            .col_expr(
                callback_inbox::Column::Events,
                sea_orm::sea_query::ExprTrait::add(Expr::col(callback_inbox::Column::Events), applied),
            )
            .filter(callback_inbox::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Finish processing a row, fenced on it still being pending.
pub async fn mark<C: ConnectionTrait>(
    db: &C,
    id: i64,
    state: &str,
    error: Option<String>,
    events: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = callback_inbox::Entity::update_many()
        .col_expr(callback_inbox::Column::State, Expr::value(state))
        .col_expr(callback_inbox::Column::Error, Expr::value(error))
        .col_expr(callback_inbox::Column::Events, Expr::value(events))
        .col_expr(callback_inbox::Column::ProcessedAt, Expr::value(now))
        .filter(callback_inbox::Column::Id.eq(id))
        .filter(callback_inbox::Column::State.eq("pending"))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
