//! A vendor scorecard: per vendor over a period, how many calls it made and
//! what they produced, from grouped counts of the attempts created in the
//! period. The store counts with `GROUP BY`; what the counts mean (what is
//! connected, what is a conversation, what is an error) is decided here.
//!
//! Definitions, each over the period's attempts of one vendor:
//! - **completed**: state `completed` (the vendor sent a result);
//! - **connected**: completed with a connected disposition (`answered` or
//!   `voicemail`, [`Disposition::is_connected`]);
//! - **connect rate** = connected / completed;
//! - **conversations**: completed with a recognized intent other than
//!   `unknown` (a `wrong_person` counts: somebody talked with the bot);
//! - **conversation rate** = conversations / completed;
//! - **average talk time**: the mean `duration_ms` of connected attempts
//!   that report one, in seconds;
//! - **errors by code**: attempts in state `failed` or with disposition
//!   `vendor_error`, by their raw vendor code (`unknown` when there is none).
//!
//! A rate is null while its denominator is 0.

use crate::domain::outcome::{Disposition, Intent};
use crate::domain::state::AttemptState;
use serde::Serialize;
use std::collections::BTreeMap;

/// The code an error without a raw vendor code is counted under.
pub const NO_CODE: &str = "unknown";

/// Attempts of one vendor sharing a state, disposition, intent and raw code,
/// as stored, with their reported talk time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScorecardGroup {
    pub vendor_id: String,
    pub state: String,
    pub disposition: Option<String>,
    pub intent: Option<String>,
    pub raw_code: Option<String>,
    pub count: u64,
    /// Sum of `duration_ms` over the group's attempts that have one.
    pub duration_ms_sum: i64,
    /// How many of the group's attempts have a `duration_ms`.
    pub with_duration: u64,
}

/// One vendor's scorecard (definitions in the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VendorScorecard {
    pub id: String,
    /// False for a vendor no longer configured that still has attempts in
    /// the period.
    pub configured: bool,
    /// Real dials of the period's attempts, the vendor's own redials included.
    pub dials: u64,
    /// Attempts created in the period.
    pub attempts: u64,
    /// Attempts with a result from the vendor (state `completed`).
    pub completed: u64,
    /// Completed attempts answered by a person or a voicemail box.
    pub connected: u64,
    /// `connected / completed`; null when nothing completed.
    pub connect_rate: Option<f64>,
    /// Completed attempts with a recognized intent other than `unknown`.
    pub conversations: u64,
    /// `conversations / completed`; null when nothing completed.
    pub conversation_rate: Option<f64>,
    /// Attempts by intent: every intent listed, zeros included.
    pub by_intent: BTreeMap<String, u64>,
    /// Mean talk time of connected attempts reporting a duration, in
    /// seconds; null when none did.
    pub average_talk_seconds: Option<f64>,
    /// Failed attempts and those with disposition `vendor_error`, by raw
    /// vendor code (`unknown` when the vendor gave none).
    pub errors_by_code: BTreeMap<String, u64>,
    /// Median ring time (dial to answer) of completed attempts reporting
    /// one, in seconds; null when none did (`domain::scorecard_calls`).
    pub ring_p50_seconds: Option<f64>,
    /// Mean ring time of the same attempts, in seconds.
    pub ring_average_seconds: Option<f64>,
    /// Median callback lag (the call's end by the vendor's clock to our
    /// receipt of its result), in seconds; null without both times.
    pub callback_lag_p50_seconds: Option<f64>,
    /// 95th percentile of the callback lag, in seconds.
    pub callback_lag_p95_seconds: Option<f64>,
    /// Distinct contacts with an answered attempt.
    pub reached_contacts: u64,
    /// Attempts with intent `promise_to_pay`.
    pub promises: u64,
    /// What the calls cost, by currency (reported by the vendor or priced
    /// from its configured `price_per_minute`); empty when nothing is known.
    pub costs: Vec<crate::domain::scorecard_calls::VendorCost>,
}

/// The scorecards of every `configured` vendor (zeros included) and of any
/// other vendor found in `groups` or `dials`, ordered by id.
pub fn scorecards(configured: &[String], groups: &[ScorecardGroup], dials: &[(String, u64)]) -> Vec<VendorScorecard> {
    let mut cards: BTreeMap<String, VendorScorecard> =
        configured.iter().map(|id| (id.clone(), empty(id, true))).collect();
    let mut talk: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for g in groups {
        let card = cards.entry(g.vendor_id.clone()).or_insert_with(|| empty(&g.vendor_id, false));
        card.attempts += g.count;
        if let Some(intent) = &g.intent {
            *card.by_intent.entry(intent.clone()).or_default() += g.count;
        }
        let disposition = g.disposition.as_deref().and_then(|d| d.parse::<Disposition>().ok());
        let state = g.state.parse::<AttemptState>().ok();
        if state == Some(AttemptState::Failed) || disposition == Some(Disposition::VendorError) {
            let code = g.raw_code.clone().unwrap_or_else(|| NO_CODE.to_string());
            *card.errors_by_code.entry(code).or_default() += g.count;
        }
        if state != Some(AttemptState::Completed) {
            continue;
        }
        card.completed += g.count;
        if disposition.is_some_and(Disposition::is_connected) {
            card.connected += g.count;
            let t = talk.entry(g.vendor_id.clone()).or_default();
            t.0 += g.duration_ms_sum;
            t.1 += g.with_duration;
        }
        if is_conversation(g.intent.as_deref()) {
            card.conversations += g.count;
        }
    }
    for (vendor_id, n) in dials {
        cards.entry(vendor_id.clone()).or_insert_with(|| empty(vendor_id, false)).dials += n;
    }
    for card in cards.values_mut() {
        card.connect_rate = ratio(card.connected, card.completed);
        card.conversation_rate = ratio(card.conversations, card.completed);
        card.average_talk_seconds =
            talk.get(&card.id).filter(|(_, n)| *n > 0).map(|(ms, n)| *ms as f64 / *n as f64 / 1000.0);
    }
    cards.into_values().collect()
}

/// A recognized intent other than `unknown`: the bot understood what the
/// callee said.
fn is_conversation(intent: Option<&str>) -> bool {
    intent.and_then(|i| i.parse::<Intent>().ok()).is_some_and(|i| i != Intent::Unknown)
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn empty(id: &str, configured: bool) -> VendorScorecard {
    VendorScorecard {
        id: id.to_string(),
        configured,
        dials: 0,
        attempts: 0,
        completed: 0,
        connected: 0,
        connect_rate: None,
        conversations: 0,
        conversation_rate: None,
        by_intent: Intent::ALL.iter().map(|i| (i.as_str().to_string(), 0)).collect(),
        average_talk_seconds: None,
        errors_by_code: BTreeMap::new(),
        ring_p50_seconds: None,
        ring_average_seconds: None,
        callback_lag_p50_seconds: None,
        callback_lag_p95_seconds: None,
        reached_contacts: 0,
        promises: 0,
        costs: Vec::new(),
    }
}

#[cfg(test)]
#[path = "vendor_scorecard_tests.rs"]
mod tests;
