//! When a stored callback that cannot be applied yet is looked at again.
//!
//! A vendor can call back before we have recorded its answer to the dispatch
//! (the task or call id the result is matched by), so such a callback waits,
//! pending, for up to `dispatch_timeout`. Looking at every waiting row on
//! every drain pass made a flood of callbacks for calls we never made cost
//! O(waiting rows) per pass; instead each row is looked at again after a
//! backoff that doubles with its age (1 s, 2 s, 4 s ... at most 30 s), and at
//! once when what it waits for is recorded (the store's wake keys).

use chrono::{DateTime, Duration, Utc};

/// The shortest wait: a vendor's answer to the dispatch usually follows its
/// early callback within a second.
pub const MIN_BACKOFF: Duration = Duration::seconds(1);
/// The longest wait between two looks at one row.
pub const MAX_BACKOFF: Duration = Duration::seconds(30);

/// What to do with a row whose events could not all be matched now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Keep it pending; look again at this time (or when woken).
    Until(DateTime<Utc>),
    /// It is `dispatch_timeout` old: give the unmatched events up (counted once).
    GiveUp,
}

/// For a row received at `received_at` whose events are not all matched at
/// `now`: wait again, never past its expiry (so it is given up on time), or
/// give up once it is `dispatch_timeout` old.
pub fn unmatched(received_at: DateTime<Utc>, now: DateTime<Utc>, dispatch_timeout: Duration) -> Wait {
    let expires = received_at + dispatch_timeout;
    if now >= expires {
        return Wait::GiveUp;
    }
    Wait::Until((now + backoff(received_at, now)).min(expires))
}

/// The pause before a row is tried again: its age, within
/// [`MIN_BACKOFF`]..[`MAX_BACKOFF`]. Looked at when received, then at ages
/// 1, 2, 4, 8, 16 s and every 30 s after: the number of looks grows with the
/// log of the age, not with how often the processor runs. Also used for a
/// row whose processing failed (a poison row must not be retried in a loop).
pub fn backoff(received_at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - received_at).clamp(MIN_BACKOFF, MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap() + Duration::seconds(s)
    }

    #[test]
    fn a_young_row_is_looked_at_again_after_a_backoff_that_doubles_with_its_age() {
        let timeout = Duration::seconds(600);
        let mut looks = vec![t(0)];
        let mut now = t(0);
        while let Wait::Until(next) = unmatched(t(0), now, timeout) {
            assert!(next > now, "a waiting row is never due again in the same pass");
            now = next;
            looks.push(now);
        }
        let ages: Vec<i64> = looks.iter().take(7).map(|l| (*l - t(0)).num_seconds()).collect();
        assert_eq!(ages, [0, 1, 2, 4, 8, 16, 32]);
        // Ten minutes of waiting cost 26 looks (0, 1, 2, 4, 8, 16 s, every
        // 30 s from 32 s, the expiry), not one per drain pass (600+).
        assert_eq!(looks.len(), 26, "{looks:?}");
        assert_eq!(*looks.last().unwrap(), t(600), "given up exactly at its expiry");
    }

    #[test]
    fn a_row_is_given_up_when_it_is_dispatch_timeout_old_and_never_waits_past_it() {
        let timeout = Duration::seconds(2);
        assert_eq!(unmatched(t(0), t(0), timeout), Wait::Until(t(1)));
        assert_eq!(unmatched(t(0), t(1), timeout), Wait::Until(t(2)), "capped at the expiry");
        assert_eq!(unmatched(t(0), t(2), timeout), Wait::GiveUp);
        assert_eq!(unmatched(t(0), t(99), timeout), Wait::GiveUp);
    }

    #[test]
    fn backoff_stays_between_one_and_thirty_seconds() {
        assert_eq!(backoff(t(0), t(0)), MIN_BACKOFF);
        assert_eq!(backoff(t(0), t(5)), Duration::seconds(5));
        assert_eq!(backoff(t(0), t(3600)), MAX_BACKOFF);
        // A vendor clock ahead of ours cannot make it negative.
        assert_eq!(backoff(t(10), t(0)), MIN_BACKOFF);
    }
}
