//! The daemon's side of AIRudder: token cache, task creation, detail lookups,
//! cancels and the webhook.

use super::codes::{self, Dial, SUCCESS};
use super::wire::{
    AuthRequest, CancelCall, Contact, CreateTask, Detail, DetailPage, DetailRequest, Operation, RedialCall, Webhook,
};
use super::{KIND, LabelMeaning, Options, SignatureMode};
use crate::config::VendorSettings;
use crate::vendors::common::{Answer, VendorHttp, as_i64, classify_status, code_text, constant_time_eq, e164, excerpt};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, HeaderMap, LookupResult, ParsedCallback,
    TaskHandle, VendorAdapter, VendorError, VendorErrorKind, VendorRedial,
};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// AIRudder refuses a task whose end is less than this after its start (10620).
pub const MIN_TASK_SPAN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Default webhook signing key (AIRudder's documented default).
pub const DEFAULT_SIGN_KEY: &str = "airudder";
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `hex(HMAC-SHA256(key, body))`.
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// AIRudder's number rule (10510): `+` then 1 to 14 digits.
pub fn phone_ok(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|d| (1..=14).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

struct Token {
    value: String,
    refresh_at: Instant,
}

/// A parsed AIRudder answer: `{"status","code","message"|"msg","data"}`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: Option<i64>,
    pub message: String,
    pub data: Value,
}

impl Reply {
    fn read(answer: &Answer) -> Reply {
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let code = v.get("code").and_then(as_i64);
        let message = ["message", "msg", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(code_text))
            .or_else(|| v.get("status").and_then(code_text))
            .unwrap_or_default();
        Reply { code, message, data: v.get("data").cloned().unwrap_or(Value::Null) }
    }

    fn ok(&self, answer: &Answer) -> bool {
        answer.status.is_success() && self.code == Some(SUCCESS)
    }
}

pub struct AirudderAdapter {
    id: String,
    http: VendorHttp,
    app_key: String,
    app_secret: String,
    sign_key: String,
    opts: Options,
    robot_hash: String,
    tz: chrono_tz::Tz,
    labels: BTreeMap<String, LabelMeaning>,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl fmt::Debug for AirudderAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirudderAdapter")
            .field("id", &self.id)
            .field("app_key", &"<redacted>")
            .field("app_secret", &"<redacted>")
            .field("sign_key", &"<redacted>")
            .field("opts", &self.opts)
            .finish()
    }
}

impl AirudderAdapter {
    pub fn new(settings: &VendorSettings, base_url: &str) -> Result<AirudderAdapter, String> {
        let opts: Options = crate::vendors::common::options(&settings.options)?;
        let tz = opts.timezone()?;
        let labels = opts.labels()?;
        let secret = |s: &Option<crate::config::Secret>| s.as_ref().map(|s| s.expose().to_string());
        Ok(AirudderAdapter {
            id: settings.id.clone(),
            http: VendorHttp::new(&settings.id, base_url, settings.request_timeout),
            app_key: secret(&settings.api_key).ok_or("api_key (APPKey) is required")?,
            app_secret: secret(&settings.api_secret).ok_or("api_secret (APPSecret) is required")?,
            sign_key: secret(&settings.callback_secret).unwrap_or_else(|| DEFAULT_SIGN_KEY.to_string()),
            robot_hash: opts
                .robot_hash
                .clone()
                .filter(|h| !h.trim().is_empty())
                .ok_or("options.robot_hash is required")?,
            tz,
            labels,
            opts,
            token: tokio::sync::Mutex::new(None),
        })
    }

    fn err(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        self.http.error(kind, message)
    }

    fn path(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.opts.path_prefix.trim_matches('/'))
    }

    /// A valid token: the cached one unless it is due for renewal or is
    /// `stale` (just refused by AIRudder).
    async fn token(&self, stale: Option<&str>) -> Result<String, VendorError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
            && stale != Some(t.value.as_str())
        {
            return Ok(t.value.clone());
        }
        *cached = None;
        let body = AuthRequest { app_key: self.app_key.clone(), app_secret: self.app_secret.clone() };
        let request = self.http.client.post(self.http.url(&self.path("auth"))?).json(&body);
        let answer = self.http.send("auth", request, true).await?;
        let reply = Reply::read(&answer);
        let token = reply.data.get("token").and_then(Value::as_str).filter(|t| !t.is_empty());
        match token {
            Some(t) if reply.ok(&answer) => {
                let life = self.opts.token_lifetime.saturating_sub(self.opts.token_refresh_margin);
                *cached = Some(Token { value: t.to_string(), refresh_at: Instant::now() + life });
                Ok(t.to_string())
            }
            _ if answer.status.as_u16() == 401 || reply.code.is_some_and(codes::is_auth_code) => Err(self.err(
                VendorErrorKind::Fatal,
                format!("auth: APPKey/APPSecret refused (code {:?}: {})", reply.code, excerpt(&reply.message)),
            )),
            _ if !answer.status.is_success() => Err(self.http.http_status_error("auth", &answer)),
            _ => Err(self.err(VendorErrorKind::Fatal, format!("auth: no token in answer: {}", excerpt(&answer.body)))),
        }
    }

    /// POST `body` with the Bearer token; on an auth refusal get a new token
    /// and resend once. A second refusal is Fatal.
    async fn call(&self, op: &str, leaf: &str, body: &Value, idempotent: bool) -> Result<(Answer, Reply), VendorError> {
        let url = self.http.url(&self.path(leaf))?;
        let mut token = self.token(None).await?;
        for round in 0..2 {
            let request = self.http.client.post(url.clone()).bearer_auth(&token).json(body);
            let answer = self.http.send(op, request, idempotent).await?;
            let reply = Reply::read(&answer);
            let refused = answer.status.as_u16() == 401 || reply.code.is_some_and(codes::is_auth_code);
            if !refused {
                return Ok((answer, reply));
            }
            if round == 0 {
                tracing::info!(vendor = %self.id, op, "AIRudder refused the token; authenticating again");
                token = self.token(Some(&token)).await?;
            }
        }
        Err(self.err(VendorErrorKind::Fatal, format!("{op}: token refused again right after a new auth")))
    }

    /// An answer that is not a success, as the daemon's error.
    fn failure(&self, op: &str, answer: &Answer, reply: &Reply) -> VendorError {
        let text = format!("{op}: code {:?}: {}", reply.code, excerpt(&reply.message));
        match reply.code.and_then(codes::error_row) {
            Some((code, kind, _, meaning)) => {
                self.err(*kind, format!("{op}: {code} {meaning}: {}", excerpt(&reply.message)))
            }
            None if !answer.status.is_success() => self.http.http_status_error(op, answer),
            None => match reply.code {
                Some(c @ 400..=599) => self.err(
                    classify_status(
                        reqwest::StatusCode::from_u16(c as u16).unwrap_or(reqwest::StatusCode::BAD_REQUEST),
                    ),
                    text,
                ),
                _ => self.err(VendorErrorKind::Fatal, text),
            },
        }
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format(TIME_FORMAT).to_string()
    }

    fn task_name(&self, campaign: &str) -> String {
        let campaign: String =
            campaign.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(40).collect();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("{}-{campaign}-{}", self.opts.task_name_prefix, &nonce[..12])
    }

    /// Start and end of a task starting `lead` from now, or a RetryLater when
    /// the window closes too soon for AIRudder (10620).
    fn schedule(&self, batch: &DispatchBatch, lead: Duration) -> Result<(String, String), VendorError> {
        let start = Utc::now() + chrono::TimeDelta::from_std(lead).unwrap_or_default();
        let end = batch.not_after.unwrap_or_else(|| {
            start + chrono::TimeDelta::from_std(self.opts.default_task_duration).unwrap_or(chrono::TimeDelta::hours(12))
        });
        if end < start + MIN_TASK_SPAN {
            return Err(self.err(
                VendorErrorKind::RetryLater,
                format!(
                    "calling window ends at {} (less than 5 minutes after the earliest start {}): AIRudder refuses \
                     such tasks (10620), not sent",
                    end.to_rfc3339(),
                    start.to_rfc3339()
                ),
            ));
        }
        Ok((self.local(start), self.local(end)))
    }

    fn event(&self, task_id: &str, d: &Detail) -> CallEvent {
        let duration = as_i64(&d.duration).unwrap_or(0);
        let dial = Dial {
            result: Some(&d.result),
            ring_type: d.ring_type.as_deref(),
            hangup_type: d.hangup_type.as_deref(),
            label: d.result_label.as_deref(),
            duration,
        };
        let (is_final, outcome) = codes::normalize(&dial, &self.labels);
        let outcome =
            outcome.with_requested_at(super::slots::requested_time(&d.ner_slots, &self.opts.callback_slot, self.tz));
        let mut redials: Vec<(Option<DateTime<Utc>>, VendorRedial)> =
            d.redail_call.iter().map(|r| (self.time(&r.call_start_time), self.redial(r))).collect();
        redials.sort_by_key(|(t, _)| *t);
        let attempt_ref = d.variables.get(&self.opts.reference_variable).and_then(code_text).filter(|r| !r.is_empty());
        let started_at = self.time(&d.call_start_time);
        let ended_at = self.time(&d.call_end_time);
        CallEvent {
            attempt_ref,
            external_call_id: Some(d.call_id.clone()).filter(|c| !c.is_empty()),
            vendor_task_id: Some(task_id.to_string()),
            phone: Some(e164(&d.callee)),
            is_final,
            started_at,
            ended_at,
            duration_ms: (duration > 0 || started_at.is_some()).then_some(duration * 1000),
            redials: redials.into_iter().map(|(_, r)| r).collect(),
            ..CallEvent::final_outcome(outcome)
        }
    }

    fn redial(&self, r: &RedialCall) -> VendorRedial {
        let dial = Dial {
            result: None,
            ring_type: r.ring_type.as_deref(),
            hangup_type: r.hangup_type.as_deref(),
            label: r.result_label.as_deref(),
            duration: 0,
        };
        VendorRedial {
            external_call_id: Some(r.call_id.clone()).filter(|c| !c.is_empty()),
            at: self.time(&r.call_start_time),
            outcome: codes::normalize(&dial, &self.labels).1,
        }
    }

    fn time(&self, text: &str) -> Option<DateTime<Utc>> {
        crate::vendors::common::local_time(text, self.tz)
    }

    /// Every row of a task's `/detail`, all pages.
    pub async fn task_details(&self, task_id: &str) -> Result<Vec<Detail>, VendorError> {
        let mut all = Vec::new();
        for page in 1..=10_000u32 {
            let body = DetailRequest { task_id: task_id.to_string(), page, page_size: self.opts.detail_page_size };
            let (answer, reply) = self.call("task detail", "detail", &json!(body), true).await?;
            if !reply.ok(&answer) {
                return Err(self.failure("task detail", &answer, &reply));
            }
            let data: DetailPage = serde_json::from_value(reply.data).map_err(|e| {
                self.err(
                    VendorErrorKind::RetryLater,
                    format!("task detail: unreadable page ({e}): {}", excerpt(&answer.body)),
                )
            })?;
            let n = data.details.len();
            all.extend(data.details);
            if n < self.opts.detail_page_size as usize || all.len() as u64 >= data.total {
                break;
            }
        }
        Ok(all)
    }

    /// The events of a task's detail (final and pending).
    pub async fn poll_details(&self, task_id: &str) -> Result<Vec<CallEvent>, VendorError> {
        Ok(self.task_details(task_id).await?.iter().map(|d| self.event(task_id, d)).collect())
    }

    async fn simple(&self, op: &str, leaf: &str, body: Value) -> Result<(), VendorError> {
        let (answer, reply) = self.call(op, leaf, &body, true).await?;
        if reply.ok(&answer) { Ok(()) } else { Err(self.failure(op, &answer, &reply)) }
    }
}

#[async_trait::async_trait]
impl VendorAdapter for AirudderAdapter {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        self.opts.max_batch
    }

    fn own_redials(&self) -> u32 {
        self.opts.redial_count
    }

    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        let mut receipt = DispatchReceipt::default();
        let mut contacts = Vec::new();
        for item in &batch.items {
            if !phone_ok(&item.phone) {
                receipt.rejected.push((
                    item.attempt_ref.clone(),
                    "AIRudder takes numbers as + and at most 14 digits (10510)".to_string(),
                ));
                continue;
            }
            let mut variables = match &item.variables {
                Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            };
            variables.insert(self.opts.reference_variable.clone(), Value::String(item.attempt_ref.clone()));
            contacts.push(Contact {
                callee: item.phone.clone(),
                case_id: item.case_id.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| item.attempt_ref.clone()),
                variables: Value::Object(variables),
            });
            receipt.accepted.push((item.attempt_ref.clone(), None));
        }
        if contacts.is_empty() {
            return Ok(receipt);
        }
        let (start, end) = self.schedule(batch, self.opts.start_lead)?;
        let mut body = CreateTask {
            task_name: self.task_name(&batch.campaign),
            robot_hash: self.robot_hash.clone(),
            repeat_number: if batch.vendor_redial { self.opts.redial_count } else { 0 },
            repeat_interval: if batch.vendor_redial { self.opts.redial_interval_minutes } else { 0 },
            schedule_start_time: start,
            schedule_end_time: end,
            contacts,
        };
        let (mut renamed, mut restarted) = (false, false);
        loop {
            let (answer, reply) = self.call("create task", "task", &json!(body), false).await?;
            if reply.ok(&answer) {
                let task_id = reply
                    .data
                    .get("task_id")
                    .and_then(code_text)
                    .or_else(|| code_text(&reply.data))
                    .filter(|t| !t.is_empty());
                let Some(task_id) = task_id else {
                    return Err(self.err(
                        VendorErrorKind::Unknown,
                        format!("create task: success without a task_id: {}", excerpt(&answer.body)),
                    ));
                };
                receipt.vendor_task_id = task_id;
                receipt.raw_response = Some(answer.body);
                return Ok(receipt);
            }
            match reply.code {
                Some(10508) if !renamed => {
                    renamed = true;
                    body.task_name = self.task_name(&batch.campaign);
                }
                Some(10509) if !restarted => {
                    restarted = true;
                    let (start, end) = self.schedule(batch, Duration::ZERO)?;
                    (body.schedule_start_time, body.schedule_end_time) = (start, end);
                }
                _ => return Err(self.failure("create task", &answer, &reply)),
            }
        }
    }

    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let Some(task_id) = attempt.vendor_task_id.as_deref() else {
            return Err(self.err(
                VendorErrorKind::Unknown,
                "lookup: AIRudder results are read per task and this attempt has no vendor task id",
            ));
        };
        let details = self.task_details(task_id).await?;
        let phone = e164(&attempt.phone);
        let mine = |d: &&Detail| {
            let by_ref = d.variables.get(&self.opts.reference_variable).and_then(code_text);
            match by_ref {
                Some(r) if !r.is_empty() => r == attempt.attempt_ref,
                _ => e164(&d.callee) == phone,
            }
        };
        let Some(detail) = details.iter().find(mine) else { return Ok(LookupResult::NotFound) };
        let event = self.event(task_id, detail);
        if event.is_final {
            Ok(LookupResult::Finished(event))
        } else {
            Ok(LookupResult::Pending { external_call_id: event.external_call_id })
        }
    }

    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let mut by_task: HashMap<&str, Vec<&AttemptHandle>> = HashMap::new();
        for a in attempts {
            if let Some(t) = a.vendor_task_id.as_deref() {
                by_task.entry(t).or_default().push(a);
            }
        }
        for (task_id, handles) in by_task {
            // Stop the whole task only when every number in it is being cancelled.
            let wanted: std::collections::HashSet<String> = handles.iter().map(|h| e164(&h.phone)).collect();
            let whole = match self.task_details(task_id).await {
                Ok(details) => !details.is_empty() && details.iter().all(|d| wanted.contains(&e164(&d.callee))),
                Err(_) => false,
            };
            if whole {
                let body = json!(Operation { task_id: task_id.to_string(), operation: "stop".into() });
                self.simple("stop task", "operation", body).await?;
                continue;
            }
            for phone in wanted {
                let body = json!(CancelCall { task_id: task_id.to_string(), callee: phone });
                self.simple("cancel call", "cancelphonecall", body).await?;
            }
        }
        Ok(())
    }

    /// Not used by the daemon (`polls()` is false: results come by webhook),
    /// but available: the task's final results from `/detail`.
    async fn poll_task(&self, task: &TaskHandle) -> Result<Vec<CallEvent>, VendorError> {
        let events = self.poll_details(&task.vendor_task_id).await?;
        Ok(events.into_iter().filter(|e| e.is_final).collect())
    }

    fn signs_callbacks(&self) -> bool {
        self.opts.signature == SignatureMode::HmacSha256
    }

    fn verify_callback(&self, headers: &HeaderMap, body: &[u8], _remote: Option<IpAddr>) -> Result<(), CallbackError> {
        if self.opts.signature == SignatureMode::None {
            return Ok(());
        }
        let given = headers
            .get(self.opts.signature_header.as_str())
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| CallbackError::Unauthorized(format!("missing {} header", self.opts.signature_header)))?;
        let expected = sign(&self.sign_key, body);
        if constant_time_eq(given.trim().to_ascii_lowercase().as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(CallbackError::Unauthorized(format!("wrong {} signature", self.opts.signature_header)))
        }
    }

    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        let events = (|| -> Result<Vec<CallEvent>, CallbackError> {
            let hook: Webhook = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
            if hook.task_id.is_empty() {
                return Err(CallbackError::Malformed("empty task_id".into()));
            }
            Ok(hook.details.iter().map(|d| self.event(&hook.task_id, d)).collect())
        })()?;
        Ok(ParsedCallback::all(events))
    }

    /// AIRudder documents `200` with an empty object.
    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({}))
    }
}
