//! The reconciler: attempts whose dispatch outcome is unknown, or that got no
//! result in time, are looked up at the vendor. Nothing is redialed before the
//! vendor has said it never received the attempt.

pub mod cancel;
pub mod poll;

use crate::context::Ctx;
use crate::domain::recall::AttemptResult;
use crate::store::StoreError;
use crate::store::apply::apply_result;
use crate::store::db::begin_write;
use crate::vendors::{AttemptHandle, LookupResult};
use chrono::{DateTime, Utc};
use entity::{attempt, vendor_task};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub looked_up: usize,
    pub finished: usize,
    pub confirmed: usize,
    pub never_received: usize,
    pub lost: usize,
    pub errors: usize,
}

fn dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// What a vendor needs to find one of our attempts.
pub async fn attempt_handle<C: ConnectionTrait>(db: &C, a: &attempt::Model) -> Result<AttemptHandle, StoreError> {
    let task = match a.vendor_task_id {
        Some(id) => vendor_task::Entity::find_by_id(id).one(db).await?.and_then(|t| t.external_task_id),
        None => None,
    };
    Ok(AttemptHandle {
        attempt_ref: a.attempt_ref.clone(),
        phone: a.phone.clone().unwrap_or_default(),
        vendor_task_id: task,
        external_call_id: a.external_call_id.clone(),
        dispatched_at: a.dispatched_at,
    })
}

/// A `dispatching` attempt whose lease ran out (rows from before leases:
/// claimed longer ago than the lease would have lasted).
fn lease_expired(now: DateTime<Utc>) -> Condition {
    Condition::any().add(attempt::Column::LeaseExpiresAt.lt(now)).add(attempt::Column::LeaseExpiresAt.is_null())
}

/// Make `owner` the holder of `a`'s expired dispatch lease until `until`.
/// False when another instance wrote it back or took it first.
async fn take_over<C: ConnectionTrait>(
    db: &C,
    a: &attempt::Model,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = attempt::Entity::update_many()
        .col_expr(attempt::Column::LeaseOwner, Expr::value(owner))
        .col_expr(attempt::Column::LeaseExpiresAt, Expr::value(until))
        .filter(attempt::Column::Id.eq(a.id))
        .filter(attempt::Column::State.eq("dispatching"))
        .filter(match &a.lease_owner {
            Some(o) => attempt::Column::LeaseOwner.eq(o.as_str()),
            None => attempt::Column::LeaseOwner.is_null(),
        })
        .exec(db)
        .await?;
    if res.rows_affected == 1 && a.lease_owner.as_deref() != Some(owner) {
        tracing::warn!(attempt = %a.attempt_ref, previous = ?a.lease_owner, "dispatch lease expired; looking the attempt up at the vendor");
    }
    Ok(res.rows_affected == 1)
}

/// One reconciliation sweep at `now`.
#[tracing::instrument(skip_all)]
pub async fn sweep(ctx: &Ctx, now: DateTime<Utc>) -> Result<ReconcileReport, StoreError> {
    let s = &ctx.settings.scheduler;
    let stale = attempt::Entity::find()
        .filter(
            Condition::any()
                .add(Condition::all().add(attempt::Column::State.eq("dispatching")).add(lease_expired(now)))
                .add(
                    Condition::all()
                        .add(attempt::Column::State.eq("dispatched"))
                        .add(attempt::Column::DeadlineAt.lt(now)),
                ),
        )
        .order_by_asc(attempt::Column::Id)
        .limit(500)
        .all(&ctx.db)
        .await?;
    let mut report = ReconcileReport::default();
    for a in stale {
        let Some(vendor) = ctx.vendors.get(&a.vendor_id) else {
            tracing::warn!(attempt = %a.attempt_ref, vendor = %a.vendor_id, "attempt of an unconfigured vendor; cannot reconcile");
            report.errors += 1;
            continue;
        };
        // A dispatch whose instance died (or stalled) past its lease: take the
        // lease over first, so that instance's late write-back is ignored.
        if a.state == "dispatching"
            && !take_over(&ctx.db, &a, &s.instance_id, ctx.clock.now() + dur(s.dispatch_timeout)).await?
        {
            continue;
        }
        report.looked_up += 1;
        vendor.until_ready().await;
        let handle = attempt_handle(&ctx.db, &a).await?;
        let looked = vendor.adapter.lookup(&handle).await;
        let camp = ctx.campaign(a.campaign_id).await?;
        let now = ctx.clock.now();
        let too_old = a.dispatched_at.unwrap_or(a.created_at) < now - dur(s.lost_after);
        let txn = begin_write(&ctx.db).await?;
        match looked {
            Ok(LookupResult::Finished(ev)) => {
                apply_result(&txn, &camp, &a, &AttemptResult::Completed(ev.outcome.clone()), Some(&ev), now).await?;
                report.finished += 1;
            }
            Ok(LookupResult::NotFound) if a.state == "dispatching" => {
                let r = AttemptResult::VendorFailed { reason: "vendor never received the dispatch".into() };
                apply_result(&txn, &camp, &a, &r, None, now).await?;
                report.never_received += 1;
            }
            Ok(LookupResult::NotFound) => {
                apply_result(&txn, &camp, &a, &AttemptResult::Lost, None, now).await?;
                report.lost += 1;
            }
            Ok(LookupResult::Pending { .. }) | Err(_) if too_old && a.state == "dispatched" => {
                // Give up on it, and make sure the vendor does not dial it later.
                let _ = vendor.adapter.cancel(std::slice::from_ref(&handle)).await;
                apply_result(&txn, &camp, &a, &AttemptResult::Lost, None, now).await?;
                report.lost += 1;
            }
            Ok(LookupResult::Pending { external_call_id }) => {
                let deadline = now + dur(s.result_timeout);
                attempt::Entity::update_many()
                    .col_expr(attempt::Column::State, Expr::value("dispatched"))
                    .col_expr(
                        attempt::Column::ExternalCallId,
                        Expr::value(external_call_id.or(a.external_call_id.clone())),
                    )
                    .col_expr(attempt::Column::DispatchedAt, Expr::value(a.dispatched_at.unwrap_or(now)))
                    .col_expr(attempt::Column::DeadlineAt, Expr::value(deadline))
                    .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
                    .filter(attempt::Column::Id.eq(a.id))
                    .filter(attempt::Column::State.eq(a.state.as_str()))
                    .exec(&txn)
                    .await?;
                report.confirmed += 1;
            }
            Err(e) => {
                tracing::warn!(attempt = %a.attempt_ref, error = %e, "lookup failed; will retry");
                report.errors += 1;
                if a.state == "dispatched" {
                    attempt::Entity::update_many()
                        .col_expr(attempt::Column::DeadlineAt, Expr::value(now + dur(s.reconcile_every)))
                        .filter(attempt::Column::Id.eq(a.id))
                        .filter(attempt::Column::State.eq("dispatched"))
                        .exec(&txn)
                        .await?;
                }
            }
        }
        txn.commit().await?;
    }
    Ok(report)
}
