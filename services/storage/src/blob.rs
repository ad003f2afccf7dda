use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bazaar_domain::Sha256;
use bytes::Bytes;

/// A blob could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no binary stored under {0}")]
    NotFound(Sha256),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
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
            .map_err(|error| {
                anyhow::anyhow!(
                    "failed to create blob directory {}: {error}",
                    root.display()
                )
            })?;
        let root = tokio::fs::canonicalize(&root).await?;
        Ok(LocalBlobStore { root })
    }

    fn path_of(&self, hash: &Sha256) -> PathBuf {
        // A `Sha256` is 64 hex digits, so it cannot escape the directory.
        self.root.join("agents").join(hash.as_str())
    }

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
            .map_err(|error| anyhow::anyhow!("failed to write agent binary {hash}: {error}"))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|error| anyhow::anyhow!("failed to store agent binary {hash}: {error}"))?;
        Ok(url)
    }

    async fn get_agent_binary(&self, hash: &Sha256) -> Result<Bytes, BlobError> {
        match tokio::fs::read(self.path_of(hash)).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(hash.clone()))
            }
            Err(error) => Err(BlobError::Other(anyhow::anyhow!(
                "failed to read agent binary {hash}: {error}"
            ))),
        }
    }

    async fn check(&self) -> anyhow::Result<()> {
        tokio::fs::metadata(self.root.join("agents"))
            .await
            .map_err(|error| anyhow::anyhow!("blob directory is not readable: {error}"))?;
        Ok(())
    }
}
