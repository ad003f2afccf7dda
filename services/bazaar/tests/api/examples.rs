//! The example agents seeded into a fresh marketplace.

use std::collections::HashSet;

use bazaar_example_agents::EXAMPLE_AGENTS;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{expect_json, spawn_app, string_field};

#[tokio::test]
async fn a_fresh_marketplace_lists_the_eight_example_agents_owned_by_a_system_user() {
    let app = spawn_app().await;
    let (user_id, _) = app.register_user().await;

    let listing = expect_json(app.list_agents(&[("limit", "100")]).await, StatusCode::OK).await;

    assert_eq!(listing["total"], 8, "{listing}");
    let agents = listing["agents"].as_array().unwrap();
    let listed: HashSet<&str> = agents
        .iter()
        .map(|agent| string_field(agent, "name"))
        .collect();
    let expected: HashSet<&str> = EXAMPLE_AGENTS.iter().map(|agent| agent.name).collect();
    assert_eq!(listed, expected);
    let owners: HashSet<&str> = agents
        .iter()
        .map(|agent| string_field(agent, "user_id"))
        .collect();
    assert_eq!(owners.len(), 1, "one system user owns them all: {owners:?}");
    assert!(!owners.contains(user_id.as_str()));

    for example in EXAMPLE_AGENTS {
        let agent: &Value = agents
            .iter()
            .find(|agent| agent["name"] == example.name)
            .unwrap();
        assert_eq!(
            agent["description"], example.description,
            "{}",
            example.name
        );
        assert_eq!(agent["version"], example.version, "{}", example.name);
        assert_eq!(
            agent["capabilities"],
            json!(example.capabilities),
            "{}",
            example.name
        );
        assert_eq!(agent["status"], "active", "{}", example.name);
        assert_eq!(
            agent["price"].as_f64(),
            Some(example.price.parse::<f64>().unwrap()),
            "{}",
            example.name
        );
        assert_eq!(
            agent["binary_hash"],
            bazaar_domain::Sha256::digest(example.wasm).to_string(),
            "{}",
            example.name
        );
        assert_eq!(
            agent["binary_size"].as_u64(),
            Some(example.wasm.len() as u64),
            "{}",
            example.name
        );
    }
}

#[tokio::test]
async fn every_example_produces_its_documented_output_through_the_api() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    for example_agent in EXAMPLE_AGENTS {
        let agent_id = app.example_agent_id(example_agent.name).await;
        for example in example_agent.examples {
            let result = app.execute_ok(&token, &agent_id, example.input).await;
            let context = format!("{} on {:?}: {result}", example_agent.name, example.input);
            assert_eq!(result["exit_code"], example.expected_exit_code, "{context}");
            assert_eq!(result["stdout"], example.expected_stdout, "{context}");
            let expected_status = if example.expected_exit_code == 0 {
                "succeeded"
            } else {
                "failed"
            };
            assert_eq!(result["status"], expected_status, "{context}");
            assert_eq!(result["error"], Value::Null, "{context}");
        }
    }
}

#[tokio::test]
async fn restarting_on_the_same_data_does_not_seed_the_examples_twice() {
    let data_dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let app = bazaar::start(bazaar::config::Config::embedded(data_dir.path()))
            .await
            .unwrap();
        let url = format!("http://{}/api/v1/agents", app.http_address());
        let listing: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(listing["total"], 8, "{listing}");
        app.shutdown().await;
    }
}
