//! Error codes shared by every service and protocol, and the error of a value that did
//! not parse.

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

    /// The gRPC status code for this error (the numbers of `grpc/status.proto`), so that a
    /// failure means the same across a gRPC hop as over HTTP.
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorCode::BadRequest | ErrorCode::Unprocessable => 3, // INVALID_ARGUMENT
            ErrorCode::Timeout => 4,                               // DEADLINE_EXCEEDED
            ErrorCode::NotFound => 5,                              // NOT_FOUND
            ErrorCode::Conflict => 6,                              // ALREADY_EXISTS
            ErrorCode::Forbidden => 7,                             // PERMISSION_DENIED
            ErrorCode::RateLimited => 8,                           // RESOURCE_EXHAUSTED
            ErrorCode::PayloadTooLarge => 11,                      // OUT_OF_RANGE
            ErrorCode::Internal => 13,                             // INTERNAL
            ErrorCode::Unavailable => 14,                          // UNAVAILABLE
            ErrorCode::Unauthorized => 16,                         // UNAUTHENTICATED
        }
    }

    /// The error code a gRPC status code means: the inverse of [`grpc_code`](Self::grpc_code)
    /// (`INVALID_ARGUMENT` comes back as `Unprocessable`). A call that was cancelled,
    /// aborted or failed for an unknown reason (as a broken connection does) is
    /// `Unavailable`: retrying may work.
    pub fn from_grpc_code(code: i32) -> ErrorCode {
        match code {
            3 => ErrorCode::Unprocessable,
            4 => ErrorCode::Timeout,
            5 => ErrorCode::NotFound,
            6 | 9 => ErrorCode::Conflict,
            7 => ErrorCode::Forbidden,
            8 => ErrorCode::RateLimited,
            11 => ErrorCode::PayloadTooLarge,
            1 | 2 | 10 | 14 => ErrorCode::Unavailable,
            16 => ErrorCode::Unauthorized,
            _ => ErrorCode::Internal,
        }
    }

    /// Every code, for tests that walk them all.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unprocessable,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
    ];

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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_survives_a_grpc_hop() {
        for code in ErrorCode::ALL {
            let back = ErrorCode::from_grpc_code(code.grpc_code());
            // gRPC has one INVALID_ARGUMENT for both kinds of bad input.
            let expected = match code {
                ErrorCode::BadRequest => ErrorCode::Unprocessable,
                other => other,
            };
            assert_eq!(back, expected, "{code}");
        }
    }

    #[test]
    fn a_broken_or_cancelled_call_is_unavailable() {
        for grpc_code in [1, 2, 10, 14] {
            assert_eq!(ErrorCode::from_grpc_code(grpc_code), ErrorCode::Unavailable);
        }
        assert_eq!(ErrorCode::from_grpc_code(12), ErrorCode::Internal);
    }
}
