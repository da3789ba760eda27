//! Black-box test support. The gateway, its backends and the WebSocket client come from
//! `chatting-harness` (infra/harness), re-exported here under the names the tests use; what
//! only tests need lives in this crate:
//!
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

pub use serde_json;

pub mod checks;
pub mod fault_proxy;
pub mod raw_ws;

pub use chatting_harness::{
    Backend, Client, DYNAMODB_ENDPOINT, MYSQL_ADMIN_URL, MYSQL_TLS_PORT, REDIS_TLS_PORT, REDIS_URL, Session,
    TestServer, WAIT, backends, client, dynamodb_endpoint, dynamodb_items, forget_connection, fresh_dynamodb_table,
    fresh_mysql_database, handshake_status, handshake_status_from, server, tls_dir, unique,
};
pub use checks::{count_panics, panics, user_ids};
pub use fault_proxy::FaultProxy;
pub use raw_ws::RawWs;
