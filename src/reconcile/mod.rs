//! The reconciler: attempts whose dispatch outcome is unknown, or that got no
//! result in time, are looked up at the vendor. Nothing is redialed before the
//! vendor has said it never received the attempt.

pub mod cancel;
pub mod poll;

use crate::context::Ctx;
use crate::domain::recall::AttemptResult;
use crate::domain::state::AttemptState;
use crate::store::apply::apply_result;
use crate::store::db::{Writer, begin_write};
use crate::store::{self, Db, StoreError};
use crate::vendors::metered::{metered, op};
use crate::vendors::{AttemptHandle, LookupResult};
use chrono::{DateTime, Utc};
use entity::attempt;

const DISPATCHING: &str = AttemptState::Dispatching.as_str();
const DISPATCHED: &str = AttemptState::Dispatched.as_str();

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
pub async fn attempt_handle(db: &Db, a: &attempt::Model) -> Result<AttemptHandle, StoreError> {
    Ok(AttemptHandle {
        attempt_ref: a.attempt_ref.clone(),
        phone: a.phone.clone().unwrap_or_default(),
        vendor_task_id: store::reconcile::external_task_id(db, a).await?,
        external_call_id: a.external_call_id.clone(),
        dispatched_at: a.dispatched_at,
    })
}

/// Make `owner` the holder of `a`'s expired dispatch lease until `until`.
/// False when another instance wrote it back or took it first.
async fn take_over(db: &Db, a: &attempt::Model, owner: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
    let taken = store::reconcile::take_over_lease(db, a, owner, until).await?;
    if taken && a.lease_owner.as_deref() != Some(owner) {
        tracing::warn!(attempt = %a.attempt_ref, previous = ?a.lease_owner, "dispatch lease expired; looking the attempt up at the vendor");
    }
    Ok(taken)
}

/// One reconciliation sweep at `now`.
#[tracing::instrument(skip_all)]
pub async fn sweep(ctx: &Ctx, now: DateTime<Utc>) -> Result<ReconcileReport, StoreError> {
    let s = &ctx.settings.scheduler;
    let stale = store::reconcile::overdue(&ctx.db, now, 500).await?;
    let mut report = ReconcileReport::default();
    for a in stale {
        let Some(vendor) = ctx.vendors.get(&a.vendor_id) else {
            tracing::warn!(attempt = %a.attempt_ref, vendor = %a.vendor_id, "attempt of an unconfigured vendor; cannot reconcile");
            report.errors += 1;
            continue;
        };
        // A dispatch whose instance died (or stalled) past its lease: take the
        // lease over first, so that instance's late write-back is ignored.
        if a.state == DISPATCHING
            && !take_over(&ctx.db, &a, &s.instance_id, ctx.clock.now() + dur(s.dispatch_timeout)).await?
        {
            continue;
        }
        report.looked_up += 1;
        vendor.until_ready().await;
        let handle = attempt_handle(&ctx.db, &a).await?;
        let looked = metered(vendor.adapter.id(), op::LOOKUP, vendor.adapter.lookup(&handle)).await;
        let camp = ctx.campaign(a.campaign_id).await?;
        let now = ctx.clock.now();
        let too_old = a.dispatched_at.unwrap_or(a.created_at) < now - dur(s.lost_after);
        let txn = begin_write(&ctx.db, Writer::Reconcile).await?;
        match looked {
            Ok(LookupResult::Finished(ev)) => {
                let ev = vendor.priced(ev);
                apply_result(&txn, &camp, &a, &AttemptResult::Completed(ev.outcome.clone()), Some(&ev), now).await?;
                report.finished += 1;
            }
            Ok(LookupResult::NotFound) if a.state == DISPATCHING => {
                let r = AttemptResult::VendorFailed { reason: "vendor never received the dispatch".into() };
                apply_result(&txn, &camp, &a, &r, None, now).await?;
                report.never_received += 1;
            }
            Ok(LookupResult::NotFound) => {
                apply_result(&txn, &camp, &a, &AttemptResult::Lost, None, now).await?;
                report.lost += 1;
            }
            Ok(LookupResult::Pending { .. }) | Err(_) if too_old && a.state == DISPATCHED => {
                // Give up on it, and make sure the vendor does not dial it later.
                let cancel = vendor.adapter.cancel(std::slice::from_ref(&handle));
                let _ = metered(vendor.adapter.id(), op::CANCEL, cancel).await;
                apply_result(&txn, &camp, &a, &AttemptResult::Lost, None, now).await?;
                report.lost += 1;
            }
            Ok(LookupResult::Pending { external_call_id }) => {
                let deadline = now + dur(s.result_timeout);
                store::reconcile::confirm_dispatched(&txn, &a, external_call_id, deadline, now).await?;
                report.confirmed += 1;
            }
            Err(e) => {
                tracing::warn!(attempt = %a.attempt_ref, error = %e, "lookup failed; will retry");
                report.errors += 1;
                if a.state == DISPATCHED {
                    store::reconcile::retry_lookup_at(&txn, a.id, now + dur(s.reconcile_every)).await?;
                }
            }
        }
        txn.commit().await?;
    }
    Ok(report)
}
