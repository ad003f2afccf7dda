//! `AgentStore::list_agents`: every filter, every order, and paging.

use bazaar_domain::{
    Agent, AgentChanges, AgentFilter, AgentSort, AgentStatus, Badge, Capability, NewAgent, UserId,
};

use crate::backends::Backend;
use crate::fixtures::{
    capabilities, cents, create_user, everything, names, new_agent, publish, publish_named,
    result_of,
};

/// Lists with `filter` and returns the names of the page, checking that `total` counts
/// exactly the page when it holds every match.
async fn listed_names(backend: &Backend, filter: AgentFilter) -> Vec<String> {
    let page = backend.agents.list_agents(&filter).await.unwrap();
    assert_eq!(
        page.total,
        page.items.len() as u64,
        "the total counts the matches"
    );
    names(&page.items).into_iter().map(str::to_owned).collect()
}

/// Five agents with distinct capabilities and prices, published in this order by `ada`
/// except `delta`, which is `grace`'s.
async fn publish_catalogue(backend: &Backend) -> (UserId, UserId, Vec<Agent>) {
    let ada = create_user(backend, "ada").await;
    let grace = create_user(backend, "grace").await;
    let mut agents = Vec::new();
    for (owner, name, tags, price) in [
        (&ada, "alpha", &["json", "text"][..], 100),
        (&ada, "Bravo", &["text"][..], 300),
        (&ada, "charlie", &["json"][..], 200),
        (&grace, "delta", &["csv"][..], 500),
        (&ada, "echo", &[][..], 0),
    ] {
        let agent = NewAgent {
            capabilities: capabilities(tags),
            price: cents(price),
            ..new_agent(owner, name)
        };
        agents.push(publish(backend, agent).await);
    }
    (ada, grace, agents)
}

pub async fn listing_filters_by_exact_capability(backend: Backend) {
    publish_catalogue(&backend).await;
    let with = |tag: &str| AgentFilter {
        capability: Some(Capability::parse(tag).unwrap()),
        sort: AgentSort::Name,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, with("json")).await,
        ["alpha", "charlie"]
    );
    assert_eq!(
        listed_names(&backend, with("text")).await,
        ["alpha", "Bravo"]
    );
    assert!(listed_names(&backend, with("jso")).await.is_empty());
    assert!(listed_names(&backend, with("yaml")).await.is_empty());
}

pub async fn listing_filters_by_minimum_price_inclusively(backend: Backend) {
    publish_catalogue(&backend).await;

    let filter = AgentFilter {
        min_price: Some(cents(200)),
        sort: AgentSort::PriceAsc,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, filter).await,
        ["charlie", "Bravo", "delta"]
    );
}

pub async fn listing_filters_by_maximum_price_inclusively(backend: Backend) {
    publish_catalogue(&backend).await;

    let filter = AgentFilter {
        max_price: Some(cents(200)),
        sort: AgentSort::PriceAsc,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, filter).await,
        ["echo", "alpha", "charlie"]
    );
}

pub async fn listing_filters_by_a_price_range(backend: Backend) {
    publish_catalogue(&backend).await;

    let filter = AgentFilter {
        min_price: Some(cents(100)),
        max_price: Some(cents(300)),
        sort: AgentSort::PriceAsc,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, filter).await,
        ["alpha", "charlie", "Bravo"]
    );
}

pub async fn listing_filters_by_minimum_rating_inclusively(backend: Backend) {
    let (_, _, agents) = publish_catalogue(&backend).await;
    for (agent, rating) in agents.iter().zip([4.5, 3.0, 5.0, 3.9, 0.0]) {
        backend.seeding.set_rating(&agent.id, rating).await;
    }

    let filter = AgentFilter {
        min_rating: Some(4.0),
        sort: AgentSort::Name,
        ..everything()
    };
    assert_eq!(listed_names(&backend, filter).await, ["alpha", "charlie"]);

    let filter = AgentFilter {
        min_rating: Some(3.0),
        sort: AgentSort::Name,
        ..everything()
    };
    assert_eq!(
        listed_names(&backend, filter).await,
        ["alpha", "Bravo", "charlie", "delta"]
    );
}

pub async fn listing_filters_by_status(backend: Backend) {
    let (_, _, agents) = publish_catalogue(&backend).await;
    for retired in [&agents[0], &agents[3]] {
        let changes = AgentChanges {
            status: Some(AgentStatus::Inactive),
            ..AgentChanges::default()
        };
        backend
            .agents
            .update_agent(&retired.id, &changes)
            .await
            .unwrap();
    }
    let with = |status| AgentFilter {
        status: Some(status),
        sort: AgentSort::Name,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, with(AgentStatus::Active)).await,
        ["Bravo", "charlie", "echo"]
    );
    assert_eq!(
        listed_names(&backend, with(AgentStatus::Inactive)).await,
        ["alpha", "delta"]
    );
    let unfiltered = AgentFilter {
        sort: AgentSort::Name,
        ..everything()
    };
    assert_eq!(listed_names(&backend, unfiltered).await.len(), 5);
}

pub async fn listing_filters_by_owner(backend: Backend) {
    let (ada, grace, _) = publish_catalogue(&backend).await;
    let nobody = create_user(&backend, "nobody").await;
    let of = |owner: &UserId| AgentFilter {
        owner: Some(owner.clone()),
        sort: AgentSort::Name,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, of(&ada)).await,
        ["alpha", "Bravo", "charlie", "echo"]
    );
    assert_eq!(listed_names(&backend, of(&grace)).await, ["delta"]);
    assert!(listed_names(&backend, of(&nobody)).await.is_empty());
}

pub async fn listing_applies_every_filter_together(backend: Backend) {
    let (ada, _, _) = publish_catalogue(&backend).await;

    let filter = AgentFilter {
        capability: Some(Capability::parse("json").unwrap()),
        min_price: Some(cents(150)),
        status: Some(AgentStatus::Active),
        owner: Some(ada),
        min_rating: Some(0.0),
        ..everything()
    };

    assert_eq!(listed_names(&backend, filter).await, ["charlie"]);
}

/// The names of the whole catalogue in `sort` order.
async fn sorted_names(backend: &Backend, sort: AgentSort) -> Vec<String> {
    listed_names(
        backend,
        AgentFilter {
            sort,
            ..everything()
        },
    )
    .await
}

pub async fn listing_shows_the_newest_first_by_default(backend: Backend) {
    publish_catalogue(&backend).await;

    assert_eq!(
        sorted_names(&backend, AgentSort::default()).await,
        ["echo", "delta", "charlie", "Bravo", "alpha"]
    );
}

pub async fn listing_by_oldest_shows_the_first_published_first(backend: Backend) {
    publish_catalogue(&backend).await;

    assert_eq!(
        sorted_names(&backend, AgentSort::Oldest).await,
        ["alpha", "Bravo", "charlie", "delta", "echo"]
    );
}

pub async fn listing_by_name_goes_from_a_to_z_ignoring_case(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    for name in ["delta", "Charlie", "alpha", "bravo"] {
        publish(&backend, new_agent(&owner, name)).await;
    }

    assert_eq!(
        sorted_names(&backend, AgentSort::Name).await,
        ["alpha", "bravo", "Charlie", "delta"]
    );
}

pub async fn listing_by_price_ascending_shows_the_cheapest_first(backend: Backend) {
    publish_catalogue(&backend).await;

    assert_eq!(
        sorted_names(&backend, AgentSort::PriceAsc).await,
        ["echo", "alpha", "charlie", "Bravo", "delta"]
    );
}

pub async fn listing_by_price_descending_shows_the_dearest_first(backend: Backend) {
    publish_catalogue(&backend).await;

    assert_eq!(
        sorted_names(&backend, AgentSort::PriceDesc).await,
        ["delta", "Bravo", "charlie", "alpha", "echo"]
    );
}

pub async fn listing_by_rating_shows_the_best_rated_first(backend: Backend) {
    let (_, _, agents) = publish_catalogue(&backend).await;
    for (agent, rating) in agents.iter().zip([4.5, 3.0, 5.0, 3.9, 0.0]) {
        backend.seeding.set_rating(&agent.id, rating).await;
    }

    assert_eq!(
        sorted_names(&backend, AgentSort::Rating).await,
        ["charlie", "alpha", "delta", "Bravo", "echo"]
    );
}

pub async fn listing_by_popularity_shows_the_most_used_first(backend: Backend) {
    let (ada, _, agents) = publish_catalogue(&backend).await;
    let mut results = Vec::new();
    for (agent, runs) in agents.iter().zip([1, 0, 3, 2, 0]) {
        for run in 0..runs {
            results.push(result_of(agent, &ada, run));
        }
    }
    backend.results.insert_results(&results).await.unwrap();

    let page = backend
        .agents
        .list_agents(&AgentFilter {
            sort: AgentSort::Popular,
            limit: 3,
            ..AgentFilter::default()
        })
        .await
        .unwrap();

    assert_eq!(names(&page.items), ["charlie", "delta", "alpha"]);
    let completed: Vec<i64> = page
        .items
        .iter()
        .map(|agent| agent.tasks_completed)
        .collect();
    assert_eq!(completed, [3, 2, 1]);
}

pub async fn a_listing_page_holds_limit_agents_from_offset_and_the_total_of_all_matches(
    backend: Backend,
) {
    publish_catalogue(&backend).await;
    let page_of = |limit, offset| AgentFilter {
        sort: AgentSort::Oldest,
        limit,
        offset,
        ..AgentFilter::default()
    };

    let first = backend.agents.list_agents(&page_of(2, 0)).await.unwrap();
    let second = backend.agents.list_agents(&page_of(2, 2)).await.unwrap();
    let last = backend.agents.list_agents(&page_of(2, 4)).await.unwrap();
    let beyond = backend.agents.list_agents(&page_of(2, 10)).await.unwrap();

    assert_eq!(names(&first.items), ["alpha", "Bravo"]);
    assert_eq!(names(&second.items), ["charlie", "delta"]);
    assert_eq!(names(&last.items), ["echo"]);
    assert!(beyond.items.is_empty());
    for page in [first, second, last, beyond] {
        assert_eq!(page.total, 5);
    }
}

pub async fn the_total_of_a_filtered_listing_counts_only_the_matches(backend: Backend) {
    publish_catalogue(&backend).await;

    let page = backend
        .agents
        .list_agents(&AgentFilter {
            capability: Some(Capability::parse("text").unwrap()),
            limit: 1,
            ..AgentFilter::default()
        })
        .await
        .unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(page.total, 2);
}

pub async fn listing_filters_by_badge_and_agents_keep_their_badges(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let pure = publish_named(&backend, &owner, "pure").await;
    let timed = publish(
        &backend,
        NewAgent {
            badges: vec![Badge::Clock, Badge::Stdio],
            ..new_agent(&owner, "timed")
        },
    )
    .await;
    assert_eq!(pure.badges, Some(vec![Badge::Stdio, Badge::Deterministic]));
    assert_eq!(timed.badges, Some(vec![Badge::Clock, Badge::Stdio]));
    let with = |badge: Badge| AgentFilter {
        badge: Some(badge),
        sort: AgentSort::Name,
        ..everything()
    };

    assert_eq!(
        listed_names(&backend, with(Badge::Deterministic)).await,
        ["pure"]
    );
    assert_eq!(listed_names(&backend, with(Badge::Clock)).await, ["timed"]);
    assert_eq!(
        listed_names(&backend, with(Badge::Stdio)).await,
        ["pure", "timed"]
    );
    assert!(
        listed_names(&backend, with(Badge::Sockets))
            .await
            .is_empty()
    );
}
