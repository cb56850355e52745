//! Standard output for command results, and how a command's end becomes an
//! exit status.
//!
//! Rust ignores SIGPIPE, so when the reader of our stdout has gone
//! (`campaignd status | head -1`) a write fails with `BrokenPipe`, and
//! `println!` turns that into a panic. Commands write through [`stdout`]
//! with `writeln!(..)?` instead; the writer notes that stdout is closed, and
//! [`exit_status`] ends the command quietly with [`EXIT_STDOUT_CLOSED`]: what
//! a shell reports for a filter killed by SIGPIPE (`yes | head -1`), so a
//! pipeline under `set -o pipefail` still learns the output was cut short.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit status of a command whose stdout was closed by its reader (128 + SIGPIPE).
pub const EXIT_STDOUT_CLOSED: u8 = 141;
/// Exit status of a command that failed (bad config, unknown campaign, ...).
pub const EXIT_FAILED: u8 = 1;
/// Exit status of an import that kept its good rows but rejected others.
/// (2 is clap's, for a bad command line.)
pub const EXIT_ROWS_REJECTED: u8 = 3;

/// Set once a write to stdout failed because nobody reads it any more.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output (locked), noting a closed pipe. Buffer it for bulk output.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

pub struct Stdout(io::StdoutLock<'static>);

fn noted(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
    e
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(noted)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(noted)
    }
}

/// A command that did its work but must not report success: its message is
/// printed as is (not as an `error:`), its code is the exit status.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Partial {
    pub code: u8,
    pub message: String,
}

/// The exit status for a command's result, printing what the operator must
/// read. A closed stdout prints nothing: the reader chose to stop reading.
pub fn exit_status(result: anyhow::Result<()>) -> ExitCode {
    let Err(e) = result else { return ExitCode::SUCCESS };
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return ExitCode::from(EXIT_STDOUT_CLOSED);
    }
    if let Some(p) = e.downcast_ref::<Partial>() {
        eprintln!("{}", p.message);
        return ExitCode::from(p.code);
    }
    eprintln!("error: {}", chain_text(&e));
    ExitCode::from(EXIT_FAILED)
}

/// The error and its causes, `: `-separated like anyhow's `{:#}`, but each
/// said once: some errors (sea-orm's `Connection Error: {0}`) put their cause
/// in their own message *and* return it as their source, which `{:#}` prints
/// again ("... unable to open database file: ... unable to open database file").
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_its_wrappers_message_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        #[derive(Debug, thiserror::Error)]
        #[error("reading x: {0}")]
        struct Both(#[source] std::io::Error);
        let e = anyhow::Error::new(Both(io)).context("loading");
        assert_eq!(format!("{e:#}"), "loading: reading x: no such file: no such file");
        assert_eq!(chain_text(&e), "loading: reading x: no such file");
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let e = anyhow::anyhow!("disk full").context("writing the export").context("export");
        assert_eq!(chain_text(&e), "export: writing the export: disk full");
    }
}
