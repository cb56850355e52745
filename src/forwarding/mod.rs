//! The forwarding worker: delivers the events of the outbox
//! (`store::forward_outbox`) to each campaign's URL, signed the Standard
//! Webhooks way. At least once: an event is marked delivered only after a
//! 2xx, and a delivery cut off by a crash is made again (same `webhook-id`)
//! once its lease runs out. Woken when a page commits events, and every
//! [`POLL`] for retries that come due and events written elsewhere.

mod deliver;

use crate::context::Ctx;
use crate::domain::forwarding::backoff::after_failure;
use crate::store::{self, StoreError};
use deliver::Delivery;
use futures::StreamExt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the worker looks for due events without being woken.
pub const POLL: Duration = Duration::from_secs(1);
/// Deliveries in flight at once (per instance): also the claim's size, so
/// every claimed event is being delivered while its lease runs.
const CONCURRENCY: usize = 8;
/// Added to the longest delivery timeout for the lease: the time to record
/// the outcome once the receiver answered.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

pub async fn run(ctx: Ctx, stop: CancellationToken) {
    let me = &ctx.settings.scheduler.instance_id;
    match store::forward_outbox::release_leftover_leases(&ctx.db, me).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(events = n, "forwarding: deliveries cut off by a previous run are made again"),
        Err(e) => tracing::warn!(error = %e, "forwarding: leases of a previous run not released; they run out"),
    }
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "forwarding: cannot build the HTTP client; no events are delivered");
            return;
        }
    };
    loop {
        let busy = match pass(&ctx, &client).await {
            Ok(claimed) => claimed == CONCURRENCY,
            Err(e) => {
                tracing::warn!(error = %e, "forwarding pass failed; trying again");
                metrics::counter!("campaignd_loop_failures_total", "loop" => "forwarding").increment(1);
                false
            }
        };
        record_gauges(&ctx).await;
        if busy && !stop.is_cancelled() {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ctx.forward_notify.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Claim the due events and deliver them; returns how many were claimed.
async fn pass(ctx: &Ctx, client: &reqwest::Client) -> Result<usize, StoreError> {
    let fwd = &ctx.settings.forwarding;
    // No destination at all: nothing could be delivered, and the claim (a
    // write) would take SQLite's write lock every second for nothing. Events
    // left from an earlier config wait for one (the gauges still count them).
    if !fwd.any() {
        return Ok(0);
    }
    let longest = fwd.campaigns.values().flatten().chain(&fwd.global).map(|t| t.timeout).max();
    let lease = longest.unwrap_or(Duration::ZERO) + LEASE_MARGIN;
    let now = ctx.clock.now();
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let owner = &ctx.settings.scheduler.instance_id;
    let rows = store::forward_outbox::claim_due(&ctx.db, owner, now, lease_until, CONCURRENCY as u64).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let names = store::campaigns::names(&ctx.db, rows.iter().map(|r| r.campaign_id)).await?;
    let claimed = rows.len();
    let results: Vec<Result<(), StoreError>> = futures::stream::iter(rows)
        .map(|row| {
            let name = names.get(&row.campaign_id).cloned().unwrap_or_default();
            async move {
                let target = fwd.target(&name).cloned();
                let outcome = deliver::deliver(client, target.as_deref(), &name, &row, ctx.clock.now()).await;
                record(ctx, &row, target.as_deref(), outcome).await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(claimed)
}

/// Write down how one delivery went.
async fn record(
    ctx: &Ctx,
    row: &entity::forward_outbox::Model,
    target: Option<&crate::config::ForwardTarget>,
    outcome: Delivery,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let (status, error) = match outcome {
        Delivery::Delivered { status } => {
            store::forward_outbox::record_delivered(&ctx.db, row.id, status, now).await?;
            metrics::counter!("campaignd_forward_deliveries_total", "result" => "delivered").increment(1);
            return Ok(());
        }
        Delivery::Failed { status, error } => (status, error),
    };
    let policy = target.map(|t| t.retry).unwrap_or(crate::config::validate::forwarding_defaults());
    let since = row.replayed_at.unwrap_or(row.created_at);
    let failures = u32::try_from(row.attempts).unwrap_or(0).saturating_add(1);
    let next = after_failure(&policy, failures, since, now, rand::random::<f64>());
    let owner = &ctx.settings.scheduler.instance_id;
    let dead = next == crate::domain::forwarding::backoff::AfterFailure::Dead;
    if store::forward_outbox::record_failed(&ctx.db, row.id, owner, status, &error, next, now).await? {
        let result = if dead { "dead" } else { "failed" };
        metrics::counter!("campaignd_forward_deliveries_total", "result" => result).increment(1);
        match dead {
            true => {
                tracing::error!(event = %row.event_id, %error, "forwarded event dead-lettered after max_age; replay it once the receiver is fixed")
            }
            false => {
                tracing::warn!(event = %row.event_id, %error, attempts = failures, "forwarding delivery failed; will retry")
            }
        }
    }
    Ok(())
}

/// `campaignd_forward_outbox_pending` and `_dead`: database-wide counts.
async fn record_gauges(ctx: &Ctx) {
    match store::forward_outbox::counts(&ctx.db).await {
        Ok((pending, dead)) => {
            metrics::gauge!("campaignd_forward_outbox_pending").set(pending as f64);
            metrics::gauge!("campaignd_forward_outbox_dead").set(dead as f64);
        }
        Err(e) => tracing::debug!(error = %e, "forwarding gauges not updated"),
    }
}
