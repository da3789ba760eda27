//! What the black-box tests and the benchmarks drive: a real local gateway on a random port,
//! a real HTTP client and real WebSocket clients that speak PROTOCOL.md.
//!
//! - [`backends`]: where a test keeps its data. `CHATTING_TEST_BACKEND=mysql` runs the same
//!   tests on MariaDB + Redis (fresh database and key prefix per test),
//!   `CHATTING_TEST_BACKEND=dynamodb` on a DynamoDB emulator (fresh table per test); the
//!   default is the embedded SQLite file + in-process presence.
//! - [`server`]: [`TestServer`], a gateway on those backends, and the HTTP calls to it.
//! - [`client`]: [`Client`], one WebSocket connection that waits for replies and queues events.
//! - [`raw_http`]: whole HTTP requests read off a socket, for tests that play an endpoint.
//!
//! Outside `tests/` so that `chatting-bench` measures the service through the same code the
//! tests check it with, without depending on the test crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub mod backends;
pub mod client;
pub mod raw_http;
pub mod server;

pub use backends::{
    Backend, DYNAMODB_ENDPOINT, MYSQL_ADMIN_URL, MYSQL_TLS_PORT, REDIS_TLS_PORT, REDIS_URL, dynamodb_endpoint,
    dynamodb_items, fresh_dynamodb_table, fresh_mysql_database, tls_dir,
};
pub use client::{Client, handshake_status, handshake_status_from};
pub use server::{Session, TestServer, forget_connection};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A name no other test in this run (or an earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}{}_{n}_{}", std::process::id() % 10_000, nanos % 100_000)
}
