//! Calling windows in the callee's local time, DST-correct.
//!
//! Windows are stored as local seconds-of-day per weekday. Whether an instant
//! is open is decided only by [`CallingWindows::is_open`]; `next_open` and
//! `current_close` search the finite set of instants where that answer can
//! change (a window boundary on the local clock, or a UTC-offset transition)
//! and confirm each candidate with `is_open`, so the three always agree, even
//! around spring-forward gaps and fall-back overlaps.

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

const DAY: u32 = 86_400;
/// How far `next_open`/`current_close` look before giving up.
const SEARCH_DAYS: i64 = 400;
/// Sorted, merged `[start, end)` local seconds-of-day of one weekday.
type Intervals = Vec<(u32, u32)>;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calling-window spec or time-zone name that could not be read. `group`
/// is the 1-based index of the `;`-separated group, `token` the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// No group at all.
    #[error("empty calling-window spec: expected groups like `mon-fri 09:00-20:00`")]
    Empty,
    /// A group that starts with a time.
    #[error("group {group} `{text}`: no days before the times, expected e.g. `mon 09:00-20:00`")]
    MissingDays { group: usize, text: String },
    /// A group without any time.
    #[error("group {group} `{text}`: no times after the days, expected e.g. `mon 09:00-20:00`")]
    MissingRanges { group: usize, text: String },
    /// Not a day name (mon..sun), a day range or `daily`.
    #[error("group {group}: unknown day `{token}`, expected mon..sun, a range like mon-fri, daily")]
    BadDay { group: usize, token: String },
    /// Not `start-end`.
    #[error("group {group}: bad time range `{token}`, expected HH:MM-HH:MM like 09:00-20:00")]
    BadRange { group: usize, token: String },
    /// Not `HH:MM` within 00:00..=24:00, or 24:00 as a start.
    #[error("group {group}: bad time `{token}`, expected HH:MM in 00:00-23:59 (24:00 as an end)")]
    BadTime { group: usize, token: String },
    /// Start equals end.
    #[error("group {group}: time range `{token}` is empty, start and end must differ")]
    EmptyRange { group: usize, token: String },
    /// Not an IANA time-zone name.
    #[error("unknown time zone `{name}`: expected an IANA name like Asia/Jakarta")]
    UnknownTimeZone { name: String },
}

/// Parse an IANA zone name with an error naming it.
pub fn parse_tz(name: &str) -> Result<Tz, WindowError> {
    name.trim().parse().map_err(|_| WindowError::UnknownTimeZone { name: name.to_string() })
}

/// When calls may be placed, in the callee's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindows {
    /// Mon..Sun: sorted, merged, non-overlapping `[start, end)` local seconds-of-day.
    days: [Intervals; 7],
    /// Local dates on which nothing is open.
    blackouts: BTreeSet<NaiveDate>,
}

impl CallingWindows {
    /// Grammar: groups separated by `;`, each `<days> <ranges>`;
    /// days := `daily` | day-item (`,` day-item)*, day-item := day | day `-` day
    /// (ranges may wrap: `fri-mon`); ranges := HH:MM-HH:MM (`,` HH:MM-HH:MM)*.
    /// A range ending before its start crosses midnight into the NEXT weekday.
    /// Whitespace tolerant, case-insensitive.
    pub fn parse(spec: &str) -> Result<CallingWindows, WindowError> {
        let mut days: [Intervals; 7] = Default::default();
        let mut any = false;
        for (i, group) in spec.split(';').enumerate() {
            let (g, text) = (i + 1, group.trim());
            // Tolerate a trailing or doubled `;`.
            if text.is_empty() {
                continue;
            }
            any = true;
            let lower = text.to_ascii_lowercase();
            // Days are letters, times start with a digit: the first digit splits them.
            let Some(split) = lower.find(|c: char| c.is_ascii_digit()) else {
                return Err(WindowError::MissingRanges { group: g, text: text.to_string() });
            };
            let (day_part, range_part) = lower.split_at(split);
            if day_part.trim().is_empty() {
                return Err(WindowError::MissingDays { group: g, text: text.to_string() });
            }
            let selected = parse_days(day_part.trim(), g)?;
            for range in range_part.split(',') {
                let (start, end) = parse_range(range.trim(), g)?;
                for d in (0..7).filter(|d| selected[*d]) {
                    if end > start {
                        days[d].push((start, end));
                    } else {
                        days[d].push((start, DAY));
                        if end > 0 {
                            days[(d + 1) % 7].push((0, end));
                        }
                    }
                }
            }
        }
        if !any {
            return Err(WindowError::Empty);
        }
        for d in &mut days {
            *d = merge(std::mem::take(d));
        }
        Ok(CallingWindows::from_days(days))
    }

    /// Open around the clock, every day.
    pub fn always() -> CallingWindows {
        CallingWindows::from_days(std::array::from_fn(|_| vec![(0, DAY)]))
    }

    fn from_days(days: [Intervals; 7]) -> CallingWindows {
        CallingWindows { days, blackouts: BTreeSet::new() }
    }

    /// Add local dates on which nothing is open (holidays).
    pub fn with_blackout_dates(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.blackouts.extend(dates);
        self
    }

    /// The blackout dates, in order.
    pub fn blackout_dates(&self) -> &BTreeSet<NaiveDate> {
        &self.blackouts
    }

    /// The merged `[start, end)` local seconds-of-day open on `day`.
    pub fn intervals(&self, day: Weekday) -> &[(u32, u32)] {
        &self.days[day.num_days_from_monday() as usize]
    }

    /// Canonical spec string that [`CallingWindows::parse`] accepts back
    /// (blackout dates are not part of it). Midnight-crossing ranges come out
    /// split per day, e.g. `fri 22:00-24:00; sat 00:00-02:00`.
    pub fn spec(&self) -> String {
        // Days with identical intervals share one group, in weekday order.
        let mut groups: Vec<(&Intervals, Vec<usize>)> = Vec::new();
        for (d, ivs) in self.days.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == ivs) {
                Some((_, ds)) => ds.push(d),
                None => groups.push((ivs, vec![d])),
            }
        }
        let render = |(ivs, ds): &(&Intervals, Vec<usize>)| {
            let ranges: Vec<String> = ivs.iter().map(|&(s, e)| format!("{}-{}", hhmm(s), hhmm(e))).collect();
            format!("{} {}", days_text(ds), ranges.join(","))
        };
        groups.iter().map(render).collect::<Vec<_>>().join("; ")
    }

    /// Is `at` inside a window, judged on the wall clock of `tz` (weekday,
    /// time of day, blackout date of the local date)?
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.is_open_local(at.with_timezone(&tz).naive_local())
    }

    fn is_open_local(&self, local: NaiveDateTime) -> bool {
        if self.blackouts.contains(&local.date()) {
            return false;
        }
        let sec = local.num_seconds_from_midnight();
        let day = &self.days[local.weekday().num_days_from_monday() as usize];
        day.iter().any(|&(s, e)| s <= sec && sec < e)
    }

    /// Earliest instant t >= from with is_open(t); None if nothing opens within
    /// 400 days. A start inside a spring-forward gap opens at the end of the gap
    /// (if still open then); an ambiguous start opens at its earlier instant.
    pub fn next_open(&self, from: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.is_open(from, tz) {
            return Some(from);
        }
        self.first_flip(from, tz, true)
    }

    /// If open at `at`: the first instant after `at` at which it is closed,
    /// across adjacent intervals (23:00-24:00 then 00:00-01:00 is one window).
    /// None when not open or never closing within 400 days.
    pub fn current_close(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if !self.is_open(at, tz) || self.around_the_clock() {
            return None;
        }
        self.first_flip(at, tz, false)
    }

    /// Open every second of every day, no blackout: `is_open` is always
    /// true, so nothing ever closes. Answered here because the search would
    /// walk all 400 days of boundaries and offset changes to find nothing,
    /// and a claim asks once per due contact.
    fn around_the_clock(&self) -> bool {
        self.blackouts.is_empty() && self.days.iter().all(|day| day.as_slice() == [(0, DAY)])
    }

    /// The earliest instant after `from` (within the search horizon) where
    /// `is_open == want_open`. Callers ensure `is_open(from) != want_open`,
    /// so that instant is where the answer flips, which happens only where
    /// the local clock reaches a window start/end or the UTC offset changes.
    fn first_flip(&self, from: DateTime<Utc>, tz: Tz, want_open: bool) -> Option<DateTime<Utc>> {
        let limit = from.checked_add_signed(TimeDelta::days(SEARCH_DAYS)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut search = Search { windows: self, tz, from, limit, want_open, best: None };

        // Window boundaries on the local clock. Start a day early: around a
        // fall-back, yesterday's local times can still be ahead of `from`.
        let from_date = from.with_timezone(&tz).date_naive();
        let mut date = from_date.pred_opt().unwrap_or(from_date);
        loop {
            // Local midnight is never more than a day away from the same UTC
            // wall time, so once that bound passes the horizon we can stop.
            let midnight = date.and_time(NaiveTime::MIN);
            match midnight.and_utc().checked_sub_signed(TimeDelta::days(1)) {
                Some(floor) if floor <= search.horizon() => {}
                _ => break,
            }
            let day = &self.days[date.weekday().num_days_from_monday() as usize];
            for &(s, e) in day {
                let sec = if want_open { s } else { e };
                if let Some(local) = midnight.checked_add_signed(TimeDelta::seconds(i64::from(sec))) {
                    // Both instants of an ambiguous time; none for a gap (the
                    // offset transition below covers what opens after the gap).
                    let mapped = tz.from_local_datetime(&local);
                    for t in [mapped.earliest(), mapped.latest()].into_iter().flatten() {
                        search.offer(t.with_timezone(&Utc));
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }

        // UTC-offset transitions: the local clock jumps there. Checked in
        // 6-hour steps; tzdb never has two transitions that cancel out
        // within 6 hours.
        let step = TimeDelta::hours(6);
        let mut a = from.with_nanosecond(0).unwrap_or(from);
        while a <= search.horizon() {
            let Some(b) = a.checked_add_signed(step) else {
                break;
            };
            let end_offset = offset_secs(tz, b);
            while offset_secs(tz, a) != end_offset {
                a = first_change(tz, a, b);
                search.offer(a);
            }
            a = b;
        }
        search.best
    }
}

/// Running minimum of confirmed candidates for `first_flip`.
struct Search<'a> {
    windows: &'a CallingWindows,
    tz: Tz,
    from: DateTime<Utc>,
    limit: DateTime<Utc>,
    want_open: bool,
    best: Option<DateTime<Utc>>,
}

impl Search<'_> {
    /// Candidates beyond this cannot improve the answer.
    fn horizon(&self) -> DateTime<Utc> {
        self.best.unwrap_or(self.limit)
    }

    fn offer(&mut self, t: DateTime<Utc>) {
        if t > self.from && t <= self.horizon() && self.windows.is_open(t, self.tz) == self.want_open {
            self.best = Some(t);
        }
    }
}

fn offset_secs(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()
}

/// First whole second in (lo, hi] whose UTC offset differs from lo's; the
/// caller guarantees hi's offset differs.
fn first_change(tz: Tz, mut lo: DateTime<Utc>, mut hi: DateTime<Utc>) -> DateTime<Utc> {
    let base = offset_secs(tz, lo);
    while (hi - lo).num_seconds() > 1 {
        let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
        if offset_secs(tz, mid) == base {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Sort and merge overlapping or touching intervals.
fn merge(mut ivs: Intervals) -> Intervals {
    ivs.sort_unstable();
    let mut out: Intervals = Vec::with_capacity(ivs.len());
    for (s, e) in ivs {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn parse_days(text: &str, g: usize) -> Result<[bool; 7], WindowError> {
    let mut selected = [false; 7];
    let day = |t: &str| {
        let t = t.trim();
        DAY_NAMES.iter().position(|n| *n == t).ok_or_else(|| WindowError::BadDay { group: g, token: t.to_string() })
    };
    for item in text.split(',') {
        let item = item.trim();
        if item == "daily" {
            selected = [true; 7];
            continue;
        }
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(item)?, day(item)?),
        };
        // Walk forward from `first`, wrapping past Sunday ("fri-mon").
        for k in 0..=(last + 7 - first) % 7 {
            selected[(first + k) % 7] = true;
        }
    }
    Ok(selected)
}

fn parse_range(token: &str, g: usize) -> Result<(u32, u32), WindowError> {
    let bad_range = || WindowError::BadRange { group: g, token: token.to_string() };
    let (a, b) = token.split_once('-').ok_or_else(bad_range)?;
    if b.contains('-') {
        return Err(bad_range());
    }
    let (start, end) = (parse_time(a.trim(), g)?, parse_time(b.trim(), g)?);
    if start == DAY {
        return Err(WindowError::BadTime { group: g, token: a.trim().to_string() });
    }
    if start == end {
        return Err(WindowError::EmptyRange { group: g, token: token.to_string() });
    }
    Ok((start, end))
}

/// `HH:MM` (or `H:MM`) to seconds of day; `24:00` is DAY.
fn parse_time(token: &str, g: usize) -> Result<u32, WindowError> {
    let bad = || WindowError::BadTime { group: g, token: token.to_string() };
    let (h, m) = token.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h, &[1, 2]) || !digits(m, &[2]) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

fn hhmm(sec: u32) -> String {
    format!("{:02}:{:02}", sec / 3600, sec % 3600 / 60)
}

/// `daily`, or runs of consecutive weekdays like `mon-wed,fri`.
fn days_text(days: &[usize]) -> String {
    if days.len() == 7 {
        return "daily".to_string();
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &d in days {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == d => run.1 = d,
            _ => runs.push((d, d)),
        }
    }
    let text = |&(a, b): &(usize, usize)| match a == b {
        true => DAY_NAMES[a].to_string(),
        false => format!("{}-{}", DAY_NAMES[a], DAY_NAMES[b]),
    };
    runs.iter().map(text).collect::<Vec<_>>().join(",")
}

impl FromStr for CallingWindows {
    type Err = WindowError;
    fn from_str(s: &str) -> Result<Self, WindowError> {
        CallingWindows::parse(s)
    }
}

impl fmt::Display for CallingWindows {
    /// The canonical spec, see [`CallingWindows::spec`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec())
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
