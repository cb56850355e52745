//! The call figures of the vendor scorecard (issue 15 item 4): ring time,
//! callback lag and cost, from the per-attempt details the results left
//! (`domain::settlement::CallDetails`). The store reads the rows and sums;
//! what they mean is decided here.
//!
//! Definitions, each over the period's completed attempts of one vendor:
//! - **ring time**: `ring_ms` of the connected attempts (answered or
//!   voicemail) reporting one: the time to answer. A call nobody answered
//!   rings until the vendor gives up, which says nothing of the vendor, so
//!   it is left out. Its median (p50) and mean, in seconds;
//! - **callback lag**: our receipt of the result − the call's end by the
//!   vendor's clock ([`callback_lag`]: a vendor clock ahead of ours counts
//!   0); its median and 95th percentile (nearest rank), in seconds;
//! - **reached contacts**: distinct contacts with an `answered` attempt;
//! - **promises**: attempts with intent `promise_to_pay`;
//! - **cost** by currency: the total of the attempts with a cost, and that
//!   total per reached contact and per promise (null while there are none).
//!   Amounts are decimal strings, exact to a millionth (`domain::call_cost`).

use crate::domain::call_cost::format_amount;
use crate::domain::callback_lag::callback_lag;
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::vendor_scorecard::VendorScorecard;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One completed attempt's timing details, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTiming {
    pub vendor_id: String,
    pub disposition: Option<String>,
    pub ring_ms: Option<i64>,
    pub vendor_ended_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
}

/// The summed cost of one vendor's attempts in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroup {
    pub vendor_id: String,
    pub currency: String,
    pub micros: i64,
    pub attempts: u64,
}

/// What the store read for the call figures.
#[derive(Debug, Clone, Default)]
pub struct CallFigures {
    pub timings: Vec<CallTiming>,
    pub costs: Vec<CostGroup>,
    /// Distinct contacts with an answered attempt, by vendor.
    pub reached: Vec<(String, u64)>,
}

/// One vendor's cost in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VendorCost {
    /// ISO 4217 code.
    pub currency: String,
    /// Attempts with a cost in this currency.
    pub attempts: u64,
    /// Their total, as a decimal (`"1.2345"`).
    #[schema(example = "1.2345")]
    pub total: String,
    /// `total / reached_contacts`, to a millionth; null while none was reached.
    pub per_reached_contact: Option<String>,
    /// `total / promises`, to a millionth; null without promises.
    pub per_promise: Option<String>,
}

/// Fill the call figures into `cards` (the vendors of `figures` are among
/// them: both come from the same attempts).
pub fn add_call_figures(cards: &mut [VendorScorecard], figures: &CallFigures) {
    let mut rings: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut lags: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in &figures.timings {
        let connected =
            t.disposition.as_deref().and_then(|d| d.parse::<Disposition>().ok()).is_some_and(Disposition::is_connected);
        if let Some(ms) = t.ring_ms.filter(|ms| *ms >= 0 && connected) {
            rings.entry(&t.vendor_id).or_default().push(ms as f64 / 1000.0);
        }
        if let (Some(end), Some(received)) = (t.vendor_ended_at, t.received_at)
            && let Some(lag) = callback_lag(Some(end), received)
        {
            lags.entry(&t.vendor_id).or_default().push(lag.seconds);
        }
    }
    let reached: BTreeMap<&str, u64> = figures.reached.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    for card in cards.iter_mut() {
        let id = card.id.as_str();
        let mut ring = rings.remove(id).unwrap_or_default();
        let mut lag = lags.remove(id).unwrap_or_default();
        card.ring_p50_seconds = percentile(&mut ring, 50);
        card.ring_average_seconds = (!ring.is_empty()).then(|| ring.iter().sum::<f64>() / ring.len() as f64);
        card.callback_lag_p50_seconds = percentile(&mut lag, 50);
        card.callback_lag_p95_seconds = percentile(&mut lag, 95);
        card.reached_contacts = reached.get(id).copied().unwrap_or(0);
        card.promises = card.by_intent.get(Intent::PromiseToPay.as_str()).copied().unwrap_or(0);
        card.costs = figures
            .costs
            .iter()
            .filter(|c| c.vendor_id == card.id)
            .map(|c| VendorCost {
                currency: c.currency.clone(),
                attempts: c.attempts,
                total: format_amount(c.micros),
                per_reached_contact: per(c.micros, card.reached_contacts),
                per_promise: per(c.micros, card.promises),
            })
            .collect();
    }
}

/// The `p`th percentile by nearest rank (the smallest value with at least
/// p% of the values at or below it); None for no values.
pub fn percentile(values: &mut [f64], p: u32) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (u64::from(p) * values.len() as u64).div_ceil(100).max(1) as usize;
    Some(values[rank - 1])
}

/// `micros / n` to the nearest millionth, as a decimal; None for n = 0.
fn per(micros: i64, n: u64) -> Option<String> {
    (n > 0).then(|| {
        let n = i128::from(n);
        let m = i128::from(micros);
        format_amount(((2 * m + n) / (2 * n)) as i64)
    })
}

#[cfg(test)]
#[path = "scorecard_calls_tests.rs"]
mod tests;
