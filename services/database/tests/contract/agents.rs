//! `AgentStore`: inserting, reading, counting and changing agents.

use bazaar_database::StoreError;
use bazaar_domain::{Agent, AgentChanges, AgentId, AgentStatus, NewAgent, Version};
use chrono::{TimeDelta, Utc};

use crate::backends::Backend;
use crate::fixtures::{capabilities, cents, create_user, new_agent, publish, publish_named};

pub async fn an_inserted_agent_is_returned_as_stored_active_and_without_tasks(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let agent = NewAgent {
        description: "Formats JSON documents".to_owned(),
        capabilities: capabilities(&["json", "formatting"]),
        price: cents(250),
        ..new_agent(&owner, "json-format")
    };
    let before = Utc::now() - TimeDelta::seconds(1);

    let stored = publish(&backend, agent.clone()).await;

    let after = Utc::now() + TimeDelta::seconds(1);
    assert_eq!(stored.id, agent.id);
    assert_eq!(stored.owner, owner);
    assert_eq!(stored.name, agent.name);
    assert_eq!(stored.description, "Formats JSON documents");
    assert_eq!(stored.version, agent.version);
    assert_eq!(stored.capabilities.to_strings(), ["json", "formatting"]);
    assert_eq!(stored.status, AgentStatus::Active);
    assert_eq!(stored.price, cents(250));
    assert_eq!(stored.binary_url, agent.binary_url);
    assert_eq!(stored.binary_hash, agent.binary_hash);
    assert_eq!(stored.binary_size, 1024);
    assert_eq!(stored.tasks_completed, 0);
    assert_eq!(stored.rating, 0.0);
    assert!(
        before <= stored.created_at && stored.created_at <= after,
        "created_at {} is not the time of insertion",
        stored.created_at
    );
    assert!(stored.created_at <= stored.updated_at);
}

pub async fn an_inserted_agent_reads_back_as_it_was_returned(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let inserted = publish_named(&backend, &owner, "json-format").await;

    let read = backend.agents.get_agent(&inserted.id).await.unwrap();

    assert_eq!(read, Some(inserted));
}

pub async fn an_unknown_agent_is_none(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    publish_named(&backend, &owner, "json-format").await;

    let read = backend
        .agents
        .get_agent(&AgentId::generate())
        .await
        .unwrap();

    assert_eq!(read, None);
}

pub async fn publishing_the_same_name_and_version_twice_is_a_conflict(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let first = publish_named(&backend, &owner, "json-format").await;

    let second = backend
        .agents
        .insert_agent(&new_agent(&owner, "json-format"))
        .await;

    assert!(
        matches!(second, Err(StoreError::Conflict(_))),
        "expected a conflict, got {second:?}"
    );
    assert_eq!(backend.agents.count_agents().await.unwrap(), 1);
    assert!(backend.agents.get_agent(&first.id).await.unwrap().is_some());
}

pub async fn a_new_version_of_the_same_name_is_not_a_conflict(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    publish_named(&backend, &owner, "json-format").await;

    let second = backend
        .agents
        .insert_agent(&NewAgent {
            version: Version::parse("1.0.1").unwrap(),
            ..new_agent(&owner, "json-format")
        })
        .await;

    assert!(second.is_ok(), "{second:?}");
    assert_eq!(backend.agents.count_agents().await.unwrap(), 2);
}

pub async fn another_owner_may_publish_the_same_name_and_version(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    let grace = create_user(&backend, "grace").await;
    publish_named(&backend, &ada, "json-format").await;

    let graces = backend
        .agents
        .insert_agent(&new_agent(&grace, "json-format"))
        .await;

    assert_eq!(graces.expect("no conflict across owners").owner, grace);
    assert_eq!(backend.agents.count_agents().await.unwrap(), 2);
}

pub async fn agents_of_every_status_are_counted(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    assert_eq!(backend.agents.count_agents().await.unwrap(), 0);
    publish_named(&backend, &owner, "json-format").await;
    let retired = publish_named(&backend, &owner, "csv-parse").await;
    backend
        .agents
        .update_agent(
            &retired.id,
            &AgentChanges {
                status: Some(AgentStatus::Inactive),
                ..AgentChanges::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(backend.agents.count_agents().await.unwrap(), 2);
}

/// Publishes an agent with a value in every changeable field, for the update tests.
async fn publish_changeable(backend: &Backend) -> Agent {
    let owner = create_user(backend, "ada").await;
    publish(
        backend,
        NewAgent {
            description: "Formats JSON documents".to_owned(),
            capabilities: capabilities(&["json"]),
            price: cents(5),
            ..new_agent(&owner, "json-format")
        },
    )
    .await
}

/// Applies `changes` to `original`, then checks that the agent became `expected` (apart from
/// `updated_at`, which must not go back) both in the answer and when read again.
async fn assert_update(
    backend: &Backend,
    original: &Agent,
    changes: AgentChanges,
    expected: Agent,
) {
    let updated = backend
        .agents
        .update_agent(&original.id, &changes)
        .await
        .unwrap()
        .expect("the agent exists");

    assert!(updated.updated_at >= original.updated_at);
    assert_eq!(
        updated,
        Agent {
            updated_at: updated.updated_at,
            ..expected
        }
    );
    let read = backend.agents.get_agent(&original.id).await.unwrap();
    assert_eq!(read, Some(updated));
}

pub async fn updating_the_description_changes_only_the_description(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let changes = AgentChanges {
        description: Some("Pretty-prints JSON".to_owned()),
        ..AgentChanges::default()
    };

    let expected = Agent {
        description: "Pretty-prints JSON".to_owned(),
        ..original.clone()
    };
    assert_update(&backend, &original, changes, expected).await;
}

pub async fn updating_the_capabilities_changes_only_the_capabilities(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let changes = AgentChanges {
        capabilities: Some(capabilities(&["yaml", "json"])),
        ..AgentChanges::default()
    };

    let expected = Agent {
        capabilities: capabilities(&["yaml", "json"]),
        ..original.clone()
    };
    assert_update(&backend, &original, changes, expected).await;
}

pub async fn updating_the_price_changes_only_the_price(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let changes = AgentChanges {
        price: Some(cents(1999)),
        ..AgentChanges::default()
    };

    let expected = Agent {
        price: cents(1999),
        ..original.clone()
    };
    assert_update(&backend, &original, changes, expected).await;
}

pub async fn updating_the_status_changes_only_the_status(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let changes = AgentChanges {
        status: Some(AgentStatus::Inactive),
        ..AgentChanges::default()
    };

    let expected = Agent {
        status: AgentStatus::Inactive,
        ..original.clone()
    };
    assert_update(&backend, &original, changes, expected).await;
}

pub async fn updating_every_field_at_once_changes_them_all(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let changes = AgentChanges {
        description: Some("Retired".to_owned()),
        capabilities: Some(capabilities(&[])),
        price: Some(cents(0)),
        status: Some(AgentStatus::Inactive),
    };

    let expected = Agent {
        description: "Retired".to_owned(),
        capabilities: capabilities(&[]),
        price: cents(0),
        status: AgentStatus::Inactive,
        ..original.clone()
    };
    assert_update(&backend, &original, changes, expected).await;
}

pub async fn an_update_without_changes_leaves_the_agent_as_it_was(backend: Backend) {
    let original = publish_changeable(&backend).await;

    assert_update(
        &backend,
        &original,
        AgentChanges::default(),
        original.clone(),
    )
    .await;
}

pub async fn an_inactive_agent_can_be_made_active_again(backend: Backend) {
    let original = publish_changeable(&backend).await;
    let inactive = AgentChanges {
        status: Some(AgentStatus::Inactive),
        ..AgentChanges::default()
    };
    backend
        .agents
        .update_agent(&original.id, &inactive)
        .await
        .unwrap();

    let active = AgentChanges {
        status: Some(AgentStatus::Active),
        ..AgentChanges::default()
    };

    assert_update(&backend, &original, active, original.clone()).await;
}

pub async fn updating_an_unknown_agent_is_none_and_changes_nothing(backend: Backend) {
    let original = publish_changeable(&backend).await;

    let updated = backend
        .agents
        .update_agent(
            &AgentId::generate(),
            &AgentChanges {
                description: Some("Hijacked".to_owned()),
                ..AgentChanges::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(updated, None);
    let read = backend.agents.get_agent(&original.id).await.unwrap();
    assert_eq!(read, Some(original));
}
