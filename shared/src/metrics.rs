//! Process-wide counters of the work a request causes, for `/metrics` and the benchmarks:
//! how many SQL statements, Redis round trips, DynamoDB requests and Management API calls one `chat.send`
//! costs. Relaxed atomics: they are statistics, not synchronization.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// SQL statements sent to the store (`BEGIN` and `COMMIT` included).
pub static STORE_STATEMENTS: Counter = Counter::new();
/// Requests to Redis (one script or one pipeline is one round trip).
pub static REDIS_ROUND_TRIPS: Counter = Counter::new();
/// Requests sent to DynamoDB (each attempt, retries included: each is billed).
pub static DYNAMODB_REQUESTS: Counter = Counter::new();
/// `PostToConnection` calls made through the Management API.
pub static MANAGEMENT_API_CALLS: Counter = Counter::new();
/// Frames handed straight to a connection by the in-process pusher.
pub static DIRECT_PUSHES: Counter = Counter::new();
/// `chat.send` frames handled (any outcome).
pub static CHAT_SENDS: Counter = Counter::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub store_statements: u64,
    pub redis_round_trips: u64,
    pub dynamodb_requests: u64,
    pub management_api_calls: u64,
    pub direct_pushes: u64,
    pub chat_sends: u64,
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        store_statements: STORE_STATEMENTS.get(),
        redis_round_trips: REDIS_ROUND_TRIPS.get(),
        dynamodb_requests: DYNAMODB_REQUESTS.get(),
        management_api_calls: MANAGEMENT_API_CALLS.get(),
        direct_pushes: DIRECT_PUSHES.get(),
        chat_sends: CHAT_SENDS.get(),
    }
}
