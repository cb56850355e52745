//! Settling an attempt: what one result does to the attempt, its contact, its
//! dials, the suppression list and the audit — decided here in one pure
//! function, [`settle`], from facts the store loaded; `store::apply` only
//! loads those facts, calls it, and writes what it returns (each write fenced,
//! so a duplicate or late result changes nothing).

use crate::domain::audit::kind;
use crate::domain::call_cost::CallCost;
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::recall::{AttemptResult, DEFAULT_RULE, Decision, RecallHistory, decide};
use crate::domain::state::{AttemptEvent, AttemptState, CampaignState, ContactEvent, ContactState, TransitionError};
use chrono::{DateTime, Utc};

/// The attempt a result is for, as stored.
#[derive(Debug, Clone)]
pub struct AttemptFacts<'a> {
    pub attempt_ref: &'a str,
    pub attempt_no: i32,
    pub vendor_id: &'a str,
    pub state: AttemptState,
    /// When it was claimed: no dial of it can have happened earlier.
    pub created_at: DateTime<Utc>,
}

/// The attempt's contact, as stored.
#[derive(Debug, Clone)]
pub struct ContactFacts<'a> {
    pub id: i64,
    pub phone: &'a str,
    pub zones: Option<&'a str>,
    pub attempt_seq: i32,
    /// `contacts.state`, or why it does not read as a state.
    pub state: Result<ContactState, String>,
    /// `contacts.recall_history`, or why it does not read.
    pub history: Result<RecallHistory, String>,
}

/// What to write on the attempt row (fenced on "still in flight").
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptUpdate {
    pub state: AttemptState,
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub external_call_id: Option<String>,
    /// What the vendor told about the call beyond its outcome (recording,
    /// transcript, ring time, end, cost); empty without an event.
    pub details: CallDetails,
}

/// The per-call details an attempt keeps from its result event. Each is
/// written only when known, so a later event without them keeps earlier ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallDetails {
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub ring_ms: Option<i64>,
    /// The call's end by the vendor's clock.
    pub vendor_ended_at: Option<DateTime<Utc>>,
    /// When we received the result: the callback's arrival for a pushed
    /// result, the settling time for a polled one. With `vendor_ended_at`
    /// it gives the attempt's callback lag.
    pub received_at: Option<DateTime<Utc>>,
    pub cost: Option<CallCost>,
}

impl CallDetails {
    /// The details `event` carries, received at `received_at`.
    pub fn of(event: &CallEvent, received_at: DateTime<Utc>) -> CallDetails {
        CallDetails {
            recording_url: event.recording_url.clone(),
            transcript: event.transcript.clone(),
            ring_ms: event.ring_ms.filter(|ms| *ms >= 0),
            vendor_ended_at: event.ended_at,
            received_at: Some(received_at),
            cost: event.cost.clone(),
        }
    }
}

/// One real dial to record (unique on attempt and `seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct DialEntry {
    pub seq: i32,
    pub external_call_id: Option<String>,
    /// When it happened, clamped into the span it can have happened in.
    pub dialed_at: DateTime<Utc>,
    /// When the vendor says it happened.
    pub vendor_dialed_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub vendor_redial: bool,
}

/// A number to put on the suppression list (an existing entry is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionEntry {
    pub phone: String,
    pub reason: String,
    /// `vendor:<id>` or `campaign:<name>`.
    pub source: String,
}

/// What to write on the contact row (fenced on: in flight, this attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpdate {
    pub state: ContactState,
    pub due_at: Option<DateTime<Utc>>,
    pub history: RecallHistory,
    pub finished_reason: Option<String>,
    /// The result did not consume an attempt (the redial strategy reads it).
    pub vendor_failed: bool,
    pub last_outcome: Option<Outcome>,
}

/// The decision audit row about the contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub kind: &'static str,
    pub reason: String,
    pub next_at: Option<DateTime<Utc>>,
}

/// What happens to the contact.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactOutcome {
    /// The contact is gone: the attempt is recorded only.
    Missing,
    /// The contact moved on (another attempt, or finished): the attempt is
    /// recorded only.
    MovedOn { state: ContactState },
    /// `contacts.state` does not read as a state: the attempt is recorded,
    /// the contact is left alone (and, in no state the claim accepts, never
    /// dialed) and the row is reported.
    Corrupt { reason: String },
    /// The recall policy moved it.
    Moved { update: ContactUpdate, audit: AuditEntry },
}

/// Everything one result changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub attempt: AttemptUpdate,
    pub dials: Vec<DialEntry>,
    pub suppressions: Vec<SuppressionEntry>,
    pub contact: ContactOutcome,
    /// A stored row that did not read (`contacts.recall_history`): the
    /// contact is stopped rather than dialed on reset counters; the store
    /// logs and counts it.
    pub corrupt: Option<String>,
}

/// Settle `attempt` with `result` at `now`. None when the attempt's state
/// machine says it is already finished (a duplicate or late result).
pub fn settle(
    camp: &Campaign,
    attempt: &AttemptFacts<'_>,
    contact: Option<&ContactFacts<'_>>,
    result: &AttemptResult,
    event: Option<&CallEvent>,
    now: DateTime<Utc>,
) -> Result<Option<Settlement>, TransitionError> {
    let (event_kind, outcome, error) = attempt_fields(result);
    let Ok(to) = attempt.state.apply(event_kind) else { return Ok(None) };
    let mut settlement = Settlement {
        attempt: AttemptUpdate {
            state: to,
            outcome: outcome.cloned(),
            error,
            duration_ms: event.and_then(|e| e.duration_ms),
            external_call_id: event.and_then(|e| e.external_call_id.clone()),
            details: event.map(|e| CallDetails::of(e, now)).unwrap_or_default(),
        },
        dials: Vec::new(),
        suppressions: Vec::new(),
        contact: ContactOutcome::Missing,
        corrupt: None,
    };
    let Some(c) = contact else { return Ok(Some(settlement)) };
    if let (AttemptResult::Completed(o), Some(ev)) = (result, event)
        && o.disposition != Disposition::Cancelled
    {
        settlement.dials = dials(attempt, ev, now);
    }
    // The vendor's own blacklist is honoured everywhere, whether or not this
    // result may still move the contact.
    let blacklisted = event.is_some_and(|e| e.blacklisted);
    if blacklisted {
        settlement.suppressions.push(SuppressionEntry {
            phone: c.phone.to_string(),
            reason: format!("on the vendor's blacklist ({})", outcome.map(describe).unwrap_or_default()),
            source: format!("vendor:{}", attempt.vendor_id),
        });
    }
    let contact_state = match &c.state {
        Ok(s) => *s,
        Err(e) => {
            settlement.contact =
                ContactOutcome::Corrupt { reason: format!("contacts.state of contact #{}: {e}", c.id) };
            return Ok(Some(settlement));
        }
    };
    // Fence: only the contact's current attempt may move it.
    if contact_state != ContactState::InFlight || c.attempt_seq != attempt.attempt_no {
        settlement.contact = ContactOutcome::MovedOn { state: contact_state };
        return Ok(Some(settlement));
    }
    // A call the vendor cancelled before dialing (window closed, campaign
    // paused) was never made: like a vendor-side failure, it does not consume
    // one of the contact's attempts.
    let cancelled;
    let policy_input = match result {
        AttemptResult::Completed(o) if o.disposition == Disposition::Cancelled => {
            cancelled = AttemptResult::VendorFailed { reason: "vendor cancelled the call before dialing".into() };
            &cancelled
        }
        other => other,
    };
    let (mut decision, new_history) = match &c.history {
        Ok(history) => decide(&camp.policy, history, policy_input, now),
        // Counters reset to zero would let the contact be dialed past its
        // limits: it is stopped instead, and the row reported.
        Err(e) => {
            let reason = format!("contacts.recall_history of contact #{} does not read: {e}", c.id);
            settlement.corrupt = Some(reason.clone());
            (Decision::Stopped { reason }, RecallHistory::default())
        }
    };
    if camp.state == CampaignState::Cancelled {
        decision = Decision::Stopped { reason: "campaign cancelled".into() };
    }
    let callback = matches!(decision, Decision::RetryAt { requested: true, .. });
    if blacklisted && !matches!(decision, Decision::Stopped { .. } | Decision::Suppress { .. }) {
        decision = Decision::Blacklisted;
    }
    let (event, due, reason) = match decision {
        Decision::Blacklisted => {
            (ContactEvent::Suppress, None, Some(format!("the vendor {} blacklisted the number", attempt.vendor_id)))
        }
        Decision::RetryAt { not_before, rule, requested } => {
            // Clamped into the contact's windows here; frequency caps are
            // checked when it comes due (the claim sees every campaign's
            // dials at that moment, not a guess made now).
            let asked = outcome.and_then(|o| o.requested_at).filter(|_| requested);
            match camp.dial_window(c.zones) {
                Err(e) => (ContactEvent::Stop, None, Some(format!("cannot tell when to call: {e}"))),
                Ok(w) => match w.next_dispatch(not_before) {
                    Some(t) => (ContactEvent::Retry, Some(t), Some(retry_reason(rule, not_before, asked))),
                    None => (ContactEvent::Exhaust, None, Some("no calling window left for a retry".to_string())),
                },
            }
        }
        Decision::Done { rule } => (ContactEvent::Finish, None, Some(rule_name(rule, "stop"))),
        Decision::Exhausted { reason } => (ContactEvent::Exhaust, None, Some(reason)),
        Decision::Stopped { reason } => (ContactEvent::Stop, None, Some(reason)),
        Decision::Suppress { rule } => {
            let reason = format!(
                "{} after {}",
                rule_name(Some(rule), "suppress"),
                outcome.map(describe).unwrap_or_else(|| "lost call".into())
            );
            settlement.suppressions.push(SuppressionEntry {
                phone: c.phone.to_string(),
                reason: reason.clone(),
                source: format!("campaign:{}", camp.name),
            });
            (ContactEvent::Suppress, None, Some(reason))
        }
    };
    let new_state = contact_state.apply(event)?;
    let audit_kind = match new_state {
        ContactState::WaitingRetry if callback => kind::CALLBACK,
        ContactState::WaitingRetry => kind::RETRY,
        ContactState::Done => kind::DONE,
        ContactState::Exhausted => kind::EXHAUSTED,
        ContactState::Suppressed => kind::SUPPRESSED,
        _ => kind::STOPPED,
    };
    let result_text = match outcome {
        Some(o) => describe(o),
        None => attempt.state.to_string(),
    };
    let why = format!("after {result_text}: {}", reason.as_deref().unwrap_or_default());
    settlement.contact = ContactOutcome::Moved {
        update: ContactUpdate {
            state: new_state,
            due_at: due,
            history: new_history,
            finished_reason: reason,
            vendor_failed: matches!(policy_input, AttemptResult::VendorFailed { .. }),
            last_outcome: outcome.cloned(),
        },
        audit: AuditEntry { kind: audit_kind, reason: why, next_at: due },
    };
    Ok(Some(settlement))
}

/// The attempt's state-machine event, its outcome and error text.
fn attempt_fields(result: &AttemptResult) -> (AttemptEvent, Option<&Outcome>, Option<String>) {
    match result {
        AttemptResult::Completed(o) if o.disposition == Disposition::Cancelled => {
            (AttemptEvent::Cancel, Some(o), Some("vendor cancelled the call before dialing".into()))
        }
        AttemptResult::Completed(o) => (AttemptEvent::Complete, Some(o), None),
        AttemptResult::VendorFailed { reason } => (AttemptEvent::Fail, None, Some(reason.clone())),
        AttemptResult::Lost => (AttemptEvent::Lose, None, Some("no result from the vendor".into())),
    }
}

/// One dial per real dial of the attempt: the first (seq 0) and each redial
/// the vendor made on its own.
fn dials(attempt: &AttemptFacts<'_>, ev: &CallEvent, now: DateTime<Utc>) -> Vec<DialEntry> {
    // A vendor's clock or time zone setting can be wrong (one reported dials
    // 11 days before we handed it the number): the dial is recorded inside
    // the span it can really have happened in, the vendor's word beside it,
    // so frequency caps count it in the right window.
    // The lower bound is the claim, not `dispatched_at`: a vendor may dial
    // before its answer to the dispatch is written back.
    let earliest = attempt.created_at;
    let clamp = |t: Option<DateTime<Utc>>| t.unwrap_or(now).clamp(earliest, now.max(earliest));
    let vendor_first = ev.started_at.or(ev.ended_at);
    let entry =
        |seq: i32, call: Option<String>, vendor_at: Option<DateTime<Utc>>, o: &Outcome, redial: bool| DialEntry {
            seq,
            external_call_id: call,
            dialed_at: clamp(vendor_at),
            vendor_dialed_at: vendor_at,
            outcome: o.clone(),
            vendor_redial: redial,
        };
    // With redials, the final outcome is the last dial's; the first dial
    // keeps its own (unknown, at the event's time, when the vendor did not
    // describe it).
    let unknown = Outcome::new(Disposition::Unknown);
    let first = match (&ev.first_dial, ev.redials.is_empty()) {
        (_, true) => entry(0, ev.external_call_id.clone(), vendor_first, &ev.outcome, false),
        (Some(d), false) => entry(0, d.external_call_id.clone(), d.at.or(vendor_first), &d.outcome, false),
        (None, false) => entry(0, None, vendor_first, &unknown, false),
    };
    let mut out = vec![first];
    for (i, r) in ev.redials.iter().enumerate() {
        out.push(entry(i as i32 + 1, r.external_call_id.clone(), r.at.or(vendor_first), &r.outcome, true));
    }
    out
}

fn rule_name(rule: Option<usize>, action: &str) -> String {
    match rule.filter(|r| *r != DEFAULT_RULE) {
        Some(i) => format!("recall rule #{} ({action})", i + 1),
        None => format!("default action ({action})"),
    }
}

/// `asked` is the callee's requested time when it decided `not_before`.
fn retry_reason(rule: Option<usize>, not_before: DateTime<Utc>, asked: Option<DateTime<Utc>>) -> String {
    let retry = match rule.filter(|r| *r != DEFAULT_RULE) {
        Some(i) => format!("retry by recall rule #{}, not before {not_before}", i + 1),
        None => format!("retry not before {not_before}"),
    };
    match asked {
        // recall::decide only moves a requested time later than now down to the cap.
        Some(at) if at > not_before => {
            format!("callback requested for {at}, capped by max_callback_delay: {retry}")
        }
        Some(at) => format!("callback requested for {at}: {retry}"),
        None => retry,
    }
}

/// `answered / promise_to_pay`, or the disposition alone.
pub fn describe(o: &Outcome) -> String {
    match o.intent {
        Some(i) => format!("{} / {}", o.disposition, i),
        None => o.disposition.to_string(),
    }
}

#[cfg(test)]
#[path = "settlement_tests.rs"]
mod tests;
