//! The test harness: a real Bazaar on port 0 with a fresh data directory, and a client with
//! one method per endpoint. Methods return the raw `reqwest::Response` so that tests can
//! assert on error cases; the conveniences below them unwrap the happy paths.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a test waits for an asynchronous task before giving up.
pub const POLL_DEADLINE: Duration = Duration::from_secs(20);

/// A running Bazaar and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    pub client: reqwest::Client,
    app: Option<bazaar::RunningApp>,
    // Dropped last: the app's SQLite file and binaries live here.
    _data_dir: TempDir,
}

/// Starts Bazaar in embedded mode with default settings (example agents seeded).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts Bazaar in embedded mode after `configure` has adjusted the configuration.
pub async fn spawn_app_with(configure: impl FnOnce(&mut bazaar::config::Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let mut config = bazaar::config::Config::embedded(data_dir.path());
    configure(&mut config);
    let app = bazaar::start(config).await.expect("bazaar starts");
    let address = app.http_address();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    TestApp {
        base_url: format!("http://{address}"),
        client,
        app: Some(app),
        _data_dir: data_dir,
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A short string unique within this test process, for usernames and agent names.
pub fn unique_suffix() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The usual agent metadata, with `name` and otherwise harmless values.
pub fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "description": "An agent uploaded by a test.",
        "version": "1.0.0",
        "capabilities": ["testing"],
        "price": 0.02,
    })
}

/// The echo example agent's module.
pub fn echo_wasm() -> &'static [u8] {
    bazaar_example_agents::by_name("echo")
        .expect("echo is an example agent")
        .wasm
}

/// A module compiled from WebAssembly text.
pub fn wasm_from_wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("the test module is valid WebAssembly text")
}

/// Asserts a status and reads the JSON body; on a mismatch the body is shown.
pub async fn expect_json(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let url = response.url().clone();
    let text = response.text().await.expect("a readable body");
    assert_eq!(status, expected, "{url}: unexpected status, body: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{url}: body is not JSON ({error}): {text:?}"))
}

/// Asserts that `response` is the error `{"error":{"code":code,"message":"..."}}` with
/// `expected` as its status, and returns the message.
pub async fn assert_error(response: Response, expected: StatusCode, code: &str) -> String {
    let status = response.status();
    let url = response.url().clone();
    let text = response.text().await.expect("a readable body");
    assert_eq!(status, expected, "{url}: unexpected status, body: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{url}: error body is not JSON ({error}): {text:?}"));
    assert_eq!(
        body["error"]["code"], code,
        "{url}: unexpected error code in {body}"
    );
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{url}: error message is not a string in {body}"));
    assert!(
        !message.trim().is_empty(),
        "{url}: empty error message in {body}"
    );
    message.to_owned()
}

/// A string field of a JSON object, failing the test if it is missing.
pub fn string_field<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string in {value}"))
}

impl TestApp {
    /// The app's data directory: its SQLite file is `bazaar.db` there.
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request to `path` with no credentials, for cases the endpoint methods do not cover.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("/api/v1{path}"))
    }

    fn authorized(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.api(method, path).bearer_auth(token)
    }

    async fn send(builder: RequestBuilder) -> Response {
        builder.send().await.expect("the request reaches bazaar")
    }

    /// Stops the app gracefully and starts it again on the same data directory, with the
    /// embedded defaults (it listens on a new port).
    pub async fn restart(mut self) -> TestApp {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        let config = bazaar::config::Config::embedded(self._data_dir.path());
        let app = bazaar::start(config).await.expect("bazaar starts again");
        self.base_url = format!("http://{}", app.http_address());
        self.app = Some(app);
        self
    }

    /// Stops the app gracefully.
    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }

    // ---- one method per endpoint -------------------------------------------------------

    pub async fn register(&self, username: &str, password: &str) -> Response {
        Self::send(
            self.api(Method::POST, "/auth/register")
                .json(&json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        Self::send(
            self.api(Method::POST, "/auth/login")
                .json(&json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn logout(&self, token: &str) -> Response {
        Self::send(self.authorized(Method::POST, "/auth/logout", token)).await
    }

    /// `POST /agents` with a `metadata` part (the JSON as text) and a `binary` part.
    pub async fn upload_agent(&self, token: &str, metadata: &Value, wasm: &[u8]) -> Response {
        let form = reqwest::multipart::Form::new()
            .part("metadata", json_part(&metadata.to_string()))
            .part("binary", binary_part(wasm));
        self.upload_form(token, form).await
    }

    /// `POST /agents` with any multipart form, for malformed uploads.
    pub async fn upload_form(&self, token: &str, form: reqwest::multipart::Form) -> Response {
        Self::send(
            self.authorized(Method::POST, "/agents", token)
                .multipart(form),
        )
        .await
    }

    pub async fn list_agents(&self, query: &[(&str, &str)]) -> Response {
        Self::send(self.api(Method::GET, "/agents").query(query)).await
    }

    pub async fn search(&self, query: &[(&str, &str)]) -> Response {
        Self::send(self.api(Method::GET, "/agents/search").query(query)).await
    }

    pub async fn get_agent(&self, agent_id: &str) -> Response {
        Self::send(self.api(Method::GET, &format!("/agents/{agent_id}"))).await
    }

    pub async fn agent_stats(&self, agent_id: &str) -> Response {
        Self::send(self.api(Method::GET, &format!("/agents/{agent_id}/stats"))).await
    }

    pub async fn post_review(&self, token: &str, agent_id: &str, review: &Value) -> Response {
        Self::send(
            self.authorized(Method::POST, &format!("/agents/{agent_id}/reviews"), token)
                .json(review),
        )
        .await
    }

    pub async fn reviews(&self, agent_id: &str, query: &[(&str, &str)]) -> Response {
        Self::send(
            self.api(Method::GET, &format!("/agents/{agent_id}/reviews"))
                .query(query),
        )
        .await
    }

    pub async fn patch_agent(&self, token: &str, agent_id: &str, changes: &Value) -> Response {
        Self::send(
            self.authorized(Method::PATCH, &format!("/agents/{agent_id}"), token)
                .json(changes),
        )
        .await
    }

    /// `POST /tasks/execute` with any JSON body.
    pub async fn execute(&self, token: &str, body: &Value) -> Response {
        Self::send(
            self.authorized(Method::POST, "/tasks/execute", token)
                .json(body),
        )
        .await
    }

    /// `POST /tasks/execute` with a `Prefer` header (`wait=N`).
    pub async fn execute_preferring(&self, token: &str, prefer: &str, body: &Value) -> Response {
        self.post_with_headers("/tasks/execute", token, &[("prefer", prefer)], body)
            .await
    }

    /// `POST` a JSON body to an API path with extra headers (`Idempotency-Key`, …).
    pub async fn post_with_headers(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Response {
        let mut request = self.authorized(Method::POST, path, token).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::send(request).await
    }

    /// `GET` a path the API handed out (a `Location`), with the token.
    pub async fn follow(&self, token: &str, location: &str) -> Response {
        Self::send(self.request(Method::GET, location).bearer_auth(token)).await
    }

    /// `POST /tasks` with any JSON body.
    pub async fn submit(&self, token: &str, body: &Value) -> Response {
        Self::send(self.authorized(Method::POST, "/tasks", token).json(body)).await
    }

    pub async fn task_status(&self, token: &str, task_id: &str) -> Response {
        Self::send(self.authorized(Method::GET, &format!("/tasks/{task_id}"), token)).await
    }

    pub async fn cancel(&self, token: &str, task_id: &str) -> Response {
        Self::send(self.authorized(Method::POST, &format!("/tasks/{task_id}/cancel"), token)).await
    }

    pub async fn events(&self, token: &str, task_id: &str) -> Response {
        Self::send(self.authorized(Method::GET, &format!("/tasks/{task_id}/events"), token)).await
    }

    pub async fn task_result(&self, token: &str, task_id: &str) -> Response {
        Self::send(self.authorized(Method::GET, &format!("/tasks/{task_id}/results"), token)).await
    }

    pub async fn list_results(&self, token: &str, query: &[(&str, &str)]) -> Response {
        Self::send(
            self.authorized(Method::GET, "/tasks/results", token)
                .query(query),
        )
        .await
    }

    pub async fn healthz(&self) -> Response {
        Self::send(self.request(Method::GET, "/healthz")).await
    }

    pub async fn readyz(&self) -> Response {
        Self::send(self.request(Method::GET, "/readyz")).await
    }

    pub async fn openapi(&self) -> Response {
        Self::send(self.api(Method::GET, "/openapi.json")).await
    }

    pub async fn docs(&self) -> Response {
        Self::send(self.request(Method::GET, "/docs")).await
    }

    // ---- conveniences ------------------------------------------------------------------

    /// Registers a user with a unique name; returns `(user_id, token)`.
    pub async fn register_user(&self) -> (String, String) {
        let username = format!("user_{}", unique_suffix());
        let body = expect_json(
            self.register(&username, "correct horse battery").await,
            StatusCode::CREATED,
        )
        .await;
        (
            string_field(&body, "user_id").to_owned(),
            string_field(&body, "token").to_owned(),
        )
    }

    /// Uploads `wasm` under `metadata` and returns the created agent.
    pub async fn upload_ok(&self, token: &str, metadata: &Value, wasm: &[u8]) -> Value {
        expect_json(
            self.upload_agent(token, metadata, wasm).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Uploads a module built from WebAssembly text under a unique name; returns its id.
    pub async fn upload_wat(&self, token: &str, text: &str) -> String {
        let name = format!("guest-{}", unique_suffix());
        let agent = self
            .upload_ok(token, &metadata(&name), &wasm_from_wat(text))
            .await;
        string_field(&agent, "id").to_owned()
    }

    /// Uploads a copy of the echo agent under a unique name; returns its id.
    pub async fn upload_echo(&self, token: &str) -> String {
        let name = format!("echo-copy-{}", unique_suffix());
        let agent = self.upload_ok(token, &metadata(&name), echo_wasm()).await;
        string_field(&agent, "id").to_owned()
    }

    /// Runs `input` on `agent_id` synchronously and returns the result, expecting 200.
    pub async fn execute_ok(&self, token: &str, agent_id: &str, input: &str) -> Value {
        expect_json(
            self.execute(token, &json!({"agent_id": agent_id, "input": input}))
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// The id of the seeded example agent called `name`.
    pub async fn example_agent_id(&self, name: &str) -> String {
        let listing =
            expect_json(self.list_agents(&[("limit", "100")]).await, StatusCode::OK).await;
        listing["agents"]
            .as_array()
            .expect("`agents` is an array")
            .iter()
            .find(|agent| agent["name"] == name)
            .map(|agent| string_field(agent, "id").to_owned())
            .unwrap_or_else(|| panic!("no example agent called {name} in {listing}"))
    }

    /// Total number of agents the public listing reports.
    pub async fn agent_total(&self, query: &[(&str, &str)]) -> u64 {
        let listing = expect_json(self.list_agents(query).await, StatusCode::OK).await;
        listing["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("`total` is not a count in {listing}"))
    }

    /// Polls `GET /tasks/{id}` until the task is finished
    /// and returns the final status body. Every status seen must be one the contract names.
    pub async fn wait_for_task(&self, token: &str, task_id: &str) -> Value {
        let started = Instant::now();
        let mut delay = Duration::from_millis(10);
        loop {
            let status = expect_json(self.task_status(token, task_id).await, StatusCode::OK).await;
            let state = string_field(&status, "status").to_owned();
            assert!(
                [
                    "queued",
                    "running",
                    "succeeded",
                    "failed",
                    "timed_out",
                    "canceled"
                ]
                .contains(&state.as_str()),
                "unexpected task status {state:?} in {status}"
            );
            if ["succeeded", "failed", "timed_out", "canceled"].contains(&state.as_str()) {
                return status;
            }
            assert!(
                started.elapsed() < POLL_DEADLINE,
                "task {task_id} still {state} after {POLL_DEADLINE:?}"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }
}

fn json_part(text: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::text(text.to_owned())
        .mime_str("application/json")
        .expect("a valid mime type")
}

/// A `binary` part holding a `.wasm` file.
pub fn binary_part(wasm: &[u8]) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(wasm.to_vec())
        .file_name("agent.wasm")
        .mime_str("application/wasm")
        .expect("a valid mime type")
}

/// A `metadata` part holding `text` as given (JSON or not).
pub fn metadata_part(text: &str) -> reqwest::multipart::Part {
    json_part(text)
}

/// Asserts `value` is an RFC 3339 timestamp as a string (a cheap shape check: date, `T`,
/// time, and a zone).
pub fn assert_timestamp(value: &Value, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    let bytes = text.as_bytes();
    let shaped = text.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b'T' || bytes[10] == b't')
        && bytes[13] == b':'
        && (text.ends_with('Z') || text.ends_with('z') || text[19..].contains(['+', '-']));
    assert!(shaped, "{what} is not an RFC 3339 timestamp: {text:?}");
}
