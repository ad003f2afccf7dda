//! Ids: `agent_…`, `task_…` and `user_…` followed by a UUIDv7 in 32 hex digits when
//! generated (1 to 64 of `[A-Za-z0-9_-]` when parsed), checked once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ParseError;

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id (UUIDv7 under the prefix).
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Parses an id given by a client or read back from storage.
            ///
            /// Ids are the prefix followed by 1 to 64 characters of `[A-Za-z0-9_-]`: the
            /// generated ones are 32 hex digits, seeded or migrated ones may be shorter.
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                let Some(rest) = raw.strip_prefix($prefix) else {
                    return Err(ParseError::new($field, format!("must start with `{}`", $prefix)));
                };
                let well_formed = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
                if !well_formed {
                    return Err(ParseError::new(
                        $field,
                        format!("`{}` is not a valid id", raw.chars().take(80).collect::<String>()),
                    ));
                }
                Ok($name(raw.to_owned()))
            }

            /// The whole id, prefix included, as stored and sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, formatter)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(raw: &str) -> Result<Self, ParseError> {
                $name::parse(raw)
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
                    .examples([concat!($prefix, "0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// Identifies an agent: `agent_` followed by a UUIDv7.
    AgentId, "agent_", "agent_id"
);
prefixed_id!(
    /// Identifies a task (and its result): `task_` followed by a UUIDv7.
    TaskId, "task_", "task_id"
);
prefixed_id!(
    /// Identifies a user account: `user_` followed by a UUIDv7.
    UserId, "user_", "user_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_parses_back_to_itself() {
        let id = TaskId::generate();
        assert_eq!(TaskId::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.as_str().len(), "task_".len() + 32);
    }

    #[test]
    fn an_id_with_another_kinds_prefix_is_rejected() {
        let error = AgentId::parse("task_0192").unwrap_err();
        assert_eq!(error.field, "agent_id");
    }

    #[test]
    fn an_id_with_punctuation_is_rejected() {
        assert!(AgentId::parse("agent_../../etc").is_err());
        assert!(AgentId::parse("agent_").is_err());
        assert!(AgentId::parse(&format!("agent_{}", "a".repeat(65))).is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = TaskId::generate();
        let second = TaskId::generate();
        assert!(first < second);
    }
}
