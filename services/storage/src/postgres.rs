//! The PostgreSQL stores of distributed mode.
//!
//! They keep exactly the contract of the SQLite stores (one suite of contract tests runs
//! against both); only the means differ. PostgreSQL takes many writers at once, so one pool
//! serves reads and writes, and a batch of results is stored by a single statement whose row
//! locks are always taken in key order, so that concurrent batches cannot deadlock.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use bazaar_domain::{
    Agent, AgentChanges, AgentFilter, AgentId, AgentName, AgentSort, AgentStats, AgentStatus,
    Capabilities, NewAgent, Page, Price, ResultFilter, ResultStatus, Sha256, Task, TaskId,
    TaskResult, UserId, Username, Version,
};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::mpsc;

use crate::{
    AccountStore, AgentStore, Credentials, HealthCheck, PERCENTILE_WINDOW, ResultStore,
    ResultsStored, StoreError, TaskStore, percentile,
};

/// Every store of distributed mode, in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:5432/database`) and
    /// brings its schema up to date. Services starting together may all call this: the
    /// migrations take a lock of their own, so they run once.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        // The url may hold a password: errors name only where the database is.
        let options = PgConnectOptions::from_str(url).context("invalid postgres url")?;
        let location = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("failed to connect to postgres at {location}"))?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await
            .with_context(|| format!("failed to migrate the postgres database at {location}"))?;
        Ok(PostgresStore { pool })
    }
}

fn corrupt(error: bazaar_domain::ParseError) -> StoreError {
    StoreError::Other(anyhow::anyhow!("corrupt row: {error}"))
}

fn database_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::Conflict(database.message().to_owned())
        }
        sqlx::Error::Database(database)
            if database.code().is_some_and(|code| means_unavailable(&code)) =>
        {
            StoreError::Unavailable(error.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(error.into()),
        _ => StoreError::Other(error.into()),
    }
}

/// Whether a SQLSTATE says the server cannot serve for now rather than that the request is
/// wrong: a lost connection (class 08), a new connection refused for its credentials (class
/// 28) or its database (3D000), a server shutting down or starting up, too many connections,
/// or a standby refusing writes during a failover.
fn means_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("28")
        || matches!(
            sqlstate,
            "3D000" | "57P01" | "57P02" | "57P03" | "53300" | "25006"
        )
}

/// Prices are `decimal(10, 2)` in the schema and whole cents in Rust; the conversion happens
/// in SQL, where it is exact.
const AGENT_COLUMNS: &str = "a.id, a.user_id, a.name, a.description, a.version, \
    a.capabilities::text as capabilities, a.status, (a.price * 100)::bigint as price_cents, \
    a.binary_url, a.binary_hash, a.binary_size, a.rating::float8 as rating, a.created_at, \
    a.updated_at, coalesce(s.tasks_completed, 0) as tasks_completed";

fn agent_from_row(row: &PgRow) -> Result<Agent, StoreError> {
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
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn result_from_row(row: &PgRow) -> Result<TaskResult, StoreError> {
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
        created_at: row.get("created_at"),
    })
}

/// Turns what a user typed into a `to_tsquery` text: every word must match as a prefix.
/// Words are split as the SQLite store splits them, into runs of letters and digits, so
/// nothing the user types is tsquery syntax.
fn prefix_tsquery(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(16)
        .map(|word| format!("{}:*", word.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_user(
        &self,
        id: &UserId,
        username: &Username,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into users (id, username, password_hash, created_at) values ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(username.as_str())
        .bind(password_hash)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(database_error)?;
        Ok(())
    }

    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("select id, username, password_hash from users where username = $1")
            .bind(username.as_str())
            .fetch_optional(&self.pool)
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
        sqlx::query(
            "insert into api_tokens (token_hash, user_id, created_at, expires_at) \
             values ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id.as_str())
        .bind(Utc::now())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(database_error)?;
        Ok(())
    }

    async fn find_token_user(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        // The service's clock, not the database's, decides expiry, as it decided `expires_at`.
        let row =
            sqlx::query("select user_id from api_tokens where token_hash = $1 and expires_at > $2")
                .bind(token_hash)
                .bind(Utc::now())
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
        row.map(|row| UserId::parse(row.get("user_id")).map_err(corrupt))
            .transpose()
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from api_tokens where token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

/// Above this many matches a search ranks only the most recently published ones, and its
/// total is the planner's estimate: ranking and counting every match of a word found in most
/// of 100,000 agents takes a tenth of a second or more, the most recent 10,000 a few
/// milliseconds. Below it, which is every query but the broadest, both are exact. The SQLite
/// store ranks within the same window.
const RANKING_WINDOW: i64 = 10_000;

impl PostgresStore {
    /// How many active agents match: exactly up to `window`, estimated above.
    async fn count_matches(&self, tsquery: &str, window: i64) -> Result<u64, StoreError> {
        let counted: i64 = sqlx::query_scalar(
            "select count(*) from ( \
               select 1 from agents a \
               where a.search_document @@ to_tsquery('simple', $1) and a.status = 'active' \
               limit $2) m",
        )
        .bind(tsquery)
        .bind(window + 1)
        .persistent(false)
        .fetch_one(&self.pool)
        .await
        .map_err(database_error)?;
        if counted <= window {
            return Ok(counted as u64);
        }
        let plan: Vec<String> = sqlx::query_scalar(
            "explain select 1 from agents a \
             where a.search_document @@ to_tsquery('simple', $1) and a.status = 'active'",
        )
        .bind(tsquery)
        .persistent(false)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        // The first line is the scan's: `Bitmap Heap Scan on agents a  (cost=… rows=N …)`.
        let estimated = plan
            .first()
            .and_then(|line| line.split_once("rows="))
            .map(|(_, rest)| rest.split(' ').next().unwrap_or_default())
            .and_then(|rows| rows.parse::<i64>().ok())
            .unwrap_or(counted);
        Ok(estimated.max(counted) as u64)
    }
}

#[async_trait]
impl AgentStore for PostgresStore {
    async fn insert_agent(&self, agent: &NewAgent) -> Result<Agent, StoreError> {
        let now = Utc::now();
        let capabilities = serde_json::to_string(&agent.capabilities.to_strings())
            .context("failed to encode capabilities")?;
        let stored = sqlx::query(&format!(
            "with a as ( \
               insert into agents (id, user_id, name, description, version, capabilities, \
                 status, price, binary_url, binary_hash, binary_size, created_at, updated_at) \
               values ($1, $2, $3, $4, $5, $6::jsonb, 'active', $7::numeric / 100, $8, $9, $10, \
                 $11, $11) \
               returning *) \
             select {AGENT_COLUMNS} from a left join agent_stats s on s.agent_id = a.id"
        ))
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
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| match database_error(error) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "you already published `{}` version {}",
                agent.name, agent.version
            )),
            other => other,
        })?;
        agent_from_row(&stored)
    }

    async fn get_agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError> {
        let row = sqlx::query(&format!(
            "select {AGENT_COLUMNS} from agents a left join agent_stats s on s.agent_id = a.id \
             where a.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn list_agents(&self, filter: &AgentFilter) -> Result<Page<Agent>, StoreError> {
        fn push_conditions(builder: &mut QueryBuilder<'_, Postgres>, filter: &AgentFilter) {
            builder.push(" where true");
            if let Some(capability) = &filter.capability {
                builder
                    .push(" and a.capabilities @> jsonb_build_array(")
                    .push_bind(capability.as_str().to_owned())
                    .push("::text)");
            }
            if let Some(min_price) = filter.min_price {
                builder
                    .push(" and a.price >= ")
                    .push_bind(min_price.cents())
                    .push("::numeric / 100");
            }
            if let Some(max_price) = filter.max_price {
                builder
                    .push(" and a.price <= ")
                    .push_bind(max_price.cents())
                    .push("::numeric / 100");
            }
            if let Some(min_rating) = filter.min_rating {
                builder
                    .push(" and a.rating >= ")
                    .push_bind(min_rating)
                    .push("::float8");
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

        let mut count = QueryBuilder::<Postgres>::new("select count(*) from agents a");
        push_conditions(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;

        let mut select = QueryBuilder::<Postgres>::new(format!(
            "select {AGENT_COLUMNS} from agents a left join agent_stats s on s.agent_id = a.id"
        ));
        push_conditions(&mut select, filter);
        select.push(match filter.sort {
            AgentSort::Newest => " order by a.created_at desc, a.seq desc",
            AgentSort::Oldest => " order by a.created_at asc, a.seq asc",
            // As SQLite's `collate nocase`: case folded, then compared byte by byte whatever
            // the database's collation.
            AgentSort::Name => " order by lower(a.name) collate \"C\" asc, a.seq asc",
            AgentSort::PriceAsc => " order by a.price asc, a.seq asc",
            AgentSort::PriceDesc => " order by a.price desc, a.seq asc",
            AgentSort::Rating => " order by a.rating desc, a.seq asc",
            AgentSort::Popular => " order by coalesce(s.tasks_completed, 0) desc, a.seq asc",
        });
        select
            .push(" limit ")
            .push_bind(i64::from(filter.limit))
            .push(" offset ")
            .push_bind(i64::from(filter.offset));
        let rows = select
            .build()
            .fetch_all(&self.pool)
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
        let Some(tsquery) = prefix_tsquery(query) else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        let window = RANKING_WINDOW.max(i64::from(offset) + i64::from(limit));
        // Weights are {d, c, b, a}: a name (a) counts most, then capabilities (b), then the
        // description (c), in the proportions the SQLite store gives bm25. The query stands
        // in the where clause itself, where the planner can take it to the gin index. Only
        // the page's agents are read whole. Statements are planned afresh with the query in
        // hand (`persistent(false)`): a plan kept for any query would either sort every match
        // of a broad one or walk the whole table for a rare one.
        let rows = sqlx::query(&format!(
            "with recent as ( \
               select a.id, a.seq, ts_rank('{{0, 0.1, 0.5, 1.0}}', a.search_document, \
                 to_tsquery('simple', $1)) as score \
               from agents a \
               where a.search_document @@ to_tsquery('simple', $1) and a.status = 'active' \
               order by a.created_at desc, a.seq desc \
               limit $4), \
             page as ( \
               select id, seq, score, count(*) over () as ranked from recent \
               order by score desc, seq \
               limit $2 offset $3) \
             select {AGENT_COLUMNS}, page.ranked \
             from page join agents a on a.id = page.id \
             left join agent_stats s on s.agent_id = a.id \
             order by page.score desc, page.seq"
        ))
        .bind(&tsquery)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .bind(window)
        .persistent(false)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let total = match rows.first().map(|row| row.get::<i64, _>("ranked")) {
            // Every match was ranked, so every match was counted.
            Some(ranked) if ranked < window => ranked as u64,
            _ => self.count_matches(&tsquery, window).await?,
        };
        let items = rows.iter().map(agent_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    async fn update_agent(
        &self,
        id: &AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<Agent>, StoreError> {
        let mut update =
            QueryBuilder::<Postgres>::new("with a as (update agents set updated_at = ");
        update.push_bind(Utc::now());
        if let Some(description) = &changes.description {
            update
                .push(", description = ")
                .push_bind(description.clone());
        }
        if let Some(capabilities) = &changes.capabilities {
            let encoded = serde_json::to_string(&capabilities.to_strings())
                .context("failed to encode capabilities")?;
            update
                .push(", capabilities = ")
                .push_bind(encoded)
                .push("::jsonb");
        }
        if let Some(price) = changes.price {
            update
                .push(", price = ")
                .push_bind(price.cents())
                .push("::numeric / 100");
        }
        if let Some(status) = changes.status {
            update.push(", status = ").push_bind(status.as_str());
        }
        update
            .push(" where id = ")
            .push_bind(id.as_str().to_owned())
            .push(format!(
                " returning *) select {AGENT_COLUMNS} from a \
                 left join agent_stats s on s.agent_id = a.id"
            ));
        let row = update
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn count_agents(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("select count(*) from agents")
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(count as u64)
    }
}

#[async_trait]
impl TaskStore for PostgresStore {
    async fn insert_task(&self, task: &Task) -> Result<(), StoreError> {
        sqlx::query(
            "insert into tasks (id, agent_id, user_id, input_size, timeout_ms, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(task.id.as_str())
        .bind(task.agent_id.as_str())
        .bind(task.owner.as_str())
        .bind(task.input_size)
        .bind(task.timeout_ms)
        .bind(task.created_at)
        .execute(&self.pool)
        .await
        .map_err(database_error)?;
        Ok(())
    }

    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let row = sqlx::query(
            "select id, agent_id, user_id, input_size, timeout_ms, created_at \
             from tasks where id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.map(|row| {
            Ok(Task {
                id: TaskId::parse(row.get("id")).map_err(corrupt)?,
                agent_id: AgentId::parse(row.get("agent_id")).map_err(corrupt)?,
                owner: UserId::parse(row.get("user_id")).map_err(corrupt)?,
                input_size: row.get("input_size"),
                timeout_ms: row.get("timeout_ms"),
                created_at: row.get("created_at"),
            })
        })
        .transpose()
    }

    async fn delete_task(&self, id: &TaskId) -> Result<(), StoreError> {
        sqlx::query("delete from tasks where id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

/// The channel `INSERT_RESULTS` notifies with the stored task ids.
const RESULTS_CHANNEL: &str = "bazaar_results";

/// Stores a batch of results and counts the new ones in agent_stats, in one statement and so
/// one transaction. The first of several results with one task id in the batch is the one
/// kept, as when they arrive one after another. Rows are written in key order (task ids, then
/// agent ids), so that two batches that share keys wait for each other instead of
/// deadlocking.
const INSERT_RESULTS: &str = "\
with incoming as (
    select distinct on (task_id) *
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::bytea[],
                $7::bytea[], $8::bool[], $9::bool[], $10::int8[], $11::text[],
                $12::timestamptz[])
        with ordinality as incoming (task_id, agent_id, user_id, status, exit_code, stdout,
            stderr, stdout_truncated, stderr_truncated, duration_ms, error, created_at,
            position)
    order by task_id, position
),
inserted as (
    insert into task_results (task_id, agent_id, user_id, status, exit_code, stdout, stderr,
        stdout_truncated, stderr_truncated, duration_ms, error, created_at)
    select task_id, agent_id, user_id, status, exit_code, stdout, stderr, stdout_truncated,
        stderr_truncated, duration_ms, error, created_at
    from incoming
    order by task_id
    on conflict (task_id) do nothing
    returning agent_id, status, duration_ms, created_at
),
notified as (
    -- Delivered at commit to every process that listens (see `watch_results`), in chunks
    -- that stay under PostgreSQL's 8000-byte payload limit.
    select pg_notify('bazaar_results', string_agg(task_id, ',' order by task_id))
    from (select task_id, (row_number() over (order by task_id) - 1) / 128 as chunk
          from incoming) numbered
    group by chunk
),
counted as (
    insert into agent_stats (agent_id, tasks_completed, succeeded, failed, timed_out,
        total_duration_ms, last_run_at)
    select agent_id, count(*), count(*) filter (where status = $13),
        count(*) filter (where status = $14), count(*) filter (where status = $15),
        sum(duration_ms)::bigint, max(created_at)
    from inserted
    group by agent_id
    order by agent_id
    on conflict (agent_id) do update set
        tasks_completed = agent_stats.tasks_completed + excluded.tasks_completed,
        succeeded = agent_stats.succeeded + excluded.succeeded,
        failed = agent_stats.failed + excluded.failed,
        timed_out = agent_stats.timed_out + excluded.timed_out,
        total_duration_ms = agent_stats.total_duration_ms + excluded.total_duration_ms,
        last_run_at = greatest(agent_stats.last_run_at, excluded.last_run_at)
)
select (select count(*) from inserted) from (select count(*) from notified) forced";

fn column<'a, T>(results: &'a [TaskResult], value: impl Fn(&'a TaskResult) -> T) -> Vec<T> {
    results.iter().map(value).collect()
}

#[async_trait]
impl ResultStore for PostgresStore {
    async fn insert_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        if results.is_empty() {
            return Ok(0);
        }
        // One array per column, unnested back into rows by the statement.
        let inserted: i64 = sqlx::query_scalar(INSERT_RESULTS)
            .bind(column(results, |result| result.task_id.as_str()))
            .bind(column(results, |result| result.agent_id.as_str()))
            .bind(column(results, |result| result.owner.as_str()))
            .bind(column(results, |result| result.status.as_str()))
            .bind(column(results, |result| result.exit_code))
            .bind(column(results, |result| result.stdout.as_slice()))
            .bind(column(results, |result| result.stderr.as_slice()))
            .bind(column(results, |result| result.stdout_truncated))
            .bind(column(results, |result| result.stderr_truncated))
            .bind(column(results, |result| result.duration_ms))
            .bind(column(results, |result| result.error.as_deref()))
            .bind(column(results, |result| result.created_at))
            .bind(ResultStatus::Succeeded.as_str())
            .bind(ResultStatus::Failed.as_str())
            .bind(ResultStatus::TimedOut.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(inserted as u64)
    }

    async fn get_result(&self, task_id: &TaskId) -> Result<Option<TaskResult>, StoreError> {
        let row = sqlx::query("select * from task_results where task_id = $1")
            .bind(task_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(result_from_row).transpose()
    }

    async fn list_results(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, StoreError> {
        fn push_conditions(builder: &mut QueryBuilder<'_, Postgres>, filter: &ResultFilter) {
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
        let mut count = QueryBuilder::<Postgres>::new("select count(*) from task_results");
        push_conditions(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        let mut select = QueryBuilder::<Postgres>::new("select * from task_results");
        push_conditions(&mut select, filter);
        select
            .push(" order by created_at desc, task_id desc limit ")
            .push_bind(i64::from(filter.limit))
            .push(" offset ")
            .push_bind(i64::from(filter.offset));
        let rows = select
            .build()
            .fetch_all(&self.pool)
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
             from agent_stats where agent_id = $1",
        )
        .bind(agent_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        let Some(row) = row else {
            return Ok(AgentStats::default());
        };
        let mut durations: Vec<i64> = sqlx::query_scalar(
            "select duration_ms from task_results where agent_id = $1 \
             order by created_at desc limit $2",
        )
        .bind(agent_id.as_str())
        .bind(i64::from(PERCENTILE_WINDOW))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        durations.sort_unstable();
        let tasks_completed: i64 = row.get("tasks_completed");
        let total_duration_ms: i64 = row.get("total_duration_ms");
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
            last_run_at: row.get("last_run_at"),
        })
    }

    async fn watch_results(&self) -> Result<Option<mpsc::Receiver<ResultsStored>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(database_error)?;
        listener
            .listen(RESULTS_CHANNEL)
            .await
            .map_err(database_error)?;
        let (sender, receiver) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let event = match listener.try_recv().await {
                    Ok(Some(notification)) => ResultsStored::Tasks(
                        notification
                            .payload()
                            .split(',')
                            .filter_map(|id| TaskId::parse(id).ok())
                            .collect(),
                    ),
                    // The connection dropped; the next call reconnects and listens again.
                    Ok(None) => {
                        tracing::warn!("lost the result notifications' connection; reconnecting");
                        ResultsStored::Missed
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for result notifications; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        ResultsStored::Missed
                    }
                };
                if sender.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(receiver))
    }
}

#[async_trait]
impl HealthCheck for PostgresStore {
    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{means_unavailable, prefix_tsquery};

    #[test]
    fn every_word_of_a_query_becomes_a_prefix_term() {
        assert_eq!(
            prefix_tsquery("JSON pretty").as_deref(),
            Some("json:* & pretty:*")
        );
    }

    #[test]
    fn tsquery_syntax_in_a_query_is_taken_as_separators() {
        assert_eq!(
            prefix_tsquery("json:* | !(csv) <-> 'x'").as_deref(),
            Some("json:* & csv:* & x:*")
        );
        assert_eq!(prefix_tsquery(" &|!*:() "), None);
    }

    #[test]
    fn lost_connections_and_shutdowns_mean_unavailable_but_bad_requests_do_not() {
        assert!(means_unavailable("08006"));
        assert!(means_unavailable("57P01"));
        assert!(!means_unavailable("23505"));
        assert!(!means_unavailable("42P01"));
    }
}
