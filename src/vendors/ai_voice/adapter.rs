//! The daemon's side of ITNIO "AI voice": create a task, import its customers,
//! stop it, and read the per-call status push.

use super::codes::{KIND, REPLY_CODES};
use super::push;
use super::{AiVoiceOptions, DAY_END, DAY_START, MAX_IMPORT, period};
use crate::config::VendorSettings;
use crate::domain::tags::TagIntents;
use crate::vendors::common::{self, VendorHttp, as_i64, code_text};
use crate::vendors::itnio_family::sign::{self, Class};
use crate::vendors::itnio_family::{Keys, task_name};
use crate::vendors::{
    AttemptHandle, CallbackError, DispatchBatch, DispatchReceipt, LookupResult, ParsedCallback, VendorAdapter,
    VendorError, VendorErrorKind,
};
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use serde_json::{Map, Value, json};
use std::fmt;

pub use super::push::REF_PROPERTY;

pub struct AiVoiceAdapter {
    id: String,
    http: VendorHttp,
    keys: Keys,
    opts: AiVoiceOptions,
    /// The vendor's tag → intent table (`tag_intents`): complaint and
    /// dispute tags reach the recall policy.
    tags: TagIntents,
}

impl fmt::Debug for AiVoiceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiVoiceAdapter")
            .field("id", &self.id)
            .field("keys", &self.keys)
            .field("opts", &self.opts)
            .finish()
    }
}

/// The daily dialing hours of a task created at `now` for a window ending at
/// `not_after`, clamped to the platform's 09:00-20:00 in zone `tz`; `None`
/// when nothing of today's hours is left.
pub fn daily_hours(
    now: DateTime<Utc>,
    not_after: Option<DateTime<Utc>>,
    tz: chrono_tz::Tz,
) -> Option<(String, NaiveTime, NaiveTime)> {
    let day_start = NaiveTime::parse_from_str(DAY_START, "%H:%M").ok()?;
    let day_end = NaiveTime::parse_from_str(DAY_END, "%H:%M").ok()?;
    let local = now.with_timezone(&tz);
    // Next whole minute from now.
    let now_t = local.time().with_second(0)?.with_nanosecond(0)? + chrono::Duration::minutes(1);
    let start = now_t.max(day_start);
    let end = match not_after.map(|t| t.with_timezone(&tz)) {
        Some(t) if t.date_naive() == local.date_naive() => t.time().with_second(0)?.with_nanosecond(0)?.min(day_end),
        Some(t) if t.date_naive() < local.date_naive() => return None,
        _ => day_end,
    };
    (start < end && now_t > local.time()).then(|| (local.format("%Y-%m-%d").to_string(), start, end))
}

impl AiVoiceAdapter {
    pub fn new(settings: &VendorSettings, base_url: &str) -> Result<AiVoiceAdapter, String> {
        let (opts, issues) = AiVoiceOptions::read(settings);
        if let Some((field, message)) = issues.first() {
            return Err(format!("{field}: {message}"));
        }
        Ok(AiVoiceAdapter {
            id: settings.id.clone(),
            http: VendorHttp::new(&settings.id, base_url, settings.request_timeout)?,
            keys: Keys::from_settings(settings)?,
            opts,
            tags: settings.tag_intents.clone(),
        })
    }

    async fn post(
        &self,
        op: &str,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<(common::Envelope, String), VendorError> {
        self.keys.post(&self.http, op, &self.opts.full_path(path), body, idempotent).await
    }

    fn create_body(&self, batch: &DispatchBatch, name: &str, date: &str, start: NaiveTime, end: NaiveTime) -> Value {
        let mut b = Map::new();
        b.insert("name".into(), json!(name));
        if let Some(app) = &self.opts.app_id {
            b.insert("appId".into(), json!(app));
        }
        b.insert("dialogFlowId".into(), json!(self.opts.dialog_flow_id));
        if !self.opts.phone_line_ids.is_empty() {
            b.insert("tenantPhoneNumberIds".into(), json!(self.opts.phone_line_ids));
        }
        b.insert("mode".into(), json!("AUTO"));
        b.insert("startDate".into(), json!(date));
        b.insert("dailyStartTime".into(), json!(start.format("%H:%M").to_string()));
        b.insert("dailyEndTime".into(), json!(end.format("%H:%M").to_string()));
        let inactive: Vec<Value> = (self.opts.inactive_periods.iter().filter_map(|p| period(p)))
            .map(|(s, e)| json!({ "startTime": s.format("%H:%M").to_string(), "endTime": e.format("%H:%M").to_string() }))
            .collect();
        b.insert("inactiveTimeList".into(), Value::Array(inactive));
        b.insert("daysOfWeek".into(), json!(self.opts.days_of_week));
        let redials = if batch.vendor_redial { self.opts.redial_times } else { 0 };
        b.insert("redialTimes".into(), json!(redials));
        b.insert("redialInterval".into(), json!(if redials > 0 { self.opts.redial_interval_minutes } else { 0 }));
        Value::Object(b)
    }

    /// Create the task; a taken name (−33) is regenerated and tried once more.
    async fn create(
        &self,
        batch: &DispatchBatch,
        date: &str,
        start: NaiveTime,
        end: NaiveTime,
    ) -> Result<(String, String), VendorError> {
        let first = batch.items.first().map_or("", |i| i.attempt_ref.as_str());
        let mut retry = false;
        loop {
            let name = task_name(&batch.campaign, first, retry);
            let (env, raw) = self
                .post("create task", &self.opts.create_path, &self.create_body(batch, &name, date, start, end), false)
                .await?;
            match sign::row(REPLY_CODES, &env.code).map(|r| r.2) {
                Some(Class::Success) => {
                    let id = code_text(&env.data)
                        .or_else(|| env.data.get("robotCallJobId").and_then(code_text))
                        .filter(|t| !t.is_empty());
                    return match id {
                        Some(id) => Ok((id, raw)),
                        None => Err(self.http.error(
                            VendorErrorKind::Unknown,
                            format!("create task: success without a task id: {}", common::excerpt(&raw)),
                        )),
                    };
                }
                Some(Class::Handled) if env.code.trim() == "-33" && !retry => retry = true,
                _ => return Err(sign::code_error(&self.http, "create task", REPLY_CODES, &env)),
            }
        }
    }

    fn reader(&self) -> push::Reader<'_> {
        push::Reader { tz: self.opts.tz(), labels: &self.opts.intent_labels, tags: &self.tags }
    }
}

#[async_trait::async_trait]
impl VendorAdapter for AiVoiceAdapter {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        MAX_IMPORT
    }

    fn own_redials(&self) -> u32 {
        self.opts.redial_times
    }

    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        if batch.items.is_empty() {
            return Ok(DispatchReceipt::default());
        }
        if batch.items.len() > MAX_IMPORT {
            let msg = format!("dispatch: {} customers, at most {MAX_IMPORT} per import", batch.items.len());
            return Err(self.http.error(VendorErrorKind::Fatal, msg));
        }
        let tz = self.opts.tz();
        let Some((date, start, end)) = daily_hours(batch.now, batch.not_after, tz) else {
            let msg = format!(
                "dispatch: outside the vendor's {DAY_START}-{DAY_END} dialing hours ({}) or the batch's window",
                self.opts.timezone
            );
            return Err(self.http.error(VendorErrorKind::RetryLater, msg));
        };
        let (mut customers, mut accepted, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
        for item in &batch.items {
            let digits: String = item.phone.chars().filter(char::is_ascii_digit).collect();
            if !(6..=18).contains(&digits.len()) {
                rejected.push((item.attempt_ref.clone(), "phone number must be 6-18 digits".to_string()));
                continue;
            }
            let mut props = match &item.variables {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            props.insert(REF_PROPERTY.into(), json!(item.attempt_ref));
            let mut c = Map::new();
            c.insert("phoneNumber".into(), json!(digits));
            if let Some(case) = &item.case_id {
                c.insert("name".into(), json!(case));
            }
            c.insert("properties".into(), Value::Object(props));
            customers.push(Value::Object(c));
            accepted.push((item.attempt_ref.clone(), None));
        }
        if customers.is_empty() {
            return Ok(DispatchReceipt { rejected, ..DispatchReceipt::default() });
        }
        let (job, created_raw) = self.create(batch, &date, start, end).await?;
        let body =
            json!({ "robotCallJobId": as_i64(&json!(job)).map_or(json!(job), Value::from), "customers": customers });
        let (env, raw) = self.post("import customers", &self.opts.import_path, &body, false).await?;
        if env.code.trim() != "0" {
            return Err(sign::code_error(&self.http, "import customers", REPLY_CODES, &env));
        }
        let raw_response = format!("{{\"create\":{created_raw},\"import\":{raw}}}");
        Ok(DispatchReceipt { vendor_task_id: job, accepted, rejected, raw_response: Some(raw_response) })
    }

    /// The platform documents no call or task query: a lookup cannot tell,
    /// and says so instead of guessing (the push is retried by the vendor).
    async fn lookup(&self, _attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        Err(self.http.error(VendorErrorKind::Unknown, "lookup: AI voice documents no call or task query"))
    }

    /// Stops whole tasks: the tasks of `attempts` (the daemon only asks when
    /// every outstanding attempt of a task is included). −38/−54 (task already
    /// ended) count as done.
    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let ids = sign::task_ids(attempts);
        for id in &ids {
            let body = json!({ "robotCallJobId": as_i64(&json!(id)).map_or(json!(id), Value::from) });
            let (env, _) = self.post("stop task", &self.opts.stop_path, &body, true).await?;
            if !matches!(env.code.trim(), "0" | "-38" | "-54") {
                return Err(sign::code_error(&self.http, "stop task", REPLY_CODES, &env));
            }
        }
        Ok(())
    }

    fn cancels_whole_tasks(&self) -> bool {
        true
    }

    fn signs_callbacks(&self) -> bool {
        false
    }

    /// One call record per push (an array of them is read record by record).
    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        self.reader().parse(body)
    }

    /// Not documented: the family's success envelope.
    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({ "status": "0", "reason": "success" }))
    }
}
