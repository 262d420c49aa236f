//! Images from OCI Distribution registries: an [`ImageSource`] over the registry HTTP API,
//! and catalog walks.
//!
//! **References** follow docker's rules ([`Reference::parse`]): `host[:port]/repo[:tag]`
//! or `…@sha256:<hex>`; a first component without `.` or `:` (and not `localhost`) is a
//! Docker Hub repository (`alpine` → `docker.io/library/alpine:latest`), whose API host is
//! `registry-1.docker.io`.
//!
//! **Authentication.** Requests go out anonymously (or with basic credentials once the
//! registry asked for them). A `401` with `WWW-Authenticate: Bearer realm=…,service=…,
//! scope=…` starts the token flow: a GET of the realm with that service and scope, with
//! the basic credentials when there are any, returns `token`/`access_token`, which is then
//! sent as `Authorization: Bearer` and kept per scope. A `Basic` challenge is answered
//! with the basic credentials. Credentials come from [`RegistryOptions::credentials`] or
//! from docker's `config.json` ([`credentials_from_docker_config`]: `auths` entries with a
//! base64 `auth` or `username`/`password`; credential helpers, which run programs, are not
//! consulted).
//!
//! **Transport.** HTTPS with the system roots plus any CA certificates given in
//! [`RegistryOptions::ca_certificates`] (PEM files or bytes, for registries whose
//! certificate comes from a private CA; they are added for that client only, like
//! docker's `certs.d/<host>/ca.crt`). A certificate the roots do not vouch for fails with
//! [`RegistryError::Certificate`]. Plain HTTP only when
//! [`RegistryOptions::insecure`] is set *and* the host is a loopback address (`localhost`,
//! `127.0.0.0/8`, `::1`): a registry on another host is never read in clear text.
//!
//! **Pulling.** [`RegistrySource::root`] fetches the manifest or index of the reference
//! with every media type this crate resolves (OCI index and manifest, Docker manifest list
//! and schema 2 manifest) and checks its sha256 against a digest reference and against
//! `Docker-Content-Digest`; the common resolution in [`crate::image`] then picks the
//! platform and verifies every other blob. Layers are streamed into a [`BlobCache`] when
//! one is given (verified by digest before they become visible, and reused by later pulls)
//! or read straight from the registry.
//!
//! **Catalog.** [`RegistryClient::catalog`] and [`RegistryClient::tags`] follow the
//! `Link: <…>; rel="next"` pagination of `/v2/_catalog` and `/v2/<repo>/tags/list`.
//!
//! No Rust registry client fits: `oci-distribution`/`oci-client` bring reqwest and an
//! async API; this module is the small part of the distribution spec a scanner needs, over
//! the crate's blocking HTTP client.

use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::Method;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;

use crate::http::{Client, HttpError, Request, Response, join_url};
use crate::image::{
    BlobCache, BlobReader, Descriptor, Digest, Filesystem, ImageError, ImageOptions, ImageSource,
    Root, media,
};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Largest manifest, index or API document read.
const MAX_DOCUMENT: u64 = 8 << 20;
/// Most pages followed in a catalog or tag listing.
const MAX_PAGES: usize = 10_000;

/// Errors talking to a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An image reference that cannot be parsed.
    #[error("image reference {input:?}: {reason}")]
    Reference {
        /// The text.
        input: String,
        /// Why.
        reason: String,
    },
    /// Plain HTTP asked for a host that is not loopback.
    #[error(
        "{host}: plain HTTP is only allowed for loopback registries (localhost, 127.0.0.0/8, ::1)"
    )]
    Insecure {
        /// The host.
        host: String,
    },
    /// The request could not be made.
    #[error("{0}")]
    Http(String),
    /// The registry's TLS certificate was refused.
    #[error(
        "{url}: TLS certificate not trusted: {reason} (a registry with a certificate from a private CA needs that CA among the trusted certificates)"
    )]
    Certificate {
        /// The URL requested.
        url: String,
        /// What the TLS layer reported (unknown issuer, name mismatch, expired, ...).
        reason: String,
    },
    /// An extra CA certificate that cannot be used.
    #[error("CA certificate {origin}: {reason}")]
    CaCertificate {
        /// The file, or `PEM bytes #<n>`.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The registry answered with an error status.
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Status code.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// Authentication failed or is needed.
    #[error("{registry}: unauthorized: {reason}")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// Why.
        reason: String,
    },
    /// A document that does not parse or verify.
    #[error("{what}: {reason}")]
    Invalid {
        /// The document.
        what: String,
        /// Why.
        reason: String,
    },
    /// docker `config.json` could not be read.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Opening the image failed.
    #[error(transparent)]
    Image(#[from] ImageError),
}

fn http_error(e: HttpError) -> RegistryError {
    match e {
        HttpError::Certificate { url, reason, .. } => RegistryError::Certificate { url, reason },
        other => RegistryError::Http(other.to_string()),
    }
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (and port) as named (`docker.io`, `ghcr.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, when given (`latest` is assumed when neither tag nor digest is).
    pub tag: Option<String>,
    /// Digest, when given.
    pub digest: Option<Digest>,
}

fn valid_repo_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

fn valid_tag(t: &str) -> bool {
    (1..=128).contains(&t.len())
        && t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Reference {
    /// Parses a reference with docker's defaults (see the module docs).
    pub fn parse(input: &str) -> Result<Reference, RegistryError> {
        let bad = |reason: &str| RegistryError::Reference {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (name, digest) = match s.rsplit_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|e| bad(&e.to_string()))?)),
            None => (s, None),
        };
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_owned())),
            _ => (name, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad(&format!("invalid tag {t:?}")));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if !repository.split('/').all(valid_repo_component) {
            return Err(bad(&format!(
                "invalid repository {repository:?} (lowercase letters, digits and . _ - between slashes)"
            )));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host the API is served from (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the manifest endpoint for: the digest, else the tag, else `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        if self.tag.is_none() && self.digest.is_none() {
            f.write_str(":latest")?;
        }
        Ok(())
    }
}

/// How to authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials (anonymous tokens are still fetched when a registry asks).
    #[default]
    Anonymous,
    /// User name and password (or access token used as password).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Anonymous => None,
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                B64.encode(format!("{username}:{password}"))
            )),
        }
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The host of a `config.json` `auths` key (`https://index.docker.io/v1/` → `docker.io`).
fn auths_key_host(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

/// The credentials `config.json` at `path` holds for `registry` (as in a [`Reference`]),
/// if any.
pub fn credentials_from_docker_config(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let cfg_err = |reason: String| RegistryError::Config {
        path: path.to_owned(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cfg_err(e.to_string())),
    };
    let cfg: DockerConfig = serde_json::from_str(&text).map_err(|e| cfg_err(e.to_string()))?;
    let want = auths_key_host(registry);
    let mut keys: Vec<&String> = cfg.auths.keys().collect();
    keys.sort();
    for key in keys {
        if auths_key_host(key) != want {
            continue;
        }
        let entry = &cfg.auths[key];
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = B64
                .decode(auth.trim())
                .map_err(|e| cfg_err(format!("auths[{key:?}].auth is not base64: {e}")))?;
            let text = String::from_utf8(decoded)
                .map_err(|_| cfg_err(format!("auths[{key:?}].auth is not UTF-8")))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| cfg_err(format!("auths[{key:?}].auth is not user:password")))?;
            return Ok(Some(Credentials::Basic {
                username: u.to_owned(),
                password: p.to_owned(),
            }));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::Basic {
                username: u.clone(),
                password: p.clone(),
            }));
        }
    }
    Ok(None)
}

/// An extra CA certificate to trust, besides the system roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaCertificate {
    /// A PEM file with one or more `CERTIFICATE` blocks (read when the client is made).
    PemFile(PathBuf),
    /// PEM text with one or more `CERTIFICATE` blocks.
    Pem(Vec<u8>),
}

impl CaCertificate {
    /// The DER certificates it holds; an error names the file (or the position in the
    /// list) when it cannot be read, is not PEM, or holds no certificate.
    fn load(
        &self,
        position: usize,
    ) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, RegistryError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let (origin, bytes) = match self {
            CaCertificate::PemFile(p) => {
                let origin = p.display().to_string();
                let bytes = std::fs::read(p).map_err(|e| RegistryError::CaCertificate {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })?;
                (origin, std::borrow::Cow::Owned(bytes))
            }
            CaCertificate::Pem(b) => (
                format!("PEM bytes #{}", position + 1),
                std::borrow::Cow::Borrowed(b.as_slice()),
            ),
        };
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RegistryError::CaCertificate {
                origin: origin.clone(),
                reason: format!("not PEM: {e}"),
            })?;
        if certs.is_empty() {
            return Err(RegistryError::CaCertificate {
                origin,
                reason: "no CERTIFICATE block in it".into(),
            });
        }
        Ok(certs)
    }
}

/// Registry access options.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Credentials (see [`credentials_from_docker_config`]).
    pub credentials: Credentials,
    /// Use plain HTTP; refused unless the host is loopback.
    pub insecure: bool,
    /// Timeout of each step (connect and headers; each body chunk).
    pub timeout: Duration,
    /// CA certificates trusted for this registry besides the system roots.
    pub ca_certificates: Vec<CaCertificate>,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            credentials: Credentials::Anonymous,
            insecure: false,
            timeout: Duration::from_secs(60),
            ca_certificates: Vec::new(),
        }
    }
}

/// Whether a `host[:port]` is a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if host.matches(':').count() > 1 {
        host
    } else {
        host.split(':').next().unwrap_or(host)
    };
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// The `rel="next"` target of a `Link` header.
fn next_link(h: &str) -> Option<String> {
    for part in h.split(',') {
        let (url, params) = part.split_once(';')?;
        if params.contains("rel=\"next\"") || params.contains("rel=next") {
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            return Some(url.to_owned());
        }
    }
    None
}

fn percent_encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// A client of one registry.
pub struct RegistryClient {
    http: Client,
    registry: String,
    base: String,
    credentials: Credentials,
    /// Scope → `Authorization` value.
    auth: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

impl RegistryClient {
    /// A client for a registry host (`ghcr.io`, `localhost:5000`, `docker.io`).
    pub fn new(registry: &str, options: RegistryOptions) -> Result<RegistryClient, RegistryError> {
        let host = match registry {
            DOCKER_HUB | "index.docker.io" => DOCKER_HUB_API,
            h => h,
        };
        let scheme = if options.insecure {
            if !is_loopback(host) {
                return Err(RegistryError::Insecure {
                    host: host.to_owned(),
                });
            }
            "http"
        } else {
            "https"
        };
        let mut roots = Vec::new();
        for (i, ca) in options.ca_certificates.iter().enumerate() {
            roots.extend(ca.load(i)?);
        }
        let http = Client::with_extra_roots(options.timeout, roots).map_err(http_error)?;
        Ok(RegistryClient {
            http,
            registry: registry.to_owned(),
            base: format!("{scheme}://{host}"),
            credentials: options.credentials,
            auth: Mutex::new(HashMap::new()),
        })
    }

    /// The base URL (`https://ghcr.io`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn cached_auth(&self, scope: &str) -> Option<String> {
        self.auth.lock().ok().and_then(|m| m.get(scope).cloned())
    }

    fn fetch_token(&self, ch: &Challenge, scope: &str) -> Result<String, RegistryError> {
        let realm = ch
            .params
            .get("realm")
            .ok_or_else(|| RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: "Bearer challenge without realm".into(),
            })?;
        let mut url = realm.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(service) = ch.params.get("service") {
            url.push_str(&format!("{sep}service={}", percent_encode_query(service)));
            sep = '&';
        }
        let scope = ch.params.get("scope").map_or(scope, String::as_str);
        if !scope.is_empty() {
            url.push_str(&format!("{sep}scope={}", percent_encode_query(scope)));
        }
        if url.starts_with("http://")
            && !url
                .parse::<hyper::Uri>()
                .is_ok_and(|u| u.host().is_some_and(is_loopback))
        {
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("token realm {realm} is plain HTTP on a non-loopback host"),
            });
        }
        let mut req = Request::get(url.clone());
        if let Some(b) = self.credentials.basic_header() {
            req = req.header(AUTHORIZATION, b);
        }
        let resp = self.http.send(req).map_err(http_error)?;
        if !resp.status.is_success() {
            let status = resp.status.as_u16();
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("token endpoint {url}: HTTP {status}: {}", resp.text(512)),
            });
        }
        let body = resp.bytes(MAX_DOCUMENT).map_err(http_error)?;
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| invalid(format!("token response from {url}"), e.to_string()))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .map(|t| format!("Bearer {t}"))
            .ok_or_else(|| RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("token endpoint {url} returned no token"),
            })
    }

    /// Sends a request with the authorization of `scope`, answering one challenge.
    fn send(&self, req: Request, scope: &str) -> Result<Response<'_>, RegistryError> {
        let with_auth = |req: &Request, auth: Option<&str>| {
            let mut r = req.clone();
            if let Some(a) = auth {
                r = r.header(AUTHORIZATION, a);
            }
            r
        };
        let cached = self.cached_auth(scope);
        let resp = self
            .http
            .send(with_auth(&req, cached.as_deref()))
            .map_err(http_error)?;
        if resp.status != hyper::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let header = resp.header("www-authenticate").unwrap_or("").to_owned();
        let challenge = parse_challenge(&header);
        let auth = match challenge {
            Some(ch) if ch.scheme == "bearer" => self.fetch_token(&ch, scope)?,
            Some(ch) if ch.scheme == "basic" => {
                self.credentials
                    .basic_header()
                    .ok_or_else(|| RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        reason: "the registry wants basic credentials and none are configured"
                            .into(),
                    })?
            }
            _ => {
                return Err(RegistryError::Unauthorized {
                    registry: self.registry.clone(),
                    reason: format!("HTTP 401 with challenge {header:?}"),
                });
            }
        };
        if cached.as_deref() == Some(auth.as_str()) {
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("{} {}: HTTP 401: credentials refused", req.method, req.url),
            });
        }
        if let Ok(mut m) = self.auth.lock() {
            m.insert(scope.to_owned(), auth.clone());
        }
        let resp = self
            .http
            .send(with_auth(&req, Some(&auth)))
            .map_err(http_error)?;
        if resp.status == hyper::StatusCode::UNAUTHORIZED {
            let who = match &self.credentials {
                Credentials::Basic { username, .. } => format!(" for user {username:?}"),
                Credentials::Anonymous => String::new(),
            };
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!(
                    "{} {}: HTTP 401: credentials refused{who}",
                    req.method, req.url
                ),
            });
        }
        Ok(resp)
    }

    fn expect_ok<'a>(
        &self,
        resp: Response<'a>,
        method: &str,
    ) -> Result<Response<'a>, RegistryError> {
        if resp.status.is_success() {
            return Ok(resp);
        }
        let (status, url) = (resp.status.as_u16(), resp.url.clone());
        Err(RegistryError::Status {
            method: method.to_owned(),
            url,
            status,
            body: resp.text(512).chars().take(512).collect(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Checks that the registry speaks the v2 API (and that the credentials work).
    pub fn ping(&self) -> Result<(), RegistryError> {
        let resp = self.send(Request::get(self.url("/v2/")), "")?;
        self.expect_ok(resp, "GET").map(|_| ())
    }

    /// Fetches a manifest or index: its bytes, media type and digest (verified against a
    /// digest reference and the `Docker-Content-Digest` header).
    pub fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String, Digest), RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let accept = [
            media::OCI_INDEX,
            media::OCI_MANIFEST,
            media::DOCKER_LIST,
            media::DOCKER_MANIFEST,
        ]
        .join(", ");
        let resp = self.send(
            Request::get(url.clone()).header(ACCEPT, accept),
            &pull_scope(repo),
        )?;
        let resp = self.expect_ok(resp, "GET")?;
        let header_digest = resp.header("docker-content-digest").map(str::to_owned);
        let content_type = resp
            .header(CONTENT_TYPE.as_str())
            .map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
        let bytes = resp.bytes(MAX_DOCUMENT).map_err(http_error)?;
        let digest = Digest::of(&bytes);
        let expected = Digest::parse(reference).ok().or_else(|| {
            header_digest
                .as_deref()
                .filter(|d| d.starts_with("sha256:"))
                .and_then(|d| Digest::parse(d).ok())
        });
        if let Some(e) = expected
            && e != digest
        {
            return Err(ImageError::DigestMismatch {
                what: url,
                expected: e.to_string(),
                actual: digest.to_string(),
            }
            .into());
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Typed {
            #[serde(default)]
            media_type: Option<String>,
        }
        let body_type = serde_json::from_slice::<Typed>(&bytes)
            .ok()
            .and_then(|t| t.media_type);
        let media_type = body_type
            .or(content_type)
            .unwrap_or_else(|| media::OCI_MANIFEST.to_owned());
        if media_type.starts_with("application/vnd.docker.distribution.manifest.v1") {
            return Err(invalid(
                url,
                "Docker schema 1 manifests are not supported (the image must be pushed again by a current client)",
            ));
        }
        Ok((bytes, media_type, digest))
    }

    /// Streams a blob (unverified: callers check the digest, as [`BlobCache::put`] does).
    pub fn blob(&self, repo: &str, digest: &Digest) -> Result<BlobReader<'_>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send(Request::get(url), &pull_scope(repo))?;
        let resp = self.expect_ok(resp, "GET")?;
        Ok(Box::new(resp.reader()))
    }

    fn list_pages(
        &self,
        first: String,
        scope: &str,
        field: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let mut out = Vec::new();
        let mut url = Some(first);
        let mut pages = 0;
        while let Some(u) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(invalid(u, format!("more than {MAX_PAGES} pages")));
            }
            let resp = self.send(Request::get(u.clone()), scope)?;
            let resp = self.expect_ok(resp, "GET")?;
            url = resp
                .header("link")
                .and_then(next_link)
                .map(|n| join_url(&u, &n));
            let body = resp.bytes(MAX_DOCUMENT).map_err(http_error)?;
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| invalid(&u, e.to_string()))?;
            match v.get(field) {
                Some(serde_json::Value::Array(items)) => {
                    out.extend(items.iter().filter_map(|x| x.as_str().map(str::to_owned)));
                }
                Some(serde_json::Value::Null) | None => {}
                Some(_) => return Err(invalid(&u, format!("{field} is not a list"))),
            }
        }
        Ok(out)
    }

    /// Every repository of the registry (`/v2/_catalog`), following pagination.
    pub fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        self.catalog_paged(100)
    }

    /// [`RegistryClient::catalog`] asking for `page_size` entries per page.
    pub fn catalog_paged(&self, page_size: usize) -> Result<Vec<String>, RegistryError> {
        self.list_pages(
            self.url(&format!("/v2/_catalog?n={page_size}")),
            "registry:catalog:*",
            "repositories",
        )
    }

    /// Every tag of a repository (`/v2/<repo>/tags/list`), following pagination.
    pub fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        self.tags_paged(repo, 100)
    }

    /// [`RegistryClient::tags`] asking for `page_size` entries per page.
    pub fn tags_paged(&self, repo: &str, page_size: usize) -> Result<Vec<String>, RegistryError> {
        self.list_pages(
            self.url(&format!("/v2/{repo}/tags/list?n={page_size}")),
            &pull_scope(repo),
            "tags",
        )
    }

    /// Uploads a blob (monolithic: POST then PUT), unless the registry has it; returns
    /// its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let digest = Digest::of(bytes);
        let scope = format!("repository:{repo}:pull,push");
        let head = self.send(
            Request::new(
                Method::HEAD,
                self.url(&format!("/v2/{repo}/blobs/{digest}")),
            ),
            &scope,
        )?;
        if head.status.is_success() {
            return Ok(digest);
        }
        let start = self.send(
            Request::new(
                Method::POST,
                self.url(&format!("/v2/{repo}/blobs/uploads/")),
            ),
            &scope,
        )?;
        let start = self.expect_ok(start, "POST")?;
        let location = start
            .header("location")
            .ok_or_else(|| invalid("blob upload", "no Location in the upload answer"))?
            .to_owned();
        let mut put_url = join_url(&start.url, &location);
        put_url.push(if put_url.contains('?') { '&' } else { '?' });
        put_url.push_str(&format!("digest={}", percent_encode_query(digest.as_str())));
        let put = self.send(
            Request::new(Method::PUT, put_url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec()),
            &scope,
        )?;
        self.expect_ok(put, "PUT")?;
        Ok(digest)
    }

    /// Uploads a manifest or index under a tag (or its digest); returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let scope = format!("repository:{repo}:pull,push");
        let resp = self.send(
            Request::new(
                Method::PUT,
                self.url(&format!("/v2/{repo}/manifests/{reference}")),
            )
            .header(CONTENT_TYPE, media_type)
            .body(bytes.to_vec()),
            &scope,
        )?;
        self.expect_ok(resp, "PUT")?;
        Ok(Digest::of(bytes))
    }
}

/// An image in a registry, as an [`ImageSource`].
pub struct RegistrySource {
    client: RegistryClient,
    reference: Reference,
    cache: Option<BlobCache>,
    max_blob_bytes: u64,
    manifests: Mutex<HashMap<Digest, Vec<u8>>>,
}

impl fmt::Debug for RegistrySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySource")
            .field("reference", &self.reference.to_string())
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn to_image_error(what: String, e: RegistryError) -> ImageError {
    match e {
        RegistryError::Image(i) => i,
        other => ImageError::Invalid {
            what,
            reason: other.to_string(),
        },
    }
}

fn is_manifest_type(t: &str) -> bool {
    [
        media::OCI_INDEX,
        media::OCI_MANIFEST,
        media::DOCKER_LIST,
        media::DOCKER_MANIFEST,
    ]
    .contains(&t)
}

impl RegistrySource {
    /// A source for a reference; blobs go through `cache` when given.
    pub fn new(
        reference: Reference,
        options: RegistryOptions,
        cache: Option<BlobCache>,
    ) -> Result<RegistrySource, RegistryError> {
        let client = RegistryClient::new(&reference.registry, options)?;
        Ok(RegistrySource {
            client,
            reference,
            cache,
            max_blob_bytes: 16 << 30,
            manifests: Mutex::new(HashMap::new()),
        })
    }

    /// The reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The client (for catalog walks over the same connection pool and tokens).
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    fn fetch_manifest(&self, reference: &str) -> Result<Descriptor, RegistryError> {
        let (bytes, media_type, digest) = self
            .client
            .manifest(&self.reference.repository, reference)?;
        let size = bytes.len() as u64;
        if let Ok(mut m) = self.manifests.lock() {
            m.insert(digest.clone(), bytes);
        }
        Ok(Descriptor {
            media_type,
            digest,
            size,
            platform: None,
            annotations: Default::default(),
        })
    }
}

impl ImageSource for RegistrySource {
    fn name(&self) -> String {
        format!("registry:{}", self.reference)
    }

    fn root(&self) -> Result<Root, ImageError> {
        let r = self.reference.manifest_reference();
        self.fetch_manifest(&r)
            .map(Root::Descriptor)
            .map_err(|e| to_image_error(self.name(), e))
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<BlobReader<'_>, ImageError> {
        if let Some(bytes) = self
            .manifests
            .lock()
            .ok()
            .and_then(|m| m.get(&desc.digest).cloned())
        {
            return Ok(Box::new(Cursor::new(bytes)));
        }
        if is_manifest_type(&desc.media_type) {
            self.fetch_manifest(desc.digest.as_str())
                .map_err(|e| to_image_error(self.name(), e))?;
            let bytes = self
                .manifests
                .lock()
                .ok()
                .and_then(|m| m.get(&desc.digest).cloned())
                .unwrap_or_default();
            return Ok(Box::new(Cursor::new(bytes)));
        }
        let Some(cache) = &self.cache else {
            return self
                .client
                .blob(&self.reference.repository, &desc.digest)
                .map_err(|e| to_image_error(self.name(), e));
        };
        if let Some(r) = cache.open(desc)? {
            return Ok(r);
        }
        let stream = self
            .client
            .blob(&self.reference.repository, &desc.digest)
            .map_err(|e| to_image_error(self.name(), e))?;
        cache.put(&desc.digest, stream, self.max_blob_bytes)?;
        cache.open(desc)?.ok_or_else(|| ImageError::BlobNotFound {
            source_name: self.name(),
            digest: desc.digest.to_string(),
        })
    }
}

/// Opens a registry image: resolves the reference for the options' platform and builds the
/// squashed view (see [`crate::image::open_image`]).
pub fn open_registry_image(
    reference: &str,
    registry: RegistryOptions,
    cache: Option<BlobCache>,
    options: &ImageOptions,
) -> Result<Filesystem, RegistryError> {
    let r = Reference::parse(reference)?;
    let source = RegistrySource::new(r, registry, cache)?;
    Ok(crate::image::open_image(Box::new(source), options)?)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("bitnami/nginx:1.25").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "bitnami/nginx", Some("1.25"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost:5000/team/app:v1@{d}")).unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_reference(), d);
        let r = Reference::parse("ghcr.io/owner/img").unwrap();
        assert_eq!(r.manifest_reference(), "latest");
        let r = Reference::parse("127.0.0.1:5000/x").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        let r = Reference::parse("index.docker.io/library/busybox:1").unwrap();
        assert_eq!(r.registry, "docker.io");
        for bad in ["", "UPPER/case", "a//b", "x:bad tag", "x@sha256:12", "-x"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_only() {
        for h in [
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1:5000",
            "registry.local",
            "ghcr.io",
            "[2001:db8::1]:80",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        let opts = RegistryOptions {
            insecure: true,
            ..RegistryOptions::default()
        };
        assert!(matches!(
            RegistryClient::new("registry.example:5000", opts.clone()),
            Err(RegistryError::Insecure { .. })
        ));
        let c = RegistryClient::new("127.0.0.1:5000", opts).unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:5000");
        let c = RegistryClient::new("docker.io", RegistryOptions::default()).unwrap();
        assert_eq!(c.base_url(), "https://registry-1.docker.io");
    }

    #[test]
    fn challenges_and_links() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/alpine:pull,push");
        let b = parse_challenge(r#"Basic realm="basic-realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }

    #[test]
    fn docker_config_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths": {{
                    "https://index.docker.io/v1/": {{"auth": "{}"}},
                    "localhost:5000": {{"username": "u", "password": "p"}},
                    "ghcr.io": {{}}
                }}, "credsStore": "desktop"}}"#,
                B64.encode("hub:secret")
            ),
        )
        .unwrap();
        assert_eq!(
            credentials_from_docker_config(&p, "docker.io").unwrap(),
            Some(Credentials::Basic {
                username: "hub".into(),
                password: "secret".into()
            })
        );
        assert_eq!(
            credentials_from_docker_config(&p, "localhost:5000").unwrap(),
            Some(Credentials::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(credentials_from_docker_config(&p, "ghcr.io").unwrap(), None);
        assert_eq!(
            credentials_from_docker_config(&dir.path().join("none.json"), "x").unwrap(),
            None
        );
        std::fs::write(&p, r#"{"auths": {"x.io": {"auth": "!!"}}}"#).unwrap();
        assert!(credentials_from_docker_config(&p, "x.io").is_err());
    }
}
