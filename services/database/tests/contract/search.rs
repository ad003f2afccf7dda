//! `AgentStore::search_agents`: ranked full-text search over active agents.

use bazaar_domain::{AgentChanges, AgentStatus, NewAgent};

use crate::backends::Backend;
use crate::fixtures::{capabilities, create_user, names, new_agent, publish};

/// The names `query` finds on its first page of 20.
async fn found(backend: &Backend, query: &str) -> Vec<String> {
    let page = backend
        .agents
        .search_agents(query, 20, 0)
        .await
        .unwrap_or_else(|error| panic!("searching for {query:?} failed: {error}"));
    names(&page.items).into_iter().map(str::to_owned).collect()
}

/// `json-format`, which formats JSON, and `csv-parse`, which reads spreadsheets.
async fn publish_two(backend: &Backend) {
    let owner = create_user(backend, "ada").await;
    let json = NewAgent {
        description: "Pretty prints documents".to_owned(),
        capabilities: capabilities(&["formatting"]),
        ..new_agent(&owner, "json-format")
    };
    let csv = NewAgent {
        description: "Reads spreadsheets exported as comma separated values".to_owned(),
        capabilities: capabilities(&["tabular"]),
        ..new_agent(&owner, "csv-parse")
    };
    publish(backend, json).await;
    publish(backend, csv).await;
}

pub async fn a_word_prefix_finds_the_agent(backend: Backend) {
    publish_two(&backend).await;

    assert_eq!(found(&backend, "jso").await, ["json-format"]);
    assert_eq!(found(&backend, "spread").await, ["csv-parse"]);
}

pub async fn search_ignores_case(backend: Backend) {
    publish_two(&backend).await;

    assert_eq!(found(&backend, "JSON").await, ["json-format"]);
    assert_eq!(found(&backend, "Spreadsheets").await, ["csv-parse"]);
}

pub async fn search_matches_names_descriptions_and_capabilities(backend: Backend) {
    publish_two(&backend).await;

    assert_eq!(found(&backend, "format").await, ["json-format"]);
    assert_eq!(found(&backend, "comma").await, ["csv-parse"]);
    assert_eq!(found(&backend, "tabular").await, ["csv-parse"]);
}

pub async fn every_word_of_the_query_must_match(backend: Backend) {
    publish_two(&backend).await;

    assert_eq!(found(&backend, "json pretty").await, ["json-format"]);
    assert!(found(&backend, "json spreadsheets").await.is_empty());
    assert!(found(&backend, "json yaml").await.is_empty());
}

pub async fn a_name_match_ranks_above_a_description_only_match(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    // Published first, so an unranked search would list it first.
    let mentions_json = NewAgent {
        description: "Text utilities that also accept json input".to_owned(),
        ..new_agent(&owner, "text-tools")
    };
    let named_json = NewAgent {
        description: "Pretty prints documents".to_owned(),
        ..new_agent(&owner, "json-format")
    };
    publish(&backend, mentions_json).await;
    publish(&backend, named_json).await;

    assert_eq!(found(&backend, "json").await, ["json-format", "text-tools"]);
}

pub async fn inactive_agents_are_not_found_until_active_again(backend: Backend) {
    publish_two(&backend).await;
    let json = backend
        .agents
        .search_agents("json", 20, 0)
        .await
        .unwrap()
        .items
        .remove(0);
    let set_status = |status| AgentChanges {
        status: Some(status),
        ..AgentChanges::default()
    };

    backend
        .agents
        .update_agent(&json.id, &set_status(AgentStatus::Inactive))
        .await
        .unwrap();
    let while_inactive = backend.agents.search_agents("json", 20, 0).await.unwrap();
    assert!(while_inactive.items.is_empty());
    assert_eq!(while_inactive.total, 0);

    backend
        .agents
        .update_agent(&json.id, &set_status(AgentStatus::Active))
        .await
        .unwrap();
    assert_eq!(found(&backend, "json").await, ["json-format"]);
}

pub async fn query_syntax_and_punctuation_are_taken_as_plain_words(backend: Backend) {
    publish_two(&backend).await;

    for query in [
        r#""json" OR *"#,
        "NEAR(",
        "NEAR(json csv)",
        "json AND",
        "NOT",
        "*",
        "\"",
        "(",
        "-",
        "^json",
        "name:json",
        "{name description}: json",
        "json'; drop table agents; --",
        "%_%",
    ] {
        let searched = backend.agents.search_agents(query, 20, 0).await;
        assert!(
            searched.is_ok(),
            "searching for {query:?} failed: {searched:?}"
        );
    }
    for query in [
        "json*", "-json", "(json)", "\"json\"", "json!", "^json", "json:",
    ] {
        assert_eq!(
            found(&backend, query).await,
            ["json-format"],
            "query {query:?}"
        );
    }
    assert_eq!(backend.agents.count_agents().await.unwrap(), 2);
}

pub async fn a_query_without_words_finds_nothing(backend: Backend) {
    publish_two(&backend).await;

    for query in ["", "   ", "*", "--"] {
        let page = backend.agents.search_agents(query, 20, 0).await.unwrap();
        assert!(page.items.is_empty(), "query {query:?}");
        assert_eq!(page.total, 0, "query {query:?}");
    }
}

pub async fn an_updated_description_is_searchable_and_its_old_words_are_not(backend: Backend) {
    publish_two(&backend).await;
    let csv = backend
        .agents
        .search_agents("csv", 20, 0)
        .await
        .unwrap()
        .items
        .remove(0);

    let changes = AgentChanges {
        description: Some("Converts ledgers to invoices".to_owned()),
        ..AgentChanges::default()
    };
    backend
        .agents
        .update_agent(&csv.id, &changes)
        .await
        .unwrap();

    assert_eq!(found(&backend, "ledger").await, ["csv-parse"]);
    assert!(found(&backend, "spreadsheets").await.is_empty());
    assert_eq!(
        found(&backend, "csv").await,
        ["csv-parse"],
        "the name still matches"
    );
}

pub async fn updated_capabilities_are_searchable_and_the_old_ones_are_not(backend: Backend) {
    publish_two(&backend).await;
    let csv = backend
        .agents
        .search_agents("csv", 20, 0)
        .await
        .unwrap()
        .items
        .remove(0);

    let changes = AgentChanges {
        capabilities: Some(capabilities(&["accounting"])),
        ..AgentChanges::default()
    };
    backend
        .agents
        .update_agent(&csv.id, &changes)
        .await
        .unwrap();

    assert_eq!(found(&backend, "accounting").await, ["csv-parse"]);
    assert!(found(&backend, "tabular").await.is_empty());
}

pub async fn search_pages_with_limit_and_offset_and_counts_every_match(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    for name in [
        "json-one",
        "json-two",
        "json-three",
        "json-four",
        "json-five",
    ] {
        publish(&backend, new_agent(&owner, name)).await;
    }
    publish(&backend, new_agent(&owner, "csv-parse")).await;

    let first = backend.agents.search_agents("json", 2, 0).await.unwrap();
    let second = backend.agents.search_agents("json", 2, 2).await.unwrap();
    let last = backend.agents.search_agents("json", 2, 4).await.unwrap();
    let beyond = backend.agents.search_agents("json", 2, 6).await.unwrap();

    assert_eq!(first.items.len(), 2);
    assert_eq!(second.items.len(), 2);
    assert_eq!(last.items.len(), 1);
    assert!(beyond.items.is_empty());
    let mut seen: Vec<&str> = [&first, &second, &last]
        .iter()
        .flat_map(|page| names(&page.items))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "json-five",
            "json-four",
            "json-one",
            "json-three",
            "json-two"
        ],
        "pages neither repeat nor skip an agent"
    );
    for page in [&first, &second, &last, &beyond] {
        assert_eq!(page.total, 5);
    }
}
