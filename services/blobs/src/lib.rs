//! Where agent binaries live: content-addressed by SHA-256, written by the gateway when an
//! agent is published and read by workers before a run.
//!
//! One trait, [`BlobStore`], with a backend per deployment mode: a local directory
//! ([`LocalBlobStore`], embedded mode) or an S3 bucket ([`S3BlobStore`], distributed mode).
//! Configuration names one by a [`BlobLocation`], parsed once from a URL; [`open`] turns it
//! into a store. This crate knows nothing of the database, so a worker that links it can
//! reach binaries and nothing else.

#![warn(missing_docs)]

mod local;
mod location;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use bazaar_domain::{ErrorCode, Sha256};
use bytes::Bytes;

pub use local::LocalBlobStore;
pub use location::{BlobLocation, S3Location};
pub use s3::S3BlobStore;

/// A blob could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Nothing is stored under this digest.
    #[error("no binary stored under {0}")]
    NotFound(Sha256),
    /// The store could not be reached or failed; retrying later may work.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl BlobError {
    /// What this failure means to a caller on any protocol.
    pub fn code(&self) -> ErrorCode {
        match self {
            BlobError::NotFound(_) => ErrorCode::NotFound,
            BlobError::Other(_) => ErrorCode::Unavailable,
        }
    }
}

/// Content-addressed storage of agent binaries: `agents/<sha256>`.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores an agent binary under its digest and returns its URL. Storing the same
    /// binary twice keeps one copy. The caller vouches that `hash` is the digest of `bytes`.
    async fn put_agent_binary(&self, hash: &Sha256, bytes: Bytes) -> anyhow::Result<String>;

    /// Reads an agent binary back. Callers verify the digest before trusting it.
    async fn get_agent_binary(&self, hash: &Sha256) -> Result<Bytes, BlobError>;

    /// Whether the store can be reached; used by readiness checks.
    async fn check(&self) -> anyhow::Result<()>;
}

/// Opens the store `location` names. With `create_bucket`, a missing S3 bucket is created
/// now; a local directory is always created.
pub async fn open(
    location: &BlobLocation,
    create_bucket: bool,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match location {
        BlobLocation::Directory(directory) => Arc::new(LocalBlobStore::open(directory).await?),
        BlobLocation::S3(bucket) => Arc::new(S3BlobStore::open(bucket, create_bucket).await?),
    })
}
