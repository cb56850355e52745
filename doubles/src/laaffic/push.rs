//! The Laaffic fake's push record, built as JSON from the documented field
//! list, and the [`Variations`] that make it depart from the document the
//! way real pushes do.

use super::Options;
use crate::fake::Dialed;
use chrono::Utc;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The push fields the published list names, in its order.
pub const PUSH_FIELDS: &[&str] = &[
    "voiceId",
    "callee",
    "callTime",
    "answerTime",
    "hangupTime",
    "ringDuration",
    "chargedDuration",
    "cost",
    "terminationCode",
    "terminationReason",
    "sipCode",
    "intent",
];

/// Fields a record may lack or carry as `null` (`nulls`, `missing_optional`):
/// everything but the callee, the times of the call and its codes.
pub const OPTIONAL_FIELDS: &[&str] =
    &["voiceId", "ringDuration", "chargedDuration", "cost", "terminationReason", "sipCode"];

/// The code the fake sends for an answered call under `unknown_codes`: a
/// collections-range code the document's table does not list.
pub const UNKNOWN_INTENT: &str = "2099";

/// How the fake's pushes depart from the documented record, for tests of
/// what real pushes do. All off by default: the default push is the
/// document's field list with the document's meanings.
#[derive(Debug, Clone, Default)]
pub struct Variations {
    /// Add `taskId` (not in the documented push) to every record.
    pub task_id: bool,
    /// Send `null` for every field of [`OPTIONAL_FIELDS`] (an unanswered
    /// call's `answerTime` is `null` anyway).
    pub nulls: bool,
    /// Leave out every field of [`OPTIONAL_FIELDS`], and `answerTime` of an
    /// unanswered call.
    pub missing_optional: bool,
    /// Numbers as strings: `ringDuration`, `chargedDuration`,
    /// `terminationCode`, `sipCode`.
    pub numbers_as_strings: bool,
    /// Strings as numbers: `intent` (`205`), `callee`, `voiceId`, `cost`.
    pub strings_as_numbers: bool,
    /// Times as Unix seconds instead of local `YYYY-MM-DD HH:MM:SS`.
    pub unix_times: bool,
    /// Answered calls carry [`UNKNOWN_INTENT`] instead of their code.
    pub unknown_codes: bool,
    /// Callees (digits, as dialed) whose record carries `intent` as an
    /// array (`["205"]`): a wrong type, which must be rejected, not read.
    pub wrong_intent_for: HashSet<String>,
    /// Records per pushed array: finished calls are held until this many are
    /// collected or their task has no call left (0 and 1: one per push).
    pub records_per_push: usize,
    /// Every record the fake pushed, in order, for tests to compare with
    /// what the daemon stored.
    pub sent: Option<Arc<Mutex<Vec<Value>>>>,
}

/// The record of one finished call, as the document lists its fields.
pub(super) fn record(opts: &Options, v: &Variations, task_id: i64, i: usize, phone: &str, d: &Dialed) -> Value {
    let tz = opts.tz();
    let time = |t: chrono::DateTime<Utc>| {
        if v.unix_times {
            json!(t.timestamp())
        } else {
            json!(t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        }
    };
    let code = d.code.clone().unwrap_or_else(|| "99998".into());
    let (mut intent, sip) = match code.split_once('-') {
        Some((i, s)) => (i.to_string(), s.parse::<i64>().unwrap_or(480)),
        None if code == "99998" => (code.clone(), 0),
        None => (code.clone(), 200),
    };
    let answered = sip == 200;
    if answered && v.unknown_codes {
        intent = UNKNOWN_INTENT.to_string();
    }
    let secs = (d.ended_at - d.started_at).num_seconds().max(if answered { 1 } else { 0 });
    let termination = if answered {
        0
    } else if intent == "99998" {
        2
    } else {
        1
    };
    let reason = d.not_dialed.clone().unwrap_or_else(|| if answered { "success".into() } else { format!("sip {sip}") });
    let num = |n: i64| if v.numbers_as_strings { json!(n.to_string()) } else { json!(n) };
    let text = |s: &str| match s.parse::<i64>() {
        Ok(n) if v.strings_as_numbers => json!(n),
        _ => json!(s),
    };
    let voice_id = (task_id * 1_000_000 + i as i64).to_string();
    let mut r = Map::new();
    r.insert("voiceId".into(), text(&voice_id));
    r.insert("callee".into(), text(phone));
    r.insert("callTime".into(), time(d.started_at));
    r.insert("answerTime".into(), if answered { time(d.started_at) } else { Value::Null });
    r.insert("hangupTime".into(), time(d.ended_at));
    r.insert("ringDuration".into(), num(if answered { 5 } else { 0 }));
    r.insert("chargedDuration".into(), num(if answered { secs } else { 0 }));
    r.insert("cost".into(), if answered { text("0.0120") } else { text("0") });
    r.insert("terminationCode".into(), num(termination));
    r.insert("terminationReason".into(), json!(reason));
    r.insert("sipCode".into(), num(sip));
    r.insert("intent".into(), if v.wrong_intent_for.contains(phone) { json!([intent]) } else { text(&intent) });
    if v.nulls {
        for f in OPTIONAL_FIELDS {
            r.insert(f.to_string(), Value::Null);
        }
    }
    if v.missing_optional {
        for f in OPTIONAL_FIELDS {
            r.remove(*f);
        }
        if !answered {
            r.remove("answerTime");
        }
    }
    if v.task_id {
        r.insert("taskId".into(), json!(task_id));
    }
    Value::Object(r)
}
