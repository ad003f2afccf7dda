//! The on-disk cache of compiled modules: a restarted process loads what it compiled before
//! (a fraction of a millisecond) instead of compiling it again (tens of milliseconds).
//!
//! Loading a compiled artifact runs its machine code, so the cache trusts nothing it did not
//! write itself: the directory belongs to this process's user (created `0700`, files `0600`),
//! it is never filled from S3 or from anything a user uploads, and every file is written to a
//! temporary name and renamed into place, so a reader never sees half a file. Artifacts live
//! under a directory named after the engine's compatibility fingerprint (wasmtime version,
//! compiler settings, CPU features), so an upgraded or reconfigured engine starts with an empty
//! cache instead of loading code built for another one; wasmtime checks the header again on
//! load. Every failure here is a cache miss, never a failed task: a file that cannot be
//! written or loaded is logged (and a bad one removed), and the caller compiles.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use bazaar_domain::Sha256;
use wasmtime::{Engine, Module};

#[derive(Debug)]
pub(crate) struct DiskCache {
    directory: PathBuf,
    capacity: usize,
}

impl DiskCache {
    /// Opens (creating it if needed) the cache for `engine` under `root`, keeping at most
    /// `capacity` artifacts.
    pub(crate) fn open(root: &Path, engine: &Engine, capacity: usize) -> std::io::Result<Self> {
        let directory = root.join(engine_fingerprint(engine));
        create_private_directory(root)?;
        create_private_directory(&directory)?;
        Ok(DiskCache {
            directory,
            capacity: capacity.max(1),
        })
    }

    fn path(&self, hash: &Sha256) -> PathBuf {
        self.directory.join(format!("{hash}.cwasm"))
    }

    /// The compiled module for `hash`, if this cache holds a loadable one.
    pub(crate) fn load(&self, engine: &Engine, hash: &Sha256) -> Option<Module> {
        let path = self.path(hash);
        if !path.exists() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(module) => Some(module),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "removing a compiled module that does not load");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `module` under `hash`, evicting the oldest artifacts beyond the capacity.
    pub(crate) fn store(&self, hash: &Sha256, module: &Module) {
        if let Err(error) = self.try_store(hash, module) {
            tracing::warn!(%hash, %error, "failed to cache a compiled module on disk");
        }
        if let Err(error) = self.evict() {
            tracing::warn!(%error, "failed to trim the on-disk module cache");
        }
    }

    fn try_store(&self, hash: &Sha256, module: &Module) -> anyhow::Result<()> {
        let bytes = module
            .serialize()
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let mut file = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.directory)?;
        file.write_all(&bytes)?;
        file.as_file().sync_data()?;
        file.persist(self.path(hash))?;
        Ok(())
    }

    /// Keeps the `capacity` most recently written artifacts.
    fn evict(&self) -> std::io::Result<()> {
        let mut artifacts = Vec::new();
        for entry in std::fs::read_dir(&self.directory)? {
            let entry = entry?;
            let is_artifact = entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.ends_with(".cwasm"));
            if is_artifact {
                artifacts.push((entry.metadata()?.modified()?, entry.path()));
            }
        }
        if artifacts.len() <= self.capacity {
            return Ok(());
        }
        artifacts.sort();
        let excess = artifacts.len() - self.capacity;
        for (_, path) in artifacts.into_iter().take(excess) {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }
}

/// Loads an artifact this cache wrote.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Module> {
    // SAFETY: wasmtime requires that the file holds an artifact produced by
    // `Module::serialize` of a trusted engine and that it is not modified while mapped. The
    // file was written by this cache (never downloaded or uploaded), in a directory only this
    // user can write, and is replaced by rename, never rewritten in place.
    unsafe { Module::deserialize_file(engine, path) }
}

/// A short, stable name for everything that makes compiled code loadable by `engine`.
fn engine_fingerprint(engine: &Engine) -> String {
    // SipHash with fixed keys: the same engine settings give the same name on every start.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("engine-{:016x}", hasher.finish())
}

fn create_private_directory(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    let metadata = std::fs::metadata(path)?;
    if metadata.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is writable by other users; the compiled-module cache must be private",
            path.display()
        )));
    }
    Ok(())
}
