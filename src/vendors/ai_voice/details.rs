//! What an ITNIO push tells about a call beyond its outcome: the composite
//! recording (`fullAudioUrl`, else `customerAudioUrl`), the dialogue
//! (`callDetailList[]`: `type` ROBOT/PERSON and `text`), the billed time
//! (`billingTime`, seconds), the price (`pay`, USD per the document) and the
//! ring time, derived from the documented times: `startTime` is the dial's
//! start, `endTime` the call's end and `chatDuration` the talk, so what
//! precedes the talk is ringing.

use crate::domain::call_cost::CallCost;
use crate::vendors::itnio_family::fields;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The currency the document gives `pay` in.
pub const PAY_CURRENCY: &str = "USD";

/// The details of one push record.
#[derive(Debug, Default, PartialEq)]
pub struct Details {
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub ring_ms: Option<i64>,
    pub billed_ms: Option<i64>,
    pub cost: Option<CallCost>,
}

/// Read the details of record `r`, whose call ran from `started` (dial) to
/// `ended` with `chat_seconds` of talk.
pub fn read(
    r: &Value,
    started: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    chat_seconds: Option<i64>,
) -> Result<Details, String> {
    let recording_url = match fields::text(r, "fullAudioUrl")? {
        Some(url) => Some(url),
        None => fields::text(r, "customerAudioUrl")?,
    };
    let ring_ms = match (started, ended) {
        (Some(s), Some(e)) if e >= s => {
            Some(((e - s).num_milliseconds() - chat_seconds.unwrap_or(0).max(0) * 1000).max(0))
        }
        _ => None,
    };
    Ok(Details {
        recording_url,
        transcript: transcript(r)?,
        ring_ms,
        billed_ms: fields::int(r, "billingTime")?.map(|s| s.max(0) * 1000),
        cost: fields::amount(r, "pay")?.map(|micros| CallCost { micros, currency: PAY_CURRENCY.into() }),
    })
}

/// `callDetailList[]` as `ROBOT: …` / `PERSON: …` lines, in order; None
/// when absent or empty. An entry of a wrong type fails the record.
fn transcript(r: &Value) -> Result<Option<String>, String> {
    let entries = match r.get("callDetailList") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(format!("callDetailList: expected an array, got {}", fields::shown(v))),
    };
    let mut lines = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if !entry.is_object() {
            return Err(format!("callDetailList[{i}]: expected an object, got {}", fields::shown(entry)));
        }
        let text = fields::text(entry, "text").map_err(|e| format!("callDetailList[{i}].{e}"))?;
        let speaker = fields::word(entry, "type").map_err(|e| format!("callDetailList[{i}].{e}"))?;
        if let Some(text) = text {
            lines.push(format!("{}: {text}", speaker.as_deref().unwrap_or("UNKNOWN")));
        }
    }
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_documented_fields_give_recording_dialogue_billing_and_ring() {
        let r = json!({
            "fullAudioUrl": "https://a.example/full.wav", "customerAudioUrl": "https://a.example/c.wav",
            "billingTime": 12, "pay": "0.0123",
            "callDetailList": [
                {"callDetailId": 1, "text": "Hello", "type": "ROBOT", "startOffset": 0, "endOffset": 900},
                {"callDetailId": 2, "text": "Yes", "type": "PERSON", "startOffset": 1000, "endOffset": 1600}
            ]
        });
        let d = read(&r, at("2026-12-05T10:00:00Z"), at("2026-12-05T10:00:15Z"), Some(10)).unwrap();
        assert_eq!(d.recording_url.as_deref(), Some("https://a.example/full.wav"));
        assert_eq!(d.transcript.as_deref(), Some("ROBOT: Hello\nPERSON: Yes"));
        assert_eq!(d.billed_ms, Some(12_000));
        assert_eq!(d.cost, Some(CallCost { micros: 12_300, currency: "USD".into() }));
        assert_eq!(d.ring_ms, Some(5_000), "15 s from dial to end, 10 s of talk");
    }

    #[test]
    fn nulls_blanks_and_numbers_as_strings_read_leniently() {
        let r = json!({"fullAudioUrl": "", "customerAudioUrl": "https://a.example/c.wav",
            "billingTime": "6", "pay": 0.01, "callDetailList": null});
        let d = read(&r, None, None, None).unwrap();
        assert_eq!(d.recording_url.as_deref(), Some("https://a.example/c.wav"));
        assert_eq!((d.transcript, d.ring_ms, d.billed_ms), (None, None, Some(6000)));
        assert_eq!(d.cost.unwrap().micros, 10_000);
        assert_eq!(read(&json!({}), None, None, None).unwrap(), Details::default());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let bad = |r: Value| read(&r, None, None, None).unwrap_err();
        assert!(bad(json!({"pay": "free"})).starts_with("pay: "));
        assert!(bad(json!({"callDetailList": {"text": "x"}})).starts_with("callDetailList: expected an array"));
        assert!(bad(json!({"callDetailList": [{"text": ["x"]}]})).starts_with("callDetailList[0].text"));
        assert!(bad(json!({"billingTime": "long"})).starts_with("billingTime"));
    }
}
