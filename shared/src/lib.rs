//! The chatting service's domain and use cases, shared by every Lambda function and the
//! local gateway.
//!
//! - [`domain`]: ids and bounded strings that parse (`UserId`, `Nick`, `RoomTitle`, …), message
//!   kinds and history bounds.
//! - [`protocol`]: the wire contract of PROTOCOL.md: codes, frames, commands, events, shapes.
//! - [`auth`]: argon2id password hashes, JWT access tokens, refresh-token hashing.
//! - [`store`]: durable data behind the [`store::Store`] trait (MySQL-compatible, SQLite or
//!   DynamoDB).
//! - [`presence`]: who is connected where, behind [`presence::Presence`] (Redis, DynamoDB or
//!   memory).
//! - `dynamodb`: the DynamoDB profile's table, client and request toolkit, shared by its store
//!   and presence.
//! - [`push`]: frames to connections through API Gateway's Management API.
//! - [`service`]: the use cases, which turn commands into replies and events;
//!   [`websocket_event`]: reading API Gateway WebSocket events and answering them.
//! - [`metrics`]: counters of SQL statements, Redis round trips and pushes per request.
//! - [`config`]: the environment read once into typed settings (store and presence profiles,
//!   limits, the local gateway's own); [`aws`]: AWS keys, region and endpoints, the secret
//!   parts wrapped; [`startup`]: clients built once per cold start; [`clock`]: time as the
//!   wire shows it.

pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod metrics;
pub mod presence;
pub mod protocol;
pub mod push;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod service;
pub mod sigv4;
pub mod startup;
pub mod store;
pub mod websocket_event;
