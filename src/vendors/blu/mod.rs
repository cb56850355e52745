//! Blu (Blu V2.0 API): an AI voice-bot vendor that takes records into a
//! day-scoped task, asks us before every dial (pre-dial verification), pushes
//! one result record per callback and keeps 45 days of results for queries.
//!
//! ```text
//! POST {base}{path_prefix}/uploadAndStartJob    {taskId, records:[{id,name,mobile,extVars,callVars}]}  (<= 200)
//! POST {base}{path_prefix}/taskCancelPhoneCall  {taskId, mobile, orderId}
//! POST {base}{path_prefix}/queryCallResult      {taskId, pageNo, pageSize}
//! headers: appId, timeStamp (ms), sign = hex(SHA-256(appId + appKey + timeStamp))
//! callback  -> our URL (configured in Blu's console): one record per POST, answer {"code":200,"message":"success"}
//! pre-dial  -> our URL + /predial: {taskId, id, mobile, ...extVars}, answer {"code":..,"data":{"call":bool}}
//! ```
//!
//! Unknowns of the public documentation (the create-task endpoint, the result
//! record's field names, the pre-dial reply, the API's error codes) are
//! options or documented assumptions; the fake follows the same assumptions.

pub mod adapter;
pub mod codes;
mod paging;
mod scripts;
#[cfg(test)]
mod tests;
pub mod wire;

use crate::config::VendorSettings;
use crate::vendors::kinds::{KindSpec, require};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use adapter::BluAdapter;

/// Most records Blu takes in one `uploadAndStartJob`.
pub const MAX_RECORDS: usize = 200;

pub const SPEC: KindSpec = KindSpec { name: codes::KIND, check, build: adapter::build };

/// `sign` header: lowercase hex SHA-256 of `appId + appKey + timeStamp`.
pub fn sign(app_id: &str, app_key: &str, timestamp_ms: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(app_key.as_bytes());
    h.update(timestamp_ms.as_bytes());
    hex::encode(h.finalize())
}

/// How phone numbers are written in `mobile` (Blu's example is a national
/// number, `0177****3990`; the account's country decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MobileFormat {
    /// Country code and number, no `+` (`6281234567`).
    Digits,
    /// `+6281234567`.
    E164,
    /// `national_prefix` + number without `country_code` (`081234567`).
    National,
}

/// Which end of a result's payment-time slot (`paymentTime`, `[start, end]`)
/// becomes the time the callee asked to be called back at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSlotCallback {
    /// The slot's start: remind the callee as the promised time begins.
    Start,
    /// The slot's end: check once the promised time is over.
    End,
    /// Ignore the slot: recall rules use their own intervals.
    Off,
}

impl PaymentSlotCallback {
    /// The requested time a slot stands for under this choice.
    pub fn pick(self, slot: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Option<DateTime<Utc>> {
        let (start, end) = slot?;
        match self {
            PaymentSlotCallback::Start => Some(start),
            PaymentSlotCallback::End => Some(end),
            PaymentSlotCallback::Off => None,
        }
    }
}

/// Kind-specific settings of a Blu vendor (`[vendors.options]`).
///
/// Written as `options = { … }` on a `[[vendors]]` entry with `kind = "blu"`;
/// `check-config` names unknown or ill-typed keys by field. Every key, its
/// default and what it assumes (also in `docs/vendors/blu.md`):
///
/// | option | default | meaning, assumption |
/// |---|---|---|
/// | `path_prefix` | `/rest/v1` | |
/// | `task_id_template`, `task_prefix`, `task_timezone` | `{prefix}{yyyyMMdd}`, `""`, `UTC` | the create-task endpoint is not public; a taskId is valid for one day |
/// | `mobile_format`, `country_code`, `national_prefix` | `digits`, none, `0` | how `mobile` is written (`digits`, `e164`, `national`) |
/// | `name_variable` | `name` | contact variable sent as the record's name |
/// | `query_page_size` | 50 | Blu's default is 10; its maximum is unknown (a cap is followed) |
/// | `query_max_pages` | 2000 | pages one lookup/poll reads before answering unknown |
/// | `predial`, `predial_proceed_code`, `predial_refuse_code` | true, 200, 0 | reply `{"code":…,"data":{"call":bool}}`; 0 from Blu's "Cancel call" example |
/// | `retry_later_codes` | `[]` | reply codes to treat as retry-later once known |
/// | `payment_slot_callback` | `start` | which end of `paymentTime` (`['start', 'end']` in `task_timezone`) is the callee's requested time: `start`, `end` or `off` |
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BluOptions {
    /// Path prefix of the API on `base_url`.
    pub path_prefix: String,
    /// The taskId used for a day's uploads. Blu's create-task endpoint is not
    /// public, so the task is created in Blu's console (or by Blu) under a
    /// predictable name: `{prefix}` is `task_prefix`, `{yyyyMMdd}` the day in
    /// `task_timezone`, `{campaign}` the campaign name. A taskId is valid for
    /// the current day only, so the date must be part of it.
    pub task_id_template: String,
    /// Value of `{prefix}` in `task_id_template`.
    pub task_prefix: String,
    /// The time zone in which Blu's "current day" (and its local callback
    /// times) are reckoned: the account's zone, UTC unless told.
    pub task_timezone: String,
    /// How `mobile` is written: `digits` (default), `e164` or `national`.
    pub mobile_format: MobileFormat,
    /// Country calling code (digits) for `mobile_format = "national"`.
    pub country_code: Option<String>,
    /// Trunk prefix of national numbers.
    pub national_prefix: String,
    /// The contact variable sent as the record's `name` (empty when absent).
    pub name_variable: String,
    /// `pageSize` of `queryCallResult` (Blu's default is 10). Blu may serve
    /// fewer per page (its maximum is not public): the lookup then follows
    /// the size Blu really serves.
    pub query_page_size: u32,
    /// Most `queryCallResult` pages one lookup or poll reads; a task with
    /// more gives an `unknown` answer (never "not found").
    pub query_max_pages: u32,
    /// Blu asks our pre-dial URL (`/callbacks/{vendor_id}/predial`) before
    /// every dial (configured in Blu's console). The fake honours it.
    pub predial: bool,
    /// `code` of our pre-dial answer when the call may go on.
    pub predial_proceed_code: i64,
    /// `code` of our pre-dial answer when the call must not be made (Blu's
    /// example answer is `{"code":0,"message":"Cancel call"}`).
    pub predial_refuse_code: i64,
    /// Extra API error codes to treat as "retry later" (Blu's error codes are
    /// not public; unknown codes are fatal).
    pub retry_later_codes: Vec<String>,
    /// Which end of a result's payment-time slot is the callee's requested
    /// time (a retry by the recall rules is then due at it): `start`
    /// (default), `end` or `off`.
    pub payment_slot_callback: PaymentSlotCallback,
}

impl Default for BluOptions {
    fn default() -> Self {
        BluOptions {
            path_prefix: "/rest/v1".into(),
            task_id_template: "{prefix}{yyyyMMdd}".into(),
            task_prefix: String::new(),
            task_timezone: "UTC".into(),
            mobile_format: MobileFormat::Digits,
            country_code: None,
            national_prefix: "0".into(),
            name_variable: "name".into(),
            query_page_size: 50,
            query_max_pages: 2_000,
            predial: true,
            predial_proceed_code: 200,
            predial_refuse_code: 0,
            retry_later_codes: Vec::new(),
            payment_slot_callback: PaymentSlotCallback::Start,
        }
    }
}

impl BluOptions {
    pub fn timezone(&self) -> Result<chrono_tz::Tz, String> {
        self.task_timezone.parse().map_err(|_| format!("task_timezone: unknown time zone `{}`", self.task_timezone))
    }

    /// Every problem with the options, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.timezone() {
            out.push(("options.task_timezone".into(), e));
        }
        if !self.task_id_template.contains("{yyyyMMdd}") {
            out.push((
                "options.task_id_template".into(),
                "must contain `{yyyyMMdd}`: a Blu taskId is valid for one day only".into(),
            ));
        }
        if !(1..=1000).contains(&self.query_page_size) {
            out.push(("options.query_page_size".into(), "must be between 1 and 1000".into()));
        }
        if self.query_max_pages == 0 {
            out.push(("options.query_max_pages".into(), "must be at least 1".into()));
        }
        if self.predial_proceed_code == self.predial_refuse_code {
            out.push(("options.predial_refuse_code".into(), "must differ from predial_proceed_code".into()));
        }
        let cc_ok =
            self.country_code.as_deref().is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_digit()));
        if self.mobile_format == MobileFormat::National && !cc_ok {
            out.push(("options.country_code".into(), "required (digits) with mobile_format = \"national\"".into()));
        }
        out
    }
}

/// Problems with a Blu vendor's settings.
pub fn check(v: &VendorSettings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match crate::vendors::common::options::<BluOptions>(&v.options) {
        Ok(o) => out.extend(o.problems()),
        Err(e) => out.push(("options".into(), e)),
    }
    out.extend(require(v.api_key.is_some(), "api_key", "Blu's appId (the `appId` header)"));
    out.extend(require(v.api_secret.is_some(), "api_secret", "Blu's appKey (signs every request)"));
    out.extend(require(
        v.callback_token.is_some(),
        "callback_token",
        "Blu does not sign its result callbacks or pre-dial checks, so the URL token is their only authenticity check",
    ));
    out
}
