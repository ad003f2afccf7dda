//! One constructor per backend. Each returns a fresh, empty store that lives as long as the
//! value it returns; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bazaar_domain::AgentId;
use bazaar_storage::{
    AccountStore, AgentStore, BlobStore, HealthCheck, LocalBlobStore, ResultStore, SqliteStore,
    TaskStore,
};

/// The database stores of one backend, seen only through their traits.
pub struct Backend {
    pub accounts: Arc<dyn AccountStore>,
    pub agents: Arc<dyn AgentStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub results: Arc<dyn ResultStore>,
    pub health: Arc<dyn HealthCheck>,
    pub seeding: Arc<dyn Seeding>,
    // Dropped last: whatever holds the database (a temporary directory, a throwaway schema).
    _storage: Box<dyn Any + Send + Sync>,
}

/// State the contract needs but no trait writes yet, set directly in the backend.
#[async_trait]
pub trait Seeding: Send + Sync + 'static {
    /// Sets an agent's average rating; ratings have no writer in Bazaar so far, yet listings
    /// filter and sort by them.
    async fn set_rating(&self, agent_id: &AgentId, rating: f64);
}

/// SQLite in a file of its own temporary directory, as embedded mode runs it.
pub async fn sqlite() -> Backend {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/test.db", directory.path().display());
    let store = Arc::new(SqliteStore::open(&url).await.expect("sqlite store opens"));
    let seeding = SqliteSeeding {
        pool: sqlx::SqlitePool::connect(&url)
            .await
            .expect("a second connection to the sqlite file"),
    };
    Backend {
        accounts: store.clone(),
        agents: store.clone(),
        tasks: store.clone(),
        results: store.clone(),
        health: store,
        seeding: Arc::new(seeding),
        _storage: Box::new(directory),
    }
}

struct SqliteSeeding {
    pool: sqlx::SqlitePool,
}

#[async_trait]
impl Seeding for SqliteSeeding {
    async fn set_rating(&self, agent_id: &AgentId, rating: f64) {
        let updated = sqlx::query("update agents set rating = ? where id = ?")
            .bind(rating)
            .bind(agent_id.as_str())
            .execute(&self.pool)
            .await
            .expect("rating is set")
            .rows_affected();
        assert_eq!(updated, 1, "no agent {agent_id} to rate");
    }
}

/// A blob store of one backend, seen only through its trait.
pub struct BlobBackend {
    pub blobs: Arc<dyn BlobStore>,
    _storage: Box<dyn Any + Send + Sync>,
}

/// Binaries in a temporary directory, as embedded mode keeps them.
pub async fn local_blobs() -> BlobBackend {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = LocalBlobStore::open(directory.path().join("blobs"))
        .await
        .expect("local blob store opens");
    BlobBackend {
        blobs: Arc::new(store),
        _storage: Box::new(directory),
    }
}
