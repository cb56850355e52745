//! Poll-based vendors (smartivr): every sweep asks the vendor for the results
//! of each task that still has attempts in flight, and applies them through
//! the same path as callbacks, so a result seen both ways lands once.

use crate::context::Ctx;
use crate::ingest::processor::{EventApplied, apply_event};
use crate::store::apply::{AttemptLocks, WriteBuffer};
use crate::store::db::{Writer, begin_write};
use crate::store::{self, StoreError, inbox};
use crate::vendors::TaskHandle;
use crate::vendors::metered::{metered, op};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub tasks: usize,
    pub applied: usize,
    pub late: usize,
    pub unmatched: usize,
    /// Records of poll answers that could not be read (kept for audit).
    pub rejected_records: usize,
    pub errors: usize,
    /// Tasks with nothing left in flight, no longer polled.
    pub finished_tasks: usize,
}

pub async fn poll_sweep(ctx: &Ctx, now: DateTime<Utc>) -> Result<PollReport, StoreError> {
    let mut report = PollReport::default();
    for vendor in ctx.vendors.all().filter(|v| v.adapter.polls()) {
        let vendor_id = vendor.adapter.id().to_string();
        let tasks = store::reconcile::tasks_to_poll(&ctx.db, &vendor_id).await?;
        for task in tasks {
            let Some(external) = task.external_task_id.clone() else { continue };
            report.tasks += 1;
            vendor.until_ready().await;
            let handle = TaskHandle { vendor_task_id: external, created_at: task.created_at };
            let parsed = match metered(&vendor_id, op::POLL, vendor.adapter.poll_task_records(&handle)).await {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::warn!(vendor = %vendor_id, task = task.id, error = %e, "poll failed; will retry");
                    report.errors += 1;
                    continue;
                }
            };
            let txn = begin_write(&ctx.db, Writer::Reconcile).await?;
            let newly_rejected = inbox::record_poll_rejects(&txn, &vendor_id, &parsed.rejected, now).await?;
            if newly_rejected > 0 {
                report.rejected_records += newly_rejected as usize;
                metrics::counter!("campaignd_callback_records_rejected_total", "vendor" => vendor_id.clone())
                    .increment(newly_rejected);
                tracing::warn!(vendor = %vendor_id, task = task.id, records = newly_rejected, "poll answer records rejected; kept for audit");
            }
            let events = parsed.events;
            let mut campaigns = HashMap::new();
            let mut dials = WriteBuffer::default();
            let events: Vec<_> = events
                .iter()
                .filter(|e| e.is_final)
                .map(|ev| {
                    vendor.priced(crate::domain::call_event::CallEvent {
                        vendor_task_id: ev.vendor_task_id.clone().or(task.external_task_id.clone()),
                        ..ev.clone()
                    })
                })
                .collect();
            // In id order before any is applied, like an inbox page (see AttemptLocks).
            if AttemptLocks::needed(&txn) {
                let mut locks = AttemptLocks::default();
                for ev in &events {
                    locks.add_event(&txn, &vendor_id, ev).await?;
                }
                locks.lock(&txn).await?;
            }
            for ev in events {
                match apply_event(&txn, &ctx.settings.compliance, &vendor_id, &ev, &mut campaigns, now, &mut dials)
                    .await?
                {
                    EventApplied::Applied => report.applied += 1,
                    EventApplied::Late => report.late += 1,
                    EventApplied::Unmatched => {
                        metrics::counter!("campaignd_callback_unmatched_total").increment(1);
                        report.unmatched += 1
                    }
                }
            }
            dials.flush(&txn).await?;
            let done = store::reconcile::task_polled(&txn, task.id, now).await?;
            report.finished_tasks += usize::from(done);
            txn.commit().await?;
        }
    }
    if report.applied > 0 {
        ctx.inbox_notify.notify_one();
    }
    Ok(report)
}
