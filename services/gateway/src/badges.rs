//! Badges for agents published before modules were analysed: at start-up, each such agent's
//! binary is fetched, compiled (or found in the sandbox's caches) and its imports recorded as
//! badges. Idempotent, so several gateways may run it at once.

use std::sync::Arc;

use bazaar_blobs::BlobStore;
use bazaar_database::AgentStore;
use bazaar_sandbox::Sandbox;
use tokio_util::sync::CancellationToken;

/// Agents read at a time.
const PAGE_SIZE: u32 = 100;

/// Analyses every agent without badges until none is left or `stop` is cancelled; returns
/// how many were badged. An agent whose binary is missing or does not compile keeps no
/// badges (and is logged): it is not looked at again in this run.
pub async fn badge_unanalysed_agents(
    agents: Arc<dyn AgentStore>,
    blobs: Arc<dyn BlobStore>,
    sandbox: Sandbox,
    stop: CancellationToken,
) -> u64 {
    let mut badged = 0;
    let mut skipped = std::collections::HashSet::new();
    loop {
        if stop.is_cancelled() {
            break;
        }
        let page = match agents
            .agents_without_badges(PAGE_SIZE + skipped.len() as u32)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%error, "failed to list agents without badges; trying at the next start");
                break;
            }
        };
        let pending: Vec<_> = page
            .into_iter()
            .filter(|agent| !skipped.contains(&agent.id))
            .collect();
        if pending.is_empty() {
            break;
        }
        for agent in pending {
            if stop.is_cancelled() {
                break;
            }
            let analysed = async {
                let binary = blobs
                    .get_agent_binary(&agent.binary_hash)
                    .await
                    .map_err(|error| format!("its binary could not be fetched: {error}"))?;
                let prepared = sandbox
                    .prepare(&agent.binary_hash, binary)
                    .await
                    .map_err(|error| format!("its binary does not compile: {error}"))?;
                Ok::<_, String>(prepared.badges())
            }
            .await;
            match analysed {
                Ok(badges) => match agents.set_badges(&agent.id, &badges).await {
                    Ok(()) => badged += 1,
                    Err(error) => {
                        tracing::warn!(agent_id = %agent.id, %error, "failed to record an agent's badges");
                        skipped.insert(agent.id);
                    }
                },
                Err(reason) => {
                    tracing::warn!(agent_id = %agent.id, %reason, "an agent's badges could not be read");
                    skipped.insert(agent.id);
                }
            }
        }
    }
    if badged > 0 {
        tracing::info!(
            badged,
            "badged the agents published before modules were analysed"
        );
    }
    badged
}
