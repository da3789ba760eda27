//! API Gateway's event payloads, made the way API Gateway makes them: as JSON, then read by
//! the same `aws_lambda_events` / `lambda_http` code that reads them in Lambda.

use std::collections::HashMap;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use base64::Engine as _;
use chatting_shared::clock::now_ms;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// API Gateway's `requestTime`, e.g. `25/Nov/2026:22:00:26 +0000`.
fn request_time(epoch_ms: i64) -> String {
    let format = format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    OffsetDateTime::from_unix_timestamp(epoch_ms / 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

pub fn request_id() -> String {
    chatting_shared::auth::random_token().unwrap_or_default().chars().take(20).collect()
}

/// What one WebSocket connection looked like at its handshake.
#[derive(Debug, Clone)]
pub struct WebSocketContext {
    pub connection_id: String,
    pub connected_at_ms: i64,
    pub domain_name: String,
    pub stage: String,
    pub source_ip: String,
    pub user_agent: String,
}

pub enum WebSocketRoute<'a> {
    Connect { headers: &'a HashMap<String, String>, query: &'a HashMap<String, String> },
    Message { body: &'a str, binary: bool },
    Disconnect { status_code: u16, reason: &'a str },
}

pub fn websocket_event(context: &WebSocketContext, route: WebSocketRoute<'_>) -> ApiGatewayWebsocketProxyRequest {
    let now = now_ms();
    let (route_key, event_type) = match route {
        WebSocketRoute::Connect { .. } => ("$connect", "CONNECT"),
        WebSocketRoute::Message { .. } => ("$default", "MESSAGE"),
        WebSocketRoute::Disconnect { .. } => ("$disconnect", "DISCONNECT"),
    };
    let mut request_context = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id(),
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": context.stage,
        "connectedAt": context.connected_at_ms,
        "requestTimeEpoch": now,
        "identity": { "sourceIp": context.source_ip, "userAgent": context.user_agent },
        "requestId": request_id(),
        "domainName": context.domain_name,
        "connectionId": context.connection_id,
        "apiId": "local",
    });
    let mut event = json!({ "requestContext": Value::Null, "isBase64Encoded": false });
    match route {
        WebSocketRoute::Connect { headers, query } => {
            let multi_headers: HashMap<&String, [&String; 1]> = headers.iter().map(|(k, v)| (k, [v])).collect();
            let multi_query: HashMap<&String, [&String; 1]> = query.iter().map(|(k, v)| (k, [v])).collect();
            event["headers"] = json!(headers);
            event["multiValueHeaders"] = json!(multi_headers);
            if !query.is_empty() {
                event["queryStringParameters"] = json!(query);
                event["multiValueQueryStringParameters"] = json!(multi_query);
            }
        }
        WebSocketRoute::Message { body, binary } => {
            request_context["messageId"] = json!(request_id());
            event["body"] = json!(body);
            event["isBase64Encoded"] = json!(binary);
        }
        WebSocketRoute::Disconnect { status_code, reason } => {
            request_context["disconnectStatusCode"] = json!(status_code);
            request_context["disconnectReason"] = json!(reason);
        }
    }
    event["requestContext"] = request_context;
    // The JSON above has every field the type requires, so this only fails on a bug here.
    serde_json::from_value(event).unwrap_or_default()
}

/// An HTTP API (payload format 2.0) event for one request.
pub struct HttpRequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HashMap<String, String>,
    pub body: &'a [u8],
    pub source_ip: &'a str,
    pub domain_name: &'a str,
}

pub fn http_event_json(parts: &HttpRequestParts<'_>) -> String {
    let now = now_ms();
    let (body, is_base64) = match std::str::from_utf8(parts.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(parts.body), true),
    };
    let query: HashMap<String, String> = parts
        .raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let user_agent = parts.headers.get("user-agent").cloned().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.raw_query,
        "headers": parts.headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": parts.domain_name,
            "domainPrefix": "local",
            "http": {
                "method": parts.method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": parts.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(now),
            "timeEpoch": now,
        },
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !parts.body.is_empty() {
        event["body"] = json!(body);
    }
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> WebSocketContext {
        WebSocketContext {
            connection_id: "abc123".into(),
            connected_at_ms: 1_700_000_000_000,
            domain_name: "127.0.0.1:3000".into(),
            stage: "local".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        }
    }

    #[test]
    fn connect_event_carries_token_and_connection() {
        let query = HashMap::from([("token".to_owned(), "t0k".to_owned())]);
        let headers = HashMap::from([("host".to_owned(), "localhost".to_owned())]);
        let event = websocket_event(&context(), WebSocketRoute::Connect { headers: &headers, query: &query });
        assert_eq!(event.request_context.route_key.as_deref(), Some("$connect"));
        assert_eq!(event.request_context.event_type.as_deref(), Some("CONNECT"));
        assert_eq!(event.request_context.connection_id.as_deref(), Some("abc123"));
        assert_eq!(event.request_context.connected_at, 1_700_000_000_000);
        assert!(event.request_context.request_time_epoch >= event.request_context.connected_at);
        assert_eq!(event.query_string_parameters.first("token"), Some("t0k"));
    }

    #[test]
    fn message_and_disconnect_events() {
        let event =
            websocket_event(&context(), WebSocketRoute::Message { body: "{\"action\":\"ping\"}", binary: false });
        assert_eq!(event.request_context.route_key.as_deref(), Some("$default"));
        assert_eq!(event.body.as_deref(), Some("{\"action\":\"ping\"}"));
        let event = websocket_event(&context(), WebSocketRoute::Disconnect { status_code: 1001, reason: "Going away" });
        assert_eq!(event.request_context.event_type.as_deref(), Some("DISCONNECT"));
        assert_eq!(event.request_context.disconnect_status_code, Some(1001));
    }

    #[test]
    fn http_event_reads_as_a_lambda_http_request() {
        let headers = HashMap::from([("content-type".to_owned(), "application/json".to_owned())]);
        let json = http_event_json(&HttpRequestParts {
            method: "POST",
            path: "/auth/login",
            raw_query: "a=1",
            headers: &headers,
            body: b"{\"userId\":\"x\"}",
            source_ip: "127.0.0.1",
            domain_name: "localhost",
        });
        let request = lambda_http::request::from_str(&json).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/auth/login");
        assert!(matches!(request.body(), lambda_http::Body::Text(text) if text.contains("userId")));
    }
}
