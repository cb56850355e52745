//! Why a vendor callback was refused, as the closed set of `reason` labels
//! of `campaignd_callbacks_rejected_total{vendor,reason}`, and the bounded
//! `vendor` label: the vendor id from the URL only when it names a
//! configured vendor, `unknown` otherwise (anyone can put anything in a URL;
//! it must not become a new series).

use super::body::BodyError;

/// Why a callback was refused (each one a `reason` label value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Larger than `http.max_body_bytes` (413).
    TooLarge,
    /// The body did not arrive within `http.body_read_timeout` (408).
    BodyTimeout,
    /// The connection broke while the body was read (400).
    BodyBroken,
    /// No configured vendor has this id (404).
    UnknownVendor,
    /// The source address is not in `callback_allow_ips` (401).
    SourceNotAllowed,
    /// The `?token=` is missing or wrong (401).
    BadToken,
    /// The vendor's signature does not verify (401).
    BadSignature,
    /// Not the vendor's format, or a NUL character (400).
    BadBody,
    /// Authentic and readable, but the store could not write it (503).
    StoreUnavailable,
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::TooLarge,
        RejectReason::BodyTimeout,
        RejectReason::BodyBroken,
        RejectReason::UnknownVendor,
        RejectReason::SourceNotAllowed,
        RejectReason::BadToken,
        RejectReason::BadSignature,
        RejectReason::BadBody,
        RejectReason::StoreUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::BodyTimeout => "body_timeout",
            RejectReason::BodyBroken => "body_broken",
            RejectReason::UnknownVendor => "unknown_vendor",
            RejectReason::SourceNotAllowed => "source_not_allowed",
            RejectReason::BadToken => "bad_token",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::BadBody => "bad_body",
            RejectReason::StoreUnavailable => "store_unavailable",
        }
    }

    pub fn of_body_error(e: &BodyError) -> RejectReason {
        match e {
            BodyError::TooLarge { .. } => RejectReason::TooLarge,
            BodyError::TimedOut { .. } => RejectReason::BodyTimeout,
            BodyError::Broken => RejectReason::BodyBroken,
        }
    }
}

/// The `vendor` label of a callback to `/callbacks/{vendor_id}`.
pub fn vendor_label(vendor_id: &str, configured: bool) -> String {
    if configured { vendor_id.to_string() } else { "unknown".to_string() }
}

/// Count one refused callback.
pub fn count(vendor_label: &str, reason: RejectReason) {
    metrics::counter!("campaignd_callbacks_rejected_total", "vendor" => vendor_label.to_string(), "reason" => reason.as_str())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case_labels() {
        let labels: std::collections::BTreeSet<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), RejectReason::ALL.len());
        assert!(labels.iter().all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')), "{labels:?}");
    }

    #[test]
    fn an_unconfigured_vendor_id_never_becomes_a_label() {
        assert_eq!(vendor_label("sim-a", true), "sim-a");
        assert_eq!(vendor_label("../../etc/passwd", false), "unknown");
    }

    #[test]
    fn body_errors_map_to_their_reasons() {
        assert_eq!(RejectReason::of_body_error(&BodyError::Broken), RejectReason::BodyBroken);
    }
}
