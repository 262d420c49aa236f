//! Syslog (RFC 5424) and CEF formatting, sent over UDP or TCP.

use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use palisade_model::Severity;
use rustls::ClientConfig;

use super::tls::{self, Stream, TlsOptions};
use super::{ExportError, Exporter, alert_uid, millis};
use crate::alert::Alert;
use crate::util;

/// What goes in the syslog message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// The alert's fields as RFC 5424 structured data, the title and message as text.
    Rfc5424,
    /// A CEF record as the message (RFC 5424 header, no structured data).
    Cef,
}

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram per message (RFC 5426).
    Udp,
    /// Octet-counted frames over one connection (RFC 6587 section 3.4.1).
    Tcp,
    /// Octet-counted frames over TLS (RFC 5425), verified with [`SyslogOptions::tls`].
    Tls,
}

/// Syslog settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOptions {
    /// Message format.
    pub format: SyslogFormat,
    /// Transport.
    pub transport: SyslogTransport,
    /// Facility (0-23); 13 is "log audit".
    pub facility: u8,
    /// HOSTNAME field (`-` when empty).
    pub hostname: String,
    /// APP-NAME field.
    pub app_name: String,
    /// SD-ID of the structured data element: `name@<private enterprise number>`. The default
    /// uses 32473, the number RFC 5612 reserves for documentation; set your own.
    pub sd_id: String,
    /// Longest message sent; longer ones are cut at a character boundary.
    pub max_message_bytes: usize,
    /// Certificate authorities for [`SyslogTransport::Tls`].
    pub tls: TlsOptions,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        Self {
            format: SyslogFormat::Rfc5424,
            transport: SyslogTransport::Udp,
            facility: 13,
            hostname: String::new(),
            app_name: "palisade".into(),
            sd_id: "palisade@32473".into(),
            max_message_bytes: 8192,
            tls: TlsOptions::default(),
        }
    }
}

fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Informational => 6,
    }
}

fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Informational => 1,
    }
}

/// RFC 5424 TIMESTAMP: at most six fraction digits.
fn timestamp(nanos: i64) -> String {
    let full = util::format_iso8601(nanos);
    match full.split_once('.') {
        Some((secs, frac)) => format!("{secs}.{}Z", &frac[..frac.len().min(6)]),
        None => full,
    }
}

/// PRINTUSASCII without blanks, at most `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".into() } else { v }
}

/// PARAM-VALUE escaping: `"`, `\` and `]`.
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn header(alert: &Alert, opts: &SyslogOptions) -> String {
    let pri = u16::from(opts.facility.min(23)) * 8 + u16::from(syslog_severity(alert.severity));
    format!(
        "<{pri}>1 {} {} {} - alert",
        timestamp(alert.last_seen),
        header_field(&opts.hostname, 255),
        header_field(&opts.app_name, 48),
    )
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// An alert as one RFC 5424 message, its fields in structured data.
pub fn format_rfc5424(alert: &Alert, opts: &SyslogOptions) -> String {
    let mut sd = format!(
        "[{}",
        header_field(&opts.sd_id, 32).replace(['=', ']', '"'], "")
    );
    let fields: [(&str, String); 13] = [
        ("id", alert_uid(alert)),
        ("type", alert.alert_type.clone()),
        ("rule", alert.rule.clone()),
        ("severity", alert.severity.as_str().to_string()),
        ("tactic", alert.mitre.tactic.clone().unwrap_or_default()),
        (
            "technique",
            alert.mitre.technique.clone().unwrap_or_default(),
        ),
        ("count", alert.count.to_string()),
        ("resource", alert.resource.clone()),
        ("user", alert.user.clone()),
        ("cluster", alert.cluster.clone().unwrap_or_default()),
        ("firstSeen", alert.first_seen_rfc3339()),
        ("lastSeen", alert.last_seen_rfc3339()),
        ("eventIds", alert.event_ids.join(",")),
    ];
    for (k, v) in fields {
        if !v.is_empty() {
            sd.push_str(&format!(" {k}=\"{}\"", sd_value(&v)));
        }
    }
    sd.push(']');
    let msg = format!("{}: {}", alert.title, alert.message).replace(['\n', '\r'], " ");
    cut(
        format!("{} {sd} {msg}", header(alert, opts)),
        opts.max_message_bytes,
    )
}

/// CEF header escaping: `\` and `|`.
fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

/// CEF extension value escaping: `\`, `=`, line breaks.
fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// An alert as a CEF record (without a syslog header).
pub fn format_cef(alert: &Alert) -> String {
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", millis(alert.last_seen).to_string()),
        ("start", millis(alert.first_seen).to_string()),
        ("end", millis(alert.last_seen).to_string()),
        ("cnt", alert.count.to_string()),
        ("suser", alert.user.clone()),
        ("msg", alert.message.clone()),
        ("externalId", alert_uid(alert)),
        ("cs1Label", "rule".into()),
        ("cs1", alert.rule.clone()),
        ("cs2Label", "mitreTactic".into()),
        ("cs2", alert.mitre.tactic.clone().unwrap_or_default()),
        ("cs3Label", "mitreTechnique".into()),
        ("cs3", alert.mitre.technique.clone().unwrap_or_default()),
        ("cs4Label", "resource".into()),
        ("cs4", alert.resource.clone()),
    ];
    if let Some(c) = &alert.cluster {
        ext.push(("cs5Label", "cluster".into()));
        ext.push(("cs5", c.clone()));
    }
    let ext: Vec<String> = ext
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    format!(
        "CEF:0|palisade|palisade|{}|{}|{}|{}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&alert.alert_type),
        cef_header(&alert.title),
        cef_severity(alert.severity),
        ext.join(" ")
    )
}

fn format(alert: &Alert, opts: &SyslogOptions) -> String {
    match opts.format {
        SyslogFormat::Rfc5424 => format_rfc5424(alert, opts),
        SyslogFormat::Cef => cut(
            format!("{} - {}", header(alert, opts), format_cef(alert)),
            opts.max_message_bytes,
        ),
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(Option<Box<dyn Stream>>),
}

/// Sends alerts to a syslog receiver.
pub struct SyslogExporter {
    target: String,
    opts: SyslogOptions,
    conn: Conn,
    tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for SyslogExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogExporter")
            .field("target", &self.target)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl SyslogExporter {
    /// A syslog exporter to `target` (`host:port`).
    pub fn new(target: &str, opts: SyslogOptions) -> Result<Self, ExportError> {
        let io_err = |source| ExportError::Io {
            target: target.to_string(),
            source,
        };
        let conn = match opts.transport {
            SyslogTransport::Udp => {
                let addr = target
                    .to_socket_addrs()
                    .map_err(io_err)?
                    .next()
                    .ok_or_else(|| ExportError::Config {
                        target: target.to_string(),
                        message: "no address".into(),
                    })?;
                let bind = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock = UdpSocket::bind(bind).map_err(io_err)?;
                sock.connect(addr).map_err(io_err)?;
                Conn::Udp(sock)
            }
            SyslogTransport::Tcp | SyslogTransport::Tls => Conn::Tcp(None),
        };
        let tls = match opts.transport {
            SyslogTransport::Tls => Some(tls::client_config(&opts.tls, target)?),
            _ => None,
        };
        Ok(Self {
            target: target.to_string(),
            opts,
            conn,
            tls,
        })
    }

    fn connect(&self) -> Result<Box<dyn Stream>, ExportError> {
        let tcp = self.connect_tcp()?;
        match &self.tls {
            Some(cfg) => tls::wrap(tcp, tls::host_of(&self.target), cfg, &self.target),
            None => Ok(Box::new(tcp)),
        }
    }

    fn connect_tcp(&self) -> Result<TcpStream, ExportError> {
        let io_err = |source| ExportError::Io {
            target: self.target.clone(),
            source,
        };
        let mut last = None;
        for addr in self.target.to_socket_addrs().map_err(io_err)? {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(s) => {
                    s.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(io_err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
        })))
    }

    fn send(&mut self, msg: &str) -> Result<(), ExportError> {
        let target = self.target.clone();
        let io_err = |source| ExportError::Io { target, source };
        match &mut self.conn {
            Conn::Udp(s) => {
                s.send(msg.as_bytes()).map_err(io_err)?;
                Ok(())
            }
            Conn::Tcp(_) => {
                let frame = format!("{} {msg}", msg.len());
                // One reconnection when the receiver closed the connection in between.
                for attempt in 0..2 {
                    if matches!(self.conn, Conn::Tcp(None)) {
                        let s = self.connect()?;
                        self.conn = Conn::Tcp(Some(s));
                    }
                    if let Conn::Tcp(Some(s)) = &mut self.conn {
                        match s.write_all(frame.as_bytes()).and_then(|()| s.flush()) {
                            Ok(()) => return Ok(()),
                            Err(e) if attempt == 0 => {
                                let _ = e;
                                self.conn = Conn::Tcp(None);
                            }
                            Err(e) => return Err(io_err(e)),
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl Exporter for SyslogExporter {
    fn export(&mut self, alerts: &[Alert]) -> Result<(), ExportError> {
        for a in alerts {
            let msg = format(a, &self.opts);
            self.send(&msg)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_timestamps() {
        assert_eq!(sd_value(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(cef_header("a|b\\c"), "a\\|b\\\\c");
        assert_eq!(cef_value("k=v\nx\\"), "k\\=v\\nx\\\\");
        assert_eq!(timestamp(1_500_000_000), "1970-01-01T00:00:01.500000Z");
        assert_eq!(header_field("", 5), "-");
        assert_eq!(header_field("a b\u{e9}cdefg", 5), "abcde");
        assert_eq!(cut("h\u{e9}llo".into(), 2), "h");
    }
}
