//! [`AgentStore`] for every SQL store with an [`AgentDialect`]. Reading, listing, inserting
//! and changing agents is written once; the dialect says how its schema keeps a price and a
//! list of capabilities, how names sort, whether a write can return the agent it wrote, and
//! how agents are searched, which is each database's own full-text machinery.

use anyhow::Context;
use async_trait::async_trait;
use bazaar_domain::{Agent, AgentChanges, AgentFilter, AgentId, NewAgent, NewReview, Page, Review};
use chrono::Utc;
use sqlx::Pool;

use super::{
    Runs, Search, SqlStore, Statement, agent_from_row, fetch_record, fetch_records, listing,
    review_from_row,
};
use crate::{AgentStore, StoreError};

/// The SQL that differs between the databases' agents, around the statements written once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgentSql {
    /// What [`agent_from_row`] reads, selected from
    /// `agents a left join agent_stats s on s.agent_id = a.id`.
    pub(crate) columns: &'static str,
    /// The column of `agents` that holds the price.
    pub(crate) price_column: &'static str,
    /// What follows a bound number of cents to make it a value of `price_column`.
    pub(crate) cents_as_price: &'static str,
    /// What follows bound JSON text to make it a value of the `capabilities` column.
    pub(crate) text_as_json: &'static str,
    /// The condition that agent `a` has a capability: what goes before the bound capability
    /// and what goes after it.
    pub(crate) has_capability: (&'static str, &'static str),
    /// The same for a badge, in the `badges` column (null for agents never analysed).
    pub(crate) has_badge: (&'static str, &'static str),
    /// What agents sort by when sorted by name: the name case folded, then compared byte by
    /// byte whatever the database's collation.
    pub(crate) name_order: &'static str,
    /// Whether a write can return the agent it wrote, joined with its statistics, in the
    /// same round trip (`with a as (update … returning *) select … from a left join …`).
    /// SQLite's `returning` cannot be joined: the agent is read back through the writer.
    pub(crate) write_returns_agent: bool,
}

/// What a database does its own way for agents.
#[async_trait]
pub(crate) trait AgentDialect: SqlStore {
    const SQL: AgentSql;

    /// A page of the active agents that have every word of `search` as a prefix, best match
    /// first, and how many match; see [`AgentStore::search_agents`].
    async fn search_active_agents(&self, search: &Search) -> Result<Page<Agent>, StoreError>;
}

/// One agent with its completed-task count, read through `pool`.
async fn fetch_agent<Store: AgentDialect>(
    pool: &Pool<Store::Database>,
    id: &AgentId,
) -> Result<Option<Agent>, StoreError> {
    let select = Statement::new(format!(
        "select {} from agents a left join agent_stats s on s.agent_id = a.id where a.id = $1",
        Store::SQL.columns
    ))
    .bind(id.as_str());
    fetch_record(pool, select, agent_from_row::<Store::Database>).await
}

/// Runs `write`, an insert or update of agent `id`, and returns the agent as written, with
/// its completed-task count; `None` when nothing was written.
async fn write_agent<Store: AgentDialect>(
    store: &Store,
    write: Statement<'_>,
    id: &AgentId,
) -> Result<Option<Agent>, StoreError> {
    if Store::SQL.write_returns_agent {
        let returning = write.within(
            "with a as (",
            &format!(
                " returning *) select {} from a left join agent_stats s on s.agent_id = a.id",
                Store::SQL.columns
            ),
        );
        return fetch_record(store.writer(), returning, agent_from_row::<Store::Database>).await;
    }
    if Store::Database::execute(store.writer(), write).await? == 0 {
        return Ok(None);
    }
    // The writer has certainly seen the write.
    fetch_agent::<Store>(store.writer(), id).await
}

/// A user's review of an agent, replacing the one they posted before (which keeps its
/// `created_at`). The agent's rating follows by trigger, in the same transaction.
const PUT_REVIEW: &str = "insert into reviews (agent_id, user_id, rating, text, created_at, \
    updated_at) values ($1, $2, $3, $4, $5, $5) on conflict (agent_id, user_id) do update set \
    rating = excluded.rating, text = excluded.text, updated_at = excluded.updated_at";

const REVIEW_COLUMNS: &str = "select r.agent_id, r.user_id, u.username, \
    cast(r.rating as integer) as rating, r.text, r.created_at, r.updated_at \
    from reviews r join users u on u.id = r.user_id";

fn encode_badges(badges: &[bazaar_domain::Badge]) -> anyhow::Result<String> {
    let names: Vec<&str> = badges.iter().map(|badge| badge.as_str()).collect();
    serde_json::to_string(&names).context("failed to encode badges")
}

fn encode_capabilities(capabilities: &bazaar_domain::Capabilities) -> anyhow::Result<String> {
    serde_json::to_string(&capabilities.to_strings()).context("failed to encode capabilities")
}

#[async_trait]
impl<Store: AgentDialect> AgentStore for Store {
    async fn insert_agent(&self, agent: &NewAgent) -> Result<Agent, StoreError> {
        let insert = Statement::new(format!(
            "insert into agents (id, user_id, name, description, version, capabilities, \
               status, {price}, binary_url, binary_hash, binary_size, created_at, updated_at, \
               badges) \
             values ($1, $2, $3, $4, $5, $6{json}, 'active', $7{cents}, $8, $9, $10, $11, $11, \
               $12{json})",
            price = Store::SQL.price_column,
            json = Store::SQL.text_as_json,
            cents = Store::SQL.cents_as_price,
        ))
        .bind(agent.id.as_str())
        .bind(agent.owner.as_str())
        .bind(agent.name.as_str())
        .bind(agent.description.as_str())
        .bind(agent.version.as_str())
        .bind(encode_capabilities(&agent.capabilities)?)
        .bind(agent.price.cents())
        .bind(agent.binary_url.as_str())
        .bind(agent.binary_hash.as_str())
        .bind(agent.binary_size)
        .bind(Utc::now())
        .bind(encode_badges(&agent.badges)?);
        let written = write_agent(self, insert, &agent.id)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "you already published `{}` version {}",
                    agent.name, agent.version
                )),
                other => other,
            })?;
        written.ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!(
                "agent {} vanished after its insert",
                agent.id
            ))
        })
    }

    async fn get_agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError> {
        fetch_agent::<Store>(self.reader(), id).await
    }

    async fn list_agents(&self, filter: &AgentFilter) -> Result<Page<Agent>, StoreError> {
        listing::agents::<Store>(filter)
            .fetch(self.reader(), agent_from_row::<Store::Database>)
            .await
    }

    async fn search_agents(
        &self,
        query: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Agent>, StoreError> {
        let Some(search) = Search::parse(query, limit, offset) else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        self.search_active_agents(&search).await
    }

    async fn update_agent(
        &self,
        id: &AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<Agent>, StoreError> {
        let mut update = Statement::new("update agents set updated_at = ");
        update.push_bind(Utc::now());
        if let Some(description) = &changes.description {
            update
                .push(", description = ")
                .push_bind(description.as_str());
        }
        if let Some(capabilities) = &changes.capabilities {
            update
                .push(", capabilities = ")
                .push_bind(encode_capabilities(capabilities)?)
                .push(Store::SQL.text_as_json);
        }
        if let Some(price) = changes.price {
            update
                .push(&format!(", {} = ", Store::SQL.price_column))
                .push_bind(price.cents())
                .push(Store::SQL.cents_as_price);
        }
        if let Some(status) = changes.status {
            update.push(", status = ").push_bind(status.as_str());
        }
        update.push(" where id = ").push_bind(id.as_str());
        write_agent(self, update, id).await
    }

    async fn put_review(&self, review: &NewReview) -> Result<Review, StoreError> {
        let put = Statement::new(PUT_REVIEW)
            .bind(review.agent_id.as_str())
            .bind(review.user_id.as_str())
            .bind(i64::from(review.rating))
            .bind(review.text.as_str())
            .bind(review.at);
        Store::Database::execute(self.writer(), put).await?;
        let select = Statement::new(format!(
            "{REVIEW_COLUMNS} where r.agent_id = $1 and r.user_id = $2"
        ))
        .bind(review.agent_id.as_str())
        .bind(review.user_id.as_str());
        fetch_record(self.writer(), select, review_from_row::<Store::Database>)
            .await?
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("a review vanished after its write")))
    }

    async fn list_reviews(
        &self,
        agent_id: &AgentId,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Review>, StoreError> {
        let count = Statement::new("select count(*) from reviews where agent_id = $1")
            .bind(agent_id.as_str());
        let total = Store::Database::fetch_count(self.reader(), count).await?;
        let select = Statement::new(format!(
            "{REVIEW_COLUMNS} where r.agent_id = $1 \
             order by r.updated_at desc, r.user_id limit $2 offset $3"
        ))
        .bind(agent_id.as_str())
        .bind(i64::from(limit))
        .bind(i64::from(offset));
        let items =
            fetch_records(self.reader(), select, review_from_row::<Store::Database>).await?;
        Ok(Page { items, total })
    }

    async fn agents_without_badges(&self, limit: u32) -> Result<Vec<Agent>, StoreError> {
        let select = Statement::new(format!(
            "select {} from agents a left join agent_stats s on s.agent_id = a.id \
             where a.badges is null order by a.seq limit $1",
            Store::SQL.columns
        ))
        .bind(i64::from(limit));
        fetch_records(self.reader(), select, agent_from_row::<Store::Database>).await
    }

    async fn set_badges(
        &self,
        id: &AgentId,
        badges: &[bazaar_domain::Badge],
    ) -> Result<(), StoreError> {
        let update = Statement::new(format!(
            "update agents set badges = $2{} where id = $1 and badges is null",
            Store::SQL.text_as_json
        ))
        .bind(id.as_str())
        .bind(encode_badges(badges)?);
        Store::Database::execute(self.writer(), update).await?;
        Ok(())
    }

    async fn count_agents(&self) -> Result<u64, StoreError> {
        let count = Statement::new("select count(*) from agents");
        Store::Database::fetch_count(self.reader(), count).await
    }
}
