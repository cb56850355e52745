//! One callee record of AIRudder (a webhook `details[]` entry or a `/detail`
//! row) read from JSON as the vendor may send it: `null` is absent for every
//! field, integers may come as strings, times as local text (or Unix
//! numbers). A field we read that has a truly wrong type (an object where a
//! string belongs, `"forty"` for a duration, a number where the document
//! lists enum values: `result`, `ring_type`, `hangup_type`) fails the record with a reason
//! naming the field — it is rejected and kept for audit, never read as
//! `unknown`. Fields we do not read (`id`, `question_answer`,
//! `talk_round`, `robot_hash`, `caller_number`) are not checked.

use super::codes::{self, Dial};
use super::{KIND, LabelMeaning};
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::tags::TagIntents;
use crate::vendors::common::{code_text, e164, local_time, unix_time};
use crate::vendors::{CallEvent, VendorRedial};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Most dials one record is believed to stand for: `call_times` beyond it is
/// a vendor glitch, not dials (AIRudder's `repeat_number` is a handful).
pub const MAX_DIALS: i64 = 32;

/// Raw code of a dial `call_times` counts but `redail_call[]` does not describe.
pub const UNREPORTED: &str = "unreported";

/// What reading a record needs from the adapter's settings.
#[derive(Debug, Clone)]
pub struct Reader {
    pub tz: chrono_tz::Tz,
    pub labels: BTreeMap<String, LabelMeaning>,
    pub tags: TagIntents,
    pub reference_variable: String,
    pub callback_slot: String,
    /// `options.recording_url`: a template with `{call_id}`, or empty.
    pub recording_url: String,
}

use crate::vendors::common::shown;

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(path: &str, want: &str, v: &Value) -> String {
    format!("{path}: expected {want}, got {} {}", kind_of(v), shown(v))
}

/// A present, non-null field.
fn field<'a>(rec: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    rec.get(key).filter(|v| !v.is_null())
}

/// Text (a number is its digits); absent, null or blank → None.
pub fn text(rec: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, String> {
    match field(rec, key) {
        None => Ok(None),
        Some(v) => code_text(v).map(|t| Some(t).filter(|t| !t.is_empty())).ok_or_else(|| wrong(path, "a string", v)),
    }
}

/// A value of one of the document's enums (`result`, `ring_type`,
/// `hangup_type`): text only. A number there is no spelling of any value
/// (ITNIO-style `resultStatus: 1`): read as unknown it would finish the
/// call, so it fails the record. Absent, null or blank → None.
pub fn enum_text(rec: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, String> {
    match field(rec, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|t| !t.is_empty())),
        Some(v) => Err(wrong(path, "a string", v)),
    }
}

/// An integer, as a number or numeric text; absent, null or blank → None.
pub fn int(rec: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, String> {
    match field(rec, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| wrong(path, "an integer", &Value::Number(n.clone()))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(f as i64)),
            _ => Err(format!("{path}: expected an integer, got {}", shown(&Value::String(s.clone())))),
        },
        Some(v) => Err(wrong(path, "an integer", v)),
    }
}

/// A time: `YYYY-MM-DD HH:MM:SS` in the account zone (the document's form),
/// RFC 3339, or Unix seconds/milliseconds. Text that is none of these (a
/// placeholder such as `0000-00-00 00:00:00`) is no time; the raw body
/// keeps it.
fn time(rec: &Map<String, Value>, key: &str, path: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, String> {
    match field(rec, key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            Ok(local_time(s, tz).or_else(|| DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))))
        }
        Some(n @ Value::Number(_)) => Ok(unix_time(n)),
        Some(v) => Err(wrong(path, "a time", v)),
    }
}

/// An object; absent or null → None. `Variables` may also come as a JSON
/// string holding the object.
fn object(rec: &Map<String, Value>, key: &str, path: &str) -> Result<Option<Map<String, Value>>, String> {
    match field(rec, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(format!("{path}: expected an object, got {}", shown(&Value::String(s.clone())))),
        },
        Some(v) => Err(wrong(path, "an object", v)),
    }
}

/// The texts of `EventLabel`: its keys and its string values (an array of
/// label names is read too).
fn event_labels(rec: &Map<String, Value>) -> Result<Vec<String>, String> {
    match field(rec, "EventLabel") {
        None => Ok(Vec::new()),
        Some(Value::Object(m)) => {
            let mut texts: Vec<String> = m.keys().cloned().collect();
            texts.extend(m.values().filter_map(code_text));
            Ok(texts)
        }
        Some(Value::Array(a)) => {
            a.iter().map(|v| code_text(v).ok_or_else(|| wrong("EventLabel[]", "a string", v))).collect()
        }
        Some(v) => Err(wrong("EventLabel", "an object", v)),
    }
}

fn as_record<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| wrong(path, "an object", v))
}

impl Reader {
    /// One record as an event of task `task_id` (None when the body named
    /// no task: it is then matched by our reference or the phone).
    pub fn event(&self, task_id: Option<&str>, value: &Value) -> Result<CallEvent, String> {
        let rec = as_record(value, "record")?;
        let callee = text(rec, "callee", "callee")?.ok_or("callee: missing")?;
        let result = enum_text(rec, "result", "result")?.ok_or("result: missing")?;
        let label = text(rec, "result_label", "result_label")?;
        let ring = enum_text(rec, "ring_type", "ring_type")?;
        let hangup = enum_text(rec, "hangup_type", "hangup_type")?;
        let duration = int(rec, "duration", "duration")?;
        let call_id = text(rec, "call_id", "call_id")?;
        let call_times = int(rec, "call_times", "call_times")?;
        // Seconds, like `duration` (the document gives no unit; its example
        // rings 2 s before a 43 s call).
        let ring_time = int(rec, "ring_time", "ring_time")?;
        let started_at = time(rec, "call_start_time", "call_start_time", self.tz)?;
        let ended_at = time(rec, "call_end_time", "call_end_time", self.tz)?;
        let description = text(rec, "intention_description", "intention_description")?;
        let slots = object(rec, "NerSlots", "NerSlots")?;
        let variables = object(rec, "Variables", "Variables")?;
        let mut signals = event_labels(rec)?;
        signals.extend(description);
        let signalled = codes::signalled_intent(signals.iter().map(String::as_str), &self.tags);
        let redials = self.redials(rec, call_id.as_deref())?;

        let dial = Dial {
            result: Some(&result),
            ring_type: ring.as_deref(),
            hangup_type: hangup.as_deref(),
            label: label.as_deref(),
            duration: duration.unwrap_or(0),
            signalled,
        };
        let (is_final, outcome) = codes::normalize(&dial, &self.labels);
        let slots = slots.map(Value::Object).unwrap_or(Value::Null);
        let outcome = outcome.with_requested_at(super::slots::requested_time(&slots, &self.callback_slot, self.tz));
        let attempt_ref = variables
            .as_ref()
            .and_then(|v| v.get(&self.reference_variable))
            .and_then(code_text)
            .filter(|r| !r.is_empty());
        let last = VendorRedial { external_call_id: call_id.clone(), at: started_at.or(ended_at), outcome };
        let (first_dial, redials) = dial_list(redials, call_times, last.clone());
        let seconds = duration.unwrap_or(0);
        Ok(CallEvent {
            attempt_ref,
            external_call_id: call_id,
            vendor_task_id: task_id.map(str::to_string),
            phone: Some(e164(&callee)),
            is_final,
            started_at,
            ended_at,
            duration_ms: (seconds > 0 || started_at.is_some()).then_some(seconds * 1000),
            redials,
            first_dial,
            ring_ms: ring_time.map(|s| s.max(0) * 1000),
            recording_url: self.recording_of(&last.outcome, last.external_call_id.as_deref()),
            ..CallEvent::final_outcome(last.outcome)
        })
    }

    /// The recording reference of an answered call (`recording_url` with
    /// its call id); nothing was recorded of a call nobody answered.
    fn recording_of(&self, outcome: &Outcome, call_id: Option<&str>) -> Option<String> {
        if self.recording_url.is_empty() || !outcome.disposition.is_connected() {
            return None;
        }
        Some(self.recording_url.replace("{call_id}", call_id?))
    }

    /// `redail_call[]`: AIRudder's earlier dials of this callee, oldest
    /// first. An entry with the record's own `call_id` is the record itself.
    fn redials(&self, rec: &Map<String, Value>, own_call: Option<&str>) -> Result<Vec<VendorRedial>, String> {
        let entries = match field(rec, "redail_call") {
            None => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(v) => return Err(wrong("redail_call", "an array", v)),
        };
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let path = |k: &str| format!("redail_call[{i}].{k}");
            let r = as_record(entry, &format!("redail_call[{i}]"))?;
            let call_id = text(r, "call_id", &path("call_id"))?;
            if call_id.is_some() && call_id.as_deref() == own_call {
                continue;
            }
            let ring = enum_text(r, "ring_type", &path("ring_type"))?;
            let hangup = enum_text(r, "hangup_type", &path("hangup_type"))?;
            let label = text(r, "result_label", &path("result_label"))?;
            let dial = Dial {
                result: None,
                ring_type: ring.as_deref(),
                hangup_type: hangup.as_deref(),
                label: label.as_deref(),
                duration: 0,
                signalled: None,
            };
            let at = time(r, "call_start_time", &path("call_start_time"), self.tz)?;
            out.push(VendorRedial { external_call_id: call_id, at, outcome: codes::normalize(&dial, &self.labels).1 });
        }
        // Oldest first; entries without a time keep their order after the timed ones.
        let (mut timed, untimed): (Vec<_>, Vec<_>) = out.into_iter().partition(|r| r.at.is_some());
        timed.sort_by_key(|r| r.at);
        timed.extend(untimed);
        Ok(timed)
    }
}

/// An outcome for a dial AIRudder counted (`call_times`) but did not describe.
pub fn unreported() -> Outcome {
    Outcome::new(Disposition::Unknown).with_raw_code(KIND, UNREPORTED)
}

/// The record's dials as `(first_dial, redials)` for [`CallEvent`]: every
/// dial `call_times` counts is reported, the record itself (`last`) being
/// the last one. `earlier` are the described earlier dials, oldest first;
/// dials counted but not described come after them, with an unknown
/// outcome and no call id.
pub fn dial_list(
    earlier: Vec<VendorRedial>,
    call_times: Option<i64>,
    last: VendorRedial,
) -> (Option<VendorRedial>, Vec<VendorRedial>) {
    let described = earlier.len() as i64 + 1;
    let total = call_times.unwrap_or(0).clamp(0, MAX_DIALS).max(described);
    if total == 1 {
        return (None, Vec::new());
    }
    let missing = (total - described) as usize;
    let mut dials = earlier;
    dials.extend(
        std::iter::repeat_with(|| VendorRedial { external_call_id: None, at: None, outcome: unreported() })
            .take(missing),
    );
    dials.push(last);
    let first = dials.remove(0);
    (Some(first), dials)
}
