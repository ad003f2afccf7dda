//! Accounts and bearer tokens.
//!
//! Passwords are hashed with Argon2id (on the blocking pool: a hash takes tens of
//! milliseconds). Tokens are 256 random bits, shown once and stored only as their SHA-256.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::State;
use axum::http::StatusCode;
use bazaar_domain::{Password, UserId, Username};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, token_hash};
use crate::state::AppState;

/// A new account's credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3 to 32 characters of letters, digits, `_`, `-` or `.`.
    #[schema(example = "ada")]
    pub username: String,
    /// 8 to 256 characters.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user_id: String,
    pub username: String,
    /// A bearer token for the new account.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| {
            ApiError::internal("failed to hash the password", anyhow::anyhow!("{error}"))
        })
}

fn password_matches(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified against when the user does not exist, so that an unknown name takes as long
/// as a wrong password and does not reveal which names are taken.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("decoy password").expect("hashing a constant works"));

async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal("password hashing was interrupted", error))
}

/// A new random token: `bzr_` and 64 hex digits.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("bzr_{}", hex::encode(bytes))
}

async fn issue_token(
    state: &AppState,
    user_id: &UserId,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let token = new_token();
    let ttl = chrono::Duration::from_std(state.config.token_ttl)
        .map_err(|error| ApiError::internal("invalid token lifetime", error))?;
    let expires_at = Utc::now() + ttl;
    state
        .accounts
        .create_token(&token_hash(&token), user_id, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// Creates an account and returns its first token.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid username or password", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Json(request): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let username = Username::parse(&request.username)?;
    let password = Password::parse(&request.password)?;
    let password_hash = on_blocking_pool(move || hash_password(password.expose())).await??;
    let user_id = UserId::generate();
    state
        .accounts
        .create_user(&user_id, &username, &password_hash)
        .await
        .map_err(|error| match error {
            bazaar_database::StoreError::Conflict(_) => ApiError::new(
                bazaar_domain::ErrorCode::Conflict,
                format!("the username `{username}` is taken"),
            ),
            other => other.into(),
        })?;
    let (token, _) = issue_token(&state, &user_id).await?;
    tracing::info!(user_id = %user_id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: user_id.to_string(),
            username: username.to_string(),
            token,
        }),
    ))
}

/// Exchanges a username and password for a new bearer token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let wrong = || ApiError::unauthorized("wrong username or password");
    let credentials = match Username::parse(&request.username) {
        Ok(username) => state.accounts.find_credentials(&username).await?,
        Err(_) => None,
    };
    let stored_hash = credentials
        .as_ref()
        .map(|credentials| credentials.password_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.clone());
    let password = request.password;
    let matches = on_blocking_pool(move || password_matches(&password, &stored_hash)).await?;
    let credentials = credentials.filter(|_| matches).ok_or_else(wrong)?;
    let (token, expires_at) = issue_token(&state, &credentials.user_id).await?;
    Ok(Json(LoginResponse {
        token,
        user_id: credentials.user_id.to_string(),
        expires_at,
    }))
}

/// Revokes the token the request carries.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token no longer works"),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthenticatedUser,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_token(&user.token_hash).await?;
    state.token_cache.remove(&user.token_hash);
    Ok(StatusCode::NO_CONTENT)
}
