//! [`Statement`]: SQL text with the values bound to it, in a form both databases run, and
//! [`Runs`], which runs one on either database's pool.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::database::HasStatementCache;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::{Dialect, store_error};
use crate::StoreError;

/// A statement and its parameters, numbered `$1`, `$2`, … in the order they are bound.
#[derive(Debug)]
pub(crate) struct Statement<'a> {
    sql: Cow<'static, str>,
    parameters: Vec<Parameter<'a>>,
    persistent: bool,
}

/// A value bound to a statement: the kinds the shared statements use.
#[derive(Debug)]
pub(crate) enum Parameter<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Real(f64),
    Time(DateTime<Utc>),
    Bytes(&'a [u8]),
    /// Text or SQL `null`.
    OptionalText(Option<Cow<'a, str>>),
    /// An integer or SQL `null`.
    OptionalInteger(Option<i64>),
    /// A point in time or SQL `null`.
    OptionalTime(Option<DateTime<Utc>>),
}

impl<'a> From<Option<&'a str>> for Parameter<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Parameter::OptionalText(text.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Parameter<'_> {
    fn from(text: Option<String>) -> Self {
        Parameter::OptionalText(text.map(Cow::Owned))
    }
}

impl From<Option<i64>> for Parameter<'_> {
    fn from(integer: Option<i64>) -> Self {
        Parameter::OptionalInteger(integer)
    }
}

impl From<Option<DateTime<Utc>>> for Parameter<'_> {
    fn from(time: Option<DateTime<Utc>>) -> Self {
        Parameter::OptionalTime(time)
    }
}

impl<'a> From<&'a [u8]> for Parameter<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Parameter::Bytes(bytes)
    }
}

impl<'a> From<&'a str> for Parameter<'a> {
    fn from(text: &'a str) -> Self {
        Parameter::Text(Cow::Borrowed(text))
    }
}

impl From<String> for Parameter<'_> {
    fn from(text: String) -> Self {
        Parameter::Text(Cow::Owned(text))
    }
}

impl From<i64> for Parameter<'_> {
    fn from(integer: i64) -> Self {
        Parameter::Integer(integer)
    }
}

impl From<f64> for Parameter<'_> {
    fn from(real: f64) -> Self {
        Parameter::Real(real)
    }
}

impl From<DateTime<Utc>> for Parameter<'_> {
    fn from(time: DateTime<Utc>) -> Self {
        Parameter::Time(time)
    }
}

impl<'a> Statement<'a> {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Statement {
            sql: sql.into(),
            parameters: Vec::new(),
            persistent: true,
        }
    }

    /// Binds the next parameter of a text that already names it.
    pub(crate) fn bind(mut self, value: impl Into<Parameter<'a>>) -> Self {
        self.parameters.push(value.into());
        self
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends the next parameter's placeholder and binds it.
    pub(crate) fn push_bind(&mut self, value: impl Into<Parameter<'a>>) -> &mut Self {
        self.parameters.push(value.into());
        let number = self.parameters.len();
        // Writing to a String cannot fail.
        let _ = write!(self.sql.to_mut(), "${number}");
        self
    }

    /// Appends one row of values: `($n, $n+1, …)`.
    pub(crate) fn push_tuple<const N: usize>(&mut self, values: [Parameter<'a>; N]) -> &mut Self {
        self.push("(");
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self.push(")")
    }

    /// Puts the statement inside another: `prefix`, the statement, `suffix`. Its parameters
    /// keep their numbers.
    pub(crate) fn within(mut self, prefix: &str, suffix: &str) -> Self {
        self.sql = Cow::Owned(format!("{prefix}{}{suffix}", self.sql));
        self
    }

    /// Plans the statement afresh each time it runs, with its parameters in hand, instead of
    /// preparing it once and keeping the plan.
    pub(crate) fn planned_each_time(mut self) -> Self {
        self.persistent = false;
        self
    }
}

/// Runs [`Statement`]s on a pool of either database. sqlx asks code generic over the
/// database to prove that every bound value encodes and that a pool runs queries: the proof
/// is the one `where` clause below, and whatever runs statements needs only `Database: Runs`.
pub(crate) trait Runs: Dialect {
    /// The statement as sqlx runs it, for the methods below.
    fn query<'s>(statement: &'s Statement<'_>) -> Query<'s, Self, Self::Arguments<'s>>;

    /// Runs a statement that returns no rows; how many rows it wrote.
    fn execute<'a>(
        pool: &'a Pool<Self>,
        statement: Statement<'a>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a;

    fn fetch_optional<'a>(
        pool: &'a Pool<Self>,
        statement: Statement<'a>,
    ) -> impl Future<Output = Result<Option<Self::Row>, StoreError>> + Send + 'a;

    fn fetch_all<'a>(
        pool: &'a Pool<Self>,
        statement: Statement<'a>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send + 'a;

    /// Runs statements that return no rows in one transaction: all of them or none.
    fn execute_together<'a>(
        pool: &'a Pool<Self>,
        statements: Vec<Statement<'a>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// The number in the first column of the one row a `select count(*) …` returns.
    fn fetch_count<'a>(
        pool: &'a Pool<Self>,
        statement: Statement<'a>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a;
}

impl<D> Runs for D
where
    D: Dialect + HasStatementCache,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> f64: Encode<'q, D> + Type<D>,
    for<'q> &'q [u8]: Encode<'q, D> + Type<D>,
    for<'q> Option<&'q str>: Encode<'q, D>,
    for<'q> Option<i64>: Encode<'q, D>,
    for<'q> Option<D::Timestamp>: Encode<'q, D>,
    usize: ColumnIndex<D::Row>,
{
    fn query<'s>(statement: &'s Statement<'_>) -> Query<'s, D, D::Arguments<'s>> {
        let query = sqlx::query(&statement.sql).persistent(statement.persistent);
        statement
            .parameters
            .iter()
            .fold(query, |query, parameter| match parameter {
                Parameter::Text(text) => query.bind(text.as_ref()),
                Parameter::Integer(integer) => query.bind(*integer),
                Parameter::Real(real) => query.bind(*real),
                Parameter::Time(time) => query.bind(D::store_time(*time)),
                Parameter::Bytes(bytes) => query.bind(*bytes),
                Parameter::OptionalText(text) => query.bind(text.as_deref()),
                Parameter::OptionalInteger(integer) => query.bind(*integer),
                Parameter::OptionalTime(time) => query.bind(time.map(D::store_time)),
            })
    }

    async fn execute<'a>(pool: &'a Pool<D>, statement: Statement<'a>) -> Result<u64, StoreError> {
        let result = D::query(&statement)
            .execute(pool)
            .await
            .map_err(store_error::<D>)?;
        Ok(D::rows_affected(&result))
    }

    async fn execute_together<'a>(
        pool: &'a Pool<D>,
        statements: Vec<Statement<'a>>,
    ) -> Result<(), StoreError> {
        let mut transaction = pool.begin().await.map_err(store_error::<D>)?;
        for statement in &statements {
            D::query(statement)
                .execute(&mut *transaction)
                .await
                .map_err(store_error::<D>)?;
        }
        transaction.commit().await.map_err(store_error::<D>)
    }

    async fn fetch_optional<'a>(
        pool: &'a Pool<D>,
        statement: Statement<'a>,
    ) -> Result<Option<D::Row>, StoreError> {
        D::query(&statement)
            .fetch_optional(pool)
            .await
            .map_err(store_error::<D>)
    }

    async fn fetch_all<'a>(
        pool: &'a Pool<D>,
        statement: Statement<'a>,
    ) -> Result<Vec<D::Row>, StoreError> {
        D::query(&statement)
            .fetch_all(pool)
            .await
            .map_err(store_error::<D>)
    }

    async fn fetch_count<'a>(
        pool: &'a Pool<D>,
        statement: Statement<'a>,
    ) -> Result<u64, StoreError> {
        let row = D::query(&statement)
            .fetch_one(pool)
            .await
            .map_err(store_error::<D>)?;
        let count: i64 = row.try_get(0).map_err(store_error::<D>)?;
        Ok(count as u64)
    }
}

/// The record made of the row `statement` selects, if it selects one.
pub(crate) async fn fetch_record<D: Runs, T>(
    pool: &Pool<D>,
    statement: Statement<'_>,
    from_row: impl Fn(&D::Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let row = D::fetch_optional(pool, statement).await?;
    row.as_ref().map(from_row).transpose()
}

/// The records made of every row `statement` selects.
pub(crate) async fn fetch_records<D: Runs, T>(
    pool: &Pool<D>,
    statement: Statement<'_>,
    from_row: impl Fn(&D::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = D::fetch_all(pool, statement).await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::Statement;

    #[test]
    fn pushed_parameters_are_numbered_after_the_bound_ones() {
        let mut statement = Statement::new("select 1 where a = $1").bind("a");
        statement
            .push(" and b = ")
            .push_bind(2_i64)
            .push(" and c in ");
        statement.push_tuple(["c".into(), 3.5.into()]);
        assert_eq!(
            statement.sql,
            "select 1 where a = $1 and b = $2 and c in ($3, $4)"
        );
        assert_eq!(statement.parameters.len(), 4);
    }

    #[test]
    fn a_statement_put_inside_another_keeps_its_parameters() {
        let statement = Statement::new("update t set a = $1")
            .bind("a")
            .within("with w as (", " returning *) select * from w");
        assert_eq!(
            statement.sql,
            "with w as (update t set a = $1 returning *) select * from w"
        );
        assert_eq!(statement.parameters.len(), 1);
    }
}
