//! Bearer-token authentication and roles.
//!
//! A token is 32 random bytes from the operating system, shown once as `pal_` + 64 hex digits.
//! The store keeps only its SHA-256, so a token is found by hashing what the client presents
//! and looking the hash up (no plaintext comparison, nothing to leak from the database).
//!
//! The API takes the token from `Authorization: Bearer ...` or from the dashboard's session
//! cookie (HttpOnly, Secure, SameSite=Strict). A write made with the cookie must also carry the
//! session's CSRF token (header `x-csrf-token` for the API, a form field for the dashboard): the
//! SameSite attribute already keeps other sites from sending the cookie, the CSRF token covers
//! browsers that ignore it. The CSRF token is derived from the session token by hashing, so the
//! server keeps no session state.
//!
//! Tokens are never logged: the auth code logs nothing about the token it is given.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use palisade_store::{PlatformStore, Role, TokenRecord};
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::{AppState, Backend, Error};

/// Name of the dashboard's session cookie.
pub(crate) const SESSION_COOKIE: &str = "palisade_session";
/// Header carrying the CSRF token on cookie-authenticated API writes.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
const TOKEN_PREFIX: &str = "pal_";

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The hash under which a token is stored (SHA-256 of its text, hex).
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new random token (`pal_` + 64 hex digits).
fn generate_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// Creates an API token with `role` and a free `label` (who uses it); returns the plaintext,
/// which is not stored anywhere and must be shown to the user now.
pub async fn create_token<S: PlatformStore>(
    store: &S,
    role: Role,
    label: &str,
) -> Result<String, Error> {
    let token = generate_token()?;
    store
        .insert_token(&hash_token(&token), role, label)
        .await
        .map_err(Error::Store)?;
    Ok(token)
}

/// The CSRF token of a session: a hash of the session token under a distinct prefix.
pub(crate) fn csrf_token(session_token: &str) -> String {
    hex(&Sha256::digest(
        format!("palisade-csrf\0{session_token}").as_bytes(),
    ))
}

/// Who is making a request.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The token's record.
    pub(crate) token: TokenRecord,
    /// The CSRF token of this session.
    pub(crate) csrf: String,
    /// Whether the token came from the session cookie (not a bearer header).
    pub(crate) via_cookie: bool,
}

impl Principal {
    /// The name written into audit fields (`label#id`).
    pub(crate) fn actor(&self) -> String {
        format!("{}#{}", self.token.label, self.token.id)
    }

    /// Fails with 403 unless the principal is an admin.
    pub(crate) fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.token.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("{what} needs an admin token")))
        }
    }
}

/// The value of a cookie in the `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The presented token: bearer header first, then the session cookie.
fn presented(headers: &HeaderMap) -> Option<(&str, bool)> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let text = v.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some((token.trim(), false));
    }
    cookie(headers, SESSION_COOKIE).map(|t| (t, true))
}

/// Resolves the token presented in `headers`; `None` when absent or unknown.
pub(crate) async fn authenticate<S: Backend>(
    store: &S,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    let Some((token, via_cookie)) = presented(headers) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    Ok(store
        .token_by_hash(&hash_token(token))
        .await?
        .map(|record| Principal {
            token: record,
            csrf: csrf_token(token),
            via_cookie,
        }))
}

/// API middleware: 401 without a valid token; cookie-authenticated writes need the CSRF header.
pub(crate) async fn require_token<S: Backend>(
    State(app): State<AppState<S>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = authenticate(&app.store, request.headers())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    // A sensor token only posts events: nothing else, not even reads.
    if principal.token.role == Role::Sensor && request.uri().path() != crate::AUDIT_WEBHOOK_PATH {
        return Err(ApiError::Forbidden(
            "a sensor token may only post events".into(),
        ));
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if principal.via_cookie && !safe {
        let given = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if given != Some(principal.csrf.as_str()) {
            return Err(ApiError::Forbidden(format!(
                "a write authenticated by the session cookie needs the {CSRF_HEADER} header"
            )));
        }
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed_with_sha256() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("pal_") && a.len() == 68);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(csrf_token(&a), hash_token(&a));
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; palisade_session=tok2"),
        );
        assert_eq!(presented(&h), Some(("tok2", true)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok1"),
        );
        assert_eq!(presented(&h), Some(("tok1", false)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(presented(&h), None);
    }
}
