//! [`DatabaseLocation`]: which database holds the records, parsed once from configuration.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use bazaar_domain::SecretUrl;

/// Which database holds the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file (`sqlite://path/to/file.db`), for embedded mode.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://user:password@host:5432/database`, or
    /// `postgresql://…`), for distributed mode. The URL may carry a password, so it is only
    /// ever shown redacted.
    Postgres(SecretUrl),
}

impl DatabaseLocation {
    /// The SQLite file `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        DatabaseLocation::Sqlite(path.into())
    }

    /// The URL to connect with, credentials included.
    pub fn url(&self) -> String {
        match self {
            DatabaseLocation::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseLocation::Postgres(url) => url.expose().to_owned(),
        }
    }

    /// Whether this is the embedded database.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseLocation::Sqlite(_))
    }
}

impl FromStr for DatabaseLocation {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => {
                // Connection parameters (`?mode=…`) are Bazaar's to choose, not the URL's.
                if path.contains('?') {
                    return Err(format!(
                        "`{raw}`: a sqlite url names a file and takes no parameters"
                    ));
                }
                Ok(DatabaseLocation::Sqlite(PathBuf::from(path)))
            }
            Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => {
                Ok(DatabaseLocation::Postgres(SecretUrl::new(raw)))
            }
            _ => {
                let shown = SecretUrl::new(raw);
                Err(format!(
                    "unsupported database url `{shown}`: use sqlite://path/to/file.db or \
                     postgres://user@host:5432/database"
                ))
            }
        }
    }
}

impl fmt::Display for DatabaseLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseLocation::Sqlite(path) => write!(formatter, "sqlite://{}", path.display()),
            DatabaseLocation::Postgres(url) => write!(formatter, "{url}"),
        }
    }
}

// Serialized as its (redacted) URL: `--print-config` shows no password.
bazaar_domain::serde_as_string!(DatabaseLocation);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_a_file() {
        assert_eq!(
            "sqlite:///var/lib/bazaar/bazaar.db".parse(),
            Ok(DatabaseLocation::sqlite("/var/lib/bazaar/bazaar.db"))
        );
        assert_eq!(
            "sqlite://data/bazaar.db"
                .parse::<DatabaseLocation>()
                .unwrap()
                .url(),
            "sqlite://data/bazaar.db"
        );
    }

    #[test]
    fn a_postgres_url_keeps_its_password_for_connecting_only() {
        let location: DatabaseLocation = "postgres://bazaar:secret@db:5432/bazaar".parse().unwrap();

        assert_eq!(location.url(), "postgres://bazaar:secret@db:5432/bazaar");
        assert!(!location.to_string().contains("secret"));
        assert!(!format!("{location:?}").contains("secret"));
        assert!("postgresql://db/bazaar".parse::<DatabaseLocation>().is_ok());
    }

    #[test]
    fn an_unknown_scheme_is_an_error_that_shows_no_password() {
        for url in [
            "mysql://root:secret@db/bazaar",
            "bazaar.db",
            "sqlite://",
            "",
        ] {
            let error = url.parse::<DatabaseLocation>().unwrap_err();
            assert!(error.contains("unsupported"), "{url}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
