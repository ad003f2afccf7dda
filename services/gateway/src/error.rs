//! The gateway's error type: one [`ErrorCode`] and a message the client may read.
//!
//! A 5xx logs its cause and shows the client only a clean message; a 4xx says exactly what
//! was wrong with the request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bazaar_database::StoreError;
use bazaar_domain::{ErrorCode, ParseError};
use bazaar_queue::QueueError;
use bazaar_results::ResultsError;
use serde::Serialize;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    /// Decides the HTTP status and the `code` the client reads.
    pub code: ErrorCode,
    /// Sent to the client as is, so for a 5xx it names what failed, never the cause.
    pub message: String,
    /// The underlying cause of a server-side failure, logged and never sent.
    source: Option<anyhow::Error>,
}

/// The error envelope: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always present: a response carries exactly one error.
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// One of bad_request, unauthorized, forbidden, not_found, conflict, payload_too_large,
    /// unprocessable, rate_limited, internal, unavailable, timeout.
    #[schema(example = "not_found")]
    pub code: &'static str,
    #[schema(example = "agent agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f does not exist")]
    pub message: String,
}

impl ApiError {
    /// An error with no cause to log; for a failure on our side use
    /// [`internal`](Self::internal) or [`unavailable`](Self::unavailable), which keep one.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// 400: the request cannot be read (a missing part, a bad query parameter).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// 401: no token, a token that is invalid, expired or revoked, or wrong credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    /// 404, also for what exists but belongs to another user, so that ids reveal nothing.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// 422: the request is readable but a value breaks its rules; the message starts with
    /// the field (`price: …`).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unprocessable, message)
    }

    /// A server-side failure: the client sees `message`, the log sees `cause`.
    pub fn internal(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        ApiError {
            code: ErrorCode::Internal,
            message: message.into(),
            source: Some(cause.into()),
        }
    }

    /// 503: a dependency failed in a way that retrying later may fix; the client sees
    /// `message`, the log sees `cause`.
    pub fn unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        ApiError {
            code: ErrorCode::Unavailable,
            message: message.into(),
            source: Some(cause.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            match &self.source {
                Some(cause) => {
                    tracing::error!(code = %self.code, cause = format!("{cause:#}"), "{}", self.message)
                }
                None => tracing::warn!(code = %self.code, "{}", self.message),
            }
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str(),
                message: self.message,
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<ParseError> for ApiError {
    fn from(error: ParseError) -> Self {
        ApiError::unprocessable(error.to_string())
    }
}

impl ApiError {
    /// The failure of a dependency (`what`: "the database", "the task queue", …), by the
    /// code the dependency's error says it is. A 5xx tells the client only what failed and
    /// keeps the cause for the log; a 4xx says what the dependency said.
    fn from_dependency(
        code: ErrorCode,
        what: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = match code {
            ErrorCode::Unavailable => format!("{what} is unavailable, retry later"),
            ErrorCode::Timeout => format!("{what} did not answer in time, retry later"),
            ErrorCode::Internal => format!("{what} failed"),
            _ => return ApiError::new(code, error.to_string()),
        };
        ApiError {
            code,
            message,
            source: Some(anyhow::Error::new(error)),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            other => ApiError::from_dependency(other.code(), "the database", other),
        }
    }
}

impl From<ResultsError> for ApiError {
    fn from(error: ResultsError) -> Self {
        match error {
            ResultsError::Remote { code, message } if code.http_status() < 500 => {
                ApiError::new(code, message)
            }
            other => ApiError::from_dependency(other.code(), "the results service", other),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Full => ApiError::new(
                ErrorCode::Unavailable,
                "the task queue is full, retry later",
            ),
            other => ApiError::from_dependency(other.code(), "the task queue", other),
        }
    }
}

/// Builds API errors for request extractors whose rejections would otherwise be plain text.
pub(crate) mod rejections {
    use axum::extract::multipart::{MultipartError, MultipartRejection};
    use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
    use bazaar_domain::ErrorCode;

    use super::ApiError;

    impl From<JsonRejection> for ApiError {
        fn from(rejection: JsonRejection) -> Self {
            match rejection {
                JsonRejection::JsonDataError(error) => ApiError::unprocessable(error.body_text()),
                JsonRejection::JsonSyntaxError(error) => ApiError::bad_request(error.body_text()),
                JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
                    "expected a JSON body with `Content-Type: application/json`",
                ),
                JsonRejection::BytesRejection(error) if error.status().as_u16() == 413 => {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                }
                other => ApiError::bad_request(other.body_text()),
            }
        }
    }

    impl From<QueryRejection> for ApiError {
        fn from(rejection: QueryRejection) -> Self {
            ApiError::bad_request(rejection.body_text())
        }
    }

    impl From<PathRejection> for ApiError {
        fn from(rejection: PathRejection) -> Self {
            ApiError::bad_request(rejection.body_text())
        }
    }

    impl From<MultipartRejection> for ApiError {
        fn from(rejection: MultipartRejection) -> Self {
            ApiError::bad_request(format!(
                "expected a multipart/form-data body with `metadata` and `binary` parts: {}",
                rejection.body_text()
            ))
        }
    }

    impl From<MultipartError> for ApiError {
        fn from(error: MultipartError) -> Self {
            if error.status().as_u16() == 413 {
                return ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the upload is larger than allowed",
                );
            }
            ApiError::bad_request(format!("malformed multipart body: {}", error.body_text()))
        }
    }
}
