//! The daemon's side of AIRudder: token cache, task creation, detail lookups,
//! cancels and the webhook.

use super::client::Token;
use super::record::{self, Reader};
use super::wire::{CancelCall, Contact, CreateTask, Operation};
use super::{KIND, Options, SignatureMode};
use crate::config::VendorSettings;
use crate::vendors::common::{VendorHttp, code_text, constant_time_eq, e164, excerpt};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, HeaderMap, LookupResult, ParsedCallback,
    TaskHandle, VendorAdapter, VendorError, VendorErrorKind,
};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

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

pub struct AirudderAdapter {
    pub(super) id: String,
    pub(super) http: VendorHttp,
    pub(super) app_key: String,
    pub(super) app_secret: String,
    sign_key: String,
    pub(super) opts: Options,
    robot_hash: String,
    tz: chrono_tz::Tz,
    pub(super) reader: Reader,
    pub(super) token: tokio::sync::Mutex<Option<Token>>,
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
        let reader = Reader {
            tz,
            labels,
            tags: settings.tag_intents.clone(),
            reference_variable: opts.reference_variable.clone(),
            callback_slot: opts.callback_slot.clone(),
            recording_url: opts.recording_url.clone(),
        };
        Ok(AirudderAdapter {
            id: settings.id.clone(),
            http: VendorHttp::new(&settings.id, base_url, settings.request_timeout)?,
            app_key: secret(&settings.api_key).ok_or("api_key (APPKey) is required")?,
            app_secret: secret(&settings.api_secret).ok_or("api_secret (APPSecret) is required")?,
            sign_key: secret(&settings.callback_secret).unwrap_or_else(|| DEFAULT_SIGN_KEY.to_string()),
            robot_hash: opts
                .robot_hash
                .clone()
                .filter(|h| !h.trim().is_empty())
                .ok_or("options.robot_hash is required")?,
            tz,
            reader,
            opts,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub(super) fn err(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        self.http.error(kind, message)
    }

    pub(super) fn path(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.opts.path_prefix.trim_matches('/'))
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
        let start = batch.now + chrono::TimeDelta::from_std(lead).unwrap_or_default();
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

    /// The attempt's row in its task's `/detail`. `NotFound` only when the
    /// whole listing was read and every row of it was readable: a row that
    /// could be ours and did not parse, or a listing that may lack rows,
    /// is an `Unknown` error (the reconciler then does not redial).
    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let Some(task_id) = attempt.vendor_task_id.as_deref() else {
            return Err(self.err(
                VendorErrorKind::Unknown,
                "lookup: AIRudder results are read per task and this attempt has no vendor task id",
            ));
        };
        let phone = e164(&attempt.phone);
        let mine = |ev: &CallEvent| match ev.attempt_ref.as_deref() {
            Some(r) => r == attempt.attempt_ref,
            None => ev.phone.as_deref() == Some(phone.as_str()),
        };
        let listing = self.listing(task_id, mine).await?;
        if let Some(event) = listing.events.into_iter().find(|ev| mine(ev)) {
            return Ok(if event.is_final {
                LookupResult::Finished(event)
            } else {
                LookupResult::Pending { external_call_id: event.external_call_id }
            });
        }
        if let Some((_, why)) = listing.bad.iter().find(|(row, _)| self.could_be(row, attempt, &phone)) {
            return Err(self.err(
                VendorErrorKind::Unknown,
                format!(
                    "lookup: a /detail row that may be this call is unreadable ({why}); not concluding it is absent"
                ),
            ));
        }
        if let Some(why) = listing.incomplete {
            return Err(self.err(
                VendorErrorKind::Unknown,
                format!(
                    "lookup: /detail of task {task_id} not read to its end ({why}); not concluding the call is absent"
                ),
            ));
        }
        Ok(LookupResult::NotFound)
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
            // Only a complete, fully readable listing can show that no other
            // number is left in the task.
            let whole = match self.listing(task_id, |_| false).await {
                Ok(l) if l.incomplete.is_none() && l.bad.is_empty() => {
                    !l.events.is_empty()
                        && l.events.iter().all(|e| e.phone.as_ref().is_some_and(|p| wanted.contains(p)))
                }
                _ => false,
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
    /// but available: the task's final results from `/detail`, as far as
    /// the listing could be read (a result is a fact even from part of it).
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

    /// The webhook's `details[]`, record by record. Only an envelope that is
    /// not AIRudder's (not a JSON object, `details` not an array, a
    /// `task_id` that is not text, neither `details` nor `task_id`) is
    /// refused; a task-level body without `details` carries nothing to apply.
    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        let hook: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let hook = hook.as_object().ok_or_else(|| CallbackError::Malformed("not a JSON object".into()))?;
        let task_id = record::text(hook, "task_id", "task_id").map_err(CallbackError::Malformed)?;
        let details = match hook.get("details") {
            Some(Value::Array(d)) => d.as_slice(),
            Some(Value::Null) | None if task_id.is_some() => &[],
            Some(Value::Null) | None => {
                return Err(CallbackError::Malformed("neither task_id nor details[]: not an AIRudder webhook".into()));
            }
            Some(other) => {
                let got = excerpt(&other.to_string());
                return Err(CallbackError::Malformed(format!("details: expected an array, got {got}")));
            }
        };
        Ok(ParsedCallback::per_record(details, &["callee"], |rec| {
            self.reader.event(task_id.as_deref(), rec).map(|e| vec![e])
        }))
    }

    /// AIRudder documents `200` with an empty object.
    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({}))
    }
}
