//! SmartIVR's error answers: its codes (assumed to be HTTP statuses, Laravel
//! style) and how each is treated, and the refusal found in an answer.

use crate::vendors::VendorErrorKind;
use crate::vendors::common::{Answer, as_i64, classify_status, excerpt};
use serde_json::Value;

use VendorErrorKind::{Fatal, RetryLater};

/// The vendor's error codes. Its success answer is `{"code": 200, "status":
/// "ok", ...}`, so its codes are assumed to be HTTP statuses (Laravel
/// style); the HTTP status is used when the body has no code.
pub const ERROR_CODES: &[(i64, VendorErrorKind, &str)] = &[
    (400, Fatal, "bad request: a request we built wrong"),
    (401, Fatal, "unauthenticated: wrong or expired bearer token"),
    (402, Fatal, "account in arrears / no balance"),
    (403, Fatal, "forbidden: account disabled, IP not allowed or in arrears"),
    (404, Fatal, "no such path or task: wrong base_url or path option"),
    (405, Fatal, "method not allowed: wrong path option"),
    (408, RetryLater, "request timeout"),
    (422, Fatal, "validation failed: bad group_id or a request we built wrong"),
    (429, RetryLater, "too many requests"),
    (500, RetryLater, "server error"),
    (502, RetryLater, "bad gateway"),
    (503, RetryLater, "service unavailable / busy"),
    (504, RetryLater, "gateway timeout"),
];

/// How a vendor error code is treated: the table, else like an HTTP status.
pub fn classify(code: i64) -> VendorErrorKind {
    if let Some((_, kind, _)) = ERROR_CODES.iter().find(|(c, _, _)| *c == code) {
        return *kind;
    }
    u16::try_from(code).ok().and_then(|c| reqwest::StatusCode::from_u16(c).ok()).map_or(Fatal, classify_status)
}

/// A refused request: the vendor's code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
    /// A validation error on the task name (Laravel `errors.name`): the name is taken.
    pub name_taken: bool,
}

/// The refusal in an answer, if it is one: a non-2xx status, or a `code`
/// other than 200 (or 0).
pub fn refusal(answer: &Answer) -> Option<Refusal> {
    let value: Option<Value> = serde_json::from_str(&answer.body).ok();
    let code = value.as_ref().and_then(|v| v.get("code")).and_then(as_i64);
    let code_ok = code.is_none_or(|c| c == 0 || (200..300).contains(&c));
    if answer.status.is_success() && code_ok {
        return None;
    }
    let code = code.filter(|c| !(*c == 0 || (200..300).contains(c))).unwrap_or(i64::from(answer.status.as_u16()));
    let errors = value.as_ref().and_then(|v| v.get("errors"));
    let mut message = value
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("msg")))
        .and_then(Value::as_str)
        .map_or_else(|| excerpt(&answer.body), str::to_string);
    if let Some(Value::Object(map)) = errors {
        let details: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        message = format!("{message} ({})", details.join("; "));
    }
    let name_taken = errors.and_then(|e| e.get("name")).is_some();
    Some(Refusal { code, message, name_taken })
}
