//! Agent binaries in a local directory, for embedded mode.

use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use bazaar_domain::Sha256;
use bytes::Bytes;

use crate::{BlobError, BlobStore};

/// Binaries in a local directory, for embedded mode.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Uses (and creates) `root`; binaries go to `root/agents/<sha256>`.
    pub async fn open(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join("agents"))
            .await
            .with_context(|| format!("failed to create blob directory {}", root.display()))?;
        let root = tokio::fs::canonicalize(&root)
            .await
            .with_context(|| format!("failed to resolve blob directory {}", root.display()))?;
        Ok(LocalBlobStore { root })
    }

    fn path_of(&self, hash: &Sha256) -> PathBuf {
        // A `Sha256` is 64 hex digits, so it cannot escape the directory.
        self.root.join("agents").join(hash.as_str())
    }

    /// The directory as resolved when opened: absolute, symbolic links followed. Binaries
    /// are under its `agents/`.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put_agent_binary(&self, hash: &Sha256, bytes: Bytes) -> anyhow::Result<String> {
        let path = self.path_of(hash);
        let url = format!("file://{}", path.display());
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(url);
        }
        // Write beside, then rename: a reader never sees half a binary.
        static NEXT_PARTIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let sequence = NEXT_PARTIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let partial = path.with_extension(format!("partial-{}-{sequence}", std::process::id()));
        tokio::fs::write(&partial, &bytes)
            .await
            .with_context(|| format!("failed to write agent binary {hash}"))?;
        tokio::fs::rename(&partial, &path)
            .await
            .with_context(|| format!("failed to store agent binary {hash}"))?;
        Ok(url)
    }

    async fn get_agent_binary(&self, hash: &Sha256) -> Result<Bytes, BlobError> {
        match tokio::fs::read(self.path_of(hash)).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(hash.clone()))
            }
            Err(error) => Err(BlobError::Other(
                anyhow::Error::new(error).context(format!("failed to read agent binary {hash}")),
            )),
        }
    }

    async fn check(&self) -> anyhow::Result<()> {
        tokio::fs::metadata(self.root.join("agents"))
            .await
            .context("the blob directory is not readable")?;
        Ok(())
    }
}
