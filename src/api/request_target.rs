//! The request target (path and query) checked once, before any handler:
//! every percent-decoded path segment and query key or value must be UTF-8
//! without control characters, and no longer than an id or a token can be.
//! Past this point handlers may hand path and query text to the database as
//! is: a NUL (`%00`) would otherwise reach a PostgreSQL text column and come
//! back as a 503 carrying the database's own error text.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest path segment (a campaign name, vendor id, phone number).
pub const MAX_SEGMENT_BYTES: usize = 256;
/// Longest query key or value (a callback `?token=`, an import reason).
pub const MAX_QUERY_VALUE_BYTES: usize = 1024;

pub async fn reject_invalid_target(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let problem = check_path(uri.path()).or_else(|| uri.query().and_then(check_query));
    match problem {
        Some(problem) => (StatusCode::BAD_REQUEST, Json(json!({ "error": problem }))).into_response(),
        None => next.run(request).await,
    }
}

fn check_path(path: &str) -> Option<String> {
    path.split('/')
        .enumerate()
        .filter(|(_, raw)| !raw.is_empty())
        .find_map(|(i, raw)| check_text(raw, MAX_SEGMENT_BYTES).map(|why| format!("path segment {i}: {why}")))
}

fn check_query(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Query keys are ours and short: naming them back is safe and useful.
        let shown_key = if check_text(key, 64).is_none() { urlencoding::decode(key).ok() } else { None };
        let name = shown_key.map_or_else(|| "a query parameter".to_string(), |k| format!("query parameter `{k}`"));
        check_text(key, MAX_QUERY_VALUE_BYTES)
            .or_else(|| check_text(value, MAX_QUERY_VALUE_BYTES))
            .map(|why| format!("{name}: {why}"))
    })
}

/// Why a percent-encoded piece of the target is refused, if it is.
fn check_text(raw: &str, max: usize) -> Option<String> {
    // `+` is a space in query values; it decodes to nothing harmful either way.
    let bytes = urlencoding::decode_binary(raw.as_bytes());
    if bytes.len() > max {
        return Some(format!("longer than {max} bytes ({} bytes)", bytes.len()));
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Some("not valid UTF-8 (a percent-encoded byte such as %FF that is no character)".into());
    };
    if text.contains('\0') {
        return Some("contains a NUL character (%00)".into());
    }
    if text.chars().any(char::is_control) {
        return Some("contains a control character".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_nul_bad_utf8_control_characters_or_overlong_ids_are_refused() {
        assert_eq!(check_path("/api/v1/campaigns/x%00").unwrap(), "path segment 4: contains a NUL character (%00)");
        assert!(check_path("/callbacks/%FF").unwrap().contains("not valid UTF-8"));
        assert!(check_path("/callbacks/a%0Ab").unwrap().contains("control character"));
        let long = format!("/api/v1/campaigns/{}", "n".repeat(MAX_SEGMENT_BYTES + 1));
        assert!(check_path(&long).unwrap().contains("longer than 256 bytes (257 bytes)"));
    }

    #[test]
    fn ordinary_paths_pass_including_encoded_plus_and_unicode() {
        assert_eq!(check_path("/api/v1/suppressions/%2B628123456789"), None);
        assert_eq!(check_path("/api/v1/campaigns/%E6%8B%9B%E5%95%86/pause"), None);
        assert_eq!(check_path("/healthz"), None);
        assert_eq!(check_path("/"), None);
    }

    #[test]
    fn query_values_are_checked_and_the_parameter_named() {
        assert_eq!(check_query("format=csv&all=true"), None);
        assert_eq!(check_query("token=abc%20def+x"), None);
        assert_eq!(check_query("format=%00").unwrap(), "query parameter `format`: contains a NUL character (%00)");
        assert!(check_query("reason=%C3%28").unwrap().contains("`reason`: not valid UTF-8"));
        assert!(check_query("x%00=1").unwrap().starts_with("a query parameter: contains a NUL"));
        let long = format!("token={}", "t".repeat(MAX_QUERY_VALUE_BYTES + 1));
        assert!(check_query(&long).unwrap().contains("longer than 1024 bytes"));
    }
}
