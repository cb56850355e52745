//! The JSON body of a forwarded event, in the Standard Webhooks shape
//! (`type`, `timestamp`, `data`), built from the facts of one settled
//! result. A struct with serde rather than ad-hoc JSON: fields (recording
//! and transcript references, cost) are added here and nowhere else.

use super::{ForwardEvent, ForwardEvents};
use crate::domain::call_cost::format_amount;
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::settlement::{ContactOutcome, Settlement};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One result whose attempt was just finished, with what the payload names
/// beside the [`Settlement`] itself.
#[derive(Debug, Clone)]
pub struct SettledResult<'a> {
    pub campaign: &'a str,
    pub contact_id: i64,
    pub external_id: Option<&'a str>,
    pub phone: &'a str,
    pub attempt_ref: &'a str,
    pub attempt_no: i32,
    pub vendor: &'a str,
    /// When the attempt was claimed.
    pub started_at: DateTime<Utc>,
    pub settlement: &'a Settlement,
    pub now: DateTime<Utc>,
}

/// The events `forward` asks for about one result, in order (attempt first).
pub fn for_result(forward: ForwardEvents, r: &SettledResult<'_>) -> Vec<ForwardPayload> {
    let s = r.settlement;
    let (state, reason, next_at) = match &s.contact {
        ContactOutcome::Moved { update, .. } => (Some(update.state), update.finished_reason.clone(), update.due_at),
        _ => (None, None, None),
    };
    let outcome = s.attempt.outcome.as_ref();
    let data = ResultData {
        campaign: r.campaign.to_string(),
        contact: ContactData {
            id: r.contact_id,
            external_id: r.external_id.map(str::to_string),
            phone: r.phone.to_string(),
            state: state.map(|s| s.as_str().to_string()),
            reason,
            attempts: r.attempt_no,
            next_attempt_at: next_at,
        },
        attempt: AttemptData {
            id: r.attempt_ref.to_string(),
            number: r.attempt_no,
            vendor: r.vendor.to_string(),
            state: s.attempt.state.as_str().to_string(),
            disposition: outcome.map(|o| o.disposition),
            intent: outcome.and_then(|o| o.intent),
            raw_code: outcome.and_then(|o| o.raw_code.clone()),
            raw_intent: outcome.and_then(|o| o.raw_intent.clone()),
            callback_requested_at: outcome.and_then(|o| o.requested_at),
            dials: s.dials.len(),
            duration_ms: s.attempt.duration_ms,
            vendor_call_id: s.attempt.external_call_id.clone(),
            error: s.attempt.error.clone(),
            started_at: r.started_at,
            completed_at: r.now,
            recording_url: s.attempt.details.recording_url.clone(),
            transcript: s.attempt.details.transcript.clone(),
            ring_ms: s.attempt.details.ring_ms,
            cost: s.attempt.details.cost.as_ref().map(|c| format_amount(c.micros)),
            cost_currency: s.attempt.details.cost.as_ref().map(|c| c.currency.clone()),
        },
    };
    forward
        .for_result(state)
        .into_iter()
        .map(|event_type| ForwardPayload { event_type, timestamp: r.now, data: data.clone() })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForwardPayload {
    /// `contact.final` or `attempt.completed`.
    #[serde(rename = "type", serialize_with = "event_name")]
    pub event_type: ForwardEvent,
    /// When the result was settled (the event happened).
    pub timestamp: DateTime<Utc>,
    pub data: ResultData,
}

/// What one result says about a contact and its attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultData {
    pub campaign: String,
    pub contact: ContactData,
    pub attempt: AttemptData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactData {
    pub id: i64,
    /// The operator's id of the contact (`case_id` of the import), as `export` writes it.
    pub external_id: Option<String>,
    pub phone: String,
    /// The contact's state after this result (`done`, `waiting_retry`, …);
    /// None when the result did not move it (it had moved on).
    pub state: Option<String>,
    /// Why it is in that state (the recall rule, the exhaustion reason).
    pub reason: Option<String>,
    /// Attempts made for the contact, this one included.
    pub attempts: i32,
    /// When it is due again, for a retry.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptData {
    /// Our reference of the attempt (the one vendors echo back).
    pub id: String,
    pub number: i32,
    pub vendor: String,
    /// `completed`, `failed`, `lost`, `cancelled`.
    pub state: String,
    pub disposition: Option<Disposition>,
    pub intent: Option<Intent>,
    /// The vendor's own codes, `kind:code`, kept whatever the mapping said.
    pub raw_code: Option<String>,
    pub raw_intent: Option<String>,
    /// The callee asked to be called back at this time.
    pub callback_requested_at: Option<DateTime<Utc>>,
    /// Real dials in this attempt (the first and the vendor's own redials).
    pub dials: usize,
    pub duration_ms: Option<i64>,
    pub vendor_call_id: Option<String>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// Where the vendor keeps the call's recording, when it said.
    pub recording_url: Option<String>,
    /// The conversation as text, when the vendor sent it with the result.
    pub transcript: Option<String>,
    /// From dial to answer, as the vendor reported it or its times give it.
    pub ring_ms: Option<i64>,
    /// What the call cost, as a decimal string (`"0.0123"`: vendors bill
    /// fractions of a cent), reported by the vendor or priced by its
    /// `price_per_minute`; with its ISO 4217 currency.
    pub cost: Option<String>,
    pub cost_currency: Option<String>,
}

/// The event's dotted name (`contact.final`), not serde's snake_case one.
fn event_name<S: serde::Serializer>(e: &ForwardEvent, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.as_str())
}

impl ForwardPayload {
    /// The body as sent (and signed): compact JSON.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a payload of plain fields always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_standard_webhooks_envelope_and_the_vendor_codes() {
        let at: DateTime<Utc> = "2026-12-05T10:00:00Z".parse().unwrap();
        let p = ForwardPayload {
            event_type: ForwardEvent::ContactFinal,
            timestamp: at,
            data: ResultData {
                campaign: "collections".into(),
                contact: ContactData {
                    id: 7,
                    external_id: Some("LN-1".into()),
                    phone: "+15550100".into(),
                    state: Some("done".into()),
                    reason: None,
                    attempts: 2,
                    next_attempt_at: None,
                },
                attempt: AttemptData {
                    id: "a-1".into(),
                    number: 2,
                    vendor: "blu".into(),
                    state: "completed".into(),
                    disposition: Some(Disposition::Answered),
                    intent: Some(Intent::PromiseToPay),
                    raw_code: Some("blu:D01".into()),
                    raw_intent: Some("blu:HPTP".into()),
                    callback_requested_at: None,
                    dials: 1,
                    duration_ms: Some(5000),
                    vendor_call_id: None,
                    error: None,
                    started_at: at,
                    completed_at: at,
                    recording_url: Some("https://rec.example/a-1.mp3".into()),
                    transcript: None,
                    ring_ms: Some(4200),
                    cost: Some("0.0123".into()),
                    cost_currency: Some("USD".into()),
                },
            },
        };
        let v: serde_json::Value = serde_json::from_str(&p.to_body()).unwrap();
        assert_eq!(v["type"], "contact.final");
        assert_eq!(v["timestamp"], "2026-12-05T10:00:00Z");
        assert_eq!(v["data"]["contact"]["external_id"], "LN-1");
        assert_eq!(v["data"]["attempt"]["disposition"], "answered");
        assert_eq!(v["data"]["attempt"]["intent"], "promise_to_pay");
        assert_eq!(v["data"]["attempt"]["raw_code"], "blu:D01");
        assert_eq!(v["data"]["attempt"]["recording_url"], "https://rec.example/a-1.mp3");
        assert_eq!(v["data"]["attempt"]["transcript"], serde_json::Value::Null);
        assert_eq!(
            (v["data"]["attempt"]["cost"].as_str(), v["data"]["attempt"]["cost_currency"].as_str()),
            (Some("0.0123"), Some("USD"))
        );
    }
}
