//! The DynamoDB profile's toolkit, shared by [`crate::store::dynamodb`] and
//! [`crate::presence::dynamodb`], which keep only their item layouts and algorithms:
//!
//! - [`table`]: the one table and the client that reaches it, and `ensure_table`;
//! - [`codec`]: items, keys and attribute values, and reading attributes back;
//! - [`expression`]: `#name` / `:value` placeholders derived from the expressions themselves;
//! - [`write`]: conditional writes, alone or in one `TransactWriteItems`, and what a refused
//!   or cancelled one reports;
//! - [`read`]: batch gets answered in the order asked, and queries of one partition that
//!   follow pages;
//! - [`backoff`]: the pause before another attempt after a lost race.
//!
//! Single-table design: every item has a string partition key `pk` and a string sort key
//! `sk`; expiring items carry `ttl` in epoch seconds. Every access pattern of the store and
//! presence is a key lookup, a query of one partition, or a transaction over known keys, so
//! the table needs no secondary index (docs/deploy.md lists the item layout).

use aws_sdk_dynamodb::error::DisplayErrorContext;

pub mod backoff;
pub mod codec;
pub mod expression;
pub mod read;
pub mod table;
pub mod write;

pub use backoff::backoff;
pub use codec::{Item, ItemExt};
pub use table::{Quiet, Table, client, delete_table, ensure_table};

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Expiry attribute (epoch seconds) that the table's TTL is enabled on.
pub const TTL: &str = "ttl";

#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    #[error("dynamodb {operation}: {message}")]
    Request { operation: &'static str, message: String },
    #[error("table {0} did not become active")]
    NotActive(String),
    #[error("stored item does not parse: {0}")]
    Corrupt(String),
    #[error("dynamodb {operation}: still contended after {attempts} attempts")]
    Contended { operation: &'static str, attempts: u32 },
}

impl DynamoError {
    /// The SDK error with its whole source chain, which is where the service's message is.
    pub fn request<E>(operation: &'static str, err: E) -> Self
    where
        E: std::error::Error + 'static,
    {
        Self::Request { operation, message: DisplayErrorContext(&err).to_string() }
    }

    /// A stored item (or a value in it) that does not read as what it should be.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}
