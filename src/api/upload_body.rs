//! A request body as a blocking [`Read`] for a parser on another thread,
//! without holding the body in memory: [`pump`] moves its chunks, under a
//! size cap and an idle timeout, into a small channel that [`BodyReader`]
//! drains. When the parser stops early the channel closes and the pump stops
//! reading; when the client stalls or sends too much the reader gets an
//! error saying which ([`UploadError`], inside the `io::Error`).

use axum::body::{Body, Bytes};
use futures::StreamExt;
use std::io::Read;
use std::time::Duration;
use tokio::sync::mpsc;

/// Chunks in flight between the connection and the parser (each at most
/// what hyper read at once, tens of KiB).
const CHUNKS_AHEAD: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("body larger than {limit} bytes (http.max_upload_bytes)")]
    TooLarge { limit: u64 },
    #[error("no data for {}s (http.body_read_timeout) after {received} bytes", after.as_secs_f64())]
    Stalled { after: Duration, received: u64 },
    #[error("body could not be read: the client closed the connection or sent a broken encoding")]
    Broken,
}

impl UploadError {
    /// The upload failure inside a reader's error, if it is one.
    pub fn of(e: &std::io::Error) -> Option<&UploadError> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<UploadError>())
    }
}

/// The channel between [`pump`] and [`BodyReader`].
pub fn channel() -> (mpsc::Sender<std::io::Result<Bytes>>, BodyReader) {
    let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
    (tx, BodyReader { rx, chunk: Bytes::new() })
}

/// Move `body` into `tx` until its end, its first failure, or until nobody
/// reads any more. `idle` bounds each wait for the client, not the whole
/// upload (a list of a million rows takes minutes to import), and the time
/// the parser takes is not counted: the timer runs only while a chunk is
/// awaited from the client.
pub async fn pump(body: Body, tx: mpsc::Sender<std::io::Result<Bytes>>, limit: u64, idle: Duration) {
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    loop {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Ok(None) => return,
            Err(_) => Err(UploadError::Stalled { after: idle, received }),
            Ok(Some(Err(_))) => Err(UploadError::Broken),
            Ok(Some(Ok(chunk))) => {
                received += chunk.len() as u64;
                if received > limit { Err(UploadError::TooLarge { limit }) } else { Ok(chunk) }
            }
        };
        let failed = next.is_err();
        if tx.send(next.map_err(std::io::Error::other)).await.is_err() || failed {
            return;
        }
    }
}

/// The body's bytes, read on a blocking thread (never on the runtime: it
/// waits for the pump).
pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_through(body: Body, limit: u64, idle: Duration) -> std::io::Result<Vec<u8>> {
        let (tx, mut reader) = channel();
        let read = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all)
        });
        pump(body, tx, limit, idle).await;
        read.await.unwrap()
    }

    #[tokio::test]
    async fn a_body_within_the_cap_reads_whole_and_a_larger_one_fails_naming_the_cap() {
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::from_static(b"12345")), Ok(Bytes::from_static(b"678"))];
        let body = Body::from_stream(futures::stream::iter(chunks));
        assert_eq!(read_through(body, 8, Duration::from_secs(5)).await.unwrap(), b"12345678");
        let big = read_through(Body::from(vec![b'x'; 9]), 8, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(UploadError::of(&big), Some(UploadError::TooLarge { limit: 8 })), "{big:?}");
    }

    #[tokio::test]
    async fn a_stalled_client_fails_the_read_with_what_it_sent() {
        let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        chunks_tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        let mut chunks_rx = chunks_rx;
        let body = Body::from_stream(futures::stream::poll_fn(move |cx| chunks_rx.poll_recv(cx)));
        let err = read_through(body, 100, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(UploadError::of(&err), Some(UploadError::Stalled { received: 3, .. })), "{err:?}");
        drop(chunks_tx);
    }
}
