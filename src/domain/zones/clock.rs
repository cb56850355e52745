//! Do two zones keep the same clock? `America/Toronto` and `America/New_York`
//! are different names for one clock; listing both in a contact's candidate
//! set would add nothing but noise, while `Atlantic/Canary` and `Europe/Madrid`
//! differ by an hour and must both stay.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::{TZ_VARIANTS, Tz};
use std::sync::{LazyLock, OnceLock};

/// The span compared: calling happens now and in the next years, so history
/// before it does not matter (tzdata itself merges zones alike since 1970).
/// `data/zones/generate_country_zones.py` groups zones over the same span.
const CLOCK_FROM: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
const CLOCK_UNTIL: i64 = 2_051_222_400; // 2035-01-01T00:00:00Z
/// Offsets never change twice within a day, so daily steps find every change
/// and bisection pins it to the second.
const STEP: i64 = 86_400;

/// A zone's UTC offset at `CLOCK_FROM` and every change after it, as
/// `(instant, new offset)` in seconds.
#[derive(Debug, PartialEq, Eq)]
struct Clock {
    first: i32,
    changes: Vec<(i64, i32)>,
}

/// One lazily computed clock per chrono-tz zone (a fieldless enum, so its
/// discriminant indexes the table).
static CLOCKS: LazyLock<Vec<OnceLock<Clock>>> = LazyLock::new(|| TZ_VARIANTS.iter().map(|_| OnceLock::new()).collect());

/// True when `a` and `b` show the same local time at every instant of the span.
pub fn same_clock(a: Tz, b: Tz) -> bool {
    a == b || with_clock(a, |ca| with_clock(b, |cb| ca == cb))
}

/// Keep the first zone of each clock, in order.
pub fn dedup_clocks(zones: impl IntoIterator<Item = Tz>) -> Vec<Tz> {
    let mut kept: Vec<Tz> = Vec::new();
    for z in zones {
        if !kept.iter().any(|k| same_clock(*k, z)) {
            kept.push(z);
        }
    }
    kept
}

fn with_clock<T>(tz: Tz, f: impl FnOnce(&Clock) -> T) -> T {
    match CLOCKS.get(tz as usize) {
        Some(cell) => f(cell.get_or_init(|| compute(tz))),
        None => f(&compute(tz)),
    }
}

fn offset(tz: Tz, t: i64) -> i32 {
    let utc = DateTime::from_timestamp(t, 0).expect("instant within chrono's range").naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

fn compute(tz: Tz) -> Clock {
    let first = offset(tz, CLOCK_FROM);
    let (mut current, mut changes) = (first, Vec::new());
    let mut t = CLOCK_FROM;
    while t < CLOCK_UNTIL {
        let next = (t + STEP).min(CLOCK_UNTIL);
        let o = offset(tz, next);
        if o != current {
            // Invariant: offset(lo) == current, offset(hi) != current.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(tz, mid) == current { lo = mid } else { hi = mid }
            }
            changes.push((hi, o));
            current = o;
        }
        t = next;
    }
    Clock { first, changes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Atlantic, Europe};

    #[test]
    fn links_and_twins_share_a_clock_and_neighbours_do_not() {
        assert!(same_clock(America::Toronto, America::New_York));
        assert!(same_clock(Europe::Vatican, Europe::Rome));
        assert!(same_clock(America::Whitehorse, America::Phoenix), "both MST all year");
        // Same offset half the year is not the same clock.
        assert!(!same_clock(America::Phoenix, America::Denver));
        assert!(!same_clock(Atlantic::Canary, Europe::Madrid));
        assert!(same_clock(Atlantic::Canary, Europe::London), "WET/WEST, switching at the same instants");
        assert!(!same_clock(Asia::Jakarta, Asia::Makassar));
    }

    #[test]
    fn dedup_keeps_the_first_name_of_each_clock() {
        let kept = dedup_clocks([Europe::London, Europe::Guernsey, Europe::Jersey, Europe::Isle_of_Man]);
        assert_eq!(kept, vec![Europe::London]);
        let kept = dedup_clocks([America::Toronto, America::Winnipeg, America::New_York, America::Chicago]);
        assert_eq!(kept, vec![America::Toronto, America::Winnipeg]);
    }

    #[test]
    fn clock_changes_are_found_to_the_second() {
        let c = compute(America::New_York);
        // 2025-03-09 07:00:00Z: EST -> EDT.
        assert_eq!(c.first, -5 * 3600);
        assert_eq!(c.changes[0], (1_741_503_600, -4 * 3600));
        assert_eq!(c.changes.len(), 20, "two changes a year for ten years");
        assert!(compute(Asia::Jakarta).changes.is_empty());
    }
}
