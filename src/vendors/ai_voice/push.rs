//! ITNIO's status push: one call record per POST (an array of them is read
//! too), with the fields of the published list. Read record by record: a
//! field of a truly wrong type rejects its record, naming the field.

use super::codes::{self, KIND, Signals};
use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::domain::tags::TagIntents;
use crate::vendors::common::e164;
use crate::vendors::itnio_family::{fields, push_records};
use crate::vendors::{CallEvent, CallbackError, ParsedCallback, VendorRedial};
use serde_json::Value;
use std::collections::BTreeMap;

/// The custom property our attempt reference travels in (echoed by the push's `properties`).
pub const REF_PROPERTY: &str = "attemptRef";

/// Where a rejected record's phone is looked for.
pub const PHONE_KEYS: &[&str] = &["calledPhoneNumber"];

/// The tag fields whose names go through the vendor's tag table.
pub const TAG_FIELDS: &[&str] = &["callRecordTagNames", "customerTagNames"];

/// Most dials one record may stand for (`callCount`): more is taken as a
/// vendor's counting error rather than a reason to fill frequency caps.
pub const MAX_DIALS: i64 = 50;

/// What the adapter reads pushes with: the account's zone (for date-time
/// strings), the operator's intent-grade labels and the tag table.
pub struct Reader<'a> {
    pub tz: chrono_tz::Tz,
    pub labels: &'a BTreeMap<String, Intent>,
    pub tags: &'a TagIntents,
}

/// The raw code of a dial the vendor redialed after: the push gives only
/// counts, not each earlier dial's status.
pub const REDIALED: &str = "REDIALED";

impl Reader<'_> {
    /// A push body: an object (one record) or an array of records. Only a
    /// body that is not JSON, or neither, is malformed.
    pub fn parse(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        let records = push_records(body, "a call record object")?;
        Ok(ParsedCallback::per_record(&records, PHONE_KEYS, |r| self.record(r).map(|e| vec![e])))
    }

    /// One call record as an event, or why it cannot be read (naming the field).
    pub fn record(&self, r: &Value) -> Result<CallEvent, String> {
        fields::object(r)?;
        let phone = fields::text(r, "calledPhoneNumber")?.ok_or("calledPhoneNumber: missing")?;
        if !phone.chars().any(|c| c.is_ascii_digit()) {
            return Err(format!("calledPhoneNumber: not a phone number: {phone:?}"));
        }
        // A status word: `resultStatus: 1` is no spelling of one (rejected).
        let status = fields::word(r, "resultStatus")?;
        let level = fields::text(r, "intentLevelDetailName")?;
        let mut tags = Vec::new();
        for key in TAG_FIELDS {
            tags.extend(fields::names(r, key)?);
        }
        let tagged = self.tags.intent(tags.iter().map(String::as_str));
        let tag = tagged.and_then(|i| tags.iter().find(|t| self.tags.intent([t.as_str()]) == Some(i)));
        let signals = Signals { level: level.as_deref(), tagged: tagged.zip(tag.map(String::as_str)) };
        let outcome = codes::normalize(status.as_deref(), signals, self.labels);
        let started = fields::time(r, "startTime", self.tz)?;
        let ended = fields::time(r, "endTime", self.tz)?;
        let chat = fields::int(r, "chatDuration")?;
        let dials = dial_count(fields::int(r, "callCount")?, fields::int(r, "redialTimes")?);
        let (first_dial, redials) = split_dials(dials, &outcome, started);
        let details = super::details::read(r, started, ended, chat)?;
        Ok(CallEvent {
            attempt_ref: reference(r)?,
            external_call_id: fields::text(r, "callId")?,
            vendor_task_id: fields::text(r, "robotCallJobId")?,
            phone: Some(e164(&phone)),
            started_at: started,
            ended_at: ended,
            duration_ms: chat.map(|s| s.max(0) * 1000),
            redials,
            first_dial,
            recording_url: details.recording_url,
            transcript: details.transcript,
            ring_ms: details.ring_ms,
            billed_ms: details.billed_ms,
            cost: details.cost,
            ..CallEvent::final_outcome(outcome)
        })
    }
}

/// Our reference from `properties` (a map; some pushes send it as a JSON
/// string of one). Any other type is a wrong type.
fn reference(r: &Value) -> Result<Option<String>, String> {
    let parsed;
    let props = match r.get("properties") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).ok().filter(Value::is_object).ok_or_else(|| {
                format!("properties: expected a map, got {}", fields::shown(&Value::from(s.as_str())))
            })?;
            &parsed
        }
        Some(v @ Value::Object(_)) => v,
        Some(v) => return Err(format!("properties: expected a map, got {}", fields::shown(v))),
    };
    fields::text(props, REF_PROPERTY).map_err(|e| format!("properties.{e}"))
}

/// How many real dials one record stands for: `callCount` (number of
/// calls) when the push has it, else the first dial plus `redialTimes`.
pub fn dial_count(call_count: Option<i64>, redial_times: Option<i64>) -> i64 {
    call_count.filter(|c| *c >= 1).or(redial_times.map(|r| 1 + r.max(0))).unwrap_or(1).min(MAX_DIALS)
}

/// The first dial's outcome and the vendor's redials after it. The push's
/// outcome and time are the last dial's. The dials before it were redialed,
/// so they were no conversation, but the push does not say what they were
/// (busy, no answer, powered off...): they are `unknown` with raw code
/// `ai-voice:REDIALED`, not a guessed `no_answer` that would feed
/// no-answer statistics and rules.
pub fn split_dials(
    dials: i64,
    last: &Outcome,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> (Option<VendorRedial>, Vec<VendorRedial>) {
    if dials <= 1 {
        return (None, Vec::new());
    }
    let earlier = Outcome::new(Disposition::Unknown).with_raw_code(KIND, REDIALED);
    let mut redials: Vec<VendorRedial> =
        (2..dials).map(|_| VendorRedial { external_call_id: None, at: None, outcome: earlier.clone() }).collect();
    redials.push(VendorRedial { external_call_id: None, at, outcome: last.clone() });
    (Some(VendorRedial { external_call_id: None, at: None, outcome: earlier }), redials)
}
