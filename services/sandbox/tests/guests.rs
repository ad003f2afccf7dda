//! Each hostile or odd guest gets the exact outcome it deserves, and the sandbox keeps serving.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::Sha256;
use bazaar_sandbox::{Outcome, Sandbox, SandboxConfig};

const MEMORY_LIMIT: usize = 16 << 20;
const OUTPUT_LIMIT: usize = 4096;

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig {
        max_timeout: Duration::from_secs(10),
        memory_limit_bytes: MEMORY_LIMIT,
        stdout_limit_bytes: OUTPUT_LIMIT,
        stderr_limit_bytes: OUTPUT_LIMIT,
        max_concurrent_runs: 8,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts")
}

async fn run_wat(sandbox: &Sandbox, wat: &str, timeout: Duration) -> bazaar_sandbox::Execution {
    let wasm = wat::parse_str(wat).expect("the test module is valid text");
    let prepared = sandbox.compile(&wasm).expect("the test module compiles");
    sandbox.run(&prepared, Arc::from(&b""[..]), timeout).await
}

const WASI_FD_WRITE: &str = r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#;

#[tokio::test]
async fn an_endless_loop_times_out() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#,
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(execution.outcome, Outcome::TimedOut);
    assert_eq!(execution.exit_code(), -1);
    assert!(execution.duration >= Duration::from_millis(200));
    assert!(
        execution.duration < Duration::from_secs(2),
        "took {:?}",
        execution.duration
    );
    let message = execution.error_message(Duration::from_millis(200)).unwrap();
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn a_sleep_in_a_host_call_times_out() {
    // poll_oneoff with one relative clock subscription of 60 s on the monotonic clock.
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module
            (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "\01")
            (data (i32.const 24) "\00\58\47\f8\0d\00\00\00")
            (func (export "_start") (drop (call $poll (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 200)))))"#,
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(execution.outcome, Outcome::TimedOut);
    assert!(
        execution.duration < Duration::from_secs(2),
        "took {:?}",
        execution.duration
    );
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module (memory (export "memory") 1)
            (func (export "_start") (loop $more (drop (memory.grow (i32.const 16))) (br $more))))"#,
        Duration::from_secs(5),
    )
    .await;
    assert!(
        matches!(execution.outcome, Outcome::MemoryLimitExceeded { limit, .. } if limit == MEMORY_LIMIT),
        "{:?}",
        execution.outcome
    );
    let message = execution.error_message(Duration::from_secs(5)).unwrap();
    assert!(message.starts_with("memory limit exceeded"), "{message}");
}

#[test]
fn an_initial_memory_above_the_limit_is_refused_at_validation() {
    let sandbox = sandbox();
    let greedy =
        wat::parse_str(r#"(module (memory (export "memory") 1000) (func (export "_start")))"#)
            .unwrap();
    let error = sandbox.compile(&greedy).unwrap_err();
    assert!(error.to_string().contains("memory"), "{error}");
}

#[tokio::test]
async fn an_output_flood_is_truncated_and_stopped() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        &format!(
            r#"(module {WASI_FD_WRITE}
                (memory (export "memory") 1)
                (data (i32.const 0) "\10\00\00\00\00\04\00\00")
                (func (export "_start")
                    (loop $again
                        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                        (br $again))))"#
        ),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        execution.outcome,
        Outcome::OutputLimitExceeded {
            stream: "stdout",
            limit: OUTPUT_LIMIT
        }
    );
    assert!(execution.stdout_truncated);
    assert!(!execution.stderr_truncated);
    assert_eq!(execution.stdout.len(), OUTPUT_LIMIT);
}

#[tokio::test]
async fn unbounded_recursion_overflows_the_stack() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module (memory (export "memory") 1)
            (func $deeper (call $deeper))
            (func (export "_start") (call $deeper)))"#,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(execution.outcome, Outcome::StackOverflow);
}

#[tokio::test]
async fn a_trap_is_reported_with_its_reason() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
        Duration::from_secs(5),
    )
    .await;
    let Outcome::Trapped(message) = &execution.outcome else {
        panic!("expected a trap, got {:?}", execution.outcome);
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test]
async fn proc_exit_sets_the_exit_code() {
    let sandbox = sandbox();
    let execution = run_wat(
        &sandbox,
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const 3))))"#,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(execution.outcome, Outcome::Exited(3));
    assert_eq!(execution.exit_code(), 3);
    assert_eq!(execution.error_message(Duration::from_secs(5)), None);
}

#[tokio::test]
async fn invalid_modules_are_rejected_with_a_reason() {
    let sandbox = sandbox();
    let not_wasm = sandbox.compile(b"#!/bin/sh\necho hi\n").unwrap_err();
    assert!(not_wasm.to_string().contains("magic"), "{not_wasm}");

    let echo = bazaar_example_agents::by_name("echo").unwrap().wasm;
    let truncated = sandbox.compile(&echo[..echo.len() / 2]).unwrap_err();
    assert!(
        truncated
            .to_string()
            .starts_with("invalid WebAssembly module"),
        "{truncated}"
    );

    let library = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#).unwrap();
    let no_start = sandbox.compile(&library).unwrap_err();
    assert!(no_start.to_string().contains("_start"), "{no_start}");

    let foreign = wat::parse_str(
        r#"(module (import "env" "launch_missiles" (func)) (func (export "_start")))"#,
    )
    .unwrap();
    let unknown_import = sandbox.compile(&foreign).unwrap_err();
    assert!(
        unknown_import.to_string().contains("launch_missiles"),
        "{unknown_import}"
    );
}

#[tokio::test]
async fn the_sandbox_keeps_serving_after_hostile_guests() {
    let sandbox = sandbox();
    for _ in 0..3 {
        run_wat(
            &sandbox,
            r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
            Duration::from_secs(1),
        )
        .await;
    }
    let echo = sandbox
        .compile(bazaar_example_agents::by_name("echo").unwrap().wasm)
        .unwrap();
    let execution = sandbox
        .run(&echo, Arc::from(&b"still here"[..]), Duration::from_secs(5))
        .await;
    assert_eq!(execution.outcome, Outcome::Exited(0));
    assert_eq!(execution.stdout, b"still here");
}

#[tokio::test]
async fn a_prepared_agent_is_cached_by_hash() {
    let sandbox = sandbox();
    let wasm = bazaar_example_agents::by_name("echo").unwrap().wasm;
    let hash = Sha256::digest(wasm);
    assert!(sandbox.cached(&hash).is_none());
    sandbox
        .prepare(&hash, bytes::Bytes::from_static(wasm))
        .await
        .unwrap();
    assert!(sandbox.cached(&hash).is_some());
}

#[tokio::test]
async fn every_example_agent_produces_its_documented_output() {
    let sandbox = sandbox();
    for agent in bazaar_example_agents::EXAMPLE_AGENTS {
        let prepared = sandbox
            .compile(agent.wasm)
            .unwrap_or_else(|error| panic!("{} does not compile: {error}", agent.name));
        for example in agent.examples {
            let execution = sandbox
                .run(
                    &prepared,
                    Arc::from(example.input.as_bytes()),
                    Duration::from_secs(5),
                )
                .await;
            assert_eq!(
                execution.exit_code(),
                example.expected_exit_code,
                "{} on {:?}: {:?}, stderr {}",
                agent.name,
                example.input,
                execution.outcome,
                String::from_utf8_lossy(&execution.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&execution.stdout),
                example.expected_stdout,
                "{} on {:?}",
                agent.name,
                example.input
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_keep_their_outputs_apart() {
    let sandbox = sandbox();
    let echo = sandbox
        .compile(bazaar_example_agents::by_name("echo").unwrap().wasm)
        .unwrap();
    let runs = (0..64).map(|index| {
        let sandbox = sandbox.clone();
        let echo = echo.clone();
        tokio::spawn(async move {
            let input = format!("input number {index}");
            let execution = sandbox
                .run(&echo, Arc::from(input.as_bytes()), Duration::from_secs(10))
                .await;
            (input, execution)
        })
    });
    for run in runs {
        let (input, execution) = run.await.unwrap();
        assert_eq!(execution.outcome, Outcome::Exited(0));
        assert_eq!(execution.stdout, input.as_bytes());
    }
}
