//! The worker's one step: a task in, an outcome out. A task that can never run is a failed
//! result at once; only a dependency that may come back (the blob store) is a retry.

use bazaar_domain::{ResultStatus, Sha256};
use bazaar_worker::Outcome;

use crate::{
    example, module, module_that_says_it_ran, published, task, test_worker, worker_config,
};

#[tokio::test]
async fn an_agent_from_the_blob_store_runs_and_succeeds_with_its_output() {
    let test = test_worker(worker_config(3));
    let echo = example("echo");
    let hash = test.blobs.add(echo.wasm);
    let run = &echo.examples[0];
    let task = task(&hash, run.input);

    let result = published(test.worker.execute_one(&task).await);

    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    assert_eq!(result.exit_code, 0);
    assert_eq!(String::from_utf8_lossy(&result.stdout), run.expected_stdout);
    assert_eq!(result.error, None);
    assert!(!result.stdout_truncated && !result.stderr_truncated);
    assert_eq!(
        (&result.task_id, &result.agent_id, &result.owner),
        (&task.task_id, &task.agent_id, &task.owner),
        "the result belongs to the task it answers"
    );
}

#[tokio::test]
async fn an_agent_that_exits_non_zero_is_a_failed_result_with_its_exit_code_and_output() {
    let test = test_worker(worker_config(3));
    let json_format = example("json-format");
    let hash = test.blobs.add(json_format.wasm);
    let bad_input = json_format
        .examples
        .iter()
        .find(|run| run.expected_exit_code != 0)
        .expect("json-format has an example of bad input");

    let result = published(test.worker.execute_one(&task(&hash, bad_input.input)).await);

    assert_eq!(result.status, ResultStatus::Failed, "{result:?}");
    assert_eq!(result.exit_code, bad_input.expected_exit_code);
    assert_eq!(
        String::from_utf8_lossy(&result.stdout),
        bad_input.expected_stdout
    );
    assert!(
        !result.stderr.is_empty(),
        "the agent's diagnostic is kept on stderr"
    );
}

#[tokio::test]
async fn a_missing_binary_is_a_failed_result_not_a_retry() {
    let test = test_worker(worker_config(3));
    let never_stored = Sha256::digest(b"a binary nobody uploaded");

    let outcome = test.worker.execute_one(&task(&never_stored, "")).await;

    let Outcome::Done(result) = outcome else {
        panic!("a missing binary will not appear by retrying: {outcome:?}");
    };
    assert_eq!(result.status, ResultStatus::Failed);
    assert_eq!(result.exit_code, -1);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("missing"), "{error}");
    assert!(error.contains(never_stored.as_str()), "{error}");
}

#[tokio::test]
async fn a_binary_that_does_not_match_its_hash_is_an_integrity_failure_and_is_not_run() {
    let test = test_worker(worker_config(3));
    let expected = Sha256::digest(b"the binary the agent was published with");
    test.blobs.add_under(&expected, module_that_says_it_ran());

    let result = published(test.worker.execute_one(&task(&expected, "")).await);

    assert_eq!(result.status, ResultStatus::Failed);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("integrity"), "{error}");
    assert!(
        result.stdout.is_empty(),
        "the module ran: {:?}",
        result.stdout
    );
    assert!(
        test.sandbox.cached(&expected).is_none(),
        "a tampered binary must not be compiled and cached under the hash it fakes"
    );
}

#[tokio::test]
async fn an_unreachable_blob_store_is_a_retry() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(example("echo").wasm);
    test.blobs.set_down(true);

    let outcome = test.worker.execute_one(&task(&hash, "hello")).await;

    let Outcome::Retry(message) = outcome else {
        panic!("the blob store may come back, the task should be retried: {outcome:?}");
    };
    assert!(message.contains("failed to fetch"), "{message}");
}

#[tokio::test]
async fn a_task_that_was_retried_runs_once_the_blob_store_is_back() {
    let test = test_worker(worker_config(3));
    let echo = example("echo");
    let hash = test.blobs.add(echo.wasm);
    let task = task(&hash, "still here\n");
    test.blobs.set_down(true);
    assert!(matches!(
        test.worker.execute_one(&task).await,
        Outcome::Retry(_)
    ));

    test.blobs.set_down(false);
    let result = published(test.worker.execute_one(&task).await);

    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    assert_eq!(result.stdout, b"still here\n");
}

#[tokio::test]
async fn bytes_that_are_not_webassembly_are_a_failed_result_saying_they_could_not_be_compiled() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(&b"#!/bin/sh\necho not an agent\n"[..]);

    let result = published(test.worker.execute_one(&task(&hash, "")).await);

    assert_eq!(result.status, ResultStatus::Failed);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("could not be compiled"), "{error}");
}

#[tokio::test]
async fn a_module_without_a_start_function_is_a_failed_result_saying_it_could_not_be_compiled() {
    let test = test_worker(worker_config(3));
    let hash = test
        .blobs
        .add(module(r#"(module (memory (export "memory") 1))"#));

    let result = published(test.worker.execute_one(&task(&hash, "")).await);

    assert_eq!(result.status, ResultStatus::Failed);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("could not be compiled"), "{error}");
    assert!(error.contains("_start"), "{error}");
}

#[tokio::test]
async fn an_agent_already_compiled_runs_again_without_the_blob_store() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(example("echo").wasm);
    let first = published(test.worker.execute_one(&task(&hash, "first")).await);
    assert_eq!(first.status, ResultStatus::Succeeded, "{first:?}");

    test.blobs.set_down(true);
    let second = published(test.worker.execute_one(&task(&hash, "second")).await);

    assert_eq!(second.status, ResultStatus::Succeeded, "{second:?}");
    assert_eq!(second.stdout, b"second");
    assert_eq!(
        test.blobs.reads(),
        1,
        "the binary is fetched once per worker"
    );
}

#[tokio::test]
async fn an_agent_that_runs_past_the_tasks_deadline_is_a_timed_out_result() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(module(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#,
    ));
    let mut task = task(&hash, "");
    task.timeout_ms = 100;

    let result = published(test.worker.execute_one(&task).await);

    assert_eq!(result.status, ResultStatus::TimedOut, "{result:?}");
    assert_eq!(result.exit_code, -1);
    let error = result.error.expect("a timed out result says why");
    assert!(error.contains("100 ms"), "{error}");
}

#[tokio::test]
async fn an_agent_that_traps_is_a_failed_result_with_the_trap() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(module(
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
    ));

    let result = published(test.worker.execute_one(&task(&hash, "")).await);

    assert_eq!(result.status, ResultStatus::Failed, "{result:?}");
    assert_eq!(result.exit_code, -1);
    let error = result.error.expect("a trap says why");
    assert!(error.contains("trap"), "{error}");
}
