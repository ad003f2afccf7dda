//! A PostgreSQL database of its own for each test, as distributed mode runs the stores.

use std::str::FromStr;
use std::time::Duration;

use bazaar_domain::TaskId;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use crate::{UnreachableServer, with_database};

/// The server the PostgreSQL tests create their databases on, unless
/// `BAZAAR_TEST_POSTGRES_URL` names another; its user must be allowed to create databases.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Creates a database named `{prefix}_{unique}` on the server `BAZAAR_TEST_POSTGRES_URL`
/// names (else [`DEFAULT_POSTGRES_URL`]), and returns its URL, with the credentials and
/// parameters of the server's, and the guard that drops it.
///
/// `None` when the server cannot be reached: the test is skipped, loudly, naming
/// `skipped_tests` (`the postgres contract tests`), except under `CI`, where it fails (see
/// [`UnreachableServer`]). A server that answers but refuses the connection, or the
/// database, fails the test.
pub async fn throwaway_postgres_database(
    prefix: &str,
    skipped_tests: &str,
) -> Option<(String, ThrowawayDatabase)> {
    let admin_url = std::env::var("BAZAAR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin_options =
        PgConnectOptions::from_str(&admin_url).expect("BAZAAR_TEST_POSTGRES_URL is a postgres url");
    // Where the server is, without the password the url may hold.
    let server = format!("{}:{}", admin_options.get_host(), admin_options.get_port());
    let unreachable = |cause: &str| {
        UnreachableServer {
            server: "PostgreSQL",
            address: &server,
            cause,
            skipped_tests,
            remedy: "start it, or point BAZAAR_TEST_POSTGRES_URL at one",
        }
        .skip_unless_ci()
    };
    let connected = tokio::time::timeout(Duration::from_secs(5), admin_options.connect()).await;
    let mut admin: PgConnection = match connected {
        Ok(Ok(connection)) => connection,
        Ok(Err(error @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_)))) => {
            return unreachable(&error.to_string());
        }
        Ok(Err(error)) => panic!("PostgreSQL at {server} refused the test's connection: {error}"),
        Err(_) => return unreachable("no answer within 5 seconds"),
    };

    let unique = TaskId::generate();
    let name = format!("{prefix}_{}", &unique.as_str()[TaskId::PREFIX.len()..]);
    admin
        .execute(format!("create database {name}").as_str())
        .await
        .unwrap_or_else(|error| panic!("failed to create database {name} at {server}: {error}"));
    admin.close().await.ok();
    let url = with_database(&admin_url, &name);
    // From here on the database is dropped whatever happens, even if opening it fails.
    Some((
        url,
        ThrowawayDatabase {
            admin_options,
            name,
        },
    ))
}

/// A database made for one test, dropped with it; keep it until whatever uses the database
/// is gone.
pub struct ThrowawayDatabase {
    admin_options: PgConnectOptions,
    name: String,
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be shutting down: a thread with a
        // runtime of its own does it. `force` ends the store's connections, which may still
        // be closing. A database that cannot be dropped is left behind, never a panic here.
        let admin_options = self.admin_options.clone();
        let statement = format!("drop database if exists {} with (force)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = admin_options.connect().await.ok()?;
                admin.execute(statement.as_str()).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was left behind", self.name);
        }
    }
}
