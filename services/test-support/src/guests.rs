//! Small agents in WebAssembly text, for tests that need a run of a known shape: one that
//! takes a while, one that never ends, one that writes, waits and writes again.

use std::time::Duration;

/// A module that spins on the monotonic clock for `duration`, then prints `done`: busy the
/// whole time, as a computing agent is.
pub fn slow_agent(duration: Duration) -> String {
    let nanoseconds = duration.as_nanos();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "done")
  (func (export "_start") (local $start i64)
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))
    (local.set $start (i64.load (i32.const 0)))
    (block $out
      (loop $spin
        (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))
        (br_if $out (i64.ge_u (i64.sub (i64.load (i32.const 0)) (local.get $start)) (i64.const {nanoseconds})))
        (br $spin)))
    (i32.store (i32.const 16) (i32.const 100))
    (i32.store (i32.const 20) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"#
    )
}

/// A module that loops until it is stopped.
pub const SPIN: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "_start") (loop $forever (br $forever))))"#;

/// A module that writes `first\n`, sleeps 1.5 s in a host call (`poll_oneoff`), then writes
/// `second\n`: its first line can be seen while it still runs.
pub const TWO_LINES: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "\01")
    (data (i32.const 24) "\00\2f\68\59\00\00\00\00")
    (data (i32.const 300) "\90\01\00\00\06\00\00\00")
    (data (i32.const 308) "\9a\01\00\00\07\00\00\00")
    (data (i32.const 400) "first\n")
    (data (i32.const 410) "second\n")
    (func (export "_start")
        (drop (call $write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 500)))
        (drop (call $poll (i32.const 0) (i32.const 104) (i32.const 1) (i32.const 200)))
        (drop (call $write (i32.const 1) (i32.const 308) (i32.const 1) (i32.const 500)))))"#;
