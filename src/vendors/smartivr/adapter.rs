//! The daemon's side of SmartIVR: tasks are created, filled and started
//! through the (assumed) task endpoints; results are polled from the
//! documented number and call-record lists.

use super::SmartivrOptions;
use super::codes::{self, KIND};
use super::wire::{self, AddNumbers, CreateTask, NewNumber, NumberRow, Page};
use crate::domain::tags::TagIntents;
use crate::vendors::common::{Answer, VendorHttp, code_text, e164, excerpt, local_time};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, HeaderMap, LookupResult, ParsedCallback,
    RejectedRecord, TaskHandle, VendorAdapter, VendorError, VendorErrorKind,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use VendorErrorKind::{Fatal, RetryLater, Unknown};

pub use super::errors::{ERROR_CODES, Refusal, classify, refusal};

pub struct SmartivrAdapter {
    id: String,
    http: VendorHttp,
    token: String,
    pub(super) opts: SmartivrOptions,
    tz: Tz,
    /// Tag → intent table (`[vendors.tag_intents]` over the defaults).
    pub(super) tags: TagIntents,
}

/// The token is redacted so the adapter can be logged.
impl fmt::Debug for SmartivrAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmartivrAdapter")
            .field("id", &self.id)
            .field("base", &self.http.base)
            .field("token", &"<redacted>")
            .field("opts", &self.opts)
            .field("tz", &self.tz)
            .finish()
    }
}

impl SmartivrAdapter {
    pub fn new(
        vendor_id: &str,
        base_url: &str,
        token: String,
        timeout: Duration,
        opts: SmartivrOptions,
        tz: Tz,
    ) -> Result<SmartivrAdapter, String> {
        Ok(SmartivrAdapter {
            id: vendor_id.to_string(),
            http: VendorHttp::new(vendor_id, base_url, timeout)?,
            token,
            opts,
            tz,
            tags: TagIntents::default(),
        })
    }

    /// The same adapter with the vendor's tag → intent table.
    pub fn with_tags(mut self, tags: TagIntents) -> SmartivrAdapter {
        self.tags = tags;
        self
    }

    pub fn options(&self) -> &SmartivrOptions {
        &self.opts
    }

    /// The number as sent to the vendor: E.164 digits, without the
    /// configured country code. `None` for a number of another country.
    pub fn wire_number(&self, phone: &str) -> Option<String> {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        if self.opts.country_code.is_empty() {
            return Some(digits);
        }
        digits.strip_prefix(self.opts.country_code.as_str()).filter(|n| n.len() >= 3).map(str::to_string)
    }

    /// A number the vendor reports, as E.164.
    pub fn event_phone(&self, number: &str) -> String {
        if self.opts.country_code.is_empty() || number.trim_start().starts_with('+') {
            e164(number)
        } else {
            e164(&format!("{}{}", self.opts.country_code, number))
        }
    }

    pub(super) fn time(&self, text: Option<&str>) -> Option<DateTime<Utc>> {
        text.and_then(|t| local_time(t, self.tz))
    }

    fn task_path(template: &str, task_id: &str) -> String {
        template.replace("{task_id}", task_id)
    }

    pub(super) fn err(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        self.http.error(kind, message)
    }

    fn refused(&self, op: &str, r: &Refusal) -> VendorError {
        self.err(classify(r.code), format!("{op}: vendor code {}: {}", r.code, r.message))
            .with_code(crate::vendors::error_code::ErrorCode::Vendor)
    }

    /// Send with the bearer token; a refusal becomes its classified error,
    /// an unreadable success `unreadable`.
    async fn call(
        &self,
        op: &str,
        request: reqwest::RequestBuilder,
        idempotent: bool,
        unreadable: VendorErrorKind,
    ) -> Result<(Value, Answer), VendorError> {
        let answer = self.http.send(op, request.bearer_auth(&self.token), idempotent).await?;
        if let Some(r) = refusal(&answer) {
            return Err(self.refused(op, &r));
        }
        let value = answer.json().map_err(|e| self.err(unreadable, format!("{op}: {e}")))?;
        Ok((value, answer))
    }

    /// One page of `GET v1/task/number`.
    pub async fn numbers_page(
        &self,
        task_id: &str,
        page: u32,
        keyword: Option<&str>,
        history: bool,
    ) -> Result<Page, VendorError> {
        let url = self.http.url(&self.opts.numbers_path)?;
        let mut query = vec![("task_id", task_id.to_string()), ("page", page.to_string())];
        if history {
            query.push(("call_history", "1".into()));
        }
        if let Some(k) = keyword {
            query.push(("keyword", k.to_string()));
        }
        let (value, _) = self.call("query numbers", self.http.client.get(url).query(&query), true, RetryLater).await?;
        Page::read(&value).map_err(|e| self.err(Unknown, format!("query numbers page {page}: {e}")))
    }

    /// One page of `POST v1/task/query_done_task_phones`.
    pub async fn records_page(&self, task_id: &str, page: u32, keyword: Option<&str>) -> Result<Page, VendorError> {
        let url = self.http.url(&self.opts.done_phones_path)?;
        let mut body = json!({ "task_id": task_id, "page": page });
        if let Some(k) = keyword {
            body["keyword"] = json!(k);
        }
        let (value, _) =
            self.call("query call records", self.http.client.post(url).json(&body), true, RetryLater).await?;
        Page::read(&value).map_err(|e| self.err(Unknown, format!("query call records page {page}: {e}")))
    }

    /// `GET v1/record/{record_id}`: one call record.
    pub async fn record(&self, record_id: &str) -> Result<wire::CallRecord, VendorError> {
        let url = self.http.url(&format!("v1/record/{record_id}"))?;
        let (value, _) = self.call("query record", self.http.client.get(url), true, RetryLater).await?;
        wire::CallRecord::read(wire::data(&value)).map_err(|e| self.err(RetryLater, format!("query record: {e}")))
    }

    /// `GET v1/task/record_info/{task_id}/{record_id}`: a call with its dialogue.
    pub async fn record_info(&self, task_id: &str, record_id: &str) -> Result<wire::RecordInfo, VendorError> {
        let url = self.http.url(&format!("v1/task/record_info/{task_id}/{record_id}"))?;
        let (value, _) = self.call("query record info", self.http.client.get(url), true, RetryLater).await?;
        wire::RecordInfo::read(&value).map_err(|e| self.err(RetryLater, format!("query record info: {e}")))
    }

    /// Create the task, retrying once with a new name when the name is taken.
    async fn create_task(&self, batch: &DispatchBatch) -> Result<(String, String), VendorError> {
        let url = self.http.url(&self.opts.create_task_path)?;
        for round in 0..2 {
            let campaign: String = batch.campaign.chars().take(40).collect();
            let name = format!("{campaign}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let task = CreateTask {
                name,
                group_id: self.opts.group_id.unwrap_or_default(),
                call_notify_url: if self.opts.notifies() { batch.callback_url.clone() } else { String::new() },
                call_notify_type: self.opts.call_notify_type,
                recycle_limit: if batch.vendor_redial { self.opts.vendor_redial_times } else { 0 },
                maximumcall: self.opts.max_concurrent_calls,
            };
            let mut body = serde_json::to_value(&task).unwrap_or_default();
            if let (Some(end), false) = (batch.not_after, self.opts.end_time_field.is_empty()) {
                let local = end.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string();
                body[self.opts.end_time_field.as_str()] = json!(local);
            }
            let request = self.http.client.post(url.clone()).bearer_auth(&self.token).json(&body);
            let answer = self.http.send("create task", request, false).await?;
            match refusal(&answer) {
                Some(r) if r.name_taken && round == 0 => {
                    tracing::info!(vendor = %self.id, "smartivr task name taken; retrying with a new name");
                    continue;
                }
                Some(r) => return Err(self.refused("create task", &r)),
                None => {}
            }
            // The vendor took it; if we cannot read its id the outcome is unknown.
            let value = answer.json().map_err(|e| self.err(Unknown, format!("create task: {e}")))?;
            let Some(task_id) = wire::created_task_id(wire::data(&value)) else {
                return Err(self.err(Unknown, format!("create task: no task id in {}", excerpt(&answer.body))));
            };
            return Ok((task_id, answer.body));
        }
        Err(self.err(Fatal, "create task: the task name was taken twice"))
    }

    /// Start a filled task. Nothing dials before this, so a refusal is safe
    /// to retry later. A start that got no answer is repeated once (starting
    /// a started task is harmless); if that is unanswered too the task is
    /// treated as started: its numbers are then polled like any other and
    /// end up lost (and cancelled) if it never ran.
    async fn start_task(&self, task_id: &str) -> Result<(), VendorError> {
        let url = self.http.url(&Self::task_path(&self.opts.start_task_path, task_id))?;
        for round in 0..2 {
            let request = self.http.client.post(url.clone()).json(&json!({ "task_id": task_id }));
            match self.call("start task", request, false, RetryLater).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind == Unknown && round == 0 => continue,
                Err(e) if e.kind == Unknown => {
                    tracing::warn!(vendor = %self.id, task = %task_id, error = %e, "smartivr task start unanswered twice; assuming it started");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn stop_task(&self, task_id: &str) -> Result<(), VendorError> {
        let url = self.http.url(&Self::task_path(&self.opts.stop_task_path, task_id))?;
        let request = self.http.client.post(url).json(&json!({ "task_id": task_id }));
        self.call("stop task", request, true, RetryLater).await.map(|_| ())
    }

    async fn delete_numbers(&self, task_id: &str, numbers: Vec<String>) -> Result<(), VendorError> {
        let url = self.http.url(&Self::task_path(&self.opts.delete_numbers_path, task_id))?;
        let request = self.http.client.post(url).json(&wire::DeleteNumbers { numbers });
        self.call("delete numbers", request, true, RetryLater).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl VendorAdapter for SmartivrAdapter {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        self.opts.max_numbers_per_task
    }

    fn own_redials(&self) -> u32 {
        self.opts.vendor_redial_times
    }

    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        let mut receipt = DispatchReceipt::default();
        let mut numbers: Vec<NewNumber> = Vec::new();
        let mut refs: HashMap<String, String> = HashMap::new(); // wire number -> attempt ref
        for item in &batch.items {
            let Some(number) = self.wire_number(&item.phone) else {
                let reason = format!("not a +{} number (options.country_code)", self.opts.country_code);
                receipt.rejected.push((item.attempt_ref.clone(), reason));
                continue;
            };
            if numbers.len() >= self.opts.max_numbers_per_task {
                receipt.rejected.push((item.attempt_ref.clone(), "over options.max_numbers_per_task".into()));
                continue;
            }
            if refs.contains_key(&number) {
                receipt.rejected.push((item.attempt_ref.clone(), "the number is already in this task".into()));
                continue;
            }
            refs.insert(number.clone(), item.attempt_ref.clone());
            numbers.push(NewNumber {
                number,
                custom: Some(item.attempt_ref.clone()),
                variables: item.variables.clone(),
            });
        }
        if numbers.is_empty() {
            return Ok(receipt);
        }
        let (task_id, created_raw) = self.create_task(batch).await?;
        receipt.vendor_task_id = task_id.clone();
        // The task is not started yet: whatever happens to this request,
        // nothing dials, so an unanswered request is simply retried later.
        let url = self.http.url(&Self::task_path(&self.opts.add_numbers_path, &task_id))?;
        let request = self.http.client.post(url).json(&AddNumbers { numbers: numbers.clone() });
        let (value, answer) = self.call("add numbers", request, false, RetryLater).await.map_err(|mut e| {
            if e.kind == Unknown {
                e.kind = RetryLater;
                e.message.push_str(" (task not started: nothing dials)");
            }
            e
        })?;
        let added = wire::data(&value);
        let mut refused: BTreeMap<String, &str> = BTreeMap::new();
        for n in wire::listed_numbers(added, "invalid") {
            refused.insert(n, "the vendor refused the number as invalid");
        }
        for n in wire::listed_numbers(added, "duplicate") {
            refused.insert(n, "the vendor says the number is already in the task");
        }
        for n in &numbers {
            match refused.get(&n.number) {
                Some(reason) => receipt.rejected.push((refs[&n.number].clone(), reason.to_string())),
                None => receipt.accepted.push((refs[&n.number].clone(), None)),
            }
        }
        receipt.raw_response = Some(format!("{created_raw}\n{}", answer.body));
        if receipt.accepted.is_empty() {
            return Ok(receipt);
        }
        self.start_task(&task_id).await?;
        tracing::debug!(vendor = %self.id, task = %task_id, numbers = receipt.accepted.len(), "smartivr task started");
        Ok(receipt)
    }

    /// See [`SmartivrAdapter::look_up`]: "not found" only from the whole list.
    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        self.look_up(attempt).await
    }

    /// Per task: when every number still waiting is being cancelled the task
    /// is stopped; otherwise the waiting ones are deleted (assumed endpoint,
    /// `options.delete_numbers_path`; nothing is done when it is empty).
    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let mut by_task: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
        for a in attempts {
            if let (Some(task), Some(number)) = (a.vendor_task_id.as_deref(), self.wire_number(&a.phone)) {
                by_task.entry(task).or_default().insert(number);
            }
        }
        for (task_id, targets) in by_task {
            let numbers = self.all_numbers(task_id, None, false).await?.rows;
            let waiting: HashSet<&str> =
                numbers.iter().filter(|n| n.status == Some(codes::WAITING)).map(|n| n.number.as_str()).collect();
            if waiting.is_empty() {
                continue;
            }
            if waiting.iter().all(|n| targets.contains(*n)) {
                self.stop_task(task_id).await?;
            } else if !self.opts.delete_numbers_path.is_empty() {
                let mut delete: Vec<String> =
                    targets.iter().filter(|n| waiting.contains(n.as_str())).cloned().collect();
                delete.sort();
                if !delete.is_empty() {
                    self.delete_numbers(task_id, delete).await?;
                }
            }
        }
        Ok(())
    }

    fn polls(&self) -> bool {
        true
    }

    /// Every result of the task; rows that cannot be used are logged and
    /// left for a later poll (their attempts stay in flight).
    async fn poll_task(&self, task: &TaskHandle) -> Result<Vec<CallEvent>, VendorError> {
        Ok(self.poll_task_records(task).await?.events)
    }

    /// Rows that cannot be used are returned for audit (kept once however
    /// often they are polled); their attempts stay in flight for a later
    /// poll or lookup.
    async fn poll_task_records(&self, task: &TaskHandle) -> Result<ParsedCallback, VendorError> {
        let view = self.task_view(&task.vendor_task_id, None).await?;
        let rejected = (view.unreadable.into_iter().enumerate())
            .map(|(index, u)| RejectedRecord {
                index,
                phone: u.number.as_deref().map(|n| self.event_phone(n)),
                reason: u.reason,
                raw: u.raw,
            })
            .collect();
        Ok(ParsedCallback { events: view.events, rejected })
    }

    /// With notifications off there is nothing to verify: every callback is
    /// refused in [`verify_callback`](Self::verify_callback), so this says
    /// true (the daemon then needs no `callback_token`). With notifications
    /// on, the vendor does not sign them: the URL token is the check.
    fn signs_callbacks(&self) -> bool {
        !self.opts.notifies()
    }

    fn verify_callback(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
        _remote: Option<IpAddr>,
    ) -> Result<(), CallbackError> {
        if self.opts.notifies() {
            Ok(())
        } else {
            Err(CallbackError::Unauthorized("smartivr callbacks are disabled; results are polled".into()))
        }
    }

    /// Assumed body: one `v1/task/number` row plus `task_id` (else the task
    /// id of its `call_history`; none when neither has one), or a list of
    /// such rows, read row by row.
    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
        let rows: Vec<&Value> = match &value {
            Value::Object(_) => vec![&value],
            Value::Array(list) if !list.is_empty() => list.iter().collect(),
            _ => return Err(CallbackError::Malformed("not a number row (a JSON object) nor a list of them".into())),
        };
        let mut parsed = ParsedCallback::per_record(rows.iter().copied(), &[], |raw| {
            let row = NumberRow::read(raw)?;
            let task = row.task_id.clone().or_else(|| row.history_task().map(str::to_string));
            Ok(vec![self.number_event(task.as_deref(), &row, None).ok_or("status: missing")?])
        });
        // The callee of a rejected row, with the configured country code.
        for r in &mut parsed.rejected {
            r.phone = (rows.get(r.index).and_then(|raw| raw.get("number")).and_then(code_text))
                .filter(|n| n.chars().any(|c| c.is_ascii_digit()))
                .map(|n| self.event_phone(&n));
        }
        Ok(parsed)
    }

    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({ "code": 200, "status": "ok", "message": "success" }))
    }
}
