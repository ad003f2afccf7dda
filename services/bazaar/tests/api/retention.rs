//! Retention: the results service's periodic job deletes results past `retention_days`,
//! with their tasks, and leaves the statistics alone.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::sqlite::SqliteConnectOptions;

use crate::helpers::{assert_error, expect_json, spawn_app_with, string_field};

#[tokio::test]
async fn a_result_older_than_the_retention_is_deleted_with_its_task_and_stats_stay() {
    let app = spawn_app_with(|config| {
        config.seed_examples = false;
        config.results.retention_days = 30;
        config.results.retention_interval_ms = 100;
    })
    .await;
    let (_, token) = app.register_user().await;
    let echo = app.upload_echo(&token).await;
    let old = app.execute_ok(&token, &echo, "from long ago").await;
    let recent = app.execute_ok(&token, &echo, "from today").await;
    let old_id = string_field(&old, "task_id").to_owned();
    let recent_id = string_field(&recent, "task_id").to_owned();
    let stats_before = expect_json(app.agent_stats(&echo).await, StatusCode::OK).await;

    // Age one result past the 30 days, as if it had been stored 31 days ago; the next run of
    // the job (every 100 ms here) deletes it. The database is the app's own SQLite file.
    let aged = (chrono::Utc::now() - chrono::TimeDelta::days(31))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let database = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(app.data_dir().join("bazaar.db"))
            .busy_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("the app's database opens");
    let updated = sqlx::query("update task_results set created_at = $1 where task_id = $2")
        .bind(&aged)
        .bind(&old_id)
        .execute(&database)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 1);
    database.close().await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while app.task_result(&token, &old_id).await.status() != StatusCode::NOT_FOUND {
        assert!(
            Instant::now() < deadline,
            "the aged result is still there after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_error(
        app.task_status(&token, &old_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let kept = expect_json(app.task_result(&token, &recent_id).await, StatusCode::OK).await;
    assert_eq!(kept["stdout"], "from today");
    let listing = expect_json(app.list_results(&token, &[]).await, StatusCode::OK).await;
    assert_eq!(listing["total"], 1, "{listing}");
    let stats_after = expect_json(app.agent_stats(&echo).await, StatusCode::OK).await;
    for counter in [
        "tasks_completed",
        "succeeded",
        "failed",
        "timed_out",
        "mean_duration_ms",
        "last_run_at",
    ] {
        assert_eq!(
            stats_after[counter], stats_before[counter],
            "{counter}: before {stats_before}, after {stats_after}"
        );
    }
    assert_eq!(stats_after["tasks_completed"], 2);
}
