//! The SQLite stores of embedded mode.
//!
//! SQLite allows one writer at a time. Rather than let many connections collide and back off
//! in SQLite's busy handler (sleeps of whole milliseconds), writes go through a pool of one
//! connection and queue in order; reads use a pool of their own, which WAL mode lets run
//! beside the writer.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use bazaar_domain::{
    Agent, AgentChanges, AgentFilter, AgentId, AgentName, AgentSort, AgentStats, AgentStatus,
    Capabilities, NewAgent, Page, Price, ResultFilter, ResultStatus, Sha256, Task, TaskId,
    TaskResult, UserId, Username, Version,
};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::{
    AccountStore, AgentStore, Credentials, HealthCheck, PERCENTILE_WINDOW, ResultStore, StoreError,
    TaskStore, percentile,
};

/// Every store of embedded mode, in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    task_inserts: mpsc::Sender<PendingTaskInsert>,
}

/// A task to insert and who waits for the outcome.
#[derive(Debug)]
struct PendingTaskInsert {
    task: Task,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The most task inserts committed together.
const MAX_TASK_GROUP: usize = 256;

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`) and
    /// brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid sqlite url `{url}`"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("failed to open sqlite database `{url}`"))?;
        sqlx::migrate!("../../migrations/sqlite")
            .run(&writer)
            .await
            .context("failed to migrate the sqlite database")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("failed to open sqlite database `{url}` for reading"))?;
        let (task_inserts, pending) = mpsc::channel(4 * MAX_TASK_GROUP);
        tokio::spawn(insert_tasks_in_groups(writer.clone(), pending));
        Ok(SqliteStore {
            writer,
            reader,
            task_inserts,
        })
    }
}

/// Commits task inserts in groups: those that arrive while the writer is busy go in together,
/// as one statement and one commit instead of one each (a lone insert goes alone, at once).
/// Runs until every handle of the store is dropped.
async fn insert_tasks_in_groups(
    writer: SqlitePool,
    mut pending: mpsc::Receiver<PendingTaskInsert>,
) {
    let mut group = Vec::with_capacity(MAX_TASK_GROUP);
    while pending.recv_many(&mut group, MAX_TASK_GROUP).await > 0 {
        let outcome = insert_task_rows(&writer, group.iter().map(|insert| &insert.task)).await;
        match outcome {
            Ok(()) => {
                for insert in group.drain(..) {
                    let _ = insert.done.send(Ok(()));
                }
            }
            // One bad row fails the whole statement: give each task its own answer.
            Err(_) if group.len() > 1 => {
                for insert in group.drain(..) {
                    let outcome = insert_task_rows(&writer, std::iter::once(&insert.task)).await;
                    let _ = insert.done.send(outcome);
                }
            }
            Err(error) => {
                if let Some(insert) = group.pop() {
                    let _ = insert.done.send(Err(error));
                }
            }
        }
    }
}

async fn insert_task_rows<'a>(
    writer: &SqlitePool,
    tasks: impl Iterator<Item = &'a Task>,
) -> Result<(), StoreError> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "insert into tasks (id, agent_id, user_id, input_size, timeout_ms, created_at) ",
    );
    insert.push_values(tasks, |mut row, task| {
        row.push_bind(task.id.as_str())
            .push_bind(task.agent_id.as_str())
            .push_bind(task.owner.as_str())
            .push_bind(task.input_size)
            .push_bind(task.timeout_ms)
            .push_bind(to_text(task.created_at));
    });
    insert
        .build()
        .execute(writer)
        .await
        .map_err(database_error)?;
    Ok(())
}

fn to_text(time: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order.
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn from_text(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| StoreError::Other(anyhow::anyhow!("corrupt timestamp `{text}`: {error}")))
}

fn corrupt(error: bazaar_domain::ParseError) -> StoreError {
    StoreError::Other(anyhow::anyhow!("corrupt row: {error}"))
}

fn database_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::Conflict(database.message().to_owned())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(error.into())
        }
        _ => StoreError::Other(error.into()),
    }
}

const AGENT_COLUMNS: &str = "a.id, a.user_id, a.name, a.description, a.version, a.capabilities, \
    a.status, a.price_cents, a.binary_url, a.binary_hash, a.binary_size, a.rating, a.created_at, \
    a.updated_at, coalesce(s.tasks_completed, 0) as tasks_completed";

fn agent_from_row(row: &SqliteRow) -> Result<Agent, StoreError> {
    let capabilities: Vec<String> = serde_json::from_str(row.get::<&str, _>("capabilities"))
        .map_err(|error| StoreError::Other(anyhow::anyhow!("corrupt capabilities: {error}")))?;
    Ok(Agent {
        id: AgentId::parse(row.get("id")).map_err(corrupt)?,
        owner: UserId::parse(row.get("user_id")).map_err(corrupt)?,
        name: AgentName::parse(row.get("name")).map_err(corrupt)?,
        description: row.get("description"),
        version: Version::parse(row.get("version")).map_err(corrupt)?,
        capabilities: Capabilities::parse(&capabilities).map_err(corrupt)?,
        status: AgentStatus::parse(row.get("status")).map_err(corrupt)?,
        price: Price::from_cents(row.get("price_cents")).map_err(corrupt)?,
        binary_url: row.get("binary_url"),
        binary_hash: Sha256::parse(row.get("binary_hash")).map_err(corrupt)?,
        binary_size: row.get("binary_size"),
        tasks_completed: row.get("tasks_completed"),
        rating: row.get("rating"),
        created_at: from_text(row.get("created_at"))?,
        updated_at: from_text(row.get("updated_at"))?,
    })
}

/// One agent with its completed-task count, read through `pool`.
async fn fetch_agent(pool: &SqlitePool, id: &AgentId) -> Result<Option<Agent>, StoreError> {
    let row = sqlx::query(&format!(
        "select {AGENT_COLUMNS} from agents a left join agent_stats s on s.agent_id = a.id where a.id = ?"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(database_error)?;
    row.as_ref().map(agent_from_row).transpose()
}

fn result_from_row(row: &SqliteRow) -> Result<TaskResult, StoreError> {
    Ok(TaskResult {
        task_id: TaskId::parse(row.get("task_id")).map_err(corrupt)?,
        agent_id: AgentId::parse(row.get("agent_id")).map_err(corrupt)?,
        owner: UserId::parse(row.get("user_id")).map_err(corrupt)?,
        status: ResultStatus::parse(row.get("status")).map_err(corrupt)?,
        exit_code: row.get("exit_code"),
        stdout: row.get("stdout"),
        stderr: row.get("stderr"),
        stdout_truncated: row.get("stdout_truncated"),
        stderr_truncated: row.get("stderr_truncated"),
        duration_ms: row.get("duration_ms"),
        error: row.get("error"),
        created_at: from_text(row.get("created_at"))?,
    })
}

/// Turns what a user typed into an FTS5 query: every word must match as a prefix. Words are
/// letters and digits only, so nothing the user types is FTS5 syntax.
pub(crate) fn fts_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(16)
        .map(|word| format!("\"{}\"*", word.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(
        &self,
        id: &UserId,
        username: &Username,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into users (id, username, password_hash, created_at) values (?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(username.as_str())
        .bind(password_hash)
        .bind(to_text(Utc::now()))
        .execute(&self.writer)
        .await
        .map_err(database_error)?;
        Ok(())
    }

    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("select id, username, password_hash from users where username = ?")
            .bind(username.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(database_error)?;
        row.map(|row| {
            Ok(Credentials {
                user_id: UserId::parse(row.get("id")).map_err(corrupt)?,
                username: Username::parse(row.get("username")).map_err(corrupt)?,
                password_hash: row.get("password_hash"),
            })
        })
        .transpose()
    }

    async fn create_token(
        &self,
        token_hash: &str,
        user_id: &UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("insert into api_tokens (token_hash, user_id, created_at, expires_at) values (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(to_text(Utc::now()))
            .bind(to_text(expires_at))
            .execute(&self.writer)
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn find_token_user(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        let row =
            sqlx::query("select user_id from api_tokens where token_hash = ? and expires_at > ?")
                .bind(token_hash)
                .bind(to_text(Utc::now()))
                .fetch_optional(&self.reader)
                .await
                .map_err(database_error)?;
        row.map(|row| UserId::parse(row.get("user_id")).map_err(corrupt))
            .transpose()
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from api_tokens where token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

/// Above this many matches a search ranks only the most recently published ones: ranking
/// every match of a word found in most of 100,000 agents takes bm25 most of a tenth of a
/// second, the most recent 10,000 a few milliseconds. Below it, which is every query but the
/// broadest, the ranking is exact; the total always is. The PostgreSQL store ranks within the
/// same window.
const RANKING_WINDOW: i64 = 10_000;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn insert_agent(&self, agent: &NewAgent) -> Result<Agent, StoreError> {
        let now = to_text(Utc::now());
        let capabilities = serde_json::to_string(&agent.capabilities.to_strings())
            .context("failed to encode capabilities")?;
        sqlx::query(
            "insert into agents (id, user_id, name, description, version, capabilities, status, \
             price_cents, binary_url, binary_hash, binary_size, created_at, updated_at) \
             values (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
        )
        .bind(agent.id.as_str())
        .bind(agent.owner.as_str())
        .bind(agent.name.as_str())
        .bind(&agent.description)
        .bind(agent.version.as_str())
        .bind(capabilities)
        .bind(agent.price.cents())
        .bind(&agent.binary_url)
        .bind(agent.binary_hash.as_str())
        .bind(agent.binary_size)
        .bind(&now)
        .bind(&now)
        .execute(&self.writer)
        .await
        .map_err(|error| match database_error(error) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "you already published `{}` version {}",
                agent.name, agent.version
            )),
            other => other,
        })?;
        // Read back through the writer, which has certainly seen the insert.
        fetch_agent(&self.writer, &agent.id).await?.ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!(
                "agent {} vanished after its insert",
                agent.id
            ))
        })
    }

    async fn get_agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError> {
        fetch_agent(&self.reader, id).await
    }

    async fn list_agents(&self, filter: &AgentFilter) -> Result<Page<Agent>, StoreError> {
        fn push_conditions(builder: &mut QueryBuilder<'_, Sqlite>, filter: &AgentFilter) {
            builder.push(" where 1 = 1");
            if let Some(capability) = &filter.capability {
                builder
                    .push(" and exists (select 1 from json_each(a.capabilities) where json_each.value = ")
                    .push_bind(capability.as_str().to_owned())
                    .push(")");
            }
            if let Some(min_price) = filter.min_price {
                builder
                    .push(" and a.price_cents >= ")
                    .push_bind(min_price.cents());
            }
            if let Some(max_price) = filter.max_price {
                builder
                    .push(" and a.price_cents <= ")
                    .push_bind(max_price.cents());
            }
            if let Some(min_rating) = filter.min_rating {
                builder.push(" and a.rating >= ").push_bind(min_rating);
            }
            if let Some(status) = filter.status {
                builder.push(" and a.status = ").push_bind(status.as_str());
            }
            if let Some(owner) = &filter.owner {
                builder
                    .push(" and a.user_id = ")
                    .push_bind(owner.as_str().to_owned());
            }
        }

        let mut count = QueryBuilder::<Sqlite>::new("select count(*) from agents a");
        push_conditions(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(database_error)?;

        let mut select = QueryBuilder::<Sqlite>::new(format!(
            "select {AGENT_COLUMNS} from agents a left join agent_stats s on s.agent_id = a.id"
        ));
        push_conditions(&mut select, filter);
        select.push(match filter.sort {
            AgentSort::Newest => " order by a.created_at desc, a.seq desc",
            AgentSort::Oldest => " order by a.created_at asc, a.seq asc",
            AgentSort::Name => " order by a.name collate nocase asc, a.seq asc",
            AgentSort::PriceAsc => " order by a.price_cents asc, a.seq asc",
            AgentSort::PriceDesc => " order by a.price_cents desc, a.seq asc",
            AgentSort::Rating => " order by a.rating desc, a.seq asc",
            AgentSort::Popular => " order by tasks_completed desc, a.seq asc",
        });
        select
            .push(" limit ")
            .push_bind(i64::from(filter.limit))
            .push(" offset ")
            .push_bind(i64::from(filter.offset));
        let rows = select
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(database_error)?;
        let items = rows.iter().map(agent_from_row).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total: total as u64,
        })
    }

    async fn search_agents(
        &self,
        query: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Agent>, StoreError> {
        let Some(fts) = fts_query(query) else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        // The index holds active agents only (migration 0002), so matches are counted and
        // ranked in the index alone; only the page's agents are read from their table.
        let total: i64 =
            sqlx::query_scalar("select count(*) from agents_fts where agents_fts match ?")
                .bind(&fts)
                .fetch_one(&self.reader)
                .await
                .map_err(database_error)?;
        // bm25 ranks lower-is-better; a match in the name counts most, then capabilities.
        // Only the most recent matches are ranked (the index reads them newest first and
        // stops), so a broad query costs no more than one that matches RANKING_WINDOW agents.
        let window = RANKING_WINDOW.max(i64::from(offset) + i64::from(limit));
        let rows = sqlx::query(&format!(
            "select {AGENT_COLUMNS} from ( \
               select rowid, score from ( \
                 select rowid, bm25(agents_fts, 10.0, 1.0, 5.0) as score from agents_fts \
                 where agents_fts match ? order by rowid desc limit ?) \
               order by score, rowid limit ? offset ?) m \
             cross join agents a on a.seq = m.rowid \
             left join agent_stats s on s.agent_id = a.id \
             order by m.score, m.rowid"
        ))
        .bind(&fts)
        .bind(window)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.reader)
        .await
        .map_err(database_error)?;
        let items = rows.iter().map(agent_from_row).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total: total as u64,
        })
    }

    async fn update_agent(
        &self,
        id: &AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<Agent>, StoreError> {
        let mut update = QueryBuilder::<Sqlite>::new("update agents set updated_at = ");
        update.push_bind(to_text(Utc::now()));
        if let Some(description) = &changes.description {
            update
                .push(", description = ")
                .push_bind(description.clone());
        }
        if let Some(capabilities) = &changes.capabilities {
            let encoded = serde_json::to_string(&capabilities.to_strings())
                .context("failed to encode capabilities")?;
            update.push(", capabilities = ").push_bind(encoded);
        }
        if let Some(price) = changes.price {
            update.push(", price_cents = ").push_bind(price.cents());
        }
        if let Some(status) = changes.status {
            update.push(", status = ").push_bind(status.as_str());
        }
        update
            .push(" where id = ")
            .push_bind(id.as_str().to_owned());
        let updated = update
            .build()
            .execute(&self.writer)
            .await
            .map_err(database_error)?
            .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        fetch_agent(&self.writer, id).await
    }

    async fn count_agents(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("select count(*) from agents")
            .fetch_one(&self.reader)
            .await
            .map_err(database_error)?;
        Ok(count as u64)
    }
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, task: &Task) -> Result<(), StoreError> {
        let writer_stopped =
            || StoreError::Unavailable(anyhow::anyhow!("the sqlite task writer has stopped"));
        let (done, outcome) = oneshot::channel();
        self.task_inserts
            .send(PendingTaskInsert {
                task: task.clone(),
                done,
            })
            .await
            .map_err(|_| writer_stopped())?;
        outcome.await.map_err(|_| writer_stopped())?
    }

    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let row = sqlx::query("select id, agent_id, user_id, input_size, timeout_ms, created_at from tasks where id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(database_error)?;
        row.map(|row| {
            Ok(Task {
                id: TaskId::parse(row.get("id")).map_err(corrupt)?,
                agent_id: AgentId::parse(row.get("agent_id")).map_err(corrupt)?,
                owner: UserId::parse(row.get("user_id")).map_err(corrupt)?,
                input_size: row.get("input_size"),
                timeout_ms: row.get("timeout_ms"),
                created_at: from_text(row.get("created_at"))?,
            })
        })
        .transpose()
    }

    async fn delete_task(&self, id: &TaskId) -> Result<(), StoreError> {
        sqlx::query("delete from tasks where id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

#[async_trait]
impl ResultStore for SqliteStore {
    async fn insert_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        if results.is_empty() {
            return Ok(0);
        }
        // One statement for the batch; a trigger counts each new row in agent_stats
        // (migrations/sqlite/0003). Within a batch the first result of a task id wins, as
        // when they arrive one after another.
        let mut insert = QueryBuilder::<Sqlite>::new(
            "insert into task_results (task_id, agent_id, user_id, status, exit_code, stdout, \
             stderr, stdout_truncated, stderr_truncated, duration_ms, error, created_at) ",
        );
        insert.push_values(results, |mut row, result| {
            row.push_bind(result.task_id.as_str())
                .push_bind(result.agent_id.as_str())
                .push_bind(result.owner.as_str())
                .push_bind(result.status.as_str())
                .push_bind(result.exit_code)
                .push_bind(result.stdout.as_slice())
                .push_bind(result.stderr.as_slice())
                .push_bind(result.stdout_truncated)
                .push_bind(result.stderr_truncated)
                .push_bind(result.duration_ms)
                .push_bind(result.error.as_deref())
                .push_bind(to_text(result.created_at));
        });
        insert.push(" on conflict (task_id) do nothing");
        let inserted = insert
            .build()
            .execute(&self.writer)
            .await
            .map_err(database_error)?
            .rows_affected();
        Ok(inserted)
    }

    async fn get_result(&self, task_id: &TaskId) -> Result<Option<TaskResult>, StoreError> {
        let row = sqlx::query("select * from task_results where task_id = ?")
            .bind(task_id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(database_error)?;
        row.as_ref().map(result_from_row).transpose()
    }

    async fn list_results(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, StoreError> {
        fn push_conditions(builder: &mut QueryBuilder<'_, Sqlite>, filter: &ResultFilter) {
            builder
                .push(" where user_id = ")
                .push_bind(filter.owner.as_str().to_owned());
            if let Some(agent_id) = &filter.agent_id {
                builder
                    .push(" and agent_id = ")
                    .push_bind(agent_id.as_str().to_owned());
            }
            if let Some(status) = filter.status {
                builder.push(" and status = ").push_bind(status.as_str());
            }
        }
        let mut count = QueryBuilder::<Sqlite>::new("select count(*) from task_results");
        push_conditions(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(database_error)?;
        let mut select = QueryBuilder::<Sqlite>::new("select * from task_results");
        push_conditions(&mut select, filter);
        select
            .push(" order by created_at desc, task_id desc limit ")
            .push_bind(i64::from(filter.limit))
            .push(" offset ")
            .push_bind(i64::from(filter.offset));
        let rows = select
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(database_error)?;
        let items = rows.iter().map(result_from_row).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total: total as u64,
        })
    }

    async fn agent_stats(&self, agent_id: &AgentId) -> Result<AgentStats, StoreError> {
        let row = sqlx::query(
            "select tasks_completed, succeeded, failed, timed_out, total_duration_ms, last_run_at \
             from agent_stats where agent_id = ?",
        )
        .bind(agent_id.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(database_error)?;
        let Some(row) = row else {
            return Ok(AgentStats::default());
        };
        let mut durations: Vec<i64> = sqlx::query_scalar(
            "select duration_ms from task_results where agent_id = ? order by created_at desc limit ?",
        )
        .bind(agent_id.as_str())
        .bind(i64::from(PERCENTILE_WINDOW))
        .fetch_all(&self.reader)
        .await
        .map_err(database_error)?;
        durations.sort_unstable();
        let tasks_completed: i64 = row.get("tasks_completed");
        let total_duration_ms: i64 = row.get("total_duration_ms");
        let last_run_at: Option<String> = row.get("last_run_at");
        Ok(AgentStats {
            tasks_completed,
            succeeded: row.get("succeeded"),
            failed: row.get("failed"),
            timed_out: row.get("timed_out"),
            mean_duration_ms: (tasks_completed > 0)
                .then(|| total_duration_ms as f64 / tasks_completed as f64),
            p50_duration_ms: percentile(&durations, 0.50),
            p95_duration_ms: percentile(&durations, 0.95),
            p99_duration_ms: percentile(&durations, 0.99),
            last_run_at: last_run_at.as_deref().map(from_text).transpose()?,
        })
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.reader)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}
