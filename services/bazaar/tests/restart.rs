//! Embedded mode loses nothing it accepted: the real binary, killed with SIGKILL while most
//! of the tasks it accepted wait in its in-process queue, runs each of them exactly once
//! after a restart on the same data directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;

/// Tasks submitted before the kill.
const TASKS: usize = 200;

/// Spins 50 ms, then prints `done`: slow enough that one worker slot leaves most of the
/// tasks queued while they are submitted.
fn slow_agent() -> String {
    bazaar_test_support::guests::slow_agent(std::time::Duration::from_millis(50))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `bazaar` process in embedded mode (`--target all`, SQLite, in-process queue).
struct Embedded {
    child: Child,
    base: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Embedded {
    /// Starts the binary on `data_dir` with `settings` (`BAZAAR_…` variables) and waits
    /// until it is ready. Nothing of the test's own environment reaches it.
    async fn start(data_dir: &Path, log: PathBuf, settings: &[(&str, &str)]) -> Embedded {
        let port = free_port();
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bazaar"))
            .env_clear()
            .env("BAZAAR_DATA_DIR", data_dir)
            .env("BAZAAR_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("BAZAAR_SEED_EXAMPLES", "false")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the bazaar binary starts");
        let process = Embedded {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = process
                .client
                .get(format!("{}/readyz", process.base))
                .send()
                .await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "not ready after 30 s:\n{}",
                process.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's log, without the colours of its text format.
    fn log_text(&self) -> String {
        let coloured = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut plain = String::with_capacity(coloured.len());
        let mut characters = coloured.chars();
        while let Some(character) = characters.next() {
            if character == '\u{1b}' {
                // An SGR sequence: ESC [ … m.
                characters.by_ref().find(|&next| next == 'm');
            } else {
                plain.push(character);
            }
        }
        plain
    }

    /// SIGKILL: no shutdown, nothing drained, nothing flushed.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("the request is answered");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(
            self.client
                .get(format!("{}/api/v1{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}/api/v1{path}", self.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    async fn register(&self) -> String {
        let (status, body) = self
            .send(
                self.client
                    .post(format!("{}/api/v1/auth/register", self.base))
                    .json(&json!({"username": "restarter", "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    async fn upload(&self, token: &str, wasm: Vec<u8>) -> String {
        let metadata = json!({"name": "slow", "description": "spins for 50 ms", "version": "1.0.0", "capabilities": ["test"], "price": 0});
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.to_string())
            .part(
                "binary",
                reqwest::multipart::Part::bytes(wasm).file_name("slow.wasm"),
            );
        let (status, body) = self
            .send(
                self.client
                    .post(format!("{}/api/v1/agents", self.base))
                    .bearer_auth(token)
                    .multipart(form),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// The sum of `bazaar_worker_tasks_total` over its outcomes: runs this process finished.
    async fn runs_finished(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with("bazaar_worker_tasks_total{"))
            .map(|line| {
                let value = line.rsplit(' ').next().unwrap();
                value.parse::<f64>().unwrap() as u64
            })
            .sum()
    }
}

/// Results stored in the data directory's database, read beside (or after) the process.
async fn stored_results(data_dir: &Path) -> u64 {
    let options = SqliteConnectOptions::new()
        .filename(data_dir.join("bazaar.db"))
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let count: i64 = sqlx::query_scalar("select count(*) from task_results")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_queued_when_the_process_is_killed_run_once_after_a_restart() {
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();

    // One run at a time, so that most tasks are still queued at the kill.
    let first = Embedded::start(
        data_dir.path(),
        logs.path().join("first.log"),
        &[("BAZAAR_WORKER__CONCURRENCY", "1")],
    )
    .await;
    let token = first.register().await;
    let agent_id = first
        .upload(&token, wat::parse_str(slow_agent()).unwrap())
        .await;
    let mut task_ids = BTreeSet::new();
    for index in 0..TASKS {
        let (status, body) = first
            .post(
                "/tasks",
                &token,
                json!({"agent_id": agent_id, "input": format!("task {index}")}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        task_ids.insert(body["task_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(task_ids.len(), TASKS);
    first.kill();
    let submitted = started.elapsed();

    let finished_before_the_kill = stored_results(data_dir.path()).await;
    assert!(
        finished_before_the_kill < TASKS as u64 / 2,
        "most tasks should still have been queued at the kill, but {finished_before_the_kill} \
         of {TASKS} had results"
    );

    // Two runs at a time now, and a queue that holds fewer tasks than are to be resumed:
    // resuming must wait for room rather than drop any.
    let second = Embedded::start(
        data_dir.path(),
        logs.path().join("second.log"),
        &[
            ("BAZAAR_WORKER__CONCURRENCY", "2"),
            ("BAZAAR_QUEUE__CAPACITY", "20"),
        ],
    )
    .await;
    // Ready and answering while tasks are still being resumed: resuming does not hold the
    // gateway back.
    let (status, first_page) = second.get("/tasks/results?limit=1", &token).await;
    assert_eq!(status, 200, "{first_page}");
    let finished_when_ready = first_page["total"].as_u64().unwrap();
    assert!(
        finished_when_ready < TASKS as u64,
        "every task had finished before the restarted process answered"
    );
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut waiting: Vec<&String> = task_ids.iter().collect();
    while !waiting.is_empty() {
        let mut still_waiting = Vec::new();
        for task_id in waiting {
            let (status, body) = second
                .get(&format!("/tasks/{task_id}/results"), &token)
                .await;
            match status {
                200 => assert_eq!(body["stdout"], "done", "{body}"),
                404 => still_waiting.push(task_id),
                _ => panic!("GET /tasks/{task_id}/results answered {status}: {body}"),
            }
        }
        waiting = still_waiting;
        assert!(
            Instant::now() < deadline,
            "{} tasks have no result 45 s after the restart:\n{}",
            waiting.len(),
            second.log_text()
        );
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let all_finished = started.elapsed();

    // Every task once in the owner's listing, page by page.
    let mut listed = BTreeSet::new();
    for offset in [0, 100, 200] {
        let (status, page) = second
            .get(&format!("/tasks/results?limit=100&offset={offset}"), &token)
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], TASKS, "{page}");
        for result in page["results"].as_array().unwrap() {
            assert!(
                listed.insert(result["task_id"].as_str().unwrap().to_owned()),
                "{result} is listed twice"
            );
        }
    }
    assert_eq!(listed, task_ids);
    let (status, stats) = second
        .get(&format!("/agents/{agent_id}/stats"), &token)
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["tasks_completed"], TASKS, "{stats}");

    // Nothing ran twice needlessly: the second process ran exactly the tasks that had no
    // result, and said how many it resumed.
    let resumed = TASKS as u64 - finished_before_the_kill;
    assert_eq!(second.runs_finished().await, resumed);
    let log = second.log_text();
    assert!(
        log.contains(&format!("queued={resumed}")) && log.contains("resumed the tasks"),
        "the restart logs how many tasks it resumed:\n{log}"
    );
    second.kill();
    eprintln!(
        "submitted {TASKS} tasks in {submitted:?}; {finished_before_the_kill} finished before \
         the kill, {finished_when_ready} when the restarted process answered; all finished \
         {all_finished:?} after the start"
    );
}
