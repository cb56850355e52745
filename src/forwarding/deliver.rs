//! One delivery of one event: the Standard Webhooks headers, the body as
//! stored, a 2xx or why not.

use crate::config::ForwardTarget;
use crate::domain::forwarding::signature::{sign, signing_key};
use chrono::{DateTime, Utc};
use entity::forward_outbox::Model;

pub enum Delivery {
    Delivered {
        status: u16,
    },
    /// `status` when the receiver answered (not 2xx); `error` says what happened.
    Failed {
        status: Option<u16>,
        error: String,
    },
}

pub async fn deliver(
    client: &reqwest::Client,
    target: Option<&ForwardTarget>,
    campaign: &str,
    row: &Model,
    now: DateTime<Utc>,
) -> Delivery {
    let Some(target) = target else {
        return Delivery::Failed {
            status: None,
            error: format!("campaign `{campaign}` has no forwarding destination configured now"),
        };
    };
    let key = match signing_key(target.secret.expose()) {
        Ok(k) => k,
        // Checked when the config loaded; kept as a failure, not a panic.
        Err(e) => return Delivery::Failed { status: None, error: e.to_string() },
    };
    let timestamp = now.timestamp();
    let signature = sign(&key, &row.event_id, timestamp, row.payload.as_bytes());
    let sent = client
        .post(&target.url)
        .timeout(target.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &row.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(row.payload.clone())
        .send()
        .await;
    match sent {
        Ok(resp) if resp.status().is_success() => Delivery::Delivered { status: resp.status().as_u16() },
        Ok(resp) => {
            let status = resp.status().as_u16();
            Delivery::Failed { status: Some(status), error: format!("the receiver answered {status}") }
        }
        // reqwest's error names the URL; never a header (the signature).
        Err(e) if e.is_timeout() => {
            Delivery::Failed { status: None, error: format!("no answer within {:?}", target.timeout) }
        }
        Err(e) => Delivery::Failed { status: None, error: format!("cannot reach the receiver: {e}") },
    }
}
