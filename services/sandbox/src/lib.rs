//! The sandbox: runs untrusted WebAssembly agents under hard limits.
//!
//! This crate narrows wasmtime to exactly what Bazaar needs and nothing more: WASI preview 1
//! with stdin fed from the task input, stdout and stderr captured up to a cap, no
//! environment, no preopened directories, no sockets. Every run has a wall-clock deadline
//! (epoch interruption, with a timer as a backstop for host calls that block), a linear
//! memory cap, a wasm stack cap and a bounded number of concurrent instances (the pooling
//! allocator's slots). Whatever the guest does — loop, allocate without end, flood its
//! output, overflow its stack, trap — `Sandbox::run` returns an [`Execution`] describing it;
//! it never panics and never takes the worker down.
//!
//! Compiling is expensive (tens of milliseconds) and instantiating is cheap (microseconds), so
//! compiled modules are kept as [`PreparedAgent`]s in a bounded cache keyed by the binary's
//! SHA-256, and, when a cache directory is configured, as precompiled artifacts on disk that
//! outlive the process. Concurrent first runs of one binary wait for a single compilation: an
//! agent compiles once per process, and once per machine across restarts.

#![warn(missing_docs)]

mod cache;
mod disk;
mod limits;
mod output;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bazaar_domain::{ErrorCode, Sha256};
use bytes::Bytes;
use tokio::sync::Semaphore;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use crate::cache::ModuleCache;
use crate::disk::DiskCache;
use crate::limits::RunLimits;
use crate::output::{CappedPipe, StreamName};

/// The limits every run is held to. Operators set them; agents cannot raise them.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The longest any run may take; a task's own timeout is clamped to it.
    pub max_timeout: Duration,
    /// Linear memory one run may use, in bytes.
    pub memory_limit_bytes: usize,
    /// WebAssembly stack one run may use, in bytes.
    pub max_wasm_stack_bytes: usize,
    /// Bytes of stdout kept; writing more stops the agent and flags the truncation.
    pub stdout_limit_bytes: usize,
    /// Bytes of stderr kept; writing more stops the agent and flags the truncation.
    pub stderr_limit_bytes: usize,
    /// Compiled modules kept in memory.
    pub module_cache_capacity: usize,
    /// Runs at the same time; also the number of instance slots the pooling allocator reserves.
    pub max_concurrent_runs: u32,
    /// How often the epoch advances: the granularity of deadlines and of yielding to other
    /// tasks while a guest computes.
    pub epoch_tick: Duration,
    /// Where compiled modules are kept across restarts; `None` keeps them in memory only.
    /// The directory must be private to this process's user.
    pub cache_dir: Option<PathBuf>,
    /// Compiled modules kept on disk; the oldest are removed beyond it.
    pub disk_cache_capacity: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            max_timeout: Duration::from_secs(300),
            memory_limit_bytes: 128 << 20,
            max_wasm_stack_bytes: 1 << 20,
            stdout_limit_bytes: 1 << 20,
            stderr_limit_bytes: 1 << 20,
            module_cache_capacity: 256,
            max_concurrent_runs: 64,
            epoch_tick: Duration::from_millis(5),
            cache_dir: None,
            disk_cache_capacity: 4096,
        }
    }
}

/// A module that failed validation: not WebAssembly, truncated, or asking for imports or
/// resources the sandbox does not provide. The message is meant for the agent's author.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvalidModule(String);

impl InvalidModule {
    /// What this failure means to a caller on any protocol: the upload is unprocessable.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Unprocessable
    }
}

/// A compiled agent, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct PreparedAgent {
    instance_pre: Arc<InstancePre<RunState>>,
}

impl PreparedAgent {
    /// The badges of the module's imports (see [`bazaar_domain::Badge::of_imports`]).
    pub fn badges(&self) -> Vec<bazaar_domain::Badge> {
        let module = self.instance_pre.module();
        bazaar_domain::Badge::of_imports(
            module
                .imports()
                .map(|import| (import.module(), import.name())),
        )
    }
}

impl std::fmt::Debug for PreparedAgent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PreparedAgent")
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The agent returned from `_start` (exit code 0) or called `proc_exit(code)`.
    Exited(i32),
    /// The wall-clock deadline passed.
    TimedOut,
    /// The run was canceled from outside ([`RunControl::cancel`]).
    Canceled,
    /// The agent asked for more linear memory than allowed.
    MemoryLimitExceeded {
        /// The configured cap, in bytes.
        limit: usize,
        /// The linear memory size the agent tried to grow to, in bytes.
        requested: usize,
    },
    /// The agent wrote more to stdout or stderr than allowed.
    OutputLimitExceeded {
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// That stream's cap, in bytes; the captured output holds exactly this much.
        limit: usize,
    },
    /// The agent used more wasm stack than allowed.
    StackOverflow,
    /// The agent trapped (unreachable, out-of-bounds access, division by zero, ...).
    Trapped(String),
    /// The agent could not be instantiated (for example its initial memory exceeds the cap).
    InstantiationFailed(String),
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Exit or the limit that stopped the agent; see [`exit_code`](Self::exit_code) and
    /// [`error_message`](Self::error_message) for what to report.
    pub outcome: Outcome,
    /// Raw bytes as written, at most [`SandboxConfig::stdout_limit_bytes`]; kept even when
    /// the run failed.
    pub stdout: Vec<u8>,
    /// Raw bytes as written, at most [`SandboxConfig::stderr_limit_bytes`]; kept even when
    /// the run failed.
    pub stderr: Vec<u8>,
    /// The agent wrote past the stdout cap and was stopped for it.
    pub stdout_truncated: bool,
    /// The agent wrote past the stderr cap and was stopped for it.
    pub stderr_truncated: bool,
    /// Wall-clock time from instantiation to the end of the run: excludes waiting for a
    /// slot and compiling.
    pub duration: Duration,
}

impl Execution {
    /// The exit code to report: the agent's own, or -1 when it did not exit by itself.
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Exited(code) => code,
            _ => -1,
        }
    }

    /// A clear, one-line reason for a failure that is not a plain non-zero exit.
    pub fn error_message(&self, timeout: Duration) -> Option<String> {
        match &self.outcome {
            Outcome::Exited(_) => None,
            Outcome::TimedOut => Some(format!(
                "timed out: the agent ran longer than {} ms",
                timeout.as_millis()
            )),
            Outcome::Canceled => Some("canceled by its owner while it ran".to_owned()),
            Outcome::MemoryLimitExceeded { limit, requested } => Some(format!(
                "memory limit exceeded: the agent asked for {requested} bytes of linear memory, the limit is {limit}"
            )),
            Outcome::OutputLimitExceeded { stream, limit } => Some(format!(
                "output limit exceeded: the agent wrote more than {limit} bytes to {stream}; the output was truncated"
            )),
            Outcome::StackOverflow => {
                Some("stack overflow: the agent exhausted its wasm stack".to_owned())
            }
            Outcome::Trapped(message) => Some(format!("trap: {message}")),
            Outcome::InstantiationFailed(message) => {
                Some(format!("the agent could not be started: {message}"))
            }
        }
    }
}

/// How a run is followed and stopped from outside. Cheap to clone; the clones share the
/// cancellation.
#[derive(Debug, Clone)]
pub struct RunControl {
    canceled: Arc<tokio::sync::watch::Sender<bool>>,
    output: Option<output::OutputTap>,
}

impl Default for RunControl {
    fn default() -> Self {
        RunControl {
            canceled: Arc::new(tokio::sync::watch::Sender::new(false)),
            output: None,
        }
    }
}

impl RunControl {
    /// A control that cancels nothing and copies no output until told to.
    pub fn new() -> Self {
        RunControl::default()
    }

    /// Copies what the agent writes (what the caps keep of it) to `output` as it is
    /// written, besides capturing it.
    pub fn with_output(
        mut self,
        output: tokio::sync::mpsc::UnboundedSender<(bazaar_domain::OutputStream, Bytes)>,
    ) -> Self {
        self.output = Some(output);
        self
    }

    /// Stops the run: a computing guest within an epoch tick, one blocked in a host call
    /// within a few ticks. Before the run starts, it never starts. Idempotent.
    pub fn cancel(&self) {
        self.canceled.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        *self.canceled.borrow()
    }

    /// Resolves once the run is canceled.
    async fn canceled(&self) {
        let mut receiver = self.canceled.subscribe();
        let _ = receiver.wait_for(|canceled| *canceled).await;
    }
}

/// The state of one run's store.
pub struct RunState {
    wasi: WasiP1Ctx,
    limits: RunLimits,
}

/// Runs agents. Cheap to clone; all clones share the engine, the cache and the slots.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

/// Where [`Sandbox::prepare_with`] found a prepared agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreparedFrom {
    /// The in-memory cache.
    Memory,
    /// The on-disk cache of precompiled modules (the binary was not fetched).
    Disk,
    /// It was fetched and compiled.
    Compiled,
}

impl PreparedFrom {
    /// `memory`, `disk` or `compiled`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            PreparedFrom::Memory => "memory",
            PreparedFrom::Disk => "disk",
            PreparedFrom::Compiled => "compiled",
        }
    }
}

/// Why [`Sandbox::prepare_with`] has no prepared agent.
#[derive(Debug)]
pub enum PrepareError<E> {
    /// Fetching the binary failed with the caller's error.
    Fetch(E),
    /// The binary is not a module the sandbox can run.
    Invalid(InvalidModule),
}

struct Inner {
    engine: Engine,
    linker: Linker<RunState>,
    cache: ModuleCache,
    disk: Option<DiskCache>,
    /// One lock per binary being prepared, so that concurrent first runs compile it once.
    preparing: Mutex<HashMap<Sha256, Arc<tokio::sync::Mutex<()>>>>,
    slots: Semaphore,
    config: SandboxConfig,
    ticker_stop: Arc<AtomicBool>,
    /// Where guests run: threads of their own, so that guests computing flat out never
    /// delay the services sharing the process (their I/O, timers, and the cancellations
    /// that stop those very guests). `None` only once dropped.
    guests: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
        // Without blocking: the last clone may be dropped inside an async context.
        if let Some(guests) = self.guests.take() {
            guests.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .field("cached_modules", &self.inner.cache.len())
            .finish()
    }
}

impl Sandbox {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: SandboxConfig) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&config))
            .map_err(|error| anyhow::anyhow!("failed to create the wasmtime engine: {error}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut RunState| &mut state.wasi)
            .map_err(|error| anyhow::anyhow!("failed to link WASI preview 1: {error}"))?;

        let disk = match &config.cache_dir {
            Some(directory) => Some(
                DiskCache::open(directory, &engine, config.disk_cache_capacity).map_err(
                    |error| {
                        anyhow::anyhow!(
                            "failed to open the compiled-module cache {}: {error}",
                            directory.display()
                        )
                    },
                )?,
            ),
            None => None,
        };

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), config.epoch_tick, ticker_stop.clone())?;
        let threads = std::thread::available_parallelism()
            .map_or(2, usize::from)
            .min(config.max_concurrent_runs.max(1) as usize);
        let guests = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bazaar-guest")
            .enable_all()
            .build()
            .map_err(|error| anyhow::anyhow!("failed to start the guests' threads: {error}"))?;

        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache: ModuleCache::new(config.module_cache_capacity),
                disk,
                preparing: Mutex::new(HashMap::new()),
                slots: Semaphore::new(config.max_concurrent_runs as usize),
                config,
                ticker_stop,
                guests: Some(guests),
            }),
        })
    }

    /// The limits this sandbox was built with, which every run is held to.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Validates and compiles a module. CPU-bound and slow: call it off the async executor
    /// (see [`Sandbox::prepare`]).
    pub fn compile(&self, wasm: &[u8]) -> Result<PreparedAgent, InvalidModule> {
        self.compile_module(wasm)
            .and_then(|module| self.link(&module))
    }

    fn compile_module(&self, wasm: &[u8]) -> Result<Module, InvalidModule> {
        if !wasm.starts_with(b"\0asm") {
            return Err(InvalidModule(
                "not a WebAssembly module: the file does not start with the `\\0asm` magic"
                    .to_owned(),
            ));
        }
        let module = Module::from_binary(&self.inner.engine, wasm)
            .map_err(|error| InvalidModule(format!("invalid WebAssembly module: {error}")))?;
        check_entry_point(&module)?;
        Ok(module)
    }

    fn link(&self, module: &Module) -> Result<PreparedAgent, InvalidModule> {
        let instance_pre = self.inner.linker.instantiate_pre(module).map_err(|error| {
            InvalidModule(format!(
                "the module needs imports the sandbox does not provide (only WASI preview 1 is available): {error}"
            ))
        })?;
        Ok(PreparedAgent {
            instance_pre: Arc::new(instance_pre),
        })
    }

    /// The prepared agent for `hash`, if it is cached in memory.
    pub fn cached(&self, hash: &Sha256) -> Option<PreparedAgent> {
        self.inner.cache.get(hash)
    }

    /// Compiles `wasm` on the blocking pool and caches it under `hash`. The caller vouches
    /// that `hash` is the digest of `wasm`.
    pub async fn prepare(
        &self,
        hash: &Sha256,
        wasm: Bytes,
    ) -> Result<PreparedAgent, InvalidModule> {
        self.prepare_with(hash, || async { Ok::<_, std::convert::Infallible>(wasm) })
            .await
            .map(|(prepared, _)| prepared)
            .map_err(|error| match error {
                PrepareError::Invalid(invalid) => invalid,
                PrepareError::Fetch(never) => match never {},
            })
    }

    /// The prepared agent for `hash`: from memory, else from the on-disk cache, else compiled
    /// (on the blocking pool) from the bytes `fetch` returns, which the caller vouches hash to
    /// `hash`. Concurrent calls for one hash wait for each other, so a binary is fetched and
    /// compiled once however many tasks ask for it at the same time.
    pub async fn prepare_with<F, Fut, E>(
        &self,
        hash: &Sha256,
        fetch: F,
    ) -> Result<(PreparedAgent, PreparedFrom), PrepareError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        if let Some(prepared) = self.cached(hash) {
            return Ok((prepared, PreparedFrom::Memory));
        }
        let flight = self
            .inner
            .preparing
            .lock()
            .expect("preparing lock poisoned")
            .entry(hash.clone())
            .or_default()
            .clone();
        let outcome = {
            let _turn = flight.lock().await;
            self.prepare_once(hash, fetch).await
        };
        let mut preparing = self
            .inner
            .preparing
            .lock()
            .expect("preparing lock poisoned");
        // The map's copy and ours: nobody else waits, so the entry can go.
        if Arc::strong_count(&flight) <= 2 {
            preparing.remove(hash);
        }
        outcome
    }

    async fn prepare_once<F, Fut, E>(
        &self,
        hash: &Sha256,
        fetch: F,
    ) -> Result<(PreparedAgent, PreparedFrom), PrepareError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        // Whoever held the turn before may have prepared it.
        if let Some(prepared) = self.cached(hash) {
            return Ok((prepared, PreparedFrom::Memory));
        }
        if self.inner.disk.is_some() {
            let sandbox = self.clone();
            let key = hash.clone();
            let loaded = tokio::task::spawn_blocking(move || sandbox.load_from_disk(&key))
                .await
                .ok()
                .flatten();
            if let Some(prepared) = loaded {
                self.inner.cache.insert(hash.clone(), prepared.clone());
                return Ok((prepared, PreparedFrom::Disk));
            }
        }
        let wasm = fetch().await.map_err(PrepareError::Fetch)?;
        let sandbox = self.clone();
        let key = hash.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let module = sandbox.compile_module(&wasm)?;
            let prepared = sandbox.link(&module)?;
            if let Some(disk) = &sandbox.inner.disk {
                disk.store(&key, &module);
            }
            Ok(prepared)
        })
        .await
        .map_err(|error| {
            PrepareError::Invalid(InvalidModule(format!(
                "compilation was interrupted: {error}"
            )))
        })?
        .map_err(PrepareError::Invalid)?;
        self.inner.cache.insert(hash.clone(), prepared.clone());
        Ok((prepared, PreparedFrom::Compiled))
    }

    /// Loads `hash` from the on-disk cache; blocking.
    fn load_from_disk(&self, hash: &Sha256) -> Option<PreparedAgent> {
        let module = self.inner.disk.as_ref()?.load(&self.inner.engine, hash)?;
        self.link(&module).ok()
    }

    /// Runs a prepared agent with `input` on stdin for at most `timeout` (clamped to the
    /// configured maximum). Waits for a free slot first.
    pub async fn run(
        &self,
        agent: &PreparedAgent,
        input: Arc<[u8]>,
        timeout: Duration,
    ) -> Execution {
        self.run_with(agent, input, timeout, &RunControl::default())
            .await
    }

    /// Runs as [`run`](Self::run) does, under `control`: canceled from outside, its output
    /// copied as it is written.
    pub async fn run_with(
        &self,
        agent: &PreparedAgent,
        input: Arc<[u8]>,
        timeout: Duration,
        control: &RunControl,
    ) -> Execution {
        let timeout = timeout.min(self.inner.config.max_timeout);
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .expect("the sandbox never closes its slots");
        let started = Instant::now();
        if control.is_canceled() {
            return Execution {
                outcome: Outcome::Canceled,
                stdout: Vec::new(),
                stderr: Vec::new(),
                stdout_truncated: false,
                stderr_truncated: false,
                duration: Duration::ZERO,
            };
        }

        let limits = GuestLimits {
            stdout_bytes: self.inner.config.stdout_limit_bytes,
            stderr_bytes: self.inner.config.stderr_limit_bytes,
            memory_bytes: self.inner.config.memory_limit_bytes,
            epoch_tick: self.inner.config.epoch_tick,
        };
        let job = run_guest(
            self.inner.engine.clone(),
            agent.instance_pre.clone(),
            input,
            timeout,
            control.clone(),
            limits,
            started,
        );
        let guests = self
            .inner
            .guests
            .as_ref()
            .expect("the guests' runtime lives as long as the sandbox");
        let mut running = AbortOnDrop(guests.spawn(job));
        match (&mut running.0).await {
            Ok(execution) => execution,
            Err(error) => Execution {
                outcome: Outcome::Trapped(format!("the run failed: {error}")),
                stdout: Vec::new(),
                stderr: Vec::new(),
                stdout_truncated: false,
                stderr_truncated: false,
                duration: started.elapsed(),
            },
        }
    }
}

/// The limits a guest runs under, copied out of the sandbox's configuration.
#[derive(Debug, Clone, Copy)]
struct GuestLimits {
    stdout_bytes: usize,
    stderr_bytes: usize,
    memory_bytes: usize,
    epoch_tick: Duration,
}

/// Aborts a spawned run when whoever awaits it goes away.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One run, from instantiation to its execution record; spawned on the guests' runtime.
async fn run_guest(
    engine: Engine,
    instance_pre: Arc<InstancePre<RunState>>,
    input: Arc<[u8]>,
    timeout: Duration,
    control: RunControl,
    limits: GuestLimits,
    started: Instant,
) -> Execution {
    let control = &control;
    let stdout = CappedPipe::new(
        StreamName::Stdout,
        limits.stdout_bytes,
        control.output.clone(),
    );
    let stderr = CappedPipe::new(
        StreamName::Stderr,
        limits.stderr_bytes,
        control.output.clone(),
    );
    let wasi = WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(Bytes::from_owner(input)))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .arg("agent")
        .build_p1();
    let mut store = Store::new(
        &engine,
        RunState {
            wasi,
            limits: RunLimits {
                memory_limit: limits.memory_bytes,
                table_elements_limit: 1_000_000,
                memory_exceeded: None,
            },
        },
    );
    store.limiter(|state| &mut state.limits);
    let deadline = started + timeout;
    let timed_out = Arc::new(AtomicBool::new(false));
    let timed_out_in_callback = timed_out.clone();
    let canceled = control.canceled.subscribe();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if *canceled.borrow() {
            return Ok(UpdateDeadline::Interrupt);
        }
        if Instant::now() >= deadline {
            timed_out_in_callback.store(true, Ordering::Relaxed);
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::Yield(1))
    });

    // The epoch stops a guest that computes; the timer stops one that waits in a host
    // call (a long `poll_oneoff` sleep). A little grace lets the epoch win the race.
    let grace = limits.epoch_tick * 4;
    let run = run_start(&instance_pre, &mut store);
    // The same for a cancellation: the epoch interrupts a computing guest, the timer
    // one that waits.
    let canceled_and_grace = async {
        control.canceled().await;
        tokio::time::sleep(grace).await;
    };
    let ran = tokio::select! {
        ran = tokio::time::timeout(timeout + grace, run) => Some(ran),
        () = canceled_and_grace => None,
    };
    let outcome = match ran {
        None => Outcome::Canceled,
        Some(Ok(Ok(()))) => Outcome::Exited(0),
        // Stopped by the interruption a cancellation asked for, or failing meanwhile.
        Some(_) if control.is_canceled() => Outcome::Canceled,
        Some(Err(_elapsed)) => Outcome::TimedOut,
        Some(Ok(Err(RunError::Instantiate(error)))) => classify(&store, &timed_out, error, true),
        Some(Ok(Err(RunError::Call(error)))) => classify(&store, &timed_out, error, false),
    };
    let duration = started.elapsed();
    let (stdout, stdout_truncated) = stdout.take();
    let (stderr, stderr_truncated) = stderr.take();
    let outcome = match outcome {
        Outcome::Trapped(_) if stdout_truncated => Outcome::OutputLimitExceeded {
            stream: "stdout",
            limit: limits.stdout_bytes,
        },
        Outcome::Trapped(_) if stderr_truncated => Outcome::OutputLimitExceeded {
            stream: "stderr",
            limit: limits.stderr_bytes,
        },
        other => other,
    };
    Execution {
        outcome,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        duration,
    }
}

enum RunError {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

async fn run_start(
    instance_pre: &InstancePre<RunState>,
    store: &mut Store<RunState>,
) -> Result<(), RunError> {
    let instance = instance_pre
        .instantiate_async(&mut *store)
        .await
        .map_err(RunError::Instantiate)?;
    let start = instance
        .get_typed_func::<(), ()>(&mut *store, "_start")
        .map_err(RunError::Instantiate)?;
    start
        .call_async(&mut *store, ())
        .await
        .map_err(RunError::Call)
}

/// Turns a wasmtime error into the outcome a user can understand. The store's flags are
/// checked first: they know *why* a trap happened even when the trap itself is generic.
fn classify(
    store: &Store<RunState>,
    timed_out: &AtomicBool,
    error: wasmtime::Error,
    during_instantiation: bool,
) -> Outcome {
    if let Some((limit, requested)) = store.data().limits.memory_exceeded {
        return Outcome::MemoryLimitExceeded { limit, requested };
    }
    if timed_out.load(Ordering::Relaxed) {
        return Outcome::TimedOut;
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => return Outcome::StackOverflow,
        Some(Trap::Interrupt) => return Outcome::TimedOut,
        _ => {}
    }
    if during_instantiation {
        return Outcome::InstantiationFailed(one_line(&error));
    }
    Outcome::Trapped(one_line(&error))
}

/// The error and its causes on one line, without wasmtime's multi-line backtrace.
fn one_line(error: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let first_line = text.lines().next().unwrap_or_default().trim().to_owned();
        if !first_line.is_empty() && !parts.contains(&first_line) {
            parts.push(first_line);
        }
    }
    parts.join(": ")
}

fn check_entry_point(module: &Module) -> Result<(), InvalidModule> {
    let Some(start) = module.get_export("_start") else {
        return Err(InvalidModule(
            "the module exports no `_start` function: build it as a WASI command (a `main` program)"
                .to_owned(),
        ));
    };
    let is_nullary_function = start
        .func()
        .is_some_and(|function| function.params().len() == 0 && function.results().len() == 0);
    if !is_nullary_function {
        return Err(InvalidModule(
            "`_start` must be a function without parameters or results".to_owned(),
        ));
    }
    Ok(())
}

fn engine_config(config: &SandboxConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(config.max_concurrent_runs)
        .total_memories(config.max_concurrent_runs)
        .total_tables(config.max_concurrent_runs)
        .total_stacks(config.max_concurrent_runs)
        .max_memory_size(config.memory_limit_bytes);

    let mut engine_config = Config::new();
    engine_config
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        // The fiber stack holds the wasm stack plus the host frames of WASI calls.
        .async_stack_size(config.max_wasm_stack_bytes + (1 << 20))
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    engine_config
}

fn spawn_epoch_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("bazaar-epoch".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })?;
    Ok(())
}
