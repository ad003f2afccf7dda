//! `ResultStore`: storing each result exactly once, agent statistics and result listings.

use bazaar_database::PERCENTILE_WINDOW;
use bazaar_domain::{
    Agent, AgentId, AgentStats, ResultFilter, ResultStatus, TaskId, TaskResult, UserId,
};

use crate::backends::Backend;
use crate::fixtures::{at, create_user, everything, publish_named, result_of};

/// A user and one agent of theirs.
async fn owner_and_agent(backend: &Backend) -> (UserId, Agent) {
    let owner = create_user(backend, "ada").await;
    let agent = publish_named(backend, &owner, "json-format").await;
    (owner, agent)
}

fn with_status(result: TaskResult, status: ResultStatus) -> TaskResult {
    TaskResult { status, ..result }
}

fn with_duration(result: TaskResult, duration_ms: i64) -> TaskResult {
    TaskResult {
        duration_ms,
        ..result
    }
}

async fn stats(backend: &Backend, agent: &Agent) -> AgentStats {
    backend.results.agent_stats(&agent.id).await.unwrap()
}

pub async fn inserting_results_returns_how_many_were_new(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let first = result_of(&agent, &owner, 1);
    let second = result_of(&agent, &owner, 2);
    let third = result_of(&agent, &owner, 3);

    let none = backend.results.insert_results(&[]).await.unwrap();
    let two = backend
        .results
        .insert_results(&[first.clone(), second.clone()])
        .await
        .unwrap();
    let one = backend
        .results
        .insert_results(&[second, third, first])
        .await
        .unwrap();

    assert_eq!((none, two, one), (0, 2, 1));
}

pub async fn a_stored_result_reads_back_unchanged(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let result = TaskResult {
        status: ResultStatus::Failed,
        exit_code: -1,
        stdout: vec![0, 159, 146, 150, 255, b'\n'],
        stderr: "trap: out of fuel\n".as_bytes().to_vec(),
        stdout_truncated: true,
        stderr_truncated: false,
        duration_ms: 1234,
        error: Some("the agent ran out of memory".to_owned()),
        ..result_of(&agent, &owner, 7)
    };
    let succeeded = TaskResult {
        stdout_truncated: false,
        stderr_truncated: true,
        ..result_of(&agent, &owner, 8)
    };
    backend
        .results
        .insert_results(&[result.clone(), succeeded.clone()])
        .await
        .unwrap();

    let read = backend.results.get_result(&result.task_id).await.unwrap();
    let read_succeeded = backend
        .results
        .get_result(&succeeded.task_id)
        .await
        .unwrap();

    assert_eq!(read, Some(result));
    assert_eq!(read_succeeded, Some(succeeded));
}

pub async fn an_unknown_result_is_none(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    backend
        .results
        .insert_results(&[result_of(&agent, &owner, 1)])
        .await
        .unwrap();

    let read = backend
        .results
        .get_result(&TaskId::generate())
        .await
        .unwrap();

    assert_eq!(read, None);
}

pub async fn a_result_stored_twice_keeps_the_first_and_counts_once(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let original = with_duration(result_of(&agent, &owner, 1), 100);
    let redelivered = TaskResult {
        status: ResultStatus::Failed,
        exit_code: 1,
        ..with_duration(original.clone(), 900)
    };
    backend
        .results
        .insert_results(std::slice::from_ref(&original))
        .await
        .unwrap();

    let inserted = backend
        .results
        .insert_results(&[redelivered])
        .await
        .unwrap();

    assert_eq!(inserted, 0);
    assert_eq!(
        backend.results.get_result(&original.task_id).await.unwrap(),
        Some(original)
    );
    let stats = stats(&backend, &agent).await;
    assert_eq!(
        (stats.tasks_completed, stats.succeeded, stats.failed),
        (1, 1, 0)
    );
    assert_eq!(stats.mean_duration_ms, Some(100.0));
    let listed = backend
        .results
        .list_results(&ResultFilter {
            owner,
            agent_id: None,
            status: None,
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
}

pub async fn a_result_twice_in_one_batch_is_stored_and_counted_once(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let result = result_of(&agent, &owner, 1);

    let inserted = backend
        .results
        .insert_results(&[result.clone(), result.clone()])
        .await
        .unwrap();

    assert_eq!(inserted, 1);
    assert_eq!(stats(&backend, &agent).await.tasks_completed, 1);
    let agent = backend.agents.get_agent(&agent.id).await.unwrap().unwrap();
    assert_eq!(agent.tasks_completed, 1);
}

pub async fn an_agent_without_results_has_empty_statistics(backend: Backend) {
    let (_, agent) = owner_and_agent(&backend).await;

    assert_eq!(stats(&backend, &agent).await, AgentStats::default());
    assert_eq!(
        backend
            .results
            .agent_stats(&AgentId::generate())
            .await
            .unwrap(),
        AgentStats::default()
    );
}

pub async fn statistics_count_results_by_status(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let statuses = [
        ResultStatus::Succeeded,
        ResultStatus::Failed,
        ResultStatus::Succeeded,
        ResultStatus::TimedOut,
        ResultStatus::Succeeded,
        ResultStatus::Failed,
    ];
    let results: Vec<TaskResult> = statuses
        .iter()
        .zip(0..)
        .map(|(status, second)| with_status(result_of(&agent, &owner, second), *status))
        .collect();
    // Split in two batches so that counters are added to, not only created.
    backend.results.insert_results(&results[..2]).await.unwrap();
    backend.results.insert_results(&results[2..]).await.unwrap();

    let stats = stats(&backend, &agent).await;

    assert_eq!(stats.tasks_completed, 6);
    assert_eq!(stats.succeeded, 3);
    assert_eq!(stats.failed, 2);
    assert_eq!(stats.timed_out, 1);
}

pub async fn statistics_give_the_mean_and_nearest_rank_percentiles_of_durations(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    // 10, 20, …, 200 ms, stored out of order.
    let durations = [
        70, 200, 10, 150, 40, 90, 180, 20, 130, 60, 110, 30, 190, 80, 170, 50, 140, 100, 120, 160,
    ];
    let results: Vec<TaskResult> = durations
        .iter()
        .zip(0..)
        .map(|(duration, second)| with_duration(result_of(&agent, &owner, second), *duration))
        .collect();
    backend.results.insert_results(&results).await.unwrap();

    let stats = stats(&backend, &agent).await;

    assert_eq!(stats.mean_duration_ms, Some(105.0));
    assert_eq!(stats.p50_duration_ms, Some(100));
    assert_eq!(stats.p95_duration_ms, Some(190));
    assert_eq!(stats.p99_duration_ms, Some(200));
}

pub async fn a_single_result_is_every_percentile(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let result = with_duration(result_of(&agent, &owner, 1), 37);
    backend.results.insert_results(&[result]).await.unwrap();

    let stats = stats(&backend, &agent).await;

    assert_eq!(stats.mean_duration_ms, Some(37.0));
    assert_eq!(
        (
            stats.p50_duration_ms,
            stats.p95_duration_ms,
            stats.p99_duration_ms
        ),
        (Some(37), Some(37), Some(37))
    );
}

pub async fn percentiles_describe_only_the_most_recent_results(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let window = i64::from(PERCENTILE_WINDOW);
    // Twenty slow runs long ago, then a full window of fast ones.
    let mut results: Vec<TaskResult> = (0..20)
        .map(|second| with_duration(result_of(&agent, &owner, second), 60_000))
        .collect();
    results.extend(
        (0..window).map(|offset| with_duration(result_of(&agent, &owner, 1000 + offset), 5)),
    );
    // The newest last, so that insertion order cannot stand in for time order.
    results.reverse();
    backend.results.insert_results(&results).await.unwrap();

    let stats = stats(&backend, &agent).await;

    assert_eq!(stats.tasks_completed, window + 20);
    assert_eq!(stats.p99_duration_ms, Some(5), "old runs left the window");
    let mean = stats.mean_duration_ms.unwrap();
    assert!(mean > 5.0, "the mean covers every run, got {mean}");
}

pub async fn the_last_run_is_the_newest_result_whatever_the_order_of_arrival(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let newest = result_of(&agent, &owner, 300);
    backend
        .results
        .insert_results(&[result_of(&agent, &owner, 100), newest])
        .await
        .unwrap();
    backend
        .results
        .insert_results(&[result_of(&agent, &owner, 200)])
        .await
        .unwrap();

    assert_eq!(stats(&backend, &agent).await.last_run_at, Some(at(300)));
}

pub async fn statistics_are_kept_per_agent(backend: Backend) {
    let (owner, json) = owner_and_agent(&backend).await;
    let csv = publish_named(&backend, &owner, "csv-parse").await;
    let results = [
        with_duration(result_of(&json, &owner, 1), 10),
        with_duration(result_of(&json, &owner, 2), 30),
        with_status(
            with_duration(result_of(&csv, &owner, 3), 1000),
            ResultStatus::TimedOut,
        ),
    ];
    backend.results.insert_results(&results).await.unwrap();

    let json_stats = stats(&backend, &json).await;
    let csv_stats = stats(&backend, &csv).await;

    assert_eq!(
        json_stats,
        AgentStats {
            tasks_completed: 2,
            succeeded: 2,
            failed: 0,
            timed_out: 0,
            canceled: 0,
            mean_duration_ms: Some(20.0),
            p50_duration_ms: Some(10),
            p95_duration_ms: Some(30),
            p99_duration_ms: Some(30),
            last_run_at: Some(at(2)),
        }
    );
    assert_eq!(
        csv_stats,
        AgentStats {
            tasks_completed: 1,
            succeeded: 0,
            failed: 0,
            timed_out: 1,
            canceled: 0,
            mean_duration_ms: Some(1000.0),
            p50_duration_ms: Some(1000),
            p95_duration_ms: Some(1000),
            p99_duration_ms: Some(1000),
            last_run_at: Some(at(3)),
        }
    );
}

pub async fn an_agents_tasks_completed_counts_its_stored_results(backend: Backend) {
    let (owner, json) = owner_and_agent(&backend).await;
    let csv = publish_named(&backend, &owner, "csv-parse").await;
    let results = [
        result_of(&json, &owner, 1),
        with_status(result_of(&json, &owner, 2), ResultStatus::Failed),
        with_status(result_of(&json, &owner, 3), ResultStatus::TimedOut),
    ];
    backend.results.insert_results(&results).await.unwrap();
    backend.results.insert_results(&results[..1]).await.unwrap();

    let read_json = backend.agents.get_agent(&json.id).await.unwrap().unwrap();
    let read_csv = backend.agents.get_agent(&csv.id).await.unwrap().unwrap();
    let listed = backend.agents.list_agents(&everything()).await.unwrap();
    let searched = backend.agents.search_agents("json", 10, 0).await.unwrap();

    assert_eq!(read_json.tasks_completed, 3);
    assert_eq!(read_csv.tasks_completed, 0);
    let listed_json = listed
        .items
        .iter()
        .find(|agent| agent.id == json.id)
        .unwrap();
    assert_eq!(listed_json.tasks_completed, 3);
    assert_eq!(searched.items[0].tasks_completed, 3);
}

/// Ada's and Grace's results for two agents; returns Ada, the two agents, and Ada's results
/// newest first.
async fn publish_results(backend: &Backend) -> (UserId, Agent, Agent, Vec<TaskResult>) {
    let ada = create_user(backend, "ada").await;
    let grace = create_user(backend, "grace").await;
    let json = publish_named(backend, &ada, "json-format").await;
    let csv = publish_named(backend, &grace, "csv-parse").await;
    let adas = vec![
        with_status(result_of(&csv, &ada, 50), ResultStatus::TimedOut),
        result_of(&json, &ada, 40),
        with_status(result_of(&json, &ada, 30), ResultStatus::Failed),
        result_of(&csv, &ada, 20),
        result_of(&json, &ada, 10),
    ];
    let graces = [result_of(&json, &grace, 45), result_of(&csv, &grace, 5)];
    // Stored in neither time nor id order.
    let mut all: Vec<TaskResult> = adas.iter().chain(&graces).cloned().collect();
    all.swap(0, 4);
    all.swap(1, 5);
    backend.results.insert_results(&all).await.unwrap();
    (ada, json, csv, adas)
}

fn filter_of(owner: &UserId) -> ResultFilter {
    ResultFilter {
        owner: owner.clone(),
        agent_id: None,
        status: None,
        limit: 100,
        offset: 0,
    }
}

pub async fn a_listing_shows_only_the_owners_results_newest_first(backend: Backend) {
    let (ada, _, _, adas) = publish_results(&backend).await;

    let page = backend
        .results
        .list_results(&filter_of(&ada))
        .await
        .unwrap();

    assert_eq!(page.items, adas);
    assert_eq!(page.total, 5);
}

pub async fn a_user_without_results_lists_none(backend: Backend) {
    publish_results(&backend).await;
    let nobody = create_user(&backend, "nobody").await;

    let page = backend
        .results
        .list_results(&filter_of(&nobody))
        .await
        .unwrap();

    assert!(page.items.is_empty());
    assert_eq!(page.total, 0);
}

pub async fn a_result_listing_filters_by_agent(backend: Backend) {
    let (ada, json, csv, adas) = publish_results(&backend).await;

    let of_json = backend
        .results
        .list_results(&ResultFilter {
            agent_id: Some(json.id),
            ..filter_of(&ada)
        })
        .await
        .unwrap();
    let of_csv = backend
        .results
        .list_results(&ResultFilter {
            agent_id: Some(csv.id),
            ..filter_of(&ada)
        })
        .await
        .unwrap();

    assert_eq!(
        of_json.items,
        [adas[1].clone(), adas[2].clone(), adas[4].clone()]
    );
    assert_eq!(of_json.total, 3);
    assert_eq!(of_csv.items, [adas[0].clone(), adas[3].clone()]);
    assert_eq!(of_csv.total, 2);
}

pub async fn a_result_listing_filters_by_status(backend: Backend) {
    let (ada, _, _, adas) = publish_results(&backend).await;
    let with = |status| ResultFilter {
        status: Some(status),
        ..filter_of(&ada)
    };

    let succeeded = backend
        .results
        .list_results(&with(ResultStatus::Succeeded))
        .await;
    let failed = backend
        .results
        .list_results(&with(ResultStatus::Failed))
        .await;
    let timed_out = backend
        .results
        .list_results(&with(ResultStatus::TimedOut))
        .await;

    assert_eq!(
        succeeded.unwrap().items,
        [adas[1].clone(), adas[3].clone(), adas[4].clone()]
    );
    assert_eq!(failed.unwrap().items, [adas[2].clone()]);
    assert_eq!(timed_out.unwrap().items, [adas[0].clone()]);
}

pub async fn a_result_listing_filters_by_agent_and_status_together(backend: Backend) {
    let (ada, json, _, adas) = publish_results(&backend).await;

    let page = backend
        .results
        .list_results(&ResultFilter {
            agent_id: Some(json.id),
            status: Some(ResultStatus::Succeeded),
            ..filter_of(&ada)
        })
        .await
        .unwrap();

    assert_eq!(page.items, [adas[1].clone(), adas[4].clone()]);
    assert_eq!(page.total, 2);
}

pub async fn a_result_page_holds_limit_results_from_offset_and_the_total_of_all_matches(
    backend: Backend,
) {
    let (ada, _, _, adas) = publish_results(&backend).await;
    let page_of = |limit, offset| ResultFilter {
        limit,
        offset,
        ..filter_of(&ada)
    };

    let first = backend.results.list_results(&page_of(2, 0)).await.unwrap();
    let second = backend.results.list_results(&page_of(2, 2)).await.unwrap();
    let last = backend.results.list_results(&page_of(2, 4)).await.unwrap();
    let beyond = backend.results.list_results(&page_of(2, 9)).await.unwrap();

    assert_eq!(first.items, adas[0..2]);
    assert_eq!(second.items, adas[2..4]);
    assert_eq!(last.items, adas[4..]);
    assert!(beyond.items.is_empty());
    for page in [first, second, last, beyond] {
        assert_eq!(page.total, 5);
    }
}

pub async fn watchers_learn_of_every_stored_result(backend: Backend) {
    let Some(mut notifications) = backend.results.watch_results().await.unwrap() else {
        // Only this process writes (SQLite): there is nothing to learn from elsewhere.
        return;
    };
    let (owner, agent) = owner_and_agent(&backend).await;
    // More than one notification's worth, so that chunking is exercised.
    let results: Vec<TaskResult> = (0..300).map(|n| result_of(&agent, &owner, n)).collect();
    backend.results.insert_results(&results).await.unwrap();
    let mut unseen: std::collections::HashSet<TaskId> = results
        .iter()
        .map(|result| result.task_id.clone())
        .collect();
    while !unseen.is_empty() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), notifications.recv())
            .await
            .unwrap_or_else(|_| panic!("{} results were never announced", unseen.len()))
            .expect("the notifications go on");
        if let bazaar_database::ResultsStored::Tasks(task_ids) = event {
            for task_id in task_ids {
                unseen.remove(&task_id);
            }
        }
    }
}
