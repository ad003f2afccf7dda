//! Reviews: a rating from 1 to 5 and a text, one per user and agent, by users who ran the
//! agent successfully and are not its author. An agent's `rating` is their mean.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bazaar_domain::{ErrorCode, NewReview, Page, ResultFilter, ResultStatus, Review};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::agents::{page_bounds, parse_agent_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Path, Query};
use crate::state::AppState;

/// The longest review text, in characters.
const MAX_TEXT_CHARS: usize = 2000;

/// A review to post.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// From 1 (worst) to 5 (best).
    #[schema(minimum = 1, maximum = 5, example = 5)]
    pub rating: i64,
    /// What the reviewer has to say; at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000, example = "Formats large files quickly.")]
    pub text: String,
}

/// A review as the marketplace shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub agent_id: String,
    pub user_id: String,
    pub username: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: u8,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// When it was last written: posting again replaces a review.
    pub updated_at: DateTime<Utc>,
}

impl From<Review> for ReviewView {
    fn from(review: Review) -> Self {
        ReviewView {
            agent_id: review.agent_id.to_string(),
            user_id: review.user_id.to_string(),
            username: review.username,
            rating: review.rating,
            text: review.text,
            created_at: review.created_at,
            updated_at: review.updated_at,
        }
    }
}

/// A page of an agent's reviews, the most recently written first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewListView {
    pub reviews: Vec<ReviewView>,
    /// The agent's reviews over all pages (its `rating_count`).
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// Posts (or replaces) the caller's review of an agent.
///
/// Only a user with at least one succeeded task on the agent may review it, and not its
/// author. One review per user: posting again replaces it (200), keeping when it was first
/// posted. The agent's `rating` becomes the mean of its reviews at once.
#[utoipa::path(
    post, path = "/api/v1/agents/{id}/reviews", tag = "agents",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Agent id")),
    request_body = ReviewRequest,
    responses(
        (status = 201, description = "The caller's first review of the agent", body = ReviewView),
        (status = 200, description = "The caller's review, replacing their earlier one", body = ReviewView),
        (status = 400, description = "Malformed id, or a body that is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller is the agent's author, or has no succeeded task on it", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 422, description = "A rating that is not a whole number from 1 to 5, a text over 2,000 characters, or a field of the wrong type", body = ErrorBody),
    )
)]
pub async fn post_review(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&id)?;
    let rating = u8::try_from(request.rating)
        .ok()
        .filter(|rating| (1..=5).contains(rating))
        .ok_or_else(|| ApiError::unprocessable("rating: must be a whole number from 1 to 5"))?;
    if request.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::unprocessable(format!(
            "text: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    let agent = state
        .agents
        .get_agent(&agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {agent_id} does not exist")))?;
    if agent.owner == user.user_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "authors cannot review their own agent",
        ));
    }
    let succeeded = state
        .results
        .list(&ResultFilter {
            owner: user.user_id.clone(),
            agent_id: Some(agent_id.clone()),
            status: Some(ResultStatus::Succeeded),
            limit: 1,
            offset: 0,
        })
        .await?;
    if succeeded.total == 0 {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("review agent {agent_id} once one of your tasks on it has succeeded"),
        ));
    }
    let review = state
        .agents
        .put_review(&NewReview {
            agent_id,
            user_id: user.user_id.clone(),
            rating,
            text: request.text,
            at: Utc::now().trunc_subsecs(6),
        })
        .await?;
    let status = if review.created_at == review.updated_at {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ReviewView::from(review))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewParams {
    /// 1 to 100; 20 by default.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// An agent's reviews, the most recently written first.
#[utoipa::path(
    get, path = "/api/v1/agents/{id}/reviews", tag = "agents",
    params(("id" = String, Path, description = "Agent id"), ReviewParams),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewListView),
        (status = 400, description = "Malformed id or parameter", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    )
)]
pub async fn list_reviews(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ReviewParams>,
) -> Result<Json<ReviewListView>, ApiError> {
    let agent_id = parse_agent_id(&id)?;
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    if state.agents.get_agent(&agent_id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "agent {agent_id} does not exist"
        )));
    }
    let Page { items, total } = state.agents.list_reviews(&agent_id, limit, offset).await?;
    Ok(Json(ReviewListView {
        reviews: items.into_iter().map(ReviewView::from).collect(),
        total,
        limit,
        offset,
    }))
}
