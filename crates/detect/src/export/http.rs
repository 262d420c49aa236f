//! A minimal HTTP/1.1 client for POSTing alerts (one request per connection), with retries and
//! exponential backoff, and the webhook and Splunk HEC exporters built on it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::tls::{self, Stream, TlsOptions};
use super::{ExportError, Exporter, ocsf};
use crate::alert::Alert;

/// Largest part of a response body read (for error messages).
const MAX_BODY: usize = 64 << 10;

/// An `http[s]://host[:port]/path` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `host:port` to connect to.
    pub authority: String,
    /// The `Host` header.
    pub host: String,
    /// Path and query.
    pub path: String,
    /// Whether to speak TLS (`https://`).
    pub tls: bool,
    url: String,
}

impl HttpTarget {
    /// Parses an `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Self, ExportError> {
        let bad = |message: &str| ExportError::Config {
            target: url.to_string(),
            message: message.to_string(),
        };
        let (rest, tls) = if let Some(r) = url.strip_prefix("http://") {
            (r, false)
        } else if let Some(r) = url.strip_prefix("https://") {
            (r, true)
        } else {
            return Err(bad("expected an http:// or https:// URL"));
        };
        let (hostport, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if hostport.is_empty() || hostport.contains('@') {
            return Err(bad("expected host[:port] (credentials go in headers)"));
        }
        let has_port = match hostport.rfind(':') {
            Some(i) => !hostport.ends_with(']') && hostport[i + 1..].parse::<u16>().is_ok(),
            None => false,
        };
        let authority = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:{}", if tls { 443 } else { 80 })
        };
        Ok(Self {
            authority,
            host: hostport.to_string(),
            path,
            tls,
            url: url.to_string(),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// When and how often failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubled after each.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// Connect, read and write timeout of each attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

struct Response {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

fn io_err(target: &HttpTarget) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        target: target.url.clone(),
        source,
    }
}

/// TLS settings of an exporter, with the client configuration built on first use.
#[derive(Debug, Clone, Default)]
struct Tls {
    opts: TlsOptions,
    config: Option<Arc<ClientConfig>>,
}

impl Tls {
    fn config(&mut self, target: &HttpTarget) -> Result<Option<Arc<ClientConfig>>, ExportError> {
        if !target.tls {
            return Ok(None);
        }
        if self.config.is_none() {
            self.config = Some(tls::client_config(&self.opts, &target.url)?);
        }
        Ok(self.config.clone())
    }
}

fn post_once(
    target: &HttpTarget,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    timeout: Duration,
    tls_config: Option<&Arc<ClientConfig>>,
) -> Result<Response, ExportError> {
    let err = io_err(target);
    let mut last = None;
    let mut stream = None;
    for addr in target.authority.to_socket_addrs().map_err(&err)? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match stream {
        Some(s) => s,
        None => {
            return Err(err(last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
            })));
        }
    };
    tcp.set_read_timeout(Some(timeout)).map_err(&err)?;
    tcp.set_write_timeout(Some(timeout)).map_err(&err)?;
    let mut stream: Box<dyn Stream> = match tls_config {
        Some(cfg) => tls::wrap(tcp, tls::host_of(&target.authority), cfg, &target.url)?,
        None => Box::new(tcp),
    };
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: palisade/{}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        target.path,
        target.host,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(k);
        req.push_str(": ");
        req.push_str(v);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).map_err(&err)?;
    stream.write_all(body).map_err(&err)?;
    stream.flush().map_err(&err)?;

    let mut r = BufReader::new(stream.take(MAX_BODY as u64 + 16 * 1024));
    let mut line = String::new();
    r.read_line(&mut line).map_err(&err)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP response: {:?}", line.trim_end()),
            ))
        })?;
    let mut retry_after = None;
    let mut length = None;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(&err)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("retry-after") {
                retry_after = v.parse::<u64>().ok().map(Duration::from_secs);
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let mut body = Vec::new();
    let want = length.unwrap_or(MAX_BODY).min(MAX_BODY);
    // A body cut short (the server closed early) is not an error here: only the status counts.
    let _ = r.take(want as u64).read_to_end(&mut body);
    Ok(Response {
        status,
        retry_after,
        body: String::from_utf8_lossy(&body).chars().take(512).collect(),
    })
}

fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// POSTs `body`, retrying connection errors, 408, 429 and 5xx with exponential backoff
/// (honouring `Retry-After`). Returns the number of attempts made.
fn post(
    target: &HttpTarget,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    policy: &RetryPolicy,
    tls: &mut Tls,
) -> Result<u32, ExportError> {
    let tls_config = tls.config(target)?;
    let mut backoff = policy.initial_backoff;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let last_try = attempt > policy.max_retries;
        let sent = post_once(
            target,
            headers,
            content_type,
            body,
            policy.timeout,
            tls_config.as_ref(),
        );
        let wait = match sent {
            Ok(r) if (200..300).contains(&r.status) => return Ok(attempt),
            Ok(r) if retryable(r.status) && !last_try => r.retry_after.unwrap_or(backoff),
            Ok(r) => {
                return Err(ExportError::Status {
                    target: target.url.clone(),
                    status: r.status,
                    attempts: attempt,
                    body: r.body,
                });
            }
            Err(e) if last_try => return Err(e),
            Err(_) => backoff,
        };
        std::thread::sleep(wait.min(policy.max_backoff));
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// What a webhook request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The alert's JSON.
    Alert,
    /// The alert as an OCSF Detection Finding.
    Ocsf,
}

/// POSTs each alert to an HTTP endpoint.
#[derive(Debug, Clone)]
pub struct WebhookExporter {
    target: HttpTarget,
    headers: Vec<(String, String)>,
    format: WebhookFormat,
    policy: RetryPolicy,
    tls: Tls,
    attempts: u64,
}

impl WebhookExporter {
    /// A webhook to `url` with extra headers (`Authorization`, ...).
    pub fn new(
        url: &str,
        headers: Vec<(String, String)>,
        format: WebhookFormat,
        policy: RetryPolicy,
    ) -> Result<Self, ExportError> {
        Ok(Self {
            target: HttpTarget::parse(url)?,
            headers,
            format,
            policy,
            tls: Tls::default(),
            attempts: 0,
        })
    }

    /// Verifies an `https://` endpoint against these certificate authorities (by default,
    /// the system's).
    pub fn with_tls(mut self, opts: TlsOptions) -> Self {
        self.tls = Tls { opts, config: None };
        self
    }

    /// How many HTTP requests were made so far (retries included).
    pub fn attempts(&self) -> u64 {
        self.attempts
    }
}

impl Exporter for WebhookExporter {
    fn export(&mut self, alerts: &[Alert]) -> Result<(), ExportError> {
        for a in alerts {
            let body = match self.format {
                WebhookFormat::Alert => serde_json::to_vec(a)?,
                WebhookFormat::Ocsf => serde_json::to_vec(&ocsf::detection_finding(a))?,
            };
            let n = post(
                &self.target,
                &self.headers,
                "application/json",
                &body,
                &self.policy,
                &mut self.tls,
            );
            match n {
                Ok(n) => self.attempts += u64::from(n),
                Err(e) => {
                    if let ExportError::Status { attempts, .. } = &e {
                        self.attempts += u64::from(*attempts);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Sends alerts to a Splunk HTTP Event Collector (`/services/collector/event`).
#[derive(Debug, Clone)]
pub struct SplunkHecExporter {
    target: HttpTarget,
    headers: Vec<(String, String)>,
    index: Option<String>,
    source: String,
    sourcetype: String,
    host: Option<String>,
    policy: RetryPolicy,
    tls: Tls,
}

impl SplunkHecExporter {
    /// An exporter to the collector at `base_url` (`http://splunk:8088`; the event endpoint
    /// path is added unless the URL has a path) with a HEC token.
    pub fn new(base_url: &str, token: &str, policy: RetryPolicy) -> Result<Self, ExportError> {
        let mut target = HttpTarget::parse(base_url)?;
        if target.path == "/" {
            target.path = "/services/collector/event".into();
        }
        Ok(Self {
            target,
            headers: vec![("Authorization".into(), format!("Splunk {token}"))],
            index: None,
            source: "palisade".into(),
            sourcetype: "palisade:alert".into(),
            host: None,
            policy,
            tls: Tls::default(),
        })
    }

    /// Verifies an `https://` collector against these certificate authorities (by default,
    /// the system's).
    pub fn with_tls(mut self, opts: TlsOptions) -> Self {
        self.tls = Tls { opts, config: None };
        self
    }

    /// Sends to this index instead of the token's default.
    pub fn with_index(mut self, index: impl Into<String>) -> Self {
        self.index = Some(index.into());
        self
    }

    /// Sets the `host` of the events.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The request body for `alerts`: one HEC event object per alert, concatenated.
    pub fn body(&self, alerts: &[Alert]) -> Result<Vec<u8>, ExportError> {
        let mut out = Vec::new();
        for a in alerts {
            let mut ev = serde_json::Map::new();
            let secs = a.last_seen.div_euclid(1_000_000_000);
            let millis = a.last_seen.rem_euclid(1_000_000_000) / 1_000_000;
            ev.insert(
                "time".into(),
                serde_json::Value::from(secs as f64 + millis as f64 / 1000.0),
            );
            if let Some(h) = &self.host {
                ev.insert("host".into(), h.clone().into());
            }
            ev.insert("source".into(), self.source.clone().into());
            ev.insert("sourcetype".into(), self.sourcetype.clone().into());
            if let Some(i) = &self.index {
                ev.insert("index".into(), i.clone().into());
            }
            ev.insert("event".into(), serde_json::to_value(a)?);
            serde_json::to_writer(&mut out, &ev)?;
            out.push(b'\n');
        }
        Ok(out)
    }
}

impl Exporter for SplunkHecExporter {
    fn export(&mut self, alerts: &[Alert]) -> Result<(), ExportError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let body = self.body(alerts)?;
        post(
            &self.target,
            &self.headers,
            "application/json",
            &body,
            &self.policy,
            &mut self.tls,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls() {
        let t = HttpTarget::parse("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "/hook?x=1")
        );
        let t = HttpTarget::parse("http://siem.example").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("siem.example:80", "/")
        );
        let t = HttpTarget::parse("http://[::1]:9000/x").unwrap();
        assert_eq!(t.authority, "[::1]:9000");
        let t = HttpTarget::parse("https://siem.example/services/collector").unwrap();
        assert!(t.tls);
        assert_eq!(t.authority, "siem.example:443");
        assert!(HttpTarget::parse("ftp://x").is_err());
        assert!(HttpTarget::parse("http://user:pw@host/").is_err());
        assert!(retryable(503) && retryable(429) && !retryable(400) && !retryable(404));
    }
}
