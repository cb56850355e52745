//! Randomized properties: `is_open` agrees with an independent oracle, and
//! `next_open`/`current_close` agree with `is_open` minute by minute, across
//! DST transitions in several zones.

use super::super::{CallingWindows, first_change, offset_secs};
use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [Tz; 6] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Asia::Jakarta,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::America::Los_Angeles,
    chrono_tz::UTC,
];
const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Minute-by-minute checks stop after this many minutes.
const SCAN_MINUTES: i64 = 3 * 24 * 60;

/// One generated group: a day set and ranges in minutes (end may be < start).
#[derive(Debug, Clone)]
struct Group {
    days: Vec<usize>,
    ranges: Vec<(u32, u32)>,
}

fn minute() -> impl Strategy<Value = u32> {
    // Bias towards midnight and the small hours where DST transitions happen.
    prop_oneof![
        2 => 0u32..=1440,
        1 => 60u32..=200,
        1 => prop::sample::select(vec![0u32, 60, 90, 120, 150, 180, 1380, 1440]),
    ]
}

fn group() -> impl Strategy<Value = Group> {
    let range = (minute(), minute()).prop_filter("non-empty range", |(s, e)| s != e && *s != 1440);
    (1u8..128, prop::collection::vec(range, 1..=3))
        .prop_map(|(mask, ranges)| Group { days: (0..7).filter(|d| mask & (1 << d) != 0).collect(), ranges })
}

fn spec_text(groups: &[Group]) -> String {
    let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let group = |g: &Group| {
        let days: Vec<&str> = g.days.iter().map(|d| NAMES[*d]).collect();
        let ranges: Vec<String> = g.ranges.iter().map(|(s, e)| format!("{}-{}", hhmm(*s), hhmm(*e))).collect();
        format!("{} {}", days.join(","), ranges.join(","))
    };
    groups.iter().map(group).collect::<Vec<_>>().join("; ")
}

/// Independent reading of the generated groups: local time by applying the
/// zone's UTC offset, then weekday/time-of-day against the raw ranges.
fn oracle(groups: &[Group], blackouts: &[NaiveDate], at: DateTime<Utc>, tz: Tz) -> bool {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc();
    let local = at.naive_utc() + TimeDelta::seconds(i64::from(offset));
    if blackouts.contains(&local.date()) {
        return false;
    }
    let day = local.weekday().num_days_from_monday() as usize;
    let prev = (day + 6) % 7;
    let sec = local.num_seconds_from_midnight();
    groups.iter().any(|g| {
        g.ranges.iter().any(|&(s, e)| {
            let (s, e) = (s * 60, e * 60);
            if e > s {
                g.days.contains(&day) && s <= sec && sec < e
            } else {
                (g.days.contains(&day) && sec >= s) || (g.days.contains(&prev) && sec < e)
            }
        })
    })
}

/// UTC-offset changes of `tz` in `year`, found by daily scan and bisection
/// (these zones change at most twice a year, never twice in a day).
fn transitions(tz: Tz, year: i32) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut a = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
    while a.year() == year {
        let b = a + TimeDelta::days(1);
        if offset_secs(tz, a) != offset_secs(tz, b) {
            out.push(first_change(tz, a, b));
        }
        a = b;
    }
    out
}

/// An instant in 2025-2028: uniform, or within a day (every other time:
/// within 3 hours) of a DST transition.
fn instant(tz: Tz, near_transition: bool, year: i32, pick: usize, secs: i64, nanos: u32) -> DateTime<Utc> {
    let ts = transitions(tz, year);
    let base = if near_transition && !ts.is_empty() {
        let spread = if pick.is_multiple_of(2) { 86_400 } else { 3 * 3600 };
        ts[(pick / 2) % ts.len()] + TimeDelta::seconds(secs % (2 * spread) - spread)
    } else {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(secs)
    };
    base + TimeDelta::nanoseconds(i64::from(nanos))
}

#[derive(Debug, Clone)]
struct Case {
    groups: Vec<Group>,
    tz: Tz,
    at: DateTime<Utc>,
    blackouts: Vec<NaiveDate>,
}

impl Case {
    fn windows(&self) -> CallingWindows {
        let spec = spec_text(&self.groups);
        match CallingWindows::parse(&spec) {
            Ok(w) => w.with_blackout_dates(self.blackouts.iter().copied()),
            Err(e) => panic!("generated spec `{spec}` did not parse: {e}"),
        }
    }
}

/// `blackout_chance` in percent; blackout dates land near the instant.
fn cases(blackout_chance: u32) -> impl Strategy<Value = Case> {
    let four_years = 4 * 365 * 86_400i64;
    (
        prop::collection::vec(group(), 1..=2),
        0..ZONES.len(),
        (any::<bool>(), 2025i32..=2028, 0usize..8, 0..four_years, 0u32..1_000_000_000),
        (0u32..100, prop::collection::vec(-1i64..4, 1..=3)),
    )
        .prop_map(move |(groups, z, (near, year, pick, secs, nanos), (roll, days))| {
            let tz = ZONES[z];
            let at = instant(tz, near, year, pick, secs, nanos);
            let today = at.with_timezone(&tz).date_naive();
            let blackouts = if roll < blackout_chance {
                days.iter().map(|d| today + TimeDelta::days(*d)).collect()
            } else {
                Vec::new()
            };
            Case { groups, tz, at, blackouts }
        })
}

fn has_transition(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let start = offset_secs(tz, from);
    let mut t = from;
    while t < to {
        t += TimeDelta::hours(1);
        if offset_secs(tz, t) != start {
            return true;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn next_open_is_the_first_open_instant(case in cases(30)) {
        let (w, tz, from) = (case.windows(), case.tz, case.at);
        let Some(r) = w.next_open(from, tz) else {
            prop_assert!(!case.blackouts.is_empty(), "no blackouts, yet nothing opens within 400 days");
            return Ok(());
        };
        prop_assert!(r >= from);
        prop_assert!(w.is_open(r, tz), "next_open {r} is not open");
        if r > from + TimeDelta::seconds(1) {
            prop_assert!(!w.is_open(r - TimeDelta::seconds(1), tz), "already open a second before {r}");
        }
        for k in 0..=SCAN_MINUTES {
            let t = from + TimeDelta::minutes(k);
            if t >= r { break; }
            prop_assert!(!w.is_open(t, tz), "open at {t}, before next_open {r}");
        }
        if case.blackouts.is_empty() {
            // A week always brings every weekday back, unless a DST gap
            // swallowed the only window, which costs one more week.
            let bound = if has_transition(tz, from, from + TimeDelta::days(8)) { 15 } else { 8 };
            prop_assert!(r <= from + TimeDelta::days(bound), "{r} is more than {bound} days after {from}");
        }
    }

    #[test]
    fn current_close_is_the_first_closed_instant(case in cases(30)) {
        let (w, tz, at) = (case.windows(), case.tz, case.at);
        let close = w.current_close(at, tz);
        if !w.is_open(at, tz) {
            prop_assert_eq!(close, None);
            return Ok(());
        }
        let end = match close {
            Some(c) => {
                prop_assert!(c > at);
                prop_assert!(!w.is_open(c, tz), "current_close {c} is still open");
                if c > at + TimeDelta::seconds(1) {
                    prop_assert!(w.is_open(c - TimeDelta::seconds(1), tz), "closed a second before {c}");
                }
                c
            }
            None => DateTime::<Utc>::MAX_UTC,
        };
        for k in 1..=SCAN_MINUTES {
            let t = at + TimeDelta::minutes(k);
            if t >= end { break; }
            prop_assert!(w.is_open(t, tz), "closed at {t}, before current_close {close:?}");
        }
    }

    #[test]
    fn is_open_agrees_with_the_oracle(case in cases(50)) {
        let (w, tz) = (case.windows(), case.tz);
        for k in 0..48 {
            let t = case.at + TimeDelta::minutes(37 * k);
            prop_assert_eq!(w.is_open(t, tz), oracle(&case.groups, &case.blackouts, t, tz), "at {}", t);
        }
    }

    #[test]
    fn generated_specs_round_trip(groups in prop::collection::vec(group(), 1..=3)) {
        let w = CallingWindows::parse(&spec_text(&groups)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(CallingWindows::parse(&w.spec()), Ok(w));
    }
}
