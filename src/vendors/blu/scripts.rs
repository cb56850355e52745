//! The dialogue and recording of a Blu result. Blu's page titles its query
//! and callback "[Includes slots and scripts]" but shows no field names for
//! them; the adapter reads (assumption, like the record's other names, see
//! `wire`): `scripts` [`script`, `dialogue`] as an array of turns — objects
//! with `role` [`speaker`] and `content` [`text`], or plain strings — or as
//! one text; and `recordUrl` [`recordingUrl`, `recordFile`] as the
//! recording's address. A field of another JSON type fails the record,
//! naming the field.

use crate::vendors::common::{first_key, text_at, wrong_type};
use serde_json::Value;

/// The recording's address, if the record names one.
pub fn recording(v: &Value) -> Result<Option<String>, String> {
    match first_key(v, &["recordUrl", "recordingUrl", "recordFile"]) {
        Some(k) => text_at(v, k),
        None => Ok(None),
    }
}

/// The dialogue as `role: text` lines (a turn without a role is just its
/// text); None when absent or empty.
pub fn transcript(v: &Value) -> Result<Option<String>, String> {
    let Some(key) = first_key(v, &["scripts", "script", "dialogue"]) else { return Ok(None) };
    let turns = match &v[key] {
        Value::String(s) => return Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Value::Array(turns) => turns,
        other => return Err(wrong_type(key, "an array of turns", other)),
    };
    let mut lines = Vec::with_capacity(turns.len());
    for (i, turn) in turns.iter().enumerate() {
        let at = |e: String| format!("{key}[{i}].{e}");
        let (role, text) = match turn {
            Value::String(s) => (None, Some(s.trim().to_string())),
            Value::Object(_) => {
                let role = first_key(turn, &["role", "speaker"]).map(|k| text_at(turn, k).map_err(at)).transpose()?;
                let text = first_key(turn, &["content", "text"]).map(|k| text_at(turn, k).map_err(at)).transpose()?;
                (role.flatten(), text.flatten())
            }
            other => return Err(wrong_type(&format!("{key}[{i}]"), "a turn", other)),
        };
        match (role, text.filter(|t| !t.is_empty())) {
            (Some(role), Some(text)) => lines.push(format!("{role}: {text}")),
            (None, Some(text)) => lines.push(text),
            (_, None) => {}
        }
    }
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn turns_strings_and_text_read_as_lines() {
        let r = json!({"scripts": [{"role": "robot", "content": "Hello"}, {"speaker": "user", "text": "Yes"}, "bye"]});
        assert_eq!(transcript(&r).unwrap().as_deref(), Some("robot: Hello\nuser: Yes\nbye"));
        assert_eq!(transcript(&json!({"script": "all of it"})).unwrap().as_deref(), Some("all of it"));
        assert_eq!(transcript(&json!({"scripts": null})).unwrap(), None);
        assert_eq!(transcript(&json!({"scripts": []})).unwrap(), None);
        assert_eq!(recording(&json!({"recordUrl": "https://r/1.mp3"})).unwrap().as_deref(), Some("https://r/1.mp3"));
        assert_eq!(recording(&json!({})).unwrap(), None);
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        assert!(transcript(&json!({"scripts": {"a": 1}})).unwrap_err().starts_with("scripts"));
        assert!(transcript(&json!({"scripts": [{"content": ["x"]}]})).unwrap_err().starts_with("scripts[0].content"));
        assert!(transcript(&json!({"scripts": [true]})).unwrap_err().starts_with("scripts[0]"));
        assert!(recording(&json!({"recordUrl": {"u": 1}})).unwrap_err().starts_with("recordUrl"));
    }
}
