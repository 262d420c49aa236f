//! The palisade platform server: REST API under `/api/v1`, a server-rendered dashboard under
//! `/`, health, readiness and Prometheus metrics, token authentication with roles, and TLS.
//!
//! Start it with [`Server::new`] (a [`Config`] and a store) and [`Server::serve`] (a bound
//! listener and a shutdown future). Tokens for `palisade token create` come from
//! [`create_token`].
//!
//! Design:
//! - **One store trait bound** ([`Backend`]: the snapshot [`Store`] and the
//!   [`PlatformStore`]), so the server runs on SQLite today and on any later backend that
//!   implements both traits. Handlers are generic over it.
//! - **Routes are a table** (`api::routes`): the router is built from it, and a test checks
//!   it against the checked-in OpenAPI document ([`OPENAPI_JSON`]) in both directions, then
//!   validates real responses against the documented schemas.
//! - **Security by default**: TLS unless plain HTTP is asked for on a loopback address;
//!   bearer tokens stored hashed; readers cannot write; the request body is limited on every
//!   route; internal errors are logged with a request id and answered with that id only;
//!   dashboard forms carry a per-session CSRF token on top of a SameSite=Strict cookie; every
//!   HTML value goes through one escaper (module `html`); strict security headers (CSP without
//!   scripts) on every response.
//! - **Lists stay cheap at scale**: the per-snapshot views (counts by check and severity,
//!   component state) live in the shared state and serve the overview, coverage and
//!   recommendation lists of both the API and the dashboard; long lists (alerts, affected
//!   resources, inventory) are paged in SQL with keyset cursors (`after`/`next`), so a deep
//!   page costs what the first one does (figures in `docs/sizing.md`).
//! - **Connections** are served by hyper's HTTP/1.1 server over tokio-rustls directly (axum's
//!   own `serve` has no TLS): each connection gets its TLS handshake in its own task with a
//!   timeout, so a slow client cannot stall accepting, and shutdown drains open connections
//!   through hyper-util's graceful watcher.

mod api;
mod audit;
mod auth;
mod dashboard;
mod error;
pub mod exports;
mod html;
mod metrics;
mod query;
mod tls;
mod views;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
pub use palisade_store::Role;
use palisade_store::{PlatformStore, Store};
use tokio::net::TcpListener;

pub use audit::{AUDIT_WEBHOOK_PATH, AuditReceiver, BatchOutcome, DEFAULT_AUDIT_BODY_LIMIT};
pub use auth::{create_token, hash_token};

/// The OpenAPI 3.1 document of the REST API, served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Default limit of a request body (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Time a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time open connections get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// A self-signed certificate generated at first start under `<data dir>/tls/` and reused.
    SelfSigned,
    /// A certificate chain and private key in PEM files.
    Files {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// Plain HTTP. Refused by [`Server::serve`] unless the listener is on a loopback address.
    Plain,
}

/// Server settings fixed at start (the ones an admin changes at run time live in the store).
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory (the self-signed certificate is kept under `tls/`).
    pub data_dir: PathBuf,
    /// TLS mode.
    pub tls: TlsMode,
    /// Extra host names and addresses for the self-signed certificate (besides `localhost`,
    /// `127.0.0.1` and `::1`).
    pub hostnames: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest accepted audit webhook batch, in bytes.
    pub audit_body_limit: usize,
}

impl Config {
    /// TLS with a self-signed certificate, a 1 MiB body limit.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            tls: TlsMode::SelfSigned,
            hostnames: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            audit_body_limit: DEFAULT_AUDIT_BODY_LIMIT,
        }
    }
}

/// A server failure (at start; request errors are answered, not returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate or key file is unreadable or unusable.
    #[error("TLS material {path}: {message}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    TlsGenerate(String),
    /// A file or directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Plain HTTP was asked for on an address other than loopback.
    #[error(
        "plain HTTP is only allowed on a loopback address, not on {0}: use TLS (the default) \
         or listen on 127.0.0.1 / [::1]"
    )]
    PlainNotLoopback(SocketAddr),
    /// The listener failed.
    #[error("listener: {0}")]
    Listener(#[source] std::io::Error),
    /// The operating system gave no random bytes.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[source] palisade_store::Error),
}

/// What the server needs from its store: cluster history and platform state.
pub trait Backend: Store + PlatformStore + Clone + 'static {}

impl<T: Store + PlatformStore + Clone + 'static> Backend for T {}

/// Shared state of the handlers.
pub(crate) struct App<S> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) metrics: metrics::Metrics,
    /// Whether connections are TLS (cookies and HSTS follow).
    pub(crate) tls: bool,
    /// The audit webhook receiver, when enabled.
    pub(crate) audit: Option<AuditReceiver>,
    /// Derived views of each cluster's latest snapshot, shared by the API and the dashboard.
    pub(crate) views: views::ViewCache,
}

/// Handler state.
pub(crate) type AppState<S> = Arc<App<S>>;

/// The platform server.
pub struct Server<S> {
    app: AppState<S>,
    tls: Option<Arc<rustls::ServerConfig>>,
    cert_path: Option<PathBuf>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.app.config)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Backend> Server<S> {
    /// Prepares the server: loads the TLS material, generating the self-signed pair at first
    /// start.
    pub fn new(config: Config, store: S) -> Result<Server<S>, Error> {
        let (tls, cert_path) = match &config.tls {
            TlsMode::Plain => (None, None),
            TlsMode::SelfSigned => {
                let (cert, key) = tls::ensure_self_signed(&config.data_dir, &config.hostnames)?;
                (Some(tls::server_config(&cert, &key)?), Some(cert))
            }
            TlsMode::Files { cert, key } => {
                (Some(tls::server_config(cert, key)?), Some(cert.clone()))
            }
        };
        let app = Arc::new(App {
            store,
            config,
            metrics: metrics::Metrics::default(),
            tls: tls.is_some(),
            audit: None,
            views: views::ViewCache::default(),
        });
        Ok(Server {
            app,
            tls,
            cert_path,
        })
    }

    /// Enables the audit webhook (`POST /api/v1/audit/webhook`) with this receiver;
    /// without it the route answers 404.
    pub fn with_audit(mut self, receiver: AuditReceiver) -> Server<S> {
        if let Some(app) = Arc::get_mut(&mut self.app) {
            app.audit = Some(receiver);
        }
        self
    }

    /// The certificate the server presents (PEM file), if it speaks TLS.
    pub fn certificate_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// The complete router (API, dashboard, health, metrics) with its middleware.
    pub fn router(&self) -> Router {
        build_router(self.app.clone())
    }

    /// Serves connections from `listener` until `shutdown` completes, then lets open
    /// connections finish (at most 30 seconds).
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send,
    {
        let local = listener.local_addr().map_err(Error::Listener)?;
        if self.tls.is_none() && !local.ip().is_loopback() {
            return Err(Error::PlainNotLoopback(local));
        }
        let router = self.router();
        let ticker = self.app.audit.clone().map(|receiver| {
            let app = self.app.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    let r = receiver.clone();
                    if let Ok(alerts) = tokio::task::spawn_blocking(move || r.tick()).await {
                        api::record_audit_alerts(&app, &alerts).await;
                    }
                }
            })
        });
        let acceptor = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let graceful = GracefulShutdown::new();
        tracing::info!(address = %local, tls = acceptor.is_some(), "Palisade server listening");
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // e.g. too many open files: back off instead of spinning.
                        tracing::warn!(error = %e, "Accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let watcher = graceful.watcher();
            let service = TowerToHyperService::new(router.clone());
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT);
                let result = match acceptor {
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                watcher
                                    .watch(http.serve_connection(TokioIo::new(stream), service))
                                    .await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                    None => {
                        watcher
                            .watch(http.serve_connection(TokioIo::new(tcp), service))
                            .await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "Connection ended with an error");
                }
            });
        }
        if let Some(t) = ticker {
            t.abort();
            // The events folded into open alerts since the last tick.
            if let Some(receiver) = self.app.audit.clone()
                && let Ok(alerts) = tokio::task::spawn_blocking(move || receiver.tick()).await
            {
                api::record_audit_alerts(&self.app, &alerts).await;
            }
        }
        tracing::info!("Shutting down, draining open connections");
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(DRAIN_TIMEOUT) => {
                tracing::warn!("Connections still open after the drain timeout");
            }
        }
        Ok(())
    }
}

fn build_router<S: Backend>(app: AppState<S>) -> Router {
    let mut public = Router::new();
    let mut private = Router::new();
    for route in api::routes::<S>() {
        if route.public {
            public = public.route(route.path, route.handler);
        } else {
            private = private.route(route.path, route.handler);
        }
    }
    let private = private.route_layer(middleware::from_fn_with_state(
        app.clone(),
        auth::require_token::<S>,
    ));
    Router::new()
        .merge(public)
        .merge(private)
        .merge(dashboard::routes::<S>())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), limit_body::<S>))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            security_headers::<S>,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            metrics::count_requests::<S>,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(app)
}

async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        error::ApiError::NotFound(format!("no route {}", request.uri().path())).into_response()
    } else {
        dashboard::not_found_page()
    }
}

/// Gives each request an id (task-local while handled, `x-request-id` on the response).
async fn request_id(request: Request, next: Next) -> Response {
    let id = error::new_request_id();
    let mut response = error::with_request_id(id.clone(), next.run(request)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(error::REQUEST_ID_HEADER), v);
    }
    response
}

/// Refuses a body whose declared length exceeds the limit (413) before any handler runs, and
/// caps the body stream at the limit for bodies without a declared length.
async fn limit_body<S: Backend>(
    State(app): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path() == AUDIT_WEBHOOK_PATH && app.audit.is_some() {
        app.config.audit_body_limit
    } else {
        app.config.body_limit
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return error::ApiError::TooLarge(limit).into_response();
    }
    let request = request.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    next.run(request).await
}

/// Reads a whole (already limited) body; 413 past the limit.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, error::ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return error::ApiError::TooLarge(limit);
            }
            source = s.source();
        }
        error::ApiError::BadRequest(format!("cannot read the request body: {e}"))
    })
}

/// Security headers on every response.
async fn security_headers<S: Backend>(
    State(app): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::CACHE_CONTROL, "no-store");
    if app.tls {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}
