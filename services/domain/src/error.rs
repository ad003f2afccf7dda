use std::fmt;

/// The small set of error codes every Bazaar service speaks.
///
/// Each service's error type says which code it is; the code decides the HTTP status
/// (and, across gRPC, the status code), so a failure means the same thing on every protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed: unreadable JSON, a missing part, a bad query parameter.
    BadRequest,
    /// No credentials, or credentials that are not valid.
    Unauthorized,
    /// Valid credentials that do not allow this action.
    Forbidden,
    /// The resource does not exist, or is not visible to the caller.
    NotFound,
    /// The request conflicts with the current state (a taken name, an inactive agent).
    Conflict,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// The request is well-formed but its content is invalid (not WebAssembly, not semver).
    Unprocessable,
    /// The caller sends requests faster than allowed.
    RateLimited,
    /// Something failed on our side; details are in the logs, not in the response.
    Internal,
    /// A dependency is unavailable or the service is shutting down; retrying later may work.
    Unavailable,
    /// The service gave up waiting (for example on a synchronous run's result).
    Timeout,
}

impl ErrorCode {
    /// The HTTP status code for this error.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Unprocessable => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
        }
    }

    /// The machine-readable name clients see in `{"error": {"code": ...}}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unprocessable => "unprocessable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A value from outside did not parse into a domain type. The message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParseError {
    /// Which field was being parsed, e.g. `version`.
    pub field: &'static str,
    /// What is wrong with it, in words a client can act on.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        ParseError {
            field,
            message: message.into(),
        }
    }
}
