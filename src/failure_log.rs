//! A loop's failures, logged once per burst. When the database goes away
//! every round of every loop fails the same way; one line when the trouble
//! starts, a reminder while it lasts and one when it is over tell the
//! operator what thousands of identical lines would, and keep the journal
//! readable. (Metrics still count every failure.)

use std::fmt::Display;
use std::time::{Duration, Instant};

/// While failures go on, a reminder this often.
const REMIND_EVERY: Duration = Duration::from_secs(60);

/// The failure state of one loop (or other single task).
#[derive(Debug)]
pub struct FailureLog {
    what: &'static str,
    burst: Option<Burst>,
}

#[derive(Debug)]
struct Burst {
    started: Instant,
    failures: u64,
    last_logged: Instant,
}

impl FailureLog {
    /// `what` names the work in the log lines: "scheduler tick", "inbox processing".
    pub const fn new(what: &'static str) -> Self {
        FailureLog { what, burst: None }
    }

    /// One failure: logged when it starts a burst, then once per `REMIND_EVERY`.
    pub fn failed(&mut self, error: &dyn Display) {
        self.failed_at(error, Instant::now());
    }

    /// A success: ends the burst with one line saying how long it lasted.
    pub fn succeeded(&mut self) {
        self.succeeded_at(Instant::now());
    }

    /// Whether the last round failed.
    pub fn failing(&self) -> bool {
        self.burst.is_some()
    }

    fn failed_at(&mut self, error: &dyn Display, now: Instant) -> bool {
        let what = self.what;
        match &mut self.burst {
            None => {
                tracing::error!(%error, "{what} failed; retrying (repeats are summarized)");
                self.burst = Some(Burst { started: now, failures: 1, last_logged: now });
                true
            }
            Some(b) => {
                b.failures += 1;
                if now.duration_since(b.last_logged) < REMIND_EVERY {
                    return false;
                }
                let lasting = now.duration_since(b.started);
                tracing::error!(%error, failures = b.failures, ?lasting, "{what} still failing");
                b.last_logged = now;
                true
            }
        }
    }

    fn succeeded_at(&mut self, now: Instant) -> bool {
        let Some(b) = self.burst.take() else { return false };
        let lasted = now.duration_since(b.started);
        tracing::warn!(failures = b.failures, ?lasted, "{} works again", self.what);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_logs_its_start_a_reminder_a_minute_later_and_its_end() {
        let mut log = FailureLog::new("test loop");
        let t0 = Instant::now();
        assert!(!log.succeeded_at(t0), "no burst, nothing to end");
        assert!(log.failed_at(&"down", t0), "the first failure is logged");
        let logged: Vec<bool> =
            (1..=100).map(|i| log.failed_at(&"down", t0 + Duration::from_millis(100 * i))).collect();
        assert!(logged.iter().all(|l| !l), "repeats within the minute are not");
        assert!(log.failing());
        assert!(log.failed_at(&"down", t0 + REMIND_EVERY + Duration::from_secs(1)), "a reminder after a minute");
        assert!(!log.failed_at(&"down", t0 + REMIND_EVERY + Duration::from_secs(2)));
        assert!(log.succeeded_at(t0 + REMIND_EVERY * 2), "the end of the burst is logged once");
        assert!(!log.failing());
        assert!(!log.succeeded_at(t0 + REMIND_EVERY * 2));
        assert!(log.failed_at(&"down again", t0 + REMIND_EVERY * 3), "a new burst starts with a line");
    }
}
