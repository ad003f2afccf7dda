//! A test double of the blob store: binaries in a map, and a switch that takes the store
//! down the way an unreachable S3 bucket is down (every call fails with `BlobError::Other`).
//! The real backends have a contract suite of their own (`services/blobs/tests`); here the
//! worker's reaction to each answer is what is tested.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bazaar_blobs::{BlobError, BlobStore};
use bazaar_domain::Sha256;
use bytes::Bytes;
use tokio::sync::watch;

use crate::PATIENCE;

pub struct MemoryBlobStore {
    binaries: Mutex<HashMap<Sha256, Bytes>>,
    down: AtomicBool,
    /// Reads answered so far, whatever the answer; a test waits on it to know that the
    /// worker has asked.
    reads: watch::Sender<usize>,
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        MemoryBlobStore {
            binaries: Mutex::new(HashMap::new()),
            down: AtomicBool::new(false),
            reads: watch::Sender::new(0),
        }
    }
}

impl MemoryBlobStore {
    /// Stores `wasm` under its own digest, as the gateway does, and returns the digest.
    pub fn add(&self, wasm: impl Into<Bytes>) -> Sha256 {
        let wasm = wasm.into();
        let hash = Sha256::digest(&wasm);
        self.add_under(&hash, wasm);
        hash
    }

    /// Stores `bytes` under `hash` whatever they hash to: a tampered or corrupted store.
    pub fn add_under(&self, hash: &Sha256, bytes: impl Into<Bytes>) {
        self.binaries
            .lock()
            .expect("blob map lock poisoned")
            .insert(hash.clone(), bytes.into());
    }

    /// Takes the store down (`true`) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many binaries were asked for so far.
    pub fn reads(&self) -> usize {
        *self.reads.borrow()
    }

    /// Returns once `count` reads have been answered; fails the test if that takes too long.
    pub async fn until_read(&self, count: usize) {
        let mut reads = self.reads.subscribe();
        tokio::time::timeout(PATIENCE, reads.wait_for(|reads| *reads >= count))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the blob store was read {} times, expected {count}",
                    self.reads()
                )
            })
            .expect("the read counter lives as long as the store");
    }

    fn unavailable(&self) -> Option<anyhow::Error> {
        self.down
            .load(Ordering::SeqCst)
            .then(|| anyhow::anyhow!("the in-memory blob store is down"))
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put_agent_binary(&self, hash: &Sha256, bytes: Bytes) -> anyhow::Result<String> {
        if let Some(error) = self.unavailable() {
            return Err(error);
        }
        self.add_under(hash, bytes);
        Ok(format!("memory:///agents/{hash}"))
    }

    async fn get_agent_binary(&self, hash: &Sha256) -> Result<Bytes, BlobError> {
        let answer = match self.unavailable() {
            Some(error) => Err(BlobError::Other(error)),
            None => self
                .binaries
                .lock()
                .expect("blob map lock poisoned")
                .get(hash)
                .cloned()
                .ok_or_else(|| BlobError::NotFound(hash.clone())),
        };
        self.reads.send_modify(|reads| *reads += 1);
        answer
    }

    async fn check(&self) -> anyhow::Result<()> {
        match self.unavailable() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
