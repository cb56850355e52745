//! Blu's request bodies, and lenient readers of its result records and
//! pre-dial checks, shared by the adapter and the fake.
//!
//! The public pages show the request bodies but not the result record's
//! fields (the callback page repeats the upload example). The record is read
//! with these names, aliases in brackets (assumption, see the module docs):
//! `taskId`, `id` (our record id, echoed), `orderId`, `mobile`,
//! `callStatus` [`lineStatus`, `status`] = D00..D99/NAN or a special error
//! code, `intention` [`intent`, `conclusion`] = a dictionary #1/#2 label,
//! `callStartTime`/`callEndTime` [`startTime`/`endTime`] as
//! `YYYY-MM-DD HH:MM:SS` in the account zone or Unix (milli)seconds,
//! `duration` [`callDuration`] in seconds, `paymentTime` [`slot`] as
//! `['start', 'end']` in the account zone.

use crate::vendors::common::{as_i64, code_text, local_time, unix_time};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Header names of the signature.
pub const APP_ID: &str = "appId";
pub const TIMESTAMP: &str = "timeStamp";
pub const SIGN: &str = "sign";

/// Envelope code of success.
pub const SUCCESS: &str = "2000";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub task_id: String,
    pub records: Vec<UploadRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    /// Our attempt_ref: Blu echoes record ids back in results.
    pub id: String,
    pub name: String,
    pub mobile: String,
    /// JSON object as a string: `{"orderId": attempt_ref, "caseId": ...}`
    /// (Blu's example carries `uniqueId`/`orderId` here; pre-dial checks send these back).
    pub ext_vars: String,
    /// JSON object as a string: the contact's variables for the bot script.
    pub call_vars: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelCall {
    pub task_id: String,
    pub mobile: String,
    pub order_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    pub task_id: String,
    pub page_no: u32,
    pub page_size: u32,
}

/// One result record as read from a callback or a query page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultRecord {
    pub task_id: Option<String>,
    pub id: Option<String>,
    pub order_id: Option<String>,
    pub mobile: Option<String>,
    pub call_status: Option<String>,
    pub intention: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_s: Option<i64>,
    /// The payment-time slot the bot extracted (`[start, end]`), if any; one
    /// end becomes the outcome's requested time (`payment_slot_callback`).
    pub payment_slot: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

fn text(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| v.get(*k).and_then(code_text)).filter(|s| !s.is_empty())
}

fn time(v: &Value, keys: &[&str], tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let raw = keys.iter().find_map(|k| v.get(*k))?;
    match raw {
        Value::String(s) if s.trim().chars().all(|c| c.is_ascii_digit()) => unix_time(raw),
        Value::String(s) => local_time(s, tz),
        _ => unix_time(raw),
    }
}

/// `['2024-08-15 07:00:00', '2024-08-15 12:00:00']` (a string, as Blu's
/// annex prints it) or a JSON array of two strings; `null` when not extracted.
pub fn payment_slot(v: &Value, tz: chrono_tz::Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let parts: Vec<String> = match v {
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Value::String(s) => s
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|p| p.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
            .collect(),
        _ => return None,
    };
    match parts.as_slice() {
        [a, b] => Some((local_time(a, tz)?, local_time(b, tz)?)),
        _ => None,
    }
}

impl ResultRecord {
    /// Read one record; `task_id` fills in a taskId given beside the records.
    pub fn read(v: &Value, task_id: Option<&str>, tz: chrono_tz::Tz) -> ResultRecord {
        let ext: Value =
            v.get("extVars").and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
        ResultRecord {
            task_id: text(v, &["taskId"]).or_else(|| task_id.map(str::to_string)),
            id: text(v, &["id"]).or_else(|| text(&ext, &["attemptRef"])),
            order_id: text(v, &["orderId"]).or_else(|| text(&ext, &["orderId"])),
            mobile: text(v, &["mobile", "phone"]),
            call_status: text(v, &["callStatus", "lineStatus", "status"]),
            intention: text(v, &["intention", "intent", "conclusion"]),
            started_at: time(v, &["callStartTime", "startTime"], tz),
            ended_at: time(v, &["callEndTime", "endTime"], tz),
            duration_s: ["duration", "callDuration"].iter().find_map(|k| v.get(*k).and_then(as_i64)),
            payment_slot: ["paymentTime", "slot"].iter().find_map(|k| v.get(*k).and_then(|x| payment_slot(x, tz))),
        }
    }

    /// A record with neither a line status nor a conclusion has not been called yet.
    pub fn is_final(&self) -> bool {
        self.call_status.is_some() || self.intention.is_some()
    }
}

/// The records of a callback body: `{taskId, records:[...]}` (the shape on
/// Blu's callback page) or one flat record.
pub fn callback_records(body: &Value, tz: chrono_tz::Tz) -> Result<Vec<ResultRecord>, String> {
    if !body.is_object() {
        return Err("not a JSON object".into());
    }
    let task = text(body, &["taskId"]);
    match body.get("records") {
        Some(Value::Array(list)) => Ok(list.iter().map(|r| ResultRecord::read(r, task.as_deref(), tz)).collect()),
        Some(_) => Err("`records` is not an array".into()),
        None => Ok(vec![ResultRecord::read(body, None, tz)]),
    }
}

/// The records of a `queryCallResult` answer's `data`: `{count, records|list:[...]}` or an array.
pub fn query_records(data: &Value, task_id: &str, tz: chrono_tz::Tz) -> Vec<ResultRecord> {
    let list = match data {
        Value::Array(a) => a.as_slice(),
        _ => ["records", "list", "rows"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_array))
            .map_or(&[][..], |a| a.as_slice()),
    };
    list.iter().map(|r| ResultRecord::read(r, Some(task_id), tz)).collect()
}

/// A pre-dial check as Blu sends it (assumed): `{taskId, id, mobile}` plus
/// the record's extVars fields (`orderId` = our attempt_ref).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredialRequest {
    pub task_id: Option<String>,
    pub id: Option<String>,
    pub mobile: Option<String>,
}

impl PredialRequest {
    pub fn read(v: &Value) -> PredialRequest {
        PredialRequest {
            task_id: text(v, &["taskId"]),
            id: text(v, &["id", "orderId", "attemptRef"]),
            mobile: text(v, &["mobile", "phone"]),
        }
    }
}
