//! Reading request bodies under a size and a time bound, and the check that
//! keeps NUL characters away from the database (PostgreSQL text columns refuse
//! them, and the refusal would surface as a 503 carrying the database's words).

use axum::body::{Body, Bytes};
use futures::StreamExt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body not complete within {}s ({received} bytes received)", after.as_secs_f64())]
    TimedOut { after: Duration, received: usize },
    #[error("body could not be read: the client closed the connection or sent a broken encoding")]
    Broken,
}

/// The whole body, if it is at most `limit` bytes and arrives within
/// `deadline` (a total, not a per-read timeout: a client trickling one byte
/// every few seconds must not hold its connection for ever).
pub async fn read_within(body: Body, limit: usize, deadline: Duration) -> Result<Bytes, BodyError> {
    let mut buf = Vec::new();
    let mut stream = body.into_data_stream();
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if buf.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(())) => Ok(Bytes::from(buf)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::TimedOut { after: deadline, received: buf.len() }),
    }
}

/// Whether `body` carries a NUL character: a raw 0 byte, a `\u0000` inside a
/// JSON string or key, or `%00` in a form-encoded body.
pub fn contains_nul(body: &[u8], content_type: Option<&str>) -> bool {
    if body.contains(&0) {
        return true;
    }
    // The JSON walk only runs when the escape appears at all (`\\u0000` is a
    // backslash and the text "u0000", not a NUL, hence the real parse).
    if contains(body, b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
    {
        return json_has_nul(&value);
    }
    let form = content_type.is_some_and(|t| t.trim_start().starts_with("application/x-www-form-urlencoded"));
    form && body.split(|b| *b == b'&' || *b == b'=').any(|part| urlencoding::decode_binary(part).contains(&0))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn json_has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_raw_in_json_strings_keys_and_forms_but_not_in_an_escaped_backslash() {
        assert!(contains_nul(b"abc\0def", None));
        assert!(contains_nul(br#"{"call_id":"a\u0000b"}"#, Some("application/json")));
        assert!(contains_nul(br#"{"list":[{"k\u0000":1}]}"#, None));
        assert!(contains_nul(b"a=1&b=x%00y", Some("application/x-www-form-urlencoded")));
        assert!(!contains_nul(br#"{"text":"a\\u0000b"}"#, None), "a backslash followed by u0000");
        assert!(!contains_nul(br#"{"call_id":"c-1","n":0}"#, None));
        assert!(!contains_nul(b"a=1&b=2%20", Some("application/x-www-form-urlencoded")));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_and_within_it_read_whole() {
        let ok = read_within(Body::from(vec![b'x'; 100]), 100, Duration::from_secs(5)).await.unwrap();
        assert_eq!(ok.len(), 100);
        let big = read_within(Body::from(vec![b'x'; 101]), 100, Duration::from_secs(5)).await;
        assert!(matches!(big, Err(BodyError::TooLarge { limit: 100 })), "{big:?}");
    }

    #[tokio::test]
    async fn a_body_that_never_completes_times_out_with_what_it_received() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        tx.send(Ok(Bytes::from_static(b"12345"))).await.unwrap();
        let body = Body::from_stream(tokio_stream(rx));
        let err = read_within(body, 1000, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, BodyError::TimedOut { received: 5, .. }), "{err:?}");
        assert_eq!(err.to_string(), "body not complete within 0.2s (5 bytes received)");
        drop(tx);
    }

    fn tokio_stream<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures::Stream<Item = T> + Send + 'static {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
