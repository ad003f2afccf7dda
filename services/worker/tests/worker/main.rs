//! The worker from the outside: its one step, [`Worker::execute_one`], against an in-memory
//! blob store that can be taken down, and its loop, [`Worker::run`], around the real
//! in-process queue. The sandbox is the real one, running real modules: the example agents
//! Bazaar ships, and tiny WAT guests where an example would not say what the test means.

mod blobs;
mod execute_one;
mod run;

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::{AgentId, Sha256, TaskId, TaskMessage, TaskResult, UserId};
use bazaar_example_agents::ExampleAgent;
use bazaar_sandbox::{Sandbox, SandboxConfig};
use bazaar_worker::{Outcome, Worker, WorkerConfig};
use bytes::Bytes;

use crate::blobs::MemoryBlobStore;

/// The longest a test waits for something that should happen at once; reaching it fails
/// the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A worker with its own sandbox and blob store, both kept so tests can look inside.
pub struct TestWorker {
    pub worker: Worker,
    /// The worker's sandbox (a clone shares its module cache).
    pub sandbox: Sandbox,
    pub blobs: Arc<MemoryBlobStore>,
}

/// A worker over a small sandbox and an empty, reachable blob store.
pub fn test_worker(config: WorkerConfig) -> TestWorker {
    let sandbox = Sandbox::new(SandboxConfig {
        max_timeout: Duration::from_secs(10),
        memory_limit_bytes: 32 << 20,
        stdout_limit_bytes: 64 << 10,
        stderr_limit_bytes: 64 << 10,
        module_cache_capacity: 8,
        max_concurrent_runs: 4,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let blobs = Arc::new(MemoryBlobStore::default());
    let worker = Worker::new(sandbox.clone(), blobs.clone(), config);
    TestWorker {
        worker,
        sandbox,
        blobs,
    }
}

/// A worker configured as in production, but for the attempts it makes.
pub fn worker_config(max_attempts: u32) -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        max_attempts,
    }
}

/// A task for the binary `binary_hash` with `input` on stdin and a generous deadline.
pub fn task(binary_hash: &Sha256, input: &str) -> TaskMessage {
    TaskMessage {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        binary_hash: binary_hash.clone(),
        input: Arc::from(input.as_bytes()),
        timeout_ms: 5_000,
    }
}

/// The example agent `name`, compiled from `agents/`.
pub fn example(name: &str) -> &'static ExampleAgent {
    bazaar_example_agents::by_name(name).unwrap_or_else(|| panic!("no example agent called {name}"))
}

/// A module from WebAssembly text.
pub fn module(text: &str) -> Bytes {
    Bytes::from(wat::parse_str(text).expect("the test module is valid text"))
}

/// A module that writes `ran` to stdout: proof, when its output shows up, that it was run.
pub fn module_that_says_it_ran() -> Bytes {
    module(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\08\00\00\00\03\00\00\00")
            (data (i32.const 8) "ran")
            (func (export "_start")
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#,
    )
}

/// The result an outcome publishes; a retry fails the test.
pub fn published(outcome: Outcome) -> TaskResult {
    match outcome {
        Outcome::Done(result) => result,
        Outcome::Retry(message) => panic!("expected a result, the task was retried: {message}"),
    }
}
