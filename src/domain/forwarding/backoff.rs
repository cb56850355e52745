//! When a failed delivery is tried again: exponential backoff with full
//! jitter, capped, and given up (dead-lettered) once the event is older
//! than `max_age`. The caller passes `now` and a random value, so the
//! decision is reproducible in tests.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay before the second delivery; doubled after each failure.
    pub base: Duration,
    /// The longest delay between two deliveries.
    pub cap: Duration,
    /// An event still undelivered this long after it was written (or
    /// replayed) is dead-lettered instead of tried again.
    pub max_age: Duration,
}

/// What to do after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    /// Too old: stop trying; an operator may replay it.
    Dead,
}

/// After the `failures`-th failed delivery (1 for the first) of an event
/// whose age counts from `since`: the next delivery is due at `now` plus a
/// delay drawn uniformly from [d/2, d] where d = min(cap, base·2^(failures-1))
/// (`random` in [0, 1) picks it) — half of it fixed so retries never bunch
/// at `now`, half random so many receivers' events do not retry in step.
/// Dead when the next delivery would come after `since + max_age`.
pub fn after_failure(
    policy: &RetryPolicy,
    failures: u32,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    random: f64,
) -> AfterFailure {
    let deadline = since + TimeDelta::from_std(policy.max_age).unwrap_or(TimeDelta::MAX);
    let exp = failures.saturating_sub(1).min(32);
    let full = policy.base.saturating_mul(1u32 << exp.min(31)).min(policy.cap);
    let random = random.clamp(0.0, 1.0);
    let delay = full.div_f64(2.0) + full.div_f64(2.0).mul_f64(random);
    let at = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
    if now >= deadline || at > deadline { AfterFailure::Dead } else { AfterFailure::RetryAt(at) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { base: Duration::from_secs(2), cap: Duration::from_secs(60), max_age: Duration::from_secs(3600) }
    }

    fn t0() -> DateTime<Utc> {
        "2026-12-05T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_delay_doubles_per_failure_up_to_the_cap() {
        let at = |n, r| match after_failure(&policy(), n, t0(), t0(), r) {
            AfterFailure::RetryAt(t) => (t - t0()).num_milliseconds(),
            AfterFailure::Dead => panic!("dead"),
        };
        assert_eq!((at(1, 0.0), at(1, 0.999_999)), (1000, 1999));
        assert_eq!((at(2, 0.0), at(3, 0.0), at(4, 0.0)), (2000, 4000, 8000));
        assert_eq!(at(6, 0.0), 30_000, "64 s capped at 60, half of it fixed");
        assert_eq!(at(40, 0.0), 30_000, "no overflow on many failures");
    }

    #[test]
    fn an_event_older_than_max_age_is_dead() {
        let p = policy();
        let late = t0() + TimeDelta::seconds(3599);
        assert_eq!(after_failure(&p, 1, t0(), late, 0.5), AfterFailure::Dead, "the retry would fall past max_age");
        assert_eq!(after_failure(&p, 1, t0(), t0() + TimeDelta::hours(2), 0.0), AfterFailure::Dead);
        // A replay restarts the clock: the same event is retried again.
        let replayed = t0() + TimeDelta::hours(2);
        assert!(matches!(after_failure(&p, 9, replayed, replayed, 0.0), AfterFailure::RetryAt(_)));
    }

    proptest! {
        #[test]
        fn the_next_try_is_after_now_within_the_cap_and_before_the_deadline(
            failures in 1u32..100, random in 0.0f64..1.0, age_s in 0i64..4000,
        ) {
            let p = policy();
            let now = t0() + TimeDelta::seconds(age_s);
            match after_failure(&p, failures, t0(), now, random) {
                AfterFailure::RetryAt(at) => {
                    prop_assert!(at > now);
                    prop_assert!(at - now <= TimeDelta::seconds(60));
                    prop_assert!(at <= t0() + TimeDelta::seconds(3600));
                }
                AfterFailure::Dead => prop_assert!(now + TimeDelta::seconds(1) > t0() + TimeDelta::seconds(3600) - TimeDelta::seconds(60)),
            }
        }
    }
}
