//! Hostile and broken clients against the real daemon on loopback: slow
//! connections (half-sent headers, trickled bodies, idle keep-alive), many
//! connections from one address, invalid bytes in paths, queries and bodies,
//! and floods of unauthenticated callbacks. Other peers (other 127.0.0.x
//! addresses) must be served throughout; nothing the database says reaches a
//! client; what an anonymous client can make us store is bounded.

use crate::common;

use common::daemon::Daemon;
use common::{ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use doubles::sim::sign;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

const ADMIN_TOKEN: &str = "hostile-test-token";

/// A daemon whose `[http]` section has `http` in place of the usual body limit.
async fn daemon_with(db: &TestDb, http: &str) -> (Daemon, doubles::sim::SimHandle) {
    let sim = start_sim(fast_sim(0.0)).await;
    let text = ConfigSpec::new(&db.url, &sim.base_url()).render().replace("max_body_bytes = 4096", http);
    let config = db.path("config.toml");
    std::fs::write(&config, text).expect("write config");
    (Daemon::start(&config), sim)
}

/// A TCP connection to the daemon from local address `from` (127.0.0.x):
/// each address is a different peer to the daemon.
async fn connect_from(from: &str, daemon: &Daemon) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{from}:0").parse().expect("client address")).expect("bind client address");
    let to: SocketAddr = daemon.addr.parse().expect("daemon address");
    socket.connect(to).await.expect("connect")
}

/// Send `head` on a connection from `from` and keep reading it in the
/// background until the server closes it. Returns the write half (to finish
/// the request later) and the task that yields everything the server sent.
async fn open_and_watch(
    from: &str,
    daemon: &Daemon,
    head: &str,
    closed: &Arc<AtomicUsize>,
) -> (OwnedWriteHalf, tokio::task::JoinHandle<Vec<u8>>) {
    let stream = connect_from(from, daemon).await;
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.expect("send half a request");
    let closed = closed.clone();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        // Ok(0) is an orderly close, Err a reset: closed by the server either way.
        let _ = read.read_to_end(&mut got).await;
        closed.fetch_add(1, Ordering::SeqCst);
        got
    });
    (write, reader)
}

async fn wait_closed(closed: &Arc<AtomicUsize>, n: usize, within: Duration, what: &str) {
    poll_until(within, what, || async { (closed.load(Ordering::SeqCst) >= n).then_some(()) }).await;
}

fn signed_result(call_id: &str, padding: usize) -> Vec<u8> {
    serde_json::json!({
        "event_id": format!("e-{call_id}"), "call_id": call_id, "reference": "999-1", "batch_id": "b-1",
        "status": "ANSWERED", "intent": "PTP", "started_at": null,
        "ended_at": "2026-11-21T10:00:00Z", "duration_ms": 1000, "padding": "p".repeat(padding)
    })
    .to_string()
    .into_bytes()
}

async fn post_signed(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-sim-signature", sign(SECRET, &body))
        .body(body)
        .send()
        .await
        .expect("send callback");
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

/// /healthz and a signed callback, from 127.0.0.1, answered within `within`
/// (each try has its own short timeout so a starved listener fails the poll).
async fn other_peers_are_served(daemon: &Daemon, within: Duration, call_id: &str) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let health = daemon.url("/healthz");
    poll_until(within, "/healthz from another peer", || async {
        let ok = client.get(&health).send().await.is_ok_and(|r| r.status().is_success());
        ok.then_some(())
    })
    .await;
    let callback = daemon.url("/callbacks/sim-a");
    let body = signed_result(call_id, 0);
    poll_until(within, "a signed callback from another peer", || async {
        let sent =
            client.post(&callback).header("x-sim-signature", sign(SECRET, &body)).body(body.clone()).send().await;
        sent.is_ok_and(|r| r.status().as_u16() == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_past_its_connection_limit_is_closed_and_other_peers_are_served() {
    let db = TestDb::new();
    // Header timeout far beyond the test's deadlines: only the per-peer limit
    // can free anything here.
    let http = "max_body_bytes = 4096\nmax_connections = 16\nmax_connections_per_peer = 8\n\
                header_read_timeout = \"120s\"";
    let (daemon, _sim) = daemon_with(&db, http).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let mut slow = Vec::new();
    for _ in 0..30 {
        slow.push(open_and_watch("127.0.0.2", &daemon, "POST /callbacks/sim-a HTTP/1.1\r\nHost: x\r\n", &closed).await);
    }
    wait_closed(&closed, 22, Duration::from_secs(20), "22 connections over the per-peer limit closed").await;
    // Without the per-peer limit the first 16 would hold every global slot.
    other_peers_are_served(&daemon, Duration::from_secs(20), "per-peer").await;
    assert_eq!(closed.load(Ordering::SeqCst), 22, "the 8 within the limit stay open");

    // The 8 kept connections are served once they finish their request.
    for (write, _) in slow.iter_mut() {
        let _ = write.write_all(b"Content-Length: 2\r\nConnection: close\r\n\r\n{}").await;
    }
    let mut answered = 0;
    for (_, reader) in slow {
        let got = tokio::time::timeout(Duration::from_secs(20), reader).await.expect("closed").unwrap();
        if got.starts_with(b"HTTP/1.1 ") {
            answered += 1;
        }
    }
    assert_eq!(answered, 8, "exactly the connections within the limit were served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_idle_keep_alive_and_trickled_bodies_are_cut_off() {
    let db = TestDb::new();
    let http = "max_body_bytes = 4096\nheader_read_timeout = \"1s\"\nbody_read_timeout = \"1s\"";
    let (daemon, _sim) = daemon_with(&db, http).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let mut half = Vec::new();
    for _ in 0..5 {
        half.push(open_and_watch("127.0.0.3", &daemon, "GET /healthz HTTP/1.1\r\nHost: x\r\n", &closed).await);
    }
    // A complete request on a kept-alive connection, then silence.
    let (_idle_w, idle) =
        open_and_watch("127.0.0.4", &daemon, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &closed).await;
    // Complete headers, then 10 of the 1000 announced body bytes.
    let trickle = "POST /callbacks/sim-a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                   Content-Length: 1000\r\n\r\n{\"partial\"";
    let (_slow_w, slow_body) = open_and_watch("127.0.0.5", &daemon, trickle, &closed).await;

    other_peers_are_served(&daemon, Duration::from_secs(20), "timeouts").await;
    wait_closed(&closed, 7, Duration::from_secs(30), "every slow connection closed by the server").await;
    for (_, reader) in half {
        assert!(reader.await.unwrap().is_empty(), "a request never completed gets no answer");
    }
    let idle = String::from_utf8(idle.await.unwrap()).unwrap();
    assert!(idle.starts_with("HTTP/1.1 200"), "served before it went idle: {idle}");
    let slow = String::from_utf8(slow_body.await.unwrap()).unwrap();
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    assert!(slow.contains("body not complete within 1s (10 bytes received)"), "{slow}");

    let conn = db.connect().await;
    let kept = rows(&conn, "SELECT error, body FROM callback_inbox WHERE remote_addr = '127.0.0.5'").await;
    assert_eq!(kept.len(), 1, "the timed-out callback is kept for audit");
    let error: Option<String> = kept[0].try_get_by_index(0).unwrap();
    assert!(error.unwrap_or_default().contains("not complete within 1s"));
    assert!(kept[0].try_get_by_index::<Vec<u8>>(1).unwrap().is_empty(), "nothing of an unread body is stored");
}

/// Every 4xx body is our JSON error, and never the database's words.
fn assert_our_words(status: u16, body: &str, expect: &str, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    let error = json["error"].as_str().unwrap_or_else(|| panic!("{what}: no error field: {body}"));
    assert!(error.contains(expect), "{what}: `{error}` does not say `{expect}`");
    for leak in ["database", "sqlx", "byte sequence", "SQL", "syntax", "returned"] {
        assert!(!body.contains(leak), "{what}: database text reached the client: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bytes_get_our_words_and_database_text_never_reaches_a_client() {
    let db = TestDb::new();
    let http = format!("max_body_bytes = 4096\nadmin_token = \"{ADMIN_TOKEN}\"");
    let (daemon, _sim) = daemon_with(&db, &http).await;
    let client = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: &str| client.request(method, daemon.url(path)).bearer_auth(ADMIN_TOKEN);
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.expect("send");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    };
    use reqwest::Method;
    let long = "n".repeat(300);
    let cases: Vec<(reqwest::RequestBuilder, &str, &str)> = vec![
        (admin(Method::GET, "/api/v1/campaigns/x%00"), "NUL", "NUL in a campaign name"),
        (admin(Method::POST, "/api/v1/campaigns/x%00/pause"), "NUL", "NUL in a campaign action"),
        (admin(Method::GET, "/api/v1/campaigns/x%FF"), "not valid UTF-8", "%FF in a campaign name"),
        (admin(Method::GET, &format!("/api/v1/campaigns/{long}")), "longer than 256", "an over-long name"),
        (admin(Method::GET, "/api/v1/campaigns/e2e/contacts/%00/explain"), "NUL", "NUL in a phone"),
        (admin(Method::DELETE, "/api/v1/suppressions/%2B62%00"), "NUL", "NUL in a suppressed phone"),
        (admin(Method::GET, "/api/v1/suppressions?format=%00"), "`format`", "NUL in a query value"),
        (
            admin(Method::POST, "/api/v1/suppressions?reason=a%00b")
                .header("content-type", "application/json")
                .body(r#"[{"phone":"+6281234567890"}]"#),
            "`reason`: contains a NUL",
            "NUL in an import default",
        ),
        (
            admin(Method::POST, "/api/v1/suppressions")
                .header("content-type", "application/json")
                .body(r#"[{"phone":"+6281234567890","reason":"a\u0000b"}]"#),
            "NUL",
            "\\u0000 in an imported reason",
        ),
        (client.post(daemon.url("/callbacks/x%00")).body("{}"), "NUL", "NUL in a vendor id"),
        (client.post(daemon.url("/callbacks/sim-a%FF")).body("{}"), "UTF-8", "%FF in a vendor id"),
        (client.post(daemon.url("/callbacks/sim-a?token=%00")).body("{}"), "`token`", "NUL in a callback token"),
    ];
    for (req, expect, what) in cases {
        let (status, body) = send(req).await;
        assert_our_words(status, &body, expect, what);
    }

    // A signed callback with \u0000 in a field: refused in our words, and the
    // audit row is still stored (PostgreSQL would refuse a NUL in its text).
    // (serde_json writes the NUL of the call id as the escape \u0000.)
    let nul_body = signed_result("c-\0-1", 0);
    assert!(String::from_utf8_lossy(&nul_body).contains("c-\\u0000-1"));
    let (status, body) = post_signed(&client, &daemon.url("/callbacks/sim-a"), nul_body.clone()).await;
    assert_our_words(status, &body, "NUL character", "\\u0000 in a signed callback");
    let conn = db.connect().await;
    let kept = rows(&conn, "SELECT body FROM callback_inbox WHERE state = 'rejected' AND error LIKE '%NUL%'").await;
    assert_eq!(kept.len(), 1, "the refused callback is kept for audit");
    assert_eq!(kept[0].try_get_by_index::<Vec<u8>>(0).unwrap(), nul_body, "an authenticated body is kept whole");

    // A real database failure on an admin request: a generic 503, no DbErr text.
    conn.execute_unprepared("DROP TABLE suppressions").await.expect("drop a table under the daemon");
    let (status, body) = send(admin(Method::GET, "/api/v1/suppressions")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body, r#"{"error":"database unavailable; retry"}"#);
    assert_eq!(reqwest::get(daemon.url("/healthz")).await.unwrap().status().as_u16(), 200);
}

use sea_orm::ConnectionTrait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_storage_is_bounded_and_authenticated_callbacks_are_kept_whole() {
    let db = TestDb::new();
    let http = "max_body_bytes = 400000\nrejected_audit_per_peer_per_minute = 5";
    let (daemon, _sim) = daemon_with(&db, http).await;
    let client = reqwest::Client::new();
    let conn = db.connect().await;
    let big = vec![b'x'; 256 * 1024];

    let resp = client.post(daemon.url("/callbacks/nobody")).body(big.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = client.post(daemon.url("/callbacks/sim-a")).body(big.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "unsigned");
    let kept = rows(&conn, "SELECT vendor_id, body, error FROM callback_inbox ORDER BY id").await;
    assert_eq!(kept.len(), 2);
    for row in &kept {
        let vendor: String = row.try_get_by_index(0).unwrap();
        let body: Vec<u8> = row.try_get_by_index(1).unwrap();
        let error: String = row.try_get_by_index::<Option<String>>(2).unwrap().unwrap_or_default();
        assert!(body.len() <= 1024, "{vendor}: {} bytes of an unauthenticated body stored", body.len());
        assert!(error.contains("truncated to its first 1024 of 262144 bytes"), "{vendor}: {error}");
    }

    // A signed callback of about the same size is stored whole.
    let whole = signed_result("c-big", 250 * 1024);
    let (status, body) = post_signed(&client, &daemon.url("/callbacks/sim-a"), whole.clone()).await;
    assert_eq!(status, 200, "{body}");
    let stored = rows(&conn, "SELECT body FROM callback_inbox WHERE state <> 'rejected'").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].try_get_by_index::<Vec<u8>>(0).unwrap().len(), whole.len(), "kept whole");

    // A flood from one peer: every request is answered, 5 a minute are stored.
    let flooder = reqwest::Client::builder().local_address("127.0.0.6".parse::<std::net::IpAddr>().unwrap()).build();
    let flooder = flooder.unwrap();
    for _ in 0..8 {
        let resp = flooder.post(daemon.url("/callbacks/sim-a")).body(big.clone()).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }
    let from_flooder = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE remote_addr = '127.0.0.6'").await;
    assert_eq!(from_flooder, 5, "at most rejected_audit_per_peer_per_minute rows per peer");
    let metrics = client.get(daemon.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let counter = |name: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(counter("campaignd_callback_rejections_unstored_total"), 3);
    // 2 truncated bodies + 3 flood bodies not stored at all + 5 truncated flood bodies.
    let cut = 2 * (262_144 - 1024) + 3 * 262_144 + 5 * (262_144 - 1024);
    assert_eq!(counter("campaignd_callback_body_bytes_dropped_total"), cut as u64);
    // Another peer still has its own budget.
    let resp = client.post(daemon.url("/callbacks/sim-a")).body("x").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE remote_addr = '127.0.0.1'").await, 4);
}
