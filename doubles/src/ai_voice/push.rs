//! The ITNIO fake's status push, built as JSON with exactly the fields of
//! the published list, and the [`Variations`] that make it depart from the
//! document the way real pushes do.

use super::Options;
use crate::fake::Dialed;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The push parameters of the published list, in its order (the nested
/// `callDetailList` fields are inside that array).
pub const PUSH_FIELDS: &[&str] = &[
    "callId",
    "appId",
    "robotCallJobId",
    "dialogFlowId",
    "tenantPhoneNumberId",
    "calledPhoneNumber",
    "startTime",
    "endTime",
    "resultStatus",
    "hangupBy",
    "customerConcern",
    "analysisBasis",
    "chatDuration",
    "billingTime",
    "pay",
    "chatRound",
    "attributes",
    "properties",
    "intentLevelDetailName",
    "callRecordTagIds",
    "callRecordTagNames",
    "customerTagIds",
    "customerTagNames",
    "fullAudioUrl",
    "customerAudioUrl",
    "dynamicProperties",
    "callDetailList",
    "callCount",
    "redialTimes",
];

/// The fields every push carries: the call's identity, phone, times and status.
pub const REQUIRED_FIELDS: &[&str] =
    &["callId", "robotCallJobId", "calledPhoneNumber", "startTime", "endTime", "resultStatus"];

/// Fields a push may lack or carry as `null` (`nulls`, `missing_optional`):
/// every field of the list but [`REQUIRED_FIELDS`].
pub fn optional_fields() -> impl Iterator<Item = &'static &'static str> {
    PUSH_FIELDS.iter().filter(|f| !REQUIRED_FIELDS.contains(f))
}

/// The status the fake sends under `unknown_codes`: not in the document's list.
pub const UNKNOWN_STATUS: &str = "RING_TIMEOUT";

/// How the fake's pushes depart from the documented push, for tests of
/// what real pushes do. All off by default: the default push carries the
/// document's fields with the document's types.
#[derive(Debug, Clone, Default)]
pub struct Variations {
    /// Send `null` for every field of [`optional_fields`].
    pub nulls: bool,
    /// Leave out every field of [`optional_fields`].
    pub missing_optional: bool,
    /// Numbers (Long) as strings: ids, times, durations, counts.
    pub numbers_as_strings: bool,
    /// Strings as numbers: `callId`, `calledPhoneNumber`.
    pub strings_as_numbers: bool,
    /// Every push carries [`UNKNOWN_STATUS`] instead of its status.
    pub unknown_codes: bool,
    /// `callRecordTagNames` of every conversation (e.g. 投诉).
    pub call_tags: Vec<String>,
    /// `customerTagNames` of every push.
    pub customer_tags: Vec<String>,
    /// Tag names as one comma-separated string instead of an array.
    pub tags_as_text: bool,
    /// Phones (digits, as imported) whose push carries `resultStatus: 1`:
    /// a wrong type, which must be rejected, not read.
    pub wrong_status_for: HashSet<String>,
    /// Every push the fake sent, in order.
    pub sent: Option<Arc<Mutex<Vec<Value>>>>,
}

/// The push of one call, with every field of the published list.
pub(super) fn record(opts: &Options, v: &Variations, c: Call<'_>) -> Value {
    let (status, level) = match c.code.split_once(':') {
        Some((s, l)) => (s.to_string(), Some(format!("{l}级"))),
        None => (c.code.to_string(), None),
    };
    let talked = is_conversation(&status);
    let d = c.dialed;
    let secs = (d.ended_at - d.started_at).num_seconds().max(i64::from(talked));
    let num = |n: i64| if v.numbers_as_strings { json!(n.to_string()) } else { json!(n) };
    let text = |s: &str| match s.parse::<i64>() {
        Ok(n) if v.strings_as_numbers => json!(n),
        _ => json!(s),
    };
    let tag_list = |names: &[String]| {
        if v.tags_as_text { json!(names.join(",")) } else { json!(names) }
    };
    let (call_tags, customer_tags) =
        if talked { (&v.call_tags[..], &v.customer_tags[..]) } else { (&[][..], &v.customer_tags[..]) };
    let status_value = if v.wrong_status_for.contains(c.phone) {
        json!(1)
    } else if v.unknown_codes {
        json!(UNKNOWN_STATUS)
    } else {
        json!(status)
    };
    let mut r = Map::new();
    r.insert("callId".into(), text(&(900_000 + c.n).to_string()));
    r.insert("appId".into(), json!(opts.app_id.clone().unwrap_or_else(|| "app".into())));
    r.insert("robotCallJobId".into(), num(c.job_id));
    r.insert("dialogFlowId".into(), num(opts.dialog_flow_id.unwrap_or(0)));
    r.insert("tenantPhoneNumberId".into(), num(opts.phone_line_ids.first().copied().unwrap_or(1)));
    r.insert("calledPhoneNumber".into(), text(c.phone));
    r.insert("startTime".into(), num(d.started_at.timestamp()));
    r.insert("endTime".into(), num(d.ended_at.timestamp()));
    r.insert("resultStatus".into(), status_value);
    r.insert("hangupBy".into(), json!(if talked { "ROBOT" } else { "" }));
    r.insert("customerConcern".into(), json!([]));
    r.insert("analysisBasis".into(), json!(""));
    r.insert("chatDuration".into(), num(if talked { secs } else { 0 }));
    r.insert("billingTime".into(), num(if talked { secs.max(6) } else { 0 }));
    r.insert("pay".into(), json!(if talked { "0.010" } else { "0" }));
    r.insert("chatRound".into(), num(if talked { 3 } else { 0 }));
    r.insert("attributes".into(), json!([]));
    r.insert("properties".into(), c.props.clone());
    r.insert("intentLevelDetailName".into(), json!(level.unwrap_or_default()));
    r.insert("callRecordTagIds".into(), json!((1..=call_tags.len()).collect::<Vec<_>>()));
    r.insert("callRecordTagNames".into(), tag_list(call_tags));
    r.insert("customerTagIds".into(), json!((1..=customer_tags.len()).collect::<Vec<_>>()));
    r.insert("customerTagNames".into(), tag_list(customer_tags));
    // Each call's own recordings (a blank string for a call never answered).
    let audio =
        |kind: &str| if talked { format!("https://audio.example/{}/{kind}.wav", 900_000 + c.n) } else { String::new() };
    r.insert("fullAudioUrl".into(), json!(audio("full")));
    r.insert("customerAudioUrl".into(), json!(audio("customer")));
    r.insert("dynamicProperties".into(), json!({}));
    let details = if talked {
        // The robot speaks without offsets ("AI does not provide offset
        // when speaking"); the person's line names the call.
        json!([{ "callDetailId": num(1), "text": "Hello", "type": "ROBOT" },
               { "callDetailId": num(2), "text": format!("Yes, call {}", 900_000 + c.n), "type": "PERSON",
                 "startOffset": num(1000), "endOffset": num(1600) }])
    } else {
        json!([])
    };
    r.insert("callDetailList".into(), details);
    r.insert("callCount".into(), num(1 + i64::from(c.redials)));
    r.insert("redialTimes".into(), num(i64::from(c.redials)));
    if v.nulls {
        for f in optional_fields() {
            r.insert(f.to_string(), Value::Null);
        }
    }
    if v.missing_optional {
        for f in optional_fields() {
            r.remove(*f);
        }
    }
    Value::Object(r)
}

/// The statuses after which the robot talked with the customer (and the
/// vendor does not redial).
pub(super) fn is_conversation(code: &str) -> bool {
    code.starts_with("ANSWERED") || code.starts_with(TRANSFER)
}

/// `resultStatus` "transfer to manual": the robot talked, then a human agent
/// took the call over.
const TRANSFER: &str = "TRANSFER_ARTIFICIAL";

/// One finished call, as [`record`] renders it.
pub(super) struct Call<'a> {
    pub job_id: i64,
    pub n: u64,
    pub phone: &'a str,
    pub code: &'a str,
    pub redials: u32,
    pub props: &'a Value,
    pub dialed: &'a Dialed,
}
