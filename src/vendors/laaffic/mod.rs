//! Laaffic AI Agent group call (`laaffic`): tasks created with
//! `POST /voice/group/call/send/agent`, results pushed as JSON arrays (unsigned:
//! a URL `callback_token` is required), tasks queried and cancelled whole.
//! The push carries no task id and no reference of ours: results are matched
//! on (vendor, phone) by the call's time.

pub mod adapter;
pub mod codes;
#[cfg(test)]
mod doc_tests;
#[cfg(test)]
mod lookup_tests;
pub mod push;
#[cfg(test)]
mod push_tests;
#[cfg(test)]
pub(crate) mod tests;

use crate::config::VendorSettings;
use crate::vendors::kinds::{KindSpec, require};
use serde::{Deserialize, Serialize};

pub use adapter::LaafficAdapter;
pub use codes::KIND;

/// Most numbers in one task (document: 最大20w個手機號).
pub const MAX_NUMBERS: usize = 200_000;

/// Kind-specific `options` of a `laaffic` vendor.
///
/// Written as `options = { … }` on a `[[vendors]]` entry with `kind = "laaffic"`;
/// `check-config` names unknown or ill-typed keys by field. Every key, its
/// default and what it assumes (also in `docs/vendors/laaffic.md`):
///
/// | option | default | meaning, assumption |
/// |---|---|---|
/// | `path_prefix` | `""` | the document shows none; `/v3` also appears |
/// | `app_id`, `agent_id` | required | application and AI agent |
/// | `display_num` | none | caller number |
/// | `max_call_seconds` / `max_ringing_seconds` | 300 / 60 | `maxCalls` / `maxRingingTime` |
/// | `enable_recording` | true | vendor default |
/// | `timezone` | `Asia/Shanghai` | account zone of `allowSendTime` and the push's times (undocumented) |
/// | `text_variables` | `[]` | contact variables sent as `text1..text10` |
/// | `recall_interval`, `recall_times` | 30, 1 | `recallFlow` (minutes assumed), only with `vendor_redial` |
/// | `max_numbers` | 200000 | per task |
/// | `query_page_size`, `query_max_pages` | 100, 20 | task query paging (shape undocumented) |
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LaafficOptions {
    /// Path prefix before `/voice/...`: the document shows none, a `/v3` prefix also appears.
    pub path_prefix: String,
    /// `appId` of the Laaffic application (required).
    pub app_id: String,
    /// `agentId` of the AI agent (智能體ID) that talks (required).
    pub agent_id: Option<i64>,
    /// `displayNum` shown to the callee (0-20 digits); none lets the vendor pick.
    pub display_num: Option<String>,
    /// `maxCalls`: hang up n seconds after answer (vendor default 300, at most 999).
    pub max_call_seconds: u32,
    /// `maxRingingTime` in seconds (vendor default 60, 10-120).
    pub max_ringing_seconds: u32,
    /// `enableRecording`.
    pub enable_recording: bool,
    /// Time zone of the account, in which `allowSendTime` HH:MM windows and the
    /// push's date-time strings are read (not documented; UTC+8 like the vendor).
    pub timezone: String,
    /// `timezone` as read by [`Self::read`]: parsed once, never re-parsed
    /// (a bad name is a config error, so no adapter runs with a guess).
    #[serde(skip)]
    pub zone: chrono_tz::Tz,
    /// Variables put in `text1`..`text10`, in order (each cut to 30 characters).
    /// The push does not echo them, so our attempt reference is not sent.
    pub text_variables: Vec<String>,
    /// `recallInterval` when the campaign asks for the vendor's redial (unit as the vendor's console: minutes assumed).
    pub recall_interval: u32,
    /// `recallNum` when the campaign asks for the vendor's redial.
    pub recall_times: u32,
    /// Numbers per task; at most the documented 200,000.
    pub max_numbers: usize,
    /// `pageSize` of task queries (lookup).
    pub query_page_size: u32,
    /// Pages of the task list a lookup reads before giving up.
    pub query_max_pages: u32,
}

impl Default for LaafficOptions {
    fn default() -> Self {
        LaafficOptions {
            path_prefix: String::new(),
            app_id: String::new(),
            agent_id: None,
            display_num: None,
            max_call_seconds: 300,
            max_ringing_seconds: 60,
            enable_recording: true,
            timezone: "Asia/Shanghai".into(),
            zone: chrono_tz::Asia::Shanghai,
            text_variables: Vec::new(),
            recall_interval: 30,
            recall_times: 1,
            max_numbers: MAX_NUMBERS,
            query_page_size: 100,
            query_max_pages: 20,
        }
    }
}

impl LaafficOptions {
    /// The options and every problem with them as `(field, message)`.
    pub fn read(settings: &VendorSettings) -> (LaafficOptions, Vec<(String, String)>) {
        let mut issues = Vec::new();
        let mut opts = match crate::vendors::common::options::<LaafficOptions>(&settings.options) {
            Ok(o) => o,
            Err(e) => {
                issues.push(("options".to_string(), e));
                return (LaafficOptions::default(), issues);
            }
        };
        let mut bad = |f: &str, m: &str| issues.push((format!("options.{f}"), m.to_string()));
        if opts.app_id.trim().is_empty() {
            bad("app_id", "required: the Laaffic application id (`appId`)");
        }
        if opts.agent_id.is_none() {
            bad("agent_id", "required: the AI agent id (`agentId`)");
        }
        match opts.timezone.parse::<chrono_tz::Tz>() {
            Ok(zone) => opts.zone = zone,
            Err(_) => bad("timezone", "not an IANA time zone like Asia/Shanghai"),
        }
        if opts.text_variables.len() > 10 {
            bad("text_variables", "at most 10 (text1..text10)");
        }
        if opts.max_call_seconds == 0 || opts.max_call_seconds > 999 {
            bad("max_call_seconds", "between 1 and 999");
        }
        if !(10..=120).contains(&opts.max_ringing_seconds) {
            bad("max_ringing_seconds", "between 10 and 120");
        }
        if opts.max_numbers == 0 || opts.max_numbers > MAX_NUMBERS {
            bad("max_numbers", "between 1 and 200000");
        }
        if opts.display_num.as_deref().is_some_and(|d| d.len() > 20 || !d.chars().all(|c| c.is_ascii_digit())) {
            bad("display_num", "0-20 digits");
        }
        (opts, issues)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.zone
    }
}

/// Problems with a `laaffic` vendor's settings.
pub fn check(settings: &VendorSettings) -> Vec<(String, String)> {
    let mut issues: Vec<(String, String)> = [
        require(settings.api_key.is_some(), "api_key", "the Laaffic API key (`Api-Key` header)"),
        require(settings.api_secret.is_some(), "api_secret", "the Laaffic API secret the `Sign` header is made with"),
        require(
            settings.callback_token.is_some(),
            "callback_token",
            "Laaffic does not sign its result push; a URL token authenticates it",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    issues.extend(LaafficOptions::read(settings).1);
    issues
}

fn build(
    settings: &VendorSettings,
    base_url: &str,
) -> Result<std::sync::Arc<dyn crate::vendors::VendorAdapter>, String> {
    Ok(std::sync::Arc::new(LaafficAdapter::new(settings, base_url)?))
}

pub const SPEC: KindSpec = KindSpec { name: KIND, check, build };
