//! The bundled events under `events/` (for `sam local invoke`) parse as the events the functions
//! receive in Lambda: HTTP API payload 2.0 through `lambda_http`'s own conversion (what
//! `auth-http`'s `lambda_http::run` does), WebSocket events as
//! `aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest` (what the `ws-*` functions take).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").join("events")
}

/// Every `events/*.json`, by file name.
fn events() -> BTreeMap<String, String> {
    let mut events = BTreeMap::new();
    for entry in std::fs::read_dir(events_dir()).expect("events/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            events.insert(name, std::fs::read_to_string(&path).expect("readable"));
        }
    }
    events
}

#[derive(Debug, PartialEq)]
enum Kind {
    Http,
    WebSocket,
}

/// An HTTP API 2.0 event says `"version": "2.0"`; a WebSocket event has `requestContext.eventType`.
fn kind(name: &str, text: &str) -> Kind {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
    match (&value["version"], &value["requestContext"]["eventType"]) {
        (Value::String(version), Value::Null) if version == "2.0" => Kind::Http,
        (Value::Null, Value::String(_)) => Kind::WebSocket,
        _ => panic!("{name}: neither an HTTP API 2.0 nor a WebSocket event"),
    }
}

fn websocket(name: &str) -> ApiGatewayWebsocketProxyRequest {
    let text = &events()[name];
    assert_eq!(kind(name, text), Kind::WebSocket);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn http(name: &str) -> lambda_http::Request {
    let text = &events()[name];
    assert_eq!(kind(name, text), Kind::Http);
    lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn body_json(request: &lambda_http::Request) -> Value {
    match request.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

#[test]
fn every_bundled_event_parses_as_its_function_sees_it() {
    let events = events();
    let names: Vec<&str> = events.keys().map(String::as_str).collect();
    for expected in [
        "http-health.json",
        "http-signup.json",
        "http-login.json",
        "ws-connect.json",
        "ws-message.json",
        "ws-disconnect.json",
    ] {
        assert!(names.contains(&expected), "events/{expected} is missing (have {names:?})");
    }
    for (name, text) in &events {
        match kind(name, text) {
            Kind::Http => {
                let request = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(matches!(request.request_context(), RequestContext::ApiGatewayV2(_)), "{name}");
            }
            Kind::WebSocket => {
                serde_json::from_str::<ApiGatewayWebsocketProxyRequest>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

#[test]
fn websocket_events_carry_what_api_gateway_sends() {
    let mut connection_ids = Vec::new();
    for (name, route_key, event_type) in [
        ("ws-connect.json", "$connect", "CONNECT"),
        ("ws-message.json", "$default", "MESSAGE"),
        ("ws-disconnect.json", "$disconnect", "DISCONNECT"),
    ] {
        let event = websocket(name);
        let context = &event.request_context;
        assert_eq!(context.route_key.as_deref(), Some(route_key), "{name}");
        assert_eq!(context.event_type.as_deref(), Some(event_type), "{name}");
        assert_eq!(context.message_direction.as_deref(), Some("IN"), "{name}");
        assert!(context.connected_at > 1_600_000_000_000, "{name}: connectedAt in epoch ms");
        assert!(context.request_time_epoch >= context.connected_at, "{name}: requestTimeEpoch ≥ connectedAt");
        let connection_id = context.connection_id.clone().expect("connectionId");
        assert!(!connection_id.is_empty());
        connection_ids.push(connection_id);
        let api_id = context.apiid.as_deref().expect("apiId");
        let domain = context.domain_name.as_deref().expect("domainName");
        assert!(domain.starts_with(&format!("{api_id}.execute-api.")), "{name}: {domain}");
        assert!(domain.ends_with(".amazonaws.com"), "{name}: {domain}");
        assert_eq!(context.stage.as_deref(), Some("prod"), "{name}: the template's default stage");
        assert!(context.request_id.as_deref().is_some_and(|id| !id.is_empty()), "{name}: requestId");
        assert!(context.identity.source_ip.as_deref().is_some_and(|ip| !ip.is_empty()), "{name}: identity.sourceIp");
    }
    assert!(connection_ids.windows(2).all(|w| w[0] == w[1]), "one connection's life: {connection_ids:?}");
}

#[test]
fn connect_event_carries_the_access_token_in_the_query() {
    let event = websocket("ws-connect.json");
    let token = event.query_string_parameters.first("token").expect("?token=");
    assert_eq!(token.split('.').count(), 3, "a JWT: header.claims.signature");
    assert_eq!(event.multi_value_query_string_parameters.all("token"), Some(vec![token]));
    assert_eq!(event.headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()), Some("13"));
    assert!(event.body.is_none());
}

#[test]
fn message_event_carries_one_ping_frame() {
    let event = websocket("ws-message.json");
    assert!(!event.is_base64_encoded);
    assert!(event.request_context.message_id.as_deref().is_some_and(|id| !id.is_empty()), "messageId");
    let body: Value = serde_json::from_str(event.body.as_deref().expect("a body")).expect("a JSON frame");
    assert_eq!(body, serde_json::json!({ "action": "ping", "requestId": "1" }));
}

#[test]
fn disconnect_event_says_why() {
    let event = websocket("ws-disconnect.json");
    assert_eq!(event.request_context.disconnect_status_code, Some(1001));
    assert!(event.request_context.disconnect_reason.is_some());
    assert!(event.body.is_none());
}

#[test]
fn http_events_reach_auth_http_as_requests() {
    for (name, method, path, route_key) in [
        ("http-health.json", "GET", "/health", "GET /health"),
        ("http-signup.json", "POST", "/auth/signup", "ANY /auth/{proxy+}"),
        ("http-login.json", "POST", "/auth/login", "ANY /auth/{proxy+}"),
    ] {
        let request = http(name);
        assert_eq!(request.method().as_str(), method, "{name}");
        assert_eq!(request.uri().path(), path, "{name}");
        let RequestContext::ApiGatewayV2(context) = request.request_context() else {
            panic!("{name}: not an HTTP API 2.0 request");
        };
        assert_eq!(context.route_key.as_deref(), Some(route_key), "{name}");
        assert_eq!(context.stage.as_deref(), Some("$default"), "{name}");
        assert_eq!(context.http.method.as_str(), method, "{name}");
        assert_eq!(context.http.path.as_deref(), Some(path), "{name}");
        assert!(context.http.source_ip.as_deref().is_some_and(|ip| !ip.is_empty()), "{name}");
        if route_key.contains("{proxy+}") {
            assert_eq!(
                request.path_parameters().first("proxy"),
                path.strip_prefix("/auth/"),
                "{name}: the proxy path parameter"
            );
        }
    }
}

#[test]
fn signup_and_login_bodies_follow_the_protocol() {
    let signup = body_json(&http("http-signup.json"));
    let login = body_json(&http("http-login.json"));
    for field in ["userId", "password", "nick"] {
        assert!(signup[field].is_string(), "signup {field}");
    }
    assert_eq!(login["userId"], signup["userId"], "log in as the user signed up");
    assert_eq!(login["password"], signup["password"]);
    let password = signup["password"].as_str().unwrap();
    assert!((8..=128).contains(&password.chars().count()), "PROTOCOL.md: password 8–128 chars");

    // The Content-Length header matches the body, as API Gateway's would.
    for name in ["http-signup.json", "http-login.json"] {
        let request = http(name);
        let Body::Text(text) = request.body() else { panic!("{name}: a text body") };
        let length = request.headers().get("content-length").and_then(|v| v.to_str().ok()).expect("content-length");
        assert_eq!(length, text.len().to_string(), "{name}");
    }
}
