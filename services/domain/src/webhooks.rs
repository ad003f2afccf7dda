//! Webhooks: what a task's owner asks to be told of, and the record of each message sent.
//!
//! A task may carry a [`WebhookSubscription`]; the database turns the facts it stores (a
//! started attempt, a result) into [`WebhookDelivery`] rows, which the webhooks service
//! sends, signed as the Standard Webhooks specification says, and retries.

use chrono::{DateTime, Utc};

use crate::{AgentId, ParseError, TaskId, UserId};

/// The longest webhook URL accepted, in bytes.
pub const MAX_WEBHOOK_URL_LENGTH: usize = 2048;

/// What a webhook can tell of.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// The task finished, whatever its status (succeeded, failed, timed out or canceled).
    Completed,
    /// An attempt at the task started on a worker (one message per attempt).
    Running,
}

impl WebhookEvent {
    /// Every event, in the order the API documents them.
    pub const ALL: [WebhookEvent; 2] = [WebhookEvent::Completed, WebhookEvent::Running];

    /// The spelling of the API and the databases: `completed` or `running`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Completed => "completed",
            WebhookEvent::Running => "running",
        }
    }

    /// The message type of the payload (`task.completed`, `task.running`), as the Standard
    /// Webhooks specification recommends: dotted, naming the resource first.
    pub fn message_type(self) -> &'static str {
        match self {
            WebhookEvent::Completed => "task.completed",
            WebhookEvent::Running => "task.running",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        WebhookEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == raw)
            .ok_or_else(|| {
                ParseError::new(
                    "webhook.events",
                    format!(
                        "`{}` is not an event; the events are `completed` and `running`",
                        raw.chars().take(40).collect::<String>()
                    ),
                )
            })
    }
}

/// A task's webhook: where to send which events. Only [`parse`](Self::parse) makes one, so
/// the URL is an absolute `http` or `https` URL of at most [`MAX_WEBHOOK_URL_LENGTH`] bytes
/// with a host, and the events are at least one, each once.
///
/// Whether the URL may be reached (not a private address) is the webhooks crate's question,
/// asked at submission and again at delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    url: url::Url,
    events: Vec<WebhookEvent>,
}

impl WebhookSubscription {
    /// Checks a subscription as a client sent it. Errors name the field:
    /// `webhook.url: …` or `webhook.events: …`.
    pub fn parse(raw_url: &str, raw_events: &[String]) -> Result<Self, ParseError> {
        let field = "webhook.url";
        if raw_url.len() > MAX_WEBHOOK_URL_LENGTH {
            return Err(ParseError::new(
                field,
                format!("at most {MAX_WEBHOOK_URL_LENGTH} characters"),
            ));
        }
        let url = url::Url::parse(raw_url)
            .map_err(|error| ParseError::new(field, format!("not an absolute URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ParseError::new(
                field,
                format!("must be http or https, not `{}`", url.scheme()),
            ));
        }
        if url.host().is_none() {
            return Err(ParseError::new(field, "must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new(
                field,
                "must not carry credentials; receivers check the signature instead",
            ));
        }
        if raw_events.is_empty() {
            return Err(ParseError::new(
                "webhook.events",
                "name at least one event: `completed`, `running`",
            ));
        }
        let mut events = Vec::with_capacity(raw_events.len());
        for raw in raw_events {
            let event = WebhookEvent::parse(raw)?;
            if events.contains(&event) {
                return Err(ParseError::new(
                    "webhook.events",
                    format!("`{}` is named twice", event.as_str()),
                ));
            }
            events.push(event);
        }
        Ok(WebhookSubscription { url, events })
    }

    /// A subscription read back from the database, stored as [`url`](Self::url) and
    /// [`events_text`](Self::events_text) gave it.
    pub fn from_stored(url: &str, events_text: &str) -> Result<Self, ParseError> {
        let events: Vec<String> = events_text.split(',').map(str::to_owned).collect();
        WebhookSubscription::parse(url, &events)
    }

    /// The URL messages are posted to.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The events wanted, in the order the client named them.
    pub fn events(&self) -> &[WebhookEvent] {
        &self.events
    }

    /// The events as the databases store them: `completed,running`.
    pub fn events_text(&self) -> String {
        let names: Vec<&str> = self.events.iter().map(|event| event.as_str()).collect();
        names.join(",")
    }
}

/// Where a message stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet delivered; another attempt is due at `next_attempt_at`.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up: every attempt failed, or the receiver answered 410 Gone.
    Failed,
}

impl DeliveryStatus {
    /// The spelling of the API and the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(ParseError::new(
                "status",
                "must be `pending`, `delivered` or `failed`",
            )),
        }
    }
}

/// One message to a task's webhook and how its delivery went.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// `msg_…`: the message's `webhook-id`, the same on every attempt, so that a receiver
    /// can tell a retry from a new message.
    pub id: String,
    /// The task it tells of.
    pub task_id: TaskId,
    /// The task's agent.
    pub agent_id: AgentId,
    /// The task's owner, whose secret signs it.
    pub owner: UserId,
    /// What it tells of.
    pub event: WebhookEvent,
    /// Where it goes: the task's webhook URL.
    pub url: String,
    /// For `running`: which attempt of the task started (1, 2, …).
    pub run_attempt: Option<u32>,
    /// When what it tells of happened (UTC): the result's or the attempt's time.
    pub occurred_at: DateTime<Utc>,
    /// The JSON body, once built; every attempt sends the same.
    pub payload: Option<String>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (for a pending message).
    pub next_attempt_at: DateTime<Utc>,
    /// The receiver's answer to the latest attempt, if it answered.
    pub last_status_code: Option<u16>,
    /// Why the latest attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the message was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When a receiver accepted it (UTC).
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// 1 for the first attempt, then 2, …
    pub attempt: u32,
    /// When it was made (UTC).
    pub at: DateTime<Utc>,
    /// What the receiver answered; `None` when it did not (refused, timed out, unreachable).
    pub status_code: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

/// A user's webhook signing secret: `whsec_` and the base64 of its random bytes, the form
/// the Standard Webhooks libraries take.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    /// `whsec_…`.
    pub secret: String,
    /// When it was created or last rotated (UTC).
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebhookSecret")
            .field("secret", &crate::REDACTED)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_subscription_keeps_its_url_and_events() {
        let subscription = WebhookSubscription::parse(
            "https://example.com/hooks?x=1",
            &events(&["running", "completed"]),
        )
        .unwrap();
        assert_eq!(subscription.url().as_str(), "https://example.com/hooks?x=1");
        assert_eq!(
            subscription.events(),
            [WebhookEvent::Running, WebhookEvent::Completed]
        );
        assert_eq!(subscription.events_text(), "running,completed");
        let stored =
            WebhookSubscription::from_stored("https://example.com/hooks?x=1", "running,completed")
                .unwrap();
        assert_eq!(stored, subscription);
    }

    #[test]
    fn a_url_that_is_not_http_or_https_is_rejected() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "example.com/hook",
            "",
        ] {
            let error = WebhookSubscription::parse(url, &events(&["completed"])).unwrap_err();
            assert_eq!(error.field, "webhook.url", "{url}: {error}");
        }
    }

    #[test]
    fn a_url_longer_than_the_limit_is_rejected() {
        let url = format!("https://example.com/{}", "a".repeat(MAX_WEBHOOK_URL_LENGTH));
        let error = WebhookSubscription::parse(&url, &events(&["completed"])).unwrap_err();
        assert!(error.message.contains("2048"), "{error}");
    }

    #[test]
    fn a_url_with_credentials_is_rejected() {
        let error =
            WebhookSubscription::parse("https://user:pw@example.com/", &events(&["completed"]))
                .unwrap_err();
        assert!(error.message.contains("credentials"), "{error}");
    }

    #[test]
    fn events_must_be_known_present_and_each_named_once() {
        let url = "https://example.com/";
        let none = WebhookSubscription::parse(url, &[]).unwrap_err();
        assert_eq!(none.field, "webhook.events");
        let unknown = WebhookSubscription::parse(url, &events(&["finished"])).unwrap_err();
        assert!(unknown.message.contains("finished"), "{unknown}");
        let twice =
            WebhookSubscription::parse(url, &events(&["completed", "completed"])).unwrap_err();
        assert!(twice.message.contains("twice"), "{twice}");
    }
}
