//! The bodies the Blu fake sends, written with `json!` from the field names
//! of Blu's pages (not from the adapter's types), and the [`Variations`] it
//! can send instead of its documented default.

use crate::fake::Dialed;
use crate::json::code_text;
use chrono::Utc;
use serde_json::{Map, Value, json};

/// Success code of Blu's replies.
pub const SUCCESS: i64 = 2000;

/// The conclusion of a record Blu did not dial (dictionary 2#, "Task cancelled").
const TASK_CANCEL: &str = "Taskcancel";

/// Codes of the annex that are a record's `callStatus`: the line statuses
/// ("Empty stop detection conclusion field") and the special conclusions —
/// the first entries of [`super::CODES`], up to `LICERROR`.
const CALL_STATUS: &[&str] = super::CODES.split_at(19).0;

/// The (callStatus, intention) of a rolled code: a status alone, or a
/// conversation label on a connected (`D99`) call.
fn record_codes(code: &str) -> (Option<&'static str>, Option<String>) {
    match CALL_STATUS.iter().find(|c| **c == code.trim()) {
        Some(status) => (Some(status), None),
        None => (Some("D99"), Some(code.to_string())),
    }
}

/// What the fake sends beyond its documented default (everything off).
/// Each switch is a way real vendors vary that the adapter must read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variations {
    /// Optional result fields without a value (conclusion of an unanswered
    /// call, times of a call not made, payment slot) are sent as `null`
    /// instead of being left out.
    pub nulls: bool,
    /// Optional result fields are left out even when they have a value
    /// (`name`, `orderId`, `extVars`, `callVars`, times, `duration`, `paymentTime`).
    pub omit_optional: bool,
    /// Loose types: numbers as strings (`duration`, the reply `code`) and
    /// digit strings as numbers (`taskId`, `mobile`).
    pub loose_types: bool,
    /// Codes the annex does not list: unanswered calls get line status
    /// `D55`, answered ones the conclusion `Maybe`.
    pub unknown_codes: bool,
    /// Replies carry a `status` word beside `code`:
    /// `{"code":2000,"status":"success",...}` (`"fail"` on errors).
    pub status_beside_code: bool,
    /// Reply text under `msg` instead of `message`.
    pub msg_key: bool,
    /// Callbacks as one flat record without `taskId` (no `{taskId, records}` wrapper).
    pub flat_callbacks: bool,
    /// Each callback's `records` also holds a foreign record whose
    /// `callStatus` has the wrong type (an object).
    pub bad_record_in_callbacks: bool,
    /// Query pages carry no `total`.
    pub no_total: bool,
    /// Query pages hold at most this many records whatever `pageSize`
    /// asks; `pageNo` then counts pages of this size.
    pub page_cap: Option<u32>,
    /// Each task starts with a foreign record whose `callStatus` has the
    /// wrong type, served in query pages like any other.
    pub bad_record_in_pages: bool,
}

/// One uploaded record, as read from the adapter's request.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub id: String,
    pub name: Value,
    pub mobile: String,
    pub ext_vars: String,
    pub call_vars: String,
}

impl Uploaded {
    /// Blu's checks on a record: `id` and `mobile` present, `extVars` and
    /// `callVars` JSON objects written as strings.
    pub fn read(v: &Value) -> Option<Uploaded> {
        let object_in_string = |k: &str| {
            v.get(k).and_then(Value::as_str).filter(|s| serde_json::from_str::<Map<String, Value>>(s).is_ok())
        };
        Some(Uploaded {
            id: v.get("id").and_then(code_text).filter(|s| !s.is_empty())?,
            name: v.get("name").cloned().unwrap_or(Value::Null),
            mobile: v.get("mobile").and_then(code_text).filter(|s| !s.is_empty())?,
            ext_vars: object_in_string("extVars")?.to_string(),
            call_vars: object_in_string("callVars")?.to_string(),
        })
    }

    pub fn order_id(&self) -> Option<String> {
        let ext: Value = serde_json::from_str(&self.ext_vars).ok()?;
        ext.get("orderId").and_then(code_text)
    }
}

/// Writes Blu's bodies under the variations.
pub struct Writer<'a> {
    pub vary: &'a Variations,
    /// The account zone of the records' local times.
    pub tz: chrono_tz::Tz,
}

impl Writer<'_> {
    /// A reply `{code, message, data}` in the spelling the variations choose.
    pub fn answer(&self, code: i64, message: &str, data: Value) -> Value {
        let mut body = Map::new();
        body.insert("code".into(), if self.vary.loose_types { json!(code.to_string()) } else { json!(code) });
        if self.vary.status_beside_code {
            body.insert("status".into(), json!(if code == SUCCESS { "success" } else { "fail" }));
        }
        body.insert(if self.vary.msg_key { "msg" } else { "message" }.into(), json!(message));
        body.insert("data".into(), data);
        Value::Object(body)
    }

    /// A digit string as a number under `loose_types`.
    pub fn loose(&self, text: &str) -> Value {
        match text.parse::<i64>() {
            Ok(n) if self.vary.loose_types && !text.starts_with('0') => json!(n),
            _ => json!(text),
        }
    }

    /// The result record of a call: the upload's fields plus the outcome.
    pub fn result(&self, task_id: &str, up: &Uploaded, d: &Dialed) -> Value {
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let (mut status, mut intention) = match &d.code {
            Some(code) => record_codes(code),
            None => (None, Some(TASK_CANCEL.to_string())),
        };
        let connected = status == Some("D99");
        if self.vary.unknown_codes && d.code.is_some() {
            if connected {
                intention = Some("Maybe".into());
            } else {
                status = Some("D55");
            }
        }
        let payment = (intention.as_deref() == Some("HPTP")).then(|| {
            let day = d.ended_at + chrono::Duration::days(1);
            format!("['{} 00:00:00', '{} 23:59:59']", day.format("%Y-%m-%d"), day.format("%Y-%m-%d"))
        });
        let duration = if connected { (d.ended_at - d.started_at).num_seconds().max(1) } else { 0 };
        let dialed = d.code.is_some();
        let mut r = Map::new();
        // Always there: the record's identity and its outcome.
        if !self.vary.flat_callbacks {
            r.insert("taskId".into(), self.loose(task_id));
        }
        r.insert("id".into(), json!(up.id));
        r.insert("mobile".into(), self.loose(&up.mobile));
        let mut put = |key: &str, value: Option<Value>, optional: bool| match value {
            Some(_) if optional && self.vary.omit_optional => {}
            Some(v) => {
                r.insert(key.into(), v);
            }
            None if self.vary.nulls => {
                r.insert(key.into(), Value::Null);
            }
            None => {}
        };
        put("callStatus", status.map(|s| json!(s)), false);
        put("intention", intention.map(|s| json!(s)), false);
        put("name", Some(up.name.clone()).filter(|n| !n.is_null()), true);
        put("orderId", up.order_id().map(|o| json!(o)), true);
        put("extVars", Some(json!(up.ext_vars)), true);
        put("callVars", Some(json!(up.call_vars)), true);
        put("callStartTime", dialed.then(|| json!(local(d.started_at))), true);
        put("callEndTime", dialed.then(|| json!(local(d.ended_at))), true);
        let duration = if self.vary.loose_types { json!(duration.to_string()) } else { json!(duration) };
        put("duration", dialed.then_some(duration), true);
        put("paymentTime", payment.map(|p| json!(p)), true);
        // "Includes slots and scripts": the shape is not public; the fake
        // sends the one the adapter assumes (turns of role and content) and
        // the recording's address, for connected calls.
        let scripts = json!([{ "role": "robot", "content": "Hello, this is Blu" },
                             { "role": "user", "content": format!("Yes, record {}", up.id) }]);
        put("scripts", connected.then_some(scripts), true);
        put("recordUrl", connected.then(|| json!(format!("https://records.blu.example/{}.mp3", up.id))), true);
        Value::Object(r)
    }

    /// A record of the wrong shape: `callStatus` is an object.
    pub fn foreign(task_id: &str, n: usize) -> Value {
        json!({ "taskId": task_id, "id": format!("foreign-{n}"), "mobile": "620000000000",
                "callStatus": { "code": "D00" }, "intention": null })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn call_statuses_are_the_codes_up_to_the_special_errors() {
        assert_eq!(super::CALL_STATUS.first(), Some(&"D00"));
        assert_eq!(super::CALL_STATUS.last(), Some(&"LICERROR"), "CODES changed order: adjust the split");
        assert!(super::CALL_STATUS.iter().all(|c| c.starts_with('D') || c.ends_with("ERROR") || *c == "NAN"));
    }
}
