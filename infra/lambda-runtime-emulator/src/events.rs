//! Events as API Gateway sends them to the functions, built from the bundled `events/*.json`
//! (the shapes of the AWS documentation's examples) with fresh ids and times.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

const HTTP_HEALTH: &str = include_str!("../../../events/http-health.json");
const HTTP_LOGIN: &str = include_str!("../../../events/http-login.json");
const WS_CONNECT: &str = include_str!("../../../events/ws-connect.json");
const WS_MESSAGE: &str = include_str!("../../../events/ws-message.json");
const WS_DISCONNECT: &str = include_str!("../../../events/ws-disconnect.json");

static NEXT: AtomicU64 = AtomicU64::new(0);

fn sample(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_default()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `24/May/2024:19:52:20 +0000`, API Gateway's `requestTime` / `time`.
fn request_time(at: OffsetDateTime) -> String {
    at.format(format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000")).unwrap_or_default()
}

/// A 16-character id in the alphabet of API Gateway's request and connection ids.
fn id(prefix: char) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::from(now().nanosecond());
    format!("{prefix}{:014X}=", (nanos << 16 | (n & 0xffff)) & 0xff_ffff_ffff_ffff)
}

/// A connection id no other connection of this process has.
pub fn connection_id() -> String {
    id('C')
}

/// An HTTP API (payload format 2.0) request on the `auth-http` routes: `GET /health` or
/// `ANY /auth/{proxy+}`.
pub fn http(method: &str, path: &str, body: Option<&str>, bearer: Option<&str>) -> Value {
    let at = now();
    let health = path == "/health";
    let mut event = sample(if health { HTTP_HEALTH } else { HTTP_LOGIN });
    let route_key = if health { "GET /health".to_owned() } else { "ANY /auth/{proxy+}".to_owned() };
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["requestId"] = json!(id('R'));
    event["requestContext"]["time"] = json!(request_time(at));
    event["requestContext"]["timeEpoch"] = json!(epoch_ms(at));
    if let Some(proxy) = path.strip_prefix("/auth/") {
        event["pathParameters"] = json!({ "proxy": proxy });
    }
    let headers = &mut event["headers"];
    headers["content-length"] = json!(body.map_or(0, str::len).to_string());
    if let Some(token) = bearer {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    match body {
        Some(body) => event["body"] = json!(body),
        None => {
            if let Some(fields) = event.as_object_mut() {
                fields.remove("body");
            }
        }
    }
    event
}

fn websocket(sample_json: &str, connection_id: &str, connected_at_ms: i64) -> Value {
    let at = now();
    let mut event = sample(sample_json);
    let context = &mut event["requestContext"];
    context["connectionId"] = json!(connection_id);
    context["connectedAt"] = json!(connected_at_ms);
    context["requestTime"] = json!(request_time(at));
    context["requestTimeEpoch"] = json!(epoch_ms(at));
    let request = id('R');
    context["requestId"] = json!(request);
    context["extendedRequestId"] = json!(request);
    event
}

/// `$connect` (`CONNECT`), with `?token=` when `token` is given.
pub fn ws_connect(connection_id: &str, token: Option<&str>) -> Value {
    let mut event = websocket(WS_CONNECT, connection_id, epoch_ms(now()));
    match token {
        Some(token) => {
            event["queryStringParameters"] = json!({ "token": token });
            event["multiValueQueryStringParameters"] = json!({ "token": [token] });
        }
        None => {
            if let Some(fields) = event.as_object_mut() {
                fields.remove("queryStringParameters");
                fields.remove("multiValueQueryStringParameters");
            }
        }
    }
    event
}

/// A text frame on `$default` (`MESSAGE`).
pub fn ws_message(connection_id: &str, connected_at_ms: i64, body: &str) -> Value {
    let mut event = websocket(WS_MESSAGE, connection_id, connected_at_ms);
    event["requestContext"]["messageId"] = json!(id('M'));
    event["body"] = json!(body);
    event
}

/// `$disconnect` (`DISCONNECT`): the client went away (close code 1001).
pub fn ws_disconnect(connection_id: &str, connected_at_ms: i64) -> Value {
    websocket(WS_DISCONNECT, connection_id, connected_at_ms)
}

/// The current time as the events carry it, for `connected_at_ms`.
pub fn now_ms() -> i64 {
    epoch_ms(now())
}
