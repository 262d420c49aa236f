//! TLS client connections for the exporters (syslog over TLS, RFC 5425; `https://`), with
//! rustls and its ring provider. Servers are verified against the system's trust store
//! and/or extra CA certificates given in PEM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::ExportError;

/// Which certificate authorities a TLS destination is verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust the system's certificate store.
    pub system_roots: bool,
    /// Also trust these CA certificates (PEM text, one or more).
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            system_roots: true,
            extra_roots_pem: None,
        }
    }
}

/// A byte stream, plain or TLS.
pub(crate) trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Builds the client configuration for `opts`.
pub(crate) fn client_config(
    opts: &TlsOptions,
    target: &str,
) -> Result<Arc<ClientConfig>, ExportError> {
    let bad = |message: String| ExportError::Config {
        target: target.to_string(),
        message,
    };
    let mut roots = RootCertStore::empty();
    if opts.system_roots {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
    }
    if let Some(pem) = &opts.extra_roots_pem {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad(format!("bad CA certificate PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad("no certificate in the CA PEM".into()));
        }
    }
    if roots.is_empty() {
        return Err(bad(
            "no trusted CA certificate (system store empty, none given)".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Wraps a connected socket in TLS to `host` (a name or an address, without port).
pub(crate) fn wrap(
    tcp: TcpStream,
    host: &str,
    cfg: &Arc<ClientConfig>,
    target: &str,
) -> Result<Box<dyn Stream>, ExportError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string()).map_err(|e| ExportError::Config {
        target: target.to_string(),
        message: format!("invalid TLS server name {host:?}: {e}"),
    })?;
    let conn = ClientConnection::new(cfg.clone(), name).map_err(|e| ExportError::Config {
        target: target.to_string(),
        message: format!("TLS setup: {e}"),
    })?;
    let mut s = StreamOwned::new(conn, tcp);
    // Complete the handshake now, so certificate problems surface as connection errors.
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|source| ExportError::Io {
                target: target.to_string(),
                source,
            })?;
    }
    Ok(Box::new(s))
}

/// The host part of `host:port` (`[v6]:port` too).
pub(crate) fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => authority,
    }
}
