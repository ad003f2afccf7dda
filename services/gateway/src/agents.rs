//! The marketplace: publishing, listing, searching and describing agents.

use axum::extract::State;
use axum::http::StatusCode;
use bazaar_domain::{
    AgentChanges, AgentFilter, AgentId, AgentName, AgentSort, AgentStatus, Capabilities,
    Capability, ErrorCode, NewAgent, Price, Sha256, UserId, Version,
};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Multipart, Path, Query};
use crate::state::AppState;
use crate::views::{AgentListView, AgentView, SearchView, StatsView};

/// The longest description an agent may have, in characters.
const MAX_DESCRIPTION_CHARS: usize = 4000;
/// The largest `metadata` part of an upload.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What an author says about an agent when publishing it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentMetadata {
    /// 1 to 64 characters.
    #[schema(example = "json-format")]
    pub name: String,
    /// At most 4,000 characters; searched, weighted below the name and capabilities.
    #[schema(example = "Validates and pretty-prints JSON.")]
    pub description: String,
    /// Semantic version.
    #[schema(example = "1.0.0")]
    pub version: String,
    /// Up to 16 lowercase tags.
    #[serde(default)]
    #[schema(example = json!(["json", "formatting"]))]
    pub capabilities: Vec<String>,
    /// Price per task in USD (number or string), at most two decimals. Defaults to 0.
    #[serde(default)]
    #[schema(value_type = f64, example = 0.02)]
    pub price: Option<serde_json::Value>,
}

/// The multipart form of an upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// JSON, as [`AgentMetadata`].
    metadata: AgentMetadata,
    /// The `.wasm` file: a WASI preview 1 command module.
    #[schema(value_type = String, format = Binary)]
    binary: Vec<u8>,
}

fn parse_price(raw: Option<&serde_json::Value>) -> Result<Price, ApiError> {
    match raw {
        None | Some(serde_json::Value::Null) => Ok(Price::default()),
        Some(serde_json::Value::Number(number)) => Ok(Price::parse(&number.to_string())?),
        Some(serde_json::Value::String(text)) => Ok(Price::parse(text)?),
        Some(_) => Err(ApiError::unprocessable(
            "price: must be a number such as 0.02",
        )),
    }
}

fn parse_description(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::unprocessable(format!(
            "description: must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(raw.to_owned())
}

/// Validates, stores and lists an agent: the one way agents enter the marketplace, used by
/// uploads and by the seeding of the example agents.
pub async fn publish_agent(
    state: &AppState,
    owner: &UserId,
    metadata: &AgentMetadata,
    binary: Bytes,
) -> Result<AgentView, ApiError> {
    let name = AgentName::parse(&metadata.name)?;
    let description = parse_description(&metadata.description)?;
    let version = Version::parse(&metadata.version)?;
    let capabilities = Capabilities::parse(&metadata.capabilities)?;
    let price = parse_price(metadata.price.as_ref())?;
    if binary.is_empty() {
        return Err(ApiError::unprocessable("binary: the file is empty"));
    }
    let binary_hash = Sha256::digest(&binary);
    let binary_size = binary.len() as i64;
    // Compiling proves the module valid and runnable here before anything is stored.
    let prepared = state
        .sandbox
        .prepare(&binary_hash, binary.clone())
        .await
        .map_err(|error| ApiError::new(error.code(), format!("binary: {error}")))?;
    let binary_url = state
        .blobs
        .put_agent_binary(&binary_hash, binary)
        .await
        .map_err(|error| {
            ApiError::unavailable("failed to store the agent binary, retry later", error)
        })?;
    let agent = state
        .agents
        .insert_agent(&NewAgent {
            id: AgentId::generate(),
            owner: owner.clone(),
            name,
            description,
            version,
            capabilities,
            price,
            binary_url,
            binary_hash,
            binary_size,
            badges: prepared.badges(),
        })
        .await?;
    tracing::info!(agent_id = %agent.id, owner = %owner, binary_hash = %agent.binary_hash, "agent published");
    Ok(agent.into())
}

/// Publishes an agent: multipart with a `metadata` JSON part and a `binary` part.
#[utoipa::path(
    post, path = "/api/v1/agents", tag = "agents",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Published", body = AgentView),
        (status = 400, description = "A part is missing or malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 409, description = "You already published this name and version", body = ErrorBody),
        (status = 413, description = "The upload is larger than allowed", body = ErrorBody),
        (status = 422, description = "Invalid metadata, or not a valid WASI module", body = ErrorBody),
    )
)]
pub async fn upload_agent(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Multipart(mut multipart): Multipart,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let mut metadata: Option<Bytes> = None;
    let mut binary: Option<Bytes> = None;
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("metadata") => {
                let bytes = field.bytes().await?;
                if bytes.len() > MAX_METADATA_BYTES {
                    return Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("metadata: must be at most {MAX_METADATA_BYTES} bytes"),
                    ));
                }
                metadata = Some(bytes);
            }
            Some("binary") => binary = Some(field.bytes().await?),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "unexpected part `{other}`: send `metadata` and `binary`"
                )));
            }
            None => return Err(ApiError::bad_request("every part needs a name")),
        }
    }
    let metadata = metadata.ok_or_else(|| ApiError::bad_request("missing the `metadata` part"))?;
    let binary = binary
        .ok_or_else(|| ApiError::bad_request("missing the `binary` part (the .wasm file)"))?;
    let metadata: serde_json::Value = serde_json::from_slice(&metadata)
        .map_err(|error| ApiError::bad_request(format!("metadata: not valid JSON: {error}")))?;
    let metadata: AgentMetadata = serde_json::from_value(metadata)
        .map_err(|error| ApiError::unprocessable(format!("metadata: {error}")))?;
    let agent = publish_agent(&state, &user.user_id, &metadata, binary).await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// Filters and order of a marketplace listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100; 20 by default.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    /// Only agents with this capability.
    pub capability: Option<String>,
    /// Only agents whose module has this badge: clock, random, stdio, args, environment,
    /// filesystem, sockets or deterministic.
    pub badge: Option<String>,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    /// 0 to 5.
    pub min_rating: Option<f64>,
    /// `active` or `inactive`.
    pub status: Option<String>,
    /// Only agents of this user.
    pub owner: Option<String>,
    /// newest (default), oldest, name, price_asc, price_desc, rating, popular.
    pub sort: Option<String>,
}

/// Reads `limit` and `offset`: limit 1 to 100, 20 by default.
pub(crate) fn page_bounds(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32), ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit: must be between 1 and 100"));
    }
    Ok((limit, offset.unwrap_or(0)))
}

fn bad_parameter(error: bazaar_domain::ParseError) -> ApiError {
    ApiError::bad_request(error.to_string())
}

fn parse_sort(raw: &str) -> Result<AgentSort, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        ApiError::bad_request(
            "sort: must be one of newest, oldest, name, price_asc, price_desc, rating, popular",
        )
    })
}

/// Lists the marketplace.
#[utoipa::path(
    get, path = "/api/v1/agents", tag = "agents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of agents", body = AgentListView),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
    )
)]
pub async fn list_agents(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<AgentListView>, ApiError> {
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    if params
        .min_rating
        .is_some_and(|rating| !(0.0..=5.0).contains(&rating))
    {
        return Err(ApiError::bad_request("min_rating: must be between 0 and 5"));
    }
    let filter = AgentFilter {
        capability: params
            .capability
            .as_deref()
            .map(Capability::parse)
            .transpose()
            .map_err(bad_parameter)?,
        badge: params
            .badge
            .as_deref()
            .map(bazaar_domain::Badge::parse)
            .transpose()
            .map_err(bad_parameter)?,
        min_price: params
            .min_price
            .as_deref()
            .map(Price::parse)
            .transpose()
            .map_err(bad_parameter)?,
        max_price: params
            .max_price
            .as_deref()
            .map(Price::parse)
            .transpose()
            .map_err(bad_parameter)?,
        min_rating: params.min_rating,
        status: params
            .status
            .as_deref()
            .map(AgentStatus::parse)
            .transpose()
            .map_err(bad_parameter)?,
        owner: params
            .owner
            .as_deref()
            .map(UserId::parse)
            .transpose()
            .map_err(bad_parameter)?,
        sort: params
            .sort
            .as_deref()
            .map(parse_sort)
            .transpose()?
            .unwrap_or_default(),
        limit,
        offset,
    };
    let page = state.agents.list_agents(&filter).await?;
    Ok(Json(AgentListView {
        agents: page.items.into_iter().map(AgentView::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in names, descriptions and capabilities; each matches as a prefix.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// Ranked full-text search over active agents.
#[utoipa::path(
    get, path = "/api/v1/agents/search", tag = "agents",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching agents, best first", body = SearchView),
        (status = 400, description = "No query, or a parameter is invalid", body = ErrorBody),
    )
)]
pub async fn search_agents(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchView>, ApiError> {
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let query = params.q.unwrap_or_default();
    if !query.chars().any(char::is_alphanumeric) {
        return Err(ApiError::bad_request(
            "q: give at least one word to search for",
        ));
    }
    if query.len() > 256 {
        return Err(ApiError::bad_request("q: at most 256 bytes"));
    }
    let page = state.agents.search_agents(&query, limit, offset).await?;
    Ok(Json(SearchView {
        agents: page.items.into_iter().map(AgentView::from).collect(),
        total: page.total,
        query,
        limit,
        offset,
    }))
}

pub(crate) fn parse_agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).map_err(bad_parameter)
}

async fn existing_agent(state: &AppState, id: &AgentId) -> Result<bazaar_domain::Agent, ApiError> {
    state
        .agents
        .get_agent(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {id} does not exist")))
}

/// One agent.
#[utoipa::path(
    get, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = AgentView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    )
)]
pub async fn get_agent(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    let id = parse_agent_id(&id)?;
    Ok(Json(existing_agent(&state, &id).await?.into()))
}

/// An agent's live statistics.
#[utoipa::path(
    get, path = "/api/v1/agents/{id}/stats", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Statistics", body = StatsView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    )
)]
pub async fn agent_stats(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StatsView>, ApiError> {
    let id = parse_agent_id(&id)?;
    existing_agent(&state, &id).await?;
    let stats = state.results.stats(&id).await?;
    Ok(Json(StatsView::new(id.to_string(), stats)))
}

/// The changes an owner may make to an agent; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub description: Option<String>,
    pub capabilities: Option<Vec<String>>,
    #[schema(value_type = Option<f64>)]
    pub price: Option<serde_json::Value>,
    /// `active` or `inactive`; an inactive agent takes no new tasks.
    pub status: Option<String>,
}

/// Changes an agent's description, capabilities, price or status (owner only).
#[utoipa::path(
    patch, path = "/api/v1/agents/{id}", tag = "agents",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Agent id")),
    request_body = AgentPatch,
    responses(
        (status = 200, description = "The updated agent", body = AgentView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not your agent", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
pub async fn patch_agent(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
    Json(patch): Json<AgentPatch>,
) -> Result<Json<AgentView>, ApiError> {
    let id = parse_agent_id(&id)?;
    let agent = existing_agent(&state, &id).await?;
    if agent.owner != user.user_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the agent's owner may change it",
        ));
    }
    let changes = AgentChanges {
        description: patch
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?,
        capabilities: patch
            .capabilities
            .as_deref()
            .map(Capabilities::parse)
            .transpose()?,
        price: patch
            .price
            .as_ref()
            .map(|price| parse_price(Some(price)))
            .transpose()?,
        status: patch
            .status
            .as_deref()
            .map(AgentStatus::parse)
            .transpose()?,
    };
    let updated = state
        .agents
        .update_agent(&id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {id} does not exist")))?;
    state.agent_cache.remove(&id);
    Ok(Json(updated.into()))
}
