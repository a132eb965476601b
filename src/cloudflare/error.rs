//! What went wrong with a call, sorted by what the caller can do about it; messages carry
//! the endpoint, the HTTP status and Cloudflare's own error codes, and text from the API is
//! sanitized before it is shown.

use std::time::Duration;

use super::client::Endpoint;
use super::model::ApiMessage;

/// What went wrong with a call, by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer: connection refused, reset, DNS, TLS.
    #[error("{endpoint} request failed before an answer came: {message}")]
    Transport {
        /// Which call.
        endpoint: Endpoint,
        /// The transport's reason.
        message: String,
    },
    /// No complete answer within `request_timeout`.
    #[error("{endpoint} request timed out after {}", humantime::format_duration(*after))]
    Timeout {
        /// Which call.
        endpoint: Endpoint,
        /// The configured timeout.
        after: Duration,
    },
    /// HTTP 429.
    #[error("{endpoint} request was rate limited by Cloudflare (HTTP 429{}){}", fmt_retry(*retry_after), fmt_errors(errors))]
    RateLimited {
        /// Which call.
        endpoint: Endpoint,
        /// `retry-after`, when sent.
        retry_after: Option<Duration>,
        /// Cloudflare's errors (code 971).
        errors: Vec<ApiMessage>,
    },
    /// Any other non-2xx answer.
    #[error("{endpoint} request answered HTTP {status}{}", fmt_errors(errors))]
    Status {
        /// Which call.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// Cloudflare's errors, when the body had them.
        errors: Vec<ApiMessage>,
    },
    /// A 2xx answer with `success: false`.
    #[error(
        "{endpoint} request answered HTTP {status} with success=false{}",
        fmt_errors(errors)
    )]
    Unsuccessful {
        /// Which call.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// Cloudflare's errors.
        errors: Vec<ApiMessage>,
    },
    /// A 2xx answer whose body could not be read as the API's JSON.
    #[error("{endpoint} answer (HTTP {status}) could not be decoded: {message}")]
    Decode {
        /// Which call.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
}

fn fmt_retry(d: Option<Duration>) -> String {
    d.map(|d| format!(", retry-after {}s", d.as_secs()))
        .unwrap_or_default()
}

fn fmt_errors(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors.iter().take(5).map(ToString::to_string).collect();
    format!(": {}", parts.join("; "))
}

impl ApiError {
    /// The HTTP status, when an answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::RateLimited { .. } => Some(429),
            ApiError::Status { status, .. }
            | ApiError::Unsuccessful { status, .. }
            | ApiError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for 401 and 403: the credential is not accepted.
    #[cfg(any(test, feature = "fake"))]
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}
