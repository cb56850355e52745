//! When a contact may be dialed: the intersection of several calling windows,
//! each judged on the wall clock of one zone (the campaign's windows and each
//! legal profile's, in every candidate zone of the callee), minus a margin
//! before the intersection closes.
//!
//! Built on [`CallingWindows`]'s three primitives (`is_open`, `next_open`,
//! `current_close`), which are tested against an oracle across DST; this file
//! only combines them, so the combination is easy to check: an instant is
//! dispatchable iff every part is open at it and stays open for longer than
//! the margin.

use crate::domain::window::CallingWindows;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// How far ahead a search looks before answering "never" (as `CallingWindows`).
const SEARCH_DAYS: i64 = 400;

/// The intersection of `(windows, zone)` parts with a closing margin, cut at
/// the campaign's end: the one place that answers "when may this callee be
/// dialed next" (the claim's gate, the zone-group deferral, the retry after a
/// result, the dispatch deadline and the vendor's pre-dial check all ask it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialWindow {
    parts: Vec<(CallingWindows, Tz)>,
    margin: TimeDelta,
    /// No call starts at or after this instant (the campaign's `ends_at`).
    ends_at: Option<DateTime<Utc>>,
}

impl DialWindow {
    /// `parts` must not be empty (an empty intersection would mean "always").
    pub fn new(parts: Vec<(CallingWindows, Tz)>, margin: TimeDelta) -> DialWindow {
        debug_assert!(!parts.is_empty(), "a dial window needs at least one part");
        DialWindow { parts, margin: margin.max(TimeDelta::zero()), ends_at: None }
    }

    /// The same window, closed for good at `ends_at` (None: never).
    pub fn ending_at(self, ends_at: Option<DateTime<Utc>>) -> DialWindow {
        DialWindow { ends_at, ..self }
    }

    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }

    pub fn parts(&self) -> &[(CallingWindows, Tz)] {
        &self.parts
    }

    pub fn margin(&self) -> TimeDelta {
        self.margin
    }

    /// Inside every part's window at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.parts.iter().all(|(w, tz)| w.is_open(at, *tz))
    }

    /// If open at `at`: the first instant after it at which some part closes.
    /// None when not open, or when no part closes within the search horizon.
    pub fn close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.is_open(at) {
            return None;
        }
        self.parts.iter().filter_map(|(w, tz)| w.current_close(at, *tz)).min()
    }

    /// A call may start at `at`: every part is open and stays open for more
    /// than the margin (dispatch stops `margin` before the window ends, so a
    /// call is not started seconds before a legal cut-off).
    /// Never at or after the end.
    pub fn can_dispatch(&self, at: DateTime<Utc>) -> bool {
        self.before_end(at) && self.is_open(at) && self.close(at).is_none_or(|close| close - at > self.margin)
    }

    /// Earliest instant `t >= from` with `can_dispatch(t)`; None if there is
    /// none before the end or within 400 days (e.g. the candidate zones'
    /// windows never overlap).
    pub fn next_dispatch(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_dispatch_ignoring_end(from).filter(|t| self.before_end(*t))
    }

    /// The latest instant a call dispatched at `now` may still be started by
    /// the vendor: the window's close or the end, whichever is first.
    pub fn dispatch_deadline(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (self.close(now), self.ends_at) {
            (Some(close), Some(end)) => Some(close.min(end)),
            (close, end) => close.or(end),
        }
    }

    fn before_end(&self, t: DateTime<Utc>) -> bool {
        self.ends_at.is_none_or(|end| t < end)
    }

    fn next_dispatch_ignoring_end(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = from.checked_add_signed(TimeDelta::days(SEARCH_DAYS))?;
        let mut t = from;
        while t <= limit {
            t = self.next_open(t, limit)?;
            match self.close(t) {
                Some(close) if close - t <= self.margin => t = close,
                _ => return Some(t),
            }
        }
        None
    }

    /// Earliest `t >= from` open in every part: jump to the next opening of a
    /// closed part until all agree. Every jump moves forward, and each part's
    /// opening is exact, so the first instant where all agree is the answer.
    fn next_open(&self, from: DateTime<Utc>, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = from;
        while t <= limit {
            match self.parts.iter().find(|(w, tz)| !w.is_open(t, *tz)) {
                None => return Some(t),
                Some((w, tz)) => t = w.next_open(t, *tz)?,
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "dial_window_tests.rs"]
mod tests;
