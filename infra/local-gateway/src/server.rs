//! The router: HTTP API, WebSocket API and Management API on one port, plus the web client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt as _;
use chatting_shared::aws::AwsKeys;
use chatting_shared::config::{Config, PushMode};
use chatting_shared::domain::Secret;
use chatting_shared::push::{ApiGatewayPusher, Pusher};
use chatting_shared::service::Chat;
use chatting_shared::service::auth::AuthService;
use chatting_shared::startup;
use tokio::net::TcpListener;

use crate::connections::{DirectPusher, Registry, SendOutcome};
use crate::events::{HttpRequestParts, http_event_json};

pub struct GatewayOptions {
    pub config: Config,
    pub idle_timeout: Duration,
    pub push: PushMode,
    /// Frames queued for one client before it counts as stalled and is closed.
    pub outbound_queue: usize,
    /// Bytes queued for one client before it counts as stalled and is closed: a few large
    /// frames (history pages) must not hold what 256 of them would.
    pub outbound_bytes: usize,
    /// How long a connection may live, pings or not (API Gateway: 2 hours).
    pub max_lifetime: Duration,
    pub web_dir: Option<PathBuf>,
    /// The Management API and `/metrics` answer only requests signed (SigV4) with this key;
    /// the gateway's own SDK pushes sign with it too.
    pub management_key: AwsKeys,
}

impl GatewayOptions {
    pub fn new(config: Config) -> Self {
        // Another endpoint holds the connections: only the Management API reaches them.
        let push = if config.management_endpoint.is_some() { PushMode::Sdk } else { PushMode::Direct };
        let management_key = management_key(&config);
        Self {
            config,
            idle_timeout: Duration::from_secs(600),
            push,
            outbound_queue: 256,
            outbound_bytes: 1024 * 1024,
            max_lifetime: Duration::from_secs(2 * 3600),
            web_dir: None,
            management_key,
        }
    }
}

/// The environment's AWS key when it has one, so functions run beside the gateway (`sam
/// local`, the Runtime API emulator) can sign with the same; otherwise a key made for this
/// process, which only the gateway itself knows.
fn management_key(config: &Config) -> AwsKeys {
    if let Some(keys) = &config.aws.keys {
        return keys.clone();
    }
    let mut secret = [0u8; 32];
    let secret_access_key = match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret) {
        Ok(()) => secret.iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => {
            // An empty secret signs nothing (see `sigv4::verify`): the API stays closed.
            tracing::error!("no randomness for the Management API key; it refuses every request");
            String::new()
        }
    };
    AwsKeys {
        access_key_id: "chatting-local-gateway".into(),
        secret_access_key: Secret::from_config(secret_access_key),
        session_token: None,
        region: config.aws.region.clone(),
    }
}

pub struct Gateway {
    pub chat: Chat,
    pub auth: AuthService,
    pub registry: Arc<Registry>,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub outbound_queue: usize,
    pub management_key: AwsKeys,
}

/// Serves until `shutdown` resolves. Tests bind `127.0.0.1:0` and read the address back.
pub async fn serve(
    listener: TcpListener,
    options: GatewayOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (_, server) = start(listener, options, shutdown).await?;
    server.await??;
    Ok(())
}

/// Builds the gateway and serves it in the background; the returned [`Gateway`] lets a
/// test reach behind API Gateway's back (e.g. lose a connection without `$disconnect`).
pub async fn start(
    listener: TcpListener,
    options: GatewayOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Arc<Gateway>, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let address = listener.local_addr()?;
    let (router, gateway) = build(address, options).await?;
    // Replies and events are small frames written back to back: without TCP_NODELAY each
    // second write waits for the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok((gateway, server))
}

/// glibc serves a large allocation with mmap only until the first such block is freed; it
/// then raises its threshold to that size, so every later 19 MiB password-hashing buffer
/// comes from a heap arena and stays in the process after a burst (80 signups at 16 at a
/// time left 1.1 GB). A fixed threshold keeps large blocks mmapped: freeing one gives it
/// back to the system at once.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc tunable; 128 KiB is glibc's own initial threshold.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// The whole application for a gateway listening on `address`.
pub async fn build(address: SocketAddr, options: GatewayOptions) -> anyhow::Result<(Router, Arc<Gateway>)> {
    return_large_blocks_to_the_system();
    let config = &options.config;
    let (store, presence) = startup::open_backends(config).await?;
    let registry = Arc::new(Registry::new(options.outbound_bytes));
    let pusher: Arc<dyn Pusher> = match options.push {
        PushMode::Sdk => {
            let endpoint = config.management_endpoint.clone().unwrap_or_else(|| format!("http://{address}"));
            // Another endpoint is API Gateway's or another gateway's: the environment's key.
            let keys = if config.management_endpoint.is_some() {
                config.aws.local_keys()
            } else {
                options.management_key.clone()
            };
            Arc::new(ApiGatewayPusher::new(&endpoint, keys))
        }
        PushMode::Direct => Arc::new(DirectPusher(registry.clone())),
    };
    let gateway = Arc::new(Gateway {
        chat: startup::chat(config, store.clone(), presence.clone(), pusher),
        auth: startup::auth_service(config, store, presence),
        registry,
        idle_timeout: options.idle_timeout,
        max_lifetime: options.max_lifetime,
        outbound_queue: options.outbound_queue,
        management_key: options.management_key,
    });
    let http_api_routes = Router::new().route("/health", any(http_api)).route("/auth/{*rest}", any(http_api));
    let http_api_routes = match cors(&config.allowed_origins) {
        Some(layer) => http_api_routes.layer(layer),
        None => http_api_routes,
    };
    let mut router = Router::new()
        .merge(http_api_routes)
        .route("/ws", get(crate::websocket::upgrade))
        .merge(
            Router::new()
                .route(
                    "/@connections/{id}",
                    get(describe_connection).post(post_to_connection).delete(delete_connection),
                )
                .route("/metrics", get(metrics))
                .route_layer(axum::middleware::from_fn_with_state(gateway.clone(), require_signature)),
        )
        .with_state(gateway.clone());
    if let Some(web_dir) = options.web_dir {
        router = router.fallback_service(web_client(web_dir));
    }
    Ok((router, gateway))
}

/// The web client's files, with headers that keep other sites' code out of the page.
fn web_client(dir: PathBuf) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer;
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::overriding(header::HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    Router::new()
        .fallback_service(tower_http::services::ServeDir::new(dir))
        .layer(header(
            "content-security-policy",
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("referrer-policy", "no-referrer"))
        .layer(header("x-frame-options", "DENY"))
}

/// CORS for the HTTP API when origins are configured: those origins, no credentials (tokens
/// travel in headers and bodies, never in cookies), no wildcard.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}

fn header_map(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned()).and_modify(|v| v.push_str(&format!(",{value}"))).or_insert(value);
    }
    out
}

/// `Host` and `X-Forwarded-Proto` become the request's URL in `lambda_http`, which gives up
/// (panics) on one that does not parse; API Gateway never forwards such a request either.
fn forwarding_headers_are_well_formed(headers: &HashMap<String, String>) -> Result<(), &'static str> {
    if let Some(host) = headers.get("host") {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
        if host.is_empty() || !host.chars().all(allowed) || host.parse::<http::uri::Authority>().is_err() {
            return Err("the Host header is not a host name");
        }
    }
    if let Some(proto) = headers.get("x-forwarded-proto")
        && !matches!(proto.as_str(), "http" | "https")
    {
        return Err("X-Forwarded-Proto must be http or https");
    }
    Ok(())
}

/// The HTTP API: the request becomes a payload-2.0 event, `lambda_http` reads it, and
/// `auth-http`'s handler answers.
async fn http_api(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = header_map(&headers);
    if let Err(reason) = forwarding_headers_are_well_formed(&headers) {
        let body = serde_json::json!({ "ok": false, "code": "invalid", "message": reason });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let event = http_event_json(&HttpRequestParts {
        method: method.as_str(),
        path: uri.path(),
        raw_query: uri.query().unwrap_or_default(),
        headers: &headers,
        body: &body,
        source_ip: &peer.ip().to_string(),
        domain_name: headers.get("host").map(String::as_str).unwrap_or("localhost"),
    });
    let request = match lambda_http::request::from_str(&event) {
        Ok(request) => request,
        Err(err) => {
            tracing::error!(error = %err, "HTTP event did not parse");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let answer = match auth_http::handle(&gateway.auth, request).await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::error!(error = %err, "auth-http failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (parts, body) = answer.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let mut response = (parts.status, bytes).into_response();
    for (name, value) in &parts.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// This process's counters (see `chatting_shared::metrics`) and open connections.
/// Larger bodies are refused before their signature is checked; API Gateway's own limit
/// for a Management API post is 128 KB, which the handler answers with 413 below this.
const MAX_SIGNED_BODY: usize = 2 * 1024 * 1024;

/// Lets through only requests signed with the gateway's key (SigV4), as API Gateway lets
/// through only IAM-signed calls: anyone who reaches the port could otherwise push forged
/// events to users or close their sockets.
async fn require_signature(
    State(gateway): State<Arc<Gateway>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_SIGNED_BODY).await else {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            r#"{"message":"Message too long"}"#,
        );
    };
    let signed = crate::sigv4::SignedParts {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    if let Err(refusal) = crate::sigv4::verify(&signed, &gateway.management_key, std::time::SystemTime::now()) {
        tracing::warn!(%refusal, path = parts.uri.path(), "unsigned or badly signed Management API request refused");
        return aws_error(StatusCode::FORBIDDEN, refusal.error_type(), refusal.body());
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(body))).await
}

/// The counters in Prometheus's text format, or as JSON for a client that accepts only that.
async fn metrics(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    use chatting_shared::metrics;
    let snapshot = metrics::snapshot();
    let open = gateway.registry.len() as u64;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("application/json") {
        let mut body = serde_json::json!(snapshot);
        body["openConnections"] = serde_json::json!(open);
        body["actions"] = serde_json::json!(metrics::actions());
        return axum::Json(body).into_response();
    }
    let text = metrics::prometheus(
        &snapshot,
        &metrics::actions(),
        &[("open_connections", open, "WebSocket connections open now")],
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// An error in the Management API's wire format, which the AWS SDK reads by its
/// `x-amzn-ErrorType` header.
fn aws_error(status: StatusCode, error_type: &'static str, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", r#"{"message":"Gone"}"#)
}

/// `PostToConnection`: the body is sent to the client as one text frame. API Gateway
/// refuses a body over its 128 KB message limit with 413.
async fn post_to_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>, body: Bytes) -> Response {
    if body.len() > crate::websocket::MAX_MESSAGE_BYTES {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            r#"{"message":"Message too long"}"#,
        );
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    match gateway.registry.send(&id, text) {
        SendOutcome::Queued => StatusCode::OK.into_response(),
        SendOutcome::Gone | SendOutcome::Overflow => gone(),
    }
}

/// `GetConnection`.
async fn describe_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match gateway.registry.get(&id) {
        Some(connection) => axum::Json(connection.describe()).into_response(),
        None => gone(),
    }
}

/// `DeleteConnection`: closes the socket; its loop then runs `$disconnect`.
async fn delete_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    if gateway.registry.close(&id) { StatusCode::NO_CONTENT.into_response() } else { gone() }
}
