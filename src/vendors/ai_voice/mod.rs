//! ITNIO "AI voice" (`ai-voice`, white-labelled Yiwise): a task is created,
//! customers imported (≤ 100 per request), and each call's record is pushed
//! (unsigned: a URL `callback_token` is required). Signing, the reply
//! envelope and push reading are shared with Laaffic (`itnio_family`).

pub mod adapter;
pub mod codes;
mod details;
#[cfg(test)]
mod doc_tests;
pub mod push;
#[cfg(test)]
mod push_tests;
#[cfg(test)]
mod tests;

use crate::config::VendorSettings;
use crate::domain::outcome::Intent;
use crate::vendors::kinds::{KindSpec, require};
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use adapter::AiVoiceAdapter;
pub use codes::KIND;

/// Customers per import request (−56 beyond).
pub const MAX_IMPORT: usize = 100;
/// The platform's daily dialing hours (−48 outside).
pub const DAY_START: &str = "09:00";
pub const DAY_END: &str = "20:00";

/// Kind-specific `options` of an `ai-voice` vendor. The create/import/stop
/// endpoints are not in the vendor's published page: their paths are
/// assumptions to be checked against the account's API sheet.
///
/// Written as `options = { … }` on a `[[vendors]]` entry with `kind = "ai-voice"`;
/// `check-config` names unknown or ill-typed keys by field. Every key, its
/// default and what it assumes (also in `docs/vendors/ai-voice.md`):
///
/// | option | default | meaning, assumption |
/// |---|---|---|
/// | `create_path`, `import_path`, `stop_path` | `/apiOpen/v1/job/create`, `/apiOpen/v1/job/importCustomer`, `/apiOpen/v1/job/stop` | not in the document; body field names also assumed |
/// | `path_prefix` | `""` | |
/// | `app_id` | none | sent when set |
/// | `dialog_flow_id` | required | the robot script |
/// | `phone_line_ids` | `[]` | empty lets the platform choose |
/// | `timezone` | `Asia/Shanghai` | zone of the 09:00–20:00 hours |
/// | `inactive_periods` | `[]` | at most 3, `HH:MM-HH:MM` |
/// | `days_of_week` | 1..7 | 1 = Monday |
/// | `redial_times`, `redial_interval_minutes` | 1, 30 | only with `vendor_redial` |
/// | `intent_labels` | `{}` | `intentLevelDetailName` → intent, before the default grades A–F |
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AiVoiceOptions {
    /// Path prefix before every endpoint path.
    pub path_prefix: String,
    /// Create a task (assumed path, not documented).
    pub create_path: String,
    /// Import customers into a task, ≤ 100 per request (assumed path, not documented).
    pub import_path: String,
    /// Stop a task (assumed path, not documented).
    pub stop_path: String,
    /// `appId` of the AI voice application, sent when set.
    pub app_id: Option<String>,
    /// `dialogFlowId`: the robot script (required).
    pub dialog_flow_id: Option<i64>,
    /// `tenantPhoneNumberIds`: caller lines; empty lets the platform choose.
    pub phone_line_ids: Vec<i64>,
    /// The account's time zone: daily hours and dates are read in it (not documented; UTC+8 assumed).
    pub timezone: String,
    /// `timezone` as read by [`Self::read`]: parsed once, never re-parsed
    /// (a bad name is a config error, so no adapter runs with a guess).
    #[serde(skip)]
    pub zone: chrono_tz::Tz,
    /// Up to 3 daily inactive periods, `HH:MM-HH:MM`.
    pub inactive_periods: Vec<String>,
    /// Days of week the task may dial, 1 = Monday .. 7 = Sunday.
    pub days_of_week: Vec<u8>,
    /// Automatic redials when the campaign asks for the vendor's redial.
    pub redial_times: u32,
    /// Minutes between the vendor's redials.
    pub redial_interval_minutes: u32,
    /// `intentLevelDetailName` → intent, before the default grade letters A-F.
    pub intent_labels: BTreeMap<String, Intent>,
}

impl Default for AiVoiceOptions {
    fn default() -> Self {
        AiVoiceOptions {
            path_prefix: String::new(),
            create_path: "/apiOpen/v1/job/create".into(),
            import_path: "/apiOpen/v1/job/importCustomer".into(),
            stop_path: "/apiOpen/v1/job/stop".into(),
            app_id: None,
            dialog_flow_id: None,
            phone_line_ids: Vec::new(),
            timezone: "Asia/Shanghai".into(),
            zone: chrono_tz::Asia::Shanghai,
            inactive_periods: Vec::new(),
            days_of_week: (1..=7).collect(),
            redial_times: 1,
            redial_interval_minutes: 30,
            intent_labels: BTreeMap::new(),
        }
    }
}

/// `HH:MM-HH:MM` as two times, start before end.
pub fn period(text: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = text.split_once('-')?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    (a < b).then_some((a, b))
}

impl AiVoiceOptions {
    pub fn read(settings: &VendorSettings) -> (AiVoiceOptions, Vec<(String, String)>) {
        let mut issues = Vec::new();
        let mut opts = match crate::vendors::common::options::<AiVoiceOptions>(&settings.options) {
            Ok(o) => o,
            Err(e) => {
                issues.push(("options".to_string(), e));
                return (AiVoiceOptions::default(), issues);
            }
        };
        let mut bad = |f: &str, m: &str| issues.push((format!("options.{f}"), m.to_string()));
        if opts.dialog_flow_id.is_none() {
            bad("dialog_flow_id", "required: the robot script id (`dialogFlowId`)");
        }
        match opts.timezone.parse::<chrono_tz::Tz>() {
            Ok(zone) => opts.zone = zone,
            Err(_) => bad("timezone", "not an IANA time zone like Asia/Shanghai"),
        }
        if opts.inactive_periods.len() > 3 || opts.inactive_periods.iter().any(|p| period(p).is_none()) {
            bad("inactive_periods", "at most 3 periods like `12:00-13:30`");
        }
        if opts.days_of_week.is_empty() || opts.days_of_week.iter().any(|d| !(1..=7).contains(d)) {
            bad("days_of_week", "days 1 (Monday) to 7 (Sunday), at least one");
        }
        for (f, p) in
            [("create_path", &opts.create_path), ("import_path", &opts.import_path), ("stop_path", &opts.stop_path)]
        {
            if !p.starts_with('/') {
                bad(f, "a path starting with `/`");
            }
        }
        (opts, issues)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.zone
    }

    pub fn full_path(&self, path: &str) -> String {
        let prefix = self.path_prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("/{}", path.trim_start_matches('/'))
        } else {
            format!("/{prefix}/{}", path.trim_start_matches('/'))
        }
    }
}

/// Problems with an `ai-voice` vendor's settings.
pub fn check(settings: &VendorSettings) -> Vec<(String, String)> {
    let mut issues: Vec<(String, String)> = [
        require(settings.api_key.is_some(), "api_key", "the AI voice API key (`Api-Key` header)"),
        require(settings.api_secret.is_some(), "api_secret", "the AI voice API secret the `Sign` header is made with"),
        require(
            settings.callback_token.is_some(),
            "callback_token",
            "AI voice does not sign its status push; a URL token authenticates it",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    issues.extend(AiVoiceOptions::read(settings).1);
    issues
}

fn build(
    settings: &VendorSettings,
    base_url: &str,
) -> Result<std::sync::Arc<dyn crate::vendors::VendorAdapter>, String> {
    Ok(std::sync::Arc::new(AiVoiceAdapter::new(settings, base_url)?))
}

pub const SPEC: KindSpec = KindSpec { name: KIND, check, build };
