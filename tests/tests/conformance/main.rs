//! The conformance suites: one set of tests, written once, that every `Store` and every
//! `Presence` implementation must pass.

/// Runs each named `async fn(Arc<dyn Store>)` of the invoking module on SQLite, MariaDB and
/// DynamoDB, each on a fresh database or table (the module provides `sqlite`, `mysql` and
/// `dynamodb`).
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $test() { super::$test(super::sqlite().await).await })*
        }
        mod on_mysql {
            $(#[tokio::test] async fn $test() { super::$test(super::mysql().await).await })*
        }
        mod on_dynamodb {
            $(#[tokio::test] async fn $test() { super::$test(super::dynamodb().await).await })*
        }
    };
}

mod dynamodb_lost_answers;
mod message_changes_conformance;
mod presence_conformance;
mod store_conformance;
mod store_upgrades;
