//! Callback ingest: signed sim callbacks POSTed to `/callbacks/{vendor_id}` by
//! concurrent clients; each is durably in the inbox before its 2xx.

use super::config::{BenchConfig, CALLBACK_SECRET, Synchronous, VENDOR_ID};
use super::report::{Report, dec, int};
use super::{HttpServer, count, loopback_listener, per_second};
use axum::body::Bytes;
use campaignd::app::App;
use campaignd::clock::SystemClock;
use doubles::sim::sign;
use doubles::sim::wire::{CallResult, SIGNATURE_HEADER};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent HTTP clients, each with its own connection.
pub const CLIENTS: usize = 32;

/// One prepared request: body and its signature.
pub struct Signed {
    pub body: Bytes,
    pub signature: String,
}

/// What one client saw.
#[derive(Default)]
pub struct ClientRun {
    pub latencies: Vec<Duration>,
    pub failures: Vec<String>,
}

pub async fn measure(callbacks: usize, synchronous: Synchronous, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (listener, public_url) = loopback_listener().await?;
    // No tick runs, so the vendor's base URL is never contacted.
    let config = BenchConfig {
        synchronous,
        public_url: Some(public_url.clone()),
        ..BenchConfig::new(&dir.path().join("ingest.db"))
    };
    let app = App::build(config.settings()?, Arc::new(SystemClock)).await?;
    let ctx = app.ctx().clone();
    let http = HttpServer::daemon(listener, ctx.clone());

    let url = format!("{public_url}/callbacks/{VENDOR_ID}");
    let requests = prepare(callbacks)?;
    let started = Instant::now();
    let runs = post_all(&[url], requests).await?;
    let elapsed = started.elapsed();
    http.stop().await?;

    let failures: Vec<&String> = runs.iter().flat_map(|r| &r.failures).collect();
    anyhow::ensure!(failures.is_empty(), "{} callbacks failed, first: {}", failures.len(), failures[0]);
    let stored = count(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await?;
    anyhow::ensure!(stored as usize == callbacks, "{stored} inbox rows for {callbacks} answered callbacks");

    let mut latencies: Vec<Duration> = runs.into_iter().flat_map(|r| r.latencies).collect();
    latencies.sort();
    let ms = |d: Duration| dec(d.as_secs_f64() * 1000.0);
    let sync = synchronous.as_str();
    report.add(
        format!("Callback ingest, {} POSTs, synchronous={sync}", int(callbacks as f64)),
        int(per_second(callbacks as f64, elapsed)),
        "requests/s",
        format!(
            "{CLIENTS} clients on loopback sharing the cores with the daemon; {} s; every 2xx'd body found in the inbox",
            dec(elapsed.as_secs_f64())
        ),
    );
    let last = latencies.len() - 1;
    for (label, at) in [("p50", last / 2), ("p99", last * 99 / 100), ("max", last)] {
        report.add(format!("Callback ingest latency {label}, synchronous={sync}"), ms(latencies[at]), "ms", "");
    }
    drop(app);
    Ok(())
}

/// Distinct, validly signed `CallResult` bodies (a distinct `event_id` each),
/// built before the clock starts.
pub fn prepare(callbacks: usize) -> anyhow::Result<Vec<Signed>> {
    (0..callbacks).map(|i| signed(&format!("{i}-1"), &format!("c-{i}"), "b-1")).collect()
}

/// One answered call's result (a distinct `event_id` each), signed as the
/// simulator signs it.
pub fn signed(reference: &str, call_id: &str, batch_id: &str) -> anyhow::Result<Signed> {
    let now = chrono::Utc::now();
    let result = CallResult {
        event_id: uuid::Uuid::new_v4().to_string(),
        call_id: call_id.to_string(),
        reference: reference.to_string(),
        batch_id: batch_id.to_string(),
        status: "ANSWERED".into(),
        intent: Some("PTP".into()),
        started_at: Some(now - chrono::Duration::seconds(42)),
        ended_at: now,
        duration_ms: 42_000,
        callback_at: None,
    };
    let body = serde_json::to_vec(&result)?;
    let signature = sign(CALLBACK_SECRET, &body);
    Ok(Signed { body: Bytes::from(body), signature })
}

/// Split the requests over the clients and run them all concurrently. With
/// several URLs (instances), request `i` goes to `urls[i % urls.len()]`; the
/// client count is prime to small URL counts, so every client uses each URL.
pub async fn post_all(urls: &[String], requests: Vec<Signed>) -> anyhow::Result<Vec<ClientRun>> {
    post_spread(urls, requests, CLIENTS).await
}

/// [`post_all`] over `clients` clients.
pub async fn post_spread(urls: &[String], requests: Vec<Signed>, clients: usize) -> anyhow::Result<Vec<ClientRun>> {
    anyhow::ensure!(!urls.is_empty(), "no callback URL to post to");
    let urls: Vec<Arc<str>> = urls.iter().map(|u| Arc::from(u.as_str())).collect();
    let mut shares: Vec<Vec<(Arc<str>, Signed)>> = (0..clients).map(|_| Vec::new()).collect();
    for (i, request) in requests.into_iter().enumerate() {
        shares[i % clients].push((urls[i % urls.len()].clone(), request));
    }
    let tasks: Vec<_> = shares.into_iter().map(|share| tokio::spawn(client(share))).collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await??);
    }
    Ok(runs)
}

/// One client POSTing its share one after the other on kept-alive
/// connections (one per URL).
async fn client(share: Vec<(Arc<str>, Signed)>) -> anyhow::Result<ClientRun> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let mut run = ClientRun::default();
    for (url, request) in share {
        let sent = Instant::now();
        let answer = http
            .post(&*url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &request.signature)
            .body(request.body)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                response.bytes().await?;
                run.latencies.push(sent.elapsed());
            }
            Ok(response) => run.failures.push(format!("HTTP {}: {}", response.status(), response.text().await?)),
            Err(e) => run.failures.push(e.to_string()),
        }
    }
    Ok(run)
}
