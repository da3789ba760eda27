//! The WebSocket API: `$connect` decides the handshake, each text frame goes to `$default`
//! and its response body is sent back (the route response), the end goes to `$disconnect`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::connections::{Connection, Outbound};
use crate::events::{WebSocketContext, WebSocketRoute, websocket_event};
use crate::server::Gateway;

/// API Gateway closes a connection (1009) on a message over 128 KB; the function itself
/// answers anything over 32 KB with `tooLarge`.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Buffers per connection, sized for chat frames (most are under 1 KB) rather than the
/// library's 128 KiB defaults: with hundreds of connections those defaults alone are tens
/// of megabytes. A larger frame still gets through; the buffer grows for it.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Frames written before one flush when a client's queue has several waiting.
const FRAMES_PER_FLUSH: usize = 32;

fn new_connection_id() -> String {
    // API Gateway's ids are short opaque strings, e.g. `L0SM9cOFvHcCIhw=`.
    chatting_shared::auth::random_token().unwrap_or_default().chars().take(16).collect()
}

fn lowercase_headers(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

pub async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let headers = lowercase_headers(&headers);
    let query = parse_query(raw_query.as_deref());
    let context = WebSocketContext {
        connection_id: new_connection_id(),
        connected_at_ms: chatting_shared::clock::now_ms(),
        domain_name: headers.get("host").cloned().unwrap_or_default(),
        stage: "local".into(),
        source_ip: peer.ip().to_string(),
        user_agent: headers.get("user-agent").cloned().unwrap_or_default(),
    };
    // Registered before `$connect` runs, so that events pushed while it runs are queued.
    let (outbound, queue) = mpsc::channel(gateway.outbound_queue);
    let connection = Arc::new(Connection::new(outbound, context.source_ip.clone(), context.user_agent.clone()));
    gateway.registry.insert(&context.connection_id, connection.clone());

    let event = websocket_event(&context, WebSocketRoute::Connect { headers: &headers, query: &query });
    let answer = match ws_connect::handle(&gateway.chat, event).await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::error!(error = %err, "$connect failed");
            gateway.registry.remove(&context.connection_id);
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !(200..300).contains(&answer.status_code) {
        gateway.registry.remove(&context.connection_id);
        let status = StatusCode::from_u16(answer.status_code as u16).unwrap_or(StatusCode::FORBIDDEN);
        let body = match answer.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text,
            _ => String::new(),
        };
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let failed = (gateway.clone(), context.clone());
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_failed_upgrade(move |err| {
            let (gateway, context) = failed;
            tracing::warn!(error = %err, "upgrade failed after $connect");
            tokio::spawn(async move { end_connection(&gateway, &context, 1006, "upgrade failed").await });
        })
        .on_upgrade(move |socket| run_connection(gateway, context, connection, socket, queue))
}

async fn run_connection(
    gateway: Arc<Gateway>,
    context: WebSocketContext,
    connection: Arc<Connection>,
    socket: WebSocket,
    mut queue: mpsc::Receiver<Outbound>,
) {
    let (mut sink, mut stream) = socket.split();
    let queued_bytes = connection.queued_bytes();
    let writer = tokio::spawn(async move {
        // Frames that queued up while the last write was in progress go out together: one
        // system call for a burst of events instead of one each.
        let mut burst = Vec::with_capacity(FRAMES_PER_FLUSH);
        while queue.recv_many(&mut burst, FRAMES_PER_FLUSH).await > 0 {
            for Outbound::Text(text) in burst.drain(..) {
                let bytes = text.len();
                if sink.feed(Message::Text(text.into())).await.is_err() {
                    return sink;
                }
                queued_bytes.fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        sink
    });
    let end_of_life = tokio::time::sleep(gateway.max_lifetime);
    tokio::pin!(end_of_life);
    let (status_code, reason) = loop {
        let next = tokio::select! {
            _ = connection.close.notified() => {
                break if connection.overflowed() { (1008, "outbound queue overflow") } else { (1000, "closed by the service") };
            }
            // Activity keeps a connection from idling out, never beyond its lifetime.
            _ = &mut end_of_life => break (1001, "connection lifetime reached"),
            next = tokio::time::timeout(gateway.idle_timeout, stream.next()) => next,
        };
        let message = match next {
            Err(_) => break (1001, "idle timeout"),
            Ok(None) => break (1006, "connection lost"),
            Ok(Some(Err(_))) => break (1009, "message too large or protocol error"),
            Ok(Some(Ok(message))) => message,
        };
        let (body, binary) = match message {
            Message::Text(text) => (text.as_str().to_owned(), false),
            Message::Binary(bytes) => (base64::engine::general_purpose::STANDARD.encode(&bytes), true),
            Message::Close(_) => break (1000, "closed by the client"),
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        connection.touch();
        let event = websocket_event(&context, WebSocketRoute::Message { body: &body, binary });
        let reply = match ws_message::handle(&gateway.chat, event).await {
            Ok(answer) => match answer.body {
                Some(aws_lambda_events::encodings::Body::Text(text)) => text,
                _ => continue,
            },
            Err(err) => {
                tracing::error!(error = %err, "$default failed");
                continue;
            }
        };
        // The service keeps its replies under API Gateway's message limit; one over it would
        // be refused there too.
        let reply = if reply.len() > MAX_MESSAGE_BYTES {
            tracing::error!(bytes = reply.len(), "a reply over 128 KB was dropped");
            chatting_shared::protocol::ServerFrame::Event(chatting_shared::protocol::Event::SystemError {
                code: chatting_shared::protocol::Code::TooLarge,
                message: "the reply was over 128 KB".into(),
            })
            .to_json()
        } else {
            reply
        };
        if gateway.registry.send(&context.connection_id, reply) != crate::connections::SendOutcome::Queued {
            break (1008, "outbound queue overflow");
        }
    };
    // Let queued frames drain, but never wait long on a client that stopped reading.
    gateway.registry.remove(&context.connection_id);
    drop(connection);
    let writer_abort = writer.abort_handle();
    match tokio::time::timeout(std::time::Duration::from_secs(2), writer).await {
        Ok(Ok(mut sink)) => {
            let frame = CloseFrame { code: status_code, reason: reason.into() };
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
        }
        Ok(Err(_)) => {}
        // A writer stuck on a client that stopped reading would otherwise keep the socket
        // and the rest of its queue for as long as the client stays silent.
        Err(_) => writer_abort.abort(),
    }
    end_connection(&gateway, &context, status_code, reason).await;
}

async fn end_connection(gateway: &Gateway, context: &WebSocketContext, status_code: u16, reason: &str) {
    gateway.registry.remove(&context.connection_id);
    let _turn = gateway.registry.disconnect_turn().await;
    let event = websocket_event(context, WebSocketRoute::Disconnect { status_code, reason });
    if let Err(err) = ws_disconnect::handle(&gateway.chat, event).await {
        tracing::error!(error = %err, "$disconnect failed");
    }
}
