//! Admin authentication, as one extractor: a handler that takes [`Admin`]
//! runs only for a request with the admin bearer token, before anything else
//! of the request is read.

use super::error::ApiError;
use crate::context::Ctx;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

/// Proof that the request carried `Authorization: Bearer <http.admin_token>`.
pub struct Admin;

impl FromRequestParts<Ctx> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Admin, ApiError> {
        let Some(expected) = &ctx.settings.http.admin_token else {
            return Err(ApiError(StatusCode::FORBIDDEN, "admin API disabled: set http.admin_token".into()));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
            return Err(ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()));
        }
        Ok(Admin)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
