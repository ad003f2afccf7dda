//! What SQLite does its own way for agents: prices kept as whole cents, capabilities as a
//! JSON text, a written agent read back, and search in the FTS5 index of active agents
//! (migrations/sqlite/0002).

use async_trait::async_trait;
use bazaar_domain::{Agent, Page};
use sqlx::Sqlite;

use super::SqliteStore;
use crate::StoreError;
use crate::sql::{AgentDialect, AgentSql, Runs, Search, Statement, agent_from_row, fetch_records};

/// The schema keeps prices as whole cents and capabilities as JSON text, as Rust has them.
const SQL: AgentSql = AgentSql {
    columns: "a.id, a.user_id, a.name, a.description, a.version, a.capabilities, a.status, \
        a.price_cents, a.binary_url, a.binary_hash, a.binary_size, a.rating, a.created_at, \
        a.updated_at, a.rating_count, a.badges, coalesce(s.tasks_completed, 0) as tasks_completed",
    price_column: "price_cents",
    cents_as_price: "",
    text_as_json: "",
    has_capability: (
        "exists (select 1 from json_each(a.capabilities) where json_each.value = ",
        ")",
    ),
    has_badge: (
        "exists (select 1 from json_each(a.badges) where json_each.value = ",
        ")",
    ),
    name_order: "a.name collate nocase",
    write_returns_agent: false,
};

/// The index holds active agents only, so matches are counted in the index alone.
const COUNT_MATCHES: &str = "select count(*) from agents_fts where agents_fts match $1";

#[async_trait]
impl AgentDialect for SqliteStore {
    const SQL: AgentSql = SQL;

    async fn search_active_agents(&self, search: &Search) -> Result<Page<Agent>, StoreError> {
        let query = fts5_query(search);
        let count = Statement::new(COUNT_MATCHES).bind(query.as_str());
        let total = Sqlite::fetch_count(&self.reader, count).await?;
        // bm25 ranks lower-is-better. Only the most recent matches are ranked (the index
        // reads them newest first and stops), so a broad query costs no more than one that
        // matches a window of agents.
        let select = Statement::new(format!(
            include_str!("search_agents.sql"),
            agent_columns = SQL.columns
        ))
        .bind(query.as_str())
        .bind(search.ranking_window())
        .bind(i64::from(search.limit))
        .bind(i64::from(search.offset));
        let items = fetch_records(&self.reader, select, agent_from_row::<Sqlite>).await?;
        Ok(Page { items, total })
    }
}

/// An FTS5 query in which every word must match as a prefix: `"json"* "pretty"*`.
fn fts5_query(search: &Search) -> String {
    search.prefix_terms(|word| format!("\"{word}\"*"), " ")
}

#[cfg(test)]
mod tests {
    use super::fts5_query;
    use crate::sql::Search;

    fn parsed(query: &str) -> Search {
        Search::parse(query, 20, 0).unwrap()
    }

    #[test]
    fn every_word_of_a_query_becomes_a_quoted_prefix_term() {
        assert_eq!(fts5_query(&parsed("JSON pretty")), r#""json"* "pretty"*"#);
    }

    #[test]
    fn fts5_syntax_in_a_query_is_taken_as_separators() {
        assert_eq!(
            fts5_query(&parsed(r#"json OR "csv"* NEAR(x y)"#)),
            r#""json"* "or"* "csv"* "near"* "x"* "y"*"#
        );
    }
}
