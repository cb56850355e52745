//! What a call cost: an amount in **micro-units** (millionths of the
//! currency's unit: 1 USD = 1 000 000) and its currency. Vendors bill per
//! call in fractions of a cent (ITNIO `pay: "0.0123"`), so cents would lose
//! money and floats would not sum exactly; millionths are exact for every
//! price a vendor quotes and an `i64` sums ~9 × 10¹² units without overflow.
//!
//! Where a vendor reports no cost, a configured price per minute prices the
//! billed duration ([`priced`]): billed per started second, rounded up to a
//! whole micro-unit (a vendor never bills less than it used).

use serde::{Deserialize, Serialize};

/// Micro-units per currency unit.
pub const MICROS: i64 = 1_000_000;

/// An amount of money as a vendor billed one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCost {
    /// Millionths of the currency's unit.
    pub micros: i64,
    /// ISO 4217 code as configured or reported (`USD`).
    pub currency: String,
}

/// A configured price: what one minute of billed call time costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub micros_per_minute: i64,
    pub currency: String,
}

/// Read a decimal amount (`"0.0123"`, `"12"`, `"-0.5"`, `"1e-3"` is not
/// one) into micro-units. More than six decimals is refused rather than
/// rounded: it would be a price we cannot keep exactly.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(format!("`{text}` is not a decimal amount"));
    }
    if fraction.len() > 6 {
        return Err(format!("`{text}` has more than 6 decimals"));
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("`{text}` is too large"))? };
    let fraction: i64 = format!("{fraction:0<6}").parse().unwrap_or(0);
    let micros =
        whole.checked_mul(MICROS).and_then(|w| w.checked_add(fraction)).ok_or(format!("`{text}` is too large"))?;
    Ok(if negative { -micros } else { micros })
}

/// An amount of micro-units as a decimal string (`12300` → `"0.0123"`),
/// trailing zeros dropped (`2000000` → `"2"`).
pub fn format_amount(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let (whole, fraction) = (micros.unsigned_abs() / MICROS as u64, micros.unsigned_abs() % MICROS as u64);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let fraction = format!("{fraction:06}");
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

/// The cost of `billed_ms` of call time at `pricing`: per started second,
/// rounded up to a whole micro-unit. None without a billed time; a call of
/// 0 ms (never answered) costs 0.
pub fn priced(pricing: &Pricing, billed_ms: Option<i64>) -> Option<CallCost> {
    let seconds = (billed_ms?.max(0) as i128 + 999) / 1000;
    let micros = (seconds * pricing.micros_per_minute as i128 + 59) / 60;
    Some(CallCost { micros: micros.min(i64::MAX as i128) as i64, currency: pricing.currency.clone() })
}

/// The cost to record for a call: what the vendor reported, else the
/// configured price of its billed time (`billed_ms`, else its talk time).
pub fn call_cost(
    reported: Option<&CallCost>,
    pricing: Option<&Pricing>,
    billed_ms: Option<i64>,
    duration_ms: Option<i64>,
) -> Option<CallCost> {
    reported.cloned().or_else(|| priced(pricing?, billed_ms.or(duration_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(per_minute: &str) -> Pricing {
        Pricing { micros_per_minute: parse_amount(per_minute).unwrap(), currency: "USD".into() }
    }

    #[test]
    fn amounts_read_exactly_in_millionths() {
        assert_eq!(parse_amount("0.0123"), Ok(12_300));
        assert_eq!(parse_amount("12"), Ok(12_000_000));
        assert_eq!(parse_amount(" 1.5 "), Ok(1_500_000));
        assert_eq!(parse_amount(".25"), Ok(250_000));
        assert_eq!(parse_amount("-0.000001"), Ok(-1));
        assert!(parse_amount("0.0000001").unwrap_err().contains("more than 6 decimals"));
        assert!(parse_amount("1e-3").unwrap_err().contains("not a decimal"));
        assert!(parse_amount("").is_err());
        assert!(parse_amount("abc").is_err());
    }

    #[test]
    fn amounts_print_back_as_decimals() {
        for text in ["0.0123", "12", "1.5", "-0.000001", "0"] {
            assert_eq!(format_amount(parse_amount(text).unwrap()), text);
        }
    }

    #[test]
    fn a_price_per_minute_bills_each_started_second_rounded_up() {
        let p = usd("0.06");
        // 0.06 / minute = 1000 micros / second.
        assert_eq!(priced(&p, Some(30_000)).unwrap().micros, 30_000);
        assert_eq!(priced(&p, Some(30_001)).unwrap().micros, 31_000, "a started second is billed");
        assert_eq!(priced(&p, Some(0)).unwrap().micros, 0);
        assert_eq!(priced(&p, None), None);
        // 0.01 / minute over 1 s = 166.67 micros: rounded up.
        assert_eq!(priced(&usd("0.01"), Some(1000)).unwrap().micros, 167);
    }

    #[test]
    fn a_reported_cost_wins_over_the_configured_price() {
        let reported = CallCost { micros: 5, currency: "USD".into() };
        let p = usd("1");
        assert_eq!(call_cost(Some(&reported), Some(&p), Some(60_000), None), Some(reported));
        assert_eq!(call_cost(None, Some(&p), Some(60_000), Some(1000)).unwrap().micros, 1_000_000, "billed time first");
        assert_eq!(call_cost(None, Some(&p), None, Some(30_000)).unwrap().micros, 500_000, "else talk time");
        assert_eq!(call_cost(None, None, Some(60_000), None), None, "no price, no cost");
    }
}
