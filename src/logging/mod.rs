//! The daemon's log output: `log_format = "text" | "json" | "journald"` and
//! phone numbers masked in every line, whatever wrote it.
//!
//! The format is chosen before the config is validated (the first lines of
//! a run are logged before it loads), so it is read on its own from the
//! config file, or from `CAMPAIGND_LOG_FORMAT`; the full validation later
//! reports a bad value with its line.

pub mod journald;
mod mask;
mod writer;

pub use mask::mask_phones;

use crate::domain::named_enum::named_enum;
use std::io::IsTerminal;
use std::path::Path;

named_enum!("log format",
    /// How log lines are written to standard error.
    LogFormat {
        /// One human-readable line per event (colours only on a terminal).
        Text => "text",
        /// One JSON object per line, with the event's fields and the
        /// fields of every span it happened in (campaign, contact,
        /// attempt), for a log shipper.
        Json => "json",
        /// Each event sent to systemd-journald as structured fields over
        /// its native socket; standard error as text where it does not
        /// listen.
        Journald => "journald",
    }
);

/// Overrides the config file's `log_format` (also for commands that read
/// no config, or when the file cannot be read).
pub const FORMAT_ENV: &str = "CAMPAIGND_LOG_FORMAT";

/// The format to start logging with: `CAMPAIGND_LOG_FORMAT`, else the
/// config file's top-level `log_format`, else text. The error is for a bad
/// value in the environment (a bad value in the file is reported, with its
/// line, by config validation).
pub fn format_for(env: Option<&str>, config: &Path) -> (LogFormat, Option<String>) {
    if let Some(text) = env {
        return match text.trim().parse() {
            Ok(format) => (format, None),
            Err(e) => (LogFormat::Text, Some(format!("{FORMAT_ENV}: {e}; logging as text"))),
        };
    }
    let from_file = std::fs::read_to_string(config)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| table.get("log_format").and_then(|v| v.as_str()).and_then(|v| v.parse().ok()));
    (from_file.unwrap_or(LogFormat::Text), None)
}

/// Install the process-wide subscriber: the `CAMPAIGND_LOG` filter (or
/// `default_filter`), standard error through the phone-masking writer.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMPAIGND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let text = |builder: tracing_subscriber::fmt::SubscriberBuilder<_, _, _>| {
        // Colours only on a terminal: the journal and log files get plain text.
        builder.with_writer(writer::MaskedStderr).with_ansi(std::io::stderr().is_terminal()).init()
    };
    match format {
        LogFormat::Text => text(builder),
        LogFormat::Json => builder
            .with_writer(writer::MaskedStderr)
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .init(),
        LogFormat::Journald => {
            let path = journald::socket_path();
            match journald::Journal::connect(&path) {
                Ok(journal) => builder
                    .with_writer(journal)
                    .json()
                    .with_current_span(true)
                    .with_span_list(true)
                    .flatten_event(true)
                    .init(),
                Err(e) => {
                    text(builder);
                    tracing::warn!(socket = %path.display(), error = %e, "journald does not listen; logging as text to standard error");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_and_a_bad_value_falls_back_to_text_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "log_format = \"json\"\n\n[http]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        assert_eq!(format_for(None, &config), (LogFormat::Json, None));
        assert_eq!(format_for(Some("text"), &config), (LogFormat::Text, None));
        let (format, problem) = format_for(Some("xml"), &config);
        assert_eq!(format, LogFormat::Text);
        let problem = problem.unwrap();
        assert!(problem.contains("CAMPAIGND_LOG_FORMAT") && problem.contains("`xml`"), "{problem}");
    }

    #[test]
    fn an_unreadable_or_silent_config_logs_as_text() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(format_for(None, &dir.path().join("missing.toml")), (LogFormat::Text, None));
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "[http\n").unwrap();
        assert_eq!(format_for(None, &config), (LogFormat::Text, None));
        std::fs::write(&config, "log_format = \"yaml\"\n").unwrap();
        assert_eq!(format_for(None, &config), (LogFormat::Text, None), "validation reports it with its line");
    }
}
