//! When a campaign will be done, estimated from how fast it finishes
//! attempts now.
//!
//! The open work is the attempts its open contacts may still take: at least
//! one each (the one in flight, or the next), at most up to `max_attempts`.
//! That work is spent at the recent rate (attempts finished in the last
//! minutes), but only while the calling window is open: the estimate walks
//! the window schedule from now (or the campaign's start), spending the rate
//! over each open stretch and jumping over closed ones, so a window closing
//! before the work is done moves the estimate past the next opening.
//!
//! Limits, by design: the rate is the last period's, whatever the mix of
//! outcomes ahead (retries wait their interval, which a plain rate does not
//! see); a period the window was partly closed in lowers it; the schedule is
//! the campaign's default zone's (contacts in other zones may open later).

use crate::domain::compliance::DialWindow;
use crate::domain::state::CampaignState;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How far back the finish rate is measured.
pub const RATE_PERIOD: TimeDelta = TimeDelta::minutes(15);

/// The open windows the walk looks at before answering "beyond horizon".
const MAX_WINDOWS: usize = 2000;

/// Attempts the open contacts may still take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OpenWork {
    /// One per open contact (pending, in flight or waiting for a retry).
    pub min: u64,
    /// Up to `max_attempts` per open contact (its attempt in flight counted).
    pub max: u64,
}

/// What the estimate is made of.
#[derive(Debug, Clone)]
pub struct EtaInput<'a> {
    pub state: CampaignState,
    pub starts_at: Option<DateTime<Utc>>,
    pub work: OpenWork,
    /// Attempts that finished within the last `period`.
    pub finished_recently: u64,
    pub period: TimeDelta,
    /// Calls the campaign may have in flight at once (its cap and its
    /// vendors' caps): 0 means it cannot progress.
    pub cap: u32,
    /// The campaign's window (in its default zone), cut at its end.
    pub window: &'a DialWindow,
    pub now: DateTime<Utc>,
}

/// Why there is no estimate, or why it is `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EtaReason {
    /// Nothing left to call: the estimate is now.
    Finished,
    /// Paused by an operator: nothing is dialed until resumed.
    Paused,
    /// A draft is never dialed.
    Draft,
    /// No attempt finished in the last period, so there is no rate to go by.
    NoRateYet,
    /// The campaign's cap, or its vendors' caps together, are 0.
    NoCapacity,
    /// The window does not open again before the campaign's end.
    WindowNeverOpens,
    /// The work outlasts every window the estimate looks at.
    BeyondHorizon,
}

/// The estimate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Eta {
    /// When the open contacts are done if each takes every attempt it may
    /// (the later, safer bound); null with a `reason` when it cannot be said.
    pub at: Option<DateTime<Utc>>,
    /// When they are done if each takes one more attempt.
    pub earliest: Option<DateTime<Utc>>,
    /// Why `at` is null, or why it is now.
    pub reason: Option<EtaReason>,
    pub open_work: OpenWork,
    /// Attempts finished per hour over the last period.
    pub attempts_per_hour: f64,
    /// The window is closed now and opens then (null: open now, or never).
    pub waits_for_window_until: Option<DateTime<Utc>>,
}

/// The estimated completion time.
pub fn estimate(input: &EtaInput) -> Eta {
    let period_secs = input.period.num_milliseconds() as f64 / 1000.0;
    let per_sec = if period_secs > 0.0 { input.finished_recently as f64 / period_secs } else { 0.0 };
    let from = input.starts_at.map_or(input.now, |s| s.max(input.now));
    let waits = input.window.next_dispatch(from).filter(|open| *open > input.now);
    let eta = |at: Option<DateTime<Utc>>, earliest: Option<DateTime<Utc>>, reason: Option<EtaReason>| Eta {
        at,
        earliest,
        reason,
        open_work: input.work,
        attempts_per_hour: per_sec * 3600.0,
        waits_for_window_until: waits,
    };
    let refuse = |reason| eta(None, None, Some(reason));
    if input.work.max == 0 || input.state.is_terminal() {
        return eta(Some(input.now), Some(input.now), Some(EtaReason::Finished));
    }
    match input.state {
        CampaignState::Paused => return refuse(EtaReason::Paused),
        CampaignState::Draft => return refuse(EtaReason::Draft),
        _ => {}
    }
    if input.cap == 0 {
        return refuse(EtaReason::NoCapacity);
    }
    if per_sec <= 0.0 {
        return refuse(EtaReason::NoRateYet);
    }
    let walk = |work: u64| spend(work as f64 / per_sec, input.window, from);
    match (walk(input.work.max), walk(input.work.min)) {
        (Ok(at), earliest) => eta(Some(at), earliest.ok(), None),
        (Err(reason), Ok(earliest)) => eta(None, Some(earliest), Some(reason)),
        (Err(reason), Err(_)) => refuse(reason),
    }
}

/// The instant at which `seconds` of open-window time after `from` are
/// spent: each open stretch (from an opening to the close, minus the
/// dispatch margin, or the end) is used in turn.
fn spend(seconds: f64, window: &DialWindow, from: DateTime<Utc>) -> Result<DateTime<Utc>, EtaReason> {
    let mut left = seconds;
    let mut t = from;
    for _ in 0..MAX_WINDOWS {
        let open = window.next_dispatch(t).ok_or(EtaReason::WindowNeverOpens)?;
        let close = window.close(open).map(|c| c - window.margin());
        let stop = match (close, window.ends_at()) {
            (Some(c), Some(e)) => Some(c.min(e)),
            (c, e) => c.or(e),
        };
        let Some(stop) = stop.filter(|s| *s > open) else {
            return after(open, left);
        };
        let stretch = (stop - open).num_milliseconds() as f64 / 1000.0;
        if left <= stretch {
            return after(open, left);
        }
        left -= stretch;
        t = stop;
    }
    Err(EtaReason::BeyondHorizon)
}

fn after(t: DateTime<Utc>, seconds: f64) -> Result<DateTime<Utc>, EtaReason> {
    TimeDelta::try_milliseconds((seconds * 1000.0).ceil() as i64)
        .and_then(|d| t.checked_add_signed(d))
        .ok_or(EtaReason::BeyondHorizon)
}

#[cfg(test)]
#[path = "campaign_eta_tests.rs"]
mod tests;
