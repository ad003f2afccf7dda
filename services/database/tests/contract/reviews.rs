//! Reviews: one per user and agent, replaced when posted again; the agent's rating is their
//! mean and its rating count their number, so that listings sort and filter on them.

use bazaar_domain::{Agent, AgentFilter, AgentSort, NewReview, UserId};

use crate::backends::Backend;
use crate::fixtures::{at, create_user, everything, publish_named};

fn review(agent: &Agent, user: &UserId, rating: u8, text: &str, seconds: i64) -> NewReview {
    NewReview {
        agent_id: agent.id.clone(),
        user_id: user.clone(),
        rating,
        text: text.to_owned(),
        at: at(seconds),
    }
}

async fn agent_now(backend: &Backend, agent: &Agent) -> Agent {
    backend.agents.get_agent(&agent.id).await.unwrap().unwrap()
}

pub async fn an_unreviewed_agent_has_no_rating(backend: Backend) {
    let author = create_user(&backend, "author").await;
    let agent = publish_named(&backend, &author, "json-format").await;
    assert_eq!((agent.rating, agent.rating_count), (0.0, 0));
    let page = backend.agents.list_reviews(&agent.id, 10, 0).await.unwrap();
    assert_eq!((page.items.len(), page.total), (0, 0));
}

pub async fn a_review_is_stored_with_its_author_and_rates_the_agent(backend: Backend) {
    let author = create_user(&backend, "author").await;
    let ada = create_user(&backend, "ada").await;
    let agent = publish_named(&backend, &author, "json-format").await;

    let stored = backend
        .agents
        .put_review(&review(&agent, &ada, 4, "solid", 10))
        .await
        .unwrap();

    assert_eq!(stored.username, "ada");
    assert_eq!((stored.rating, stored.text.as_str()), (4, "solid"));
    assert_eq!((stored.created_at, stored.updated_at), (at(10), at(10)));
    let rated = agent_now(&backend, &agent).await;
    assert_eq!((rated.rating, rated.rating_count), (4.0, 1));
}

pub async fn posting_again_replaces_the_review_and_keeps_when_it_was_first_posted(
    backend: Backend,
) {
    let author = create_user(&backend, "author").await;
    let ada = create_user(&backend, "ada").await;
    let agent = publish_named(&backend, &author, "json-format").await;
    backend
        .agents
        .put_review(&review(&agent, &ada, 1, "broken", 10))
        .await
        .unwrap();

    let replaced = backend
        .agents
        .put_review(&review(&agent, &ada, 5, "fixed now", 20))
        .await
        .unwrap();

    assert_eq!((replaced.rating, replaced.text.as_str()), (5, "fixed now"));
    assert_eq!((replaced.created_at, replaced.updated_at), (at(10), at(20)));
    let rated = agent_now(&backend, &agent).await;
    assert_eq!((rated.rating, rated.rating_count), (5.0, 1));
    let page = backend.agents.list_reviews(&agent.id, 10, 0).await.unwrap();
    assert_eq!(page.total, 1);
}

pub async fn the_rating_is_the_mean_to_two_decimals(backend: Backend) {
    let author = create_user(&backend, "author").await;
    let agent = publish_named(&backend, &author, "json-format").await;
    for (index, rating) in [5, 4, 4].into_iter().enumerate() {
        let reviewer = create_user(&backend, &format!("reviewer{index}")).await;
        backend
            .agents
            .put_review(&review(&agent, &reviewer, rating, "", index as i64))
            .await
            .unwrap();
    }
    let rated = agent_now(&backend, &agent).await;
    assert_eq!((rated.rating, rated.rating_count), (4.33, 3));
}

pub async fn reviews_page_newest_first_with_their_total(backend: Backend) {
    let author = create_user(&backend, "author").await;
    let agent = publish_named(&backend, &author, "json-format").await;
    let mut reviewers = Vec::new();
    for index in 0..3 {
        let reviewer = create_user(&backend, &format!("reviewer{index}")).await;
        backend
            .agents
            .put_review(&review(&agent, &reviewer, 3, &format!("r{index}"), index))
            .await
            .unwrap();
        reviewers.push(reviewer);
    }

    let first = backend.agents.list_reviews(&agent.id, 2, 0).await.unwrap();
    let second = backend.agents.list_reviews(&agent.id, 2, 2).await.unwrap();

    assert_eq!((first.total, second.total), (3, 3));
    let texts: Vec<&str> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|review| review.text.as_str())
        .collect();
    assert_eq!(texts, ["r2", "r1", "r0"]);
}

pub async fn listings_sort_and_filter_by_the_reviews_rating(backend: Backend) {
    let author = create_user(&backend, "author").await;
    let reviewer = create_user(&backend, "ada").await;
    let good = publish_named(&backend, &author, "good").await;
    let poor = publish_named(&backend, &author, "poor").await;
    let unrated = publish_named(&backend, &author, "unrated").await;
    for (agent, rating) in [(&good, 5), (&poor, 2)] {
        backend
            .agents
            .put_review(&review(agent, &reviewer, rating, "", 1))
            .await
            .unwrap();
    }

    let by_rating = backend
        .agents
        .list_agents(&AgentFilter {
            sort: AgentSort::Rating,
            ..everything()
        })
        .await
        .unwrap();
    let order: Vec<_> = by_rating.items.iter().map(|agent| &agent.id).collect();
    assert_eq!(order, [&good.id, &poor.id, &unrated.id]);
    let well_rated = backend
        .agents
        .list_agents(&AgentFilter {
            min_rating: Some(4.0),
            ..everything()
        })
        .await
        .unwrap();
    assert_eq!(well_rated.total, 1);
    assert_eq!(well_rated.items[0].id, good.id);
    assert_eq!(well_rated.items[0].rating_count, 1);
}
