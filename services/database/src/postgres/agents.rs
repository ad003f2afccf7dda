//! What PostgreSQL does its own way for agents: prices kept as `decimal(10, 2)`, capabilities
//! as `jsonb`, a written agent returned by the statement that writes it, and search over the
//! agents' weighted `search_document` (migrations/postgres/0001), with a planner's estimate
//! for the total of a broad search.

use async_trait::async_trait;
use bazaar_domain::{Agent, Page};
use sqlx::Postgres;

use super::PostgresStore;
use crate::StoreError;
use crate::sql::{
    AgentDialect, AgentSql, Runs, Search, Statement, StoredRow, agent_from_row, fetch_records,
};

/// Prices are whole cents in Rust; the conversion happens in SQL, where it is exact.
const SQL: AgentSql = AgentSql {
    columns: "a.id, a.user_id, a.name, a.description, a.version, \
        a.capabilities::text as capabilities, a.status, (a.price * 100)::bigint as price_cents, \
        a.binary_url, a.binary_hash, a.binary_size, a.rating::float8 as rating, a.created_at, \
        a.updated_at, a.rating_count, a.badges::text as badges, coalesce(s.tasks_completed, 0) as tasks_completed",
    price_column: "price",
    cents_as_price: "::numeric / 100",
    text_as_json: "::jsonb",
    has_capability: ("a.capabilities @> jsonb_build_array(", "::text)"),
    has_badge: ("a.badges @> jsonb_build_array(", "::text)"),
    // As SQLite's `collate nocase`.
    name_order: "lower(a.name) collate \"C\"",
    write_returns_agent: true,
};

/// Matches of $1, a tsquery, among active agents: the gin index finds them.
const MATCHES: &str = "select 1 from agents a where a.search_document @@ to_tsquery('simple', $1) \
     and a.status = 'active'";

#[async_trait]
impl AgentDialect for PostgresStore {
    const SQL: AgentSql = SQL;

    async fn search_active_agents(&self, search: &Search) -> Result<Page<Agent>, StoreError> {
        let tsquery = prefix_tsquery(search);
        let window = search.ranking_window();
        // Statements are planned afresh with the query in hand: a plan kept for any query
        // would either sort every match of a broad one or walk the whole table for a rare one.
        let select = Statement::new(format!(
            include_str!("search_agents.sql"),
            agent_columns = SQL.columns
        ))
        .bind(tsquery.as_str())
        .bind(i64::from(search.limit))
        .bind(i64::from(search.offset))
        .bind(window)
        .planned_each_time();
        let rows = Postgres::fetch_all(&self.pool, select).await?;
        let total = match rows.first().map(|row| row.integer("ranked")).transpose()? {
            // Every match was ranked, so every match was counted.
            Some(ranked) if ranked < window => ranked as u64,
            _ => self.count_matches(&tsquery, window).await?,
        };
        let items = rows
            .iter()
            .map(agent_from_row::<Postgres>)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }
}

impl PostgresStore {
    /// How many active agents match: exactly up to `window`, estimated above.
    async fn count_matches(&self, tsquery: &str, window: i64) -> Result<u64, StoreError> {
        let count = Statement::new(format!("select count(*) from ({MATCHES} limit $2) m"))
            .bind(tsquery)
            .bind(window + 1)
            .planned_each_time();
        let counted = Postgres::fetch_count(&self.pool, count).await?;
        if counted <= window as u64 {
            return Ok(counted);
        }
        let explain = Statement::new(format!("explain {MATCHES}"))
            .bind(tsquery)
            .planned_each_time();
        let plan = fetch_records(&self.pool, explain, |row| {
            row.text("QUERY PLAN").map(str::to_owned)
        })
        .await?;
        // The first line is the scan's: `Bitmap Heap Scan on agents a  (cost=… rows=N …)`.
        let estimated = plan
            .first()
            .and_then(|line| line.split_once("rows="))
            .map(|(_, rest)| rest.split(' ').next().unwrap_or_default())
            .and_then(|rows| rows.parse::<u64>().ok())
            .unwrap_or(counted);
        Ok(estimated.max(counted))
    }
}

/// A `to_tsquery` text in which every word must match as a prefix: `json:* & pretty:*`.
fn prefix_tsquery(search: &Search) -> String {
    search.prefix_terms(|word| format!("{word}:*"), " & ")
}

#[cfg(test)]
mod tests {
    use super::prefix_tsquery;
    use crate::sql::Search;

    fn tsquery(query: &str) -> Option<String> {
        Search::parse(query, 20, 0).map(|search| prefix_tsquery(&search))
    }

    #[test]
    fn every_word_of_a_query_becomes_a_prefix_term() {
        assert_eq!(tsquery("JSON pretty").as_deref(), Some("json:* & pretty:*"));
    }

    #[test]
    fn tsquery_syntax_in_a_query_is_taken_as_separators() {
        assert_eq!(
            tsquery("json:* | !(csv) <-> 'x'").as_deref(),
            Some("json:* & csv:* & x:*")
        );
        assert_eq!(tsquery(" &|!*:() "), None);
    }
}
