//! A campaign as the decisions see it: its row parsed into domain types once
//! per load (windows, legal profiles, caps, recall policy, routing), and the
//! one question every decision asks of it: when may this callee be dialed.

use crate::domain::compliance::{ContactPolicy, DialWindow};
use crate::domain::forwarding::ForwardEvents;
use crate::domain::recall::RecallPolicy;
use crate::domain::routing::RedialStrategy;
use crate::domain::state::CampaignState;
use crate::domain::window::{CallingWindows, WindowError};
use crate::domain::zones::parse_zone_list;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A campaign definition that cannot be used as it stands (an admin's SQL
/// edit, a contact's zones): names the campaign and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("campaign `{name}`: {message}")]
pub struct CampaignError {
    pub name: String,
    pub message: String,
}

/// A campaign row parsed into domain types. Re-read every tick, so admin edits
/// made with SQL take effect on the next tick.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub state: CampaignState,
    pub timezone: Tz,
    pub windows: CallingWindows,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub max_concurrency: u32,
    pub vendors: Vec<(String, u32)>,
    pub policy: RecallPolicy,
    pub default_country_code: Option<String>,
    pub redial_strategy: RedialStrategy,
    pub vendor_redial: bool,
    /// Windows, legal profiles, caps, margin: when a contact may be dialed.
    pub contact_policy: ContactPolicy,
    /// The events its results write to the forwarding outbox.
    pub forward: ForwardEvents,
}

/// A running campaign for unit tests: one vendor `v`, a cap of 10, the
/// default recall policy, no legal profile or cap; set the rest with
/// struct-update syntax.
#[cfg(test)]
impl Campaign {
    pub(crate) fn for_test(id: i64, timezone: Tz, windows: &str) -> Campaign {
        use crate::domain::compliance::ComplianceSettings;
        let windows = CallingWindows::parse(windows).expect("test windows parse");
        Campaign {
            id,
            name: "c".into(),
            state: CampaignState::Running,
            timezone,
            windows: windows.clone(),
            starts_at: None,
            ends_at: None,
            max_concurrency: 10,
            vendors: vec![("v".into(), 1)],
            policy: RecallPolicy::default_policy(),
            default_country_code: None,
            redial_strategy: RedialStrategy::Same,
            vendor_redial: false,
            contact_policy: ContactPolicy::new(windows, &[], &[], &ComplianceSettings::default()),
            forward: ForwardEvents::NONE,
        }
    }
}

impl Campaign {
    /// The zones a contact is called in: its candidate zones
    /// (`contacts.zones`), or the campaign's zone when it has none.
    pub fn contact_zones(&self, zones: Option<&str>) -> Result<Vec<Tz>, WindowError> {
        let zones = parse_zone_list(zones.unwrap_or_default())?;
        Ok(if zones.is_empty() { vec![self.timezone] } else { zones })
    }

    /// When a contact with these candidate zones may be dialed: the
    /// campaign's and its profiles' windows in every zone, cut at its end.
    pub fn dial_window(&self, zones: Option<&str>) -> Result<DialWindow, CampaignError> {
        let zones = self.contact_zones(zones).map_err(|e| CampaignError {
            name: self.name.clone(),
            message: format!("contact zones `{}`: {e}", zones.unwrap_or_default()),
        })?;
        Ok(self.contact_policy.dial_window(&zones).ending_at(self.ends_at))
    }

    /// Calls may start at `now` in the campaign's own zone (its windows and
    /// its profiles', less the closing margin, before its end): the window
    /// the stats page shows and `campaignd_campaign_window_open` reports.
    /// Contacts in other zones may be dialable when this is closed.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.dial_window(None).is_ok_and(|w| w.can_dispatch(now))
    }
}

#[cfg(test)]
#[path = "campaign_window_tests.rs"]
mod window_tests;
