//! [`Client`]: one WebSocket connection that speaks PROTOCOL.md, and the handshake checks.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{anyhow, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::WAIT;
use crate::server::TestServer;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket connection; events that arrive while waiting for a reply are kept.
pub struct Client {
    socket: Socket,
    events: VecDeque<Value>,
    next_request: u64,
}

impl Client {
    pub async fn connect(server: &TestServer, token: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("{}?token={token}", server.ws)).await?;
        Ok(Self { socket, events: VecDeque::new(), next_request: 0 })
    }

    pub async fn send_text(&mut self, text: impl Into<String>) -> anyhow::Result<()> {
        self.socket.send(Message::Text(text.into().into())).await?;
        Ok(())
    }

    /// The next JSON frame from the socket, whatever it is.
    pub async fn next_frame(&mut self) -> anyhow::Result<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .map_err(|_| anyhow!("no frame within {WAIT:?}"))?
                .ok_or_else(|| anyhow!("connection closed"))??;
            match message {
                Message::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                Message::Close(frame) => bail!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Sends an action and waits for its reply (ok or not).
    pub async fn request(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        self.next_request += 1;
        let request_id = format!("r{}", self.next_request);
        let frame = json!({ "action": action, "requestId": request_id, "data": data });
        self.send_text(frame.to_string()).await?;
        self.reply_to(&request_id).await
    }

    /// Waits for the reply carrying `request_id`, keeping events for later.
    pub async fn reply_to(&mut self, request_id: &str) -> anyhow::Result<Value> {
        loop {
            let frame = self.next_frame().await?;
            if frame["type"] == "reply" && frame["requestId"] == request_id {
                return Ok(frame);
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    /// Sends an action that must succeed; returns the reply's `data`.
    pub async fn ok(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        if reply["ok"] != true || reply["code"] != "success" {
            bail!("{action} failed: {reply}");
        }
        Ok(reply["data"].clone())
    }

    /// Sends an action that must fail with `code`; returns the reply.
    pub async fn fails(&mut self, action: &str, data: Value, code: &str) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        if reply["ok"] != false || reply["code"] != code {
            bail!("{action} should fail with {code}: {reply}");
        }
        Ok(reply)
    }

    /// The next event named `name` whose data satisfies `matches`; earlier events of other
    /// kinds stay queued.
    pub async fn event_where(&mut self, name: &str, matches: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(index) = self.events.iter().position(|e| e["event"] == name && matches(&e["data"])) {
            let event = self.events.remove(index).unwrap_or_default();
            return Ok(event["data"].clone());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(remaining, self.next_frame())
                .await
                .map_err(|_| anyhow!("no {name} event within {WAIT:?}; queued: {:?}", self.events))??;
            if frame["type"] == "event" && frame["event"] == name && matches(&frame["data"]) {
                return Ok(frame["data"].clone());
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    pub async fn event(&mut self, name: &str) -> anyhow::Result<Value> {
        self.event_where(name, |_| true).await
    }

    /// Fails if an event named `name` arrives within `within`.
    pub async fn no_event(&mut self, name: &str, within: Duration) -> anyhow::Result<()> {
        if let Some(event) = self.events.iter().find(|e| e["event"] == name) {
            bail!("unexpected {name}: {event}");
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, self.next_frame()).await {
                Err(_) => return Ok(()),
                Ok(frame) => {
                    let frame = frame?;
                    if frame["event"] == name {
                        bail!("unexpected {name}: {frame}");
                    }
                    self.events.push_back(frame);
                }
            }
        }
    }

    /// Fails if an event named `name` matching `matches` is queued or arrives within
    /// `within`; other events of that name do not count.
    pub async fn no_event_where(
        &mut self,
        name: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<()> {
        match tokio::time::timeout(within, self.event_where(name, matches)).await {
            Err(_) => Ok(()),
            Ok(Ok(event)) => bail!("unexpected {name}: {event}"),
            Ok(Err(err)) => Err(err),
        }
    }

    /// Forgets queued events.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Reads and drops every frame until the connection ends; returns how many came.
    pub async fn drain(mut self) -> u64 {
        let mut frames = 0;
        while let Some(Ok(_)) = self.socket.next().await {
            frames += 1;
        }
        frames
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.close(None).await?;
        // Read until the server's close arrives so the close is complete on both sides.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.socket.next()).await {}
        Ok(())
    }
}

/// The HTTP status a WebSocket handshake was refused with, or `None` if it opened.
pub async fn handshake_status(url: &str) -> anyhow::Result<Option<u16>> {
    handshake_status_from(url, None).await
}

/// Like [`handshake_status`], sending the `Origin` header a browser on `origin` would.
pub async fn handshake_status_from(url: &str, origin: Option<&str>) -> anyhow::Result<Option<u16>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse()?);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(None),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Ok(Some(response.status().as_u16())),
        Err(err) => Err(err.into()),
    }
}
