//! Compiled modules: once per binary in a process, once per machine across restarts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bazaar_domain::Sha256;
use bazaar_sandbox::{Outcome, PrepareError, PreparedFrom, Sandbox, SandboxConfig};
use bytes::Bytes;

fn echo() -> (Sha256, Bytes) {
    let wasm = bazaar_example_agents::EXAMPLE_AGENTS
        .iter()
        .find(|example| example.name == "echo")
        .expect("the echo example exists")
        .wasm;
    (Sha256::digest(wasm), Bytes::from_static(wasm))
}

fn sandbox_with_cache(directory: &std::path::Path, disk_cache_capacity: usize) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: Some(directory.to_path_buf()),
        disk_cache_capacity,
        max_concurrent_runs: 8,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts")
}

async fn never_fetched() -> Result<Bytes, String> {
    Err("the binary should not have been fetched".to_owned())
}

#[tokio::test]
async fn a_restarted_sandbox_loads_the_compiled_module_without_fetching_the_binary() {
    let directory = tempfile::tempdir().unwrap();
    let (hash, wasm) = echo();

    let first = sandbox_with_cache(directory.path(), 16);
    let (_, from) = first
        .prepare_with(&hash, || async { Ok::<_, String>(wasm.clone()) })
        .await
        .unwrap();
    assert_eq!(from, PreparedFrom::Compiled);
    let (_, from) = first.prepare_with(&hash, never_fetched).await.unwrap();
    assert_eq!(from, PreparedFrom::Memory);
    drop(first);

    let restarted = sandbox_with_cache(directory.path(), 16);
    let (prepared, from) = restarted.prepare_with(&hash, never_fetched).await.unwrap();
    assert_eq!(from, PreparedFrom::Disk);
    let execution = restarted
        .run(&prepared, Arc::from(&b"hello"[..]), Duration::from_secs(5))
        .await;
    assert_eq!(execution.outcome, Outcome::Exited(0));
    assert_eq!(execution.stdout, b"hello");
}

#[tokio::test]
async fn concurrent_first_runs_fetch_and_compile_once() {
    let (hash, wasm) = echo();
    let sandbox = Sandbox::new(SandboxConfig {
        max_concurrent_runs: 8,
        ..SandboxConfig::default()
    })
    .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut waiting = Vec::new();
    for _ in 0..8 {
        let sandbox = sandbox.clone();
        let hash = hash.clone();
        let wasm = wasm.clone();
        let fetches = fetches.clone();
        waiting.push(tokio::spawn(async move {
            sandbox
                .prepare_with(&hash, || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok::<_, String>(wasm)
                })
                .await
                .map(|(_, from)| from)
                .unwrap()
        }));
    }
    let mut compiled = 0;
    for handle in waiting {
        if handle.await.unwrap() == PreparedFrom::Compiled {
            compiled += 1;
        }
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(compiled, 1);
}

#[tokio::test]
async fn a_damaged_artifact_is_a_miss_and_is_replaced() {
    let directory = tempfile::tempdir().unwrap();
    let (hash, wasm) = echo();
    sandbox_with_cache(directory.path(), 16)
        .prepare(&hash, wasm.clone())
        .await
        .unwrap();
    let artifact = find_artifacts(directory.path()).pop().expect("an artifact");
    std::fs::write(&artifact, b"not a compiled module").unwrap();

    let restarted = sandbox_with_cache(directory.path(), 16);
    let error = restarted
        .prepare_with(&hash, never_fetched)
        .await
        .unwrap_err();
    assert!(matches!(error, PrepareError::Fetch(_)), "{error:?}");
    let (_, from) = restarted
        .prepare_with(&hash, || async { Ok::<_, String>(wasm.clone()) })
        .await
        .unwrap();
    assert_eq!(from, PreparedFrom::Compiled);
    assert_ne!(std::fs::read(&artifact).unwrap(), b"not a compiled module");
}

#[tokio::test]
async fn the_disk_cache_keeps_at_most_its_capacity() {
    let directory = tempfile::tempdir().unwrap();
    let sandbox = sandbox_with_cache(directory.path(), 2);
    for value in 0..4 {
        let wasm = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1) (global i32 (i32.const {value})) (func (export "_start")))"#
        ))
        .unwrap();
        sandbox
            .prepare(&Sha256::digest(&wasm), Bytes::from(wasm))
            .await
            .unwrap();
    }
    assert_eq!(find_artifacts(directory.path()).len(), 2);
}

#[tokio::test]
async fn an_invalid_module_is_not_cached_on_disk() {
    let directory = tempfile::tempdir().unwrap();
    let sandbox = sandbox_with_cache(directory.path(), 16);
    let junk = Bytes::from_static(b"\0asm\x01\0\0\0garbage");
    let error = sandbox
        .prepare(&Sha256::digest(&junk), junk)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid WebAssembly"), "{error}");
    assert!(find_artifacts(directory.path()).is_empty());
}

fn find_artifacts(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for engine_directory in std::fs::read_dir(root).unwrap() {
        for entry in std::fs::read_dir(engine_directory.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .extension()
                .is_some_and(|extension| extension == "cwasm")
            {
                found.push(path);
            }
        }
    }
    found
}
