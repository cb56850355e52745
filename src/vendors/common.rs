//! Pieces every vendor adapter needs: an HTTP client with the daemon's error
//! classification, the `status`/`reason` or `code`/`msg` envelope most vendors
//! answer with, URL-token and IP-allowlist checks for unsigned callbacks, and
//! phone/time helpers.

use super::error_code::ErrorCode;
use super::{CallbackError, VendorError, VendorErrorKind};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::time::Duration;

/// An HTTP client for one vendor instance: fixed timeout, no redirects (a
/// redirect would resend credentials somewhere else).
#[derive(Clone)]
pub struct VendorHttp {
    pub vendor_id: String,
    pub base: Result<Url, String>,
    pub client: reqwest::Client,
}

/// One answered request: status and raw body (kept for audit and parsed by the adapter).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("unreadable answer ({e}): {}", excerpt(&self.body)))
    }
}

/// At most 300 characters of a body, for error messages.
pub fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}

/// The HTTP client every adapter talks to its vendor with: a timeout per
/// request and no redirects (a redirect could carry our credentials to
/// another host).
pub fn no_redirect_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("the HTTP client could not be built: {e}"))
}

impl VendorHttp {
    /// A bad `base_url` does not fail here: every request then fails `Fatal`.
    /// A client that cannot be built is an error: the fallback would follow
    /// redirects, which can carry our credentials to another host.
    pub fn new(vendor_id: &str, base_url: &str, timeout: Duration) -> Result<VendorHttp, String> {
        let base = match Url::parse(base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() => Ok(url),
            Ok(_) => Err(format!("base_url `{base_url}` is not an http(s) URL")),
            Err(e) => Err(format!("base_url `{base_url}`: {e}")),
        };
        let client = no_redirect_client(timeout)?;
        Ok(VendorHttp { vendor_id: vendor_id.to_string(), base, client })
    }

    pub fn error(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        VendorError::new(&self.vendor_id, kind, message)
    }

    /// `base_url` joined with a path like `voice/group/call/send/agent`
    /// (leading slashes ignored; the base's own path prefix is kept).
    pub fn url(&self, path: &str) -> Result<Url, VendorError> {
        let mut url = self.base.clone().map_err(|e| self.error(VendorErrorKind::Fatal, e))?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path.split('/').filter(|s| !s.is_empty()));
        }
        Ok(url)
    }

    /// Send a request and read the whole answer. `idempotent` says whether a
    /// request that got no answer may simply be retried (queries, cancels) or
    /// may have been acted upon (creating a task): then the error is `Unknown`.
    pub async fn send(
        &self,
        op: &str,
        request: reqwest::RequestBuilder,
        idempotent: bool,
    ) -> Result<Answer, VendorError> {
        let response = request.send().await.map_err(|e| self.transport(op, e, idempotent))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.transport(op, e, idempotent))?;
        Ok(Answer { status, body })
    }

    /// A request that got no HTTP answer. Nothing was sent if the connection
    /// failed; otherwise a non-idempotent request may have been acted upon.
    pub fn transport(&self, op: &str, e: reqwest::Error, idempotent: bool) -> VendorError {
        let kind = if e.is_connect() || idempotent { VendorErrorKind::RetryLater } else { VendorErrorKind::Unknown };
        let mut message = format!("{op}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.error(kind, message).with_code(ErrorCode::Transport)
    }

    /// A non-2xx HTTP answer (before any vendor code is looked at).
    pub fn http_status_error(&self, op: &str, answer: &Answer) -> VendorError {
        self.error(classify_status(answer.status), format!("{op}: HTTP {}: {}", answer.status, excerpt(&answer.body)))
            .with_code(ErrorCode::Http(answer.status.as_u16()))
    }
}

/// How an HTTP error status is treated when the vendor sent no code of its own.
pub fn classify_status(status: StatusCode) -> VendorErrorKind {
    match status.as_u16() {
        408 | 429 | 500..=599 => VendorErrorKind::RetryLater,
        // Credentials, a request we built wrong, a wrong base_url (404, 3xx):
        // retrying will not help until an operator looks.
        _ => VendorErrorKind::Fatal,
    }
}

/// The reply envelope most vendors use, read leniently: `status`/`reason`
/// (Laaffic), `code`/`msg` or `code`/`message` (others), the code as a string
/// or a number.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub code: String,
    pub message: String,
    pub data: Value,
}

impl Envelope {
    /// `status`/`reason` first (the Laaffic family), then `code`/`msg`/`message`.
    pub fn parse(value: &Value) -> Option<Envelope> {
        Self::read(value, &["status", "code"], &["reason", "msg", "message"])
    }

    /// Like [`Envelope::parse`], with the code read from the first of
    /// `code_keys` present: a vendor that documents `code` (Blu) and also
    /// sends a `status` word (`{"code":2000,"status":"success"}`) must be
    /// read by its `code`.
    pub fn parse_prefer(value: &Value, code_keys: &[&str]) -> Option<Envelope> {
        Self::read(value, code_keys, &["message", "msg", "reason"])
    }

    fn read(value: &Value, code_keys: &[&str], message_keys: &[&str]) -> Option<Envelope> {
        let code = code_keys.iter().find_map(|k| value.get(*k).and_then(code_text))?;
        let message =
            message_keys.iter().find_map(|k| value.get(*k).and_then(Value::as_str)).unwrap_or_default().to_string();
        Some(Envelope { code, message, data: value.get("data").cloned().unwrap_or(Value::Null) })
    }
}

// Per-record field readers. A missing key or a JSON `null` is `None`; the
// documented type or its loose twin (a number sent as a string, a string
// sent as a number) is read; any other type is an error naming the field,
// so that a record whose field truly has the wrong type is rejected instead
// of being read as `unknown`.

/// A value as shown in a rejection reason (cut to 60 characters).
pub fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

/// `"<key>: expected <what>, got <value>"`.
pub fn wrong_type(key: &str, expected: &str, got: &Value) -> String {
    format!("{key}: expected {expected}, got {}", excerpt(&got.to_string()))
}

/// A text field: a string or a number; `""` is absent.
pub fn text_at(record: &Value, key: &str) -> Result<Option<String>, String> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::String(_) | Value::Number(_))) => Ok(code_text(v).filter(|s| !s.is_empty())),
        Some(other) => Err(wrong_type(key, "a string", other)),
    }
}

/// A number field: a JSON number or a numeric string; `""` is absent.
pub fn num_at(record: &Value, key: &str) -> Result<Option<f64>, String> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| wrong_type(key, "a number", &record[key])),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v @ Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a number", v)),
        Some(other) => Err(wrong_type(key, "a number", other)),
    }
}

/// A whole-number field (codes, ids, milliseconds): like [`num_at`], and
/// without a fractional part.
pub fn int_at(record: &Value, key: &str) -> Result<Option<i64>, String> {
    match num_at(record, key)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(_) => Err(wrong_type(key, "a whole number", &record[key])),
    }
}

/// A yes/no field: `true`/`false`, `1`/`0`, `"1"`/`"0"`, `"true"`/`"false"`; `""` is absent.
pub fn flag_at(record: &Value, key: &str) -> Result<Option<bool>, String> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v @ (Value::Number(_) | Value::String(_))) => match code_text(v).as_deref().map(str::to_ascii_lowercase) {
            Some(t) if t.is_empty() => Ok(None),
            Some(t) if t == "1" || t == "true" => Ok(Some(true)),
            Some(t) if t == "0" || t == "false" => Ok(Some(false)),
            _ => Err(wrong_type(key, "true/false or 1/0", v)),
        },
        Some(other) => Err(wrong_type(key, "true/false or 1/0", other)),
    }
}

/// The first of `keys` that is present and not null (a vendor's aliases of one field).
pub fn first_key<'a>(record: &Value, keys: &[&'a str]) -> Option<&'a str> {
    keys.iter().copied().find(|k| record.get(*k).is_some_and(|v| !v.is_null()))
}

/// A JSON string or number as text (`"0"` and `0` are the same code).
pub fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON string or number as i64.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Check a vendor's callback against the URL token and the IP allowlist
/// configured for it. Used by the ingress for every vendor; for vendors that
/// do not sign their callbacks it is the only authenticity check.
pub fn check_url_token(expected: Option<&str>, query: Option<&str>) -> Result<(), CallbackError> {
    let Some(expected) = expected else { return Ok(()) };
    let given = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| urlencoding::decode(v).map(|c| c.into_owned()).unwrap_or_default());
    match given {
        None => Err(CallbackError::Unauthorized("missing `token` in the callback URL".into())),
        Some(g) if constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(CallbackError::Unauthorized("wrong `token` in the callback URL".into())),
    }
}

pub fn check_ip_allowlist(allow: &[ipnet::IpNet], remote: Option<std::net::IpAddr>) -> Result<(), CallbackError> {
    if allow.is_empty() {
        return Ok(());
    }
    match remote {
        Some(ip) if allow.iter().any(|net| net.contains(&ip)) => Ok(()),
        Some(ip) => Err(CallbackError::Unauthorized(format!("source address {ip} is not in callback_allow_ips"))),
        None => Err(CallbackError::Unauthorized("source address unknown and callback_allow_ips is set".into())),
    }
}

/// A URL fit for logs: the query (which may carry our callback `token`) is cut.
pub fn loggable_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A vendor's callee number as E.164: `+` kept, otherwise digits get a `+`
/// (vendors echo numbers with or without it).
pub fn e164(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// A vendor's local `YYYY-MM-DD HH:MM:SS` time in zone `tz` as UTC.
pub fn local_time(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

/// Unix seconds or milliseconds (told apart by size) as UTC.
pub fn unix_time(v: &Value) -> Option<DateTime<Utc>> {
    let n = as_i64(v)?;
    if n > 100_000_000_000 { DateTime::from_timestamp_millis(n) } else { DateTime::from_timestamp(n, 0) }
}

/// A config table of kind-specific options as a typed struct, with the
/// serde error (unknown field, wrong type) as the message.
pub fn options<T: serde::de::DeserializeOwned>(table: &toml::Table) -> Result<T, String> {
    toml::Value::Table(table.clone()).try_into::<T>().map_err(|e| e.to_string().trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_error_carries_its_status_for_the_code_label() {
        let http = VendorHttp::new("v", "http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
        let answer = Answer { status: StatusCode::TOO_MANY_REQUESTS, body: "slow down".into() };
        let err = http.http_status_error("dispatch", &answer);
        assert_eq!((err.kind, err.code), (VendorErrorKind::RetryLater, Some(ErrorCode::Http(429))));
    }
    use serde_json::json;

    #[test]
    fn envelopes_are_read_whatever_their_spelling() {
        let laaffic = Envelope::parse(&json!({"status":"0","reason":"success","data":"123"})).unwrap();
        assert_eq!((laaffic.code.as_str(), laaffic.message.as_str(), laaffic.data), ("0", "success", json!("123")));
        let numeric = Envelope::parse(&json!({"code":2000,"msg":"ok"})).unwrap();
        assert_eq!((numeric.code.as_str(), numeric.message.as_str()), ("2000", "ok"));
        let message = Envelope::parse(&json!({"code":"-37","message":"busy"})).unwrap();
        assert_eq!((message.code.as_str(), message.message.as_str()), ("-37", "busy"));
        assert_eq!(Envelope::parse(&json!({"data":1})), None);
    }

    #[test]
    fn a_preferred_code_key_wins_over_a_status_word() {
        let blu = Envelope::parse_prefer(&json!({"code":2000,"status":"success"}), &["code", "status"]).unwrap();
        assert_eq!(blu.code, "2000");
        // `parse` (status first) reads the same body as the word "success".
        assert_eq!(Envelope::parse(&json!({"code":2000,"status":"success"})).unwrap().code, "success");
        let text = Envelope::parse_prefer(&json!({"code":"2000","msg":"ok","data":[1]}), &["code", "status"]).unwrap();
        assert_eq!((text.code.as_str(), text.message.as_str(), text.data), ("2000", "ok", json!([1])));
        let only_status = Envelope::parse_prefer(&json!({"status":"4001","message":"sign"}), &["code", "status"]);
        assert_eq!(only_status.unwrap().code, "4001");
        assert_eq!(Envelope::parse_prefer(&json!({"code":null,"data":1}), &["code", "status"]), None);
    }

    #[test]
    fn record_fields_are_loose_on_types_and_name_the_field_when_wrong() {
        let r = json!({"a":"x","n":12,"s":" 7 ","e":"","z":null,"f":1.5,"b":"1","t":true,"o":{"k":1},"l":[1]});
        assert_eq!(text_at(&r, "a"), Ok(Some("x".into())));
        assert_eq!(text_at(&r, "n"), Ok(Some("12".into())));
        assert_eq!((text_at(&r, "e"), text_at(&r, "z"), text_at(&r, "missing")), (Ok(None), Ok(None), Ok(None)));
        assert_eq!(text_at(&r, "o"), Err(r#"o: expected a string, got {"k":1}"#.to_string()));
        assert_eq!((int_at(&r, "n"), int_at(&r, "s"), int_at(&r, "e")), (Ok(Some(12)), Ok(Some(7)), Ok(None)));
        assert!(int_at(&r, "f").unwrap_err().starts_with("f: expected a whole number"));
        assert!(int_at(&r, "a").unwrap_err().starts_with("a: expected a number"));
        assert!(int_at(&r, "l").is_err());
        assert_eq!(num_at(&r, "f"), Ok(Some(1.5)));
        assert_eq!((flag_at(&r, "b"), flag_at(&r, "t"), flag_at(&r, "z")), (Ok(Some(true)), Ok(Some(true)), Ok(None)));
        assert_eq!(flag_at(&json!({"x":0}), "x"), Ok(Some(false)));
        assert!(flag_at(&r, "a").unwrap_err().starts_with("a: expected true/false"));
        assert_eq!(first_key(&r, &["z", "missing", "n", "a"]), Some("n"));
    }

    #[test]
    fn url_token_and_allowlist() {
        check_url_token(None, None).unwrap();
        check_url_token(Some("s3cr%t"), Some("a=1&token=s3cr%25t")).unwrap();
        let missing = check_url_token(Some("s"), Some("a=1")).unwrap_err().to_string();
        assert!(missing.contains("missing"), "{missing}");
        let wrong = check_url_token(Some("s"), Some("token=x")).unwrap_err().to_string();
        assert!(wrong.contains("wrong") && !wrong.contains('x'), "{wrong}");
        let allow: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        check_ip_allowlist(&allow, Some("10.1.2.3".parse().unwrap())).unwrap();
        check_ip_allowlist(&[], None).unwrap();
        assert_eq!(loggable_url("http://h/callbacks/v?token=s3cret"), "http://h/callbacks/v");
        assert!(check_ip_allowlist(&allow, Some("11.1.2.3".parse().unwrap())).is_err());
        assert!(check_ip_allowlist(&allow, None).is_err());
    }

    #[test]
    fn phones_and_times() {
        assert_eq!(e164("6281234567"), "+6281234567");
        assert_eq!(e164("+62 812-3456"), "+628123456");
        let t = local_time("2024-03-10 02:30:00", chrono_tz::America::New_York); // DST gap
        assert_eq!(t, None);
        let t = local_time("2024-01-02 08:00:00", chrono_tz::Asia::Jakarta).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-02T01:00:00+00:00");
        assert_eq!(unix_time(&json!(1630468800)).unwrap().timestamp(), 1630468800);
        assert_eq!(unix_time(&json!("1630468800123")).unwrap().timestamp_millis(), 1630468800123);
    }
}
