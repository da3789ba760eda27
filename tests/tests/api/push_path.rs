//! The Management API client as Lambda runs it: the AWS SDK's `PostToConnection` over its
//! kept-alive connections, through TLS with the system's roots, and across connections the
//! endpoint cut.

use std::sync::Arc;
use std::time::Duration;

use chatting_harness::{TestServer, backends::tls_dir};
use chatting_shared::domain::ConnectionId;
use chatting_shared::push::{ApiGatewayPusher, PushError, Pusher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

/// A TLS port (the test CA's certificate for 127.0.0.1) in front of the gateway's HTTP port,
/// as API Gateway's HTTPS endpoint stands in front of the Management API.
async fn tls_terminator(gateway: &str) -> anyhow::Result<u16> {
    let dir = tls_dir();
    let certs = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .map_err(|err| anyhow::anyhow!("{}: {err} (scripts/tls-services makes it)", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let target = gateway.trim_start_matches("http://").trim_end_matches('/').to_owned();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (acceptor, target) = (acceptor.clone(), target.clone());
            tokio::spawn(async move {
                if let (Ok(mut tls), Ok(mut plain)) =
                    (acceptor.accept(inbound).await, tokio::net::TcpStream::connect(&target).await)
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    Ok(port)
}

#[tokio::test]
async fn the_sdk_client_pushes_over_tls_trusting_the_systems_roots() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut reader) = server.connected_user("reader").await?;
    let connection = reader.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    let port = tls_terminator(&server.http).await?;
    // The system's roots, as rustls-native-certs reads them: here the test CA alone.
    // SAFETY: set before any thread of this test reads the environment for certificates.
    unsafe { std::env::set_var("SSL_CERT_FILE", tls_dir().join("ca.crt")) };
    let pusher = ApiGatewayPusher::new(&format!("https://127.0.0.1:{port}"), server.gateway.management_key.clone());

    let frame = json!({"type": "event", "event": "chat.in", "data": {"text": "over TLS"}}).to_string();
    pusher.push(&ConnectionId::new(connection.clone()), &frame).await?;
    assert_eq!(reader.event("chat.in").await?["text"], "over TLS");
    // The same kept connection carries the next call and its 410.
    assert!(matches!(pusher.push(&ConnectionId::new("nobody"), &frame).await, Err(PushError::Gone)));
    pusher.push(&ConnectionId::new(connection), &frame).await?;
    assert_eq!(reader.event("chat.in").await?["text"], "over TLS");
    Ok(())
}

#[tokio::test]
async fn pushes_go_on_after_the_endpoint_cuts_the_kept_connections() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut reader) = server.connected_user("reader").await?;
    let connection = reader.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    let proxy = chatting_e2e::fault_proxy::FaultProxy::start(server.http.trim_start_matches("http://")).await?;
    let pusher =
        ApiGatewayPusher::new(&format!("http://127.0.0.1:{}", proxy.port), server.gateway.management_key.clone());
    let connection = ConnectionId::new(connection);

    for round in 0..3 {
        let frame =
            json!({"type": "event", "event": "chat.in", "data": {"text": format!("round {round}")}}).to_string();
        pusher.push(&connection, &frame).await?;
        assert_eq!(reader.event("chat.in").await?["text"], format!("round {round}"));
        // Every open connection through the port is cut; the next push must not fail for it.
        proxy.stop().await;
        proxy.resume().await?;
    }
    reader.no_event("chat.in", Duration::from_millis(200)).await?;
    Ok(())
}
