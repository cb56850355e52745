//! Handing claimed attempts to vendors. No transaction is held across the
//! vendor call: the attempt is durably `dispatching` before the request goes
//! out, and the vendor's answer is written back afterwards, fenced on state.

use crate::context::Ctx;
use crate::domain::campaign::Campaign;
use crate::domain::phone::E164;
use crate::domain::recall::AttemptResult;
use crate::store::apply::{AttemptLocks, apply_result};
use crate::store::claim::Claimed;
use crate::store::db::{Writer, begin_write};
use crate::store::dispatch::{Accepted, NewTask};
use crate::store::{self, StoreError, Txn, inbox};
use crate::vendors::metered::{metered, op};
use crate::vendors::registry::VendorHandle;
use crate::vendors::{DispatchBatch, DispatchItem, DispatchReceipt, VendorError, VendorErrorKind};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Dispatch claimed attempts, grouped per vendor and cut to each vendor's
/// batch limit; batches go out concurrently, each behind its vendor's limiter.
pub async fn dispatch_claimed(
    ctx: &Ctx,
    camp: &Campaign,
    claimed: Vec<Claimed>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut by_vendor: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_vendor.entry(c.vendor_id.clone()).or_default().push(c);
    }
    let mut jobs = Vec::new();
    for (vendor_id, items) in by_vendor {
        let Some(vendor) = ctx.vendors.get(&vendor_id) else {
            // Claim only picks configured vendors; this is a config reload race.
            fail_all(ctx, camp, &items, "vendor is not configured").await?;
            continue;
        };
        for chunk in batches_with_unique_phones(items, vendor.adapter.max_batch()) {
            jobs.push(dispatch_batch(ctx, camp, vendor.clone(), chunk, now));
        }
    }
    for res in futures::future::join_all(jobs).await {
        res?;
    }
    Ok(())
}

/// Cut `items` into batches of at most `max`, no phone twice in one batch:
/// vendors that only echo the callee's number are matched on (task, phone).
fn batches_with_unique_phones(items: Vec<Claimed>, max: usize) -> Vec<Vec<Claimed>> {
    let max = max.max(1);
    let mut batches: Vec<(Vec<Claimed>, std::collections::HashSet<E164>)> = Vec::new();
    for item in items {
        let slot = batches.iter().position(|(b, phones)| b.len() < max && !phones.contains(&item.phone));
        let i = slot.unwrap_or_else(|| {
            batches.push((Vec::new(), Default::default()));
            batches.len() - 1
        });
        batches[i].1.insert(item.phone.clone());
        batches[i].0.push(item);
    }
    batches.into_iter().map(|(b, _)| b).collect()
}

/// The earliest window close among the callees' zone groups (the whole
/// intersection of campaign and profile windows): the vendor must not dial
/// any of them after it.
fn not_after(camp: &Campaign, items: &[Claimed], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let groups: BTreeSet<Option<&str>> = items.iter().map(|c| c.zones.as_deref()).collect();
    groups.into_iter().filter_map(|z| camp.dial_window(z).ok()?.dispatch_deadline(now)).min().or(camp.ends_at)
}

#[tracing::instrument(skip_all, fields(campaign = %camp.name, vendor = %vendor.adapter.id(), size = items.len()))]
async fn dispatch_batch(
    ctx: &Ctx,
    camp: &Campaign,
    vendor: Arc<VendorHandle>,
    items: Vec<Claimed>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    vendor.until_ready().await;
    // Send only attempts this instance still holds with time to spare: after
    // a stall (the lease ran out) the leader may have rescued them already.
    let spare = vendor.request_timeout.min(ctx.settings.scheduler.dispatch_timeout / 2);
    let Some(items) = still_leased(ctx, items, spare).await? else { return Ok(()) };
    let batch = DispatchBatch {
        campaign: camp.name.clone(),
        now: ctx.clock.now(),
        callback_url: ctx.callback_url(vendor.adapter.id()),
        predial_url: ctx.predial_url(vendor.adapter.id()),
        not_after: not_after(camp, &items, now),
        vendor_redial: camp.vendor_redial,
        items: items
            .iter()
            .map(|c| DispatchItem {
                attempt_ref: c.attempt_ref.clone(),
                phone: c.phone.to_string(),
                case_id: c.case_id.clone(),
                variables: c.variables.clone(),
            })
            .collect(),
    };
    let result = metered(vendor.adapter.id(), op::DISPATCH, vendor.adapter.dispatch(&batch)).await;
    let answered_at = ctx.clock.now();
    let recorded = match result {
        Ok(receipt) => {
            record_accepted(ctx, camp, vendor.adapter.id(), &items, receipt, batch.not_after, answered_at).await
        }
        Err(e) => {
            if e.kind == VendorErrorKind::Fatal {
                vendor.open_circuit(answered_at, &e.message);
            }
            record_error(ctx, camp, vendor.adapter.id(), &items, e, answered_at).await
        }
    };
    if let Err(e) = &recorded {
        // Nothing is lost: the attempts are durably `dispatching` under our
        // lease, and once it runs out the leader looks each one up at the
        // vendor before anything is dialed again.
        tracing::warn!(
            attempts = items.len(),
            error = %e,
            "the vendor answered but recording its answer failed; the attempts are looked up after dispatch_timeout"
        );
    }
    recorded
}

async fn record_accepted(
    ctx: &Ctx,
    camp: &Campaign,
    vendor_id: &str,
    items: &[Claimed],
    receipt: DispatchReceipt,
    not_after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let deadline = now + chrono::Duration::from_std(ctx.settings.scheduler.result_timeout).unwrap_or_default();
    let txn = begin_write(&ctx.db, Writer::Dispatch).await?;
    let task = NewTask {
        vendor_id,
        campaign_id: camp.id,
        external_task_id: Some(receipt.vendor_task_id.clone()),
        state: "accepted",
        size: items.len(),
        not_after,
        error: None,
        raw_response: receipt.raw_response.clone(),
    };
    let task_id = store::dispatch::insert_task(&txn, task, now).await?;
    // Locked in the order every writer uses, before the first update: the
    // inbox processor may be applying early callbacks for the same batch.
    let mut locks = AttemptLocks::default();
    let accepted = receipt.accepted.iter().map(|(r, _)| r);
    for attempt_ref in accepted.chain(receipt.rejected.iter().map(|(r, _)| r)) {
        locks.add_ref(attempt_ref);
    }
    locks.lock(&txn).await?;
    let accepted = Accepted { task_id, lease_owner: owner(ctx), deadline, not_after };
    store::dispatch::mark_dispatched(&txn, &receipt.accepted, accepted, now).await?;
    metrics::counter!("campaignd_attempts_dispatched_total", "vendor" => vendor_id.to_string())
        .increment(receipt.accepted.len() as u64);
    if !receipt.rejected.is_empty() {
        // Refused items are read in one query; each is then settled on its own.
        let refs: Vec<&str> = receipt.rejected.iter().map(|(r, _)| r.as_str()).collect();
        let reasons: BTreeMap<&str, &str> =
            receipt.rejected.iter().map(|(r, why)| (r.as_str(), why.as_str())).collect();
        for a in store::dispatch::lock_leased(&txn, &refs, owner(ctx)).await? {
            let reason = reasons.get(a.attempt_ref.as_str()).copied().unwrap_or_default();
            let result = AttemptResult::VendorFailed { reason: format!("vendor refused: {reason}") };
            apply_result(&txn, camp, &a, &result, None, now).await?;
        }
    }
    // Callbacks that came before this answer are applied now, not after their backoff.
    let call_ids = receipt.accepted.iter().filter_map(|(_, call)| call.as_deref());
    let woken = inbox::wake_for_dispatch(&txn, vendor_id, &receipt.vendor_task_id, call_ids, now).await?;
    txn.commit().await?;
    if woken > 0 {
        ctx.inbox_notify.notify_one();
    }
    // Items the vendor neither accepted nor refused stay `dispatching`; the
    // reconciler looks them up before anything is dialed again.
    Ok(())
}

async fn record_error(
    ctx: &Ctx,
    camp: &Campaign,
    vendor_id: &str,
    items: &[Claimed],
    err: VendorError,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let txn = begin_write(&ctx.db, Writer::Dispatch).await?;
    let task = NewTask {
        vendor_id,
        campaign_id: camp.id,
        external_task_id: None,
        state: if err.kind == VendorErrorKind::Unknown { "unknown" } else { "failed" },
        size: items.len(),
        not_after: None,
        error: Some(err.message.clone()),
        raw_response: None,
    };
    store::dispatch::insert_task(&txn, task, now).await?;
    match err.kind {
        VendorErrorKind::Unknown => {
            // The vendor may have the batch. Never redial before a lookup says
            // it does not: the attempts stay `dispatching` for the reconciler.
            tracing::warn!(vendor = vendor_id, campaign = %camp.name, error = %err.message, "dispatch outcome unknown; will reconcile");
        }
        VendorErrorKind::RetryLater | VendorErrorKind::Fatal => {
            if err.kind == VendorErrorKind::Fatal {
                // Not the contacts' fault: they go back to the queue without
                // losing an attempt, and the open circuit sends them elsewhere.
                tracing::error!(vendor = vendor_id, error = %err.message, "vendor refused the batch (fatal)");
            } else {
                tracing::warn!(vendor = vendor_id, error = %err.message, "vendor refused the batch; will retry");
            }
            fail_in(&txn, camp, owner(ctx), items, &err.message, now).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

async fn fail_all(ctx: &Ctx, camp: &Campaign, items: &[Claimed], reason: &str) -> Result<(), StoreError> {
    let txn = begin_write(&ctx.db, Writer::Dispatch).await?;
    fail_in(&txn, camp, owner(ctx), items, reason, ctx.clock.now()).await?;
    txn.commit().await?;
    Ok(())
}

/// Vendor-side failure before dialing: does not consume the contact's attempts.
async fn fail_in(
    db: &Txn,
    camp: &Campaign,
    lease_owner: &str,
    items: &[Claimed],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let refs: Vec<&str> = items.iter().map(|c| c.attempt_ref.as_str()).collect();
    // Locked in id order, the order every writer of several attempts uses
    // (see `AttemptLocks`).
    let attempts = store::dispatch::lock_leased(db, &refs, lease_owner).await?;
    let result = AttemptResult::VendorFailed { reason: reason.to_string() };
    for a in attempts {
        apply_result(db, camp, &a, &result, None, now).await?;
    }
    Ok(())
}

/// This instance's name on the attempts it claims (their lease owner).
fn owner(ctx: &Ctx) -> &str {
    &ctx.settings.scheduler.instance_id
}

/// The items whose attempts are still `dispatching` under this instance's
/// lease for at least `spare` (what one vendor request can take, or half the
/// lease if that is shorter); `None` if none is.
/// Write-backs are fenced on the lease owner too, so an attempt the leader
/// took over is never written by this instance again.
async fn still_leased(
    ctx: &Ctx,
    items: Vec<Claimed>,
    spare: std::time::Duration,
) -> Result<Option<Vec<Claimed>>, StoreError> {
    let refs: Vec<&str> = items.iter().map(|c| c.attempt_ref.as_str()).collect();
    let spare = ctx.clock.now() + chrono::Duration::from_std(spare).unwrap_or_default();
    let held = store::dispatch::still_leased(&ctx.db, &refs, owner(ctx), spare).await?;
    if held.len() < items.len() {
        tracing::warn!(
            lost = items.len() - held.len(),
            "dispatch lease ran out before sending (instance stalled?); those attempts are left to the leader's rescue"
        );
    }
    let items: Vec<Claimed> = items.into_iter().filter(|c| held.contains(&c.attempt_ref)).collect();
    Ok((!items.is_empty()).then_some(items))
}
