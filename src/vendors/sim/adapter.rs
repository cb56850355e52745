//! The daemon's side of the sim vendor: a [`VendorAdapter`] speaking [`wire`].

use super::MAX_BATCH_CALLS;
use super::codes::{self, KIND};
use super::wire::{
    BatchAccepted, CallRequest, CallResult, CallState, CallStatus, CreateBatch, SIGNATURE_HEADER, SimError,
};
use crate::vendors::common::no_redirect_client;
use crate::vendors::error_code::ErrorCode;
use crate::vendors::{
    AttemptHandle, CallEvent, CallbackError, DispatchBatch, DispatchReceipt, HeaderMap, LookupResult, ParsedCallback,
    VendorAdapter, VendorError, VendorErrorKind,
};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::{StatusCode, Url};
use sha2::Sha256;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// `hex(HMAC-SHA256(secret, body))`, the value of the `X-Sim-Signature` header.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

fn mac(secret: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key");
    mac.update(body);
    mac
}

#[derive(Clone)]
pub struct SimAdapterConfig {
    /// Where the simulator listens, e.g. `http://127.0.0.1:8081` (a path prefix is kept).
    pub base_url: String,
    pub api_key: String,
    pub callback_secret: String,
    /// Whole-request timeout of every call to the simulator.
    pub request_timeout: Duration,
}

/// Secrets are redacted so the config can be logged.
impl fmt::Debug for SimAdapterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimAdapterConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("callback_secret", &"<redacted>")
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

pub struct SimAdapter {
    id: String,
    base: Result<Url, String>,
    api_key: String,
    callback_secret: String,
    http: reqwest::Client,
}

impl SimAdapter {
    /// A bad `base_url` does not fail here: every request then fails `Fatal`;
    /// a client that cannot be built is an error (see [`no_redirect_client`]).
    pub fn new(vendor_id: &str, config: SimAdapterConfig) -> Result<SimAdapter, String> {
        let base = match Url::parse(&config.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() => Ok(url),
            Ok(_) => Err(format!("base_url `{}` is not an http(s) URL", config.base_url)),
            Err(e) => Err(format!("base_url `{}`: {e}", config.base_url)),
        };
        let http = no_redirect_client(config.request_timeout)?;
        Ok(SimAdapter {
            id: vendor_id.to_string(),
            base,
            api_key: config.api_key,
            callback_secret: config.callback_secret,
            http,
        })
    }

    fn error(&self, kind: VendorErrorKind, message: impl Into<String>) -> VendorError {
        VendorError::new(&self.id, kind, message)
    }

    fn url(&self, segments: &[&str]) -> Result<Url, VendorError> {
        let mut url = self.base.clone().map_err(|e| self.error(VendorErrorKind::Fatal, e))?;
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments); // percent-encodes each segment
        }
        Ok(url)
    }

    /// A request that got no HTTP answer. Nothing was sent if the connection
    /// failed; otherwise a non-idempotent request may have been acted upon.
    fn transport(&self, op: &str, e: reqwest::Error, idempotent: bool) -> VendorError {
        let kind = if e.is_connect() || idempotent { VendorErrorKind::RetryLater } else { VendorErrorKind::Unknown };
        let mut message = format!("{op}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.error(kind, message).with_code(ErrorCode::Transport)
    }

    /// A non-2xx answer, with the vendor's `code` and `message` when it sent them.
    async fn refused(&self, op: &str, response: reqwest::Response) -> VendorError {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let detail = match serde_json::from_str::<SimError>(&body) {
            Ok(e) => format!("{}: {}", e.code, e.message),
            Err(_) => body.chars().take(200).collect(),
        };
        self.error(classify_status(status), format!("{op}: HTTP {status}: {detail}"))
            .with_code(ErrorCode::Http(status.as_u16()))
    }

    /// True for the simulator's own 404 (not a 404 of a wrong base_url).
    async fn is_sim_not_found(response: reqwest::Response) -> bool {
        let body = response.bytes().await.unwrap_or_default();
        serde_json::from_slice::<SimError>(&body).is_ok_and(|e| e.code == "not_found")
    }
}

/// How an HTTP error status of the simulator is treated.
pub(crate) fn classify_status(status: StatusCode) -> VendorErrorKind {
    match status.as_u16() {
        // Credentials, or a request we built wrong: retrying will not help.
        400 | 401 | 403 => VendorErrorKind::Fatal,
        408 | 429 | 500..=599 => VendorErrorKind::RetryLater,
        // Anything else (404 of a wrong base_url, 3xx) is a configuration problem.
        _ => VendorErrorKind::Fatal,
    }
}

/// The normalized event of one sim result.
pub(crate) fn event_from_result(result: &CallResult) -> CallEvent {
    CallEvent {
        attempt_ref: Some(result.reference.clone()),
        external_call_id: Some(result.call_id.clone()),
        vendor_task_id: Some(result.batch_id.clone()),
        started_at: result.started_at,
        ended_at: Some(result.ended_at),
        duration_ms: Some(result.duration_ms),
        ..CallEvent::final_outcome(
            codes::normalize(&result.status, result.intent.as_deref()).with_requested_at(requested_time(result)),
        )
    }
}

/// The result's `callback_at`, if it is RFC 3339. An unreadable one is
/// dropped, not the whole result: the call still happened, and the raw body
/// stays in the inbox.
fn requested_time(result: &CallResult) -> Option<DateTime<Utc>> {
    let text = result.callback_at.as_deref()?;
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(e) => {
            tracing::warn!(reference = %result.reference, callback_at = %text, error = %e, "sim callback_at ignored");
            None
        }
    }
}

#[async_trait::async_trait]
impl VendorAdapter for SimAdapter {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH_CALLS
    }

    async fn dispatch(&self, batch: &DispatchBatch) -> Result<DispatchReceipt, VendorError> {
        if batch.items.is_empty() {
            return Ok(DispatchReceipt::default()); // the sim refuses empty batches
        }
        let body = CreateBatch {
            campaign: batch.campaign.clone(),
            callback_url: batch.callback_url.clone(),
            not_after: batch.not_after,
            calls: (batch.items.iter())
                .map(|item| CallRequest {
                    reference: item.attempt_ref.clone(),
                    phone: item.phone.clone(),
                    case_id: item.case_id.clone(),
                    variables: item.variables.clone(),
                })
                .collect(),
        };
        let url = self.url(&["v1", "batches"])?;
        let response = (self.http.post(url).bearer_auth(&self.api_key).json(&body).send().await)
            .map_err(|e| self.transport("dispatch", e, false))?;
        if !response.status().is_success() {
            return Err(self.refused("dispatch", response).await);
        }
        // The sim took the batch; if we cannot read which calls, the outcome is unknown.
        let accepted: BatchAccepted = response
            .json()
            .await
            .map_err(|e| self.error(VendorErrorKind::Unknown, format!("dispatch: unreadable answer: {e}")))?;
        let known: HashSet<&str> = accepted.calls.iter().map(|c| c.reference.as_str()).collect();
        let rejected = (batch.items.iter())
            .filter(|item| !known.contains(item.attempt_ref.as_str()))
            .map(|item| (item.attempt_ref.clone(), "missing from the vendor's answer".into()))
            .collect();
        tracing::debug!(vendor = %self.id, batch_id = %accepted.batch_id, calls = accepted.calls.len(), "sim batch accepted");
        Ok(DispatchReceipt {
            vendor_task_id: accepted.batch_id,
            accepted: accepted.calls.into_iter().map(|c| (c.reference, Some(c.call_id))).collect(),
            rejected,
            raw_response: None,
        })
    }

    async fn lookup(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let url = self.url(&["v1", "calls", &attempt.attempt_ref])?;
        let response = (self.http.get(url).bearer_auth(&self.api_key).send().await)
            .map_err(|e| self.transport("lookup", e, true))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            if Self::is_sim_not_found(response).await {
                return Ok(LookupResult::NotFound);
            }
            let message = "lookup: HTTP 404 without the sim's not_found body: check base_url";
            return Err(self.error(VendorErrorKind::Fatal, message));
        }
        if !status.is_success() {
            return Err(self.refused("lookup", response).await);
        }
        let call: CallStatus = response
            .json()
            .await
            .map_err(|e| self.error(VendorErrorKind::RetryLater, format!("lookup: unreadable answer: {e}")))?;
        match (call.state, call.result) {
            (CallState::Queued | CallState::Dialing, _) => {
                Ok(LookupResult::Pending { external_call_id: Some(call.call_id) })
            }
            (CallState::Finished | CallState::Cancelled, Some(result)) => {
                Ok(LookupResult::Finished(event_from_result(&result)))
            }
            (state, None) => Err(self.error(
                VendorErrorKind::RetryLater,
                format!("lookup: call {} is {state:?} but has no result", call.call_id),
            )),
        }
    }

    async fn cancel(&self, attempts: &[AttemptHandle]) -> Result<(), VendorError> {
        let mut failures = Vec::new();
        for attempt in attempts {
            let url = self.url(&["v1", "calls", &attempt.attempt_ref, "cancel"])?;
            let answer = self.http.post(url).bearer_auth(&self.api_key).send().await;
            let failure = match answer {
                Err(e) => self.transport("cancel", e, true),
                Ok(r) if r.status().is_success() => continue,
                Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                    if Self::is_sim_not_found(r).await {
                        continue; // never reached the sim: nothing to cancel
                    }
                    self.error(
                        VendorErrorKind::Fatal,
                        "cancel: HTTP 404 without the sim's not_found body: check base_url",
                    )
                }
                Ok(r) => self.refused("cancel", r).await,
            };
            failures.push(failure);
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => Err(self.error(
                first.kind,
                format!("{} of {} cancels failed, first: {}", failures.len(), attempts.len(), first.message),
            )),
        }
    }

    fn signs_callbacks(&self) -> bool {
        true
    }

    fn verify_callback(&self, headers: &HeaderMap, body: &[u8], _remote: Option<IpAddr>) -> Result<(), CallbackError> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .ok_or_else(|| CallbackError::Unauthorized("missing X-Sim-Signature header".into()))?;
        let given = (header.to_str().ok())
            .and_then(|text| hex::decode(text.trim()).ok())
            .ok_or_else(|| CallbackError::Unauthorized("X-Sim-Signature is not hex".into()))?;
        // verify_slice compares in constant time.
        mac(&self.callback_secret, body)
            .verify_slice(&given)
            .map_err(|_| CallbackError::Unauthorized("X-Sim-Signature does not match the body".into()))
    }

    fn parse_callback(&self, body: &[u8]) -> Result<ParsedCallback, CallbackError> {
        // Our own protocol, one result per body: strict, a bad body is a 400.
        let result: CallResult =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("sim CallResult: {e}")))?;
        Ok(ParsedCallback::all(vec![event_from_result(&result)]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, Receiver, SECRET, batch, fast, sim};
    use super::*;
    use crate::domain::outcome::{Disposition, Intent};
    use doubles::sim::SimSettings;
    use http::HeaderValue;

    const BODY: &[u8] = br#"{"event_id":"e-1","call_id":"c-9","reference":"r-1","batch_id":"b-2",
        "status":"ANSWERED","intent":"PTP","started_at":"2025-01-02T03:04:05Z",
        "ended_at":"2025-01-02T03:05:05Z","duration_ms":60000}"#;

    fn adapter() -> SimAdapter {
        testkit::adapter("http://127.0.0.1:9", Duration::from_secs(1))
    }

    fn signed(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn signature_is_verified_against_the_body() {
        let a = adapter();
        assert_eq!(sign(SECRET, BODY).len(), 64);
        a.verify_callback(&signed(&sign(SECRET, BODY)), BODY, None).unwrap();
        let cases = [
            (HeaderMap::new(), "missing"),
            (signed("zz-not-hex"), "not hex"),
            (signed(&sign("other-secret", BODY)), "does not match"),
            (signed(&sign(SECRET, b"{}")), "does not match"),
        ];
        for (headers, reason) in cases {
            let err = a.verify_callback(&headers, BODY, None).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, CallbackError::Unauthorized(_)) && text.contains(reason), "{text}");
            assert!(!text.contains(SECRET), "{text}");
        }
    }

    #[test]
    fn callback_becomes_one_final_event() {
        let events = adapter().parse_callback(BODY).unwrap().events;
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.attempt_ref.as_deref(), Some("r-1"));
        assert_eq!(e.external_call_id.as_deref(), Some("c-9"));
        assert_eq!(e.outcome.disposition, Disposition::Answered);
        assert_eq!(e.outcome.intent, Some(Intent::PromiseToPay));
        assert_eq!(e.outcome.raw_intent.as_deref(), Some("sim:PTP"));
        assert!(e.is_final && e.started_at.is_some() && e.ended_at.is_some());
        assert_eq!(e.duration_ms, Some(60000));
    }

    #[test]
    fn callback_at_becomes_the_requested_time_and_a_bad_one_is_dropped_alone() {
        let body = |callback_at: &str| {
            format!(
                r#"{{"event_id":"e-2","call_id":"c-9","reference":"r-1","batch_id":"b-2","status":"ANSWERED",
                "intent":"CALLBACK","ended_at":"2025-01-02T03:05:05Z","duration_ms":60000,"callback_at":{callback_at}}}"#
            )
        };
        let e = adapter().parse_callback(body(r#""2025-01-02T10:30:00+07:00""#).as_bytes()).unwrap().events.remove(0);
        assert_eq!(e.outcome.intent, Some(Intent::Callback));
        assert_eq!(e.outcome.requested_at, Some("2025-01-02T03:30:00Z".parse().unwrap()));
        let e = adapter().parse_callback(body(r#""after lunch""#).as_bytes()).unwrap().events.remove(0);
        assert_eq!((e.outcome.intent, e.outcome.requested_at), (Some(Intent::Callback), None));
        assert!(e.is_final, "the call is still reported");
        assert_eq!(adapter().parse_callback(BODY).unwrap().events[0].outcome.requested_at, None, "no field, no time");
    }

    #[test]
    fn malformed_callback_names_the_problem() {
        let a = adapter();
        let err = a.parse_callback(b"{\"event_id\": ").unwrap_err().to_string();
        assert!(err.contains("line 1 column"), "{err}");
        let err = a.parse_callback(br#"{"event_id":"e","call_id":"c"}"#).unwrap_err();
        assert!(matches!(&err, CallbackError::Malformed(m) if m.contains("reference")), "{err}");
    }

    #[test]
    fn status_codes_map_to_error_kinds() {
        use VendorErrorKind::*;
        for (code, kind) in [(400, Fatal), (401, Fatal), (403, Fatal), (404, Fatal), (408, RetryLater)]
            .into_iter()
            .chain([(429, RetryLater), (500, RetryLater), (502, RetryLater), (503, RetryLater)])
            .chain([(504, RetryLater), (302, Fatal), (422, Fatal)])
        {
            assert_eq!(classify_status(StatusCode::from_u16(code).unwrap()), kind, "{code}");
        }
    }

    #[test]
    fn urls_keep_a_path_prefix_and_encode_references() {
        let a = testkit::adapter("http://sim.local:81/prefix/", Duration::from_secs(1));
        assert_eq!(a.url(&["v1", "calls", "a/b c"]).unwrap().as_str(), "http://sim.local:81/prefix/v1/calls/a%2Fb%20c");
        let bad = testkit::adapter("not a url", Duration::from_secs(1));
        assert_eq!(bad.url(&["v1"]).unwrap_err().kind, VendorErrorKind::Fatal);
        let config = SimAdapterConfig {
            base_url: "http://x".into(),
            api_key: "k3y".into(),
            callback_secret: "s3cret".into(),
            request_timeout: Duration::from_secs(1),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("k3y") && !shown.contains("s3cret"), "{shown}");
        assert_eq!((adapter().kind(), adapter().max_batch(), adapter().id()), ("sim", 500, "sim-test"));
    }

    #[tokio::test]
    async fn refusals_map_to_error_kinds() {
        let receiver = Receiver::start(&[]).await;
        let calls = batch(&receiver.url, "x", 3);
        let (server, good) = sim(fast()).await;
        let wrong_key =
            SimAdapter::new("sim-test", SimAdapterConfig { api_key: "wrong".into(), ..config(&server.base_url()) })
                .unwrap();
        let err = wrong_key.dispatch(&calls).await.unwrap_err();
        assert_eq!(err.kind, VendorErrorKind::Fatal, "{err}");
        assert!(err.message.contains("unauthorized"), "{err}");

        let mut bad = calls.clone();
        bad.items[1].phone = "5550100".into();
        let err = good.dispatch(&bad).await.unwrap_err();
        assert_eq!(err.kind, VendorErrorKind::Fatal, "{err}");
        assert!(err.message.contains("bad_request") && err.message.contains("phone"), "{err}");
        assert!(!err.message.contains("5550100"), "the number is not echoed: {err}");
        assert_eq!(server.stats.batches_accepted.load(std::sync::atomic::Ordering::Relaxed), 0);

        // A 404 that is not the sim's own answer must never read as "never received".
        let elsewhere = SimAdapter::new("sim-test", config(receiver.url.trim_end_matches("/callbacks/sim"))).unwrap();
        assert_eq!(
            elsewhere.lookup(&crate::vendors::AttemptHandle::by_ref("x-0")).await.unwrap_err().kind,
            VendorErrorKind::Fatal
        );
        server.shutdown().await;

        let (down, adapter) = sim(SimSettings { dispatch_failure_rate: 1.0, ..fast() }).await;
        let err = adapter.dispatch(&calls).await.unwrap_err();
        assert_eq!(err.kind, VendorErrorKind::RetryLater, "{err}");
        assert!(err.message.contains("unavailable"), "{err}");
        assert_eq!(err.code, Some(ErrorCode::Http(503)), "the status, for the error counter's code label");
        assert_eq!(
            adapter.lookup(&crate::vendors::AttemptHandle::by_ref("x-0")).await.unwrap(),
            LookupResult::NotFound,
            "nothing stored"
        );
        assert_eq!(down.stats.batches_refused.load(std::sync::atomic::Ordering::Relaxed), 1);
        let base = down.base_url();
        down.shutdown().await;

        // Stopped: the connection is refused, nothing was sent.
        let err = SimAdapter::new("sim-test", config(&base)).unwrap().dispatch(&calls).await.unwrap_err();
        assert_eq!(err.kind, VendorErrorKind::RetryLater, "{err}");
        assert_eq!(err.code, Some(ErrorCode::Transport));
    }

    #[tokio::test]
    async fn no_answer_after_sending_is_unknown() {
        // Accepts connections and reads requests, but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hole = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let adapter = SimAdapter::new(
            "sim-test",
            SimAdapterConfig { request_timeout: Duration::from_millis(200), ..config(&base) },
        )
        .unwrap();
        let err = adapter.dispatch(&batch("http://127.0.0.1:9/cb", "t", 1)).await.unwrap_err();
        assert_eq!(err.kind, VendorErrorKind::Unknown, "{err}");
        // Lookups and cancels are safe to repeat.
        assert_eq!(
            adapter.lookup(&crate::vendors::AttemptHandle::by_ref("t-0")).await.unwrap_err().kind,
            VendorErrorKind::RetryLater
        );
        assert_eq!(
            adapter.cancel(&[crate::vendors::AttemptHandle::by_ref("t-0")]).await.unwrap_err().kind,
            VendorErrorKind::RetryLater
        );
        hole.abort();
    }

    fn config(base_url: &str) -> SimAdapterConfig {
        SimAdapterConfig {
            base_url: base_url.into(),
            api_key: testkit::API_KEY.into(),
            callback_secret: SECRET.into(),
            request_timeout: Duration::from_secs(5),
        }
    }
}
