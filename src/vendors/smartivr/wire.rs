//! SmartIVR's JSON shapes, read leniently: numbers may come as strings,
//! fields may be `null` or missing. Documented shapes first, then the
//! bodies of the undocumented task endpoints (assumptions, see `mod.rs`).

use crate::vendors::common::as_i64;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A JSON number or numeric string, `null`/missing as `None`.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(as_i64))
}

/// A JSON string or number as text, `null`/missing as `None`.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(crate::vendors::common::code_text))
}

/// One row of `GET v1/task/number` (某任务的电话号码).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct NumberRow {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    /// The callee as it was added to the task.
    pub number: String,
    /// 0 waiting, 1 answered, 2-12 failures (see `codes::STATUS_CODES`).
    #[serde(deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    pub status_str: Option<String>,
    pub callid: Option<String>,
    pub calldate: Option<String>,
    pub answerdate: Option<String>,
    pub hangupdate: Option<String>,
    /// Talk time, milliseconds.
    #[serde(deserialize_with = "lenient_i64")]
    pub bill: Option<i64>,
    /// Whole call including ringing, milliseconds.
    #[serde(deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
    pub hangupcause: Option<String>,
    pub is_blacklist: Option<bool>,
    /// Only with `call_history=1`: every dial of the number, newest first.
    pub call_history: Option<Vec<HistoryRow>>,
    /// Assumption: the free-text field our add-numbers body fills with the
    /// attempt ref, if the vendor echoes it. Not in the document.
    #[serde(deserialize_with = "lenient_text", skip_serializing_if = "Option::is_none")]
    pub custom: Option<String>,
    /// Not in the number rows of the document; assumed present in the
    /// (undocumented) call notification body. The history rows carry it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Assumed possibly present in a call notification; never in number rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_name: Option<String>,
}

/// One dial of a number (`call_history[]`, the `auto_call_histories` table).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HistoryRow {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    pub task_id: Option<String>,
    pub call_id: Option<String>,
    pub number: Option<String>,
    pub call_time: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub bill: Option<i64>,
    pub hangup_cause: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub hangup_code: Option<String>,
    pub call_status: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    pub status_str: Option<String>,
    pub created_at: Option<String>,
}

/// A call grade (`level`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Level {
    pub id: Option<String>,
    /// e.g. `D级`.
    pub name: Option<String>,
    /// e.g. `无意向`.
    pub alias: Option<String>,
}

/// A tag or tag group: only its name is used.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Named {
    pub name: Option<String>,
}

/// One call record: a row of `query_done_task_phones`, the `data` of
/// `GET v1/record/{id}`, and `info.record` of `record_info`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct CallRecord {
    pub id: String,
    pub task_id: Option<String>,
    pub callid: Option<String>,
    pub callee: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub score: Option<i64>,
    /// Whole call, milliseconds.
    #[serde(deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
    /// Talk time, milliseconds.
    #[serde(deserialize_with = "lenient_i64")]
    pub bill: Option<i64>,
    pub calldate: Option<String>,
    pub answerdate: Option<String>,
    pub hangupdate: Option<String>,
    pub hangupcause: Option<String>,
    /// 1 the robot hung up, 2 the callee.
    #[serde(deserialize_with = "lenient_i64")]
    pub hangup_disposition: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub rounds: Option<i64>,
    /// e.g. `D级(无意向)`.
    pub level_name: Option<String>,
    pub level: Option<Level>,
    pub tags: Option<Vec<Named>>,
    pub tag_groups: Option<Vec<Named>>,
}

impl CallRecord {
    /// The grade label: `level_name`, else `level.name(alias)`.
    pub fn grade_label(&self) -> Option<String> {
        if let Some(name) = self.level_name.as_ref().filter(|n| !n.trim().is_empty()) {
            return Some(name.clone());
        }
        let level = self.level.as_ref()?;
        let name = level.name.clone().filter(|n| !n.trim().is_empty())?;
        Some(match level.alias.as_deref().filter(|a| !a.is_empty()) {
            Some(alias) => format!("{name}({alias})"),
            None => name,
        })
    }
}

/// One turn of a conversation (`records[]` of `record_info`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Turn {
    pub id: Option<String>,
    pub record_id: Option<String>,
    pub notify: Option<String>,
    /// What the callee said.
    pub question: Option<String>,
    /// What the robot said.
    pub answer_content: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub sequence: Option<i64>,
    pub tags: Option<Vec<Named>>,
}

/// The notify type of ASR progress turns the document says to filter out.
pub const ASR_PROGRESS: &str = "asrprogress_notify";

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct RecordInfoInfo {
    pub record: Option<CallRecord>,
    pub task: Option<Value>,
}

/// `GET v1/task/record_info/{task_id}/{record_id}` (no envelope).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct RecordInfo {
    pub records: Vec<Turn>,
    pub info: Option<RecordInfoInfo>,
}

impl RecordInfo {
    /// The conversation in order, without the ASR progress turns.
    pub fn dialogue(&self) -> Vec<&Turn> {
        let mut turns: Vec<&Turn> = self.records.iter().filter(|t| t.notify.as_deref() != Some(ASR_PROGRESS)).collect();
        turns.sort_by_key(|t| t.sequence.unwrap_or(i64::MAX));
        turns
    }
}

/// One page of a paged list (15 rows per page, pages from 1 to `last_page`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub total: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub last_page: Option<i64>,
}

/// Read a page from an answer: `query_done_task_phones` puts the page at
/// the top level, `task/number` inside the `{code, status, message, data}`
/// envelope.
pub fn page<T: serde::de::DeserializeOwned>(value: &Value) -> Result<Page<T>, String> {
    let inner = match value.get("data") {
        Some(Value::Object(o)) if o.contains_key("data") => value["data"].clone(),
        _ => value.clone(),
    };
    serde_json::from_value(inner).map_err(|e| format!("unexpected page shape: {e}"))
}

/// The `data` of an enveloped answer as `T`.
pub fn data<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.get("data").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("unexpected `data`: {e}"))
}

// ---- Undocumented task endpoints (assumed shapes, served the same by the fake) ----

/// Assumed `POST v1/task` body: the task row fields of `record_info.info.task`
/// that the adapter controls, plus the end of dialing under the field named
/// by `options.end_time_field` (server-zone `YYYY-MM-DD HH:MM:SS`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CreateTask {
    pub name: String,
    /// The robot script group (话术组) the task runs.
    pub group_id: i64,
    /// Where results are notified; empty when notifications are off.
    pub call_notify_url: String,
    /// 0 none, 1 failures only, 2 all.
    pub call_notify_type: u8,
    /// Vendor redials of unanswered numbers (0 = off).
    pub recycle_limit: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximumcall: Option<u32>,
}

/// Assumed `data` of a created task: the task row, keyed `uuid` as in
/// `record_info.info.task` (also read as `id` / `task_id`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct CreatedTask {
    #[serde(alias = "id", alias = "task_id")]
    pub uuid: String,
    pub name: Option<String>,
}

/// One number in the assumed add-numbers body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NewNumber {
    pub number: String,
    /// Our attempt ref (assumed free-text field).
    #[serde(default)]
    pub custom: Option<String>,
    /// Script variables (name etc.).
    #[serde(default)]
    pub variables: Value,
}

/// Assumed `POST v1/task/{task_id}/numbers` body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AddNumbers {
    pub numbers: Vec<NewNumber>,
}

/// Assumed `data` of the add-numbers answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct AddedNumbers {
    #[serde(deserialize_with = "lenient_i64")]
    pub added: Option<i64>,
    /// Numbers refused as malformed.
    pub invalid: Vec<String>,
    /// Numbers already in the task.
    pub duplicate: Vec<String>,
}

/// Assumed delete-numbers body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DeleteNumbers {
    pub numbers: Vec<String>,
}
