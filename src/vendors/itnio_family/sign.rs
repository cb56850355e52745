//! What Laaffic and ITNIO "AI voice" (both on the Yiwise backend) share: the
//! `Sign`/`Timestamp`/`Api-Key` request signing, the `status`/`reason` reply
//! envelope and the classification of its codes.

use crate::vendors::common::{Answer, Envelope, VendorHttp, excerpt};
use crate::vendors::{VendorError, VendorErrorKind};
use md5::{Digest, Md5};

pub const SIGN_HEADER: &str = "Sign";
pub const TIMESTAMP_HEADER: &str = "Timestamp";
pub const API_KEY_HEADER: &str = "Api-Key";

/// `Sign = lowercase hex MD5(apiKey + apiSecret + timestamp)`; the body is not signed.
pub fn sign(api_key: &str, api_secret: &str, timestamp: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(api_key.as_bytes());
    md5.update(api_secret.as_bytes());
    md5.update(timestamp.as_bytes());
    hex::encode(md5.finalize())
}

/// The three auth headers of a request sent at Unix second `now`.
pub fn auth_headers(api_key: &str, api_secret: &str, now: i64) -> [(&'static str, String); 3] {
    let ts = now.to_string();
    [(SIGN_HEADER, sign(api_key, api_secret, &ts)), (TIMESTAMP_HEADER, ts), (API_KEY_HEADER, api_key.to_string())]
}

/// What a vendor code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// Busy, concurrency, vendor-side failure: try later.
    RetryLater,
    /// Auth, IP, balance, clock, configuration: an operator must look.
    Fatal,
    /// Dealt with inside the adapter (e.g. a duplicate task name is regenerated).
    Handled,
}

/// One documented reply code: `(code, meaning as documented, class)`.
pub type CodeRow = (i64, &'static str, Class);

/// The row of `code` in `table`, if documented.
pub fn row(table: &'static [CodeRow], code: &str) -> Option<&'static CodeRow> {
    let n: i64 = code.trim().parse().ok()?;
    table.iter().find(|r| r.0 == n)
}

/// The envelope of a 2xx answer. Non-2xx without an envelope → `classify_status`;
/// an unreadable 2xx body → `Unknown` for requests that may have been acted upon.
pub fn envelope(http: &VendorHttp, op: &str, answer: &Answer, idempotent: bool) -> Result<Envelope, VendorError> {
    let parsed = answer.json().ok().as_ref().and_then(Envelope::parse);
    match parsed {
        Some(env) => Ok(env),
        None if !answer.status.is_success() => Err(http.http_status_error(op, answer)),
        None => {
            let kind = if idempotent { VendorErrorKind::RetryLater } else { VendorErrorKind::Unknown };
            Err(http.error(kind, format!("{op}: unreadable answer: {}", excerpt(&answer.body))))
        }
    }
}

/// The error for a non-success envelope code, classified by `table`. Codes the
/// table does not list (and `Handled` codes that reach here) are `Fatal`: an
/// operator must look at a reply nobody documented.
pub fn code_error(http: &VendorHttp, op: &str, table: &'static [CodeRow], env: &Envelope) -> VendorError {
    let (kind, meaning) = match row(table, &env.code) {
        Some((_, meaning, Class::RetryLater)) => (VendorErrorKind::RetryLater, *meaning),
        Some((_, meaning, _)) => (VendorErrorKind::Fatal, *meaning),
        None => (VendorErrorKind::Fatal, "undocumented code"),
    };
    http.error(kind, format!("{op}: vendor code {} ({meaning}): {}", env.code, excerpt(&env.message)))
        .with_code(crate::vendors::error_code::ErrorCode::Vendor)
}

/// The distinct vendor tasks of `attempts`, for vendors that cancel whole
/// tasks only. The daemon calls such a cancel with every outstanding attempt
/// of each task it names (see `VendorAdapter::cancels_whole_tasks`).
pub fn task_ids(attempts: &[crate::vendors::AttemptHandle]) -> Vec<String> {
    let ids: std::collections::BTreeSet<&str> = attempts.iter().filter_map(|a| a.vendor_task_id.as_deref()).collect();
    ids.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::HeaderMap;

    #[test]
    fn sign_matches_the_documented_example() {
        // Laaffic's document: Api-Key bDqJFiq9, secret 7bz1lzh9, Timestamp 1630468800.
        assert_eq!(sign("bDqJFiq9", "7bz1lzh9", "1630468800"), "05d7a50893e22a5c4bb3216ae3396c7c");
        let headers = auth_headers("bDqJFiq9", "7bz1lzh9", 1630468800);
        assert_eq!(headers[0], ("Sign", "05d7a50893e22a5c4bb3216ae3396c7c".to_string()));
        assert_eq!(headers[1], ("Timestamp", "1630468800".to_string()));
        assert_eq!(headers[2], ("Api-Key", "bDqJFiq9".to_string()));
    }

    /// Our headers pass the vendor's check (as the fakes make it), and the
    /// check names each way they can be wrong.
    #[test]
    fn auth_check_names_each_fault() {
        use doubles::itnio::{AuthFault, MAX_SKEW_SECS, check_auth};
        let mut h = HeaderMap::new();
        for (k, v) in auth_headers("k", "s", 1000) {
            h.insert(k, v.parse().unwrap());
        }
        assert_eq!(check_auth(&h, "k", "s", 1100), Ok(()));
        assert_eq!(check_auth(&h, "k", "s", 1000 + MAX_SKEW_SECS + 1), Err(AuthFault::Expired));
        assert_eq!(check_auth(&h, "k", "other", 1000), Err(AuthFault::BadCredentials));
        assert_eq!(check_auth(&h, "k2", "s", 1000), Err(AuthFault::BadCredentials));
        for (missing, fault) in [
            ("Api-Key", AuthFault::MissingApiKey),
            ("Timestamp", AuthFault::MissingTimestamp),
            ("Sign", AuthFault::MissingSign),
        ] {
            h.remove(missing);
            assert_eq!(check_auth(&h, "k", "s", 1000), Err(fault));
        }
    }
}
