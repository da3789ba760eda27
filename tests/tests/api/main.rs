//! The service end to end: a local gateway on a random port, driven by real HTTP and
//! WebSocket clients, on the backends `CHATTING_TEST_BACKEND` picks. One binary for every
//! suite, so the AWS SDK and sqlx are linked once rather than once per file.

// What each part of the API does.
mod auth_http;
mod browser_facing;
mod chat;
mod conversations;
mod groups;
mod kick;
mod lobby;
mod message_changes;
mod online;
mod rooms;
mod typing;
mod users;

// What it withstands: bad input, attacks, dead connections, backend outages, many instances.
mod abuse_limits;
mod backend_faults;
mod bad_input;
mod dead_connections;
mod faults;
mod many_instances;
mod push_path;
mod reliability;
mod security;
