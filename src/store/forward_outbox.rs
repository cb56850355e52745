//! The forwarding outbox (`forward_outbox`): events inserted with the
//! results they report (see [`super::apply::WriteBuffer`]), claimed by the
//! forwarding worker under a lease so one instance at a time delivers an
//! event, and marked delivered, retried later or dead.

use super::StoreError;
use super::raw_sql::{Sql, insert_chunks};
use crate::domain::forwarding::backoff::AfterFailure;
use crate::domain::forwarding::payload::ForwardPayload;
use chrono::{DateTime, Utc};
use entity::forward_outbox::{self, ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// A new event row, due at once. Its id (`evt_<uuid>`) is the
/// `webhook-id` of every delivery of it: the receiver's idempotency key.
pub fn new_row(
    campaign_id: i64,
    contact_id: i64,
    attempt_id: i64,
    payload: &ForwardPayload,
    now: DateTime<Utc>,
) -> ActiveModel {
    ActiveModel {
        event_id: Set(format!("evt_{}", uuid::Uuid::new_v4().simple())),
        event_type: Set(payload.event_type.as_str().to_string()),
        campaign_id: Set(campaign_id),
        contact_id: Set(Some(contact_id)),
        attempt_id: Set(Some(attempt_id)),
        payload: Set(payload.to_body()),
        created_at: Set(now),
        next_attempt_at: Set(now),
        attempts: Set(0),
        ..Default::default()
    }
}

/// Insert `rows` in multi-row statements (a page's events in a few
/// statements, as its dials). Call inside the result's transaction.
pub async fn insert_all<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<(), StoreError> {
    for chunk in insert_chunks(rows) {
        super::raw_sql::insert_many(db, chunk, Some(OnConflict::column(Column::EventId).do_nothing().to_owned()))
            .await?;
    }
    Ok(())
}

/// Take up to `limit` due events for `owner` until `lease_until`: not
/// delivered, not dead, due, and not leased by anyone (or the lease ran
/// out: its holder died mid-delivery). On PostgreSQL rows another instance
/// is claiming are skipped (`SKIP LOCKED`), and the lease is checked again
/// on the row as it is updated, so two instances never hold one event.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, StoreError> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let free = |sql: &mut Sql| {
        sql.push("delivered_at IS NULL AND dead_at IS NULL AND (lease_expires_at IS NULL OR lease_expires_at <= ");
        sql.bind(now).push(")");
    };
    sql.push("UPDATE forward_outbox SET lease_owner = ").bind(owner).push(", lease_expires_at = ").bind(lease_until);
    sql.push(" WHERE id IN (SELECT id FROM forward_outbox WHERE ");
    free(&mut sql);
    sql.push(" AND next_attempt_at <= ").bind(now);
    sql.push(" ORDER BY next_attempt_at, id LIMIT ").push(&limit.to_string());
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql.push(") AND ");
    free(&mut sql);
    sql.push(" RETURNING *");
    let mut rows = Entity::find().from_raw_sql(sql.build()).all(db).await?;
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(rows)
}

/// The receiver took event `id` (2xx): delivered, lease released.
pub async fn record_delivered<C: ConnectionTrait>(
    db: &C,
    id: i64,
    status: u16,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::DeliveredAt, Expr::value(now))
        .col_expr(Column::LastStatus, Expr::value(i32::from(status)))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A delivery of event `id` failed (`status` when the receiver answered):
/// due again at the time `next` says, or dead. Fenced on `owner`'s lease,
/// so a holder whose lease ran out does not overwrite the new holder's record.
pub async fn record_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    owner: &str,
    status: Option<u16>,
    error: &str,
    next: AfterFailure,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut q = Entity::update_many()
        .col_expr(Column::LastStatus, Expr::value(status.map(i32::from)))
        .col_expr(Column::LastError, Expr::value(error.to_string()))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None));
    q = match next {
        AfterFailure::RetryAt(at) => q.col_expr(Column::NextAttemptAt, Expr::value(at)),
        AfterFailure::Dead => q.col_expr(Column::DeadAt, Expr::value(now)),
    };
    let res = q
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .filter(Column::DeliveredAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Which events a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Not delivered yet and not dead.
    Pending,
    Dead,
    Delivered,
}

/// Events in `state`, oldest first, after id `after`, at most `limit`.
pub async fn list<C: ConnectionTrait>(db: &C, state: Listed, after: i64, limit: u64) -> Result<Vec<Model>, StoreError> {
    let q = Entity::find().filter(Column::Id.gt(after));
    let q = match state {
        Listed::Pending => q.filter(Column::DeliveredAt.is_null()).filter(Column::DeadAt.is_null()),
        Listed::Dead => q.filter(Column::DeadAt.is_not_null()),
        Listed::Delivered => q.filter(Column::DeliveredAt.is_not_null()),
    };
    Ok(q.order_by_asc(Column::Id).limit(limit).all(db).await?)
}

/// Deliver event `event_id` again from now (dead or delivered alike),
/// with the same id; its dead-letter age restarts. None when no such event.
pub async fn replay<C: ConnectionTrait>(
    db: &C,
    event_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Model>, StoreError> {
    let res = replay_update(now).filter(Column::EventId.eq(event_id)).exec(db).await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Entity::find().filter(Column::EventId.eq(event_id)).one(db).await?)
}

/// Replay every dead event; returns how many.
pub async fn replay_all_dead<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(replay_update(now).filter(Column::DeadAt.is_not_null()).exec(db).await?.rows_affected)
}

fn replay_update(now: DateTime<Utc>) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .col_expr(Column::DeadAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::DeliveredAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::ReplayedAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
}

/// (pending, dead) event counts, for the gauges.
pub async fn counts<C: ConnectionTrait>(db: &C) -> Result<(u64, u64), StoreError> {
    let pending =
        Entity::find().filter(Column::DeliveredAt.is_null()).filter(Column::DeadAt.is_null()).count(db).await?;
    let dead = Entity::find().filter(Column::DeadAt.is_not_null()).count(db).await?;
    Ok((pending, dead))
}

/// Events written for `attempt_id`, for tests and `explain`.
pub async fn for_attempt<C: ConnectionTrait>(db: &C, attempt_id: i64) -> Result<Vec<Model>, StoreError> {
    Ok(Entity::find().filter(forward_outbox::Column::AttemptId.eq(attempt_id)).order_by_asc(Column::Id).all(db).await?)
}

/// At start-up: the leases held under this instance's name belong to a
/// previous run of it that died mid-delivery; its events are due again at
/// once instead of when those leases run out. On SQLite every lease: the
/// file lock guarantees no other instance runs.
pub async fn release_leftover_leases<C: ConnectionTrait>(db: &C, owner: &str) -> Result<u64, StoreError> {
    let all = db.get_database_backend() != DbBackend::Postgres;
    let mut q = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(Column::LeaseOwner.is_not_null());
    if !all {
        q = q.filter(Column::LeaseOwner.eq(owner));
    }
    Ok(q.exec(db).await?.rows_affected)
}

#[cfg(test)]
#[path = "forward_outbox_tests.rs"]
mod tests;
