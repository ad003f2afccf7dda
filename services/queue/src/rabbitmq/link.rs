//! One supervised AMQP connection: opened, watched, and reopened with backoff when it dies.
//!
//! A [`Link`] is shared by whoever uses the connection; they take the current [`Session`]
//! and, when an operation on it fails, report it broken so that the supervisor replaces it
//! without waiting to notice by itself. Every session carries a generation number, so a
//! stale report (about a session already replaced) is ignored and a caller can wait for a
//! session newer than the one that failed it.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{Settings, declare_topology};
use crate::QueueError;

/// An open connection with a channel in confirm mode.
pub(super) struct Session {
    pub(super) generation: u64,
    pub(super) connection: Connection,
    /// Declared the topology; carries the publishes of a publisher link.
    channel: Channel,
    /// Held while a publish is handed to lapin, never while it is written or confirmed.
    publish_order: Mutex<()>,
}

/// Where a message goes.
pub(super) struct Destination<'a> {
    /// `""` for the default exchange, which routes to the queue named by the routing key.
    pub(super) exchange: &'a str,
    pub(super) routing_key: &'a str,
    /// Whether an unroutable message is a failure (work) or fine (signals).
    pub(super) mandatory: bool,
}

/// Why a publish failed.
pub(super) enum PublishFailure {
    /// The broker answered no (a negative confirm): retrying will not help.
    Refused(String),
    /// The connection or channel failed, or the message was unroutable (a queue deleted
    /// under us): retry on a new connection, which declares the topology again.
    Lost(String),
}

impl Session {
    /// Publishes to `destination` and waits for the confirm.
    pub(super) async fn publish(
        &self,
        destination: &Destination<'_>,
        properties: BasicProperties,
        payload: &[u8],
    ) -> Result<(), PublishFailure> {
        let options = BasicPublishOptions {
            // An unroutable work message comes back instead of being confirmed and dropped;
            // a signal nobody listens for is simply dropped.
            mandatory: destination.mandatory,
            immediate: false,
        };
        let mut sending = pin!(self.channel.basic_publish(
            destination.exchange.into(),
            destination.routing_key.into(),
            options,
            payload,
            properties
        ));
        // lapin numbers a publish for its confirm, then queues its frames, both in the first
        // poll of `basic_publish` but not atomically: two publishes racing between those
        // steps would go out in the other order and each receive the other's confirm. Only
        // that first poll is serialised; the write and the confirm are awaited concurrently.
        let first_poll = std::future::poll_fn(|context| {
            let _order = self
                .publish_order
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Poll::Ready(sending.as_mut().poll(context))
        })
        .await;
        let sent = match first_poll {
            Poll::Ready(sent) => sent,
            Poll::Pending => sending.await,
        };
        let confirm = sent.map_err(|error| {
            PublishFailure::Lost(format!("failed to send the message: {error}"))
        })?;
        match confirm.await {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => Err(PublishFailure::Lost(format!(
                "the message was unroutable: {} {}",
                returned.reply_code, returned.reply_text
            ))),
            Ok(Confirmation::Nack(_)) => Err(PublishFailure::Refused(
                "RabbitMQ refused the message (negative publisher confirm)".to_owned(),
            )),
            Ok(Confirmation::NotRequested) => Err(PublishFailure::Lost(
                "the channel is not in confirm mode".to_owned(),
            )),
            Err(error) => Err(PublishFailure::Lost(format!(
                "the confirm did not arrive: {error}"
            ))),
        }
    }
}

#[derive(Clone)]
enum State {
    /// An attempt is under way, after a lost connection or at the start.
    Connecting,
    Connected(Arc<Session>),
    /// The last attempt failed; the next one is scheduled. `refused`: the broker answered
    /// (credentials, vhost, topology), as opposed to being unreachable.
    Down {
        reason: Arc<str>,
        refused: bool,
    },
    Closed,
}

/// A supervised connection. Cheap to clone.
#[derive(Clone)]
pub(super) struct Link {
    inner: Arc<Inner>,
}

struct Inner {
    /// `publisher` or `consumer`.
    role: &'static str,
    settings: Arc<Settings>,
    state: watch::Sender<State>,
    /// The newest generation reported broken.
    broken_generation: AtomicU64,
    broken: Notify,
    shutdown: CancellationToken,
}

impl Link {
    /// Starts supervising a connection in the background, until `shutdown`.
    pub(super) fn start(
        role: &'static str,
        settings: Arc<Settings>,
        shutdown: CancellationToken,
    ) -> Link {
        let (state, _) = watch::channel(State::Connecting);
        let inner = Arc::new(Inner {
            role,
            settings,
            state,
            broken_generation: AtomicU64::new(0),
            broken: Notify::new(),
            shutdown,
        });
        tokio::spawn(supervise(inner.clone()));
        Link { inner }
    }

    pub(super) fn settings(&self) -> &Arc<Settings> {
        &self.inner.settings
    }

    /// Waits for the first attempt: an error if the broker refused the connection.
    pub(super) async fn first_attempt(&self) -> Result<(), QueueError> {
        let mut receiver = self.inner.state.subscribe();
        loop {
            let outcome = match &*receiver.borrow_and_update() {
                State::Connecting => None,
                State::Connected(_) => Some(Ok(())),
                State::Down {
                    reason,
                    refused: true,
                } => Some(Err(self.unavailable(reason))),
                State::Down {
                    reason,
                    refused: false,
                } => {
                    tracing::warn!(address = %self.inner.settings.address, %reason, "RabbitMQ is unreachable; connecting in the background");
                    Some(Ok(()))
                }
                State::Closed => Some(Err(closed())),
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
            if receiver.changed().await.is_err() {
                return Err(closed());
            }
        }
    }

    /// A session newer than generation `newer_than`, waiting while one is being opened but
    /// failing at once while the broker is down: a publisher does not hang on a dead broker.
    pub(super) async fn session_for_publish(
        &self,
        newer_than: u64,
    ) -> Result<Arc<Session>, QueueError> {
        self.session(newer_than, true).await
    }

    /// A session newer than generation `newer_than`, waiting as long as it takes; `None`
    /// once the link is closed.
    pub(super) async fn session_for_consume(&self, newer_than: u64) -> Option<Arc<Session>> {
        self.session(newer_than, false).await.ok()
    }

    async fn session(
        &self,
        newer_than: u64,
        fail_while_down: bool,
    ) -> Result<Arc<Session>, QueueError> {
        let mut receiver = self.inner.state.subscribe();
        loop {
            let outcome = match &*receiver.borrow_and_update() {
                State::Connected(session) if session.generation > newer_than => {
                    Some(Ok(session.clone()))
                }
                State::Down { reason, .. } if fail_while_down => {
                    Some(Err(self.unavailable(reason)))
                }
                State::Closed => Some(Err(closed())),
                State::Connected(_) | State::Connecting | State::Down { .. } => None,
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
            if receiver.changed().await.is_err() {
                return Err(closed());
            }
        }
    }

    /// An operation on session `generation` failed in a way that suggests the connection is
    /// gone: replace it now.
    pub(super) fn report_broken(&self, generation: u64) {
        self.inner
            .broken_generation
            .fetch_max(generation, Ordering::AcqRel);
        self.inner.broken.notify_one();
    }

    /// Treats the current session as broken (a test hook).
    pub(super) fn report_current_broken(&self) {
        let generation = match &*self.inner.state.borrow() {
            State::Connected(session) => session.generation,
            _ => return,
        };
        self.report_broken(generation);
    }

    /// Whether the connection is up.
    pub(super) fn check(&self) -> Result<(), QueueError> {
        match &*self.inner.state.borrow() {
            State::Connected(session) if session.connection.status().connected() => Ok(()),
            State::Connected(_) | State::Connecting => Err(QueueError::Unavailable(format!(
                "the {} connection to RabbitMQ at {} is being reopened",
                self.inner.role, self.inner.settings.address
            ))),
            State::Down { reason, .. } => Err(self.unavailable(reason)),
            State::Closed => Err(closed()),
        }
    }

    /// Resolves once the link is shutting down.
    pub(super) async fn shutting_down(&self) {
        self.inner.shutdown.cancelled().await;
    }

    /// Resolves once the link is closed, its connection closed.
    pub(super) async fn closed(&self) {
        let mut receiver = self.inner.state.subscribe();
        let _ = receiver
            .wait_for(|state| matches!(state, State::Closed))
            .await;
    }

    fn unavailable(&self, reason: &str) -> QueueError {
        QueueError::Unavailable(format!(
            "RabbitMQ at {} is unavailable: {reason}",
            self.inner.settings.address
        ))
    }
}

fn closed() -> QueueError {
    QueueError::Unavailable("the queue is closed".to_owned())
}

/// Opens sessions one after the other until shutdown.
async fn supervise(inner: Arc<Inner>) {
    let settings = inner.settings.clone();
    let address = settings.address.as_str();
    let role = inner.role;
    let mut generation = 0;
    let mut failures: u32 = 0;
    loop {
        generation += 1;
        let attempt = tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            attempt = tokio::time::timeout(settings.config.connect_timeout, open_session(&inner, generation)) => attempt,
        };
        match attempt {
            Ok(Ok(session)) => {
                if generation == 1 {
                    tracing::info!(address, role, "connected to RabbitMQ");
                } else {
                    tracing::info!(address, role, "reconnected to RabbitMQ");
                }
                let session = Arc::new(session);
                let opened = Instant::now();
                inner.state.send_replace(State::Connected(session.clone()));
                let reason = wait_until_broken(&inner, &session).await;
                let Some(reason) = reason else {
                    close_session(&session, "shutting down").await;
                    break;
                };
                tracing::warn!(address, role, %reason, "lost the connection to RabbitMQ; reconnecting");
                inner.state.send_replace(State::Connecting);
                tokio::spawn(async move { close_session(&session, "reconnecting").await });
                // A connection that dies as soon as it opens is not retried in a tight loop.
                if opened.elapsed() < settings.config.reconnect_delay_max {
                    failures = failures.saturating_add(1);
                } else {
                    failures = 0;
                }
            }
            Ok(Err(error)) => {
                failures = failures.saturating_add(1);
                let refused = error.is_amqp_error();
                let reason = error.to_string();
                tracing::warn!(address, role, %reason, failures, "failed to connect to RabbitMQ");
                inner.state.send_replace(State::Down {
                    reason: reason.into(),
                    refused,
                });
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                let reason = format!("no connection within {:?}", settings.config.connect_timeout);
                tracing::warn!(address, role, %reason, failures, "failed to connect to RabbitMQ");
                inner.state.send_replace(State::Down {
                    reason: reason.into(),
                    refused: false,
                });
            }
        }
        tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            _ = tokio::time::sleep(settings.reconnect_delay(failures)) => {}
        }
    }
    inner.state.send_replace(State::Closed);
}

/// Connects, opens a confirm-mode channel and declares the topology.
async fn open_session(inner: &Inner, generation: u64) -> Result<Session, lapin::Error> {
    let settings = &inner.settings;
    let name = format!("{} {}", settings.config.connection_name, inner.role);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let connection = Connection::connect_uri(settings.uri.clone(), properties).await?;
    let channel = async {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        declare_topology(&channel, settings).await?;
        Ok::<_, lapin::Error>(channel)
    }
    .await;
    match channel {
        Ok(channel) => Ok(Session {
            generation,
            connection,
            channel,
            publish_order: Mutex::new(()),
        }),
        Err(error) => {
            let _ = connection.close(200, "setup failed".into()).await;
            Err(error)
        }
    }
}

/// Returns why `session` is no longer usable, or `None` on shutdown.
async fn wait_until_broken(inner: &Inner, session: &Session) -> Option<String> {
    // Created before the state is first looked at, so that no event is missed.
    let mut events = pin!(session.connection.events_listener());
    // Events say promptly that the connection failed; this catches whatever they do not.
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        if inner.broken_generation.load(Ordering::Acquire) >= session.generation {
            return Some("an operation on the connection failed".to_owned());
        }
        if !session.connection.status().connected() {
            return Some("the connection closed".to_owned());
        }
        if !session.channel.status().connected() {
            return Some("the connection's channel closed".to_owned());
        }
        tokio::select! {
            _ = inner.shutdown.cancelled() => return None,
            _ = inner.broken.notified() => {}
            _ = poll.tick() => {}
            event = events.next() => match event {
                Some(Event::Error(error)) => return Some(error.to_string()),
                Some(Event::ConnectionBlocked(reason)) => {
                    tracing::warn!(address = %inner.settings.address, role = inner.role, %reason, "RabbitMQ is blocking publishes");
                }
                Some(Event::ConnectionUnblocked) => {
                    tracing::info!(address = %inner.settings.address, role = inner.role, "RabbitMQ accepts publishes again");
                }
                Some(_) => {}
                None => return Some("the connection's events ended".to_owned()),
            },
        }
    }
}

/// Closes a session's connection if it is still open, so that the broker returns its
/// unacknowledged deliveries at once.
async fn close_session(session: &Session, reason: &str) {
    if session.connection.status().connected() {
        let closing = session.connection.close(200, reason.into());
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }
}
