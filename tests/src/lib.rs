//! Black-box test support: a real local gateway on a random port, a real HTTP client and
//! real WebSocket clients that speak PROTOCOL.md.
//!
//! - [`backends`]: where a test keeps its data. `CHATTING_TEST_BACKEND=mysql` runs the same
//!   tests on MariaDB + Redis (fresh database and key prefix per test),
//!   `CHATTING_TEST_BACKEND=dynamodb` on a DynamoDB emulator (fresh table per test); the
//!   default is the embedded SQLite file + in-process presence.
//! - [`server`]: [`TestServer`], a gateway on those backends, and the HTTP calls to it.
//! - [`client`]: [`Client`], one WebSocket connection that waits for replies and queues events.
//! - [`raw_ws`]: [`RawWs`], a WebSocket on a socket the test owns, to end it the ways networks do.
//! - [`fault_proxy`]: [`FaultProxy`], a port in front of a backend that can stop answering.
//! - [`checks`]: panics counted across the process, the users of a list.
//!
//! The real function binaries run under the Lambda Runtime API emulator of
//! `infra/lambda-runtime-emulator`, outside this crate so that the benchmarks use it too.
//!
//! The test binaries group the suites by what they check: `tests/api` (the service end to
//! end through the gateway), `tests/conformance` (every store and presence backend against
//! one suite) and `tests/artefacts` (what is deployed: the template, the bundled events, the
//! function binaries under the emulated Runtime API).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use serde_json;

pub mod backends;
pub mod checks;
pub mod client;
pub mod fault_proxy;
pub mod raw_ws;
pub mod server;

pub use backends::{
    Backend, DYNAMODB_ENDPOINT, MYSQL_ADMIN_URL, MYSQL_TLS_PORT, REDIS_TLS_PORT, REDIS_URL, dynamodb_endpoint,
    dynamodb_items, fresh_dynamodb_table, fresh_mysql_database, tls_dir,
};
pub use checks::{count_panics, panics, user_ids};
pub use client::{Client, handshake_status, handshake_status_from};
pub use fault_proxy::FaultProxy;
pub use raw_ws::RawWs;
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
