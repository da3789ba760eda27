//! Items as the SDK holds them: building keys and attribute values, and reading attributes
//! back, a missing or malformed one reported as [`DynamoError::Corrupt`] where the caller
//! needs it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoError, PK, SK};

/// One item, or one key, as the SDK takes and returns it.
pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Numbers travel as their decimal text.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string set of one member (DynamoDB has no empty sets).
pub fn one_member_set(member: impl Into<String>) -> AttributeValue {
    AttributeValue::Ss(vec![member.into()])
}

/// The key of the item at `pk` / `sk`; an item starts as its key plus attributes.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// Reading an item's attributes.
pub trait ItemExt {
    /// A string attribute; `None` when absent or not a string.
    fn string(&self, name: &str) -> Option<&str>;
    /// A number attribute as a whole number; `None` when absent, `Corrupt` when not whole.
    fn number(&self, name: &str) -> Result<Option<i64>, DynamoError>;
    /// A string set attribute; empty when absent.
    fn string_set(&self, name: &str) -> &[String];

    fn required_string(&self, name: &str) -> Result<&str, DynamoError> {
        self.string(name).ok_or_else(|| DynamoError::corrupt(format!("{name} missing")))
    }

    fn required_number(&self, name: &str) -> Result<i64, DynamoError> {
        self.number(name)?.ok_or_else(|| DynamoError::corrupt(format!("{name} missing")))
    }
}

impl ItemExt for Item {
    fn string(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(AttributeValue::S(value)) => Some(value),
            _ => None,
        }
    }

    fn number(&self, name: &str) -> Result<Option<i64>, DynamoError> {
        match self.get(name) {
            Some(AttributeValue::N(raw)) => {
                raw.parse().map(Some).map_err(|_| DynamoError::corrupt(format!("{name} is not a whole number")))
            }
            _ => Ok(None),
        }
    }

    fn string_set(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(AttributeValue::Ss(members)) => members,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_back_as_written() {
        let mut item = key("ROOM#1", "META");
        item.insert("seq".into(), n(42));
        item.insert("bad".into(), n("4.5"));
        item.insert("conns".into(), one_member_set("c1"));
        assert_eq!(item.string(PK), Some("ROOM#1"));
        assert_eq!(item.number("seq").unwrap(), Some(42));
        assert_eq!(item.number("absent").unwrap(), None);
        assert!(matches!(item.number("bad"), Err(DynamoError::Corrupt(_))));
        assert!(matches!(item.required_string("absent"), Err(DynamoError::Corrupt(_))));
        assert_eq!(item.string_set("conns"), ["c1"]);
        assert!(item.string_set("absent").is_empty());
    }
}
