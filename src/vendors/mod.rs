//! Vendor adapters: one module per vendor kind behind one trait.
//!
//! An adapter owns everything vendor-specific: building and signing requests,
//! batching limits, verifying and parsing callbacks, looking calls up, and the
//! table that maps the vendor's codes to the normalized [`Outcome`]. The rest
//! of the daemon only sees this trait.

pub mod registry;
pub mod sim;

use crate::domain::outcome::Outcome;
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// Header map type shared with the HTTP layer.
pub type HeaderMap = http::HeaderMap;

/// One contact handed to a vendor inside a batch.
#[derive(Debug, Clone)]
pub struct DispatchItem {
    /// Our idempotency key for this attempt (`<contact_id>-<attempt_no>`). Every
    /// vendor that can carry a reference gets it, so a dispatch whose outcome is
    /// unknown can be looked up before the contact is ever dialed again.
    pub attempt_ref: String,
    /// E.164 phone number.
    pub phone: String,
    pub case_id: Option<String>,
    pub variables: serde_json::Value,
}

/// A batch of attempts for one vendor and one campaign.
#[derive(Debug, Clone)]
pub struct DispatchBatch {
    pub campaign: String,
    /// Where the vendor should POST results (our `/callbacks/{vendor_id}` URL).
    pub callback_url: String,
    /// End of the calling window the batch was cut in: vendors that accept one
    /// must not dial after it.
    pub not_after: Option<DateTime<Utc>>,
    pub items: Vec<DispatchItem>,
}

/// What the vendor said about a batch it accepted.
#[derive(Debug, Clone, Default)]
pub struct DispatchReceipt {
    pub vendor_task_id: String,
    /// `(attempt_ref, vendor call id)` for every accepted item.
    pub accepted: Vec<(String, String)>,
    /// `(attempt_ref, reason)` for items the vendor refused individually.
    pub rejected: Vec<(String, String)>,
}

/// How a failed vendor call should be treated by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorErrorKind {
    /// The vendor refused before dialing (rate limit, busy, 5xx): try later,
    /// the contact's attempts are not consumed.
    RetryLater,
    /// The vendor will not work until an operator fixes something (auth, IP,
    /// balance). Stop using the vendor.
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
}

impl VendorError {
    pub fn new(vendor: &str, kind: VendorErrorKind, message: impl Into<String>) -> Self {
        VendorError { vendor: vendor.to_string(), kind, message: message.into() }
    }
}

/// A result event for one dial, parsed from a callback or a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    /// Our idempotency key, when the vendor echoes it back.
    pub attempt_ref: Option<String>,
    /// The vendor's call id, when it has one.
    pub external_call_id: Option<String>,
    pub outcome: Outcome,
    /// False for progress events (ringing, queued) that must not finish an attempt.
    pub is_final: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// Answer of a lookup by attempt reference.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupResult {
    /// The vendor never received this attempt: safe to dial it again.
    NotFound,
    /// The vendor has it and has not finished it yet.
    Pending { external_call_id: String },
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

/// Everything vendor-specific the daemon needs.
#[async_trait::async_trait]
pub trait VendorAdapter: Send + Sync {
    /// The configured vendor instance id (`[[vendors]] id`).
    fn id(&self) -> &str;
    /// The vendor kind (`sim`, `airudder`, ...).
    fn kind(&self) -> &'static str;
    /// Largest batch the vendor accepts in one request.
    fn max_batch(&self) -> usize;

    /// Create a vendor task carrying `batch`.
    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError>;
    /// Ask the vendor what became of one attempt, by our reference.
    async fn lookup(&self, attempt_ref: &str) -> Result<LookupResult, VendorError>;
    /// Cancel outstanding calls (by our references). Vendors without a cancel
    /// return Ok and do nothing.
    async fn cancel(&self, attempt_refs: &[String]) -> Result<(), VendorError>;

    /// Check that a callback really comes from this vendor.
    fn verify_callback(&self, headers: &HeaderMap, body: &[u8], remote: Option<IpAddr>) -> Result<(), CallbackError>;
    /// Parse a callback body into result events (one body may carry several).
    fn parse_callback(&self, body: &[u8]) -> Result<Vec<CallEvent>, CallbackError>;
}
