//! The status page's session cookie: proof that this browser gave the admin
//! token once, without ever holding the token itself.
//!
//! The value is `v1.<expiry>.<mac>`: the expiry in Unix seconds and an
//! HMAC-SHA256 of `v1.<expiry>` under a key derived from `http.admin_token`.
//! Nothing is kept in memory, so a session survives a restart and is
//! accepted by every instance behind a balancer that shares the token;
//! changing the token ends every session. Logging out removes the cookie from
//! the browser; a copy taken before stays valid until its expiry
//! ([`SESSION_LIFETIME`]), as a bearer token would.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use http::header::{COOKIE, HeaderValue};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE_NAME: &str = "campaignd_session";

/// How long a login lasts.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// What the MAC is computed over, besides the expiry: a new format gets a
/// new prefix, so an old cookie never reads as a new one.
const VERSION: &str = "v1";

/// A new session's cookie value, valid until `now + SESSION_LIFETIME`.
pub fn issue(admin_token: &str, now: DateTime<Utc>) -> String {
    let expiry = (now + SESSION_LIFETIME).timestamp();
    let mac = mac(admin_token, expiry).finalize().into_bytes();
    format!("{VERSION}.{expiry}.{}", hex::encode(mac))
}

/// Whether `value` is a cookie [`issue`]d under `admin_token` that has not
/// expired at `now`. The MAC is compared in constant time.
pub fn is_valid(admin_token: &str, value: &str, now: DateTime<Utc>) -> bool {
    let mut parts = value.splitn(3, '.');
    let (Some(VERSION), Some(expiry), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(expiry), Ok(given)) = (expiry.parse::<i64>(), hex::decode(given)) else { return false };
    now.timestamp() < expiry && mac(admin_token, expiry).verify_slice(&given).is_ok()
}

/// Whether the request carries a valid session cookie.
pub fn from_headers(headers: &HeaderMap, admin_token: &str, now: DateTime<Utc>) -> bool {
    cookie_values(headers).any(|v| is_valid(admin_token, v, now))
}

/// Every value of our cookie in the request's `Cookie` headers.
fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` header that stores `value`: never readable by scripts,
/// never sent from another site's page. `Secure` only behind a TLS proxy
/// that says so (`X-Forwarded-Proto: https`): on plain-HTTP loopback the
/// browser would otherwise drop the cookie.
pub fn set_cookie(value: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = SESSION_LIFETIME.num_seconds();
    header(format!("{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"))
}

/// The `Set-Cookie` header that removes the cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    header(format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"))
}

/// Whether the request reached a TLS-terminating proxy first. A client that
/// lies here only makes its own cookie stricter.
pub fn behind_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn header(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect("a cookie of ASCII letters, digits and punctuation")
}

/// The MAC over one expiry, keyed by a key derived from the admin token
/// (the token itself never keys anything but this derivation).
fn mac(admin_token: &str, expiry: i64) -> Hmac<Sha256> {
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(admin_token.as_bytes()).expect("HMAC takes any key");
    derive.update(b"campaignd status page session key");
    let key = derive.finalize().into_bytes();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(format!("{VERSION}.{expiry}").as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_never_holds_the_token() {
        let cookie = issue("s3cret", at(0));
        assert!(!cookie.contains("s3cret"), "{cookie}");
        assert!(is_valid("s3cret", &cookie, at(0)));
        assert!(is_valid("s3cret", &cookie, at(SESSION_LIFETIME.num_seconds() - 1)));
        assert!(!is_valid("s3cret", &cookie, at(SESSION_LIFETIME.num_seconds())));
    }

    #[test]
    fn another_token_a_moved_expiry_or_garbage_is_refused() {
        let cookie = issue("s3cret", at(0));
        assert!(!is_valid("other", &cookie, at(0)), "a changed token ends every session");
        let (_, mac) = cookie.rsplit_once('.').unwrap();
        let later = format!("v1.{}.{mac}", at(0).timestamp() + 999_999);
        assert!(!is_valid("s3cret", &later, at(0)), "the expiry is under the MAC");
        for garbage in ["", "v1", "v1..", "v2.1.00", "v1.x.00", "v1.99999999999.zz", "s3cret"] {
            assert!(!is_valid("s3cret", garbage, at(0)), "{garbage}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let cookie = issue("s3cret", at(0));
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::try_from(format!("a=b; {COOKIE_NAME}={cookie}; c=d")).unwrap());
        assert!(from_headers(&headers, "s3cret", at(1)));
        headers.insert(COOKIE, HeaderValue::from_static("a=b; campaignd_sessionx=1"));
        assert!(!from_headers(&headers, "s3cret", at(1)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_only_behind_tls() {
        let set = set_cookie("v", false);
        assert_eq!(set, "campaignd_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
        assert!(set_cookie("v", true).to_str().unwrap().ends_with("; Secure"));
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
        let mut headers = HeaderMap::new();
        assert!(!behind_tls(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(behind_tls(&headers));
    }
}
