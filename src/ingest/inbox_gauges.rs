//! `campaignd_inbox_depth` and `campaignd_inbox_oldest_pending_seconds`,
//! sampled by the inbox processor after a pass, at most once per
//! [`SAMPLE_EVERY`]: a pass can run many times a second under load, and the
//! backlog is a trend, not an event. Every instance samples the same
//! database-wide numbers (aggregate with `max`, not `sum`).

use crate::context::Ctx;
use crate::store::inbox_depth::inbox_depth;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct InboxGauges {
    sampled: Option<Instant>,
}

impl InboxGauges {
    /// Sample the backlog unless it was sampled within [`SAMPLE_EVERY`].
    pub async fn sample_if_due(&mut self, ctx: &Ctx) {
        if self.sampled.is_some_and(|t| t.elapsed() < SAMPLE_EVERY) {
            return;
        }
        self.sampled = Some(Instant::now());
        match inbox_depth(&ctx.db).await {
            Ok(depth) => {
                metrics::gauge!("campaignd_inbox_depth").set(depth.pending as f64);
                let age = oldest_age_seconds(depth.oldest_received_at, ctx.clock.now());
                metrics::gauge!("campaignd_inbox_oldest_pending_seconds").set(age);
            }
            // The drain that just ran reports a store that cannot be read.
            Err(e) => tracing::debug!(error = %e, "cannot sample the inbox backlog"),
        }
    }
}

/// Seconds the oldest pending row has waited at `now` (0 for none, and for
/// a row stamped after `now` by another instance's clock).
pub fn oldest_age_seconds(oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    oldest.map_or(0.0, |t| ((now - t).num_milliseconds() as f64 / 1000.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_is_zero_without_a_pending_row_or_with_a_clock_ahead() {
        let now: DateTime<Utc> = "2026-12-05T01:00:00Z".parse().unwrap();
        assert_eq!(oldest_age_seconds(None, now), 0.0);
        assert_eq!(oldest_age_seconds(Some(now - chrono::TimeDelta::milliseconds(90_500)), now), 90.5);
        assert_eq!(oldest_age_seconds(Some(now + chrono::TimeDelta::seconds(1)), now), 0.0);
    }
}
