//! Phone numbers as E.164 strings, and masking for logs.
//!
//! Contact lists arrive in every national format imaginable; normalizing once
//! at the edge means suppression lists, dedup and vendor payloads all compare
//! the same string.

use serde::{Deserialize, Serialize};
use std::fmt;

const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;

/// Why a phone number could not be normalized. `number` is the input
/// masked with [`mask_phone`], so the error can be logged as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace/separators.
    #[error("phone number is empty: expected digits like +6281234567890")]
    Empty,
    /// A letter or symbol that is not a separator.
    #[error("phone number `{number}` has a bad character '{ch}': expected digits and a leading +")]
    BadCharacter { number: String, ch: char },
    /// Fewer than 8 digits after normalization.
    #[error("phone number `{number}` is too short ({digits} digits): expected 8 to 15 with country code")]
    TooShort { number: String, digits: usize },
    /// More than 15 digits after normalization.
    #[error("phone number `{number}` is too long ({digits} digits): expected 8 to 15 with country code")]
    TooLong { number: String, digits: usize },
    /// The international part starts with 0, which no country code does.
    #[error("phone number `{number}` has a country code starting with 0: expected e.g. +62 or 001")]
    ZeroCountryCode { number: String },
    /// A national number and no default country code to complete it.
    #[error("phone number `{number}` has no country code and no default is set: write +<code><number>")]
    NoCountryCode { number: String },
    /// The configured default country code itself is malformed.
    #[error("default country code `{code}` is invalid: expected 1 to 3 digits like 62 or 1")]
    BadDefaultCountryCode { code: String },
}

/// A normalized phone number: "+" followed by 8..=15 digits, first digit not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
// Deserializing re-validates, so a corrupt stored value cannot sneak past the type.
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')')
}

impl E164 {
    /// Normalize: strip spaces, dashes, dots, parentheses; "00" prefix -> "+";
    /// a number without "+"/"00" gets `default_country_code` (digits, like "62"
    /// or "1") prepended after dropping one leading national trunk "0"; without
    /// a default country code such a number is an error. Letters or other
    /// symbols are an error.
    pub fn parse(raw: &str, default_country_code: Option<&str>) -> Result<E164, PhoneError> {
        let mut digits = String::new();
        let mut plus = false;
        for ch in raw.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
            } else if ch == '+' && !plus && digits.is_empty() {
                plus = true;
            } else if !is_separator(ch) {
                return Err(PhoneError::BadCharacter { number: mask_phone(raw), ch });
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else {
            let Some(cc) = default_country_code else {
                return Err(PhoneError::NoCountryCode { number: mask_phone(raw) });
            };
            let cc = normalize_country_code(cc)?;
            // One trunk prefix only: "0812..." is national, "00..." was handled above.
            let national = digits.strip_prefix('0').unwrap_or(&digits);
            format!("{cc}{national}")
        };
        let n = international.len();
        if n == 0 {
            return Err(PhoneError::Empty);
        }
        if international.starts_with('0') {
            return Err(PhoneError::ZeroCountryCode { number: mask_phone(raw) });
        }
        if n < MIN_DIGITS {
            return Err(PhoneError::TooShort { number: mask_phone(raw), digits: n });
        }
        if n > MAX_DIGITS {
            return Err(PhoneError::TooLong { number: mask_phone(raw), digits: n });
        }
        Ok(E164(format!("+{international}")))
    }

    /// The full number, e.g. "+6281234567889".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: keep "+", country-ish prefix and last 2 digits, e.g. "+6281******89".
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

fn normalize_country_code(code: &str) -> Result<&str, PhoneError> {
    let trimmed = code.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let ok = (1..=3).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    if ok { Ok(digits) } else { Err(PhoneError::BadDefaultCountryCode { code: code.to_string() }) }
}

/// Mask any phone-ish string for logs, the same way as [`E164::masked`].
///
/// Separators are dropped first so "0812 3456 789" and "08123456789" mask
/// alike. Short strings are masked entirely: with 5 characters or fewer
/// there is nothing left to hide after keeping a prefix and a suffix.
pub fn mask_phone(raw: &str) -> String {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", trimmed),
    };
    let chars: Vec<char> = rest.chars().filter(|c| !is_separator(*c)).collect();
    let n = chars.len();
    if n < 6 {
        return format!("{plus}{}", "*".repeat(n));
    }
    let tail = 2;
    // At most 4 leading digits (country code plus operator prefix), and never
    // more than half of what remains so short numbers still hide most digits.
    let head = 4.min((n - tail) / 2);
    let mut out = String::with_capacity(n + 1);
    out.push_str(plus);
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

impl fmt::Display for E164 {
    /// Prints the full number; callers mask explicitly in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    /// Accepts only numbers already in international form.
    fn try_from(value: String) -> Result<Self, PhoneError> {
        E164::parse(&value, None)
    }
}

impl From<E164> for String {
    fn from(value: E164) -> String {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str, cc: Option<&str>) -> String {
        match E164::parse(raw, cc) {
            Ok(n) => n.as_str().to_string(),
            Err(e) => panic!("{raw:?} with {cc:?}: {e}"),
        }
    }

    #[test]
    fn normalizes_common_formats() {
        assert_eq!(ok("+62 812-3456-789", None), "+628123456789");
        assert_eq!(ok("0812 3456 789", Some("62")), "+628123456789");
        assert_eq!(ok("00441234567890", None), "+441234567890");
        assert_eq!(ok("(555) 123.4567", Some("1")), "+15551234567");
        assert_eq!(ok("  +1 (555) 123-4567 ", Some("62")), "+15551234567");
        assert_eq!(ok("812345678", Some("+62")), "+62812345678");
        // An explicit international prefix wins over the default.
        assert_eq!(ok("0044 20 7946 0000", Some("62")), "+442079460000");
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        use PhoneError::*;
        let err = |raw: &str, cc: Option<&str>| E164::parse(raw, cc).expect_err(raw);
        assert_eq!(err("", None), Empty);
        assert_eq!(err(" - ( ) ", Some("62")), Empty);
        assert_eq!(err("+", None), Empty);
        assert!(matches!(err("0812x3456", Some("62")), BadCharacter { ch: 'x', .. }));
        assert!(matches!(err("+62+812345678", None), BadCharacter { ch: '+', .. }));
        assert!(matches!(err("+62 812#3456", None), BadCharacter { ch: '#', .. }));
        assert!(matches!(err("+6281234", None), TooShort { digits: 7, .. }));
        assert!(matches!(err("+1234567890123456", None), TooLong { digits: 16, .. }));
        assert!(matches!(err("+0812345678", None), ZeroCountryCode { .. }));
        assert!(matches!(err("000812345678", None), ZeroCountryCode { .. }));
        assert!(matches!(err("08123456789", None), NoCountryCode { .. }));
        assert!(matches!(err("08123456789", Some("6x")), BadDefaultCountryCode { .. }));
        assert!(matches!(err("08123456789", Some("0062")), BadDefaultCountryCode { .. }));
        let msg = err("0812x3456", Some("62")).to_string();
        assert!(msg.contains("'x'"), "{msg}");
        let msg = err("+62 812 3456 7890 1234", None).to_string();
        assert!(msg.contains("+6281") && !msg.contains("3456"), "errors carry the masked number: {msg}");
        let msg = err("+6281234", None).to_string();
        assert!(msg.contains("7 digits"), "{msg}");
    }

    #[test]
    fn masks_for_logs() {
        let n = E164::parse("+6281234567889", None).unwrap();
        assert_eq!(n.masked(), "+6281*******89");
        assert_eq!(mask_phone("+628123456789"), "+6281******89");
        assert_eq!(mask_phone("+12345678"), "+123***78");
        assert_eq!(mask_phone("0812 3456 789"), "0812*****89");
        assert_eq!(mask_phone("12345"), "*****");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("+"), "+");
        assert_eq!(mask_phone("ünïcødé-ñame"), "ünïc*****me");
        assert_eq!(n.to_string(), "+6281234567889", "Display is the full number");
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let n = E164::parse("+628123456789", None).unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"+628123456789\"");
        assert_eq!(serde_json::from_str::<E164>(&json).unwrap(), n);
        assert!(serde_json::from_str::<E164>("\"0812\"").is_err());
    }
}
