//! Active cancel: calls handed to a vendor that must no longer be dialed —
//! their campaign was paused or cancelled, their number was suppressed, or
//! the calling window they were sent in has closed — are cancelled at the
//! vendor, wherever the vendor offers a cancel. The attempt then finishes
//! with the vendor's "cancelled" result (not consuming an attempt) or with
//! whatever result the vendor reports if the call was already under way.

use super::attempt_handle;
use crate::context::Ctx;
use crate::store::{self, StoreError};
use crate::vendors::metered::{metered, op};
use chrono::{DateTime, Utc};
use entity::attempt;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CancelReport {
    pub requested: usize,
    pub errors: usize,
}

/// Why an outstanding call is cancelled, for the log.
fn reason(a: &attempt::Model, stopped: &[i64], now: DateTime<Utc>) -> &'static str {
    if stopped.contains(&a.campaign_id) {
        "campaign paused or cancelled"
    } else if a.not_after.is_some_and(|t| t <= now) {
        "calling window closed"
    } else {
        "number suppressed"
    }
}

/// For vendors that cancel whole tasks: keep the attempts of tasks whose
/// every outstanding attempt is due for cancelling; a task that still holds
/// calls that should go on is left alone (those calls cannot be stopped alone
/// at such a vendor).
async fn whole_tasks_only(
    ctx: &Ctx,
    vendor_id: &str,
    attempts: Vec<attempt::Model>,
) -> Result<Vec<attempt::Model>, StoreError> {
    let mut by_task: BTreeMap<Option<i64>, Vec<attempt::Model>> = BTreeMap::new();
    for a in attempts {
        by_task.entry(a.vendor_task_id).or_default().push(a);
    }
    let mut keep = Vec::new();
    for (task, due) in by_task {
        let Some(task) = task else { continue };
        let outstanding = store::reconcile::in_flight_in_task(&ctx.db, task).await?;
        if outstanding as usize == due.len() {
            keep.extend(due);
        } else {
            tracing::debug!(vendor = %vendor_id, task, due = due.len(), outstanding, "task not cancelled: this vendor cancels whole tasks and the task also holds calls that go on");
        }
    }
    Ok(keep)
}

pub async fn cancel_sweep(ctx: &Ctx, now: DateTime<Utc>) -> Result<CancelReport, StoreError> {
    let stopped = store::reconcile::stopped_campaigns(&ctx.db).await?;
    let due = store::reconcile::to_cancel(&ctx.db, &stopped, now).await?;
    let mut report = CancelReport::default();
    let mut by_vendor: BTreeMap<String, Vec<attempt::Model>> = BTreeMap::new();
    for a in due {
        by_vendor.entry(a.vendor_id.clone()).or_default().push(a);
    }
    for (vendor_id, attempts) in by_vendor {
        let Some(vendor) = ctx.vendors.get(&vendor_id) else { continue };
        let attempts = if vendor.adapter.cancels_whole_tasks() {
            whole_tasks_only(ctx, &vendor_id, attempts).await?
        } else {
            attempts
        };
        if attempts.is_empty() {
            continue;
        }
        let mut handles = Vec::with_capacity(attempts.len());
        for a in &attempts {
            handles.push(attempt_handle(&ctx.db, a).await?);
        }
        vendor.until_ready().await;
        match metered(&vendor_id, op::CANCEL, vendor.adapter.cancel(&handles)).await {
            Ok(()) => {
                let ids: Vec<i64> = attempts.iter().map(|a| a.id).collect();
                store::reconcile::cancel_requested(&ctx.db, &ids, now).await?;
                for a in &attempts {
                    tracing::info!(vendor = %vendor_id, attempt = %a.attempt_ref, reason = reason(a, &stopped, now), "outstanding call cancelled at the vendor");
                }
                metrics::counter!("campaignd_vendor_cancels_total", "vendor" => vendor_id.clone())
                    .increment(attempts.len() as u64);
                report.requested += attempts.len();
            }
            Err(e) => {
                tracing::warn!(vendor = %vendor_id, calls = attempts.len(), error = %e, "cancel failed; will retry");
                report.errors += 1;
            }
        }
    }
    Ok(report)
}
