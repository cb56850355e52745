//! Laaffic's result push: a JSON array of call records (voiceId, callee,
//! callTime/answerTime/hangupTime, ringDuration, chargedDuration, cost,
//! terminationCode, terminationReason, sipCode, intent). The documented
//! record carries neither a task id nor our reference: the daemon matches
//! it on (vendor, phone) fenced by the call's time, so each record must
//! yield the callee and its times faithfully.

use super::codes;
use crate::domain::call_cost::{CallCost, Pricing, priced};
use crate::vendors::common::e164;
use crate::vendors::itnio_family::{fields, push_records};
use crate::vendors::{CallEvent, CallbackError, ParsedCallback};
use serde_json::Value;

/// Where a rejected record's phone is looked for.
pub const PHONE_KEYS: &[&str] = &["callee"];

/// A push body, record by record: one record that cannot be read is
/// rejected (with its index, phone and reason) and the others still apply.
/// Only a body that is not JSON, or neither an array nor an object, is
/// malformed. A single object is read as a one-record array.
/// `currency` is the account's (the push names none; the vendor's
/// configured `currency`).
pub fn parse(body: &[u8], tz: chrono_tz::Tz, currency: &str) -> Result<ParsedCallback, CallbackError> {
    let records = push_records(body, "an array of call records")?;
    Ok(ParsedCallback::per_record(&records, PHONE_KEYS, |r| record(r, tz, currency).map(|e| vec![e])))
}

/// One call record as an event, or why it cannot be read (naming the field).
pub fn record(r: &Value, tz: chrono_tz::Tz, currency: &str) -> Result<CallEvent, String> {
    fields::object(r)?;
    let callee = fields::text(r, "callee")?.ok_or("callee: missing (the push's only link to our call)")?;
    if !callee.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("callee: not a phone number: {callee:?}"));
    }
    // `intent` is a code of the document's table, as a string or a number
    // (`"205"`, `205`); anything else (an array, an object) is rejected.
    let intent = fields::text(r, "intent")?;
    let termination = fields::int(r, "terminationCode")?;
    let sip = fields::int(r, "sipCode")?;
    let call_time = fields::time(r, "callTime", tz)?;
    let answer_time = fields::time(r, "answerTime", tz)?;
    let hangup = fields::time(r, "hangupTime", tz)?;
    let charged = fields::int(r, "chargedDuration")?;
    let duration_ms = match (answer_time, hangup) {
        (Some(a), Some(h)) if h >= a => Some((h - a).num_milliseconds()),
        _ => charged.map(|s| s.max(0) * 1000),
    };
    // Not in the published field list: read when a push carries one (some
    // accounts add it), never made up. Without it the phone and the call's
    // time find the attempt.
    let mut task = None;
    for key in ["taskId", "keyId"] {
        if task.is_none() {
            task = fields::text(r, key)?;
        }
    }
    // `ringDuration` in seconds; without it, what lay between the dial and
    // the answer.
    let ring_ms = match (fields::int(r, "ringDuration")?, call_time, answer_time) {
        (Some(s), _, _) => Some(s.max(0) * 1000),
        (None, Some(c), Some(a)) if a >= c => Some((a - c).num_milliseconds()),
        _ => None,
    };
    let billed_ms = charged.map(|s| s.max(0) * 1000);
    // `cost` as billed; without it, the per-minute `rate` some accounts
    // send prices the charged time.
    let cost = match fields::amount(r, "cost")? {
        Some(micros) => Some(CallCost { micros, currency: currency.to_string() }),
        None => fields::amount(r, "rate")?.and_then(|micros_per_minute| {
            priced(&Pricing { micros_per_minute, currency: currency.to_string() }, billed_ms)
        }),
    };
    Ok(CallEvent {
        external_call_id: fields::text(r, "voiceId")?,
        vendor_task_id: task,
        phone: Some(e164(&callee)),
        started_at: call_time.or(answer_time),
        ended_at: hangup,
        duration_ms,
        ring_ms,
        billed_ms,
        cost,
        ..CallEvent::final_outcome(codes::normalize(intent.as_deref(), termination, sip))
    })
}
