//! A small blocking HTTP(S) client for feed downloads ([`crate::db::update`]) and registry
//! access ([`crate::registry`]).
//!
//! It is `hyper` (through `hyper-util`'s pooled client) with `rustls` over the `ring`
//! provider and the system's root certificates (plus any extra trusted CA certificates a
//! caller passes, e.g. a registry's private CA), driven by a private one-worker tokio
//! runtime so that callers stay synchronous like the rest of this crate. What is added here
//! is what those crates leave to their users: redirects (registries send blob downloads to
//! object storage; `Authorization` is dropped when the host changes), timeouts, a body size
//! bound, and a `Read` adapter over a streamed body. Called from inside another tokio
//! runtime, each blocking step runs on a scoped helper thread instead of panicking.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use hyper::{Method, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

/// Errors of the HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum HttpError {
    /// The runtime or TLS setup failed.
    #[error("HTTP client setup: {0}")]
    Setup(String),
    /// A URL that cannot be requested.
    #[error("{url}: invalid URL: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connection, TLS or protocol failure.
    #[error("{method} {url}: {reason}")]
    Transport {
        /// Request method.
        method: String,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No answer in time.
    #[error("{method} {url}: timed out after {seconds} s")]
    Timeout {
        /// Request method.
        method: String,
        /// The URL.
        url: String,
        /// The bound.
        seconds: u64,
    },
    /// A body longer than allowed.
    #[error("{url}: response body exceeds {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        limit: u64,
    },
    /// The server's certificate chain was refused (untrusted issuer, wrong name, expired).
    #[error("{method} {url}: TLS certificate not trusted: {reason}")]
    Certificate {
        /// Request method.
        method: String,
        /// The URL.
        url: String,
        /// What rustls reported.
        reason: String,
    },
    /// Too many redirects.
    #[error("{url}: more than {0} redirects", MAX_REDIRECTS)]
    Redirects {
        /// The first URL.
        url: String,
    },
}

const MAX_REDIRECTS: usize = 10;

/// The private runtime, shut down without waiting when dropped, so that dropping a client
/// inside another runtime does not panic.
struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The blocking client.
pub(crate) struct Client {
    rt: Rt,
    inner: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(HeaderName, String)>,
    pub(crate) body: Bytes,
    /// Follow redirects (GET and HEAD only).
    pub(crate) follow: bool,
}

impl Request {
    pub(crate) fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            follow: true,
        }
    }

    pub(crate) fn new(method: Method, url: impl Into<String>) -> Request {
        let follow = method == Method::GET || method == Method::HEAD;
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            follow,
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = body.into();
        self
    }
}

/// A response whose body has not been read yet.
pub(crate) struct Response<'c> {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// The URL that answered (after redirects).
    pub(crate) url: String,
    method: String,
    body: Incoming,
    client: &'c Client,
}

impl std::fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl<'c> Response<'c> {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body, at most `limit` bytes.
    pub(crate) fn bytes(self, limit: u64) -> Result<Vec<u8>, HttpError> {
        let url = self.url.clone();
        let mut out = Vec::new();
        let mut r = self.reader();
        (&mut r)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| HttpError::Transport {
                method: "GET".into(),
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if out.len() as u64 > limit {
            return Err(HttpError::TooLarge { url, limit });
        }
        Ok(out)
    }

    /// The body as text (lossy), at most `limit` bytes; for error messages.
    pub(crate) fn text(self, limit: u64) -> String {
        match self.bytes(limit) {
            Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
            Err(e) => e.to_string(),
        }
    }

    /// The body as a blocking stream.
    pub(crate) fn reader(self) -> BodyReader<'c> {
        BodyReader {
            client: self.client,
            url: self.url,
            method: self.method,
            body: Some(self.body),
            buf: Bytes::new(),
        }
    }
}

/// A streamed response body.
pub(crate) struct BodyReader<'c> {
    client: &'c Client,
    url: String,
    method: String,
    body: Option<Incoming>,
    buf: Bytes,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            let timeout = self.client.timeout;
            let frame = self
                .client
                .block_on(async { tokio::time::timeout(timeout, body.frame()).await });
            match frame {
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{} {}: body stalled for {} s",
                            self.method,
                            self.url,
                            timeout.as_secs()
                        ),
                    ));
                }
                Ok(None) => {
                    self.body = None;
                    return Ok(0);
                }
                Ok(Some(Err(e))) => {
                    return Err(std::io::Error::other(format!(
                        "{} {}: {e}",
                        self.method, self.url
                    )));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf = data;
                    }
                }
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// The rustls error behind `e`: tokio-rustls wraps it in an `io::Error` and hyper-rustls
/// wraps that in another, and `io::Error::source` skips the wrapped error itself.
fn rustls_error<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut e = e;
    for _ in 0..8 {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner: &(dyn std::error::Error + 'static) =
            e.downcast_ref::<std::io::Error>()?.get_ref()?;
        e = inner;
    }
    None
}

fn host_of(url: &str) -> Option<String> {
    url.parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
}

/// Resolves a `Location` against the URL it came from.
pub(crate) fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let Ok(uri) = base.parse::<hyper::Uri>() else {
        return location.to_owned();
    };
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = uri.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
}

impl Client {
    /// A client with the given per-step timeout (connect and headers; each body chunk).
    pub(crate) fn new(timeout: Duration) -> Result<Client, HttpError> {
        Client::with_extra_roots(timeout, Vec::new())
    }

    /// A client that trusts `extra_roots` (DER certificates) besides the system roots.
    pub(crate) fn with_extra_roots(
        timeout: Duration,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Client, HttpError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("palisade-http")
            .enable_all()
            .build()
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // System roots that parse; none at all still leaves plain HTTP (loopback registries,
        // mirrors) working, and HTTPS then fails with an unknown-issuer error naming the URL.
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        for (i, cert) in extra_roots.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|e| HttpError::Setup(format!("extra CA certificate #{}: {e}", i + 1)))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client {
            rt: Rt(Some(rt)),
            inner,
            timeout,
        })
    }

    /// Runs a future to completion on the private runtime.
    fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let Some(rt) = self.rt.0.as_ref() else {
            unreachable!("the runtime is only taken when the client is dropped")
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside another runtime: block a helper thread, not this one's executor.
            std::thread::scope(|s| {
                let h = s.spawn(|| rt.block_on(fut));
                match h.join() {
                    Ok(v) => v,
                    Err(p) => std::panic::resume_unwind(p),
                }
            })
        } else {
            rt.block_on(fut)
        }
    }

    /// Sends a request, following redirects for GET and HEAD.
    pub(crate) fn send(&self, req: Request) -> Result<Response<'_>, HttpError> {
        let first = req.url.clone();
        let mut url = req.url.clone();
        let mut headers = req.headers.clone();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send_once(&req.method, &url, &headers, req.body.clone())?;
            if req.follow
                && resp.status.is_redirection()
                && resp.status != StatusCode::NOT_MODIFIED
                && let Some(loc) = resp.header(LOCATION.as_str())
            {
                let next = join_url(&url, loc);
                if host_of(&next) != host_of(&url) {
                    headers.retain(|(n, _)| n != hyper::header::AUTHORIZATION);
                }
                url = next;
                continue;
            }
            return Ok(resp);
        }
        Err(HttpError::Redirects { url: first })
    }

    fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> Result<Response<'_>, HttpError> {
        let uri: hyper::Uri =
            url.parse()
                .map_err(|e: hyper::http::uri::InvalidUri| HttpError::Url {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return Err(HttpError::Url {
                    url: url.to_owned(),
                    reason: "only http and https URLs are supported".into(),
                });
            }
        }
        let mut builder = hyper::Request::builder().method(method.clone()).uri(uri);
        for (n, v) in headers {
            let v = HeaderValue::from_str(v).map_err(|e| HttpError::Url {
                url: url.to_owned(),
                reason: format!("header {n}: {e}"),
            })?;
            builder = builder.header(n, v);
        }
        if !headers.iter().any(|(n, _)| n == hyper::header::USER_AGENT) {
            builder = builder.header(
                hyper::header::USER_AGENT,
                concat!("palisade/", env!("CARGO_PKG_VERSION")),
            );
        }
        let request = builder.body(Full::new(body)).map_err(|e| HttpError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let timeout = self.timeout;
        let fut = self.inner.request(request);
        let result = self.block_on(async move { tokio::time::timeout(timeout, fut).await });
        let resp = match result {
            Err(_) => {
                return Err(HttpError::Timeout {
                    method: method.to_string(),
                    url: url.to_owned(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(Err(e)) => {
                let mut reason = e.to_string();
                let mut src = std::error::Error::source(&e);
                let mut certificate = None;
                while let Some(s) = src {
                    if let Some(tls @ rustls::Error::InvalidCertificate(_)) = rustls_error(s) {
                        certificate = Some(tls.to_string());
                    }
                    reason.push_str(": ");
                    reason.push_str(&s.to_string());
                    src = s.source();
                }
                if let Some(reason) = certificate {
                    return Err(HttpError::Certificate {
                        method: method.to_string(),
                        url: url.to_owned(),
                        reason,
                    });
                }
                return Err(HttpError::Transport {
                    method: method.to_string(),
                    url: url.to_owned(),
                    reason,
                });
            }
            Ok(Ok(r)) => r,
        };
        let (parts, body) = resp.into_parts();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            url: url.to_owned(),
            method: method.to_string(),
            body,
            client: self,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;

    /// Answers one request with `ok`.
    fn one_shot_server() -> String {
        use std::io::{BufRead, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap();
        });
        url
    }

    #[test]
    fn works_inside_another_runtime() {
        let url = one_shot_server();
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = outer.block_on(async move {
            let client = Client::new(Duration::from_secs(10)).unwrap();
            let body = client.send(Request::get(url)).unwrap().bytes(100).unwrap();
            drop(client); // dropping inside a runtime must not panic
            body
        });
        assert_eq!(body, b"ok");
    }

    #[test]
    fn joins_locations() {
        assert_eq!(
            join_url("http://h:5000/v2/a/blobs/x", "/v2/a/blobs/uploads/1?x=y"),
            "http://h:5000/v2/a/blobs/uploads/1?x=y"
        );
        assert_eq!(
            join_url("http://h/v2/a/b", "https://s3/obj"),
            "https://s3/obj"
        );
        assert_eq!(join_url("http://h/a/b", "c"), "http://h/a/c");
    }
}
