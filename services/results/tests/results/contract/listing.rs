use bazaar_domain::{AgentId, ResultFilter, ResultStatus, TaskResult, UserId};

use crate::clients::Client;
use crate::fixtures::{everything_of, result_of, task_ids, with_status};

/// Five results of `owner` over two agents and every status, stored in an order that is not
/// their time order, and one result of another user. Returned newest first.
async fn store_results(backend: &Client) -> (UserId, AgentId, AgentId, Vec<TaskResult>) {
    let owner = UserId::generate();
    let first_agent = AgentId::generate();
    let second_agent = AgentId::generate();
    let results = vec![
        result_of(&first_agent, &owner, 30),
        with_status(result_of(&second_agent, &owner, 10), ResultStatus::Failed),
        with_status(result_of(&first_agent, &owner, 50), ResultStatus::TimedOut),
        result_of(&second_agent, &owner, 40),
        with_status(result_of(&first_agent, &owner, 20), ResultStatus::Failed),
        result_of(&first_agent, &UserId::generate(), 60),
    ];
    backend.results.store(&results).await;
    let mut owned: Vec<TaskResult> = results
        .into_iter()
        .filter(|result| result.owner == owner)
        .collect();
    owned.sort_by_key(|result| std::cmp::Reverse(result.created_at));
    (owner, first_agent, second_agent, owned)
}

pub async fn a_listing_shows_only_the_owners_results_newest_first(backend: Client) {
    let (owner, _, _, newest_first) = store_results(&backend).await;

    let page = backend.client.list(&everything_of(&owner)).await.unwrap();

    assert_eq!(page.items, newest_first);
    assert_eq!(page.total, 5);
}

pub async fn a_user_without_results_lists_none(backend: Client) {
    store_results(&backend).await;

    let page = backend
        .client
        .list(&everything_of(&UserId::generate()))
        .await
        .unwrap();

    assert!(page.items.is_empty(), "{:?}", page.items);
    assert_eq!(page.total, 0);
}

pub async fn a_listing_filters_by_agent(backend: Client) {
    let (owner, _, second_agent, newest_first) = store_results(&backend).await;

    let page = backend
        .client
        .list(&ResultFilter {
            agent_id: Some(second_agent.clone()),
            ..everything_of(&owner)
        })
        .await
        .unwrap();

    let expected: Vec<TaskResult> = newest_first
        .into_iter()
        .filter(|result| result.agent_id == second_agent)
        .collect();
    assert_eq!(task_ids(&page.items), task_ids(&expected));
    assert_eq!(page.total, 2);
}

pub async fn a_listing_filters_by_status(backend: Client) {
    let (owner, _, _, newest_first) = store_results(&backend).await;

    let page = backend
        .client
        .list(&ResultFilter {
            status: Some(ResultStatus::Failed),
            ..everything_of(&owner)
        })
        .await
        .unwrap();

    let expected: Vec<TaskResult> = newest_first
        .into_iter()
        .filter(|result| result.status == ResultStatus::Failed)
        .collect();
    assert_eq!(task_ids(&page.items), task_ids(&expected));
    assert_eq!(page.total, 2);
}

pub async fn a_listing_filters_by_agent_and_status_together(backend: Client) {
    let (owner, first_agent, _, newest_first) = store_results(&backend).await;

    let page = backend
        .client
        .list(&ResultFilter {
            agent_id: Some(first_agent.clone()),
            status: Some(ResultStatus::Succeeded),
            ..everything_of(&owner)
        })
        .await
        .unwrap();

    let expected: Vec<TaskResult> = newest_first
        .into_iter()
        .filter(|result| result.agent_id == first_agent && result.status == ResultStatus::Succeeded)
        .collect();
    assert_eq!(task_ids(&page.items), task_ids(&expected));
    assert_eq!(page.total, 1);
}

pub async fn a_listing_page_holds_limit_results_from_offset_and_the_total_of_all_matches(
    backend: Client,
) {
    let (owner, _, _, newest_first) = store_results(&backend).await;

    let page = backend
        .client
        .list(&ResultFilter {
            limit: 2,
            offset: 1,
            ..everything_of(&owner)
        })
        .await
        .unwrap();

    assert_eq!(task_ids(&page.items), task_ids(&newest_first[1..3]));
    assert_eq!(page.total, 5);
}
