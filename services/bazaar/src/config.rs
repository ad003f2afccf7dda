//! Configuration: defaults, then a TOML file, then `BAZAAR_SECTION__KEY` environment
//! variables, then command-line flags. Every field has a default, so no file is needed.

use anyhow::Context;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bazaar_blobs::BlobLocation;
use bazaar_database::DatabaseLocation;
use bazaar_gateway::GatewayConfig;
use bazaar_queue::QueueLocation;
use bazaar_results::RetentionConfig;
use bazaar_sandbox::SandboxConfig;
use bazaar_webhooks::targets::AllowedTarget;
use bazaar_webhooks::{RetrySchedule, TargetPolicy, WebhooksConfig};
use bazaar_worker::WorkerConfig;
use serde::{Deserialize, Serialize};

/// Which services one process runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Everything in one process with embedded backends (SQLite, local files, in-process
    /// queue): the default.
    #[default]
    All,
    /// The public REST API.
    Gateway,
    /// A stateless worker that runs tasks.
    Worker,
    /// The results service.
    Results,
    /// The webhooks service: sends the messages of tasks' webhooks.
    Webhooks,
}

impl Target {
    /// Every target, in the order `--help` and errors list them.
    pub const ALL: [Target; 5] = [
        Target::All,
        Target::Gateway,
        Target::Worker,
        Target::Results,
        Target::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Gateway => "gateway",
            Target::Worker => "worker",
            Target::Results => "results",
            Target::Webhooks => "webhooks",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Target::ALL
            .into_iter()
            .find(|target| target.as_str() == raw)
            .ok_or_else(|| {
                let valid: Vec<&str> = Target::ALL.iter().map(|target| target.as_str()).collect();
                format!(
                    "unknown target `{raw}`; valid targets are {}",
                    valid.join(", ")
                )
            })
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which services this process runs.
    pub target: Target,
    /// Where embedded mode keeps its SQLite database and agent binaries.
    pub data_dir: PathBuf,
    /// Publish the example agents when the marketplace is empty.
    pub seed_examples: bool,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub blobs: BlobsConfig,
    pub queue: QueueConfig,
    pub results: ResultsSettings,
    pub sandbox: SandboxSettings,
    pub worker: WorkerSettings,
    pub webhooks: WebhooksSettings,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub ops: OpsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: Target::All,
            data_dir: PathBuf::from("data"),
            seed_examples: true,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            blobs: BlobsConfig::default(),
            queue: QueueConfig::default(),
            results: ResultsSettings::default(),
            sandbox: SandboxSettings::default(),
            worker: WorkerSettings::default(),
            webhooks: WebhooksSettings::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            log: LogConfig::default(),
            ops: OpsConfig::default(),
        }
    }
}

impl Config {
    /// Embedded mode on an ephemeral loopback port with its data in `data_dir`: what tests
    /// and one-off runs want.
    pub fn embedded(data_dir: &Path) -> Self {
        Config {
            data_dir: data_dir.to_path_buf(),
            http: HttpConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..HttpConfig::default()
            },
            ..Config::default()
        }
    }

    /// The database in effect: the configured one, or a SQLite file in the data directory.
    pub fn database_location(&self) -> DatabaseLocation {
        match &self.database.url {
            Some(location) => location.clone(),
            None => DatabaseLocation::sqlite(self.data_dir.join("bazaar.db")),
        }
    }

    /// Where compiled modules are cached on disk: the configured directory, or `compiled/`
    /// in the data directory.
    pub fn compiled_cache_directory(&self) -> PathBuf {
        match &self.sandbox.cache_dir {
            Some(directory) => directory.clone(),
            None => self.data_dir.join("compiled"),
        }
    }

    /// Where binaries go: the configured location, or `blobs/` in the data directory.
    pub fn blob_location(&self) -> BlobLocation {
        match &self.blobs.url {
            Some(location) => location.clone(),
            None => BlobLocation::Directory(self.data_dir.join("blobs")),
        }
    }

    /// The queue in effect: the configured broker, or the in-process queue.
    pub fn queue_location(&self) -> QueueLocation {
        self.queue.url.clone().unwrap_or(QueueLocation::InProcess)
    }

    /// What this configuration lacks for its target: a process that runs one service talks to
    /// the others through PostgreSQL, RabbitMQ, S3 and gRPC, never through embedded backends.
    pub fn check_distributed(&self) -> Result<(), String> {
        let needs = |what: bool, key: &str, example: &str| {
            if what {
                Err(format!(
                    "target `{}` needs `{key}` ({example})",
                    self.target
                ))
            } else {
                Ok(())
            }
        };
        let is_sqlite = self.database_location().is_sqlite();
        let is_local_blobs = matches!(self.blob_location(), BlobLocation::Directory(_));
        match self.target {
            Target::All => Ok(()),
            Target::Gateway => {
                needs(self.queue.url.is_none(), "queue.url", "amqp://…")?;
                needs(is_sqlite, "database.url", "postgres://…")?;
                needs(is_local_blobs, "blobs.url", "s3://bucket")?;
                needs(
                    self.results.url.is_none(),
                    "results.url",
                    "http://host:50051",
                )
            }
            Target::Worker => {
                needs(self.queue.url.is_none(), "queue.url", "amqp://…")?;
                needs(is_local_blobs, "blobs.url", "s3://bucket")
            }
            Target::Results => {
                needs(self.queue.url.is_none(), "queue.url", "amqp://…")?;
                needs(is_sqlite, "database.url", "postgres://…")
            }
            Target::Webhooks => needs(is_sqlite, "database.url", "postgres://…"),
        }
    }
}

/// The HTTP server of the gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The largest agent upload, in bytes.
    pub max_upload_bytes: usize,
    /// The largest task input, in bytes.
    pub max_input_bytes: usize,
    /// How much longer than its timeout `POST /tasks/execute` waits for a result before
    /// answering 202 with the task and its `Location` (the task itself goes on). A client
    /// can ask for a shorter wait with `Prefer: wait=N`.
    pub execute_wait_grace_ms: u64,
    /// How long the gateway trusts a token or an agent it has read, in milliseconds, before
    /// reading it again. A logout or agent change made through this gateway takes effect at
    /// once; one made through another gateway replica within this time. 0 turns it off.
    pub lookup_cache_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let gateway = GatewayConfig::default();
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_upload_bytes: gateway.max_upload_bytes,
            max_input_bytes: gateway.max_input_bytes,
            execute_wait_grace_ms: millis(gateway.execute_wait_grace),
            lookup_cache_ms: millis(gateway.lookup_cache_ttl),
        }
    }
}

/// A default duration as the whole milliseconds configuration speaks.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The database of records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/file.db` or `postgres://user:password@host:5432/database`; by default
    /// `bazaar.db` in the data directory. Any other scheme is refused at start-up; a
    /// password is never printed.
    pub url: Option<DatabaseLocation>,
}

/// Where agent binaries are stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    /// `s3://bucket[/prefix]` (endpoint, region and credentials from the standard `AWS_*`
    /// variables), or a local directory (`file:///path` or a plain path); by default
    /// `blobs/` in the data directory. Any other scheme is refused at start-up.
    pub url: Option<BlobLocation>,
    /// Create the S3 bucket at start-up when it is missing.
    pub create_bucket: bool,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        BlobsConfig {
            url: None,
            create_bucket: true,
        }
    }
}

/// The results service: its gRPC side and its retention job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResultsSettings {
    /// Where `--target results` serves gRPC.
    pub listen: SocketAddr,
    /// Where `--target gateway` finds the results service (`http://host:port`).
    pub url: Option<String>,
    /// Days a result is kept after it was stored; then it is deleted with its task (and the
    /// task's input and runs) by the results service's retention job. 0 keeps results
    /// forever. Agent statistics' counters are not affected; duration percentiles describe
    /// the results still kept. Expired tokens and idempotency keys older than their 24-hour
    /// window are deleted whatever this says.
    pub retention_days: u32,
    /// Milliseconds between two runs of the retention job (the first runs at start-up).
    /// With several results replicas, one runs at a time and the others skip their turn.
    pub retention_interval_ms: u64,
}

impl Default for ResultsSettings {
    fn default() -> Self {
        let retention = RetentionConfig::default();
        ResultsSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            url: None,
            retention_days: retention
                .keep_results_for
                .map_or(0, |kept_for| kept_for.num_days() as u32),
            retention_interval_ms: millis(retention.interval),
        }
    }
}

impl ResultsSettings {
    /// The retention job's settings.
    pub fn to_retention_config(&self) -> RetentionConfig {
        RetentionConfig {
            keep_results_for: (self.retention_days > 0)
                .then(|| chrono::TimeDelta::days(i64::from(self.retention_days))),
            interval: Duration::from_millis(self.retention_interval_ms.max(1)),
            ..RetentionConfig::default()
        }
    }
}

/// The task queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// `amqp://user:password@host:5672/vhost` for RabbitMQ; unset means the in-process queue
    /// (embedded mode only). Any other scheme is refused at start-up; a password is never
    /// printed.
    pub url: Option<QueueLocation>,
    /// Prefix of the RabbitMQ queue names (`<prefix>.tasks`, `<prefix>.results`, …).
    pub prefix: String,
    /// Tasks (and results) the in-process queue holds before new tasks get 503.
    pub capacity: usize,
    /// Deliveries of one message before it is given up.
    pub delivery_limit: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: None,
            prefix: "bazaar".to_owned(),
            capacity: 10_000,
            delivery_limit: 5,
        }
    }
}

/// Limits of every agent run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// The longest run allowed, in milliseconds (5 minutes, as in the original system).
    pub max_timeout_ms: u64,
    /// A run's timeout when the task names none, in milliseconds.
    pub default_timeout_ms: u64,
    /// Linear memory per run, in MiB.
    pub memory_limit_mib: u64,
    /// WebAssembly stack per run, in KiB.
    pub max_wasm_stack_kib: u64,
    /// Bytes of stdout kept per run.
    pub stdout_limit_bytes: usize,
    /// Bytes of stderr kept per run.
    pub stderr_limit_bytes: usize,
    /// Compiled modules kept in memory.
    pub module_cache_capacity: usize,
    /// Runs at the same time (and instance slots reserved).
    pub max_concurrent_runs: u32,
    /// Where compiled modules are kept on disk, so that a restarted process loads them
    /// instead of compiling again; by default `compiled/` in the data directory. The
    /// directory must be private to this process's user: what is in it is run as native code.
    pub cache_dir: Option<PathBuf>,
    /// Compiled modules kept on disk; the oldest are removed beyond it.
    pub disk_cache_capacity: usize,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        let sandbox = SandboxConfig::default();
        SandboxSettings {
            max_timeout_ms: millis(sandbox.max_timeout),
            default_timeout_ms: millis(GatewayConfig::default().default_timeout),
            memory_limit_mib: (sandbox.memory_limit_bytes >> 20) as u64,
            max_wasm_stack_kib: (sandbox.max_wasm_stack_bytes >> 10) as u64,
            stdout_limit_bytes: sandbox.stdout_limit_bytes,
            stderr_limit_bytes: sandbox.stderr_limit_bytes,
            module_cache_capacity: sandbox.module_cache_capacity,
            max_concurrent_runs: sandbox.max_concurrent_runs,
            cache_dir: None,
            disk_cache_capacity: sandbox.disk_cache_capacity,
        }
    }
}

impl SandboxSettings {
    /// The sandbox's settings; `cache_dir` is where compiled modules go on disk, if anywhere.
    pub fn to_sandbox_config(&self, cache_dir: Option<PathBuf>) -> SandboxConfig {
        SandboxConfig {
            max_timeout: Duration::from_millis(self.max_timeout_ms),
            memory_limit_bytes: (self.memory_limit_mib as usize) << 20,
            max_wasm_stack_bytes: (self.max_wasm_stack_kib as usize) << 10,
            stdout_limit_bytes: self.stdout_limit_bytes,
            stderr_limit_bytes: self.stderr_limit_bytes,
            module_cache_capacity: self.module_cache_capacity,
            max_concurrent_runs: self.max_concurrent_runs,
            cache_dir,
            disk_cache_capacity: self.disk_cache_capacity,
            ..SandboxConfig::default()
        }
    }
}

/// The worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Tasks one worker runs at the same time.
    pub concurrency: usize,
    /// Deliveries of a task before a transient failure (say, the blob store is down)
    /// becomes a failed result.
    pub max_attempts: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let worker = WorkerConfig::default();
        WorkerSettings {
            concurrency: worker.concurrency,
            max_attempts: worker.max_attempts,
        }
    }
}

/// The webhooks service, and the targets a task's webhook may name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksSettings {
    /// How long one attempt may take, connecting included, before it is cut off and
    /// counted as failed, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts per message, the first included; then it is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failed attempt, in milliseconds; each later wait is four
    /// times the one before (by default 45 s, 3 min, 12 min, 48 min: about an hour).
    pub first_retry_delay_ms: u64,
    /// How often the outbox is looked at while nothing is due, in milliseconds.
    pub poll_interval_ms: u64,
    /// Attempts in flight at once per webhooks service.
    pub concurrency: usize,
    /// Targets allowed though they are loopback, private, link-local or otherwise not
    /// public: addresses (`127.0.0.1`), networks (`10.0.0.0/8`) or host names
    /// (`receiver.internal`, allowed whatever they resolve to). Checked at submission (by
    /// the gateway) and at delivery (by the webhooks service); set it alike on both.
    pub allowed_targets: Vec<AllowedTarget>,
}

impl Default for WebhooksSettings {
    fn default() -> Self {
        let webhooks = WebhooksConfig::default();
        WebhooksSettings {
            timeout_ms: millis(webhooks.timeout),
            max_attempts: webhooks.schedule.max_attempts,
            first_retry_delay_ms: millis(webhooks.schedule.first_retry_delay),
            poll_interval_ms: millis(webhooks.poll_interval),
            concurrency: webhooks.concurrency,
            allowed_targets: Vec::new(),
        }
    }
}

impl WebhooksSettings {
    /// The targets a webhook may name beside public addresses.
    pub fn target_policy(&self) -> TargetPolicy {
        TargetPolicy::new(self.allowed_targets.clone())
    }

    /// The webhooks service's settings.
    pub fn to_webhooks_config(&self) -> WebhooksConfig {
        WebhooksConfig {
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            schedule: RetrySchedule {
                max_attempts: self.max_attempts.max(1),
                first_retry_delay: Duration::from_millis(self.first_retry_delay_ms),
            },
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(1)),
            concurrency: self.concurrency.max(1),
            allowed_targets: self.target_policy(),
        }
    }
}

/// Per-user limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Tasks a user may submit per second; 0 turns the limit off.
    pub tasks_per_second_per_user: f64,
    /// Tasks a user may submit in a burst before the rate applies.
    pub task_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let gateway = GatewayConfig::default();
        LimitsConfig {
            tasks_per_second_per_user: gateway.tasks_per_second_per_user,
            task_burst: gateway.task_burst,
        }
    }
}

/// Accounts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a login token stays valid, in hours.
    pub token_ttl_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_ttl_hours: GatewayConfig::default().token_ttl.as_secs() / 3600,
        }
    }
}

/// The operations endpoint of processes without a REST API (`--target worker` and
/// `--target results`): `/healthz`, `/readyz` and `/metrics`. The gateway serves the same
/// paths on its own HTTP address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsConfig {
    /// Address of the operations endpoint; port 0 picks a free one.
    pub listen: SocketAddr,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `bazaar=debug,info`; `RUST_LOG` overrides it. It
    /// also decides which spans exist, and so which are exported as traces. Unless it names
    /// `wasmtime_wasi`, `wasmtime_wasi=warn` is added: that crate opens a span for every WASI
    /// call a guest makes.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Loads the configuration: defaults, then `file` if given, then `BAZAAR_*` variables.
pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
    use figment::Figment;
    use figment::providers::{Env, Format, Serialized, Toml};

    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.exists() {
            anyhow::bail!("the configuration file {} does not exist", file.display());
        }
        figment = figment.merge(Toml::file(file));
    }
    // `BAZAAR_CONFIG` names the file (a flag's variable), and `BAZAAR_TEST_*` point the test
    // suites at servers: neither is a setting.
    figment = figment.merge(
        Env::prefixed("BAZAAR_")
            .filter(|key| {
                key != "config" && !key.as_str().to_ascii_lowercase().starts_with("test_")
            })
            .split("__"),
    );
    figment.extract().context("invalid configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_target_lists_the_valid_ones() {
        let error = Target::from_str("everything").unwrap_err();
        assert!(
            error.contains("all, gateway, worker, results, webhooks"),
            "{error}"
        );
        assert_eq!(Target::from_str("worker"), Ok(Target::Worker));
    }

    #[test]
    fn a_single_service_target_needs_the_distributed_backends() {
        let mut config = Config::embedded(Path::new("/tmp/x"));
        config.target = Target::Worker;
        let error = config.check_distributed().unwrap_err();
        assert!(error.contains("queue.url"), "{error}");
        config.queue.url = Some("amqp://localhost".parse().unwrap());
        config.blobs.url = Some("s3://agents".parse().unwrap());
        assert_eq!(config.check_distributed(), Ok(()));
        config.target = Target::Gateway;
        assert!(
            config
                .check_distributed()
                .unwrap_err()
                .contains("database.url")
        );
    }

    #[test]
    fn the_default_database_lives_in_the_data_directory() {
        let config = Config::embedded(Path::new("/tmp/somewhere"));
        assert_eq!(
            config.database_location().url(),
            "sqlite:///tmp/somewhere/bazaar.db"
        );
        assert_eq!(
            config.blob_location(),
            BlobLocation::Directory(PathBuf::from("/tmp/somewhere/blobs"))
        );
    }

    #[test]
    fn a_file_and_the_environment_override_the_defaults() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("bazaar.toml");
        std::fs::write(
            &file,
            "[sandbox]\nmemory_limit_mib = 64\n[http]\nlisten = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let config = load(Some(&file)).unwrap();
        assert_eq!(config.sandbox.memory_limit_mib, 64);
        assert_eq!(config.http.listen.port(), 9999);
        assert_eq!(
            config.worker.concurrency,
            WorkerSettings::default().concurrency
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn the_config_file_variable_is_not_taken_for_a_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BAZAAR_CONFIG", "bazaar.toml");
            jail.set_env("BAZAAR_TEST_POSTGRES_URL", "postgres://elsewhere/test");
            jail.set_env("BAZAAR_WORKER__CONCURRENCY", "3");
            let config = load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.worker.concurrency, 3);
            jail.set_env("BAZAAR_WORKER__CONCURRENCYY", "3");
            assert!(load(None).is_err());
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn backend_urls_are_parsed_at_load_and_their_passwords_never_printed() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "BAZAAR_DATABASE__URL",
                "postgres://bazaar:secret@db:5432/bazaar",
            );
            jail.set_env("BAZAAR_QUEUE__URL", "amqp://bazaar:secret@rabbit:5672/%2f");
            let config = load(None).map_err(|error| error.to_string())?;
            let printed = serde_json::to_string(&config).unwrap();
            assert!(!printed.contains("secret"), "{printed}");
            assert!(!format!("{config:?}").contains("secret"));
            assert!(
                printed.contains("postgres://bazaar:***@db:5432/bazaar"),
                "{printed}"
            );
            assert_eq!(
                config.database_location().url(),
                "postgres://bazaar:secret@db:5432/bazaar"
            );

            jail.set_env("BAZAAR_BLOBS__URL", "gs://agents");
            let error = format!("{:#}", load(None).unwrap_err());
            assert!(error.contains("unsupported blob store url"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_defaults_are_the_services_own() {
        let config = Config::default();
        let worker = WorkerConfig::default();
        assert_eq!(config.worker.concurrency, worker.concurrency);
        assert_eq!(config.worker.max_attempts, worker.max_attempts);
        let sandbox = config.sandbox.to_sandbox_config(None);
        let defaults = SandboxConfig::default();
        assert_eq!(sandbox.max_timeout, defaults.max_timeout);
        assert_eq!(sandbox.memory_limit_bytes, defaults.memory_limit_bytes);
        assert_eq!(sandbox.max_wasm_stack_bytes, defaults.max_wasm_stack_bytes);
        assert_eq!(sandbox.stdout_limit_bytes, defaults.stdout_limit_bytes);
        assert_eq!(
            sandbox.module_cache_capacity,
            defaults.module_cache_capacity
        );
        assert_eq!(
            config.http.max_upload_bytes,
            GatewayConfig::default().max_upload_bytes
        );
        assert_eq!(config.auth.token_ttl_hours, 720);
        assert_eq!(config.results.retention_days, 30);
        assert_eq!(
            config.results.to_retention_config(),
            RetentionConfig::default()
        );
    }

    #[test]
    fn zero_retention_days_keep_results_forever() {
        let mut config = Config::default();
        config.results.retention_days = 0;
        config.results.retention_interval_ms = 250;

        let retention = config.results.to_retention_config();

        assert_eq!(retention.keep_results_for, None);
        assert_eq!(retention.interval, Duration::from_millis(250));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn webhook_targets_are_parsed_at_load() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "BAZAAR_WEBHOOKS__ALLOWED_TARGETS",
                "[\"127.0.0.1\", \"10.0.0.0/8\", \"localhost\"]",
            );
            let config = load(None).map_err(|error| error.to_string())?;
            let printed: Vec<String> = config
                .webhooks
                .allowed_targets
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(printed, ["127.0.0.1", "10.0.0.0/8", "localhost"]);
            jail.set_env("BAZAAR_WEBHOOKS__ALLOWED_TARGETS", "[\"10.0.0.0/40\"]");
            let error = format!("{:#}", load(None).unwrap_err());
            assert!(error.contains("10.0.0.0/40"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_webhook_defaults_are_the_services_own() {
        let settings = WebhooksSettings::default().to_webhooks_config();
        let defaults = WebhooksConfig::default();
        assert_eq!(settings.timeout, defaults.timeout);
        assert_eq!(settings.schedule, defaults.schedule);
        assert_eq!(settings.poll_interval, defaults.poll_interval);
        assert_eq!(settings.concurrency, defaults.concurrency);
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("bazaar.toml");
        std::fs::write(&file, "[sandbox]\nmemory_limit = 64\n").unwrap();
        let error = format!("{:#}", load(Some(&file)).unwrap_err());
        assert!(error.contains("memory_limit"), "{error}");
    }
}
