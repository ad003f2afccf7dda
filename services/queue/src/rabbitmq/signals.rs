//! Subscribing to signals: an exclusive, server-named queue bound to the signals exchange
//! with one routing key, consumed without acknowledgements. The broker deletes the queue
//! when its connection closes; after a broken connection the subscription declares a new
//! one (what was published in between is missed: signals are not kept).

use async_trait::async_trait;
use bazaar_domain::{Signal, SignalTopic};
use bazaar_telemetry::metrics::metrics;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer as LapinConsumer};

use std::sync::Arc;

use super::link::{Link, Session};
use super::{decode_signal, declare_topology};
use crate::Subscription;

/// Signals of one topic, from one routing key.
pub(super) struct SignalSubscription {
    link: Link,
    binding: String,
    topic: SignalTopic,
    current: Option<(Arc<Session>, Channel, LapinConsumer)>,
    failed_generation: u64,
}

impl SignalSubscription {
    pub(super) fn new(link: Link, binding: String, topic: SignalTopic) -> Self {
        SignalSubscription {
            link,
            binding,
            topic,
            current: None,
            failed_generation: 0,
        }
    }

    /// Binds at once if the broker answers within `patience`, so that what is published
    /// afterwards is received; otherwise the subscription binds when it first can.
    pub(super) async fn bind_within(&mut self, patience: std::time::Duration) {
        if let Ok(Some(opened)) = tokio::time::timeout(patience, self.open()).await {
            self.current = Some(opened);
        }
    }

    /// Declares the queue and binds it on the current session, retrying with backoff;
    /// `None` once the queue is closed.
    async fn open(&mut self) -> Option<(Arc<Session>, Channel, LapinConsumer)> {
        let settings = self.link.settings().clone();
        let mut failures: u32 = 0;
        loop {
            let session = self
                .link
                .session_for_consume(self.failed_generation)
                .await?;
            let opened = async {
                let channel = session.connection.create_channel().await?;
                declare_topology(&channel, &settings).await?;
                let queue = channel
                    .queue_declare(
                        "".into(),
                        QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                channel
                    .queue_bind(
                        queue.name().clone(),
                        settings.names.signals_exchange.as_str().into(),
                        self.binding.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                let consumer = channel
                    .basic_consume(
                        queue.name().clone(),
                        "".into(),
                        BasicConsumeOptions {
                            no_ack: true,
                            exclusive: true,
                            ..BasicConsumeOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                Ok::<_, lapin::Error>((channel, consumer))
            }
            .await;
            match opened {
                Ok((channel, consumer)) => return Some((session, channel, consumer)),
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(binding = %self.binding, %error, failures, "failed to subscribe to signals; retrying");
                    if !session.connection.status().connected() {
                        self.link.report_broken(session.generation);
                        self.failed_generation = session.generation;
                    }
                }
            }
            tokio::select! {
                _ = self.link.shutting_down() => return None,
                _ = tokio::time::sleep(settings.reconnect_delay(failures)) => {}
            }
        }
    }
}

#[async_trait]
impl Subscription for SignalSubscription {
    async fn next(&mut self) -> Option<Signal> {
        loop {
            if self.current.is_none() {
                self.current = Some(self.open().await?);
            }
            let Some((session, _, consumer)) = self.current.as_mut() else {
                continue;
            };
            let item = tokio::select! {
                biased;
                () = self.link.shutting_down() => return None,
                item = consumer.next() => item,
            };
            match item {
                Some(Ok(delivery)) => match decode_signal(&delivery.data) {
                    Ok(signal) if self.topic.admits(&signal) => {
                        metrics().queue.consumed("signals", true);
                        return Some(signal);
                    }
                    Ok(_) => {}
                    Err(reason) => {
                        metrics().queue.consumed("signals", false);
                        tracing::warn!(%reason, "a signal does not decode; dropping it");
                    }
                },
                Some(Err(error)) => {
                    tracing::debug!(binding = %self.binding, %error, "the signal subscription failed; subscribing again");
                    if !session.connection.status().connected() {
                        self.link.report_broken(session.generation);
                        self.failed_generation = session.generation;
                    }
                    self.current = None;
                }
                None => {
                    tracing::debug!(binding = %self.binding, "the signal subscription ended; subscribing again");
                    self.current = None;
                }
            }
        }
    }
}

impl Drop for SignalSubscription {
    fn drop(&mut self) {
        // Closing the channel deletes the exclusive queue with it (auto-delete).
        if let Some((_, channel, _)) = self.current.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = channel.close(200, "unsubscribed".into()).await;
            });
        }
    }
}
