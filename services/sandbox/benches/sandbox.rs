//! The sandbox against the floor: bare wasmtime running the same agent the same way.
//!
//! `run/*` runs the `echo` example agent with 16 bytes on stdin, warm (compiled once), one run
//! at a time: `raw_wasmtime` is the least wasmtime needs (a precompiled module behind an
//! `InstancePre`, the pooling allocator, a fresh WASI context and store per run, async calls),
//! `sandbox` is `Sandbox::run` with every limit Bazaar enforces. `prepare/*` compares compiling
//! a 90 KB agent with loading it from the on-disk cache after a restart.
//!
//! Run with `cargo bench -p bazaar-sandbox --bench sandbox`.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::Sha256;
use bazaar_sandbox::{Outcome, Sandbox, SandboxConfig};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

const INPUT: &[u8; 16] = b"0123456789abcdef";

fn example(name: &str) -> &'static [u8] {
    bazaar_example_agents::EXAMPLE_AGENTS
        .iter()
        .find(|agent| agent.name == name)
        .unwrap_or_else(|| panic!("no example agent named {name}"))
        .wasm
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// The floor: what any embedder has to do per run.
struct RawWasmtime {
    engine: Engine,
    instance_pre: InstancePre<WasiP1Ctx>,
}

impl RawWasmtime {
    fn new(wasm: &[u8]) -> Self {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(64)
            .total_memories(64)
            .total_tables(64)
            .total_stacks(64);
        let mut config = Config::new();
        config
            .memory_init_cow(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).expect("an engine");
        let module = Module::from_binary(&engine, wasm).expect("the agent compiles");
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |context| context).expect("WASI links");
        let instance_pre = linker.instantiate_pre(&module).expect("the agent links");
        RawWasmtime {
            engine,
            instance_pre,
        }
    }

    async fn run(&self, input: &'static [u8]) -> Bytes {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(Bytes::from_static(input)))
            .stdout(stdout.clone())
            .build_p1();
        let mut store = Store::new(&self.engine, wasi);
        let instance = self
            .instance_pre
            .instantiate_async(&mut store)
            .await
            .expect("the agent instantiates");
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .expect("the agent has _start");
        if let Err(error) = start.call_async(&mut store, ()).await {
            let exit = error.downcast_ref::<wasmtime_wasi::I32Exit>();
            assert!(matches!(exit, Some(wasmtime_wasi::I32Exit(0))), "{error}");
        }
        drop(store);
        stdout.contents()
    }
}

fn run(criterion: &mut Criterion) {
    let wasm = example("echo");
    let runtime = runtime();
    let raw = RawWasmtime::new(wasm);
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("the sandbox starts");
    let prepared = runtime
        .block_on(sandbox.prepare(&Sha256::digest(wasm), Bytes::from_static(wasm)))
        .expect("the agent compiles");
    let input: Arc<[u8]> = Arc::from(&INPUT[..]);

    assert_eq!(runtime.block_on(raw.run(INPUT)).as_ref(), INPUT);
    let execution = runtime.block_on(sandbox.run(&prepared, input.clone(), Duration::from_secs(5)));
    assert_eq!(execution.outcome, Outcome::Exited(0));
    assert_eq!(execution.stdout, INPUT);

    let mut group = criterion.benchmark_group("run");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_wasmtime", |bencher| {
        bencher.iter(|| runtime.block_on(raw.run(INPUT)));
    });
    group.bench_function("sandbox", |bencher| {
        bencher.iter(|| {
            runtime.block_on(sandbox.run(&prepared, input.clone(), Duration::from_secs(5)))
        });
    });
    group.finish();
}

fn prepare(criterion: &mut Criterion) {
    let runtime = runtime();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let text_stats = Bytes::from_static(example("text-stats"));
    let json_format = Bytes::from_static(example("json-format"));
    let (first, second) = (Sha256::digest(&text_stats), Sha256::digest(&json_format));

    let mut group = criterion.benchmark_group("prepare");
    group.sample_size(20);
    let compiler = Sandbox::new(SandboxConfig::default()).expect("the sandbox starts");
    group.bench_function("compile_90kb", |bencher| {
        bencher.iter(|| compiler.compile(&text_stats).expect("the agent compiles"));
    });

    // A memory cache of one module and two agents taking turns: every prepare misses in
    // memory and loads from disk, as after a restart.
    let config = SandboxConfig {
        cache_dir: Some(directory.path().to_path_buf()),
        module_cache_capacity: 1,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config).expect("the sandbox starts");
    for (hash, wasm) in [(&first, &text_stats), (&second, &json_format)] {
        runtime
            .block_on(sandbox.prepare(hash, wasm.clone()))
            .expect("the agent compiles");
    }
    group.sample_size(100);
    group.bench_function("load_from_disk_90kb", |bencher| {
        bencher.iter(|| {
            // The one not in memory, which therefore comes from disk.
            let hash = if sandbox.cached(&first).is_some() {
                &second
            } else {
                &first
            };
            let (_, from) = runtime
                .block_on(sandbox.prepare_with(hash, || async {
                    Err::<Bytes, _>("the binary should come from the disk cache")
                }))
                .expect("the agent loads from disk");
            assert_eq!(from, bazaar_sandbox::PreparedFrom::Disk);
        });
    });
    group.finish();
}

criterion_group!(benches, run, prepare);
criterion_main!(benches);
