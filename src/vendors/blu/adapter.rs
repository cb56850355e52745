//! The daemon's side of Blu: a [`VendorAdapter`] speaking [`super::wire`].

use super::codes::{self, KIND};
use super::paging::Unreadable;
use super::wire::{self, CancelCall, PredialRequest, ResultRecord, Upload, UploadRecord};
use super::{BluOptions, MAX_RECORDS, MobileFormat, sign};
use crate::config::VendorSettings;
use crate::vendors::common::{Answer, Envelope, VendorHttp, e164, excerpt};
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, LookupResult, ParsedCallback,
    PredialQuery, PredialVerdict, TaskHandle, VendorAdapter, VendorError, VendorErrorKind,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// Blu keeps results for this many days.
pub const QUERY_DAYS: i64 = 45;

pub struct BluAdapter {
    http: VendorHttp,
    app_id: String,
    app_key: String,
    pub(super) opts: BluOptions,
    pub(super) tz: chrono_tz::Tz,
}

impl fmt::Debug for BluAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluAdapter")
            .field("id", &self.http.vendor_id)
            .field("app_id", &"<redacted>")
            .field("app_key", &"<redacted>")
            .field("opts", &self.opts)
            .finish()
    }
}

/// `KindSpec::build` for Blu.
pub fn build(v: &VendorSettings, base_url: &str) -> Result<Arc<dyn VendorAdapter>, String> {
    Ok(Arc::new(BluAdapter::from_settings(v, base_url)?))
}

impl BluAdapter {
    pub fn from_settings(v: &VendorSettings, base_url: &str) -> Result<BluAdapter, String> {
        let problems = super::check(v);
        if let Some((field, message)) = problems.into_iter().find(|(f, _)| f != "callback_token") {
            return Err(format!("{field}: {message}"));
        }
        let opts: BluOptions = crate::vendors::common::options(&v.options)?;
        let tz = opts.timezone()?;
        let secret = crate::config::Secret::exposed_or_empty;
        Ok(BluAdapter {
            http: VendorHttp::new(&v.id, base_url, v.request_timeout)?,
            app_id: secret(&v.api_key),
            app_key: secret(&v.api_secret),
            opts,
            tz,
        })
    }

    pub(super) fn err(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        self.http.error(kind, message)
    }

    /// The taskId of the day `at` falls on in the account zone.
    pub fn task_id(&self, at: DateTime<Utc>, campaign: &str) -> String {
        task_id(&self.opts, self.tz, at, campaign)
    }

    /// Our E.164 number as Blu's `mobile`.
    pub fn mobile(&self, phone: &str) -> Result<String, String> {
        to_mobile(&self.opts, phone)
    }

    /// Blu's `mobile` as E.164; `None` for masked numbers (`0177****3990`).
    pub fn phone(&self, mobile: &str) -> Option<String> {
        from_mobile(&self.opts, mobile)
    }

    /// POST a signed JSON body; the envelope's `data` on code 2000.
    pub(super) async fn call(
        &self,
        op: &str,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<(Value, Answer), VendorError> {
        let url = self.http.url(&format!("{}/{path}", self.opts.path_prefix))?;
        // A signature carries the wall clock the vendor checks it against,
        // not the daemon's (test) clock: an effect, not a decision.
        let ts = Utc::now().timestamp_millis().to_string();
        let request = (self.http.client.post(url))
            .header(wire::APP_ID, &self.app_id)
            .header(wire::TIMESTAMP, &ts)
            .header(wire::SIGN, sign(&self.app_id, &self.app_key, &ts))
            .json(body);
        let answer = self.http.send(op, request, idempotent).await?;
        let envelope = answer.json().ok().as_ref().and_then(|v| Envelope::parse_prefer(v, wire::ENVELOPE_CODE_KEYS));
        let Some(envelope) = envelope else {
            if !answer.status.is_success() {
                return Err(self.http.http_status_error(op, &answer));
            }
            // A 2xx we cannot read: an upload may have been taken.
            let kind = if idempotent { VendorErrorKind::RetryLater } else { VendorErrorKind::Unknown };
            return Err(self.err(kind, format!("{op}: unreadable answer: {}", excerpt(&answer.body))));
        };
        if envelope.code == wire::SUCCESS && answer.status.is_success() {
            return Ok((envelope.data, answer));
        }
        let (kind, meaning) = codes::classify(&envelope.code, &self.opts.retry_later_codes);
        Err(self.err(
            kind,
            format!(
                "{op}: HTTP {}: Blu code {} ({meaning}): {}",
                answer.status,
                envelope.code,
                excerpt(&envelope.message)
            ),
        ))
    }

    fn handle_task(&self, h: &AttemptHandle) -> Option<String> {
        h.vendor_task_id.clone().or_else(|| h.dispatched_at.map(|t| self.task_id(t, "")))
    }

    pub fn event(&self, r: &ResultRecord) -> CallEvent {
        CallEvent {
            attempt_ref: r.reference().map(str::to_string),
            external_call_id: None,
            vendor_task_id: r.task_id.clone(),
            phone: r.mobile.as_deref().and_then(|m| self.phone(m)),
            is_final: r.is_final(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_s.map(|s| (s * 1000.0).round() as i64),
            recording_url: r.recording_url.clone(),
            transcript: r.transcript.clone(),
            ..CallEvent::final_outcome(
                codes::normalize(r.call_status.as_deref(), r.intention.as_deref())
                    .with_requested_at(self.opts.payment_slot_callback.pick(r.payment_slot)),
            )
        }
    }
}

pub fn task_id(opts: &BluOptions, tz: chrono_tz::Tz, at: DateTime<Utc>, campaign: &str) -> String {
    let day = at.with_timezone(&tz).format("%Y%m%d").to_string();
    opts.task_id_template
        .replace("{prefix}", &opts.task_prefix)
        .replace("{yyyyMMdd}", &day)
        .replace("{campaign}", campaign)
}

pub fn to_mobile(opts: &BluOptions, phone: &str) -> Result<String, String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return Err(format!("`{phone}` is not a phone number"));
    }
    match opts.mobile_format {
        MobileFormat::Digits => Ok(digits),
        MobileFormat::E164 => Ok(format!("+{digits}")),
        MobileFormat::National => {
            let cc = opts.country_code.as_deref().unwrap_or_default();
            match digits.strip_prefix(cc) {
                Some(rest) if !cc.is_empty() => Ok(format!("{}{rest}", opts.national_prefix)),
                _ => Err(format!("not a +{cc} number (mobile_format = national)")),
            }
        }
    }
}

pub fn from_mobile(opts: &BluOptions, mobile: &str) -> Option<String> {
    let m = mobile.trim();
    if m.is_empty() || m.contains('*') {
        return None;
    }
    if m.starts_with('+') || opts.mobile_format != MobileFormat::National {
        return Some(e164(m));
    }
    let digits: String = m.chars().filter(char::is_ascii_digit).collect();
    let rest = digits.strip_prefix(opts.national_prefix.as_str()).unwrap_or(&digits);
    Some(format!("+{}{rest}", opts.country_code.as_deref().unwrap_or_default()))
}

#[async_trait::async_trait]
impl VendorAdapter for BluAdapter {
    fn id(&self) -> &str {
        &self.http.vendor_id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        MAX_RECORDS
    }

    /// Uploads the batch into the day's task. Blu takes no end time: the
    /// window end is enforced by our answer to its pre-dial check. Blu has no
    /// redial of its own in the public API, so `vendor_redial` changes nothing.
    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        let task_id = self.task_id(batch.now, &batch.campaign);
        let mut receipt = DispatchReceipt { vendor_task_id: task_id.clone(), ..DispatchReceipt::default() };
        let mut records = Vec::new();
        for item in &batch.items {
            let mobile = match self.mobile(&item.phone) {
                Ok(m) => m,
                Err(reason) => {
                    receipt.rejected.push((item.attempt_ref.clone(), reason));
                    continue;
                }
            };
            let vars = match &item.variables {
                Value::Object(_) => item.variables.clone(),
                Value::Null => json!({}),
                other => json!({ "value": other }),
            };
            let name = vars.get(&self.opts.name_variable).and_then(Value::as_str).unwrap_or_default().to_string();
            let mut ext = json!({ "orderId": item.attempt_ref });
            if let Some(case) = &item.case_id {
                ext["caseId"] = json!(case);
            }
            records.push(UploadRecord {
                id: item.attempt_ref.clone(),
                name,
                mobile,
                ext_vars: ext.to_string(),
                call_vars: vars.to_string(),
            });
        }
        if records.is_empty() {
            return Ok(receipt);
        }
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let body = serde_json::to_value(Upload { task_id, records }).unwrap_or_default();
        let (_, answer) = self.call("uploadAndStartJob", "uploadAndStartJob", &body, false).await?;
        receipt.accepted = ids.into_iter().map(|id| (id, None)).collect();
        receipt.raw_response = Some(answer.body);
        Ok(receipt)
    }

    async fn lookup(&self, h: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let Some(task_id) = self.handle_task(h) else {
            return Err(self
                .err(VendorErrorKind::Unknown, format!("lookup {}: no task id and no dispatch time", h.attempt_ref)));
        };
        if h.dispatched_at.is_some_and(|t| Utc::now() - t > chrono::Duration::days(QUERY_DAYS)) {
            return Err(self.err(
                VendorErrorKind::Unknown,
                format!(
                    "lookup {}: dispatched more than {QUERY_DAYS} days ago, beyond Blu's query range",
                    h.attempt_ref
                ),
            ));
        }
        let mobile = self.mobile(&h.phone).ok();
        // A record that names a reference is ours only by it; one without,
        // by the number.
        let ours = |reference: Option<&str>, number: Option<&str>| match reference {
            Some(r) => r == h.attempt_ref,
            None => mobile.is_some() && number == mobile.as_deref(),
        };
        let scan = self.scan(&task_id, |r| r.is_final() && ours(r.reference(), r.mobile.as_deref())).await?;
        let found: Vec<&ResultRecord> =
            scan.records.iter().filter(|r| ours(r.reference(), r.mobile.as_deref())).collect();
        if let Some(r) = found.iter().find(|r| r.is_final()) {
            return Ok(LookupResult::Finished(self.event(r)));
        }
        // A record we could not read may be this attempt's result.
        let maybe = |u: &&Unreadable| match &u.id {
            Some(id) => *id == h.attempt_ref,
            None => u.mobile.is_none() || u.mobile == mobile,
        };
        if let Some(u) = scan.unreadable.iter().find(maybe) {
            return Err(self.err(
                VendorErrorKind::Unknown,
                format!("lookup {}: a record that may be its result is unreadable: {}", h.attempt_ref, u.reason),
            ));
        }
        Ok(if found.is_empty() { LookupResult::NotFound } else { LookupResult::Pending { external_call_id: None } })
    }

    /// `taskCancelPhoneCall` per call; every call is tried, the first error is returned.
    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let mut first = None;
        for h in attempts {
            let (Some(task_id), Ok(mobile)) = (self.handle_task(h), self.mobile(&h.phone)) else {
                continue; // never uploaded (or no number): nothing at Blu to cancel
            };
            let body = serde_json::to_value(CancelCall { task_id, mobile, order_id: h.attempt_ref.clone() })
                .unwrap_or_default();
            if let Err(e) = self.call("taskCancelPhoneCall", "taskCancelPhoneCall", &body, true).await {
                tracing::warn!(vendor = %self.id(), attempt = %h.attempt_ref, error = %e, "Blu cancel failed");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Results come by callback; polling is the fallback the daemon may use.
    async fn poll_task(&self, task: &TaskHandle) -> Result<Vec<CallEvent>, VendorError> {
        let scan = self.scan(&task.vendor_task_id, |_| false).await?;
        for u in &scan.unreadable {
            tracing::warn!(vendor = %self.id(), task = %task.vendor_task_id, record = ?u.id, reason = %u.reason,
                "Blu query record unreadable; skipped");
        }
        Ok(scan.records.iter().filter(|r| r.is_final()).map(|r| self.event(r)).collect())
    }

    fn signs_callbacks(&self) -> bool {
        false
    }

    /// One record per POST as Blu documents it, read record by record all
    /// the same (a `records` list may hold several): a record whose field
    /// has the wrong type is rejected with the field's name, the others apply.
    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
        let (records, task) = wire::callback_records(&value).map_err(CallbackError::Malformed)?;
        Ok(ParsedCallback::per_record(records, &["mobile", "phone"], |raw| {
            let r = ResultRecord::read(raw, task.as_deref(), self.tz)?;
            if r.reference().is_none() && r.mobile.as_deref().and_then(|m| self.phone(m)).is_none() {
                return Err("id: missing, and no readable mobile to match the record on".into());
            }
            Ok(vec![self.event(&r)])
        }))
    }

    fn callback_ack(&self) -> (u16, Value) {
        (200, json!({ "code": 200, "message": "success" }))
    }

    fn parse_predial(&self, body: &[u8]) -> Result<PredialQuery, CallbackError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
        if !value.is_object() {
            return Err(CallbackError::Malformed("pre-dial check is not a JSON object".into()));
        }
        let r = PredialRequest::read(&value).map_err(CallbackError::Malformed)?;
        if r.id.is_none() && r.mobile.is_none() {
            return Err(CallbackError::Malformed("pre-dial check names neither a record id nor a mobile".into()));
        }
        Ok(PredialQuery {
            attempt_ref: r.id,
            phone: r.mobile.as_deref().and_then(|m| self.phone(m)),
            vendor_task_id: r.task_id,
        })
    }

    fn predial_reply(&self, verdict: &PredialVerdict) -> (u16, Value) {
        predial_reply(&self.opts, verdict)
    }
}

pub fn predial_reply(opts: &BluOptions, verdict: &PredialVerdict) -> (u16, Value) {
    match verdict {
        PredialVerdict::Proceed => {
            (200, json!({ "code": opts.predial_proceed_code, "data": { "call": true }, "message": "call" }))
        }
        PredialVerdict::Refuse { reason } => {
            (200, json!({ "code": opts.predial_refuse_code, "data": { "call": false }, "message": reason }))
        }
    }
}
