//! SmartIVR (巨人网络通讯 "smartivr" robot, FreeSWITCH `mod_autodialer`
//! style): a **polled** vendor. Results are read page by page from
//! `GET v1/task/number` (number status 0–12, `is_blacklist`, every dial in
//! `call_history`) joined with the call records of
//! `POST v1/task/query_done_task_phones` (grade `level_name`, `tags`).
//!
//! Only the query endpoints are documented. Login, task creation, adding
//! numbers, starting, stopping and deleting numbers are assumptions made
//! configurable through [`SmartivrOptions`]; the fake serves the same paths.

pub mod adapter;
pub mod codes;
mod errors;
mod results;
pub mod wire;

#[cfg(test)]
mod tests;

pub use adapter::SmartivrAdapter;

use super::kinds::{KindSpec, require};
use crate::config::VendorSettings;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Rows per page of the paged lists (documented: 每页15条).
pub const PAGE_SIZE: usize = 15;

/// Kind-specific options (`[vendors.options]`), every unknown of the
/// protocol with its assumed default.
///
/// Written as `options = { … }` on a `[[vendors]]` entry with `kind = "smartivr"`;
/// `check-config` names unknown or ill-typed keys by field. Every key, its
/// default and what it assumes (also in `docs/vendors/smartivr.md`):
///
/// | option | default | meaning, assumption |
/// |---|---|---|
/// | `server_timezone` | `UTC` | zone of the server's times |
/// | `group_id` | required | script group |
/// | `country_code` | `""` | stripped from our numbers (the document's are national) and put back |
/// | `call_notify_type` | 0 | 0 none, 1 failures, 2 all; body assumed to be one `task/number` row (+ `task_id`, `level_name`, `tags`), or a list of them |
/// | `create_task_path`, `add_numbers_path`, `start_task_path`, `stop_task_path`, `delete_numbers_path` | `v1/task`, `v1/task/{task_id}/numbers`, `…/start`, `…/stop`, `…/numbers/delete` | not in the document |
/// | `numbers_path`, `done_phones_path` | `v1/task/number`, `v1/task/query_done_task_phones` | documented |
/// | `max_numbers_per_task` | 500 | also `max_batch` |
/// | `end_time_field` | `end_at` | task field for the window end (empty: not sent) |
/// | `vendor_redial_times`, `max_concurrent_calls`, `max_pages` | 1, unset, 10000 | `max_pages` reached answers unknown |
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmartivrOptions {
    /// Time zone of the server's `YYYY-MM-DD HH:MM:SS` times (the document
    /// gives none; a China deployment would be `Asia/Shanghai`).
    pub server_timezone: String,
    /// The robot script group (话术组 `group_id`) new tasks run. Required.
    pub group_id: Option<i64>,
    /// Country code stripped from our E.164 numbers before sending (the
    /// document's numbers are national, e.g. `18651683344` with `86`) and put
    /// back on the numbers the vendor reports. Empty: numbers are sent as
    /// E.164 digits without `+`. Numbers of another country are refused.
    pub country_code: String,
    /// Call notifications (`call_notify_type`): 0 none (results are polled),
    /// 1 failures only, 2 all. The notification body is not public: it is
    /// assumed to be one `v1/task/number` row plus `task_id`. Non-zero needs
    /// `callback_token`.
    pub call_notify_type: u8,
    /// Assumed: create a task (`POST`, body name/group_id/call_notify_url/...).
    pub create_task_path: String,
    /// Assumed: add numbers to a task (`POST {numbers:[{number,custom,variables}]}`).
    pub add_numbers_path: String,
    /// Assumed: start dialing a task (`POST`; starting a started task is harmless).
    pub start_task_path: String,
    /// Assumed: stop (pause) a task (`POST`).
    pub stop_task_path: String,
    /// Assumed: delete waiting numbers from a task (`POST {numbers:[...]}`);
    /// empty when the account has no such endpoint (a partial cancel then
    /// does nothing).
    pub delete_numbers_path: String,
    /// Documented: the paged number list of a task.
    pub numbers_path: String,
    /// Documented: the paged call records of a task.
    pub done_phones_path: String,
    /// Most numbers put into one task (one add-numbers request). Assumed.
    pub max_numbers_per_task: usize,
    /// Name of the assumed task field carrying the end of the calling window
    /// (server-zone time); empty to not send one.
    pub end_time_field: String,
    /// `recycle_limit` sent when a campaign asks for the vendor's own redials
    /// (0 is sent otherwise).
    pub vendor_redial_times: u32,
    /// `maximumcall` (concurrent lines of the task); unset leaves the
    /// account's default.
    pub max_concurrent_calls: Option<u32>,
    /// Safety bound on pages read per list (15 rows each).
    pub max_pages: u32,
}

impl Default for SmartivrOptions {
    fn default() -> Self {
        SmartivrOptions {
            server_timezone: "UTC".into(),
            group_id: None,
            country_code: String::new(),
            call_notify_type: 0,
            create_task_path: "v1/task".into(),
            add_numbers_path: "v1/task/{task_id}/numbers".into(),
            start_task_path: "v1/task/{task_id}/start".into(),
            stop_task_path: "v1/task/{task_id}/stop".into(),
            delete_numbers_path: "v1/task/{task_id}/numbers/delete".into(),
            numbers_path: "v1/task/number".into(),
            done_phones_path: "v1/task/query_done_task_phones".into(),
            max_numbers_per_task: 500,
            end_time_field: "end_at".into(),
            vendor_redial_times: 1,
            max_concurrent_calls: None,
            max_pages: 10_000,
        }
    }
}

impl SmartivrOptions {
    /// The options of `settings`, or every problem with them.
    pub fn from_settings(settings: &VendorSettings) -> Result<(SmartivrOptions, chrono_tz::Tz), Vec<(String, String)>> {
        let opts: SmartivrOptions =
            super::common::options(&settings.options).map_err(|e| vec![("options".to_string(), e)])?;
        let mut issues = Vec::new();
        let tz = opts.server_timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            ("options.server_timezone".to_string(), format!("`{}` is not a time zone name", opts.server_timezone))
        });
        if opts.group_id.is_none() {
            issues.push((
                "options.group_id".to_string(),
                "required: the robot script group (话术组 id) tasks run".into(),
            ));
        }
        if !opts.country_code.chars().all(|c| c.is_ascii_digit()) {
            issues.push(("options.country_code".to_string(), "digits only, e.g. `86`".into()));
        }
        if opts.call_notify_type > 2 {
            issues.push(("options.call_notify_type".to_string(), "0 none, 1 failures only or 2 all".into()));
        }
        if opts.max_numbers_per_task == 0 {
            issues.push(("options.max_numbers_per_task".to_string(), "must be at least 1".into()));
        }
        if opts.max_pages == 0 {
            issues.push(("options.max_pages".to_string(), "must be at least 1".into()));
        }
        for (field, path) in [
            ("create_task_path", &opts.create_task_path),
            ("add_numbers_path", &opts.add_numbers_path),
            ("start_task_path", &opts.start_task_path),
            ("stop_task_path", &opts.stop_task_path),
            ("numbers_path", &opts.numbers_path),
            ("done_phones_path", &opts.done_phones_path),
        ] {
            if path.trim_matches('/').is_empty() {
                issues.push((format!("options.{field}"), "must not be empty".into()));
            }
        }
        match (tz, issues.is_empty()) {
            (Ok(tz), true) => Ok((opts, tz)),
            (Ok(_), false) => Err(issues),
            (Err(e), _) => {
                issues.insert(0, e);
                Err(issues)
            }
        }
    }

    /// True when the vendor is asked to push call notifications.
    pub fn notifies(&self) -> bool {
        self.call_notify_type != 0
    }
}

/// Problems with a smartivr vendor's settings.
pub fn check(settings: &VendorSettings) -> Vec<(String, String)> {
    let mut issues: Vec<(String, String)> = Vec::new();
    issues.extend(require(
        settings.api_key.is_some(),
        "api_key",
        "the bearer token sent as `Authorization: Bearer` (the login flow is not public)",
    ));
    match SmartivrOptions::from_settings(settings) {
        Ok((opts, _)) => {
            if opts.notifies() {
                issues.extend(require(
                    settings.callback_token.is_some(),
                    "callback_token",
                    "smartivr does not sign its call notifications (options.call_notify_type > 0), so the callback URL carries a token",
                ));
            }
        }
        Err(e) => issues.extend(e),
    }
    issues
}

fn build(settings: &VendorSettings, base_url: &str) -> Result<Arc<dyn super::VendorAdapter>, String> {
    let (opts, tz) = SmartivrOptions::from_settings(settings)
        .map_err(|e| e.into_iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))?;
    let token = crate::config::Secret::exposed_or_empty(&settings.api_key);
    let adapter = SmartivrAdapter::new(&settings.id, base_url, token, settings.request_timeout, opts, tz)?;
    Ok(Arc::new(adapter.with_tags(settings.tag_intents.clone())))
}

pub const SPEC: KindSpec = KindSpec { name: codes::KIND, check, build };
