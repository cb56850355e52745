//! A tick's claims and dispatches, overlapped. Where the store gains by it
//! (`store::claim::overlaps_vendor_calls`: SQLite), the tick claims its
//! `claim_batch` in pieces of one vendor request
//! (`domain::claim::claim_piece`) and hands each piece to its vendor while
//! it claims the next: the writer claims while the vendor answers, instead
//! of each step of the tick waiting for the one before. The tick still
//! returns only once every piece it claimed is dispatched and recorded.
//! Measured in docs/benchmarks.md, "Claims overlapped with dispatches".

use super::TickReport;
use super::dispatch::dispatch_claimed;
use super::gauges;
use crate::context::Ctx;
use crate::domain::campaign::Campaign;
use crate::store::StoreError;
use crate::store::claim::{self, Claimed};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Claim up to `claim_batch` due contacts of a running campaign in pieces,
/// dispatching each piece as soon as it is claimed. Returns how many were
/// claimed. After a failed dispatch no further piece is claimed (the store
/// is likely failing); every piece already claimed is still dispatched.
pub(super) async fn claim_and_dispatch(
    ctx: &Ctx,
    camp: &Campaign,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<u32, StoreError> {
    let s = &ctx.settings.scheduler;
    let caps = ctx.vendors.caps(now);
    let lease = claim::Lease {
        owner: &s.instance_id,
        until: now + chrono::Duration::from_std(s.dispatch_timeout).unwrap_or(chrono::Duration::MAX),
    };
    let batches = camp.vendors.iter().filter_map(|(id, _)| ctx.vendors.get(id)).map(|v| v.adapter.max_batch());
    let piece = crate::domain::claim::claim_piece(s.claim_batch, batches, claim::overlaps_vendor_calls(&ctx.db));
    let stop = AtomicBool::new(false);
    let (pieces, mut claimed) = tokio::sync::mpsc::channel::<Vec<Claimed>>(1);

    let (caps, lease, stop_claiming) = (&caps, &lease, &stop);
    let claims = async move {
        let mut total: u32 = 0;
        while total < s.claim_batch && !stop_claiming.load(Relaxed) {
            let want = piece.min(s.claim_batch - total);
            let claim = claim::claim(&ctx.db, camp, caps, want, lease, now).await?;
            gauges::record_in_flight(camp, &claim.in_flight, &ctx.vendors);
            report.deferred += claim.deferred;
            report.suppressed += claim.suppressed;
            report.exhausted += claim.exhausted;
            report.claimed += claim.claimed.len();
            let got = u32::try_from(claim.claimed.len()).unwrap_or(u32::MAX);
            total += got;
            if got > 0 {
                tracing::info!(campaign = %camp.name, contacts = got, "dispatching");
                if pieces.send(claim.claimed).await.is_err() {
                    break;
                }
            }
            // Fewer than asked: nothing more is due, or a cap is reached.
            if got < want {
                break;
            }
        }
        Ok::<u32, StoreError>(total)
    };
    let dispatches = async {
        let mut running = FuturesUnordered::new();
        let mut first_error = None;
        loop {
            tokio::select! {
                Some(piece) = claimed.recv() => {
                    // A task of its own: on PostgreSQL the client's side of
                    // every statement runs in the task that awaits it, and
                    // the next claim keeps this one busy.
                    let (ctx, camp) = (ctx.clone(), camp.clone());
                    running.push(tokio::spawn(async move { dispatch_claimed(&ctx, &camp, piece, now).await }));
                }
                Some(done) = running.next() => {
                    let done = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    if let Err(e) = done {
                        stop.store(true, Relaxed);
                        first_error.get_or_insert(e);
                    }
                }
                else => break,
            }
        }
        first_error.map_or(Ok(()), Err)
    };
    match tokio::join!(claims, dispatches) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(total), Ok(())) => Ok(total),
    }
}
