//! Sending alerts to SIEM and XDR systems.
//!
//! - [`JsonLines`]: one alert per line of JSON (the [`Alert`] serialisation) to any writer;
//! - [`SyslogExporter`]: RFC 5424 syslog messages with the alert in structured data, or CEF
//!   (ArcSight Common Event Format) in the message, over UDP (one datagram each, RFC 5426),
//!   TCP (octet-counted frames, RFC 6587) or TLS (RFC 5425);
//! - [`WebhookExporter`]: an HTTP(S) POST per alert (its JSON, or its OCSF finding), retried
//!   with exponential backoff on connection errors, 408, 429 and 5xx (honouring `Retry-After`);
//! - [`SplunkHecExporter`]: Splunk HTTP Event Collector events, batched, with the same retries;
//! - [`ocsf::detection_finding`]: an alert as an OCSF 1.3 Detection Finding (class_uid 2004).
//!
//! The formats are small and fixed, and the HTTP client needs only POST with a body and a
//! status line back (one request per connection), so they are written here over `std::net`,
//! with rustls for TLS, rather than pulling in an HTTP stack and an async runtime. TLS
//! destinations are verified against the system's trust store and/or CA certificates given
//! in [`TlsOptions`]; client certificates are not supported.

mod http;
pub mod ocsf;
mod syslog;
mod tls;

use std::io::{self, Write};

pub use http::{HttpTarget, RetryPolicy, SplunkHecExporter, WebhookExporter, WebhookFormat};
pub use syslog::{
    SyslogExporter, SyslogFormat, SyslogOptions, SyslogTransport, format_cef, format_rfc5424,
};
pub use tls::TlsOptions;

use crate::alert::Alert;

/// Why alerts could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Writing to a file or socket failed.
    #[error("cannot send alerts to {target}: {source}")]
    Io {
        /// The destination.
        target: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An HTTP endpoint answered with an error status (after any retries).
    #[error("{target} answered HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The destination.
        target: String,
        /// The last status code.
        status: u16,
        /// How many requests were made.
        attempts: u32,
        /// The start of the last response body.
        body: String,
    },
    /// The destination is not usable as given.
    #[error("invalid destination {target:?}: {message}")]
    Config {
        /// The destination as given.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// An alert could not be serialised.
    #[error("cannot serialise an alert: {0}")]
    Json(#[from] serde_json::Error),
}

/// Something alerts can be sent to.
pub trait Exporter {
    /// Sends alerts.
    fn export(&mut self, alerts: &[Alert]) -> Result<(), ExportError>;

    /// Flushes anything buffered.
    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

/// Alerts as JSON lines.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
    name: String,
}

impl<W: Write> JsonLines<W> {
    /// Writes to `out`, named `name` in errors.
    pub fn new(out: W, name: impl Into<String>) -> Self {
        Self {
            out,
            name: name.into(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Exporter for JsonLines<W> {
    fn export(&mut self, alerts: &[Alert]) -> Result<(), ExportError> {
        for a in alerts {
            serde_json::to_writer(&mut self.out, a)?;
            self.out
                .write_all(b"\n")
                .map_err(|source| ExportError::Io {
                    target: self.name.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        self.out.flush().map_err(|source| ExportError::Io {
            target: self.name.clone(),
            source,
        })
    }
}

/// A stable id for an alert: type, cluster, resource, user and first event time, hashed.
pub fn alert_uid(a: &Alert) -> String {
    // FNV-1a, 64 bits: stable across runs and platforms (unlike the std hasher's seed).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        a.alert_type.as_str(),
        a.cluster.as_deref().unwrap_or(""),
        a.resource.as_str(),
        a.user.as_str(),
        &a.first_seen.to_string(),
    ] {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Milliseconds since the epoch of a nanosecond time.
pub(crate) fn millis(nanos: i64) -> i64 {
    nanos.div_euclid(1_000_000)
}
