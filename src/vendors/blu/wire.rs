//! Blu's request bodies (built by the adapter) and the readers of what Blu
//! sends back: result records, query pages and pre-dial checks.
//!
//! The public pages show the request bodies but not the result record's
//! fields (the callback page repeats the upload example). A record is read
//! with these names, aliases in brackets (assumption, see the module docs):
//! `taskId`, `id` (our record id, echoed), `orderId`, `mobile` [`phone`],
//! `callStatus` [`lineStatus`, `status`] = D00..D99/NAN or a special error
//! code, `intention` [`intent`, `conclusion`] = a dictionary #1/#2 label,
//! `callStartTime`/`callEndTime` [`startTime`/`endTime`] as
//! `YYYY-MM-DD HH:MM:SS` in the account zone or Unix (milli)seconds,
//! `duration` [`callDuration`] in seconds, `paymentTime` [`slot`] as
//! `['start', 'end']` in the account zone, `scripts` and `recordUrl` (see
//! `scripts`).
//!
//! Every field may be missing or `null`, and numbers and strings stand for
//! each other; a field of another JSON type (an object where a code belongs,
//! a boolean for a duration) rejects the record with the field's name.

use crate::vendors::common::{code_text, first_key, int_at, local_time, num_at, text_at, unix_time, wrong_type};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Header names of the signature.
pub const APP_ID: &str = "appId";
pub const TIMESTAMP: &str = "timeStamp";
pub const SIGN: &str = "sign";

/// Envelope code of success.
pub const SUCCESS: &str = "2000";

/// Where a reply's code is read: Blu documents `code` (some replies also
/// carry a `status` word such as "success", which must not be taken for it).
pub const ENVELOPE_CODE_KEYS: &[&str] = &["code", "status"];

/// `POST uploadAndStartJob`. Request bodies only: what Blu sends back is
/// read from JSON values below, never through these types.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub task_id: String,
    pub records: Vec<UploadRecord>,
}

#[derive(Debug, Clone, Serialize)]
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

/// `POST taskCancelPhoneCall`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelCall {
    pub task_id: String,
    pub mobile: String,
    pub order_id: String,
}

/// `POST queryCallResult`.
#[derive(Debug, Clone, Serialize)]
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
    pub duration_s: Option<f64>,
    /// The payment-time slot the bot extracted (`[start, end]`), if any; one
    /// end becomes the outcome's requested time (`payment_slot_callback`).
    pub payment_slot: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The call's recording and dialogue (`super::scripts`).
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
}

/// The first present alias of a text field.
fn text(v: &Value, keys: &[&str]) -> Result<Option<String>, String> {
    match first_key(v, keys) {
        Some(k) => text_at(v, k),
        None => Ok(None),
    }
}

/// A time as local `YYYY-MM-DD HH:MM:SS` or Unix (milli)seconds, string or
/// number. A string in neither form (`0000-00-00 00:00:00`, a format Blu
/// may use that we do not know) is read as no time: times only place the
/// dial, the outcome does not depend on them.
fn time(v: &Value, keys: &[&str], tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, String> {
    let Some(key) = first_key(v, keys) else { return Ok(None) };
    match &v[key] {
        Value::String(s) if s.trim().chars().all(|c| c.is_ascii_digit()) => Ok(unix_time(&v[key])),
        Value::String(s) => Ok(local_time(s, tz)),
        Value::Number(_) => Ok(unix_time(&v[key])),
        other => Err(wrong_type(key, "a time", other)),
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

/// `extVars` as Blu echoes it: a JSON object in a string (or, leniently,
/// the object itself); free text of the merchant's otherwise, so never an error.
fn ext_vars(v: &Value) -> Value {
    match v.get("extVars") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(o @ Value::Object(_)) => o.clone(),
        _ => Value::Null,
    }
}

impl ResultRecord {
    /// Read one record; `task_id` fills in a taskId given beside the
    /// records. An error names the field whose type is wrong.
    pub fn read(v: &Value, task_id: Option<&str>, tz: chrono_tz::Tz) -> Result<ResultRecord, String> {
        if !v.is_object() {
            return Err(wrong_type("record", "an object", v));
        }
        let ext = ext_vars(v);
        let slot = match first_key(v, &["paymentTime", "slot"]) {
            None => None,
            Some(k) => match &v[k] {
                s @ (Value::String(_) | Value::Array(_)) => payment_slot(s, tz),
                other => return Err(wrong_type(k, "a [start, end] slot", other)),
            },
        };
        Ok(ResultRecord {
            task_id: text(v, &["taskId"])?.or_else(|| task_id.map(str::to_string)),
            id: text(v, &["id"])?.or_else(|| ext.get("attemptRef").and_then(code_text)),
            order_id: text(v, &["orderId"])?.or_else(|| ext.get("orderId").and_then(code_text)),
            mobile: text(v, &["mobile", "phone"])?,
            call_status: text(v, &["callStatus", "lineStatus", "status"])?,
            intention: text(v, &["intention", "intent", "conclusion"])?,
            started_at: time(v, &["callStartTime", "startTime"], tz)?,
            ended_at: time(v, &["callEndTime", "endTime"], tz)?,
            duration_s: match first_key(v, &["duration", "callDuration"]) {
                Some(k) => num_at(v, k)?,
                None => None,
            },
            payment_slot: slot,
            recording_url: super::scripts::recording(v)?,
            transcript: super::scripts::transcript(v)?,
        })
    }

    /// A record with neither a line status nor a conclusion has not been called yet.
    pub fn is_final(&self) -> bool {
        self.call_status.is_some() || self.intention.is_some()
    }

    /// Our reference: the record `id`, else the `orderId` we put in extVars.
    pub fn reference(&self) -> Option<&str> {
        self.id.as_deref().or(self.order_id.as_deref())
    }
}

/// The records of a callback body and the taskId given beside them:
/// `{taskId, records:[...]}` (the shape on Blu's callback page), one flat
/// record, or (leniently) a JSON array of records. `Err` only when the body
/// is none of these.
pub fn callback_records(body: &Value) -> Result<(Vec<&Value>, Option<String>), String> {
    match body {
        Value::Array(list) if !list.is_empty() => Ok((list.iter().collect(), None)),
        Value::Object(map) => {
            let task = text_at(body, "taskId").ok().flatten();
            match map.get("records") {
                None => Ok((vec![body], None)),
                Some(Value::Array(list)) if !list.is_empty() => Ok((list.iter().collect(), task)),
                Some(r @ Value::Object(_)) => Ok((vec![r], task)),
                Some(_) => Err("`records` holds no record".into()),
            }
        }
        _ => Err("not a JSON object or array of records".into()),
    }
}

/// One page of a `queryCallResult` answer's `data`: `{total, records|list|rows:[...]}`
/// or a bare array. The records stay raw, read one by one by the caller.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryPage {
    pub records: Vec<Value>,
    /// The number of records of the whole task, when the page says
    /// (`total`, `totalCount`, `totalNum`). `count` is not read as a total:
    /// it may as well be the page's own length.
    pub total: Option<u64>,
}

impl QueryPage {
    pub fn read(data: &Value) -> Result<QueryPage, String> {
        match data {
            Value::Null => Ok(QueryPage::default()),
            Value::Array(a) => Ok(QueryPage { records: a.clone(), total: None }),
            Value::Object(_) => {
                let records = match first_key(data, &["records", "list", "rows"]) {
                    None => Vec::new(),
                    Some(k) => match &data[k] {
                        Value::Array(a) => a.clone(),
                        other => return Err(wrong_type(k, "an array of records", other)),
                    },
                };
                // A total that cannot be read is no total: paging then goes on to an empty page.
                let total = ["total", "totalCount", "totalNum"]
                    .iter()
                    .find_map(|k| int_at(data, k).ok().flatten())
                    .and_then(|n| u64::try_from(n).ok());
                Ok(QueryPage { records, total })
            }
            other => Err(wrong_type("data", "a page of records", other)),
        }
    }
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
    pub fn read(v: &Value) -> Result<PredialRequest, String> {
        Ok(PredialRequest {
            task_id: text(v, &["taskId"])?,
            id: text(v, &["id", "orderId", "attemptRef"])?,
            mobile: text(v, &["mobile", "phone"])?,
        })
    }
}
