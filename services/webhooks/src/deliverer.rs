//! The delivery loop: claim due messages, send each (signed), record the attempt, and
//! schedule the next one or give up. The loop owns claiming, concurrency and shutdown;
//! [`Deliverer::deliver_one`] is one attempt at one message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bazaar_database::{AttemptConsequence, ResultStore, StoreError, WebhookStore};
use bazaar_domain::{WebhookAttempt, WebhookDelivery, WebhookEvent};
use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::payload;
use crate::signing::SigningKey;
use crate::targets::GuardedResolver;
use crate::{USER_AGENT, WebhooksConfig};

/// How much longer than an attempt's timeout a claim keeps a message from other
/// deliverers: past it, a message whose deliverer died is claimed again.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How long the loop waits after the database failed before it claims again.
const STORE_FAILURE_PAUSE: Duration = Duration::from_secs(2);

/// Sends webhook messages from the database's outbox.
pub struct Deliverer {
    deliveries: Arc<dyn WebhookStore>,
    results: Arc<dyn ResultStore>,
    client: reqwest::Client,
    config: WebhooksConfig,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Deliverer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// The attempt as recorded.
    pub attempt: WebhookAttempt,
    /// What follows from it.
    pub consequence: AttemptConsequence,
}

impl Deliverer {
    /// A deliverer that claims from `deliveries` and reads results from `results` (the same
    /// database), with an HTTP client that follows no redirects, uses no proxy, gives up on
    /// an attempt after `config.timeout` and connects only to addresses the policy allows.
    pub fn new(
        deliveries: Arc<dyn WebhookStore>,
        results: Arc<dyn ResultStore>,
        config: WebhooksConfig,
    ) -> anyhow::Result<Self> {
        let resolver = GuardedResolver::new(Arc::new(config.allowed_targets.clone()));
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .dns_resolver(Arc::new(resolver))
            .pool_max_idle_per_host(0)
            .build()
            .context("failed to build the webhooks' HTTP client")?;
        Ok(Deliverer {
            deliveries,
            results,
            client,
            config,
        })
    }

    /// Delivers until `stop`, then lets the attempts in flight finish (each is bounded by
    /// the timeout). At most `config.concurrency` attempts run at once; a slow receiver
    /// holds one of them, never the others.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> anyhow::Result<()> {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut claimed_all_asked = false;
            if free > 0 {
                let now = Utc::now();
                let lease = self.config.timeout + LEASE_MARGIN;
                let lease_until = now + chrono::Duration::from_std(lease).unwrap_or_default();
                let asked = u32::try_from(free).unwrap_or(u32::MAX);
                match self
                    .deliveries
                    .claim_webhook_deliveries(now, lease_until, asked)
                    .await
                {
                    Ok(claimed) => {
                        claimed_all_asked = claimed.len() == free;
                        for delivery in claimed {
                            let slot = slots
                                .clone()
                                .acquire_owned()
                                .await
                                .context("the delivery slots were closed")?;
                            let deliverer = self.clone();
                            in_flight.spawn(async move {
                                let _slot = slot;
                                deliverer.attempt_and_log(delivery).await;
                            });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "failed to claim webhook messages"
                        );
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(STORE_FAILURE_PAUSE) => continue,
                        }
                    }
                }
            }
            if claimed_all_asked {
                // More may be due: claim again as soon as a slot is free.
                if stop.is_cancelled() {
                    break;
                }
                if slots.available_permits() == 0 {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = in_flight.join_next() => {}
                    }
                }
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
        Ok(())
    }

    async fn attempt_and_log(&self, delivery: WebhookDelivery) {
        let id = delivery.id.clone();
        let task_id = delivery.task_id.clone();
        match self.deliver_one(delivery).await {
            Ok(report) => tracing::debug!(
                delivery = %id,
                task_id = %task_id,
                attempt = report.attempt.attempt,
                status_code = ?report.attempt.status_code,
                error = ?report.attempt.error,
                consequence = ?report.consequence,
                "webhook attempt"
            ),
            // The claim's lease runs out and the message is tried again: at least once.
            Err(error) => tracing::warn!(
                delivery = %id,
                task_id = %task_id,
                error = format!("{error:#}"),
                "failed to record a webhook attempt; it will be retried"
            ),
        }
    }

    /// One attempt at one claimed message: build (or reuse) its body, sign it with its
    /// owner's current secret, post it, and record what happened. An error means the
    /// attempt could not be recorded; the message is tried again once its claim lapses.
    pub async fn deliver_one(
        &self,
        delivery: WebhookDelivery,
    ) -> Result<AttemptReport, StoreError> {
        let number = delivery.attempts + 1;
        let body = match &delivery.payload {
            Some(body) => Ok(body.clone()),
            None => self.build_payload(&delivery).await,
        };
        let at = Utc::now();
        let started = Instant::now();
        let (status_code, error) = match &body {
            Ok(body) => self.send(&delivery, body).await,
            Err(error) => (None, Some(error.clone())),
        };
        let attempt = WebhookAttempt {
            attempt: number,
            at,
            status_code,
            error,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        let consequence = match status_code {
            Some(code) if (200..300).contains(&code) => AttemptConsequence::Delivered,
            // The receiver says it is gone for good.
            Some(410) => AttemptConsequence::GiveUp,
            _ => match self.config.schedule.delay_after(number) {
                Some(delay) => AttemptConsequence::RetryAt(
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                ),
                None => AttemptConsequence::GiveUp,
            },
        };
        // A body that could not be built is not kept: the next attempt builds it again.
        self.deliveries
            .record_webhook_attempt(&delivery.id, body.as_deref().ok(), &attempt, consequence)
            .await?;
        Ok(AttemptReport {
            attempt,
            consequence,
        })
    }

    /// The message's body, from the facts it tells of; an error (as the attempt's error
    /// text) when they cannot be read.
    async fn build_payload(&self, delivery: &WebhookDelivery) -> Result<String, String> {
        match delivery.event {
            WebhookEvent::Running => Ok(payload::running(delivery)),
            WebhookEvent::Completed => match self.results.get_result(&delivery.task_id).await {
                Ok(Some(result)) => Ok(payload::completed(delivery, &result)),
                Ok(None) => Err(format!("the result of {} is not stored", delivery.task_id)),
                Err(error) => Err(format!("failed to read the result: {error}")),
            },
        }
    }

    /// Posts a signed body; the receiver's status, or why there is none.
    async fn send(&self, delivery: &WebhookDelivery, body: &str) -> (Option<u16>, Option<String>) {
        let url = match Url::parse(&delivery.url) {
            Ok(url) => url,
            Err(error) => return (None, Some(format!("the URL does not parse: {error}"))),
        };
        if let Err(refused) = self.config.allowed_targets.check_before_sending(&url) {
            return (None, Some(refused.to_string()));
        }
        let secret = match self.deliveries.webhook_secret(&delivery.owner).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return (
                    None,
                    Some("the task's owner has no webhook secret".to_owned()),
                );
            }
            Err(error) => {
                return (
                    None,
                    Some(format!("failed to read the webhook secret: {error}")),
                );
            }
        };
        let key = match SigningKey::from_secret(&secret.secret) {
            Ok(key) => key,
            Err(error) => return (None, Some(error.to_string())),
        };
        let timestamp = Utc::now().timestamp();
        let signature = key.sign(&delivery.id, timestamp, body.as_bytes());
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status();
                let error =
                    (!status.is_success()).then(|| format!("the receiver answered {status}"));
                (Some(status.as_u16()), error)
            }
            Err(error) => (None, Some(describe(&error, self.config.timeout))),
        }
    }
}

/// An HTTP failure in a sentence, with its causes (the resolver's refusal among them).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
