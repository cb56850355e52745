//! A vendor that keeps posting signed callbacks and remembers every answer:
//! the proof that a 2xx was given only for what the inbox holds.

use super::SECRET;
use doubles::sim::sign;
use sea_orm::{DatabaseConnection, EntityTrait};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One answer the daemon gave.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Vec<u8>,
    /// HTTP status, or 0 when no answer came (connection refused, timed out).
    pub status: u16,
    pub sent: Instant,
    pub took: Duration,
}

/// Senders posting to `url` until stopped; each callback is a distinct,
/// validly signed `sim` result for a call the daemon does not know.
pub struct Recorder {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Recorder {
    /// `senders` concurrent senders, each pausing `pace` between its posts.
    pub fn start(url: String, senders: usize, pace: Duration) -> Recorder {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        let tasks = (0..senders)
            .map(|sender| {
                let (url, client, answers, stop) = (url.clone(), client.clone(), answers.clone(), stop.clone());
                tokio::spawn(async move {
                    for i in 0.. {
                        if stop.is_cancelled() {
                            break;
                        }
                        let body = callback_body(&format!("rec-{sender}-{i}-{}", uuid::Uuid::new_v4().simple()));
                        let sent = Instant::now();
                        let req = client.post(&url).header("x-sim-signature", sign(SECRET, &body)).body(body.clone());
                        let status = match req.send().await {
                            Ok(r) => r.status().as_u16(),
                            Err(_) => 0,
                        };
                        answers.lock().unwrap().push(Answer { body, status, sent, took: sent.elapsed() });
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(pace) => {}
                        }
                    }
                })
            })
            .collect();
        Recorder { answers, stop, tasks }
    }

    /// Whether an answer with a status `ok` was given to a callback sent after `since`.
    pub fn answered_since(&self, since: Instant, ok: impl Fn(u16) -> bool) -> Option<Answer> {
        self.answers.lock().unwrap().iter().find(|a| a.sent >= since && ok(a.status)).cloned()
    }

    /// Stop sending; returns every answer.
    pub async fn stop(self) -> Vec<Answer> {
        self.stop.cancel();
        for t in self.tasks {
            t.await.expect("sender task");
        }
        self.answers.lock().unwrap().clone()
    }
}

fn callback_body(event: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event,
        "call_id": format!("c-{event}"),
        "reference": "999-1",
        "batch_id": "b-recorder",
        "status": "NO_ANSWER",
        "intent": null,
        "started_at": null,
        "ended_at": "2026-11-21T10:00:00Z",
        "duration_ms": 0,
    })
    .to_string()
    .into_bytes()
}

/// Answers by status, e.g. `{200: 812, 503: 97}`.
pub fn by_status(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for a in answers {
        *counts.entry(a.status).or_default() += 1;
    }
    counts
}

/// Every body answered 2xx must be in `callback_inbox`; returns (acknowledged, of them stored).
pub async fn acknowledged_vs_stored(conn: &DatabaseConnection, answers: &[Answer]) -> (usize, usize) {
    let stored: HashSet<Vec<u8>> = entity::callback_inbox::Entity::find()
        .all(conn)
        .await
        .expect("read callback_inbox")
        .into_iter()
        .map(|r| r.body)
        .collect();
    let acked: Vec<&Answer> = answers.iter().filter(|a| (200..300).contains(&a.status)).collect();
    let found = acked.iter().filter(|a| stored.contains(&a.body)).count();
    (acked.len(), found)
}
