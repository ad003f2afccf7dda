//! Database URLs, rewritten without parsing them.

/// `url` with its database name replaced by `database`, keeping credentials and parameters:
/// how a test or benchmark reaches the database it created from the server's admin URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, parameters) = match url.split_once('?') {
        Some((base, parameters)) => (base, format!("?{parameters}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    format!("{}/{database}{parameters}", &base[..path_start])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_credentials_and_parameters_are_kept() {
        assert_eq!(
            with_database(
                "postgres://user:secret@db:5432/test?sslmode=disable",
                "other"
            ),
            "postgres://user:secret@db:5432/other?sslmode=disable"
        );
    }

    #[test]
    fn a_url_without_a_database_name_gains_one() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "other"),
            "postgres://postgres@127.0.0.1:5432/other"
        );
    }
}
