//! Which attempt a vendor result belongs to when it carries none of our
//! references (no attempt reference, no call id we know, no task id we
//! recorded — Laaffic's documented push is such a result): only the vendor
//! and the callee's number are left, and time tells the attempts of one
//! number apart.

use chrono::{DateTime, Duration, Utc};

/// How far a vendor's clock (and the time zone setting its local times are
/// read in) may be off ours before a result is taken to predate an attempt.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Among one number's attempts at one vendor, `created_newest_first` (when
/// each was claimed), the index of the attempt a call at `call_time` belongs
/// to: the newest one claimed before the call (less [`CLOCK_SKEW`]). A late
/// result of an earlier attempt therefore lands on that earlier attempt
/// (already finished: ignored as late), never on the newer one in flight. A
/// result with no time cannot be fenced: it matches only when the number was
/// given to this vendor once.
pub fn attempt_for_call(created_newest_first: &[DateTime<Utc>], call_time: Option<DateTime<Utc>>) -> Option<usize> {
    match call_time {
        Some(t) => created_newest_first.iter().position(|created| *created - CLOCK_SKEW <= t),
        None if created_newest_first.len() == 1 => Some(0),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0).unwrap()
    }

    #[test]
    fn a_call_belongs_to_the_newest_attempt_claimed_before_it() {
        let attempts = [t(12, 0), t(10, 0), t(8, 0)];
        assert_eq!(attempt_for_call(&attempts, Some(t(12, 1))), Some(0));
        assert_eq!(attempt_for_call(&attempts, Some(t(11, 0))), Some(1), "a late result of the 10:00 attempt");
        assert_eq!(attempt_for_call(&attempts, Some(t(8, 30))), Some(2));
        assert_eq!(attempt_for_call(&attempts, Some(t(7, 0))), None, "before any attempt: not ours");
    }

    #[test]
    fn a_vendor_clock_a_little_behind_still_matches() {
        assert_eq!(attempt_for_call(&[t(12, 0)], Some(t(11, 56))), Some(0));
        assert_eq!(attempt_for_call(&[t(12, 0)], Some(t(11, 54))), None);
    }

    #[test]
    fn without_a_time_only_a_single_attempt_matches() {
        assert_eq!(attempt_for_call(&[t(12, 0)], None), Some(0));
        assert_eq!(attempt_for_call(&[t(12, 0), t(10, 0)], None), None);
        assert_eq!(attempt_for_call(&[], None), None);
    }
}
