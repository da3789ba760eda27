//! Process-wide counters of the work a request causes, for `/metrics` and the benchmarks:
//! how many SQL statements, Redis round trips, DynamoDB requests and Management API calls one `chat.send`
//! costs, and per action how many ran, failed and how long they took. Relaxed atomics: they
//! are statistics, not synchronization. Locally `/metrics` shows them (Prometheus text or
//! JSON); in Lambda each invocation writes what it added as one CloudWatch Embedded Metric
//! Format line ([`emf_line`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

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
/// Connections a push found gone (410) and purged.
pub static GONE_CONNECTIONS: Counter = Counter::new();
/// Requests answered `error`: the service failed (a backend down, a bug), not the client.
pub static FAILURES: Counter = Counter::new();

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub store_statements: u64,
    pub redis_round_trips: u64,
    pub dynamodb_requests: u64,
    pub management_api_calls: u64,
    pub direct_pushes: u64,
    pub chat_sends: u64,
    pub gone_connections: u64,
    pub failures: u64,
}

impl Snapshot {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            store_statements: self.store_statements.saturating_sub(earlier.store_statements),
            redis_round_trips: self.redis_round_trips.saturating_sub(earlier.redis_round_trips),
            dynamodb_requests: self.dynamodb_requests.saturating_sub(earlier.dynamodb_requests),
            management_api_calls: self.management_api_calls.saturating_sub(earlier.management_api_calls),
            direct_pushes: self.direct_pushes.saturating_sub(earlier.direct_pushes),
            chat_sends: self.chat_sends.saturating_sub(earlier.chat_sends),
            gone_connections: self.gone_connections.saturating_sub(earlier.gone_connections),
            failures: self.failures.saturating_sub(earlier.failures),
        }
    }

    /// Name, value and help of each counter, in one order for every format.
    fn counters(&self) -> [(&'static str, u64, &'static str); 8] {
        [
            ("store_statements", self.store_statements, "SQL statements sent to the store"),
            ("redis_round_trips", self.redis_round_trips, "requests to Redis"),
            ("dynamodb_requests", self.dynamodb_requests, "requests to DynamoDB, retries included"),
            ("management_api_calls", self.management_api_calls, "PostToConnection calls through the Management API"),
            ("direct_pushes", self.direct_pushes, "frames handed to a connection in-process"),
            ("chat_sends", self.chat_sends, "chat.send frames handled"),
            ("gone_connections", self.gone_connections, "connections a push found gone (410) and purged"),
            ("failures", self.failures, "requests answered error (the service failed)"),
        ]
    }
}

/// One action's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionStats {
    pub count: u64,
    pub failures: u64,
    pub seconds: f64,
}

/// Per action name (one of [`crate::protocol::ACTIONS`], or `unknown`).
static ACTIONS: Mutex<BTreeMap<&'static str, ActionStats>> = Mutex::new(BTreeMap::new());

/// `action` as a metrics label: its own name when it is one of [`crate::protocol::ACTIONS`],
/// else `unknown`.
pub fn action_label(action: &str) -> &'static str {
    crate::protocol::ACTIONS.iter().copied().find(|known| *known == action).unwrap_or("unknown")
}

/// The action handled since `before` was taken (an invocation of `ws-message` handles one
/// frame); `None` when no frame was.
pub fn action_since(before: &BTreeMap<&'static str, ActionStats>) -> Option<&'static str> {
    actions()
        .into_iter()
        .find(|(action, now)| before.get(action).map_or(0, |then| then.count) < now.count)
        .map(|(action, _)| action)
}

/// Counts one handled frame of `action`: how long it took and whether it failed (`error`).
pub fn record_action(action: &str, took: Duration, failed: bool) {
    let label = action_label(action);
    if let Ok(mut actions) = ACTIONS.lock() {
        let stats = actions.entry(label).or_default();
        stats.count += 1;
        stats.failures += u64::from(failed);
        stats.seconds += took.as_secs_f64();
    }
    if failed {
        FAILURES.add(1);
    }
}

pub fn actions() -> BTreeMap<&'static str, ActionStats> {
    ACTIONS.lock().map(|actions| actions.clone()).unwrap_or_default()
}

/// The Prometheus text exposition of `snapshot`, the per-action totals and `gauges`.
pub fn prometheus(
    snapshot: &Snapshot,
    actions: &BTreeMap<&'static str, ActionStats>,
    gauges: &[(&str, u64, &str)],
) -> String {
    let mut text = String::new();
    for (name, value, help) in snapshot.counters() {
        let _ = writeln!(
            text,
            "# HELP chatting_{name}_total {help}\n# TYPE chatting_{name}_total counter\nchatting_{name}_total {value}"
        );
    }
    for (name, value, help) in gauges {
        let _ = writeln!(text, "# HELP chatting_{name} {help}\n# TYPE chatting_{name} gauge\nchatting_{name} {value}");
    }
    let _ = writeln!(
        text,
        "# HELP chatting_action_seconds time to answer one frame, per action\n# TYPE chatting_action_seconds summary"
    );
    for (action, stats) in actions {
        let _ = writeln!(text, "chatting_action_seconds_sum{{action=\"{action}\"}} {}", stats.seconds);
        let _ = writeln!(text, "chatting_action_seconds_count{{action=\"{action}\"}} {}", stats.count);
    }
    let _ = writeln!(
        text,
        "# HELP chatting_action_failures_total frames of an action answered error\n# TYPE chatting_action_failures_total counter"
    );
    for (action, stats) in actions {
        let _ = writeln!(text, "chatting_action_failures_total{{action=\"{action}\"}} {}", stats.failures);
    }
    text
}

/// One CloudWatch Embedded Metric Format record of one invocation of `function`: the
/// counters it added (`added`), its latency in milliseconds, and its action when it
/// handled a frame. CloudWatch turns the line into metrics in namespace `chatting`, per
/// function and per function and action.
pub fn emf_line(function: &str, action: Option<&str>, took: Duration, added: &Snapshot, timestamp_ms: i64) -> String {
    let action = action.map(action_label);
    let mut dimensions = vec![json!(["Function"])];
    let mut record = json!({ "Function": function, "Latency": took.as_secs_f64() * 1000.0 });
    if let Some(action) = action {
        dimensions.push(json!(["Function", "Action"]));
        record["Action"] = json!(action);
    }
    let mut metrics = vec![json!({ "Name": "Latency", "Unit": "Milliseconds" })];
    for (name, value, _) in added.counters() {
        let name = metric_name(name);
        metrics.push(json!({ "Name": name, "Unit": "Count" }));
        record[name.as_str()] = json!(value);
    }
    record["_aws"] = json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{ "Namespace": "chatting", "Dimensions": dimensions, "Metrics": metrics }],
    });
    Value::to_string(&record)
}

/// `gone_connections` → `GoneConnections`.
fn metric_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        store_statements: STORE_STATEMENTS.get(),
        redis_round_trips: REDIS_ROUND_TRIPS.get(),
        dynamodb_requests: DYNAMODB_REQUESTS.get(),
        management_api_calls: MANAGEMENT_API_CALLS.get(),
        direct_pushes: DIRECT_PUSHES.get(),
        chat_sends: CHAT_SENDS.get(),
        gone_connections: GONE_CONNECTIONS.get(),
        failures: FAILURES.get(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_of_an_invocation_is_read_off_the_per_action_counts() {
        let before = actions();
        assert_eq!(action_since(&before), None, "nothing handled");
        record_action("chat.send", Duration::from_millis(2), false);
        assert_eq!(action_since(&before), Some("chat.send"));
        let before = actions();
        record_action("drop table", Duration::ZERO, false);
        assert_eq!(action_since(&before), Some("unknown"), "a client's own name is not a label");
    }

    #[test]
    fn an_emf_record_declares_each_metric_it_gives_per_function_and_action() {
        let added =
            Snapshot { store_statements: 3, redis_round_trips: 1, management_api_calls: 4, ..Snapshot::default() };
        let line = emf_line("ws-message", Some("chat.send"), Duration::from_micros(12_500), &added, 1_764_000_000_000);
        let record: Value = serde_json::from_str(&line).unwrap();
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "chatting");
        assert_eq!(directive["Dimensions"], json!([["Function"], ["Function", "Action"]]));
        assert_eq!((record["Function"].as_str(), record["Action"].as_str()), (Some("ws-message"), Some("chat.send")));
        assert_eq!(record["_aws"]["Timestamp"], 1_764_000_000_000i64);
        assert_eq!(record["Latency"], 12.5);
        assert_eq!((record["StoreStatements"].as_u64(), record["ManagementApiCalls"].as_u64()), (Some(3), Some(4)));
        let declared: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert!(
            declared.contains(&"GoneConnections") && declared.contains(&"Failures") && declared.contains(&"Latency")
        );
        // A client's own action name is not a label.
        let odd = emf_line("ws-message", Some("drop table"), Duration::ZERO, &added, 0);
        assert_eq!(serde_json::from_str::<Value>(&odd).unwrap()["Action"], "unknown");
    }
}
