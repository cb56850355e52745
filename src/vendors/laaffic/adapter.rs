//! The daemon's side of Laaffic: task creation, task query (lookup), task
//! cancel, and the result push.

use super::codes::{KIND, REPLY_CODES};
use super::push;
use super::{LaafficOptions, MAX_NUMBERS};
use crate::config::VendorSettings;
use crate::domain::outcome::{Disposition, Outcome};
use crate::vendors::common::{self, VendorHttp, as_i64, code_text, e164};
use crate::vendors::itnio_family::sign::{self, Class};
use crate::vendors::itnio_family::{Keys, task_name};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, LookupResult, ParsedCallback,
    VendorAdapter, VendorError, VendorErrorKind,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::fmt;

pub const CREATE_PATH: &str = "voice/group/call/send/agent";
pub const QUERY_PATH: &str = "voice/group/call/query";
pub const CANCEL_PATH: &str = "voice/group/call/cancel";
/// Characters kept of each `textN` (longer values are cut by the vendor anyway).
pub const TEXT_MAX: usize = 30;

type Accepted = Vec<(String, Option<String>)>;
type Rejected = Vec<(String, String)>;

/// Task status of the task query.
pub fn task_status_text(status: i64) -> &'static str {
    match status {
        0 => "waiting",
        1 => "calling",
        2 => "finished",
        3 => "submit failed",
        4 => "cancelled",
        5 => "suspended",
        6 => "submitting",
        _ => "unknown",
    }
}

pub struct LaafficAdapter {
    id: String,
    http: VendorHttp,
    keys: Keys,
    opts: LaafficOptions,
    /// The account's currency: the push's `cost` names none.
    currency: String,
}

impl fmt::Debug for LaafficAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaafficAdapter")
            .field("id", &self.id)
            .field("keys", &self.keys)
            .field("opts", &self.opts)
            .finish()
    }
}

impl LaafficAdapter {
    pub fn new(settings: &VendorSettings, base_url: &str) -> Result<LaafficAdapter, String> {
        let (opts, issues) = LaafficOptions::read(settings);
        if let Some((field, message)) = issues.first() {
            return Err(format!("{field}: {message}"));
        }
        let keys = Keys::from_settings(settings)?;
        Ok(LaafficAdapter {
            id: settings.id.clone(),
            http: VendorHttp::new(&settings.id, base_url, settings.request_timeout)?,
            keys,
            opts,
            currency: settings.currency.clone(),
        })
    }

    fn path(&self, path: &str) -> String {
        format!("{}/{path}", self.opts.path_prefix.trim_matches('/'))
    }

    /// POST a signed JSON request and read the envelope.
    async fn post(
        &self,
        op: &str,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<(common::Envelope, String), VendorError> {
        self.keys.post(&self.http, op, &self.path(path), body, idempotent).await
    }

    /// `allowSendTime`: from now to the batch's window end, in the account's zone.
    fn window(&self, not_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Option<Value>, VendorError> {
        let Some(end) = not_after else { return Ok(None) };
        if end <= now + chrono::Duration::minutes(1) {
            return Err(self.http.error(VendorErrorKind::RetryLater, "dispatch: the batch's calling window has ended"));
        }
        let tz = self.opts.tz();
        let (start_local, end_local) = (now.with_timezone(&tz), end.with_timezone(&tz));
        let end_text = if end_local.date_naive() > start_local.date_naive() {
            "23:59".to_string()
        } else {
            end_local.format("%H:%M").to_string()
        };
        Ok(Some(json!([{ "strTime": start_local.format("%H:%M").to_string(), "endTime": end_text }])))
    }

    /// The create body with `taskName`; items with unusable numbers are rejected.
    fn create_body(&self, batch: &DispatchBatch, window: Option<Value>) -> (Map<String, Value>, Accepted, Rejected) {
        let (mut accepted, mut rejected, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
        for item in &batch.items {
            let digits: String = item.phone.chars().filter(char::is_ascii_digit).collect();
            if !(6..=18).contains(&digits.len()) {
                rejected.push((item.attempt_ref.clone(), "calleeNumber must be 6-18 digits".to_string()));
                continue;
            }
            let mut number = Map::new();
            number.insert("calleeNumber".into(), json!(digits));
            for (i, var) in self.opts.text_variables.iter().enumerate() {
                let text = match item.variables.get(var) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                };
                number.insert(format!("text{}", i + 1), json!(text.chars().take(TEXT_MAX).collect::<String>()));
            }
            numbers.push(Value::Object(number));
            accepted.push((item.attempt_ref.clone(), None));
        }
        let mut body = Map::new();
        body.insert("appId".into(), json!(self.opts.app_id));
        if let Some(d) = &self.opts.display_num {
            body.insert("displayNum".into(), json!(d));
        }
        body.insert("numberInfoList".into(), Value::Array(numbers));
        body.insert("sendTime".into(), Value::Null);
        body.insert("maxCalls".into(), json!(self.opts.max_call_seconds));
        body.insert("maxRingingTime".into(), json!(self.opts.max_ringing_seconds));
        body.insert("agentId".into(), json!(self.opts.agent_id));
        body.insert("enableRecording".into(), json!(if self.opts.enable_recording { 1 } else { 0 }));
        if let Some(w) = window {
            body.insert("allowSendTime".into(), w);
        }
        if batch.vendor_redial && self.opts.recall_times > 0 {
            let nodes: Vec<Value> =
                (0..self.opts.recall_times).map(|_| json!({ "agentId": self.opts.agent_id })).collect();
            body.insert(
                "recallFlow".into(),
                json!({
                    "recallType": 1, // 失敗重發: redial failed calls only
                    "recallInterval": self.opts.recall_interval,
                    "recallNum": self.opts.recall_times,
                    "nodeList": nodes,
                }),
            );
        }
        (body, accepted, rejected)
    }

    #[cfg(test)]
    pub(crate) fn create_body_for_test(&self, batch: &DispatchBatch) -> (Value, Accepted, Rejected) {
        let (body, a, r) = self.create_body(batch, None);
        (Value::Object(body), a, r)
    }

    /// The whole create request `dispatch` would send at `now` (window and task name included).
    #[cfg(test)]
    pub(crate) fn create_request_for_test(&self, batch: &DispatchBatch, now: DateTime<Utc>) -> Value {
        let window = self.window(batch.not_after, now).ok().flatten();
        let (mut body, _, _) = self.create_body(batch, window);
        let first = batch.items.first().map_or("", |i| i.attempt_ref.as_str());
        body.insert("taskName".into(), json!(task_name(&batch.campaign, first, false)));
        Value::Object(body)
    }

    /// Find one task in the paged task list. `Ok(None)` only when the vendor
    /// showed the whole list (an empty page, or `total` rows seen) without
    /// it. A page smaller than asked is not the end: the vendor may cap
    /// `pageSize` below ours, so paging goes on until an empty page or the
    /// total says so. Hitting `query_max_pages` first, or a page without a
    /// readable list, is an `Unknown` error: the rest was never seen.
    async fn find_task(&self, task_id: &str) -> Result<Option<Value>, VendorError> {
        let mut seen: i64 = 0;
        let pages = self.opts.query_max_pages.max(1);
        for page in 1..=pages {
            let body = json!({ "taskId": task_id, "pageNum": page, "pageSize": self.opts.query_page_size });
            let (env, raw) = self.post("query", QUERY_PATH, &body, true).await?;
            if env.code != "0" {
                return Err(sign::code_error(&self.http, "query", REPLY_CODES, &env));
            }
            let Some(rows) = task_rows(&env.data) else {
                let msg = format!("query: page {page} has no task list: {}", common::excerpt(&raw));
                return Err(self.http.error(VendorErrorKind::Unknown, msg));
            };
            if let Some(task) = rows.iter().find(|t| task_id_of(t).as_deref() == Some(task_id)) {
                return Ok(Some(task.clone()));
            }
            seen += rows.len() as i64;
            let total = ["total", "totalCount"].iter().find_map(|k| env.data.get(*k).and_then(as_i64));
            if rows.is_empty() || total.is_some_and(|t| seen >= t) {
                return Ok(None);
            }
        }
        let msg = format!(
            "lookup: task {task_id} not in the first {pages} pages ({seen} tasks) of the task list; \
             the rest was not read (options.query_max_pages)"
        );
        Err(self.http.error(VendorErrorKind::Unknown, msg))
    }
}

/// The rows of a task-list answer (`data.list`/`records`/`rows`, or `data`
/// itself); `None` when the answer holds no list at all (not an empty one).
fn task_rows(data: &Value) -> Option<Vec<Value>> {
    if let Value::Array(a) = data {
        return Some(a.clone());
    }
    ["list", "records", "rows", "data"].iter().find_map(|k| data.get(*k).and_then(Value::as_array).cloned())
}

fn task_id_of(task: &Value) -> Option<String> {
    ["taskId", "id", "keyId"].iter().find_map(|k| task.get(*k).and_then(code_text))
}

#[async_trait::async_trait]
impl VendorAdapter for LaafficAdapter {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        self.opts.max_numbers.min(MAX_NUMBERS)
    }

    fn own_redials(&self) -> u32 {
        self.opts.recall_times
    }

    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        let Some(first) = batch.items.first() else { return Ok(DispatchReceipt::default()) };
        if batch.items.len() > self.max_batch() {
            let msg = format!("dispatch: {} numbers, at most {} per task", batch.items.len(), self.max_batch());
            return Err(self.http.error(VendorErrorKind::Fatal, msg));
        }
        let window = self.window(batch.not_after, batch.now)?;
        let (mut body, accepted, rejected) = self.create_body(batch, window);
        if accepted.is_empty() {
            return Ok(DispatchReceipt { rejected, ..DispatchReceipt::default() });
        }
        let mut retry = false;
        loop {
            body.insert("taskName".into(), json!(task_name(&batch.campaign, &first.attempt_ref, retry)));
            let (env, raw) = self.post("create task", CREATE_PATH, &Value::Object(body.clone()), false).await?;
            match sign::row(REPLY_CODES, &env.code).map(|r| r.2) {
                Some(Class::Success) => {
                    let Some(task_id) = code_text(&env.data).filter(|t| !t.is_empty()) else {
                        let msg = format!("create task: success without a task id: {}", common::excerpt(&raw));
                        return Err(self.http.error(VendorErrorKind::Unknown, msg));
                    };
                    return Ok(DispatchReceipt {
                        vendor_task_id: task_id,
                        accepted,
                        rejected,
                        raw_response: Some(raw),
                    });
                }
                Some(Class::Handled) if !retry => retry = true, // −41: the name is taken
                Some(Class::Handled) => {
                    let msg = format!("create task: task name taken twice: {}", common::excerpt(&env.message));
                    return Err(self.http.error(VendorErrorKind::RetryLater, msg));
                }
                _ => return Err(sign::code_error(&self.http, "create task", REPLY_CODES, &env)),
            }
        }
    }

    /// Laaffic has no per-call query: the task list says whether the task is
    /// still running (`Pending`), failed to submit (`NotFound`: nothing was
    /// dialed), or ended (finished/cancelled) — then the call's result should
    /// have come by push, and if it did not, nobody knows it: the answer is a
    /// final `unknown` outcome (raw code `laaffic:task-<status>`), not a guess.
    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let Some(task_id) = attempt.vendor_task_id.as_deref() else {
            // Without the task id (creation answer lost) the task list cannot be
            // searched for our number: whether it was created is unknown.
            return Err(self
                .http
                .error(VendorErrorKind::Unknown, "lookup: no vendor task id; Laaffic has no per-call query"));
        };
        let Some(task) = self.find_task(task_id).await? else {
            // The vendor gave us this task id, so the task existed; a list
            // without it (purged, archived) says nothing about our call.
            let msg = format!("lookup: task {task_id} is not in the vendor's task list");
            return Err(self.http.error(VendorErrorKind::Unknown, msg));
        };
        let status = ["status", "taskStatus"].iter().find_map(|k| task.get(*k).and_then(as_i64)).unwrap_or(-1);
        Ok(match status {
            // 提交失敗 submit failed: the vendor's own word that the task never
            // ran, so none of its numbers was dialed.
            3 => LookupResult::NotFound,
            2 | 4 => {
                let outcome = Outcome::new(Disposition::Unknown).with_raw_code(KIND, &format!("task-{status}"));
                LookupResult::Finished(CallEvent {
                    vendor_task_id: Some(task_id.to_string()),
                    phone: (!attempt.phone.is_empty()).then(|| e164(&attempt.phone)),
                    attempt_ref: Some(attempt.attempt_ref.clone()),
                    ..CallEvent::final_outcome(outcome)
                })
            }
            0 | 1 | 5 | 6 => LookupResult::Pending { external_call_id: attempt.external_call_id.clone() },
            other => {
                let msg = format!("lookup: task {task_id} has undocumented status {other}");
                return Err(self.http.error(VendorErrorKind::RetryLater, msg));
            }
        })
    }

    /// Laaffic cancels whole tasks: the tasks of `attempts` are cancelled (the
    /// daemon only asks when every outstanding attempt of a task is included).
    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let ids = sign::task_ids(attempts);
        if ids.is_empty() {
            return Ok(());
        }
        let (env, _) = self.post("cancel", CANCEL_PATH, &json!({ "taskIdList": ids }), true).await?;
        if env.code != "0" {
            return Err(sign::code_error(&self.http, "cancel", REPLY_CODES, &env));
        }
        Ok(())
    }

    fn cancels_whole_tasks(&self) -> bool {
        true
    }

    fn signs_callbacks(&self) -> bool {
        false
    }

    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        push::parse(body, self.opts.tz(), &self.currency)
    }

    /// Not documented: the family's success envelope.
    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({ "status": "0", "reason": "success" }))
    }
}
