//! A webhook receiver written from the Standard Webhooks specification
//! (standardwebhooks.com, "Verifying webhook authenticity"), not from
//! campaignd's types: it records every request with its `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers, verifies the
//! signature with its own HMAC-SHA256, and answers as its script says
//! (fail, hang, answer slowly, accept).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the receiver answers its `n`-th request (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Never answers (until the receiver stops): the sender times out.
    Hang,
    /// Answers 200 after this long.
    Slow(Duration),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub n: usize,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub answer: Answer,
    /// The receiver's clock at arrival (unix seconds).
    pub arrived_unix: i64,
}

type Script = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Vec<Received>>>,
    /// Ids being answered now, and the ids that arrived while a copy of
    /// them was still being answered (two senders at once).
    in_progress: Arc<Mutex<(std::collections::HashSet<String>, Vec<String>)>>,
    stop: CancellationToken,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    pub async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hooks/results", listener.local_addr().unwrap());
        let shared = Shared {
            script: Arc::new(Mutex::new(Arc::new(script))),
            seen: Arc::default(),
            in_progress: Arc::default(),
            stop: CancellationToken::new(),
        };
        let app = axum::Router::new().route("/hooks/results", axum::routing::post(hook)).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serve") });
        Receiver { url, shared }
    }

    /// Answer from now on as `script` says.
    pub fn script(&self, script: impl Fn(usize) -> Answer + Send + Sync + 'static) {
        *self.shared.script.lock().unwrap() = Arc::new(script);
    }

    pub fn seen(&self) -> Vec<Received> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Ids that arrived while another copy of them was being answered.
    pub fn overlaps(&self) -> Vec<String> {
        self.shared.in_progress.lock().unwrap().1.clone()
    }

    /// Requests so far.
    pub fn count(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let id = header("webhook-id");
    {
        let mut progress = s.in_progress.lock().unwrap();
        if !progress.0.insert(id.clone()) {
            progress.1.push(id.clone());
        }
    }
    let answer = {
        let mut seen = s.seen.lock().unwrap();
        let n = seen.len() + 1;
        let answer = (s.script.lock().unwrap())(n);
        seen.push(Received {
            n,
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            answer,
            arrived_unix: chrono::Utc::now().timestamp(),
        });
        answer
    };
    let status = match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Hang => {
            s.stop.cancelled().await;
            StatusCode::SERVICE_UNAVAILABLE
        }
        Answer::Slow(d) => {
            // The receiver's own behaviour (a slow CRM), not a test's wait.
            tokio::time::sleep(d).await;
            StatusCode::OK
        }
    };
    s.in_progress.lock().unwrap().0.remove(&id);
    status
}

/// Verify one request the way the specification says: the secret is
/// base64 after `whsec_`; the signed content is `id.timestamp.body`; the
/// header is a space-separated list of `v1,<base64>`; one must match; the
/// timestamp must be within five minutes of the receiver's clock.
pub fn verify(secret: &str, r: &Received) -> Result<(), String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").ok_or("no whsec_ prefix")?).map_err(|e| e.to_string())?;
    let ts: i64 = r.timestamp.parse().map_err(|_| format!("webhook-timestamp `{}` is not an integer", r.timestamp))?;
    if (ts - r.arrived_unix).abs() > 300 {
        return Err(format!("timestamp {ts} is more than 5 minutes from {}", r.arrived_unix));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let matches = r.signature.split(' ').any(|s| s.strip_prefix("v1,") == Some(expected.as_str()));
    if matches { Ok(()) } else { Err(format!("signature `{}` does not verify for {}", r.signature, r.id)) }
}
