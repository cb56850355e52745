//! SmartIVR's JSON, read row by row from JSON values: every optional field
//! may be missing or `null`, numbers may come as strings and strings as
//! numbers; a field of any other type makes that row unreadable with the
//! field's name, and the rows beside it are still read. The request bodies
//! of the undocumented task endpoints (assumptions, see `mod.rs`) are at the end.

use crate::vendors::common::{code_text, first_key, flag_at, int_at, text_at, wrong_type};
use serde::Serialize;
use serde_json::Value;

/// A field error inside a list: `call_history[1].status: expected ...`.
fn within(prefix: &str, index: usize, e: String) -> String {
    format!("{prefix}[{index}].{e}")
}

/// An array field: missing or `null` is empty, anything but an array an error.
fn list<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(wrong_type(key, "an array", other)),
    }
}

/// The names of a tag list (`tags`, `tag_groups`): objects with a `name`,
/// or (leniently) bare names.
fn names(v: &Value, key: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, item) in list(v, key)?.iter().enumerate() {
        match item {
            Value::Object(_) => out.extend(text_at(item, "name").map_err(|e| within(key, i, e))?),
            Value::String(_) | Value::Number(_) => out.extend(code_text(item).filter(|s| !s.is_empty())),
            Value::Null => {}
            other => return Err(format!("{key}[{i}]: expected a tag, got {other}")),
        }
    }
    Ok(out)
}

fn object(v: &Value) -> Result<(), String> {
    if v.is_object() { Ok(()) } else { Err(wrong_type("row", "an object", v)) }
}

/// One dial of a number (`call_history[]`, the `auto_call_histories` table).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryRow {
    pub id: Option<i64>,
    pub task_id: Option<String>,
    pub call_id: Option<String>,
    pub call_time: Option<String>,
    /// Whole call, milliseconds.
    pub duration: Option<i64>,
    /// Talk time, milliseconds.
    pub bill: Option<i64>,
    pub hangup_cause: Option<String>,
    pub call_status: Option<String>,
    /// The number status this dial ended with (0–12).
    pub status: Option<i64>,
}

impl HistoryRow {
    pub fn read(v: &Value) -> Result<HistoryRow, String> {
        object(v)?;
        Ok(HistoryRow {
            id: int_at(v, "id")?,
            task_id: text_at(v, "task_id")?,
            call_id: text_at(v, "call_id")?,
            call_time: text_at(v, "call_time")?,
            duration: int_at(v, "duration")?,
            bill: int_at(v, "bill")?,
            hangup_cause: text_at(v, "hangup_cause")?,
            call_status: text_at(v, "call_status")?,
            status: int_at(v, "status")?,
        })
    }
}

/// One row of `GET v1/task/number` (某任务的电话号码).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumberRow {
    pub id: Option<i64>,
    /// The callee as it was added to the task.
    pub number: String,
    /// 0 waiting, 1 answered, 2-12 failures (see `codes::STATUS_CODES`);
    /// `None` when the row does not say.
    pub status: Option<i64>,
    pub callid: Option<String>,
    pub calldate: Option<String>,
    pub answerdate: Option<String>,
    pub hangupdate: Option<String>,
    /// Talk time, milliseconds.
    pub bill: Option<i64>,
    /// Whole call including ringing, milliseconds.
    pub duration: Option<i64>,
    pub hangupcause: Option<String>,
    /// 是否在黑名单中: `true`/`false`, `1`/`0` or their strings.
    pub is_blacklist: Option<bool>,
    /// Only with `call_history=1`: every dial of the number, newest first.
    pub call_history: Vec<HistoryRow>,
    /// Assumption: the free-text field our add-numbers body fills with the
    /// attempt ref, if the vendor echoes it. Not in the document.
    pub custom: Option<String>,
    /// Not in the number rows of the document; assumed present in the
    /// (undocumented) call notification body. The history rows carry it.
    pub task_id: Option<String>,
    /// Assumed possibly present in a call notification; never in number rows.
    pub level_name: Option<String>,
    /// Tag names, assumed possibly present in a call notification.
    pub tags: Vec<String>,
}

impl NumberRow {
    pub fn read(v: &Value) -> Result<NumberRow, String> {
        object(v)?;
        let mut call_history = Vec::new();
        for (i, h) in list(v, "call_history")?.iter().enumerate() {
            if !h.is_object() {
                return Err(wrong_type(&format!("call_history[{i}]"), "an object", h));
            }
            call_history.push(HistoryRow::read(h).map_err(|e| within("call_history", i, e))?);
        }
        Ok(NumberRow {
            id: int_at(v, "id")?,
            number: text_at(v, "number")?.ok_or("number: missing")?,
            status: int_at(v, "status")?,
            callid: text_at(v, "callid")?,
            calldate: text_at(v, "calldate")?,
            answerdate: text_at(v, "answerdate")?,
            hangupdate: text_at(v, "hangupdate")?,
            bill: int_at(v, "bill")?,
            duration: int_at(v, "duration")?,
            hangupcause: text_at(v, "hangupcause")?,
            is_blacklist: flag_at(v, "is_blacklist")?,
            call_history,
            custom: text_at(v, "custom")?,
            task_id: text_at(v, "task_id")?,
            level_name: text_at(v, "level_name")?,
            tags: names(v, "tags")?,
        })
    }

    /// The task id of a row that does not carry one: its dials'.
    pub fn history_task(&self) -> Option<&str> {
        self.call_history.iter().find_map(|h| h.task_id.as_deref())
    }
}

/// A call grade (`level`): `{name: "D级", alias: "无意向"}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Level {
    pub name: Option<String>,
    pub alias: Option<String>,
}

/// One call record: a row of `query_done_task_phones`, the `data` of
/// `GET v1/record/{id}`, and `info.record` of `record_info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecord {
    pub id: Option<String>,
    pub task_id: Option<String>,
    pub callid: Option<String>,
    pub callee: Option<String>,
    pub score: Option<i64>,
    /// Whole call, milliseconds.
    pub duration: Option<i64>,
    /// Talk time, milliseconds.
    pub bill: Option<i64>,
    pub calldate: Option<String>,
    pub answerdate: Option<String>,
    pub hangupdate: Option<String>,
    pub hangupcause: Option<String>,
    /// 1 the robot hung up, 2 the callee.
    pub hangup_disposition: Option<i64>,
    pub rounds: Option<i64>,
    /// e.g. `D级(无意向)`.
    pub level_name: Option<String>,
    pub level: Option<Level>,
    /// Names of the tags the call was given (本次通话被打上的子标签), e.g. 脏话.
    pub tags: Vec<String>,
    /// Names of the tag groups it hit (命中的母标签), e.g. 无意向.
    pub tag_groups: Vec<String>,
    /// Where the whole call's recording is on the vendor's disk
    /// (全程通话录音在硬盘里的位置), e.g. `/mnt/smartivr/recordings/….wav`.
    pub recordfile: Option<String>,
}

impl CallRecord {
    pub fn read(v: &Value) -> Result<CallRecord, String> {
        object(v)?;
        let level = match v.get("level") {
            None | Some(Value::Null) => None,
            Some(l @ Value::Object(_)) => Some(Level {
                name: text_at(l, "name").map_err(|e| format!("level.{e}"))?,
                alias: text_at(l, "alias").map_err(|e| format!("level.{e}"))?,
            }),
            Some(other) => return Err(wrong_type("level", "an object", other)),
        };
        Ok(CallRecord {
            id: text_at(v, "id")?,
            task_id: text_at(v, "task_id")?,
            callid: text_at(v, "callid")?,
            callee: text_at(v, "callee")?,
            score: int_at(v, "score")?,
            duration: int_at(v, "duration")?,
            bill: int_at(v, "bill")?,
            calldate: text_at(v, "calldate")?,
            answerdate: text_at(v, "answerdate")?,
            hangupdate: text_at(v, "hangupdate")?,
            hangupcause: text_at(v, "hangupcause")?,
            hangup_disposition: int_at(v, "hangup_disposition")?,
            rounds: int_at(v, "rounds")?,
            level_name: text_at(v, "level_name")?,
            level,
            tags: names(v, "tags")?,
            tag_groups: names(v, "tag_groups")?,
            recordfile: text_at(v, "recordfile")?,
        })
    }

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Turn {
    pub id: Option<String>,
    pub notify: Option<String>,
    /// What the callee said.
    pub question: Option<String>,
    /// What the robot said.
    pub answer_content: Option<String>,
    pub sequence: Option<i64>,
    pub tags: Vec<String>,
}

impl Turn {
    pub fn read(v: &Value) -> Result<Turn, String> {
        object(v)?;
        Ok(Turn {
            id: text_at(v, "id")?,
            notify: text_at(v, "notify")?,
            question: text_at(v, "question")?,
            answer_content: text_at(v, "answer_content")?,
            sequence: int_at(v, "sequence")?,
            tags: names(v, "tags")?,
        })
    }
}

/// The notify type of ASR progress turns the document says to filter out.
pub const ASR_PROGRESS: &str = "asrprogress_notify";

/// `GET v1/task/record_info/{task_id}/{record_id}` (no envelope).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordInfo {
    pub records: Vec<Turn>,
    /// `info.record`: the whole call.
    pub record: Option<CallRecord>,
    /// `info.task`: the task row, kept as sent.
    pub task: Option<Value>,
}

impl RecordInfo {
    pub fn read(v: &Value) -> Result<RecordInfo, String> {
        object(v)?;
        let mut records = Vec::new();
        for (i, t) in list(v, "records")?.iter().enumerate() {
            records.push(Turn::read(t).map_err(|e| format!("records[{i}]: {e}"))?);
        }
        let info = v.get("info").filter(|i| !i.is_null());
        let record = match info.and_then(|i| i.get("record")).filter(|r| !r.is_null()) {
            Some(r) => Some(CallRecord::read(r).map_err(|e| format!("info.record.{e}"))?),
            None => None,
        };
        Ok(RecordInfo { records, record, task: info.and_then(|i| i.get("task")).filter(|t| !t.is_null()).cloned() })
    }

    /// The conversation in order, without the ASR progress turns.
    pub fn dialogue(&self) -> Vec<&Turn> {
        let mut turns: Vec<&Turn> = self.records.iter().filter(|t| t.notify.as_deref() != Some(ASR_PROGRESS)).collect();
        turns.sort_by_key(|t| t.sequence.unwrap_or(i64::MAX));
        turns
    }
}

/// One page of a paged list (15 rows per page, pages from 1 to
/// `last_page`), its rows still raw: each is read on its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub rows: Vec<Value>,
    pub total: Option<i64>,
    pub last_page: Option<i64>,
}

impl Page {
    /// `query_done_task_phones` puts the page at the top level,
    /// `task/number` inside the `{code, status, message, data}` envelope.
    pub fn read(value: &Value) -> Result<Page, String> {
        let inner = match value.get("data") {
            Some(d @ Value::Object(o)) if o.contains_key("data") => d,
            _ => value,
        };
        let rows = match inner.get("data") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => return Err(wrong_type("data", "an array of rows", other)),
        };
        // A count that cannot be read is no count: paging then goes on to an empty page.
        let count = |k: &str| int_at(inner, k).ok().flatten();
        Ok(Page { rows, total: count("total"), last_page: count("last_page") })
    }
}

/// The `data` of an enveloped answer.
pub fn data(value: &Value) -> &Value {
    value.get("data").unwrap_or(&Value::Null)
}

// ---- Undocumented task endpoints (assumed shapes) ----
// Request bodies are built from these types by the adapter only; what the
// vendor answers is read from JSON values.

/// Assumed `POST v1/task` body: the task row fields of `record_info.info.task`
/// that the adapter controls, plus the end of dialing under the field named
/// by `options.end_time_field` (server-zone `YYYY-MM-DD HH:MM:SS`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximumcall: Option<u32>,
}

/// The id of a created task in the assumed answer's `data`: the task row,
/// keyed `uuid` as in `record_info.info.task` (also read as `id` / `task_id`).
pub fn created_task_id(data: &Value) -> Option<String> {
    let key = first_key(data, &["uuid", "id", "task_id"])?;
    text_at(data, key).ok().flatten()
}

/// One number in the assumed add-numbers body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewNumber {
    pub number: String,
    /// Our attempt ref (assumed free-text field).
    pub custom: Option<String>,
    /// Script variables (name etc.).
    pub variables: Value,
}

/// Assumed `POST v1/task/{task_id}/numbers` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddNumbers {
    pub numbers: Vec<NewNumber>,
}

/// The numbers an assumed add-numbers answer lists under `key` (`invalid`,
/// `duplicate`): strings or numbers; anything else is not a number.
pub fn listed_numbers(data: &Value, key: &str) -> Vec<String> {
    data.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(code_text).collect()).unwrap_or_default()
}

/// Assumed delete-numbers body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteNumbers {
    pub numbers: Vec<String>,
}
