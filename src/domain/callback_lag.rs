//! How late a vendor's result reached us: from the call's end, by the
//! vendor's clock, to when we received the callback, by ours. A vendor clock
//! ahead of ours makes the difference negative; that is not a lag, so it
//! counts as 0 and is flagged as clock skew (an operator wants to know
//! about a vendor whose clock runs ahead; it also bends its call times).

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallbackLag {
    /// Seconds from the call's end to our receipt, at least 0.
    pub seconds: f64,
    /// The call ended after we received its result by the two clocks: the
    /// vendor's clock is ahead of ours.
    pub clock_skew: bool,
}

/// The lag of a result whose call ended at `call_end` (None when the vendor
/// did not say: no lag to measure) and that we received at `received_at`.
pub fn callback_lag(call_end: Option<DateTime<Utc>>, received_at: DateTime<Utc>) -> Option<CallbackLag> {
    let lag = received_at - call_end?;
    // Microseconds: exact for any lag a callback can have, and a float for
    // the histogram.
    let seconds = lag.num_microseconds().map_or(f64::MAX, |us| us as f64 / 1e6);
    Some(if seconds < 0.0 {
        CallbackLag { seconds: 0.0, clock_skew: true }
    } else {
        CallbackLag { seconds, clock_skew: false }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_lag_runs_from_the_calls_end_to_our_receipt() {
        let end = at("2026-12-05T01:00:00Z");
        let lag = callback_lag(Some(end), end + TimeDelta::milliseconds(2500)).unwrap();
        assert_eq!(lag, CallbackLag { seconds: 2.5, clock_skew: false });
        assert_eq!(callback_lag(Some(end), end), Some(CallbackLag { seconds: 0.0, clock_skew: false }));
    }

    #[test]
    fn a_vendor_clock_ahead_of_ours_clamps_to_zero_and_is_flagged() {
        let end = at("2026-12-05T01:00:03Z");
        assert_eq!(
            callback_lag(Some(end), at("2026-12-05T01:00:00Z")),
            Some(CallbackLag { seconds: 0.0, clock_skew: true })
        );
    }

    #[test]
    fn no_call_end_no_lag() {
        assert_eq!(callback_lag(None, at("2026-12-05T01:00:00Z")), None);
    }
}
