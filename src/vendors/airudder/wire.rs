//! The bodies the adapter sends to AIRudder. Their shapes are not public
//! (see the module docs); they use the webhook's field names. Everything
//! AIRudder sends back is read from `serde_json::Value` leniently
//! ([`super::record`]), never through fixed structs, so a `null` or a
//! number-as-string cannot lose a whole body.

use serde::Serialize;
use serde_json::Value;

/// `POST <prefix>/auth`.
#[derive(Debug, Serialize)]
pub struct AuthRequest {
    #[serde(rename = "APPKey")]
    pub app_key: String,
    #[serde(rename = "APPSecret")]
    pub app_secret: String,
}

/// One number of a create request.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub callee: String,
    #[serde(rename = "CaseID")]
    pub case_id: String,
    #[serde(rename = "Variables")]
    pub variables: Value,
}

/// `POST <prefix>/task`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateTask {
    pub task_name: String,
    pub robot_hash: String,
    /// AIRudder's own redials inside the round (0 = off).
    pub repeat_number: u32,
    /// Minutes between those redials.
    pub repeat_interval: u32,
    /// `YYYY-MM-DD HH:MM:SS` in the account's time zone.
    pub schedule_start_time: String,
    pub schedule_end_time: String,
    pub contacts: Vec<Contact>,
}

/// `POST <prefix>/detail` (paged).
#[derive(Debug, Clone, Serialize)]
pub struct DetailRequest {
    pub task_id: String,
    pub page: u32,
    pub page_size: u32,
}

/// `POST <prefix>/cancelphonecall`.
#[derive(Debug, Clone, Serialize)]
pub struct CancelCall {
    pub task_id: String,
    pub callee: String,
}

/// `POST <prefix>/operation` (`operation`: `stop`).
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub task_id: String,
    pub operation: String,
}
