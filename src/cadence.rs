//! The pace of the daemon's periodic loops: a round every `period`, counted
//! from one round's start to the next. A round that overruns its period is
//! followed at once by the next (no burst of missed rounds to catch up,
//! never two at once), and stopping wins over a round that is due.
//!
//! WHY start to start: an operator who sets `scheduler.tick = "1s"` expects
//! a claim every second. Sleeping `period` after each round made the period
//! the round's own time plus `period`, so the busier the daemon, the slower
//! it claimed.

use std::future::Future;
use std::time::Duration;
use tokio::time::{Interval, MissedTickBehavior};

/// A loop's schedule of rounds; the first is due at once.
pub struct Cadence(Interval);

impl Cadence {
    pub fn every(period: Duration) -> Self {
        let mut rounds = tokio::time::interval(period);
        rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Cadence(rounds)
    }

    /// Wait until the next round is due: `true`, or `false` once `stop`
    /// completes first (or both are ready: a loop asked to stop runs no
    /// further round).
    pub async fn next(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::select! {
            biased;
            _ = stop => false,
            _ = self.0.tick() => true,
        }
    }
}

#[cfg(test)]
#[path = "cadence_tests.rs"]
mod tests;
