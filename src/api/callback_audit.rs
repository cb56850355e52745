//! What the inbox keeps of a callback we reject before knowing who sent it
//! (unknown vendor id, failed authentication, oversized, too slow): enough to
//! diagnose a misconfigured vendor, never enough to let an anonymous client
//! grow the database. Authenticated callbacks are kept whole, always.
//!
//! Bounds per row: the first [`UNAUTHENTICATED_BODY_PREFIX`] bytes of the body
//! and at most [`MAX_HEADERS`] headers of [`MAX_HEADER_VALUE`] bytes. Bound
//! per peer: [`RejectionBudget`] rows a minute; the rest are answered the same
//! way and only counted (`campaignd_callback_rejections_unstored_total`).

use super::listener::peer_key;
use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Bytes of an unauthenticated body kept for audit.
pub const UNAUTHENTICATED_BODY_PREFIX: usize = 1024;
/// Headers of an unauthenticated request kept for audit.
pub const MAX_HEADERS: usize = 16;
/// Bytes of one header value (or name) of an unauthenticated request kept.
pub const MAX_HEADER_VALUE: usize = 128;

/// Headers that carry credentials are not kept in the audit copy.
const REDACTED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// The request headers as JSON, credentials redacted; `bounded` for requests
/// whose sender we do not know (see the module bounds).
pub fn headers_json(headers: &HeaderMap, bounded: bool) -> serde_json::Value {
    let (max_headers, max_len) = if bounded { (MAX_HEADERS, MAX_HEADER_VALUE) } else { (usize::MAX, usize::MAX) };
    let mut map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .take(max_headers)
        .map(|(k, v)| {
            let value = if REDACTED_HEADERS.contains(&k.as_str()) {
                "<redacted>".to_string()
            } else {
                lossy_prefix(v.as_bytes(), max_len)
            };
            (lossy_prefix(k.as_str().as_bytes(), max_len), serde_json::Value::String(value))
        })
        .collect();
    if headers.len() > max_headers {
        let note = format!("{} more headers not kept", headers.len() - max_headers);
        map.insert("campaignd-truncated".into(), serde_json::Value::String(note));
    }
    serde_json::Value::Object(map)
}

fn lossy_prefix(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

/// The body prefix kept for an unauthenticated rejection, and the note for
/// its error column when something was cut (`None`: kept whole).
pub fn body_prefix(body: &[u8]) -> (Vec<u8>, Option<String>) {
    if body.len() <= UNAUTHENTICATED_BODY_PREFIX {
        return (body.to_vec(), None);
    }
    let dropped = body.len() - UNAUTHENTICATED_BODY_PREFIX;
    metrics::counter!("campaignd_callback_body_bytes_dropped_total").increment(dropped as u64);
    let note = format!("body truncated to its first {UNAUTHENTICATED_BODY_PREFIX} of {} bytes", body.len());
    (body[..UNAUTHENTICATED_BODY_PREFIX].to_vec(), Some(note))
}

/// How many unauthenticated rejections of one peer are stored per minute.
/// In memory and per process: it bounds growth, it is not an audit promise.
pub struct RejectionBudget {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

/// Peers remembered before the limiter forgets those that are back to a full
/// budget (an IPv6 flood from many /64s must not grow memory for ever).
const MAX_TRACKED_PEERS: usize = 10_000;

impl RejectionBudget {
    /// `per_minute` rows per peer, at most that many in a burst; 0 keeps none.
    pub fn new(per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        RejectionBudget { limiter }
    }

    /// Whether a rejection from `peer` may be stored now (takes one unit).
    pub fn allow(&self, peer: IpAddr) -> bool {
        let Some(limiter) = &self.limiter else { return false };
        if limiter.len() > MAX_TRACKED_PEERS {
            limiter.retain_recent();
        }
        limiter.check_key(&peer_key(peer)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn an_unauthenticated_body_keeps_a_prefix_and_says_how_long_it_was() {
        let (kept, note) = body_prefix(&vec![b'a'; 262_144]);
        assert_eq!(kept.len(), UNAUTHENTICATED_BODY_PREFIX);
        assert_eq!(note.unwrap(), "body truncated to its first 1024 of 262144 bytes");
        let (kept, note) = body_prefix(b"short");
        assert_eq!((kept, note), (b"short".to_vec(), None));
    }

    #[test]
    fn bounded_headers_keep_few_short_values_and_never_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.insert("x-long", HeaderValue::from_str(&"v".repeat(5000)).unwrap());
        for i in 0..30 {
            headers.insert(axum::http::HeaderName::try_from(format!("x-h{i}")).unwrap(), HeaderValue::from_static("1"));
        }
        let json = headers_json(&headers, true);
        let map = json.as_object().unwrap();
        assert_eq!(map.len(), MAX_HEADERS + 1, "{json}");
        assert_eq!(map["authorization"], "<redacted>");
        assert_eq!(map["x-long"].as_str().unwrap().len(), MAX_HEADER_VALUE);
        assert_eq!(map["campaignd-truncated"], "16 more headers not kept");
        let whole = headers_json(&headers, false);
        assert_eq!(whole.as_object().unwrap().len(), 32);
        assert_eq!(whole["x-long"].as_str().unwrap().len(), 5000);
    }

    #[test]
    fn the_budget_is_per_peer_and_zero_keeps_nothing() {
        let budget = RejectionBudget::new(3);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let kept = (0..5).filter(|_| budget.allow(a)).count();
        assert_eq!(kept, 3);
        assert!(budget.allow(b), "another peer has its own budget");
        assert!(!RejectionBudget::new(0).allow(a));
    }
}
