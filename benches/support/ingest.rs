//! Callback ingest: signed sim callbacks POSTed to `/callbacks/{vendor_id}`
//! of the release binary by wrk, beside `/healthz` by the same client; each
//! 2xx'd body must be durably in the inbox. The in-process clients below
//! (`post_all`) serve the flood and instances measurements.

use super::config::{BenchConfig, CALLBACK_SECRET, Synchronous, VENDOR_ID};
use super::daemon::{Daemon, Profile};
use super::report::{Report, dec, int};
use super::writer_share::WriterShare;
use super::{count, wrk};
use axum::body::Bytes;
use doubles::sim::sign;
use doubles::sim::wire::{CallResult, SIGNATURE_HEADER};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent in-process HTTP clients, each with its own connection.
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

/// wrk connections, as the target names them.
pub const CONNECTIONS: u32 = 100;
/// Distinct signed bodies wrk cycles through (the inbox stores repeats as
/// rows of their own; the processor later marks them duplicates).
const BODIES: usize = 20_000;

/// The daemon's own config for the wrk run: a callback-only daemon (no
/// campaign has contacts, the vendor URL is never called). The bench config
/// already raises the per-peer connection limit above wrk's 100 connections
/// from one address.
fn daemon_config(db_file: &std::path::Path, synchronous: Synchronous) -> anyhow::Result<std::path::PathBuf> {
    let config = BenchConfig { synchronous, ..BenchConfig::new(db_file) };
    let text = config.text();
    anyhow::ensure!(text.contains("max_connections_per_peer"), "the bench config lets wrk's 100 connections in");
    let path = db_file.with_extension("toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `/healthz`, then `POST /callbacks/sim` with signed bodies, both by wrk
/// with the same script shape and connection count against the release
/// binary; then every 2xx'd body is looked for in the inbox.
///
/// The daemon runs whole, its inbox processor included: the bodies name
/// calls it never made, so the processor reads each stored row and parks it
/// (a write) while the ingest goes on. That is what a daemon does under a
/// burst of callbacks, so the figure is measured with it, not without.
pub async fn measure(duration: Duration, synchronous: Synchronous, report: &mut Report) -> anyhow::Result<()> {
    wrk::ensure_installed()?;
    let dir = tempfile::tempdir()?;
    let db_file = dir.path().join("ingest.db");
    let config_file = daemon_config(&db_file, synchronous)?;
    let signed = prepare(BODIES)?;
    let path = format!("/callbacks/{VENDOR_ID}");
    let posts: Vec<wrk::Request> = signed
        .iter()
        .map(|s| wrk::Request::Post { path: &path, header: (SIGNATURE_HEADER, &s.signature), body: &s.body })
        .collect();
    let callbacks_lua = dir.path().join("callbacks.lua");
    std::fs::write(&callbacks_lua, wrk::script(&posts)?)?;
    let healthz_lua = dir.path().join("healthz.lua");
    std::fs::write(&healthz_lua, wrk::script(&[wrk::Request::Get { path: "/healthz" }])?)?;

    let mut daemon = Daemon::start(&config_file, &dir.path().join("ingest.log")).await?;
    let healthz = wrk::run(&daemon.url, &healthz_lua, CONNECTIONS, duration).await?;
    daemon.ensure_alive()?;
    let sync = synchronous.as_str();
    let profile = Profile::start(daemon.pid, &format!("ingest-{sync}"))?;
    let before = daemon.metrics().await?;
    let ingest = wrk::run(&daemon.url, &callbacks_lua, CONNECTIONS, duration).await?;
    let after = daemon.metrics().await?;
    profile.finish()?;
    daemon.stop().await?;
    let writer = WriterShare::between(&before, &after, ingest.seconds);

    anyhow::ensure!(healthz.refused == 0 && healthz.socket_errors == 0, "/healthz: {healthz:?}");
    anyhow::ensure!(ingest.refused == 0 && ingest.socket_errors == 0, "callbacks: {ingest:?}");
    let settings = BenchConfig { synchronous, ..BenchConfig::new(&db_file) }.settings()?;
    let db = campaignd::store::db::connect(&settings.database).await?;
    let stored = count(&db, "SELECT COUNT(*) FROM callback_inbox WHERE state <> 'rejected'").await? as u64;
    let parked =
        count(&db, "SELECT COUNT(*) FROM callback_inbox WHERE retry_at > received_at OR state <> 'pending'").await?;
    campaignd::store::db::close(db).await?;
    // Requests still in flight when wrk stopped may be stored, their answers unread.
    anyhow::ensure!(stored >= ingest.ok, "{} callbacks answered 2xx but only {stored} stored", ingest.ok);
    anyhow::ensure!(
        stored <= ingest.ok + u64::from(CONNECTIONS),
        "{stored} stored for {} answered callbacks and {CONNECTIONS} connections",
        ingest.ok
    );

    report.add_vs(
        format!("Callback ingest, {CONNECTIONS} connections, synchronous={sync}"),
        ingest.rate,
        "requests/s",
        "/healthz, same wrk client",
        healthz.rate,
        format!(
            "release binary, wrk -t2 -c{CONNECTIONS} for {} s each; {} 2xx, all {} found in the inbox; \
             processor parked {} meanwhile; /healthz p99 {} ms; {writer}",
            dec(ingest.seconds),
            int(ingest.ok as f64),
            int(stored as f64),
            int(parked as f64),
            dec(healthz.p99_ms)
        ),
    );
    for (label, ms) in [("p50", ingest.p50_ms), ("p99", ingest.p99_ms), ("max", ingest.max_ms)] {
        report.add(format!("Callback ingest latency {label}, synchronous={sync}"), dec(ms), "ms", "wrk's histogram");
    }
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
