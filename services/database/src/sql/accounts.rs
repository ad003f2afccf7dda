//! [`AccountStore`] for every SQL store: users and tokens are one set of statements in both
//! databases, with times stored as the dialect stores them.

use async_trait::async_trait;
use bazaar_domain::{UserId, Username};
use chrono::{DateTime, Utc};

use super::rows::{credentials_from_row, user_id_from_row};
use super::{Runs, SqlStore, Statement, fetch_record};
use crate::{AccountStore, Credentials, StoreError};

const INSERT_USER: &str =
    "insert into users (id, username, password_hash, created_at) values ($1, $2, $3, $4)";

const SELECT_CREDENTIALS: &str =
    "select id, username, password_hash from users where username = $1";

const INSERT_TOKEN: &str = "insert into api_tokens (token_hash, user_id, created_at, expires_at) \
     values ($1, $2, $3, $4)";

/// The service's clock, not the database's, decides expiry, as it decided `expires_at`.
const SELECT_TOKEN_USER: &str =
    "select user_id from api_tokens where token_hash = $1 and expires_at > $2";

const DELETE_TOKEN: &str = "delete from api_tokens where token_hash = $1";

#[async_trait]
impl<Store: SqlStore> AccountStore for Store {
    async fn create_user(
        &self,
        id: &UserId,
        username: &Username,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let insert = Statement::new(INSERT_USER)
            .bind(id.as_str())
            .bind(username.as_str())
            .bind(password_hash)
            .bind(Utc::now());
        Store::Database::execute(self.writer(), insert).await?;
        Ok(())
    }

    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError> {
        let select = Statement::new(SELECT_CREDENTIALS).bind(username.as_str());
        fetch_record(self.reader(), select, credentials_from_row).await
    }

    async fn create_token(
        &self,
        token_hash: &str,
        user_id: &UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let insert = Statement::new(INSERT_TOKEN)
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(Utc::now())
            .bind(expires_at);
        Store::Database::execute(self.writer(), insert).await?;
        Ok(())
    }

    async fn find_token_user(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        let select = Statement::new(SELECT_TOKEN_USER)
            .bind(token_hash)
            .bind(Utc::now());
        fetch_record(self.reader(), select, user_id_from_row).await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError> {
        let delete = Statement::new(DELETE_TOKEN).bind(token_hash);
        Store::Database::execute(self.writer(), delete).await?;
        Ok(())
    }
}
