//! Publishes the example agents on first start, so a new marketplace has agents to run.

use axum::body::Bytes;
use bazaar_database::StoreError;
use bazaar_domain::{UserId, Username};
use bazaar_gateway::{AgentMetadata, AppState, publish_agent};

/// The account that owns the example agents. Its password hash is not a valid hash, so
/// nobody can log in as it.
const SYSTEM_USERNAME: &str = "bazaar";
const UNUSABLE_PASSWORD_HASH: &str = "!";

/// Publishes every example agent, once: only when the marketplace has no agents at all.
pub(crate) async fn publish_examples(gateway: &AppState) -> anyhow::Result<()> {
    if gateway.agents.count_agents().await? > 0 {
        return Ok(());
    }
    let owner = UserId::generate();
    let username = Username::parse(SYSTEM_USERNAME)?;
    match gateway
        .accounts
        .create_user(&owner, &username, UNUSABLE_PASSWORD_HASH)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            anyhow::bail!(
                "the marketplace is empty but the `{SYSTEM_USERNAME}` account exists; not seeding twice"
            )
        }
        Err(error) => return Err(error.into()),
    }
    for example in bazaar_example_agents::EXAMPLE_AGENTS {
        let metadata = AgentMetadata {
            name: example.name.to_owned(),
            description: example.description.to_owned(),
            version: example.version.to_owned(),
            capabilities: example
                .capabilities
                .iter()
                .map(|tag| (*tag).to_owned())
                .collect(),
            price: Some(serde_json::Value::String(example.price.to_owned())),
        };
        publish_agent(gateway, &owner, &metadata, Bytes::from_static(example.wasm))
            .await
            .map_err(|error| {
                anyhow::anyhow!("example agent `{}`: {}", example.name, error.message)
            })?;
    }
    tracing::info!(
        count = bazaar_example_agents::EXAMPLE_AGENTS.len(),
        "published the example agents"
    );
    Ok(())
}
