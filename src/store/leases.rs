//! Named leases in the database: the coordination point between daemon
//! instances. One row per name; an instance holds it until `expires_at` and
//! must renew it before then. Taking it is one conditional upsert, so two
//! instances racing for an expired lease cannot both win.

use super::StoreError;
use chrono::{DateTime, Utc};
use entity::lease;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter};

/// The lease whose holder runs the sweeps (reconciliation, cancels, polls,
/// rescue of attempts whose dispatching instance died).
pub const LEADER: &str = "leader";

/// Take or renew `name` for `owner` until `now + ttl`. True when `owner`
/// holds it afterwards: it was free, expired, or already `owner`'s.
pub async fn try_acquire<C: ConnectionTrait>(
    db: &C,
    name: &str,
    owner: &str,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let excluded = |c: lease::Column| Expr::col((Alias::new("excluded"), c));
    let current = |c: lease::Column| Expr::col((lease::Entity, c));
    // A renewal keeps the original acquisition time; a takeover resets it.
    let acquired_at = Expr::case(
        current(lease::Column::Owner).eq(excluded(lease::Column::Owner)),
        current(lease::Column::AcquiredAt),
    )
    .finally(excluded(lease::Column::AcquiredAt));
    let stmt = Query::insert()
        .into_table(lease::Entity)
        .columns([lease::Column::Name, lease::Column::Owner, lease::Column::ExpiresAt, lease::Column::AcquiredAt])
        .values_panic([name.into(), owner.into(), expires.into(), now.into()])
        .on_conflict(
            OnConflict::column(lease::Column::Name)
                .values([
                    (lease::Column::Owner, excluded(lease::Column::Owner)),
                    (lease::Column::ExpiresAt, excluded(lease::Column::ExpiresAt)),
                    (lease::Column::AcquiredAt, acquired_at.into()),
                ])
                .action_and_where(
                    current(lease::Column::Owner)
                        .eq(excluded(lease::Column::Owner))
                        .or(current(lease::Column::ExpiresAt).lt(excluded(lease::Column::AcquiredAt))),
                )
                .to_owned(),
        )
        .to_owned();
    let res = db.execute(&stmt).await?;
    Ok(res.rows_affected() == 1)
}

/// Give `name` up if `owner` holds it (a clean shutdown hands over at once).
pub async fn release<C: ConnectionTrait>(db: &C, name: &str, owner: &str) -> Result<bool, StoreError> {
    let res = lease::Entity::delete_many()
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Owner.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Who holds `name` at `now`, if anyone.
pub async fn holder<C: ConnectionTrait>(
    db: &C,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<lease::Model>, StoreError> {
    Ok(lease::Entity::find_by_id(name.to_string()).one(db).await?.filter(|l| l.expires_at > now))
}

/// At start-up, before this instance does anything: every lease held under
/// its name belongs to a previous run of it that died, so its dispatch
/// leases are expired at once (the leader rescues them on its next sweep,
/// instead of waiting out the lease) and its leader lease is dropped. With
/// `all` (SQLite, where the file lock guarantees no other instance runs)
/// every lease is such a leftover.
pub async fn recover_leftovers<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    all: bool,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut expire = entity::attempt::Entity::update_many()
        .col_expr(entity::attempt::Column::LeaseExpiresAt, Expr::value(now))
        .filter(entity::attempt::Column::State.eq(crate::domain::state::AttemptState::Dispatching.as_str()));
    let mut drop = lease::Entity::delete_many();
    if !all {
        expire = expire.filter(entity::attempt::Column::LeaseOwner.eq(owner));
        drop = drop.filter(lease::Column::Owner.eq(owner));
    }
    let expired = expire.exec(db).await?.rows_affected;
    drop.exec(db).await?;
    Ok(expired)
}
