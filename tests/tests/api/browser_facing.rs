//! What browsers rely on: CORS for configured origins only, the WebSocket `Origin` check,
//! and security headers on the web client.

use chatting_e2e::{TestServer, handshake_status_from};

const GOOD: &str = "https://chat.example";
const EVIL: &str = "https://evil.example";

async fn server_for(origins: &[&str]) -> anyhow::Result<TestServer> {
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    TestServer::start_with(|options| {
        options.config.allowed_origins = origins;
        options.web_dir = Some(std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web")));
    })
    .await
}

#[tokio::test]
async fn websocket_origin_is_checked_when_configured() -> anyhow::Result<()> {
    let server = server_for(&[GOOD]).await?;
    let session = server.user("orig").await?;
    let url = format!("{}?token={}", server.ws, session.access);
    assert_eq!(handshake_status_from(&url, Some(EVIL)).await?, Some(403));
    assert_eq!(handshake_status_from(&url, Some(GOOD)).await?, None);
    assert_eq!(handshake_status_from(&url, None).await?, None, "non-browser clients send no Origin");

    let open = server_for(&[]).await?;
    let session = open.user("any").await?;
    let url = format!("{}?token={}", open.ws, session.access);
    assert_eq!(handshake_status_from(&url, Some(EVIL)).await?, None, "no list configured: any origin");
    Ok(())
}

#[tokio::test]
async fn cors_answers_only_configured_origins_and_never_with_credentials() -> anyhow::Result<()> {
    let server = server_for(&[GOOD]).await?;
    let preflight = |origin: &'static str| {
        let server = &server;
        async move {
            server
                .raw(
                    "OPTIONS",
                    "/auth/login",
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        ("access-control-request-headers", "content-type"),
                    ],
                )
                .await
        }
    };
    let good = preflight(GOOD).await?;
    assert_eq!(good.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some(GOOD));
    assert!(good.headers().get("access-control-allow-credentials").is_none());
    let evil = preflight(EVIL).await?;
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let simple = server.raw("GET", "/health", &[("origin", GOOD)]).await?;
    assert_eq!(simple.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some(GOOD));
    Ok(())
}

#[tokio::test]
async fn web_client_is_served_with_security_headers() -> anyhow::Result<()> {
    let server = server_for(&[]).await?;
    let page = server.raw("GET", "/", &[]).await?;
    assert_eq!(page.status(), 200);
    let header = |name: &str| page.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    let html = page.text().await?;
    assert!(html.contains("<html") || html.contains("<!doctype") || html.contains("<!DOCTYPE"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("onclick="), "no inline script");
    Ok(())
}
