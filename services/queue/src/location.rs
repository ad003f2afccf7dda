//! [`QueueLocation`]: which queue carries tasks and results, parsed once from configuration.

use std::fmt;
use std::str::FromStr;

use bazaar_domain::SecretUrl;

/// Which queue carries tasks and results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueLocation {
    /// The in-process queue of embedded mode: what an unset `queue.url` means.
    InProcess,
    /// A RabbitMQ broker: `amqp://user:password@host:5672/vhost` (or `amqps://…`). The URL
    /// may carry a password, so it is only ever shown redacted.
    RabbitMq(SecretUrl),
}

impl FromStr for QueueLocation {
    type Err = String;

    /// Parses a broker URL; the in-process queue has none.
    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.split_once("://") {
            Some(("amqp" | "amqps", rest)) if !rest.is_empty() => {
                Ok(QueueLocation::RabbitMq(SecretUrl::new(raw)))
            }
            _ => Err(format!(
                "unsupported queue url `{}`: use amqp://user:password@host:5672/vhost, or \
                 leave it unset for the in-process queue",
                SecretUrl::new(raw)
            )),
        }
    }
}

impl fmt::Display for QueueLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueLocation::InProcess => formatter.write_str("in-process"),
            QueueLocation::RabbitMq(url) => write!(formatter, "{url}"),
        }
    }
}

// Serialized as its (redacted) URL: `--print-config` shows no password.
bazaar_domain::serde_as_string!(QueueLocation);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_url_is_shown_without_its_password() {
        let location: QueueLocation = "amqp://bazaar:secret@rabbit:5672/%2f".parse().unwrap();

        assert_eq!(location.to_string(), "amqp://bazaar:***@rabbit:5672/%2f");
        assert!(!format!("{location:?}").contains("secret"));
    }

    #[test]
    fn a_url_that_is_not_amqp_is_an_error() {
        for url in [
            "http://rabbit:5672",
            "rabbit:5672",
            "amqp://",
            "nats://user:secret@x",
        ] {
            let error = url.parse::<QueueLocation>().unwrap_err();
            assert!(error.contains("unsupported"), "{url}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
