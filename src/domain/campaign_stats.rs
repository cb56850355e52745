//! A campaign's statistics from grouped counts: contacts by state, attempts by
//! state, disposition, intent and vendor, calls in flight against the caps,
//! and the three rates collections teams steer by. The store counts with
//! `GROUP BY`; everything decided about those counts (what is connected, what
//! is a right-party contact) is decided here.
//!
//! The rates, each over attempts (not contacts):
//! - **contact rate** = connected / completed: of the attempts that got a
//!   result, those where a person or a voicemail box picked up
//!   ([`Disposition::is_connected`]);
//! - **right-party rate** = right-party / connected: of the connected
//!   attempts, those in which the bot recognized an intent from the debtor
//!   themself: any intent but `wrong_person` and `unknown` (and not none);
//! - **promise-to-pay rate** = promise-to-pay / connected: connected
//!   attempts whose intent is `promise_to_pay`.
//!
//! Each rate keeps its numerator and denominator; its value is null while
//! the denominator is 0.

use crate::domain::compliance::DialWindow;
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::state::{AttemptState, ContactState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Attempts of one campaign sharing a state, disposition, intent and vendor,
/// as stored (text: a value no variant names is counted under its own text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptGroup {
    pub state: String,
    pub disposition: Option<String>,
    pub intent: Option<String>,
    pub vendor_id: String,
    pub count: u64,
}

/// Counts of every contact state, zeros included, and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ContactCounts {
    /// Every contact state (`pending`, `in_flight`, `waiting_retry`, `done`,
    /// `exhausted`, `stopped`, `suppressed`), zeros included.
    pub by_state: BTreeMap<String, u64>,
    pub total: u64,
}

/// Contacts by state: every [`ContactState`] present, zeros included.
pub fn contact_counts(by_state: &[(String, u64)]) -> ContactCounts {
    let mut counts: BTreeMap<String, u64> = ContactState::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
    for (state, n) in by_state {
        *counts.entry(state.clone()).or_default() += n;
    }
    ContactCounts { total: counts.values().sum(), by_state: counts }
}

/// Attempts counted four ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttemptCounts {
    pub total: u64,
    /// Dispatching or dispatched now.
    pub in_flight: u64,
    /// Every attempt state, zeros included.
    pub by_state: BTreeMap<String, u64>,
    /// Every disposition, zeros included; attempts without a result (in
    /// flight, failed before dialing) are not counted here.
    pub by_disposition: BTreeMap<String, u64>,
    /// Every intent, zeros included; attempts without an intent are not
    /// counted here.
    pub by_intent: BTreeMap<String, u64>,
    /// Vendors that took attempts of this campaign.
    pub by_vendor: BTreeMap<String, u64>,
}

pub fn attempt_counts(groups: &[AttemptGroup]) -> AttemptCounts {
    let zeros = |names: &[&str]| -> BTreeMap<String, u64> { names.iter().map(|n| (n.to_string(), 0)).collect() };
    let mut c = AttemptCounts {
        total: 0,
        in_flight: 0,
        by_state: zeros(&AttemptState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        by_disposition: zeros(&Disposition::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>()),
        by_intent: zeros(&Intent::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>()),
        by_vendor: BTreeMap::new(),
    };
    for g in groups {
        c.total += g.count;
        if is_in_flight(&g.state) {
            c.in_flight += g.count;
        }
        *c.by_state.entry(g.state.clone()).or_default() += g.count;
        if let Some(d) = &g.disposition {
            *c.by_disposition.entry(d.clone()).or_default() += g.count;
        }
        if let Some(i) = &g.intent {
            *c.by_intent.entry(i.clone()).or_default() += g.count;
        }
        *c.by_vendor.entry(g.vendor_id.clone()).or_default() += g.count;
    }
    c
}

fn is_in_flight(state: &str) -> bool {
    state.parse::<AttemptState>().is_ok_and(AttemptState::is_in_flight)
}

/// A share with its parts; `value` is null while `denominator` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
    /// `numerator / denominator`, between 0 and 1.
    pub value: Option<f64>,
}

impl Rate {
    pub fn of(numerator: u64, denominator: u64) -> Rate {
        Rate { numerator, denominator, value: (denominator > 0).then(|| numerator as f64 / denominator as f64) }
    }
}

/// The three rates (definitions in the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rates {
    /// Connected (answered or voicemail) over completed attempts.
    pub contact: Rate,
    /// Connected attempts with a recognized intent other than
    /// `wrong_person` or `unknown` (a conversation with the debtor), over
    /// connected attempts.
    pub right_party: Rate,
    /// Connected attempts with intent `promise_to_pay`, over connected attempts.
    pub promise_to_pay: Rate,
}

/// A conversation with the debtor: an intent was recognized, and it is not
/// that the callee is someone else.
pub fn is_right_party(intent: Intent) -> bool {
    !matches!(intent, Intent::WrongPerson | Intent::Unknown)
}

pub fn rates(groups: &[AttemptGroup]) -> Rates {
    let (mut completed, mut connected, mut right_party, mut ptp) = (0, 0, 0, 0);
    for g in groups.iter().filter(|g| g.state == AttemptState::Completed.as_str()) {
        completed += g.count;
        let is_connected =
            g.disposition.as_deref().and_then(|d| d.parse::<Disposition>().ok()).is_some_and(Disposition::is_connected);
        if !is_connected {
            continue;
        }
        connected += g.count;
        let intent = g.intent.as_deref().and_then(|i| i.parse::<Intent>().ok());
        if intent.is_some_and(is_right_party) {
            right_party += g.count;
        }
        if intent == Some(Intent::PromiseToPay) {
            ptp += g.count;
        }
    }
    Rates {
        contact: Rate::of(connected, completed),
        right_party: Rate::of(right_party, connected),
        promise_to_pay: Rate::of(ptp, connected),
    }
}

/// Calls of this campaign in flight now against the caps that bound them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InFlight {
    /// This campaign's attempts in flight.
    pub total: u64,
    /// The campaign's `max_concurrency`.
    pub campaign_cap: u32,
    /// The campaign's vendors (its routes and any vendor holding one of its
    /// attempts), ordered by id.
    pub vendors: Vec<VendorInFlight>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VendorInFlight {
    pub id: String,
    /// This campaign's attempts in flight at this vendor.
    pub in_flight: u64,
    /// Attempts in flight at this vendor for every campaign: the cap is
    /// shared between them.
    pub in_flight_all_campaigns: u64,
    /// The vendor's `max_concurrency`; null when it is no longer configured.
    pub max_concurrency: Option<u32>,
}

/// What the caps are made of: the campaign's cap, the vendors it routes to,
/// every configured vendor's cap and in-flight count over all campaigns.
pub struct Caps<'a> {
    pub campaign_cap: u32,
    pub routes: &'a [(String, u32)],
    pub vendor_caps: &'a BTreeMap<String, u32>,
    pub vendor_in_flight: &'a BTreeMap<String, u64>,
}

pub fn in_flight(groups: &[AttemptGroup], caps: &Caps) -> InFlight {
    let mut mine: BTreeMap<String, u64> = caps.routes.iter().map(|(id, _)| (id.clone(), 0)).collect();
    for g in groups {
        let n = mine.entry(g.vendor_id.clone()).or_default();
        if is_in_flight(&g.state) {
            *n += g.count;
        }
    }
    InFlight {
        total: mine.values().sum(),
        campaign_cap: caps.campaign_cap,
        vendors: mine
            .into_iter()
            .map(|(id, in_flight)| VendorInFlight {
                in_flight,
                in_flight_all_campaigns: caps.vendor_in_flight.get(&id).copied().unwrap_or(0),
                max_concurrency: caps.vendor_caps.get(&id).copied(),
                id,
            })
            .collect(),
    }
}

/// The most calls this campaign can have in flight at once: its own cap,
/// or less when its configured vendors' caps add up to less.
pub fn effective_cap(caps: &Caps) -> u32 {
    let vendors: u32 =
        caps.routes.iter().filter_map(|(id, _)| caps.vendor_caps.get(id)).fold(0u32, |a, c| a.saturating_add(*c));
    caps.campaign_cap.min(vendors)
}

/// The campaign's calling window now, in its default zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WindowNow {
    /// The campaign's zone, the one the window is judged in here.
    pub timezone: String,
    /// Calls may start now (inside the window and not within the dispatch
    /// margin before it closes, before the campaign's end).
    pub open: bool,
    /// When open: when dispatching stops (the close, or the end if sooner).
    pub closes_at: Option<DateTime<Utc>>,
    /// The next instant calls may start after now (after the current open
    /// stretch when open); null when the window never opens again before the
    /// campaign's end.
    pub next_opening: Option<DateTime<Utc>>,
}

/// Whether `window` (the campaign's, in `timezone`) lets calls start at
/// `now`, and when it next does.
pub fn window_now(window: &DialWindow, timezone: &str, now: DateTime<Utc>) -> WindowNow {
    let open = window.can_dispatch(now);
    let closes_at = if open { window.dispatch_deadline(now).map(|c| close_for_dispatch(window, c)) } else { None };
    let next_opening = match (open, closes_at) {
        (false, _) => window.next_dispatch(now),
        (true, Some(close)) => window.next_dispatch(close),
        (true, None) => None,
    };
    WindowNow { timezone: timezone.to_string(), open, closes_at, next_opening }
}

/// Dispatch stops a margin before the window closes, but exactly at the end.
fn close_for_dispatch(window: &DialWindow, deadline: DateTime<Utc>) -> DateTime<Utc> {
    if window.ends_at() == Some(deadline) { deadline } else { deadline - window.margin() }
}

#[cfg(test)]
#[path = "campaign_stats_tests.rs"]
mod tests;
