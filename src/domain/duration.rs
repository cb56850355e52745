//! Human-written durations in config and API input ("30m", "1h30m", "1d").
//!
//! A thin wrapper over `humantime` so every caller gets the same grammar and
//! an error message that names the offending text.

use std::time::Duration;

/// A duration string that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{text}`: expected a number with a unit like 30s, 30m, 2h ({detail})")]
pub struct DurationError {
    /// The text as the caller gave it.
    pub text: String,
    /// What exactly was wrong with it.
    pub detail: String,
}

/// Parse a human duration: "30s", "30m", "2h", "1h30m", "1d", "250ms".
///
/// A bare number ("30", even "0") is rejected: without a unit nobody can
/// tell whether seconds or minutes were meant, and guessing wrong by 60x
/// on a retry interval is an expensive mistake.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = |detail: &str| DurationError { text: text.to_string(), detail: detail.to_string() };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(err("it is empty"));
    }
    // humantime accepts a lone "0"; we want a unit on every value.
    if !trimmed.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(err("the unit is missing"));
    }
    humantime::parse_duration(trimmed).map_err(|e| err(&e.to_string()))
}

/// Format a duration the way humans write it, e.g. "30m", "2h 30m", "1s 500ms".
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        let cases = [
            ("30s", 30),
            ("30m", 30 * 60),
            ("2h", 2 * 3600),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1d", 86_400),
            ("  5m ", 300),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_garbage_and_names_it() {
        for text in ["", "   ", "3x", "30", "0", "1h30", "-1s", "soon"] {
            let err = parse_duration(text).expect_err(text);
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{text}`")), "{msg}");
            assert!(msg.contains("30s, 30m, 2h"), "{msg}");
        }
    }

    #[test]
    fn formats_like_humans_write() {
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(9000)), "2h 30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for secs in [1, 59, 60, 61, 3599, 3600, 86_399, 86_400, 90_061, 31 * 86_400] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{secs}");
        }
    }
}
