//! Valid records with plain defaults, so that each test spells out only what it is about.

use bazaar_domain::{
    Agent, AgentFilter, AgentId, Badge, Capabilities, NewAgent, Price, ResultStatus, Sha256,
    TaskId, TaskResult, UserId, Username, Version,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::backends::Backend;

/// A fixed instant plus `seconds`: result and task times that compare exactly after a round
/// trip through any database.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

pub fn username(raw: &str) -> Username {
    Username::parse(raw).expect("a valid username")
}

pub fn capabilities(tags: &[&str]) -> Capabilities {
    Capabilities::parse(tags).expect("valid capabilities")
}

pub fn cents(cents: i64) -> Price {
    Price::from_cents(cents).expect("a valid price")
}

/// Creates a user and returns its id.
pub async fn create_user(backend: &Backend, name: &str) -> UserId {
    let id = UserId::generate();
    backend
        .accounts
        .create_user(
            &id,
            &username(name),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        )
        .await
        .expect("user is created");
    id
}

/// An agent named `name`, version 1.0.0, with no capabilities, free, and a description that
/// shares no word with any name used in the tests.
pub fn new_agent(owner: &UserId, name: &str) -> NewAgent {
    let binary_hash = Sha256::digest(name.as_bytes());
    NewAgent {
        id: AgentId::generate(),
        owner: owner.clone(),
        name: bazaar_domain::AgentName::parse(name).expect("a valid agent name"),
        description: "an agent used by the storage contract tests".to_owned(),
        version: Version::parse("1.0.0").expect("a valid version"),
        capabilities: Capabilities::default(),
        price: cents(0),
        binary_url: format!("file:///data/agents/{binary_hash}"),
        binary_hash,
        binary_size: 1024,
        badges: vec![Badge::Stdio, Badge::Deterministic],
    }
}

pub async fn publish(backend: &Backend, agent: NewAgent) -> Agent {
    backend
        .agents
        .insert_agent(&agent)
        .await
        .expect("agent is inserted")
}

/// Publishes a default agent of `owner` named `name`.
pub async fn publish_named(backend: &Backend, owner: &UserId, name: &str) -> Agent {
    publish(backend, new_agent(owner, name)).await
}

/// A successful result of a new task, created at `at(seconds)`.
pub fn result_of(agent: &Agent, owner: &UserId, seconds: i64) -> TaskResult {
    TaskResult {
        task_id: TaskId::generate(),
        agent_id: agent.id.clone(),
        owner: owner.clone(),
        status: ResultStatus::Succeeded,
        exit_code: 0,
        stdout: b"{}".to_vec(),
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 10,
        error: None,
        created_at: at(seconds),
    }
}

/// A listing of every agent, in the default order, with room for all of them.
pub fn everything() -> AgentFilter {
    AgentFilter {
        limit: 100,
        ..AgentFilter::default()
    }
}

/// The names of `agents`, in order.
pub fn names(agents: &[Agent]) -> Vec<&str> {
    agents.iter().map(|agent| agent.name.as_str()).collect()
}
