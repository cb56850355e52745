//! Standard error through [`mask_phones`].

use super::mask::mask_phones;
use std::io::Write;
use tracing_subscriber::fmt::MakeWriter;

/// The subscriber's writer. The formatter hands each event to one `write`
/// as a whole line (it formats into a buffer first), so a number is never
/// split between two calls.
pub struct MaskedStderr;

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> MaskedLine {
        MaskedLine
    }
}

pub struct MaskedLine;

impl Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().lock().write_all(mask_phones(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
