//! The results service over gRPC: the server the results process runs, and the client the
//! gateway uses in distributed mode. Both speak `proto/bazaar/v1/results.proto`.
//!
//! The client sends the current span's trace context as gRPC metadata (`traceparent`); the
//! server makes each request's span a child of it.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bazaar_domain::{
    AgentId, AgentStats, ErrorCode, Page, ResultFilter, ResultStatus, TaskId, TaskProgress,
    TaskResult, UserId,
};
use bazaar_proto::{from_micros, to_micros, v1};
use bazaar_telemetry::TraceContext;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::{ResultsClient, ResultsError, ResultsService};

/// The longest a `WaitForResult` call may wait, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// The gRPC code for an error code; the mapping itself is [`ErrorCode::grpc_code`].
pub fn grpc_code(code: ErrorCode) -> Code {
    Code::from_i32(code.grpc_code())
}

fn status_of(error: ResultsError) -> Status {
    let code = grpc_code(error.code());
    if code == Code::Internal {
        tracing::error!(error = format!("{error:#}"), "results request failed");
        return Status::new(code, "the results service failed");
    }
    Status::new(code, error.to_string())
}

fn invalid(error: impl std::fmt::Display) -> Status {
    Status::invalid_argument(error.to_string())
}

/// Serves the results service until `shutdown`.
pub async fn serve(
    service: Arc<ResultsService>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tonic::transport::Server::builder()
        .trace_fn(request_span)
        .add_service(v1::results_server::ResultsServer::new(GrpcResults {
            service,
        }))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown.cancelled_owned(),
        )
        .await
        .context("the gRPC server failed")
}

/// The span of one incoming request, continuing the caller's trace.
fn request_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let method = request.uri().path().trim_start_matches('/');
    let span = tracing::info_span!(
        "grpc_request",
        otel.name = method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = method
    );
    bazaar_telemetry::set_parent_from_headers(&span, request.headers());
    span
}

struct GrpcResults {
    service: Arc<ResultsService>,
}

fn result_response(result: Option<TaskResult>) -> Response<v1::GetResultResponse> {
    Response::new(v1::GetResultResponse {
        result: result.as_ref().map(v1::TaskResult::from),
    })
}

#[async_trait]
impl v1::results_server::Results for GrpcResults {
    async fn get_result(
        &self,
        request: Request<v1::GetResultRequest>,
    ) -> Result<Response<v1::GetResultResponse>, Status> {
        let request = request.into_inner();
        let task_id = TaskId::parse(&request.task_id).map_err(invalid)?;
        let owner = UserId::parse(&request.owner_id).map_err(invalid)?;
        let result = self
            .service
            .get(&task_id, &owner)
            .await
            .map_err(status_of)?;
        Ok(result_response(result))
    }

    async fn list_results(
        &self,
        request: Request<v1::ListResultsRequest>,
    ) -> Result<Response<v1::ListResultsResponse>, Status> {
        let request = request.into_inner();
        let status = match v1::ResultStatus::try_from(request.status) {
            Ok(v1::ResultStatus::Unspecified) => None,
            Ok(status) => Some(ResultStatus::try_from(status).map_err(invalid)?),
            Err(_) => return Err(Status::invalid_argument("unknown result status")),
        };
        let filter = ResultFilter {
            owner: UserId::parse(&request.owner_id).map_err(invalid)?,
            agent_id: request
                .agent_id
                .as_deref()
                .map(AgentId::parse)
                .transpose()
                .map_err(invalid)?,
            status,
            limit: request.limit.clamp(1, 1000),
            offset: request.offset,
        };
        let page = self.service.list(&filter).await.map_err(status_of)?;
        Ok(Response::new(v1::ListResultsResponse {
            results: page.items.iter().map(v1::TaskResult::from).collect(),
            total: page.total,
        }))
    }

    async fn wait_for_result(
        &self,
        request: Request<v1::WaitForResultRequest>,
    ) -> Result<Response<v1::GetResultResponse>, Status> {
        let request = request.into_inner();
        let task_id = TaskId::parse(&request.task_id).map_err(invalid)?;
        let owner = UserId::parse(&request.owner_id).map_err(invalid)?;
        let timeout = Duration::from_millis(request.timeout_ms).min(MAX_WAIT);
        let result = self
            .service
            .wait(&task_id, &owner, timeout)
            .await
            .map_err(status_of)?;
        Ok(result_response(result))
    }

    async fn agent_stats(
        &self,
        request: Request<v1::AgentStatsRequest>,
    ) -> Result<Response<v1::AgentStatsResponse>, Status> {
        let agent_id = AgentId::parse(&request.into_inner().agent_id).map_err(invalid)?;
        let stats = self.service.stats(&agent_id).await.map_err(status_of)?;
        Ok(Response::new(v1::AgentStatsResponse {
            tasks_completed: stats.tasks_completed,
            succeeded: stats.succeeded,
            failed: stats.failed,
            timed_out: stats.timed_out,
            canceled: stats.canceled,
            mean_duration_ms: stats.mean_duration_ms,
            p50_duration_ms: stats.p50_duration_ms,
            p95_duration_ms: stats.p95_duration_ms,
            p99_duration_ms: stats.p99_duration_ms,
            last_run_at_micros: stats.last_run_at.map(to_micros),
        }))
    }

    async fn get_task_progress(
        &self,
        request: Request<v1::GetResultRequest>,
    ) -> Result<Response<v1::TaskProgressResponse>, Status> {
        let request = request.into_inner();
        let task_id = TaskId::parse(&request.task_id).map_err(invalid)?;
        let owner = UserId::parse(&request.owner_id).map_err(invalid)?;
        let progress = self
            .service
            .progress(&task_id, &owner)
            .await
            .map_err(status_of)?;
        Ok(Response::new(v1::TaskProgressResponse::from(&progress)))
    }

    async fn cancel_task(
        &self,
        request: Request<v1::CancelTaskRequest>,
    ) -> Result<Response<v1::TaskProgressResponse>, Status> {
        let request = request.into_inner();
        let task_id = TaskId::parse(&request.task_id).map_err(invalid)?;
        let agent_id = AgentId::parse(&request.agent_id).map_err(invalid)?;
        let owner = UserId::parse(&request.owner_id).map_err(invalid)?;
        let progress = self
            .service
            .cancel(&task_id, &agent_id, &owner)
            .await
            .map_err(status_of)?;
        Ok(Response::new(v1::TaskProgressResponse::from(&progress)))
    }
}

/// The gateway's client of a remote results service.
#[derive(Debug, Clone)]
pub struct GrpcResultsClient {
    client: v1::results_client::ResultsClient<Channel>,
}

impl GrpcResultsClient {
    /// A client of the results service at `url` (`http://host:port`). Connects lazily and
    /// reconnects by itself, so the results service may start after the gateway.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("invalid results service url `{url}`"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(GrpcResultsClient {
            client: v1::results_client::ResultsClient::new(endpoint.connect_lazy()),
        })
    }
}

/// A request that carries the current span's trace context.
fn traced<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    for (name, value) in TraceContext::current().fields() {
        if let (Ok(name), Ok(value)) = (
            MetadataKey::from_bytes(name.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            request.metadata_mut().insert(name, value);
        }
    }
    request
}

/// The error a status stands for, with the code the server meant: a `NotFound` stays
/// `NotFound` across the hop.
fn client_error(status: Status) -> ResultsError {
    ResultsError::Remote {
        code: ErrorCode::from_grpc_code(status.code() as i32),
        message: status.message().to_owned(),
    }
}

fn decode_progress(progress: v1::TaskProgressResponse) -> Result<TaskProgress, ResultsError> {
    TaskProgress::try_from(progress).map_err(|error| {
        ResultsError::Internal(
            anyhow::Error::new(error).context("the results service sent an unreadable task"),
        )
    })
}

fn decode(result: Option<v1::TaskResult>) -> Result<Option<TaskResult>, ResultsError> {
    result
        .map(TaskResult::try_from)
        .transpose()
        .map_err(|error| {
            ResultsError::Internal(
                anyhow::Error::new(error).context("the results service sent an unreadable result"),
            )
        })
}

#[async_trait]
impl ResultsClient for GrpcResultsClient {
    async fn get(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<Option<TaskResult>, ResultsError> {
        let response = self
            .client
            .clone()
            .get_result(traced(v1::GetResultRequest {
                task_id: task_id.to_string(),
                owner_id: owner.to_string(),
            }))
            .await
            .map_err(client_error)?;
        decode(response.into_inner().result)
    }

    async fn list(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, ResultsError> {
        let response = self
            .client
            .clone()
            .list_results(traced(v1::ListResultsRequest {
                owner_id: filter.owner.to_string(),
                agent_id: filter.agent_id.as_ref().map(ToString::to_string),
                status: filter
                    .status
                    .map_or(v1::ResultStatus::Unspecified, v1::ResultStatus::from)
                    .into(),
                limit: filter.limit,
                offset: filter.offset,
            }))
            .await
            .map_err(client_error)?
            .into_inner();
        let items = response
            .results
            .into_iter()
            .map(|result| {
                decode(Some(result))
                    .map(|decoded| decoded.expect("a present result decodes to Some"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total: response.total,
        })
    }

    async fn wait(
        &self,
        task_id: &TaskId,
        owner: &UserId,
        timeout: Duration,
    ) -> Result<Option<TaskResult>, ResultsError> {
        let mut request = traced(v1::WaitForResultRequest {
            task_id: task_id.to_string(),
            owner_id: owner.to_string(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        });
        request.set_timeout(timeout + Duration::from_secs(10));
        let response = self
            .client
            .clone()
            .wait_for_result(request)
            .await
            .map_err(client_error)?;
        decode(response.into_inner().result)
    }

    async fn stats(&self, agent_id: &AgentId) -> Result<AgentStats, ResultsError> {
        let stats = self
            .client
            .clone()
            .agent_stats(traced(v1::AgentStatsRequest {
                agent_id: agent_id.to_string(),
            }))
            .await
            .map_err(client_error)?
            .into_inner();
        Ok(AgentStats {
            tasks_completed: stats.tasks_completed,
            succeeded: stats.succeeded,
            failed: stats.failed,
            timed_out: stats.timed_out,
            canceled: stats.canceled,
            mean_duration_ms: stats.mean_duration_ms,
            p50_duration_ms: stats.p50_duration_ms,
            p95_duration_ms: stats.p95_duration_ms,
            p99_duration_ms: stats.p99_duration_ms,
            last_run_at: stats
                .last_run_at_micros
                .map(from_micros)
                .transpose()
                .map_err(|error| {
                    ResultsError::Internal(
                        anyhow::Error::new(error)
                            .context("the results service sent unreadable statistics"),
                    )
                })?,
        })
    }

    async fn progress(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError> {
        let response = self
            .client
            .clone()
            .get_task_progress(traced(v1::GetResultRequest {
                task_id: task_id.to_string(),
                owner_id: owner.to_string(),
            }))
            .await
            .map_err(client_error)?;
        decode_progress(response.into_inner())
    }

    async fn cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError> {
        let response = self
            .client
            .clone()
            .cancel_task(traced(v1::CancelTaskRequest {
                task_id: task_id.to_string(),
                agent_id: agent_id.to_string(),
                owner_id: owner.to_string(),
            }))
            .await
            .map_err(client_error)?;
        decode_progress(response.into_inner())
    }
}
