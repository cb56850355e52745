//! Where an import's rows come from, a batch at a time. A reader parses
//! rows synchronously ([`ReadRows`]: a CSV file, an NDJSON stream); the
//! importer awaits them ([`RowSource`]) either straight from the reader
//! ([`Inline`], for a file the CLI reads) or from a blocking thread
//! ([`Background`], for a reader that waits on the network: an HTTP upload),
//! so parsing never blocks the runtime and only a few batches are ever in
//! memory at once.

use super::ImportError;
use super::row::Row;
use crate::store::import_rows::ROWS_PER_STATEMENT;
use std::future::Future;
use tokio::sync::mpsc;

/// A parser of rows, read synchronously.
pub trait ReadRows {
    /// The next rows, at most `max`; `None` at the end of the input.
    fn read_batch(&mut self, max: usize) -> Result<Option<Vec<Row>>, ImportError>;
}

/// The importer's side: the next batch of rows, `None` at the end.
pub trait RowSource {
    fn next_batch(&mut self) -> impl Future<Output = Result<Option<Vec<Row>>, ImportError>> + Send;
}

/// A reader read where the importer runs (a local file: reading it blocks
/// no longer than the database writes in between).
pub struct Inline<T>(pub T);

impl<T: ReadRows> RowSource for Inline<T> {
    fn next_batch(&mut self) -> impl Future<Output = Result<Option<Vec<Row>>, ImportError>> + Send {
        std::future::ready(self.0.read_batch(ROWS_PER_STATEMENT))
    }
}

/// Batches parsed on a blocking thread, at most [`BATCHES_AHEAD`] waiting.
pub struct Background {
    rx: mpsc::Receiver<Result<Option<Vec<Row>>, ImportError>>,
}

/// Batches parsed ahead of the database writes: enough to overlap parsing
/// with writing, few enough to keep memory bounded.
pub const BATCHES_AHEAD: usize = 2;

/// Open a reader with `open` and parse it on a blocking thread. The thread
/// ends at the end of the input, at its first failure, or when the
/// importer stops listening (it failed, or its request was dropped).
pub fn background<T, F>(open: F) -> Background
where
    T: ReadRows,
    F: FnOnce() -> Result<T, ImportError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut rows = match open() {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            let next = rows.read_batch(ROWS_PER_STATEMENT);
            let last = !matches!(next, Ok(Some(_)));
            if tx.blocking_send(next).is_err() || last {
                return;
            }
        }
    });
    Background { rx }
}

impl RowSource for Background {
    async fn next_batch(&mut self) -> Result<Option<Vec<Row>>, ImportError> {
        // The thread always sends its end (`None` or an error) before it
        // stops; a closed channel without one means it died (a panic).
        self.rx
            .recv()
            .await
            .unwrap_or_else(|| Err(ImportError::Read(std::io::Error::other("the contact reader stopped unexpectedly"))))
    }
}
