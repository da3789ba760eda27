//! [`RawWs`]: a WebSocket on a TCP socket the test owns, to end connections the ways
//! networks do.

use std::time::Duration;

use anyhow::anyhow;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use chatting_harness::{TestServer, WAIT};

/// A WebSocket client on a TCP socket the test owns, so that it can end the connection
/// the ways networks do: a reset, a FIN without a close frame, or silence.
pub struct RawWs {
    ws: WebSocketStream<TcpStream>,
    next_request: u64,
}

impl RawWs {
    /// `receive_buffer` shrinks the socket's receive buffer, so that a client that stops
    /// reading fills up after a few frames rather than after megabytes.
    pub async fn connect(server: &TestServer, token: &str, receive_buffer: Option<u32>) -> anyhow::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let stream = socket.connect(server.address).await?;
        stream.set_nodelay(true)?;
        let (ws, _) = tokio_tungstenite::client_async(format!("{}?token={token}", server.ws), stream).await?;
        Ok(Self { ws, next_request: 0 })
    }

    pub async fn request(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        self.next_request += 1;
        let request_id = format!("raw{}", self.next_request);
        let frame = json!({"action": action, "requestId": request_id, "data": data});
        self.ws.send(Message::Text(frame.to_string().into())).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = tokio::time::timeout(remaining, self.ws.next())
                .await
                .map_err(|_| anyhow!("no reply to {action}"))?
                .ok_or_else(|| anyhow!("closed while waiting for {action}"))??;
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str())?;
                if frame["type"] == "reply" && frame["requestId"] == request_id.as_str() {
                    return Ok(frame);
                }
            }
        }
    }

    pub async fn ok(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        anyhow::ensure!(reply["ok"] == true, "{action} failed: {reply}");
        Ok(reply["data"].clone())
    }

    pub async fn connection_id(&mut self) -> anyhow::Result<String> {
        Ok(self.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned())
    }

    /// The WebSocket itself, for frames the helpers above do not send.
    pub fn socket(&mut self) -> &mut WebSocketStream<TcpStream> {
        &mut self.ws
    }

    /// The client's end of the TCP connection.
    pub fn local_port(&self) -> anyhow::Result<u16> {
        Ok(self.ws.get_ref().local_addr()?.port())
    }

    /// The kernel answers with RST: no close frame, no FIN.
    pub fn reset(self) -> anyhow::Result<()> {
        self.ws.get_ref().set_zero_linger()?;
        drop(self);
        Ok(())
    }

    /// FIN without a WebSocket close frame, then read what is left until the server hangs up.
    pub async fn fin(mut self) {
        let _ = self.ws.get_mut().shutdown().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(deadline.saturating_duration_since(tokio::time::Instant::now()), self.ws.next()).await
        {
        }
    }

    /// A clean close, as a browser closing the tab.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(deadline.saturating_duration_since(tokio::time::Instant::now()), self.ws.next()).await
        {
        }
    }
}
