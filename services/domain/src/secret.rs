//! Backend URLs that may carry credentials (`postgres://user:password@host/db`,
//! `amqp://user:password@host`): the whole URL goes to the client library that connects,
//! and only a redacted form ever reaches `Debug`, `Display`, logs or `--print-config`.

use std::fmt;

/// What stands in for a password wherever a [`SecretUrl`] is shown.
pub const REDACTED: &str = "***";

/// A URL whose password (in its user information, or a `password=` query parameter) is a
/// secret. The only way to the full text is [`SecretUrl::expose`], to be called where the
/// connection is made.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl {
    full: String,
    shown: String,
}

impl SecretUrl {
    /// Wraps `url`; nothing is checked here but that it has a scheme (`scheme://…`), which the
    /// callers have already matched.
    pub fn new(url: impl Into<String>) -> Self {
        let full = url.into();
        let shown = redact(&full);
        SecretUrl { full, shown }
    }

    /// The URL with its credentials, for the client library that connects.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The URL with its password replaced by [`REDACTED`].
    pub fn redacted(&self) -> &str {
        &self.shown
    }

    /// The scheme, lowercase as written (`postgres`, `amqp`, …).
    pub fn scheme(&self) -> &str {
        self.full.split_once("://").map_or("", |(scheme, _)| scheme)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.shown)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("SecretUrl")
            .field(&self.shown)
            .finish()
    }
}

/// Implements `Serialize` as the value's `Display` and `Deserialize` through its `FromStr`
/// (whose `Err` displays as the message), for values configured as strings such as backend
/// locations: what is printed parses back, and a location that shows a [`SecretUrl`] is
/// printed redacted.
#[macro_export]
macro_rules! serde_as_string {
    ($type:ty) => {
        impl $crate::__serde::Serialize for $type {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $type {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let raw = <String as $crate::__serde::Deserialize>::deserialize(deserializer)?;
                raw.parse()
                    .map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}

/// `url` with the password of its user information and every `password=` query parameter
/// replaced by [`REDACTED`]. A user name stays: it helps an operator and is not a secret.
///
/// It fails closed: the user information is everything before the *last* `@`, so a
/// password holding `/`, `?` or `@` (which a client library may refuse, so that the URL is
/// shown in an error) is hidden whole; so is whatever stands before an `@` in a string that
/// has no scheme at all.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("{REDACTED}@{host}"),
            None => url.to_owned(),
        };
    };
    let (rest, query) = match rest.rsplit_once('@') {
        Some((user_information, after)) => {
            let (before_query, query) = match after.split_once('?') {
                Some((before, query)) => (before, Some(query)),
                None => (after, None),
            };
            let shown = match user_information.split_once(':') {
                Some((user, _password)) => format!("{user}:{REDACTED}@{before_query}"),
                None => format!("{user_information}@{before_query}"),
            };
            (shown, query)
        }
        None => match rest.split_once('?') {
            Some((before, query)) => (before.to_owned(), Some(query)),
            None => (rest.to_owned(), None),
        },
    };
    let mut shown = format!("{scheme}://{rest}");
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{key}={REDACTED}")
                }
                _ => parameter.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_user_information_is_never_shown() {
        let url = SecretUrl::new("postgres://bazaar:s3cr3t@db.internal:5432/bazaar");

        assert_eq!(
            url.to_string(),
            "postgres://bazaar:***@db.internal:5432/bazaar"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert_eq!(
            url.expose(),
            "postgres://bazaar:s3cr3t@db.internal:5432/bazaar"
        );
    }

    #[test]
    fn a_password_containing_an_at_sign_is_redacted_whole() {
        let url = SecretUrl::new("amqp://guest:p@ss@rabbit:5672/%2f");

        assert_eq!(url.redacted(), "amqp://guest:***@rabbit:5672/%2f");
    }

    #[test]
    fn a_password_holding_url_delimiters_is_redacted_whole() {
        for (url, shown) in [
            (
                "amqp://u:pa/ss@rabbit:5672/%2f",
                "amqp://u:***@rabbit:5672/%2f",
            ),
            ("postgres://u:pa?ss@db/x", "postgres://u:***@db/x"),
            (
                "postgres://u:p@s/s?x@db/x?sslmode=require",
                "postgres://u:***@db/x?sslmode=require",
            ),
        ] {
            assert_eq!(SecretUrl::new(url).redacted(), shown, "{url}");
        }
    }

    #[test]
    fn credentials_without_a_scheme_are_not_shown() {
        assert_eq!(SecretUrl::new("u:secret@db/x").redacted(), "***@db/x");
        assert_eq!(
            SecretUrl::new("/var/lib/bazaar").redacted(),
            "/var/lib/bazaar"
        );
    }

    #[test]
    fn a_password_query_parameter_is_never_shown() {
        let url = SecretUrl::new("postgres://db/bazaar?sslmode=require&password=hunter2");

        assert_eq!(
            url.redacted(),
            "postgres://db/bazaar?sslmode=require&password=***"
        );
    }

    #[test]
    fn a_url_without_credentials_is_shown_as_it_is() {
        for plain in ["postgres://postgres@127.0.0.1/test", "amqp://rabbit:5672"] {
            assert_eq!(SecretUrl::new(plain).redacted(), plain);
        }
        assert_eq!(SecretUrl::new("amqp://rabbit").scheme(), "amqp");
    }
}
