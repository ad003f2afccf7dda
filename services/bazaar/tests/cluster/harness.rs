//! Starts the distributed mode as separate `bazaar` processes and talks to it over HTTP.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bazaar_test_support::ThrowawayTopology;
use serde_json::{Value, json};

/// Spins 6 s, then prints `done`: long enough to kill a worker mid-run.
pub fn slow_agent() -> String {
    bazaar_test_support::guests::slow_agent(Duration::from_secs(6))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn reachable(url_host_port: &str) -> bool {
    url_host_port
        .parse::<SocketAddr>()
        .ok()
        .is_some_and(|address| TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Cluster {
    client: reqwest::Client,
    base_url: String,
    api: String,
    environment: Vec<(String, String)>,
    logs: tempfile::TempDir,
    processes: Vec<(String, Child)>,
    workers: Vec<Option<Child>>,
    /// The operations endpoint (`/healthz`, `/readyz`, `/metrics`) of the results service
    /// and of each worker, by index.
    results_ops: SocketAddr,
    worker_ops: Vec<SocketAddr>,
    admin_url: String,
    database_url: String,
    database: String,
    /// The test's RabbitMQ queues, deleted when the cluster is dropped.
    _queues: ThrowawayTopology,
}

impl Cluster {
    /// Starts results, gateway and `workers` workers; `None` (after a loud message) when the
    /// servers are missing outside CI.
    pub async fn start(workers: usize) -> Option<Cluster> {
        Self::start_with(workers, &[]).await
    }

    /// [`Cluster::start`], with more environment variables for every process.
    pub async fn start_with(workers: usize, extra_environment: &[(&str, &str)]) -> Option<Cluster> {
        let admin_url = env_or(
            "BAZAAR_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        );
        let amqp_url = env_or(
            "BAZAAR_TEST_AMQP_URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
        let s3_endpoint = env_or("BAZAAR_TEST_S3_ENDPOINT", "http://127.0.0.1:9000");
        let missing: Vec<&str> = [
            ("PostgreSQL at 127.0.0.1:5432", "127.0.0.1:5432"),
            ("RabbitMQ at 127.0.0.1:5672", "127.0.0.1:5672"),
            ("S3 at 127.0.0.1:9000", "127.0.0.1:9000"),
        ]
        .into_iter()
        .filter(|(_, address)| !reachable(address))
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            let message = format!(
                "not reachable: {} (run scripts/services.sh)",
                missing.join(", ")
            );
            if std::env::var_os("CI").is_some() {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        }

        let unique = uuid::Uuid::now_v7().simple().to_string();
        let database = format!("bazaar_cluster_{unique}");
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!("create database {database}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let database_url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{database}"),
            None => panic!("BAZAAR_TEST_POSTGRES_URL must name a database"),
        };

        let http_port = free_port();
        let grpc_port = free_port();
        let environment: Vec<(String, String)> = [
            ("BAZAAR_DATABASE__URL", database_url.clone()),
            ("BAZAAR_QUEUE__URL", amqp_url.clone()),
            ("BAZAAR_QUEUE__PREFIX", format!("bazaar-test-{unique}")),
            ("BAZAAR_BLOBS__URL", format!("s3://bazaar-test-{unique}")),
            ("BAZAAR_RESULTS__LISTEN", format!("127.0.0.1:{grpc_port}")),
            (
                "BAZAAR_RESULTS__URL",
                format!("http://127.0.0.1:{grpc_port}"),
            ),
            ("BAZAAR_HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
            ("BAZAAR_WORKER__CONCURRENCY", "4".to_owned()),
            ("BAZAAR_SANDBOX__MAX_CONCURRENT_RUNS", "8".to_owned()),
            ("BAZAAR_LOG__FILTER", "info".to_owned()),
            ("AWS_ENDPOINT_URL", s3_endpoint),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .chain(
            extra_environment
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        )
        .collect();

        let mut cluster = Cluster {
            client: reqwest::Client::new(),
            base_url: format!("http://127.0.0.1:{http_port}"),
            api: format!("http://127.0.0.1:{http_port}/api/v1"),
            environment,
            logs: tempfile::tempdir().unwrap(),
            processes: Vec::new(),
            workers: Vec::new(),
            results_ops: SocketAddr::from(([127, 0, 0, 1], 0)),
            worker_ops: Vec::new(),
            admin_url,
            database_url,
            database,
            _queues: ThrowawayTopology::new(&amqp_url, &format!("bazaar-test-{unique}")),
        };
        let (results, results_ops) = cluster.spawn("results");
        cluster.results_ops = results_ops;
        cluster.processes.push(("results".to_owned(), results));
        cluster.wait_for_port(grpc_port).await;
        let (gateway, _) = cluster.spawn("gateway");
        cluster.processes.push(("gateway".to_owned(), gateway));
        cluster.wait_until_ready(http_port).await;
        for _ in 0..workers {
            cluster.start_worker().await;
        }
        Some(cluster)
    }

    /// Starts a process of `target` with an operations endpoint of its own; returns it and
    /// the endpoint's address.
    fn spawn(&self, target: &str) -> (Child, SocketAddr) {
        self.spawn_with(target, &[])
    }

    /// [`Cluster::spawn`] with `overrides` on top of the cluster's environment.
    fn spawn_with(&self, target: &str, overrides: &[(&str, String)]) -> (Child, SocketAddr) {
        let index = self.processes.len() + self.workers.len();
        let log: PathBuf = self.logs.path().join(format!("{index}-{target}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let ops = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(env!("CARGO_BIN_EXE_bazaar"))
            .args(["--target", target])
            .envs(
                self.environment
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .env(
                "BAZAAR_DATA_DIR",
                self.logs.path().join(format!("data-{index}")),
            )
            .env("BAZAAR_OPS__LISTEN", ops.to_string())
            .envs(overrides.iter().map(|(key, value)| (*key, value.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start the {target}: {error}"));
        (child, ops)
    }

    /// Starts one more worker and gives it a moment to subscribe.
    pub async fn start_worker(&mut self) {
        let (worker, ops) = self.spawn("worker");
        self.workers.push(Some(worker));
        self.worker_ops.push(ops);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    /// Starts a second results service on the same database and queue, which the gateway
    /// does not talk to: it stores about half of the results.
    pub async fn start_results_replica(&mut self) {
        let grpc_port = free_port();
        let (replica, _) = self.spawn_with(
            "results",
            &[("BAZAAR_RESULTS__LISTEN", format!("127.0.0.1:{grpc_port}"))],
        );
        self.processes.push(("results replica".to_owned(), replica));
        self.wait_for_port(grpc_port).await;
    }

    /// Starts a webhooks service (`--target webhooks`) on the cluster's database.
    pub async fn start_webhooks(&mut self) {
        let (webhooks, ops) = self.spawn("webhooks");
        self.processes.push(("webhooks".to_owned(), webhooks));
        self.wait_for_port(ops.port()).await;
    }

    /// SIGKILLs worker `index`: no shutdown, no acknowledgement.
    pub fn kill_worker(&mut self, index: usize) {
        let mut worker = self.workers[index].take().expect("the worker is running");
        worker.kill().unwrap();
        worker.wait().unwrap();
    }

    /// Sends SIGTERM to worker `index`; [`Cluster::wait_for_worker`] collects it.
    pub fn terminate_worker(&self, index: usize) {
        let worker = self.workers[index].as_ref().expect("the worker is running");
        send_sigterm(worker);
    }

    /// Waits up to `within` for worker `index` to exit; its exit status.
    pub async fn wait_for_worker(&mut self, index: usize, within: Duration) -> ExitStatus {
        let mut worker = self.workers[index].take().expect("the worker is running");
        self.wait_for_exit(&mut worker, "worker", within).await
    }

    /// Sends SIGTERM to the gateway; [`Cluster::wait_for_gateway`] collects it.
    pub fn terminate_gateway(&self) {
        let (_, gateway) = self
            .processes
            .iter()
            .find(|(name, _)| name == "gateway")
            .expect("the gateway is running");
        send_sigterm(gateway);
    }

    /// Waits up to `within` for the gateway to exit; its exit status.
    pub async fn wait_for_gateway(&mut self, within: Duration) -> ExitStatus {
        let position = self
            .processes
            .iter()
            .position(|(name, _)| name == "gateway")
            .expect("the gateway is running");
        let (_, mut gateway) = self.processes.remove(position);
        self.wait_for_exit(&mut gateway, "gateway", within).await
    }

    async fn wait_for_exit(&self, child: &mut Child, name: &str, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.dump_logs();
                panic!("the {name} did not exit within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>/api/v1`.
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// `GET` on the operations endpoint of the results service: status and body.
    pub async fn results_ops(&self, path: &str) -> (u16, String) {
        self.ops_get(self.results_ops, path).await
    }

    /// `GET` on the operations endpoint of worker `index`: status and body.
    pub async fn worker_ops(&self, index: usize, path: &str) -> (u16, String) {
        self.ops_get(self.worker_ops[index], path).await
    }

    /// `GET` on the gateway outside the API (`/metrics`, say): status and body.
    pub async fn gateway_root(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path} on the gateway failed: {error}"));
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    async fn ops_get(&self, address: SocketAddr, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("http://{address}{path}"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path} on {address} failed: {error}"));
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// The log (stdout and stderr) of the first process of `target` started.
    pub fn log_of(&self, target: &str) -> String {
        let suffix = format!("-{target}.log");
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.logs.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().ends_with(&suffix))
            })
            .collect();
        logs.sort();
        std::fs::read_to_string(logs.first().expect("no such process")).unwrap()
    }

    /// How many results the database holds for `task_id`, and how many tasks the statistics
    /// of `agent_id` count, read directly (the gateway may be gone).
    pub async fn stored_results(&self, task_id: &str, agent_id: &str) -> (i64, i64) {
        let pool = sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("connect to the cluster's database");
        let results: i64 =
            sqlx::query_scalar("select count(*) from task_results where task_id = $1")
                .bind(task_id)
                .fetch_one(&pool)
                .await
                .expect("count the task's results");
        let counted: i64 = sqlx::query_scalar(
            "select coalesce(sum(tasks_completed), 0)::bigint from agent_stats where agent_id = $1",
        )
        .bind(agent_id)
        .fetch_one(&pool)
        .await
        .expect("read the agent's statistics");
        pool.close().await;
        (results, counted)
    }

    async fn wait_for_port(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if reachable(&format!("127.0.0.1:{port}")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.dump_logs();
        panic!("nothing listens on port {port} after 60 s");
    }

    async fn wait_until_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = self
                .client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.dump_logs();
        panic!("the gateway is not ready after 60 s");
    }

    fn dump_logs(&self) {
        let Ok(entries) = std::fs::read_dir(self.logs.path()) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .path()
                .extension()
                .is_some_and(|extension| extension == "log")
            {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("----- {} -----", entry.file_name().to_string_lossy());
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }

    pub async fn register(&self, name: &str) -> String {
        let username = format!("{name}{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let (status, body) = self
            .send(
                self.client
                    .post(format!("{}/auth/register", self.api))
                    .json(&json!({"username": username, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap_or_else(|error| {
            self.dump_logs();
            panic!("request failed: {error}")
        });
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.post_with_headers(path, token, body, &[]).await
    }

    /// [`Cluster::post`] with extra request headers.
    pub async fn post_with_headers(
        &self,
        path: &str,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.api))
            .bearer_auth(token)
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Publishes [`slow_agent`] as `slow` and returns its id.
    pub async fn upload_slow_agent(&self, token: &str) -> String {
        let slow = wat::parse_str(slow_agent()).expect("the slow agent is valid WAT");
        let uploaded = self.upload(token, "slow", &slow).await;
        assert_eq!(uploaded.0, 201, "{}", uploaded.1);
        uploaded.1["id"].as_str().unwrap().to_owned()
    }

    /// The id of the seeded example agent called `name`.
    pub async fn example_agent(&self, name: &str) -> String {
        let (status, found) = self.get(&format!("/agents/search?q={name}"), None).await;
        assert_eq!(status, 200, "{found}");
        found["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|agent| agent["name"] == name)
            .unwrap_or_else(|| panic!("{name} is seeded: {found}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn upload(&self, token: &str, name: &str, wasm: &[u8]) -> (u16, Value) {
        let metadata = json!({"name": name, "description": "a test agent", "version": "1.0.0", "capabilities": ["test"], "price": 0});
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.to_string())
            .part(
                "binary",
                reqwest::multipart::Part::bytes(wasm.to_vec()).file_name("agent.wasm"),
            );
        self.send(
            self.client
                .post(format!("{}/agents", self.api))
                .bearer_auth(token)
                .multipart(form),
        )
        .await
    }

    /// Polls a task until its result exists.
    pub async fn wait_for_result(&self, token: &str, task_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let (status, body) = self
                .get(&format!("/tasks/{task_id}/results"), Some(token))
                .await;
            if status == 200 {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.dump_logs();
        panic!("no result for {task_id} after {timeout:?}");
    }

    /// Stops every process with SIGTERM (SIGKILL after 20 s) and drops the database.
    pub async fn stop(mut self) {
        let mut children: Vec<Child> = self.workers.drain(..).flatten().collect();
        children.extend(self.processes.drain(..).rev().map(|(_, child)| child));
        for child in &children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for mut child in children {
            while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "drop database if exists {} with (force)",
                self.database
            ))
            .execute(&admin)
            .await;
        }
    }
}

fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {} failed", child.id());
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        for (_, child) in &mut self.processes {
            let _ = child.kill();
        }
        for child in self.workers.iter_mut().flatten() {
            let _ = child.kill();
        }
    }
}
