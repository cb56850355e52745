//! AIRudder's request plumbing: the Bearer token (cached, renewed ahead of
//! expiry and once on refusal), the `{status, code, message, data}` answer,
//! and answer codes as the daemon's errors.

use super::adapter::AirudderAdapter;
use super::codes::{self, SUCCESS};
use super::wire::AuthRequest;
use crate::vendors::common::{Answer, as_i64, classify_status, code_text, excerpt};
use crate::vendors::{VendorError, VendorErrorKind};
use serde_json::Value;
use std::time::Instant;

/// The cached Bearer token and when to renew it.
pub struct Token {
    value: String,
    refresh_at: Instant,
}

/// A parsed AIRudder answer: `{"status","code","message"|"msg","data"}`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: Option<i64>,
    pub message: String,
    pub data: Value,
}

impl Reply {
    fn read(answer: &Answer) -> Reply {
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let code = v.get("code").and_then(as_i64);
        let message = ["message", "msg", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(code_text))
            .or_else(|| v.get("status").and_then(code_text))
            .unwrap_or_default();
        Reply { code, message, data: v.get("data").cloned().unwrap_or(Value::Null) }
    }

    pub(super) fn ok(&self, answer: &Answer) -> bool {
        answer.status.is_success() && self.code == Some(SUCCESS)
    }
}

impl AirudderAdapter {
    /// A valid token: the cached one unless it is due for renewal or is
    /// `stale` (just refused by AIRudder).
    pub(super) async fn token(&self, stale: Option<&str>) -> Result<String, VendorError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
            && stale != Some(t.value.as_str())
        {
            return Ok(t.value.clone());
        }
        *cached = None;
        let body = AuthRequest { app_key: self.app_key.clone(), app_secret: self.app_secret.clone() };
        let request = self.http.client.post(self.http.url(&self.path("auth"))?).json(&body);
        let answer = self.http.send("auth", request, true).await?;
        let reply = Reply::read(&answer);
        let token = reply.data.get("token").and_then(Value::as_str).filter(|t| !t.is_empty());
        match token {
            Some(t) if reply.ok(&answer) => {
                let life = self.opts.token_lifetime.saturating_sub(self.opts.token_refresh_margin);
                *cached = Some(Token { value: t.to_string(), refresh_at: Instant::now() + life });
                Ok(t.to_string())
            }
            _ if answer.status.as_u16() == 401 || reply.code.is_some_and(codes::is_auth_code) => Err(self.err(
                VendorErrorKind::Fatal,
                format!("auth: APPKey/APPSecret refused (code {:?}: {})", reply.code, excerpt(&reply.message)),
            )),
            _ if !answer.status.is_success() => Err(self.http.http_status_error("auth", &answer)),
            _ => Err(self.err(VendorErrorKind::Fatal, format!("auth: no token in answer: {}", excerpt(&answer.body)))),
        }
    }

    /// POST `body` with the Bearer token; on an auth refusal get a new token
    /// and resend once. A second refusal is Fatal.
    pub(super) async fn call(
        &self,
        op: &str,
        leaf: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<(Answer, Reply), VendorError> {
        let url = self.http.url(&self.path(leaf))?;
        let mut token = self.token(None).await?;
        for round in 0..2 {
            let request = self.http.client.post(url.clone()).bearer_auth(&token).json(body);
            let answer = self.http.send(op, request, idempotent).await?;
            let reply = Reply::read(&answer);
            let refused = answer.status.as_u16() == 401 || reply.code.is_some_and(codes::is_auth_code);
            if !refused {
                return Ok((answer, reply));
            }
            if round == 0 {
                tracing::info!(vendor = %self.id, op, "AIRudder refused the token; authenticating again");
                token = self.token(Some(&token)).await?;
            }
        }
        Err(self.err(VendorErrorKind::Fatal, format!("{op}: token refused again right after a new auth")))
    }

    /// An answer that is not a success, as the daemon's error.
    pub(super) fn failure(&self, op: &str, answer: &Answer, reply: &Reply) -> VendorError {
        use crate::vendors::error_code::ErrorCode;
        let text = format!("{op}: code {:?}: {}", reply.code, excerpt(&reply.message));
        match reply.code.and_then(codes::error_row) {
            Some((code, kind, _, meaning)) => self
                .err(*kind, format!("{op}: {code} {meaning}: {}", excerpt(&reply.message)))
                .with_code(ErrorCode::Vendor),
            None if !answer.status.is_success() => self.http.http_status_error(op, answer),
            None => match reply.code {
                Some(c @ 400..=599) => self
                    .err(
                        classify_status(
                            reqwest::StatusCode::from_u16(c as u16).unwrap_or(reqwest::StatusCode::BAD_REQUEST),
                        ),
                        text,
                    )
                    .with_code(ErrorCode::Vendor),
                _ => self.err(VendorErrorKind::Fatal, text).with_code(ErrorCode::Vendor),
            },
        }
    }
}
