//! [`BlobLocation`]: where binaries are kept, parsed once from configuration.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where agent binaries are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A local directory: `file:///path`, or a plain path.
    Directory(PathBuf),
    /// An S3 bucket: `s3://bucket` or `s3://bucket/prefix`.
    S3(S3Location),
}

/// A bucket and a key prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    bucket: String,
    /// Empty, or a key prefix ending in `/`.
    prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`; the bucket name must be one S3 accepts.
    pub fn parse(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "`{url}` is not an s3:// url: use s3://bucket or s3://bucket/prefix"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let well_formed_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'.')
            });
        if !well_formed_bucket {
            return Err(format!(
                "`{bucket}` in `{url}` is not a bucket name: 3 to 63 lowercase letters, digits, `-` or `.`"
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix: empty, or ending in `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(formatter, "/{}", self.prefix.trim_end_matches('/'))?;
        }
        Ok(())
    }
}

impl FromStr for BlobLocation {
    type Err = String;

    /// `s3://…` is a bucket, `file://…` or a string without a scheme is a directory, and
    /// any other scheme is an error rather than a directory of that odd name.
    fn from_str(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("the blob store location is empty: use s3://bucket or a directory".into());
        }
        match raw.split_once("://") {
            Some(("s3", _)) => S3Location::parse(raw).map(BlobLocation::S3),
            Some(("file", path)) if !path.is_empty() => Ok(BlobLocation::Directory(path.into())),
            Some((scheme, _)) => Err(format!(
                "unsupported blob store url `{scheme}://…`: use s3://bucket[/prefix], \
                 file:///path or a plain directory path"
            )),
            None => Ok(BlobLocation::Directory(PathBuf::from(raw))),
        }
    }
}

impl fmt::Display for BlobLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobLocation::Directory(directory) => write!(formatter, "{}", directory.display()),
            BlobLocation::S3(bucket) => write!(formatter, "{bucket}"),
        }
    }
}

// Serialized as its (redacted) URL: `--print-config` shows no password.
bazaar_domain::serde_as_string!(BlobLocation);

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(url: &str) -> S3Location {
        S3Location::parse(url).unwrap()
    }

    #[test]
    fn a_bucket_url_without_a_path_has_no_prefix() {
        let parsed = s3("s3://bazaar-binaries");

        assert_eq!(parsed.bucket(), "bazaar-binaries");
        assert_eq!(parsed.prefix(), "");
    }

    #[test]
    fn a_bucket_url_path_is_a_prefix_ending_in_one_slash() {
        for url in [
            "s3://bazaar/production",
            "s3://bazaar/production/",
            "s3://bazaar//production//",
        ] {
            let parsed = s3(url);

            assert_eq!(parsed.bucket(), "bazaar", "{url}");
            assert_eq!(parsed.prefix(), "production/", "{url}");
        }
        assert_eq!(s3("s3://bazaar/eu/production").prefix(), "eu/production/");
    }

    #[test]
    fn a_bucket_url_with_a_trailing_slash_has_no_prefix() {
        assert_eq!(s3("s3://bazaar/").prefix(), "");
    }

    #[test]
    fn a_url_that_is_not_s3_is_not_a_bucket() {
        for url in [
            "file:///var/lib/bazaar",
            "bazaar",
            "S3://bazaar",
            "http://bazaar",
        ] {
            assert!(S3Location::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_bucket_name_s3_would_refuse_is_rejected() {
        for url in [
            "s3://",
            "s3:///prefix",
            "s3://ab",
            "s3://Bazaar",
            "s3://baz_aar",
        ] {
            assert!(url.parse::<BlobLocation>().is_err(), "{url}");
        }
    }

    #[test]
    fn a_plain_path_or_a_file_url_is_a_directory() {
        assert_eq!(
            "/var/lib/bazaar".parse::<BlobLocation>(),
            Ok(BlobLocation::Directory("/var/lib/bazaar".into()))
        );
        assert_eq!(
            "file:///var/lib/bazaar".parse::<BlobLocation>(),
            Ok(BlobLocation::Directory("/var/lib/bazaar".into()))
        );
    }

    #[test]
    fn an_unknown_scheme_is_an_error_not_a_directory() {
        for url in ["http://bazaar/binaries", "gs://bucket", "S3://bazaar", ""] {
            let error = url.parse::<BlobLocation>().unwrap_err();
            assert!(!error.is_empty(), "{url}");
        }
    }

    #[test]
    fn a_location_is_shown_as_the_url_it_was_parsed_from() {
        for url in ["s3://bazaar/", "s3://bazaar/eu/production", "/srv/blobs"] {
            let shown = url.parse::<BlobLocation>().unwrap().to_string();
            assert_eq!(shown.parse::<BlobLocation>(), url.parse(), "{url}");
        }
    }
}
