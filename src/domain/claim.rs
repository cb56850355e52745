//! Claiming, decided: how many contacts a claim may take (the campaign's and
//! each vendor's free slots), and for each due contact whether it is dialed
//! now and through which vendor, or why not and until when. `store::claim`
//! loads the facts, calls these, and writes the verdicts.

use crate::domain::audit::kind;
use crate::domain::campaign::Campaign;
use crate::domain::compliance::facts::BatchFacts;
use crate::domain::compliance::{DialWindow, Gate, gate, zone_names};
use crate::domain::routing::{PreviousAttempt, Route, VendorSlot, choose_vendor};
use crate::domain::state::{ContactEvent, ContactState, TransitionError};
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// What a claim may take: the routed vendors in rotation with their free
/// slots, and how many contacts at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub routes: Vec<Route>,
    pub want: u64,
}

/// The campaign's free slots (its cap less its attempts in flight), each
/// routed vendor's (its cap less its attempts in flight, in every campaign),
/// and `limit`: the claim takes at most the smallest. `in_flight` holds the
/// vendors' counts; `vendor_slots` the vendors in rotation.
pub fn capacity(
    camp: &Campaign,
    campaign_in_flight: u64,
    vendor_slots: &HashMap<String, VendorSlot>,
    in_flight: &HashMap<String, u64>,
    limit: u32,
) -> Capacity {
    let campaign_free = u64::from(camp.max_concurrency).saturating_sub(campaign_in_flight);
    let routes: Vec<Route> = camp
        .vendors
        .iter()
        .filter_map(|(id, weight)| {
            let slot = vendor_slots.get(id)?;
            let used = in_flight.get(id).copied().unwrap_or(0);
            Some(Route { vendor_id: id.clone(), weight: *weight, free: u64::from(slot.cap).saturating_sub(used) })
        })
        .collect();
    let vendor_free: u64 = routes.iter().map(|v| v.free).sum();
    Capacity { want: campaign_free.min(vendor_free).min(u64::from(limit)), routes }
}

/// How many contacts one claim of a tick takes when the tick may claim
/// `limit`. Where the store lets a claim run beside a vendor request
/// (`overlap`), a piece is what one request to each routed vendor carries
/// together (`vendor_batches`), so that the tick claims the next piece while
/// the vendors answer the first, and no vendor gets more requests than one
/// claim of the whole `limit` would send it when the routing splits the
/// piece evenly. Otherwise, and when no vendor is routed, the whole `limit`
/// in one claim. Never more than `limit`.
pub fn claim_piece(limit: u32, vendor_batches: impl IntoIterator<Item = usize>, overlap: bool) -> u32 {
    let together: Option<usize> = vendor_batches.into_iter().map(|b| b.max(1)).reduce(usize::saturating_add);
    match together {
        Some(batch) if overlap => u32::try_from(batch).unwrap_or(u32::MAX).min(limit),
        _ => limit,
    }
}

/// A due contact, as the claim reads it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub id: i64,
    pub phone: &'a str,
    pub case_id: Option<&'a str>,
    pub zones: Option<&'a str>,
    /// `contacts.state`, or why it does not read.
    pub state: Result<ContactState, String>,
    pub attempt_seq: i32,
    pub previous: PreviousAttempt,
}

/// The claim's answer for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A new attempt through `vendor_id`, allowed `max_dials` dials.
    Dispatch { vendor_id: String, attempt_no: i32, max_dials: u32, reason: String },
    /// Finished for good: `state` (stopped, suppressed or exhausted).
    Finish { state: ContactState, kind: &'static str, reason: String },
    /// Due again at `until`.
    Defer { until: DateTime<Utc>, kind: &'static str, reason: String },
    /// Its stored state does not read: left alone and reported.
    Corrupt { reason: String },
}

/// Decide for `candidates` in order, at most `capacity.want` dispatches;
/// candidates after the last verdict (capacity reached, no vendor free) are
/// left for the next claim. Each dispatch is reserved in `facts`, so a
/// number twice in one batch is dialed once.
pub fn plan(
    camp: &Campaign,
    candidates: &[Candidate<'_>],
    facts: &mut BatchFacts,
    mut capacity: Capacity,
    vendor_slots: &HashMap<String, VendorSlot>,
    rng: &mut impl Rng,
    now: DateTime<Utc>,
) -> Result<Vec<Verdict>, TransitionError> {
    // Room for the vendor's own redials is reserved when the campaign allows
    // them; the vendor is chosen after the policy said yes, so reserve for
    // the most redialing vendor the campaign may use.
    let own_redials = |vendor_id: &str| match camp.vendor_redial {
        true => vendor_slots.get(vendor_id).map_or(0, |s| s.own_redials),
        false => 0,
    };
    let new_dials = 1 + capacity.routes.iter().map(|v| own_redials(&v.vendor_id)).max().unwrap_or(0);
    let mut windows: HashMap<Option<&str>, DialWindow> = HashMap::new();
    let mut verdicts = Vec::new();
    let mut dispatched = 0u64;
    for c in candidates {
        if dispatched >= capacity.want {
            break;
        }
        let state = match &c.state {
            Ok(s) => *s,
            Err(e) => {
                verdicts.push(Verdict::Corrupt { reason: format!("contacts.state of contact #{}: {e}", c.id) });
                continue;
            }
        };
        let window = match windows.entry(c.zones) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => match camp.dial_window(c.zones) {
                Ok(w) => e.insert(w),
                Err(err) => {
                    // A bad SQL edit of one contact must not hold up the batch.
                    let state = state.apply(ContactEvent::Stop)?;
                    let reason = format!("cannot tell when to call: {err}");
                    verdicts.push(Verdict::Finish { state, kind: kind::STOPPED, reason });
                    continue;
                }
            },
        };
        let verdict = match gate(&camp.contact_policy, window, &facts.for_contact(c.phone, c.case_id, new_dials), now) {
            Gate::Dispatch => None,
            Gate::Suppressed { reason } => {
                Some(Verdict::Finish { state: state.apply(ContactEvent::Suppress)?, kind: kind::SUPPRESSED, reason })
            }
            Gate::Defer { until, wait, reason } => Some(Verdict::Defer { until, kind: wait.kind(), reason }),
            Gate::Exhaust { reason } => {
                Some(Verdict::Finish { state: state.apply(ContactEvent::Exhaust)?, kind: kind::EXHAUSTED, reason })
            }
        };
        if let Some(v) = verdict {
            verdicts.push(v);
            continue;
        }
        let Some(vendor_id) = choose_vendor(camp.redial_strategy, &mut capacity.routes, &c.previous, rng) else {
            break;
        };
        state.apply(ContactEvent::Claim)?;
        let max_dials = 1 + own_redials(&vendor_id);
        facts.reserve(c.phone, c.case_id, &camp.name, max_dials, now);
        let reason = format!("dispatched to {vendor_id} (in {})", zone_names(window));
        verdicts.push(Verdict::Dispatch { vendor_id, attempt_no: c.attempt_seq + 1, max_dials, reason });
        dispatched += 1;
    }
    Ok(verdicts)
}

/// A zone group (`contacts.zones`) whose window is closed at `now`: when
/// its due contacts may be dialed next (None: never before the campaign
/// ends, they are exhausted), with the audit kind and reason. None when the
/// group may be dialed now, or when its zones do not read (the per-contact
/// path stops those contacts with the reason).
pub fn closed_group(camp: &Campaign, zones: Option<&str>, now: DateTime<Utc>) -> Option<ClosedGroup> {
    let window = camp.dial_window(zones).ok()?;
    if window.can_dispatch(now) {
        return None;
    }
    let next = window.next_dispatch(now);
    let names = zone_names(&window);
    Some(match next {
        Some(t) => ClosedGroup {
            next,
            kind: kind::DEFERRED,
            reason: format!("outside the calling window in {names}; opens {t}"),
        },
        None => ClosedGroup {
            next,
            kind: kind::EXHAUSTED,
            reason: format!("no calling window left before the campaign ends in {names}"),
        },
    })
}

/// See [`closed_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedGroup {
    pub next: Option<DateTime<Utc>>,
    pub kind: &'static str,
    pub reason: String,
}

#[cfg(test)]
#[path = "claim_tests.rs"]
mod tests;
