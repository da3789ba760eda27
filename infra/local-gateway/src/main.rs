//! `chatting`: the whole service on one port, on embedded defaults unless configured.

use std::path::PathBuf;

use anyhow::Context as _;
use chatting_local_gateway::{GatewayOptions, serve};
use chatting_shared::config::{Config, GatewaySettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    chatting_shared::startup::init_tracing();
    let settings = GatewaySettings::from_env()?;
    let config = Config::from_local_env(&settings.data_dir)?;
    let mut options = GatewayOptions::new(config);
    if let Some(idle_timeout) = settings.idle_timeout {
        options.idle_timeout = idle_timeout;
    }
    if let Some(push) = settings.push {
        options.push = push;
    }
    let web_dir = settings.web_dir.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")));
    options.web_dir = Some(web_dir);
    let address = &settings.address;
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;
    println!(
        "chatting is listening on http://{bound}  (WebSocket: ws://{bound}/ws, data: {})",
        settings.data_dir.display()
    );
    serve(listener, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
