//! Values with rules: names, usernames, passwords, versions, capabilities, prices and
//! SHA-256 digests. Each has a private field and a `parse` that is the only way in.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;

use crate::ParseError;

/// Implements `Display`, `Serialize`, `Deserialize` (through `parse`) and an OpenAPI string
/// schema for a newtype around a `String`.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The value exactly as it was parsed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// An agent's display name: 1 to 64 characters, letters, digits, space, `-`, `_` and `.`,
/// not starting or ending with a space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentName(String);

impl AgentName {
    /// Checks the rules above, counting characters rather than bytes; a violation is an
    /// error on the `name` field.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let length = raw.chars().count();
        if !(1..=64).contains(&length) {
            return Err(ParseError::new("name", "must be 1 to 64 characters long"));
        }
        if raw.trim() != raw {
            return Err(ParseError::new(
                "name",
                "must not start or end with white space",
            ));
        }
        let allowed = |character: char| {
            character.is_alphanumeric() || matches!(character, ' ' | '-' | '_' | '.')
        };
        if let Some(bad) = raw.chars().find(|character| !allowed(*character)) {
            return Err(ParseError::new(
                "name",
                format!("may contain letters, digits, space, `-`, `_` and `.`, not {bad:?}"),
            ));
        }
        Ok(AgentName(raw.to_owned()))
    }
}
string_newtype!(AgentName);

/// A semantic version (`MAJOR.MINOR.PATCH`, optional `-pre-release` and `+build`), as in
/// <https://semver.org>; numeric parts have no leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// Checks the rules above (and at most 64 bytes); a violation is an error on the
    /// `version` field. The text is kept as given, build metadata included.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = || {
            ParseError::new(
                "version",
                format!(
                    "`{}` is not a semantic version like 1.2.3",
                    raw.chars().take(40).collect::<String>()
                ),
            )
        };
        if raw.len() > 64 {
            return Err(invalid());
        }
        let (without_build, build) = match raw.split_once('+') {
            Some((head, build)) => (head, Some(build)),
            None => (raw, None),
        };
        let (core, pre_release) = match without_build.split_once('-') {
            Some((head, pre)) => (head, Some(pre)),
            None => (without_build, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        let is_number = |part: &&str| {
            !part.is_empty()
                && part.bytes().all(|byte| byte.is_ascii_digit())
                && (part.len() == 1 || !part.starts_with('0'))
        };
        if numbers.len() != 3 || !numbers.iter().all(is_number) {
            return Err(invalid());
        }
        let is_identifier_list = |list: &str| {
            list.split('.').all(|identifier| {
                !identifier.is_empty()
                    && identifier
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            })
        };
        if pre_release.is_some_and(|pre| !is_identifier_list(pre))
            || build.is_some_and(|build| !is_identifier_list(build))
        {
            return Err(invalid());
        }
        Ok(Version(raw.to_owned()))
    }
}
string_newtype!(Version);

/// A capability tag such as `json` or `text_processing`: 1 to 32 characters of lowercase
/// ASCII letters, digits, `_` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(String);

impl Capability {
    /// Checks the rules above; a violation is an error on the `capabilities` field.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let well_formed = (1..=32).contains(&raw.len())
            && raw.starts_with(|character: char| character.is_ascii_lowercase())
            && raw.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
            });
        if !well_formed {
            return Err(ParseError::new(
                "capabilities",
                format!(
                    "`{}` is not a capability: use 1 to 32 lowercase letters, digits, `_` or `-`",
                    raw.chars().take(40).collect::<String>()
                ),
            ));
        }
        Ok(Capability(raw.to_owned()))
    }
}
string_newtype!(Capability);

/// An agent's capabilities: at most 16 distinct tags, kept in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities(Vec<Capability>);

impl Capabilities {
    /// The most tags one agent may declare.
    pub const MAX: usize = 16;

    /// Parses each tag and drops repeats, keeping the first; more than [`MAX`](Self::MAX)
    /// tags (counted before repeats are dropped) is an error on the `capabilities` field.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, ParseError> {
        if raw.len() > Self::MAX {
            return Err(ParseError::new(
                "capabilities",
                format!("at most {} capabilities are allowed", Self::MAX),
            ));
        }
        let mut capabilities: Vec<Capability> = Vec::with_capacity(raw.len());
        for tag in raw {
            let capability = Capability::parse(tag.as_ref())?;
            if !capabilities.contains(&capability) {
                capabilities.push(capability);
            }
        }
        Ok(Capabilities(capabilities))
    }

    /// The tags in the order given, without repeats.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.0.iter()
    }

    /// Whether the agent declares `capability`.
    pub fn contains(&self, capability: &Capability) -> bool {
        self.0.contains(capability)
    }

    /// The tags as plain strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|tag| tag.0.clone()).collect()
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<String>::deserialize(deserializer)?;
        Capabilities::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Capabilities {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ArrayBuilder::new()
            .items(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String),
            )
            .max_items(Some(Capabilities::MAX))
            .examples([serde_json::json!(["json", "formatting"])])
            .into()
    }
}
impl utoipa::ToSchema for Capabilities {}

/// A price per task in US dollars with at most two decimals (the original `DECIMAL(10,2)`),
/// kept as whole cents so that arithmetic and comparisons are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price {
    cents: i64,
}

impl Price {
    /// The largest price `DECIMAL(10,2)` can hold.
    pub const MAX_CENTS: i64 = 9_999_999_999;

    /// A price of `cents` hundredths of a dollar, as the databases store it; negative or
    /// above [`MAX_CENTS`](Self::MAX_CENTS) is an error on the `price` field.
    pub fn from_cents(cents: i64) -> Result<Self, ParseError> {
        if !(0..=Self::MAX_CENTS).contains(&cents) {
            return Err(ParseError::new(
                "price",
                "must be between 0 and 99999999.99",
            ));
        }
        Ok(Price { cents })
    }

    /// Parses a decimal such as `0.02`, `3` or `12.5`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = || {
            ParseError::new(
                "price",
                format!(
                    "`{}` is not a price: use a non-negative amount with at most two decimals",
                    raw.chars().take(40).collect::<String>()
                ),
            )
        };
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 8
            || !digits(whole)
            || fraction.len() > 2
            || !digits(fraction)
        {
            return Err(invalid());
        }
        if raw.ends_with('.') {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let fraction_cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| invalid())? * 10,
            _ => fraction.parse().map_err(|_| invalid())?,
        };
        Price::from_cents(whole * 100 + fraction_cents)
    }

    /// The exact amount in hundredths of a dollar: never negative, at most
    /// [`MAX_CENTS`](Self::MAX_CENTS).
    pub fn cents(self) -> i64 {
        self.cents
    }

    /// The price as a JSON-friendly number of dollars, e.g. `0.02`.
    pub fn as_dollars(self) -> f64 {
        self.cents as f64 / 100.0
    }
}

impl fmt::Display for Price {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{:02}", self.cents / 100, self.cents % 100)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_dollars())
    }
}

impl<'de> Deserialize<'de> for Price {
    /// Accepts a JSON number (`0.02`) or a string (`"0.02"`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(serde_json::Number),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Number(number) => number.to_string(),
            Raw::Text(text) => text,
        };
        Price::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Price {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(0.0))
            .description(Some("Price per task in USD, at most two decimals."))
            .examples([serde_json::json!(0.02)])
            .into()
    }
}
impl utoipa::ToSchema for Price {}

/// A SHA-256 digest as 64 lowercase hex digits: how agent binaries are named and verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(String);

impl Sha256 {
    /// Accepts exactly 64 lowercase hex digits (uppercase is rejected, so one digest has
    /// one spelling); a violation is an error on the `sha256` field.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let well_formed = raw.len() == 64
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        if !well_formed {
            return Err(ParseError::new(
                "sha256",
                "must be 64 lowercase hexadecimal digits",
            ));
        }
        Ok(Sha256(raw.to_owned()))
    }

    /// The digest of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        Sha256(hex::encode(sha2::Sha256::digest(bytes)))
    }

    /// The digest a finished hasher computed.
    pub fn from_hasher(hasher: sha2::Sha256) -> Self {
        Sha256(hex::encode(hasher.finalize()))
    }
}
string_newtype!(Sha256);

/// A login name: 3 to 32 characters of ASCII letters, digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Checks the rules above; a violation is an error on the `username` field.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let well_formed = (3..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'));
        if !well_formed {
            return Err(ParseError::new(
                "username",
                "must be 3 to 32 characters of letters, digits, `_`, `-` or `.`",
            ));
        }
        Ok(Username(raw.to_owned()))
    }
}
string_newtype!(Username);

/// A client's `Idempotency-Key`: 1 to 255 characters of printable ASCII (a UUID, say).
/// The same user sending the same key within a day gets the task the first request made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The most characters a key may have.
    pub const MAX_LENGTH: usize = 255;

    /// Checks the rules above; a violation is an error on the `Idempotency-Key` header.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let well_formed = (1..=Self::MAX_LENGTH).contains(&raw.len())
            && raw.bytes().all(|byte| (b' '..=b'~').contains(&byte))
            && raw.trim() == raw;
        if !well_formed {
            return Err(ParseError::new(
                "Idempotency-Key",
                "must be 1 to 255 characters of printable ASCII, without leading or trailing spaces",
            ));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }
}
string_newtype!(IdempotencyKey);

/// A password as typed: 8 to 256 characters. Never printed, never stored.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks the length only, counted in characters, not bytes; a violation is an error on
    /// the `password` field that never repeats the password.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let length = raw.chars().count();
        if !(8..=256).contains(&length) {
            return Err(ParseError::new(
                "password",
                "must be 8 to 256 characters long",
            ));
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing or verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Password::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Password,
            )))
            .min_length(Some(8))
            .into()
    }
}
impl utoipa::ToSchema for Password {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idempotency_key_is_printable_ascii_of_at_most_255_characters() {
        for good in [
            "a",
            "9f1c2d4e-1111-4a2b-8c3d-0123456789ab",
            &"k".repeat(255),
        ] {
            assert!(IdempotencyKey::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " padded",
            "padded ",
            "tab\there",
            "clé",
            &"k".repeat(256),
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_version_that_is_not_semver_is_rejected() {
        for bad in [
            "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "v1.2.3", "1.2.3-", "1.2.3+", "",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn semver_versions_with_pre_release_and_build_are_accepted() {
        for good in [
            "0.1.0",
            "1.2.3",
            "10.20.30",
            "1.0.0-alpha.1",
            "1.0.0+build.5",
            "1.0.0-rc-1+sha.abc",
        ] {
            assert!(Version::parse(good).is_ok(), "{good} should be accepted");
        }
    }

    #[test]
    fn prices_are_exact_cents() {
        assert_eq!(Price::parse("0.02").unwrap().cents(), 2);
        assert_eq!(Price::parse("12.5").unwrap().cents(), 1250);
        assert_eq!(Price::parse("3").unwrap().cents(), 300);
        assert_eq!(Price::parse("0.02").unwrap().to_string(), "0.02");
    }

    #[test]
    fn a_negative_or_too_precise_price_is_rejected() {
        for bad in ["-1", "0.001", "1e3", "abc", "", ".5", "5.", "123456789.00"] {
            assert!(Price::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn a_price_deserializes_from_a_number_or_a_string() {
        let from_number: Price = serde_json::from_str("0.25").unwrap();
        let from_string: Price = serde_json::from_str("\"0.25\"").unwrap();
        assert_eq!(from_number, from_string);
        assert_eq!(serde_json::to_string(&from_number).unwrap(), "0.25");
    }

    #[test]
    fn capabilities_are_deduplicated_and_bounded() {
        let capabilities = Capabilities::parse(&["json", "json", "text"]).unwrap();
        assert_eq!(capabilities.to_strings(), vec!["json", "text"]);
        let too_many: Vec<String> = (0..17).map(|index| format!("tag{index}")).collect();
        assert!(Capabilities::parse(&too_many).is_err());
        assert!(Capabilities::parse(&["Upper"]).is_err());
        assert!(Capabilities::parse(&["has space"]).is_err());
    }

    #[test]
    fn a_digest_is_lowercase_hex_of_sha256() {
        let digest = Sha256::digest(b"abc");
        assert_eq!(
            digest.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(Sha256::parse(&digest.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn agent_names_reject_control_characters_and_padding() {
        assert!(AgentName::parse("JSON Formatter 2").is_ok());
        assert!(AgentName::parse(" padded").is_err());
        assert!(AgentName::parse("new\nline").is_err());
        assert!(AgentName::parse("").is_err());
    }

    #[test]
    fn a_password_is_never_printed() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
