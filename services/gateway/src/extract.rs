//! axum's extractors, with rejections in the API's error envelope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bazaar_domain::UserId;
use sha2::Digest;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body; a malformed one is a 400, a well-formed one of the wrong shape a 422.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters; unparseable ones are a 400.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A multipart body; a request that is not multipart is a 400.
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Multipart {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(Multipart)
            .map_err(ApiError::from)
    }
}

/// Path parameters; unparseable ones are a 400.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The user behind the request's bearer token. Rejects with 401 when there is none.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub user_id: UserId,
    /// The SHA-256 of the presented token, as stored.
    pub token_hash: String,
}

/// The stored form of a token: its SHA-256 in hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

impl FromRequestParts<AppState> for AuthenticatedUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing `Authorization: Bearer <token>` header")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let token_hash = token_hash(token);
        let user_id = match state.token_cache.get(&token_hash) {
            Some(user_id) => user_id,
            None => {
                let user_id = state
                    .accounts
                    .find_token_user(&token_hash)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized("the token is invalid, expired or revoked")
                    })?;
                state
                    .token_cache
                    .insert(token_hash.clone(), user_id.clone());
                user_id
            }
        };
        Ok(AuthenticatedUser {
            user_id,
            token_hash,
        })
    }
}
