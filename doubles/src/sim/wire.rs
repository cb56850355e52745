//! The `sim` vendor's HTTP protocol as the simulator speaks it. The daemon's
//! adapter has its own copy: the two meet only on the wire, where the
//! adapter's tests against this server keep them in step.
//!
//! ```text
//! POST {base}/v1/batches                 Authorization: Bearer {api_key}
//!      CreateBatch -> 200 BatchAccepted | 4xx/5xx SimError
//! GET  {base}/v1/calls/{reference}        -> 200 CallStatus | 404 SimError
//! POST {base}/v1/calls/{reference}/cancel -> 200 CancelResult | 404 SimError
//! callback: POST {callback_url}  X-Sim-Signature: hex(HMAC-SHA256(callback_secret, body))
//!      CallResult -> the daemon answers 2xx once it has stored the body
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const SIGNATURE_HEADER: &str = "x-sim-signature";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateBatch {
    pub campaign: String,
    pub callback_url: String,
    /// Calls not started by this instant are cancelled (reported as `CANCELLED`).
    pub not_after: Option<DateTime<Utc>>,
    pub calls: Vec<CallRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallRequest {
    /// Caller's idempotency key. A reference the sim already knows is not
    /// dialed again; the existing call is returned instead.
    pub reference: String,
    pub phone: String,
    #[serde(default)]
    pub case_id: Option<String>,
    #[serde(default)]
    pub variables: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchAccepted {
    pub batch_id: String,
    pub calls: Vec<CallAccepted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallAccepted {
    pub reference: String,
    pub call_id: String,
}

/// Error envelope. `code` is one of `unauthorized` (401), `bad_request` (400),
/// `rate_limited` (429), `unavailable` (503), `not_found` (404).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Queued,
    Dialing,
    Finished,
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallStatus {
    pub reference: String,
    pub call_id: String,
    pub batch_id: String,
    pub state: CallState,
    /// Present once `state` is `finished` or `cancelled`.
    pub result: Option<CallResult>,
}

/// The callback body (also embedded in [`CallStatus`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    /// Unique per call result; a duplicate delivery repeats the same id.
    pub event_id: String,
    pub call_id: String,
    pub reference: String,
    pub batch_id: String,
    /// One of [`codes::STATUS_CODES`](super::codes::STATUS_CODES).
    pub status: String,
    /// One of [`codes::INTENT_CODES`](super::codes::INTENT_CODES), for answered calls.
    pub intent: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// RFC 3339 time the callee asked to be called back at (`CALLBACK`
    /// results with `callback_after` set). Text, like a real vendor's slot:
    /// the adapter reads it and ignores what it cannot read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelResult {
    pub cancelled: u32,
}
