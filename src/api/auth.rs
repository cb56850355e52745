//! Admin authentication, as one extractor: a handler that takes [`Admin`]
//! runs only for a request with the admin bearer token, before anything else
//! of the request is read. A read-only request (GET, HEAD) may instead carry
//! the status page's session cookie ([`super::session`]), so the page's
//! script can read the JSON routes; a request that changes anything always
//! needs the bearer token, so a cookie the browser sends on its own can
//! never act (no cross-site request forgery to defend against).

use super::error::ApiError;
use super::session;
use crate::context::Ctx;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};

/// Proof that the request carried `Authorization: Bearer <http.admin_token>`,
/// or, for a read-only request, a valid session cookie.
pub struct Admin;

impl FromRequestParts<Ctx> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Admin, ApiError> {
        let Some(expected) = &ctx.settings.http.admin_token else {
            return Err(ApiError(StatusCode::FORBIDDEN, "admin API disabled: set http.admin_token".into()));
        };
        let expected = expected.expose();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let allowed = match bearer {
            Some(given) => constant_time_eq(given.as_bytes(), expected.as_bytes()),
            None => {
                let read_only = parts.method == Method::GET || parts.method == Method::HEAD;
                read_only && session::from_headers(&parts.headers, expected, ctx.clock.now())
            }
        };
        if !allowed {
            return Err(ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()));
        }
        Ok(Admin)
    }
}

/// Whether `a` equals `b`, in a time that does not depend on where they
/// differ (a token guessed byte by byte learns nothing from the timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
