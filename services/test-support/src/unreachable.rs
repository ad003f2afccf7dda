//! What a test does when the server its backend needs is missing.

/// A server a test needs and could not reach, in the words its messages use.
///
/// On a developer's machine a missing server skips the test, loudly; under `CI`, which runs
/// every backend, it fails the test, where a skipped backend would hide a broken one.
pub struct UnreachableServer<'a> {
    /// What the server is: `PostgreSQL`, `RabbitMQ`.
    pub server: &'a str,
    /// Where it was looked for, without the password a URL may hold: `127.0.0.1:5432`.
    pub address: &'a str,
    /// Why it could not be reached: the connection error, or that it did not answer in time.
    pub cause: &'a str,
    /// The tests that do not run without it: `the postgres contract tests`.
    pub skipped_tests: &'a str,
    /// What to do about it, starting in lowercase: `start it, or point
    /// BAZAAR_TEST_POSTGRES_URL at one`.
    pub remedy: &'a str,
}

impl UnreachableServer<'_> {
    /// `None`, for the backend's constructor to return, after saying on stderr which tests
    /// did not run and why; under `CI` (the variable set to anything), a panic instead.
    pub fn skip_unless_ci<T>(&self) -> Option<T> {
        let UnreachableServer {
            server,
            address,
            cause,
            skipped_tests,
            remedy,
        } = self;
        if std::env::var_os("CI").is_some() {
            panic!(
                "{server} is not reachable at {address} ({cause}), and CI runs every backend: \
                 {remedy}"
            );
        }
        eprintln!(
            "SKIPPED: {server} not reachable at {address} ({cause}); {skipped_tests} did not \
             run. {}.",
            capitalized(remedy)
        );
        None
    }
}

/// `sentence` with its first letter in uppercase.
fn capitalized(sentence: &str) -> String {
    let mut characters = sentence.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::capitalized;

    #[test]
    fn a_remedy_starts_its_own_sentence_with_a_capital() {
        assert_eq!(
            capitalized("start it, or point BAZAAR_TEST_POSTGRES_URL at one"),
            "Start it, or point BAZAAR_TEST_POSTGRES_URL at one"
        );
        assert_eq!(capitalized(""), "");
    }
}
