//! AIRudder (`kind = "airudder"`): voice-bot tasks created over the
//! `/service/cloud/*` API with a 24-hour Bearer token, results pushed to a
//! webhook configured in AIRudder's console ("Notification of Call Completion
//! in Workflow"): a task-level envelope whose `details[]` aggregates several
//! finished calls, each with AIRudder's own redials inside the round in
//! `redail_call[]`.
//!
//! What is not public (create/detail/cancel bodies, token lifetime, the
//! webhook signature algorithm, the account time zone) is an [`Options`]
//! field defaulting to the assumption documented on it.

pub mod adapter;
pub mod client;
pub mod codes;
pub mod detail;
pub mod paging;
pub mod record;
pub mod slots;
pub mod wire;

#[cfg(test)]
mod tests;

use super::kinds::{KindSpec, require};
use crate::config::VendorSettings;
use crate::domain::outcome::Intent;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub use adapter::AirudderAdapter;

/// Vendor kind name, also the prefix of raw codes kept in outcomes.
pub const KIND: &str = "airudder";

pub const SPEC: KindSpec = KindSpec {
    name: KIND,
    check,
    build: |settings, base_url| {
        AirudderAdapter::new(settings, base_url).map(|a| std::sync::Arc::new(a) as std::sync::Arc<_>)
    },
};

/// How AIRudder's webhook is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureMode {
    /// Not checked: the daemon's URL `callback_token` (and IP allowlist) is the check.
    #[default]
    None,
    /// `X-AIRudder-Sign` = lowercase hex of HMAC-SHA256(key, raw body).
    HmacSha256,
}

/// Kind-specific settings of an `airudder` vendor (`[vendors.options]`).
///
/// Written as `options = { … }` on a `[[vendors]]` entry with `kind = "airudder"`;
/// `check-config` names unknown or ill-typed keys by field. Every key, its
/// default and what it assumes (also in `docs/vendors/airudder.md`):
///
/// | option | default | meaning, assumption |
/// |---|---|---|
/// | `path_prefix` | `service/cloud` | public clients |
/// | `robot_hash` | required | |
/// | `account_timezone` | `UTC` | zone of every AIRudder time |
/// | `token_lifetime`, `token_refresh_margin` | `24h`, `1h` | documented lifetime; renew early |
/// | `signature`, `signature_header` | `none`, `X-AIRudder-Sign` | the algorithm is not public; `hmac-sha256` = hex HMAC of the raw body with `callback_secret` (default key `airudder`) |
/// | `start_lead`, `default_task_duration` | `30s`, `12h` | start slightly ahead (10509); end when no window end |
/// | `redial_count`, `redial_interval_minutes` | 2, 30 | only with `vendor_redial` |
/// | `max_batch`, `detail_page_size` | 1000, 100 | limits not public |
/// | `detail_max_pages` | 200 | most `/detail` pages a lookup reads; reaching it is "unknown", never "not found" |
/// | `task_name_prefix`, `reference_variable` | `campaignd`, `campaignd_ref` | |
/// | `intent_labels` | `{}` | robot labels differ per robot: label → intent or `not_connected` |
/// | `recording_url` | `""` (off) | AIRudder gives a call's recording by its call id ("Obtain Call Information and Recording Link by Call ID"; the path is not public): a template such as `https://…/recording?call_id={call_id}` makes each answered call's reference; off, the call id alone (kept on every attempt) finds it |
/// | `callback_slot` | `PaymentTime` | `NerSlots` key holding the callee's requested time; value formats are undocumented ("vary by country/region"), so only RFC 3339, `YYYY-MM-DD HH:MM[:SS]` in `account_timezone` and `YYYY-MM-DD` (start of that day) are read, anything else (the document's `Time_0`) is ignored; `""` turns it off |
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Path prefix of every API call (`<base_url>/<path_prefix>/task` ...).
    /// The public clients use `service/cloud`.
    pub path_prefix: String,
    /// The robot (`robot_hash`) that makes the calls. Required: AIRudder has
    /// no default robot.
    pub robot_hash: Option<String>,
    /// IANA zone of the AIRudder account: every time AIRudder reads or writes
    /// (`schedule_*_time`, `call_start_time`...) is in it.
    pub account_timezone: String,
    /// How long a token lives (AIRudder: 24 h; the auth answer carries no expiry).
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// A token is renewed this long before `token_lifetime` runs out.
    #[serde(with = "humantime_serde")]
    pub token_refresh_margin: Duration,
    /// Webhook authentication: "none" (default; the algorithm behind
    /// `X-AIRudder-Sign` is not public, so the URL token is used) or
    /// "hmac-sha256".
    pub signature: SignatureMode,
    /// Header carrying the webhook signature.
    pub signature_header: String,
    /// Tasks are scheduled to start this long after the request, so the
    /// start is not already past on AIRudder's clock (error 10509).
    #[serde(with = "humantime_serde")]
    pub start_lead: Duration,
    /// Task end when the batch has no window end (`not_after`).
    #[serde(with = "humantime_serde")]
    pub default_task_duration: Duration,
    /// `repeat_number` when the campaign asks for the vendor's own redial
    /// (`vendor_redial`); 0 otherwise.
    pub redial_count: u32,
    /// `repeat_interval` (minutes) between AIRudder's own redials.
    pub redial_interval_minutes: u32,
    /// Numbers per create request (AIRudder's limit is not public).
    pub max_batch: usize,
    /// Rows per page when reading `/detail`.
    pub detail_page_size: u32,
    /// Most `/detail` pages read for one task. A listing cut off here is
    /// incomplete: a lookup then never concludes a call is absent.
    pub detail_max_pages: u32,
    /// Start of generated task names (`<prefix>-<campaign>-<random>`).
    pub task_name_prefix: String,
    /// Key inside `Variables` carrying our attempt reference (echoed back in
    /// every webhook detail).
    pub reference_variable: String,
    /// Robot intent labels (`result_label`) on top of the built-in table:
    /// label → intent name (`promise_to_pay`, `refuse`, ...) or
    /// `not_connected` for a label the robot gives calls nobody answered.
    pub intent_labels: BTreeMap<String, String>,
    /// The `NerSlots` key whose value is the time the callee asked to be
    /// called back at (a retry by the recall rules is then due at it). Value
    /// formats are not documented: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` in
    /// `account_timezone`, or a date are read, anything else is ignored.
    /// Empty: off.
    pub callback_slot: String,
    /// Where an answered call's recording is fetched, `{call_id}` standing
    /// for its call id (the endpoint is listed, its path is not public).
    /// Empty: off.
    pub recording_url: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path_prefix: "service/cloud".into(),
            robot_hash: None,
            account_timezone: "UTC".into(),
            token_lifetime: Duration::from_secs(24 * 3600),
            token_refresh_margin: Duration::from_secs(3600),
            signature: SignatureMode::None,
            signature_header: "X-AIRudder-Sign".into(),
            start_lead: Duration::from_secs(30),
            default_task_duration: Duration::from_secs(12 * 3600),
            redial_count: 2,
            redial_interval_minutes: 30,
            max_batch: 1000,
            detail_page_size: 100,
            detail_max_pages: 200,
            task_name_prefix: "campaignd".into(),
            reference_variable: "campaignd_ref".into(),
            intent_labels: BTreeMap::new(),
            callback_slot: "PaymentTime".into(),
            recording_url: String::new(),
        }
    }
}

/// What a robot label means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelMeaning {
    /// The callee talked to the robot; the conversation produced this intent.
    Connected(Intent),
    /// The robot labels dials nobody answered with it.
    NotConnected,
}

/// `intent_labels` values as meanings.
pub fn parse_label(text: &str) -> Result<LabelMeaning, String> {
    if text == "not_connected" {
        return Ok(LabelMeaning::NotConnected);
    }
    text.parse::<Intent>().map(LabelMeaning::Connected).map_err(|e| format!("{e}, or not_connected"))
}

impl Options {
    pub fn timezone(&self) -> Result<chrono_tz::Tz, String> {
        self.account_timezone.parse().map_err(|_| format!("`{}` is not an IANA time zone", self.account_timezone))
    }

    pub fn labels(&self) -> Result<BTreeMap<String, LabelMeaning>, String> {
        self.intent_labels
            .iter()
            .map(|(k, v)| parse_label(v).map(|m| (k.clone(), m)).map_err(|e| format!("intent_labels.{k}: {e}")))
            .collect()
    }
}

/// Problems with an `airudder` vendor's settings, as `(field, message)`.
pub fn check(settings: &VendorSettings) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    issues.extend(require(settings.api_key.is_some(), "api_key", "AIRudder APPKey (POST /service/cloud/auth)"));
    issues.extend(require(
        settings.api_secret.is_some(),
        "api_secret",
        "AIRudder APPSecret (POST /service/cloud/auth)",
    ));
    let opts = match crate::vendors::common::options::<Options>(&settings.options) {
        Ok(o) => o,
        Err(e) => {
            issues.push(("options".into(), e));
            return issues;
        }
    };
    if opts.robot_hash.as_deref().is_none_or(|h| h.trim().is_empty()) {
        issues.push(("options.robot_hash".into(), "required: the AIRudder robot that makes the calls".into()));
    }
    if let Err(e) = opts.timezone() {
        issues.push(("options.account_timezone".into(), e));
    }
    if let Err(e) = opts.labels() {
        issues.push(("options.intent_labels".into(), e));
    }
    if opts.token_refresh_margin >= opts.token_lifetime {
        issues.push((
            "options.token_refresh_margin".into(),
            "must be shorter than token_lifetime (every request would fetch a new token)".into(),
        ));
    }
    if opts.max_batch == 0 || opts.detail_page_size == 0 || opts.detail_max_pages == 0 {
        issues.push(("options".into(), "max_batch, detail_page_size and detail_max_pages must be at least 1".into()));
    }
    if !opts.recording_url.is_empty() && !opts.recording_url.contains("{call_id}") {
        issues.push((
            "options.recording_url".into(),
            "must contain {call_id}: a recording is found by its call id".into(),
        ));
    }
    if opts.reference_variable.is_empty() {
        issues.push(("options.reference_variable".into(), "must not be empty".into()));
    }
    if opts.signature == SignatureMode::None && settings.callback_token.is_none() {
        issues.push((
            "callback_token".into(),
            "required: AIRudder's webhook is not verified with options.signature = \"none\" (the algorithm behind \
             X-AIRudder-Sign is not public), so the callback URL must carry a secret token"
                .into(),
        ));
    }
    issues
}
