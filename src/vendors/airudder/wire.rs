//! AIRudder's JSON shapes. The webhook is as documented; the request bodies
//! of create/detail/cancel are not public and use the webhook's field names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST <prefix>/auth`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuthRequest {
    #[serde(rename = "APPKey")]
    pub app_key: String,
    #[serde(rename = "APPSecret")]
    pub app_secret: String,
}

/// One number of a create request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    pub callee: String,
    #[serde(rename = "CaseID")]
    pub case_id: String,
    #[serde(rename = "Variables")]
    pub variables: Value,
}

/// `POST <prefix>/task`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetailRequest {
    pub task_id: String,
    pub page: u32,
    pub page_size: u32,
}

/// `data` of a `/detail` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DetailPage {
    pub task_id: String,
    pub status: String,
    pub total: u64,
    pub details: Vec<Detail>,
}

/// `POST <prefix>/cancelphonecall`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelCall {
    pub task_id: String,
    pub callee: String,
}

/// `POST <prefix>/operation` (`operation`: `stop`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub task_id: String,
    pub operation: String,
}

/// The webhook body ("Notification of Call Completion in Workflow"): one
/// task, several finished calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    #[serde(default)]
    pub workflow_id: String,
    #[serde(default)]
    pub workflow_name: String,
    #[serde(default)]
    pub nodetask_id: String,
    #[serde(default)]
    pub nodetask_name: String,
    pub task_id: String,
    #[serde(default)]
    pub task_name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub repeat_interval: Value,
    #[serde(default)]
    pub repeat_number: Value,
    #[serde(default)]
    pub robot_hash: String,
    #[serde(default)]
    pub robot_method: String,
    #[serde(default)]
    pub sip_line: String,
    #[serde(default)]
    pub schedule_start_time: String,
    #[serde(default)]
    pub schedule_end_time: String,
    pub details: Vec<Detail>,
}

/// One callee's result (webhook `details[]` and `/detail` rows).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Detail {
    #[serde(default)]
    pub id: Value,
    pub callee: String,
    pub result: String,
    #[serde(default)]
    pub result_label: Option<String>,
    #[serde(default)]
    pub duration: Value,
    #[serde(default)]
    pub hangup_type: Option<String>,
    #[serde(default)]
    pub ring_type: Option<String>,
    #[serde(default)]
    pub question_answer: Value,
    #[serde(default, rename = "NerSlots", skip_serializing_if = "Value::is_null")]
    pub ner_slots: Value,
    #[serde(default)]
    pub robot_hash: String,
    #[serde(default)]
    pub call_id: String,
    #[serde(default)]
    pub call_times: Value,
    #[serde(default)]
    pub call_start_time: String,
    #[serde(default)]
    pub call_end_time: String,
    #[serde(default)]
    pub ring_time: Value,
    #[serde(default)]
    pub talk_round: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redail_call: Vec<RedialCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intention_description: Option<String>,
    #[serde(default, rename = "EventLabel", skip_serializing_if = "Value::is_null")]
    pub event_label: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_number: Option<String>,
    #[serde(default, rename = "CaseID")]
    pub case_id: String,
    #[serde(default, rename = "Variables")]
    pub variables: Value,
}

/// One of AIRudder's own redials inside the round (`redail_call[]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedialCall {
    #[serde(default)]
    pub call_id: String,
    #[serde(default)]
    pub call_start_time: String,
    #[serde(default)]
    pub ring_type: Option<String>,
    #[serde(default)]
    pub ring_time: Value,
    #[serde(default)]
    pub hangup_type: Option<String>,
    #[serde(default)]
    pub result_label: Option<String>,
    #[serde(default)]
    pub callee_number: String,
    #[serde(default)]
    pub caller_number: String,
}
