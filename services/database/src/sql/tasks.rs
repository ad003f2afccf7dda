//! [`TaskStore`] for every SQL store with a [`TaskDialect`]: tasks are one set of statements
//! in both databases; only how inserts reach the database may differ.

use async_trait::async_trait;
use bazaar_domain::{Task, TaskId};
use sqlx::Pool;

use super::rows::task_from_row;
use super::{Runs, SqlStore, Statement, fetch_record};
use crate::{StoreError, TaskStore};

const SELECT_TASK: &str =
    "select id, agent_id, user_id, input_size, timeout_ms, created_at from tasks where id = $1";

const DELETE_TASK: &str = "delete from tasks where id = $1";

/// How a database takes new tasks.
#[async_trait]
pub(crate) trait TaskDialect: SqlStore {
    /// Inserts one task, by default with a statement of its own.
    async fn write_task(&self, task: &Task) -> Result<(), StoreError> {
        insert_tasks(self.writer(), [task]).await
    }
}

/// Inserts `tasks` with one statement, so in one transaction: all of them or, if any
/// cannot be inserted, none.
pub(crate) async fn insert_tasks<'a, D: Runs>(
    writer: &Pool<D>,
    tasks: impl IntoIterator<Item = &'a Task>,
) -> Result<(), StoreError> {
    let mut insert = Statement::new(
        "insert into tasks (id, agent_id, user_id, input_size, timeout_ms, created_at) values ",
    );
    for (index, task) in tasks.into_iter().enumerate() {
        if index > 0 {
            insert.push(", ");
        }
        insert.push_tuple([
            task.id.as_str().into(),
            task.agent_id.as_str().into(),
            task.owner.as_str().into(),
            task.input_size.into(),
            task.timeout_ms.into(),
            task.created_at.into(),
        ]);
    }
    D::execute(writer, insert).await?;
    Ok(())
}

#[async_trait]
impl<Store: TaskDialect> TaskStore for Store {
    async fn insert_task(&self, task: &Task) -> Result<(), StoreError> {
        self.write_task(task).await
    }

    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let select = Statement::new(SELECT_TASK).bind(id.as_str());
        fetch_record(self.reader(), select, task_from_row::<Store::Database>).await
    }

    async fn delete_task(&self, id: &TaskId) -> Result<(), StoreError> {
        let delete = Statement::new(DELETE_TASK).bind(id.as_str());
        Store::Database::execute(self.writer(), delete).await?;
        Ok(())
    }
}
