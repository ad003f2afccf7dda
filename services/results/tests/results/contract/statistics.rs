use bazaar_domain::{AgentId, AgentStats, ResultStatus, UserId};

use crate::clients::Client;
use crate::fixtures::{at, result_of, with_duration, with_status};

pub async fn an_agent_without_results_has_empty_statistics(backend: Client) {
    let stats = backend.client.stats(&AgentId::generate()).await.unwrap();

    assert_eq!(stats, AgentStats::default());
}

pub async fn statistics_count_stored_results_by_status_with_their_durations(backend: Client) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let other_agent = AgentId::generate();
    backend
        .results
        .store(&[
            with_duration(result_of(&agent, &owner, 40), 20),
            with_duration(result_of(&agent, &owner, 10), 10),
            with_duration(
                with_status(result_of(&agent, &owner, 30), ResultStatus::Failed),
                40,
            ),
            with_duration(
                with_status(result_of(&agent, &owner, 20), ResultStatus::TimedOut),
                30,
            ),
            with_duration(result_of(&other_agent, &owner, 50), 1000),
        ])
        .await;

    let stats = backend.client.stats(&agent).await.unwrap();

    assert_eq!(
        stats,
        AgentStats {
            tasks_completed: 4,
            succeeded: 2,
            failed: 1,
            timed_out: 1,
            canceled: 0,
            mean_duration_ms: Some(25.0),
            p50_duration_ms: Some(20),
            p95_duration_ms: Some(40),
            p99_duration_ms: Some(40),
            last_run_at: Some(at(40)),
        }
    );
}
