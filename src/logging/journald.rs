//! `log_format = "journald"`: each event sent to systemd-journald over its
//! native protocol, as structured fields (`MESSAGE`, `PRIORITY`, `CAMPAIGN`,
//! `CONTACT`, `ATTEMPT`, …), so `journalctl CAMPAIGN=collections` finds a
//! campaign's lines without parsing text.
//!
//! WHY not the `tracing-journald` crate: it sends each field as recorded,
//! and every line must pass [`mask_phones`] first (a number in a vendor's
//! error text, say). So events are formatted as JSON lines (the same
//! formatter as `log_format = "json"`), masked, and each line is turned into
//! one journal entry here. The protocol is small: `KEY=value` lines, or for a
//! value holding a newline `KEY`, a newline, its length as 64-bit little
//! endian, the value and a newline
//! (<https://systemd.io/JOURNAL_NATIVE_PROTOCOL/>).

use super::mask::mask_phones;
use serde_json::{Map, Value};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing_subscriber::fmt::MakeWriter;

/// Where journald listens; `CAMPAIGND_JOURNAL_SOCKET` overrides it (tests).
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";
pub const SOCKET_ENV: &str = "CAMPAIGND_JOURNAL_SOCKET";

/// The socket to send to: the environment's, else journald's own.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// The subscriber's writer: a socket connected to journald.
#[derive(Clone)]
pub struct Journal {
    socket: Arc<UnixDatagram>,
}

impl Journal {
    /// Connect to journald at `path`; an error when it does not listen there
    /// (no systemd, or not under it): the caller logs as text instead.
    pub fn connect(path: &Path) -> std::io::Result<Journal> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Journal { socket: Arc::new(socket) })
    }
}

impl<'a> MakeWriter<'a> for Journal {
    type Writer = JournalLine;

    fn make_writer(&'a self) -> JournalLine {
        JournalLine { socket: self.socket.clone() }
    }
}

pub struct JournalLine {
    socket: Arc<UnixDatagram>,
}

impl Write for JournalLine {
    /// One JSON line (the formatter writes each event whole) → one entry.
    /// A line that is not JSON, or an entry journald refuses (too large for
    /// a datagram), goes to standard error instead: never lost.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = mask_phones(&text);
        let sent = match serde_json::from_str::<Map<String, Value>>(line.trim_end()) {
            Ok(event) => self.socket.send(&entry(&event)).is_ok(),
            Err(_) => false,
        };
        if !sent {
            std::io::stderr().lock().write_all(line.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The journal entry of one event as the JSON formatter writes it
/// (`flatten_event`, `with_current_span`, `with_span_list`): the message and
/// level as journald's own fields, then every field of the event and of its
/// enclosing spans (outermost first, so the innermost wins, and the event's
/// own over all), named the journal's way.
pub fn entry(event: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    field(&mut out, "MESSAGE", &text(event.get("message")));
    field(&mut out, "PRIORITY", priority(&text(event.get("level"))));
    field(&mut out, "SYSLOG_IDENTIFIER", "campaignd");
    field(&mut out, "TARGET", &text(event.get("target")));
    let mut fields: Vec<(String, String)> = Vec::new();
    let spans = event.get("spans").and_then(Value::as_array).into_iter().flatten();
    for span in spans.filter_map(Value::as_object) {
        collect(&mut fields, span.iter().filter(|(k, _)| *k != "name"));
    }
    let own = event
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "message" | "level" | "target" | "timestamp" | "span" | "spans"));
    collect(&mut fields, own);
    for (name, value) in &fields {
        field(&mut out, name, value);
    }
    out
}

/// Add (or replace) each field under its journal name.
fn collect<'a>(fields: &mut Vec<(String, String)>, from: impl Iterator<Item = (&'a String, &'a Value)>) {
    for (key, value) in from {
        let Some(name) = journal_name(key) else { continue };
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => fields.push((name, value)),
        }
    }
}

/// journald's rule for a field name: upper-case letters, digits and `_`,
/// not starting with `_` or a digit (those are trusted or invalid); our own
/// fields would otherwise be dropped silently.
pub fn journal_name(key: &str) -> Option<String> {
    let name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect::<String>()
        .trim_start_matches(|c: char| c == '_' || c.is_ascii_digit())
        .to_string();
    // Names of journald's own (MESSAGE, PRIORITY, …) stay the event's.
    let reserved = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "TARGET", "CODE_FILE", "CODE_LINE"];
    (!name.is_empty() && name.len() <= 64 && !reserved.contains(&name.as_str())).then_some(name)
}

/// syslog's levels, as journald reads `PRIORITY`.
fn priority(level: &str) -> &'static str {
    match level {
        "ERROR" => "3",
        "WARN" => "4",
        "INFO" => "6",
        _ => "7",
    }
}

/// One field: `NAME=value\n`, or the length-prefixed form for a value
/// holding a newline.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
#[path = "journald_tests.rs"]
mod tests;
