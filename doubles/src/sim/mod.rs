//! The `sim` vendor's server: a protocol-level simulator of a call vendor
//! over real HTTP, used by the demo config, integration tests and
//! benchmarks. It speaks [`wire`] (its own copy of the protocol: the
//! daemon's adapter keeps another) and signs its callbacks with [`sign`].

pub mod codes;
mod dialer;
pub mod server;
pub mod settings;
pub mod wire;

pub use server::{DeliveryRecord, SimAuth, SimHandle, SimServer, SimStats, spawn};
pub use settings::SimSettings;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Most calls the simulator accepts in one CreateBatch.
pub const MAX_BATCH_CALLS: usize = 500;

/// `hex(HMAC-SHA256(secret, body))`, the value of the `X-Sim-Signature` header.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
pub(crate) mod testkit {
    use super::{SimAuth, SimHandle, SimSettings};
    use std::time::Duration;

    pub const API_KEY: &str = "test-api-key";
    pub const SECRET: &str = "test-callback-secret";

    /// Fast, seeded settings: calls take 1-20 ms, retries come after 50 ms.
    pub fn fast() -> SimSettings {
        SimSettings {
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(20),
            callback_retry_interval: Duration::from_millis(50),
            seed: Some(42),
            ..SimSettings::default()
        }
    }

    /// A simulator on 127.0.0.1:0.
    pub async fn sim(settings: SimSettings) -> SimHandle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth = SimAuth { api_key: API_KEY.into(), callback_secret: SECRET.into() };
        super::spawn(settings, auth, listener).await.unwrap()
    }

    /// Poll `done` every few milliseconds; panic naming `what` after `limit`.
    pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + limit;
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
