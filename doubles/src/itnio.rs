//! The vendor side of the Laaffic / ITNIO "AI voice" request signing (one
//! Yiwise backend family): every request carries `Sign`, `Timestamp` (Unix
//! seconds) and `Api-Key`, with `Sign = lowercase hex MD5(apiKey + apiSecret
//! + timestamp)`; the body is not signed (`laaffic-ai-agent-group-call.txt`,
//! request example). Each fake maps an [`AuthFault`] to its vendor's code.

use axum::http::HeaderMap;
use md5::{Digest, Md5};

pub const SIGN_HEADER: &str = "Sign";
pub const TIMESTAMP_HEADER: &str = "Timestamp";
pub const API_KEY_HEADER: &str = "Api-Key";
/// How far a request's `Timestamp` may be from the fake's clock (the
/// vendors do not publish theirs; Laaffic answers −16 "timestamp expired").
pub const MAX_SKEW_SECS: i64 = 300;

/// `Sign` for a key, secret and `Timestamp` text.
pub fn sign(api_key: &str, api_secret: &str, timestamp: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(api_key.as_bytes());
    md5.update(api_secret.as_bytes());
    md5.update(timestamp.as_bytes());
    hex::encode(md5.finalize())
}

/// Why a request's auth headers were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFault {
    MissingSign,
    MissingTimestamp,
    MissingApiKey,
    /// Wrong key or a signature that does not match.
    BadCredentials,
    /// Timestamp unreadable or further than [`MAX_SKEW_SECS`] from `now`.
    Expired,
}

/// Check a request's auth headers at Unix second `now`.
pub fn check_auth(headers: &HeaderMap, api_key: &str, api_secret: &str, now: i64) -> Result<(), AuthFault> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let sign_given = get(SIGN_HEADER).ok_or(AuthFault::MissingSign)?;
    let ts = get(TIMESTAMP_HEADER).ok_or(AuthFault::MissingTimestamp)?;
    let key = get(API_KEY_HEADER).ok_or(AuthFault::MissingApiKey)?;
    if !crate::json::constant_time_eq(key.as_bytes(), api_key.as_bytes()) {
        return Err(AuthFault::BadCredentials);
    }
    let expected = sign(api_key, api_secret, ts);
    if !crate::json::constant_time_eq(sign_given.to_ascii_lowercase().as_bytes(), expected.as_bytes()) {
        return Err(AuthFault::BadCredentials);
    }
    match ts.parse::<i64>() {
        Ok(t) if (t - now).abs() <= MAX_SKEW_SECS => Ok(()),
        _ => Err(AuthFault::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(key: &str, secret: &str, ts: i64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SIGN_HEADER, sign(key, secret, &ts.to_string()).parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h.insert(API_KEY_HEADER, key.parse().unwrap());
        h
    }

    #[test]
    fn sign_matches_the_documented_example() {
        // Laaffic's request example: Api-Key bDqJFiq9, Timestamp 1630468800,
        // Sign 05d7a50893e22a5c4bb3216ae3396c7c (secret 7bz1lzh9).
        assert_eq!(sign("bDqJFiq9", "7bz1lzh9", "1630468800"), "05d7a50893e22a5c4bb3216ae3396c7c");
    }

    #[test]
    fn auth_check_names_each_fault() {
        let mut h = headers("k", "s", 1000);
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
