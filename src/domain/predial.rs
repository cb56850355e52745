//! The pre-dial check, decided: may the vendor dial a call it holds, right
//! now? The same rules as a claim, from facts the caller loaded.

use crate::domain::state::CampaignState;
use chrono::{DateTime, Utc};

/// The daemon's answer to a vendor's pre-dial query.
#[derive(Debug, Clone, PartialEq)]
pub enum PredialVerdict {
    Proceed,
    Refuse { reason: String },
}

/// What the daemon knows right now about the call a vendor asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct PredialFacts {
    /// None when the query matches no attempt of this vendor.
    pub attempt_in_flight: Option<bool>,
    pub cancel_requested: bool,
    pub campaign_state: Option<CampaignState>,
    pub suppressed: bool,
    pub window_open: bool,
    pub not_after: Option<DateTime<Utc>>,
    pub campaign_ends_at: Option<DateTime<Utc>>,
}

/// The verdict, from facts only (no I/O), first failing rule wins.
pub fn verdict(f: &PredialFacts, now: DateTime<Utc>) -> PredialVerdict {
    let refuse = |reason: &str| PredialVerdict::Refuse { reason: reason.to_string() };
    match f.attempt_in_flight {
        None => return refuse("unknown call"),
        Some(false) => return refuse("attempt already finished"),
        Some(true) => {}
    }
    if f.cancel_requested {
        return refuse("cancel requested");
    }
    if f.campaign_state != Some(CampaignState::Running) {
        return refuse("campaign is not running");
    }
    if f.suppressed {
        return refuse("number is suppressed");
    }
    if f.not_after.is_some_and(|t| t <= now) || f.campaign_ends_at.is_some_and(|t| t <= now) {
        return refuse("calling window of the batch has ended");
    }
    if !f.window_open {
        return refuse("outside the callee's calling window");
    }
    PredialVerdict::Proceed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> PredialFacts {
        PredialFacts {
            attempt_in_flight: Some(true),
            cancel_requested: false,
            campaign_state: Some(CampaignState::Running),
            suppressed: false,
            window_open: true,
            not_after: None,
            campaign_ends_at: None,
        }
    }

    #[test]
    fn every_rule_can_refuse() {
        let now = Utc::now();
        assert_eq!(verdict(&ok(), now), PredialVerdict::Proceed);
        let past = Some(now - chrono::Duration::seconds(1));
        let cases: Vec<(PredialFacts, &str)> = vec![
            (PredialFacts { attempt_in_flight: None, ..ok() }, "unknown call"),
            (PredialFacts { attempt_in_flight: Some(false), ..ok() }, "already finished"),
            (PredialFacts { cancel_requested: true, ..ok() }, "cancel requested"),
            (PredialFacts { campaign_state: Some(CampaignState::Paused), ..ok() }, "not running"),
            (PredialFacts { suppressed: true, ..ok() }, "suppressed"),
            (PredialFacts { not_after: past, ..ok() }, "has ended"),
            (PredialFacts { campaign_ends_at: past, ..ok() }, "has ended"),
            (PredialFacts { window_open: false, ..ok() }, "calling window"),
        ];
        for (facts, why) in cases {
            match verdict(&facts, now) {
                PredialVerdict::Refuse { reason } => assert!(reason.contains(why), "{reason} vs {why}"),
                PredialVerdict::Proceed => panic!("{facts:?} should refuse"),
            }
        }
    }
}
