//! API errors and request ids.
//!
//! Every request gets a random id (the `x-request-id` response header), kept in a task-local
//! while the request is handled so that an error response can name it without threading it
//! through every handler. Internal errors are logged with their full cause chain and the id;
//! the client sees a generic message and the id only.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Name of the response header carrying the request id.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// A new random request id (16 hex digits).
pub(crate) fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    // An id is only a correlation aid: fall back to the clock if the OS refuses randomness.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_be_bytes();
    }
    crate::auth::hex(&bytes)
}

/// Runs `fut` with `id` as the current request id.
pub(crate) async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The id of the request being handled (empty outside a request).
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An error answered to an API client.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400: the request is malformed (query, JSON, path).
    BadRequest(String),
    /// 401: no token or an unknown one.
    Unauthorized,
    /// 403: the token's role may not do this.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 413.
    TooLarge(usize),
    /// 500: logged, never shown.
    Internal(String),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The message shown to the client.
    pub(crate) fn public_message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m) => m.clone(),
            ApiError::Unauthorized => "a valid bearer token is required".to_owned(),
            ApiError::TooLarge(limit) => format!("the request body exceeds {limit} bytes"),
            ApiError::Internal(_) => {
                "internal error; quote the request id when reporting it".to_owned()
            }
        }
    }

    /// Logs internal errors (with the request id); the others are the client's business.
    pub(crate) fn log(&self) {
        if let ApiError::Internal(detail) = self {
            tracing::error!(request_id = %current_request_id(), error = %detail, "Internal error");
        }
    }
}

/// Formats an error with its chain of causes.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<palisade_store::Error> for ApiError {
    fn from(e: palisade_store::Error) -> Self {
        match e {
            palisade_store::Error::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(chain(&other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = json!({
            "error": self.code(),
            "message": self.public_message(),
            "request_id": current_request_id(),
        });
        let mut response = (status, Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"palisade\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn internal_errors_show_only_a_generic_message_and_the_request_id() {
        let response = with_request_id("abc123".into(), async {
            ApiError::Internal("database is locked at /secret/path".into()).into_response()
        })
        .await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["request_id"], "abc123");
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains("secret"), "{body}");
    }
}
