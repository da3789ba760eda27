//! The Management API client as Lambda runs it: the AWS SDK's `PostToConnection` over its
//! kept-alive connections, through TLS with the system's roots, and across connections the
//! endpoint cut, and against one that never answers; signed with a session token as in Lambda.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chatting_harness::{TestServer, backends::tls_dir};
use chatting_local_gateway::sigv4::{SignedParts, verify};
use chatting_shared::aws::AwsKeys;
use chatting_shared::domain::{ConnectionId, Secret};
use chatting_shared::push::{ANSWER_TIMEOUT, ApiGatewayPusher, PushError, Pusher};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

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

#[tokio::test]
async fn a_push_to_an_endpoint_that_never_answers_fails_instead_of_hanging() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let connections = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let connections = connections.clone();
        async move {
            // Takes every request (a few hundred bytes: the socket's buffer holds them) and
            // answers none, keeping each connection open.
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        }
    });
    let keys = AwsKeys {
        access_key_id: "local".into(),
        secret_access_key: Secret::from_config("local"),
        session_token: None,
        region: "us-east-1".into(),
    };
    let pusher = ApiGatewayPusher::new(&endpoint, keys);

    let started = Instant::now();
    let pushed = tokio::time::timeout(ANSWER_TIMEOUT * 8, pusher.push(&ConnectionId::new("anyone"), "{}"))
        .await
        .map_err(|_| anyhow::anyhow!("the push still waited after {:?}", ANSWER_TIMEOUT * 8))?;
    assert!(matches!(pushed, Err(PushError::Failed(_))), "{pushed:?}");
    assert!(started.elapsed() >= ANSWER_TIMEOUT, "gave up after {:?}", started.elapsed());
    assert!(connections.load(Ordering::SeqCst) >= 1);
    Ok(())
}

/// In Lambda the function role's key comes with a session token: the push sends it, signs
/// it, and the signature holds under the verifier the local gateway stands in for API Gateway with.
#[tokio::test]
async fn a_push_with_a_session_token_sends_it_signed() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/prod", listener.local_addr()?);
    let captured = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let raw = chatting_harness::raw_http::read_request(&mut stream).await?;
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await?;
        anyhow::Ok(raw)
    });
    let keys = AwsKeys {
        access_key_id: "ASIAEXAMPLEROLEKEY".into(),
        secret_access_key: Secret::from_config("the-role-secret"),
        session_token: Some(Secret::from_config("the-role-session-token")),
        region: "eu-west-1".into(),
    };
    ApiGatewayPusher::new(&endpoint, keys.clone())
        .push(&ConnectionId::new("L0SM9cOFvHcCIhw="), r#"{"type":"event"}"#)
        .await?;

    let raw = captured.await??;
    let mut parsed = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut parsed);
    let httparse::Status::Complete(head) = request.parse(&raw)? else { anyhow::bail!("a partial request") };
    let mut headers = HeaderMap::new();
    for header in request.headers.iter() {
        headers.append(HeaderName::from_bytes(header.name.as_bytes())?, HeaderValue::from_bytes(header.value)?);
    }
    assert_eq!(headers.get("x-amz-security-token").map(HeaderValue::as_bytes), Some(&b"the-role-session-token"[..]));
    let authorization = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
    assert!(authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"), "{authorization}");
    let method: Method = request.method.unwrap_or_default().parse()?;
    let (path, query) = match request.path.unwrap_or_default().split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.path.unwrap_or_default(), None),
    };
    let signed = SignedParts { method: &method, path, query, headers: &headers, body: &raw[head..] };
    verify(&signed, &keys, SystemTime::now()).map_err(|refusal| anyhow::anyhow!("refused: {refusal}"))?;
    let other_session = AwsKeys { session_token: Some(Secret::from_config("another-session")), ..keys };
    assert!(verify(&signed, &other_session, SystemTime::now()).is_err(), "another session's token is refused");
    Ok(())
}
