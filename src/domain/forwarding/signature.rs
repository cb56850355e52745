//! Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256>`
//! over `"{webhook-id}.{webhook-timestamp}.{body}"`.
//!
//! The key: a secret written `whsec_<base64>` (the form the specification
//! and its libraries generate) is the base64-decoded bytes after the
//! prefix; any other secret is used as its raw UTF-8 bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a `whsec_` secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a `whsec_` secret must be base64 after the prefix: {0}")]
pub struct BadSecret(String);

/// The HMAC key of `secret` (see the module doc).
pub fn signing_key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => {
            let key = STANDARD.decode(b64).map_err(|e| BadSecret(e.to_string()))?;
            if key.is_empty() {
                return Err(BadSecret("it decodes to no bytes".into()));
            }
            Ok(key)
        }
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// The `webhook-signature` header value for one delivery.
pub fn sign(key: &[u8], webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries
    /// (standard-webhooks/libraries, python `webhooks_test.py`): this secret,
    /// id, timestamp and body sign to this value.
    #[test]
    fn signs_the_reference_example() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_plain_secret_is_its_bytes_and_a_bad_whsec_is_refused() {
        assert_eq!(signing_key("s3cret").unwrap(), b"s3cret");
        assert!(signing_key("whsec_!!notbase64").unwrap_err().to_string().contains("base64"));
        assert!(signing_key("whsec_").is_err());
        let a = sign(b"k", "evt_1", 1, b"{}");
        assert_ne!(a, sign(b"k", "evt_1", 2, b"{}"), "the timestamp is signed");
        assert_ne!(a, sign(b"k", "evt_2", 1, b"{}"), "the id is signed");
        assert_ne!(a, sign(b"k", "evt_1", 1, b"{ }"), "the body is signed");
    }
}
