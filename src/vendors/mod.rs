//! Vendor adapters: one module per vendor kind behind one trait.
//!
//! An adapter owns everything vendor-specific: building and signing requests,
//! batching limits, verifying and parsing callbacks, looking calls up, and the
//! table that maps the vendor's codes to the normalized [`Outcome`]. The rest
//! of the daemon only sees this trait.

pub mod ai_voice;
pub mod airudder;
pub mod blu;
pub mod common;
pub mod embedded;
pub mod error_code;
pub mod itnio_family;
pub mod kinds;
pub mod laaffic;
pub mod metered;
pub mod registry;
pub mod sim;
pub mod smartivr;

pub use crate::domain::call_event::{CallEvent, RejectedRecord, VendorRedial};
pub use crate::domain::predial::PredialVerdict;
pub use kinds::Kinds;

use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// Header map type shared with the HTTP layer.
pub type HeaderMap = http::HeaderMap;

/// One contact handed to a vendor inside a batch.
#[derive(Debug, Clone)]
pub struct DispatchItem {
    /// Our idempotency key for this attempt (`<installation>-<contact_id>-<attempt_no>`,
    /// unique per installation: a restored backup or a second deployment on
    /// the same vendor account never repeats one). Every
    /// vendor that can carry a reference gets it (and should echo it back), so
    /// a dispatch whose outcome is unknown can be looked up before the contact
    /// is ever dialed again.
    pub attempt_ref: String,
    /// E.164 phone number (`+` and digits). Unique within one batch: vendors
    /// that only echo the phone are matched on (task, phone).
    pub phone: String,
    pub case_id: Option<String>,
    pub variables: serde_json::Value,
}

/// A batch of attempts for one vendor and one campaign.
#[derive(Debug, Clone)]
pub struct DispatchBatch {
    pub campaign: String,
    /// When the daemon sends it (its clock, which tests set): adapters
    /// schedule and name tasks from this, never from the wall clock.
    pub now: DateTime<Utc>,
    /// Where the vendor should POST results: our `/callbacks/{vendor_id}` URL,
    /// with `?token=<callback_token>` when the vendor has one configured.
    pub callback_url: String,
    /// Where a vendor with a pre-dial check asks whether to dial:
    /// `/callbacks/{vendor_id}/predial` (same token).
    pub predial_url: String,
    /// End of the calling window the batch was cut in: vendors that accept one
    /// must not dial after it.
    pub not_after: Option<DateTime<Utc>>,
    /// The campaign asked for the vendor's own redial feature. Off by default:
    /// the daemon applies its own recall rules.
    pub vendor_redial: bool,
    pub items: Vec<DispatchItem>,
}

/// What the vendor said about a batch it accepted.
#[derive(Debug, Clone, Default)]
pub struct DispatchReceipt {
    /// The vendor's task/batch id; polls, cancels and (task, phone) matching use it.
    pub vendor_task_id: String,
    /// `(attempt_ref, vendor call id if the vendor gives one per call)` for
    /// every accepted item.
    pub accepted: Vec<(String, Option<String>)>,
    /// `(attempt_ref, reason)` for items the vendor refused individually.
    pub rejected: Vec<(String, String)>,
    /// The vendor's raw answer, kept on the vendor task row for audit.
    pub raw_response: Option<String>,
}

/// What the daemon knows about one attempt at a vendor: enough for a lookup
/// or a cancel on any vendor (by our reference, the vendor's call id, or the
/// vendor task and the phone).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptHandle {
    pub attempt_ref: String,
    pub phone: String,
    pub vendor_task_id: Option<String>,
    pub external_call_id: Option<String>,
    pub dispatched_at: Option<DateTime<Utc>>,
}

impl AttemptHandle {
    /// A handle that knows only our reference (vendors that echo it need no more).
    pub fn by_ref(attempt_ref: &str) -> AttemptHandle {
        AttemptHandle {
            attempt_ref: attempt_ref.to_string(),
            phone: String::new(),
            vendor_task_id: None,
            external_call_id: None,
            dispatched_at: None,
        }
    }
}

/// One vendor task whose results a poll-based vendor is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskHandle {
    pub vendor_task_id: String,
    pub created_at: DateTime<Utc>,
}

/// How a failed vendor call should be treated by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorErrorKind {
    /// The vendor refused before dialing (rate limit, too many concurrent
    /// tasks, 5xx): try later, the contact's attempts are not consumed.
    RetryLater,
    /// The vendor will not work until an operator fixes something (auth, IP
    /// allowlist, balance, clock). Opens the vendor's circuit: the campaign's
    /// work goes to its next vendor.
    Fatal,
    /// We do not know whether the vendor received the request (timeout,
    /// connection reset after sending). Must be looked up before redialing.
    Unknown,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{vendor}: {message}")]
pub struct VendorError {
    pub vendor: String,
    pub kind: VendorErrorKind,
    pub message: String,
    /// What the failure carried, for the error counter's `code` label.
    pub code: Option<error_code::ErrorCode>,
}

impl VendorError {
    pub fn new(vendor: &str, kind: VendorErrorKind, message: impl Into<String>) -> Self {
        VendorError { vendor: vendor.to_string(), kind, message: message.into(), code: None }
    }

    /// The same error, carrying `code`.
    pub fn with_code(self, code: error_code::ErrorCode) -> Self {
        VendorError { code: Some(code), ..self }
    }
}

/// A callback body read record by record: one bad record never loses the
/// good ones beside it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedCallback {
    pub events: Vec<CallEvent>,
    pub rejected: Vec<RejectedRecord>,
}

impl ParsedCallback {
    /// A body with these events and no bad record.
    pub fn all(events: Vec<CallEvent>) -> ParsedCallback {
        ParsedCallback { events, rejected: Vec::new() }
    }

    /// Read each record of an aggregated body with `read`; a record that
    /// fails is rejected with its index, reason and (best effort) phone
    /// found under one of `phone_keys`.
    pub fn per_record<'a>(
        records: impl IntoIterator<Item = &'a serde_json::Value>,
        phone_keys: &[&str],
        mut read: impl FnMut(&serde_json::Value) -> Result<Vec<CallEvent>, String>,
    ) -> ParsedCallback {
        let mut parsed = ParsedCallback::default();
        for (index, record) in records.into_iter().enumerate() {
            match read(record) {
                Ok(events) => parsed.events.extend(events),
                Err(reason) => {
                    let phone = phone_keys
                        .iter()
                        .find_map(|k| record.get(*k).and_then(common::code_text))
                        .filter(|p| p.chars().any(|c| c.is_ascii_digit()))
                        .map(|p| common::e164(&p));
                    let raw = record.to_string();
                    parsed.rejected.push(RejectedRecord { index, phone, reason, raw });
                }
            }
        }
        parsed
    }
}

/// Answer of a lookup.
// A lookup answer lives only while one attempt is reconciled, so the size of
// `Finished` costs nothing measurable; boxing it would touch every adapter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LookupResult {
    /// The vendor never received this attempt: safe to dial it again.
    NotFound,
    /// The vendor has it and has not finished it yet.
    Pending { external_call_id: Option<String> },
    /// The vendor has a final result for it.
    Finished(CallEvent),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CallbackError {
    /// Authenticity check failed (bad signature, secret, source address): 401.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The body is not what the vendor documents: 400.
    #[error("malformed callback: {0}")]
    Malformed(String),
}

/// A vendor asking, right before it dials, whether it still may.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredialQuery {
    pub attempt_ref: Option<String>,
    pub phone: Option<String>,
    pub vendor_task_id: Option<String>,
}

/// Everything vendor-specific the daemon needs.
#[async_trait::async_trait]
pub trait VendorAdapter: Send + Sync {
    /// The configured vendor instance id (`[[vendors]] id`).
    fn id(&self) -> &str;
    /// The vendor kind (`sim`, `airudder`, ...).
    fn kind(&self) -> &'static str;
    /// Largest batch the vendor accepts in one request.
    fn max_batch(&self) -> usize;
    /// Redials the vendor makes on its own inside one attempt when a campaign
    /// asks for them (`vendor_redial`): each is a real dial that frequency
    /// caps must leave room for before the attempt starts.
    fn own_redials(&self) -> u32 {
        0
    }

    /// Create a vendor task carrying `batch`.
    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError>;
    /// Ask the vendor what became of one attempt.
    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError>;
    /// Cancel outstanding calls. Vendors without a cancel return Ok and do nothing.
    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError>;
    /// True for vendors that can only cancel whole tasks (Laaffic, ITNIO): the
    /// daemon then calls [`cancel`](Self::cancel) only with every outstanding
    /// attempt of each task it names, and leaves a task alone when only part
    /// of it should stop.
    fn cancels_whole_tasks(&self) -> bool {
        false
    }

    /// True for vendors whose results must be fetched ([`poll_task`](Self::poll_task))
    /// rather than waited for.
    fn polls(&self) -> bool {
        false
    }
    /// Final results the vendor has for one task (all pages). Events already
    /// applied are ignored by the attempt fence, so returning them again is safe.
    async fn poll_task(&self, _task: &TaskHandle) -> Result<Vec<CallEvent>, VendorError> {
        Ok(Vec::new())
    }
    /// [`poll_task`](Self::poll_task) read record by record: adapters whose
    /// poll pages carry several records override this, so a record that
    /// cannot be read is kept for audit and the others still apply.
    async fn poll_task_records(&self, task: &TaskHandle) -> Result<ParsedCallback, VendorError> {
        self.poll_task(task).await.map(ParsedCallback::all)
    }

    /// True when [`verify_callback`](Self::verify_callback) checks a vendor
    /// signature. Vendors that do not sign must be configured with a URL
    /// `callback_token` (checked by the ingress for every vendor).
    fn signs_callbacks(&self) -> bool;
    /// Check that a callback really comes from this vendor (its signature).
    /// Vendors that do not sign have nothing to check here: the ingress has
    /// already checked their URL token and source address. A vendor that
    /// signs must override this; the default then refuses everything.
    fn verify_callback(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
        _remote: Option<IpAddr>,
    ) -> Result<(), CallbackError> {
        if self.signs_callbacks() {
            Err(CallbackError::Unauthorized(format!("vendor kind `{}` does not verify its signature", self.kind())))
        } else {
            Ok(())
        }
    }
    /// Parse a callback body into result events (one body may carry several),
    /// record by record: a record that cannot be read is returned in
    /// `rejected` and the others still apply. `Err` only for a body that is
    /// not the vendor's format at all (not JSON, not an object or array):
    /// the vendor then gets a 4xx.
    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError>;
    /// The answer the vendor expects for a stored callback.
    fn callback_ack(&self) -> (u16, serde_json::Value) {
        (200, serde_json::json!({ "code": 200, "message": "success" }))
    }

    /// Parse a pre-dial check. Vendors without one refuse every body.
    fn parse_predial(&self, _body: &[u8]) -> Result<PredialQuery, CallbackError> {
        Err(CallbackError::Malformed(format!("vendor kind `{}` has no pre-dial check", self.kind())))
    }
    /// Encode the daemon's pre-dial answer the way the vendor expects it.
    fn predial_reply(&self, verdict: &PredialVerdict) -> (u16, serde_json::Value) {
        match verdict {
            PredialVerdict::Proceed => (200, serde_json::json!({ "code": 200, "allow": true })),
            PredialVerdict::Refuse { reason } => {
                (200, serde_json::json!({ "code": 200, "allow": false, "reason": reason }))
            }
        }
    }
}
