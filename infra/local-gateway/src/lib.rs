//! The local gateway: one process that behaves like API Gateway around the function
//! handlers, so the whole service runs on a laptop and in tests with no AWS account.
//!
//! - [`server`]: the router (HTTP API, WebSocket API, Management API, web client) and
//!   [`serve`], which takes a bound listener and a shutdown future.
//! - [`events`]: API Gateway's event payloads, built as API Gateway builds them.
//! - [`websocket`]: a connection's life: `$connect`, `$default` per frame, `$disconnect`.
//! - [`connections`]: the open connections, which the Management API writes to.

pub mod connections;
pub mod events;
pub mod server;
pub mod sigv4;
pub mod websocket;

pub use chatting_shared::config::PushMode;
pub use server::{Gateway, GatewayOptions, build, serve, start};
