//! Phone numbers out of log lines.
//!
//! Masked at the writer, not at each call site: a number reaches the log
//! from many places that do not know it is one (a vendor's rejection
//! reason quoting its raw field, a database error echoing a value, a
//! library's debug line), and a call site that forgets is a leak.

use std::borrow::Cow;

/// Digits kept at each end of a masked number: enough to tell two numbers
/// of one conversation apart, not enough to dial.
const KEEP_HEAD: usize = 3;
const KEEP_TAIL: usize = 2;
/// A run of this many digits is taken for a phone number (E.164 allows 15;
/// the shortest national mobile numbers have 8).
const DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

/// `line` with every phone-number-like run masked: 8 to 15 digits, with or
/// without a leading `+`, standing alone (not part of a word, an id such as
/// `task-12345678`, or a decimal). `+6281234567890` → `+628********90`.
/// Other runs of that length (a long numeric id, a byte count) are masked
/// too: a log line losing an id's middle costs less than one keeping a
/// debtor's number.
pub fn mask_phones(line: &str) -> Cow<'_, str> {
    let bytes = line.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let glued_before = start > 0 && is_word(bytes[start - 1]) && bytes[start - 1] != b'+';
        let glued_before = glued_before || (start > 1 && bytes[start - 1] == b'+' && is_word(bytes[start - 2]));
        // A full stop may end a sentence; followed by a digit it makes a decimal.
        let decimal = i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit();
        let glued_after = i < bytes.len() && is_word(bytes[i]) && (bytes[i] != b'.' || decimal);
        if glued_before || glued_after || !DIGITS.contains(&(i - start)) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(line.len()));
        out.push_str(&line[copied..start + KEEP_HEAD]);
        out.extend(std::iter::repeat_n('*', i - start - KEEP_HEAD - KEEP_TAIL));
        out.push_str(&line[i - KEEP_TAIL..i]);
        copied = i;
    }
    match out {
        None => Cow::Borrowed(line),
        Some(mut out) => {
            out.push_str(&line[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Characters that make a digit run part of a larger token.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+')
}

#[cfg(test)]
mod tests {
    use super::mask_phones;

    #[test]
    fn numbers_in_any_notation_are_masked() {
        for (line, masked) in [
            ("dialing +6281234567890 now", "dialing +628********90 now"),
            ("callee: not a phone number: \"6281234567890\"", "callee: not a phone number: \"628********90\""),
            (r#"{"phone":"+15551234567","x":1}"#, r#"{"phone":"+155******67","x":1}"#),
            ("phone=081234567;", "phone=081****67;"),
            ("mobile 12345678.", "mobile 123***78."),
            ("a +6281234567890, b +6281234567891", "a +628********90, b +628********91"),
        ] {
            assert_eq!(mask_phones(line), masked, "{line}");
        }
    }

    #[test]
    fn what_is_not_a_number_stays() {
        for line in [
            "2026-12-05T01:02:03.123456Z took 12 ms",
            "task-12345678 attempt a1234567890 v2.12345678",
            "1234567 is too short and 1234567890123456 too long",
            "ratio 1234567890.5",
            "no digits at all",
        ] {
            assert_eq!(mask_phones(line), line);
        }
    }
}
