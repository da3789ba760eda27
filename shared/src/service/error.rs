//! The one place where failures become protocol codes.

use crate::auth::AuthError;
use crate::domain::Invalid;
use crate::presence::PresenceError;
use crate::protocol::{Code, Failure};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    /// No valid credentials (HTTP 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials, action not allowed (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Wrong(String),
    #[error("{0}")]
    NoInfo(String),
    #[error("{0}")]
    Exist(String),
    #[error("{0}")]
    NoSpace(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many requests; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// A backend is unreachable; the cause is logged, never shown.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; the cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    /// Over a limit until `wait` has passed (told in whole milliseconds, at least one).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        ServiceError::RateLimited { retry_after_ms: wait.as_millis().max(1) as u64 }
    }

    pub fn code(&self) -> Code {
        match self {
            ServiceError::Invalid(_) => Code::Invalid,
            ServiceError::Unauthenticated(_) | ServiceError::Forbidden(_) => Code::NotAuth,
            ServiceError::Wrong(_) => Code::Wrong,
            ServiceError::NoInfo(_) => Code::NoInfo,
            ServiceError::Exist(_) => Code::Exist,
            ServiceError::NoSpace(_) => Code::NoSpace,
            ServiceError::TooLarge(_) => Code::TooLarge,
            ServiceError::RateLimited { .. } => Code::RateLimited,
            ServiceError::Unavailable(_) | ServiceError::Internal(_) => Code::Error,
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            ServiceError::Forbidden(_) => 403,
            ServiceError::Unavailable(_) => 503,
            other => other.code().http_status(),
        }
    }

    /// How this failure goes on the wire, in every envelope: the WebSocket reply, the HTTP
    /// body and the `$connect` answer.
    pub fn to_failure(&self) -> Failure {
        let retry_after_ms = match self {
            ServiceError::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        };
        Failure { code: self.code(), message: self.public_message(), retry_after_ms }
    }

    /// What the client is told: never an internal cause.
    fn public_message(&self) -> String {
        match self {
            ServiceError::Unavailable(_) => "the service is temporarily unavailable; try again".into(),
            ServiceError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    /// Failures of the service itself go to the log with their cause.
    pub fn log(&self, action: &str) {
        match self {
            ServiceError::Unavailable(cause) => tracing::warn!(action, %cause, "backend unavailable"),
            ServiceError::Internal(cause) => tracing::error!(action, %cause, "internal error"),
            _ => tracing::debug!(action, code = ?self.code(), "refused"),
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(err: Invalid) -> Self {
        ServiceError::Invalid(err.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            ServiceError::Unavailable(err.to_string())
        } else {
            ServiceError::Internal(err.to_string())
        }
    }
}

impl From<PresenceError> for ServiceError {
    fn from(err: PresenceError) -> Self {
        ServiceError::Unavailable(err.to_string())
    }
}

impl From<AuthError> for ServiceError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::MissingToken | AuthError::BadToken => ServiceError::Unauthenticated(err.to_string()),
            AuthError::Hashing(_) | AuthError::Randomness(_) => ServiceError::Internal(err.to_string()),
            // A queue of one second's hashing per core is already waiting.
            AuthError::Busy => ServiceError::RateLimited { retry_after_ms: 1000 },
        }
    }
}
