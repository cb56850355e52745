//! The vendors' rows in `vendor_limits`: claims lock them so that a vendor's
//! concurrency cap is counted once across instances, and they hold each
//! vendor's rate-limit token bucket, shared by every instance.

use super::StoreError;
use super::db::{Writer, begin_write};
use chrono::{DateTime, Utc};
use entity::vendor_limit;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::time::Duration;

/// Make sure every vendor has its row (a full bucket for a new one).
pub async fn ensure<C: ConnectionTrait>(
    db: &C,
    vendors: &[(String, f64)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if vendors.is_empty() {
        return Ok(());
    }
    let rows = vendors.iter().map(|(id, burst)| vendor_limit::ActiveModel {
        vendor_id: Set(id.clone()),
        tokens: Set(*burst),
        refilled_at: Set(now),
    });
    vendor_limit::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(vendor_limit::Column::VendorId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Lock the rows of `vendor_ids` until the transaction ends, in id order so
/// that two claims never wait for each other in a cycle. (SQLite has no row
/// locks; its write transaction already serializes claims.)
pub async fn lock<C: ConnectionTrait>(txn: &C, vendor_ids: &[&str]) -> Result<(), StoreError> {
    if vendor_ids.is_empty() {
        return Ok(());
    }
    vendor_limit::Entity::find()
        .select_only()
        .column(vendor_limit::Column::VendorId)
        .filter(vendor_limit::Column::VendorId.is_in(vendor_ids.iter().copied()))
        .order_by_asc(vendor_limit::Column::VendorId)
        .lock_exclusive()
        .into_tuple::<String>()
        .all(txn)
        .await?;
    Ok(())
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub rate: f64,
    pub burst: f64,
}

impl Bucket {
    /// The bucket after `elapsed` seconds, and the wait before a token is
    /// there if there is none now (`None`: the token was taken).
    pub fn take(self, tokens: f64, elapsed: f64) -> (f64, Option<Duration>) {
        let tokens = (tokens + elapsed.max(0.0) * self.rate).min(self.burst);
        if tokens >= 1.0 {
            (tokens - 1.0, None)
        } else {
            (tokens, Some(Duration::from_secs_f64((1.0 - tokens) / self.rate)))
        }
    }
}

/// Take one token of `vendor_id`'s shared bucket at `now`; `Some(wait)` when
/// there is none yet. One short write transaction per request to the vendor.
pub async fn take_token(
    db: &DatabaseConnection,
    vendor_id: &str,
    bucket: Bucket,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, StoreError> {
    let txn = begin_write(db, Writer::Dispatch).await?;
    let row = vendor_limit::Entity::find_by_id(vendor_id.to_string()).lock_exclusive().one(&txn).await?;
    let Some(row) = row else {
        ensure(&txn, &[(vendor_id.to_string(), bucket.burst - 1.0)], now).await?;
        txn.commit().await?;
        return Ok(None);
    };
    let elapsed = (now - row.refilled_at).to_std().map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let (tokens, wait) = bucket.take(row.tokens, elapsed);
    // A clock that went backwards (another instance's, slightly off) neither
    // adds tokens nor moves the refill time back.
    let refilled_at = now.max(row.refilled_at);
    let mut active: vendor_limit::ActiveModel = row.into();
    active.tokens = Set(tokens);
    active.refilled_at = Set(refilled_at);
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_its_rate_and_caps_at_its_burst() {
        let b = Bucket { rate: 10.0, burst: 10.0 };
        assert_eq!(b.take(10.0, 0.0), (9.0, None));
        let (tokens, wait) = b.take(0.0, 0.05);
        assert!((tokens - 0.5).abs() < 1e-9);
        assert_eq!(wait, Some(Duration::from_millis(50)));
        assert_eq!(b.take(3.0, 3600.0), (9.0, None), "never more than the burst");
        assert_eq!(b.take(0.5, -1.0).0, 0.5, "a clock going back adds nothing");
    }
}
