//! Contact policy: may this contact be dialed now, and if not, when?
//!
//! Everything here is pure; the claim reads the facts (suppression, calls in
//! flight elsewhere, recent dials) from the database and passes them in with
//! `now`. The pieces:
//! - [`DialWindow`]: the campaign's windows and every attached legal
//!   profile's, in every candidate zone of the callee, intersected, with a
//!   margin before the intersection closes;
//! - [`caps`]: frequency caps across campaigns and vendors;
//! - [`gate`]: the one decision the claim (and the audit) uses.

pub mod caps;
pub mod dial_window;
pub mod facts;
pub mod profiles;

pub use caps::{CapHistory, CapScope, DialRecord, FrequencyRule, check_caps};
pub use dial_window::DialWindow;
pub use profiles::{PROFILES, Profile};

use crate::domain::holidays::HolidayCalendar;
use crate::domain::window::CallingWindows;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// Deployment-wide settings (config `[compliance]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceSettings {
    /// Dispatch stops this long before a window ends.
    pub dispatch_margin: TimeDelta,
    /// A number in flight in another campaign is retried after this.
    pub busy_backoff: TimeDelta,
    /// Caps every campaign obeys, on top of its own and its profiles'.
    pub caps: Vec<FrequencyRule>,
    pub holidays: Arc<HolidayCalendar>,
    /// Which results each campaign forwards (`[forwarding]`): deployment-wide
    /// like the caps, and read into each [`Campaign`](crate::domain::campaign::Campaign)
    /// where every other per-campaign setting is.
    pub forwarding: Arc<crate::domain::forwarding::ForwardRoutes>,
}

impl Default for ComplianceSettings {
    fn default() -> Self {
        ComplianceSettings {
            dispatch_margin: TimeDelta::minutes(1),
            busy_backoff: TimeDelta::minutes(10),
            caps: Vec::new(),
            holidays: Arc::new(HolidayCalendar::builtin()),
            forwarding: Arc::default(),
        }
    }
}

/// A campaign's whole contact policy, built once per campaign load.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPolicy {
    /// The campaign's windows (its blackout dates included) first, then each
    /// profile's (its country's holidays as blackout dates).
    windows: Vec<CallingWindows>,
    /// Campaign caps, profile caps and deployment caps together.
    pub rules: Vec<FrequencyRule>,
    pub margin: TimeDelta,
    pub busy_backoff: TimeDelta,
    /// Names of the attached profiles, for reasons and the API.
    pub profiles: Vec<&'static str>,
}

impl ContactPolicy {
    pub fn new(
        campaign_windows: CallingWindows,
        profiles: &[&'static Profile],
        campaign_caps: &[FrequencyRule],
        settings: &ComplianceSettings,
    ) -> ContactPolicy {
        let mut windows = vec![campaign_windows];
        let mut rules = campaign_caps.to_vec();
        for p in profiles {
            // The table is static and a unit test parses every entry.
            let w = CallingWindows::parse(p.windows).expect("profile windows are valid");
            let holidays = p.holiday_country.map(|c| settings.holidays.dates(c).collect::<Vec<_>>());
            windows.push(w.with_blackout_dates(holidays.unwrap_or_default()));
            rules.extend(caps::parse_rules(p.caps).expect("profile caps are valid"));
        }
        rules.extend(settings.caps.iter().cloned());
        rules.dedup();
        ContactPolicy {
            windows,
            rules,
            margin: settings.dispatch_margin,
            busy_backoff: settings.busy_backoff,
            profiles: profiles.iter().map(|p| p.name).collect(),
        }
    }

    /// The window of a callee whose candidate zones are `zones` (at least one).
    pub fn dial_window(&self, zones: &[Tz]) -> DialWindow {
        let parts = zones.iter().flat_map(|tz| self.windows.iter().map(|w| (w.clone(), *tz))).collect();
        DialWindow::new(parts, self.margin)
    }

    /// How far back dials matter to the caps (zero without caps).
    pub fn lookback(&self) -> TimeDelta {
        self.rules.iter().map(FrequencyRule::lookback).max().unwrap_or_else(TimeDelta::zero)
    }
}

/// What the database says about a contact at `now`.
#[derive(Debug, Clone, Default)]
pub struct ContactFacts {
    /// The active suppression entry's reason, if the number is suppressed.
    pub suppressed: Option<String>,
    /// The campaign in which the number has a call in flight right now.
    pub busy_in: Option<String>,
    /// Dials (and reservations) of its phone and case.
    pub history: CapHistory,
    /// Dials the next attempt may make (1 + the vendor's own redials).
    pub new_dials: u32,
}

/// Why a contact waits; also the decision kind recorded in the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Outside the calling window (or inside the closing margin).
    Window,
    /// A frequency cap.
    Cap,
    /// The number has a call in flight in another campaign.
    Busy,
}

impl Wait {
    pub fn kind(self) -> &'static str {
        match self {
            Wait::Window => "deferred",
            Wait::Cap => "capped",
            Wait::Busy => "busy",
        }
    }
}

/// The answer for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Dispatch,
    Suppressed {
        reason: String,
    },
    /// Due again at `until`: the earliest instant every rule allows it.
    Defer {
        until: DateTime<Utc>,
        wait: Wait,
        reason: String,
    },
    /// No instant before the campaign ends allows a dial.
    Exhaust {
        reason: String,
    },
}

/// Decide for one contact. `window` ends where the campaign does.
pub fn gate(policy: &ContactPolicy, window: &DialWindow, facts: &ContactFacts, now: DateTime<Utc>) -> Gate {
    if let Some(reason) = &facts.suppressed {
        return Gate::Suppressed { reason: format!("number is on the suppression list: {reason}") };
    }
    let (earliest, wait, why) = if let Some(campaign) = &facts.busy_in {
        (now + policy.busy_backoff, Wait::Busy, format!("number has a call in flight in campaign {campaign}"))
    } else {
        match check_caps(&policy.rules, &facts.history, facts.new_dials, now) {
            Ok(()) => (now, Wait::Window, String::new()),
            Err(block) => match block.until {
                Some(until) => (until, Wait::Cap, block.reason),
                None => return Gate::Exhaust { reason: block.reason },
            },
        }
    };
    let next = window.next_dispatch(earliest);
    match next {
        Some(t) if t == now => Gate::Dispatch,
        Some(t) => {
            let reason = match wait {
                Wait::Window => format!("outside the calling window in {}; opens {t}", zone_names(window)),
                _ if t > earliest => format!("{why}; allowed from {earliest}, next window {t}"),
                _ => format!("{why}; allowed from {t}"),
            };
            Gate::Defer { until: t, wait, reason }
        }
        None if wait == Wait::Window => Gate::Exhaust {
            reason: format!("no calling window left before the campaign ends in {}", zone_names(window)),
        },
        None => Gate::Exhaust { reason: format!("{why}; no calling window left after {earliest}") },
    }
}

/// `America/Chicago+America/New_York`: the zones a window is judged in.
pub fn zone_names(window: &DialWindow) -> String {
    let mut names: Vec<&str> = window.parts().iter().map(|(_, tz)| tz.name()).collect();
    names.sort_unstable();
    names.dedup();
    names.join("+")
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;

#[cfg(test)]
mod props;
