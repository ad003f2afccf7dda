//! Listings of agents and of results: the filters and sort orders that make a page, and the
//! count of every row the filters admit, built once for both databases.

use bazaar_domain::{AgentFilter, AgentSort, Page, ResultFilter};
use sqlx::Pool;

use super::{AgentDialect, Runs, Statement, fetch_records};
use crate::StoreError;

/// A page of rows and a count of all of them, under the same conditions.
pub(crate) struct Listing<'a> {
    count: Statement<'a>,
    page: Statement<'a>,
}

impl<'a> Listing<'a> {
    /// `count_from` and `select_from`, each followed by what `push_conditions` writes (from
    /// ` where`); the page in `order_by`, `limit` rows from `offset`.
    fn new(
        count_from: &'static str,
        select_from: String,
        push_conditions: impl Fn(&mut Statement<'a>),
        order_by: &str,
        limit: u32,
        offset: u32,
    ) -> Self {
        let mut count = Statement::new(count_from);
        push_conditions(&mut count);
        let mut page = Statement::new(select_from);
        push_conditions(&mut page);
        page.push(" order by ")
            .push(order_by)
            .push(" limit ")
            .push_bind(i64::from(limit))
            .push(" offset ")
            .push_bind(i64::from(offset));
        Listing { count, page }
    }

    pub(crate) async fn fetch<D: Runs, T>(
        self,
        pool: &Pool<D>,
        from_row: impl Fn(&D::Row) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let total = D::fetch_count(pool, self.count).await?;
        let items = fetch_records(pool, self.page, from_row).await?;
        Ok(Page { items, total })
    }
}

/// Agents of every status unless the filter names one, with their completed-task counts.
pub(crate) fn agents<Store: AgentDialect>(filter: &AgentFilter) -> Listing<'_> {
    Listing::new(
        "select count(*) from agents a",
        format!(
            "select {} from agents a left join agent_stats s on s.agent_id = a.id",
            Store::SQL.columns
        ),
        |statement| push_agent_conditions::<Store>(statement, filter),
        &agent_order::<Store>(filter.sort),
        filter.limit,
        filter.offset,
    )
}

fn push_agent_conditions<'a, Store: AgentDialect>(
    statement: &mut Statement<'a>,
    filter: &'a AgentFilter,
) {
    statement.push(" where true");
    if let Some(capability) = &filter.capability {
        let (before, after) = Store::SQL.has_capability;
        statement
            .push(" and ")
            .push(before)
            .push_bind(capability.as_str())
            .push(after);
    }
    if let Some(badge) = filter.badge {
        let (before, after) = Store::SQL.has_badge;
        statement
            .push(" and ")
            .push(before)
            .push_bind(badge.as_str())
            .push(after);
    }
    let price_bounds = [(">=", filter.min_price), ("<=", filter.max_price)];
    for (comparison, bound) in price_bounds {
        if let Some(price) = bound {
            statement
                .push(&format!(" and a.{} {comparison} ", Store::SQL.price_column))
                .push_bind(price.cents())
                .push(Store::SQL.cents_as_price);
        }
    }
    if let Some(min_rating) = filter.min_rating {
        statement.push(" and a.rating >= ").push_bind(min_rating);
    }
    if let Some(status) = filter.status {
        statement
            .push(" and a.status = ")
            .push_bind(status.as_str());
    }
    if let Some(owner) = &filter.owner {
        statement
            .push(" and a.user_id = ")
            .push_bind(owner.as_str());
    }
}

/// Every order ends with insertion order, so that equal keys always page the same way.
fn agent_order<Store: AgentDialect>(sort: AgentSort) -> String {
    let price = Store::SQL.price_column;
    match sort {
        AgentSort::Newest => "a.created_at desc, a.seq desc".to_owned(),
        AgentSort::Oldest => "a.created_at asc, a.seq asc".to_owned(),
        AgentSort::Name => format!("{} asc, a.seq asc", Store::SQL.name_order),
        AgentSort::PriceAsc => format!("a.{price} asc, a.seq asc"),
        AgentSort::PriceDesc => format!("a.{price} desc, a.seq asc"),
        AgentSort::Rating => "a.rating desc, a.seq asc".to_owned(),
        AgentSort::Popular => "coalesce(s.tasks_completed, 0) desc, a.seq asc".to_owned(),
    }
}

/// The owner's results, newest first.
pub(crate) fn results(filter: &ResultFilter) -> Listing<'_> {
    Listing::new(
        "select count(*) from task_results",
        "select * from task_results".to_owned(),
        |statement| push_result_conditions(statement, filter),
        "created_at desc, task_id desc",
        filter.limit,
        filter.offset,
    )
}

fn push_result_conditions<'a>(statement: &mut Statement<'a>, filter: &'a ResultFilter) {
    statement
        .push(" where user_id = ")
        .push_bind(filter.owner.as_str());
    if let Some(agent_id) = &filter.agent_id {
        statement
            .push(" and agent_id = ")
            .push_bind(agent_id.as_str());
    }
    if let Some(status) = filter.status {
        statement.push(" and status = ").push_bind(status.as_str());
    }
}
