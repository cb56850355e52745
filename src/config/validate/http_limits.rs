//! `[http]` bounds against slow and hostile clients: how long a client may
//! take to send its headers and its body, how many connections one address
//! may hold, and how many of its rejected callbacks are kept for audit.

use super::Validator;
use crate::config::raw::RawHttp;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A connection that has not sent a request's complete headers within
    /// this is closed. The same timer runs while a kept-alive connection
    /// waits for its next request, so it is also the idle timeout.
    pub header_read_timeout: Duration,
    /// A request body not complete within this (from the end of the headers)
    /// gets 408.
    pub body_read_timeout: Duration,
    /// Open connections from one IP address at most; past it a new connection
    /// is closed at once, before it takes one of `max_connections`.
    pub max_connections_per_peer: usize,
    /// Unauthenticated rejected callbacks (unknown vendor, failed
    /// authentication, oversized, too slow) kept in the inbox per peer address
    /// per minute; past it they are answered and counted, not stored.
    pub rejected_audit_per_peer_per_minute: u32,
    /// The largest contact upload accepted; past it the upload is answered
    /// 413. An upload is streamed into the database, never held in memory,
    /// so this bounds the work one request can make, not memory.
    pub max_upload_bytes: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            // Vendors send a callback's headers in one packet; 10 s covers a
            // congested mobile link, and keeps an idle keep-alive connection
            // long enough for a vendor's next callback of the same burst.
            header_read_timeout: Duration::from_secs(10),
            // max_body_bytes (256 KiB) over a slow 100 kbit/s link takes ~20 s.
            body_read_timeout: Duration::from_secs(30),
            // A vendor behind one NAT address sends a few dozen callbacks in
            // parallel at most; 64 leaves room and bounds a single attacker
            // to 1/64 of the default 4096 connections.
            max_connections_per_peer: 64,
            // Enough to diagnose a misconfigured vendor; a flood adds at most
            // 60 rows (of at most ~1 KiB each) per address per minute.
            rejected_audit_per_peer_per_minute: 60,
            // A million contacts of a few hundred bytes each, with room.
            max_upload_bytes: 1 << 30,
        }
    }
}

impl Validator<'_> {
    pub(super) fn http_limits(&mut self, raw: &RawHttp) -> HttpLimits {
        let d = HttpLimits::default();
        let max_connections_per_peer = match &raw.max_connections_per_peer {
            None => d.max_connections_per_peer,
            Some(n) if *n.get_ref() == 0 => {
                self.issue("http.max_connections_per_peer", Some(n), "must be at least 1");
                d.max_connections_per_peer
            }
            Some(n) => *n.get_ref(),
        };
        let max_upload_bytes = match &raw.max_upload_bytes {
            None => d.max_upload_bytes,
            Some(n) if *n.get_ref() == 0 => {
                self.issue("http.max_upload_bytes", Some(n), "must be at least 1");
                d.max_upload_bytes
            }
            Some(n) => *n.get_ref(),
        };
        HttpLimits {
            header_read_timeout: self.duration(
                "http.header_read_timeout",
                &raw.header_read_timeout,
                d.header_read_timeout,
            ),
            body_read_timeout: self.duration("http.body_read_timeout", &raw.body_read_timeout, d.body_read_timeout),
            max_connections_per_peer,
            // 0 is allowed: keep no rejected unauthenticated callback at all.
            rejected_audit_per_peer_per_minute: raw
                .rejected_audit_per_peer_per_minute
                .as_ref()
                .map_or(d.rejected_audit_per_peer_per_minute, |n| *n.get_ref()),
            max_upload_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Settings, parse};
    use std::path::Path;

    fn http(table: &str) -> Result<Settings, ConfigError> {
        parse(
            &format!("[http]\n{table}\n"),
            Path::new("test.toml"),
            Path::new("."),
            &crate::config::validate::NoVendorChecks,
        )
    }

    #[test]
    fn limits_default_to_safe_values() {
        assert_eq!(http("").unwrap().http.limits, HttpLimits::default());
        let d = HttpLimits::default();
        assert_eq!((d.header_read_timeout, d.body_read_timeout), (Duration::from_secs(10), Duration::from_secs(30)));
        assert_eq!(d.max_connections_per_peer, 64);
        assert_eq!(d.max_upload_bytes, 1 << 30);
    }

    #[test]
    fn limits_read_human_durations_and_counts() {
        let s = http(
            "header_read_timeout = \"2s\"\nbody_read_timeout = \"1m\"\nmax_connections_per_peer = 8\n\
             rejected_audit_per_peer_per_minute = 0\nmax_upload_bytes = 1048576",
        )
        .unwrap();
        let l = s.http.limits;
        assert_eq!((l.header_read_timeout, l.body_read_timeout), (Duration::from_secs(2), Duration::from_secs(60)));
        assert_eq!((l.max_connections_per_peer, l.rejected_audit_per_peer_per_minute), (8, 0));
        assert_eq!(l.max_upload_bytes, 1 << 20);
    }

    #[test]
    fn bad_limits_are_named_with_their_line() {
        let err = http(
            "header_read_timeout = \"0s\"\nbody_read_timeout = \"soon\"\nmax_connections_per_peer = 0\n\
             max_upload_bytes = 0",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2: http.header_read_timeout: must be greater than zero"), "{err}");
        assert!(err.contains("line 3: http.body_read_timeout"), "{err}");
        assert!(err.contains("soon"), "{err}");
        assert!(err.contains("line 4: http.max_connections_per_peer: must be at least 1"), "{err}");
        assert!(err.contains("line 5: http.max_upload_bytes: must be at least 1"), "{err}");
    }
}
