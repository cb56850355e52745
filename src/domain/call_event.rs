//! What a vendor told us about one call, in our terms: the result event an
//! adapter parses from a callback or a poll. Shared by the vendor adapters
//! (which build it) and the store (which applies it), so it lives here,
//! below both.

use crate::domain::call_cost::CallCost;
use crate::domain::outcome::Outcome;
use chrono::{DateTime, Utc};

/// A result event for one dial, parsed from a callback or a poll.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallEvent {
    /// Our idempotency key, when the vendor echoes it back.
    pub attempt_ref: Option<String>,
    /// The vendor's call id, when it has one.
    pub external_call_id: Option<String>,
    /// The vendor's task id, for (task, phone) matching.
    pub vendor_task_id: Option<String>,
    /// The callee as the vendor reports it, normalized to E.164 where possible.
    pub phone: Option<String>,
    pub outcome: Outcome,
    /// False for progress events (ringing, queued) that must not finish an attempt.
    pub is_final: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Dials the vendor made on its own after the first one, in order. When
    /// there are any, the final `outcome` is the last one's: each redial
    /// carries its own outcome, and [`first_dial`](Self::first_dial) the
    /// first dial's.
    pub redials: Vec<VendorRedial>,
    /// The first dial (its call id, time and outcome, usually a failure such
    /// as no answer) when the vendor redialed; `None` there means the vendor
    /// did not describe it, and it is recorded as `unknown` at the event's
    /// time. Ignored without redials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_dial: Option<VendorRedial>,
    /// The vendor put the number on its own blacklist (smartivr
    /// `is_blacklist`, status 11): the number is added to the suppression
    /// list with source `vendor:<id>` and never dialed again.
    #[serde(default)]
    pub blacklisted: bool,
    /// Where the call's recording is (a URL, or the vendor's own reference
    /// such as smartivr's `recordfile` path), when the vendor gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// The dialogue as text (`ROBOT: …` / `PERSON: …` lines), when it comes
    /// with the result (ITNIO `callDetailList`, Blu scripts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Time from dial to answer, where the vendor reports it or its
    /// documented timestamps give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_ms: Option<i64>,
    /// The call time the vendor bills (ITNIO `billingTime`, Laaffic
    /// `chargedDuration`, smartivr `bill`): what a configured price per
    /// minute prices when the vendor reports no cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_ms: Option<i64>,
    /// What the call cost, as the vendor reports it (ITNIO `pay`, Laaffic
    /// `cost`) or as priced from the vendor's configured price per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CallCost>,
}

impl CallEvent {
    /// A final event with only an outcome; fill in the rest with struct update syntax.
    pub fn final_outcome(outcome: Outcome) -> CallEvent {
        CallEvent {
            attempt_ref: None,
            external_call_id: None,
            vendor_task_id: None,
            phone: None,
            outcome,
            is_final: true,
            started_at: None,
            ended_at: None,
            duration_ms: None,
            redials: Vec::new(),
            first_dial: None,
            blacklisted: false,
            recording_url: None,
            transcript: None,
            ring_ms: None,
            billed_ms: None,
            cost: None,
        }
    }
}

/// One real dial inside an attempt: a redial the vendor made on its own
/// (AIRudder `redail_call[]`, ITNIO `callCount`), or the first dial of an
/// attempt the vendor redialed. Each is recorded and counts for frequency caps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VendorRedial {
    pub external_call_id: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
}

/// One record of a callback body that could not be read (wrong type, a
/// required field missing or null): kept for audit, while the body's other
/// records are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRecord {
    /// Position of the record in the body (0 for a one-record body).
    pub index: usize,
    /// The callee, when it could still be read: `explain` shows the
    /// rejection on that contact's trail.
    pub phone: Option<String>,
    /// Which field and why, e.g. `resultStatus: expected a string, got 1`.
    pub reason: String,
    /// The record as the vendor sent it (JSON text), for audit.
    pub raw: String,
}
