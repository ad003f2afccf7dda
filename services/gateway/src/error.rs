//! The gateway's error type: one [`ErrorCode`] and a message the client may read.
//!
//! A 5xx logs its cause and shows the client only a clean message; a 4xx says exactly what
//! was wrong with the request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bazaar_domain::{ErrorCode, ParseError};
use bazaar_queue::QueueError;
use bazaar_results::ResultsError;
use bazaar_storage::StoreError;
use serde::Serialize;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The underlying cause of a server-side failure, logged and never sent.
    source: Option<anyhow::Error>,
}

/// The error envelope: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
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
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            source: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

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

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            StoreError::Unavailable(cause) => {
                ApiError::unavailable("the database is unavailable, retry later", cause)
            }
            StoreError::Other(cause) => ApiError::internal("the database request failed", cause),
        }
    }
}

impl From<ResultsError> for ApiError {
    fn from(error: ResultsError) -> Self {
        match error {
            ResultsError::Unavailable(cause) => {
                ApiError::unavailable("the results service is unavailable, retry later", cause)
            }
            ResultsError::Internal(cause) => {
                ApiError::internal("the results service failed", cause)
            }
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
            QueueError::Unavailable(cause) => ApiError::unavailable(
                "the task queue is unavailable, retry later",
                anyhow::anyhow!(cause),
            ),
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
