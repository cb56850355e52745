//! What a failed vendor call carried (an HTTP status, a code of the vendor's
//! own, or no answer at all), and the bounded `code` label it gets on
//! `campaignd_vendor_errors_total`. The raw code stays in the error message
//! (and the logs); the label only takes values from a closed set, so a
//! vendor inventing codes cannot grow the number of series.

/// What a vendor's failure carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A non-2xx HTTP answer.
    Http(u16),
    /// The vendor's own error code in an answer's envelope.
    Vendor,
    /// No HTTP answer: connection refused or reset, timeout.
    Transport,
}

/// HTTP statuses that get a label of their own; others fold into `4xx`,
/// `5xx` or `other`.
const NAMED_STATUSES: &[(u16, &str)] = &[
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (408, "408"),
    (409, "409"),
    (413, "413"),
    (422, "422"),
    (429, "429"),
    (500, "500"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
];

/// The `code` label of an error (None: it carried nothing, e.g. an answer
/// we could not read or a configuration problem).
pub fn code_label(code: Option<ErrorCode>) -> &'static str {
    match code {
        Some(ErrorCode::Http(status)) => match NAMED_STATUSES.iter().find(|(s, _)| *s == status) {
            Some((_, label)) => label,
            None if (400..500).contains(&status) => "4xx",
            None if (500..600).contains(&status) => "5xx",
            None => "other",
        },
        Some(ErrorCode::Vendor) => "vendor",
        Some(ErrorCode::Transport) => "transport",
        None => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_statuses_are_named_and_the_rest_fold_into_classes() {
        assert_eq!(code_label(Some(ErrorCode::Http(429))), "429");
        assert_eq!(code_label(Some(ErrorCode::Http(503))), "503");
        assert_eq!(code_label(Some(ErrorCode::Http(418))), "4xx");
        assert_eq!(code_label(Some(ErrorCode::Http(599))), "5xx");
        assert_eq!(code_label(Some(ErrorCode::Http(302))), "other");
        assert_eq!(code_label(Some(ErrorCode::Vendor)), "vendor");
        assert_eq!(code_label(Some(ErrorCode::Transport)), "transport");
        assert_eq!(code_label(None), "other");
    }

    #[test]
    fn the_label_set_is_closed_whatever_the_status() {
        let labels: std::collections::BTreeSet<&str> =
            (0..=u16::MAX).map(|s| code_label(Some(ErrorCode::Http(s)))).collect();
        assert_eq!(labels.len(), NAMED_STATUSES.len() + 3, "{labels:?}");
    }
}
