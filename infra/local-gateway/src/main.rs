//! `chatting`: the whole service on one port, on embedded defaults unless configured.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chatting_local_gateway::{GatewayOptions, PushMode, serve};
use chatting_shared::config::Config;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    chatting_shared::startup::init_tracing();
    let data_dir = PathBuf::from(env("CHATTING_DATA_DIR").unwrap_or_else(|| "data".into()));
    let config = Config::from_local_env(&data_dir)?;
    let address = env("CHATTING_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut options = GatewayOptions::new(config);
    if let Some(secs) = env("CHATTING_IDLE_TIMEOUT_SECS") {
        options.idle_timeout = Duration::from_secs(secs.parse().context("CHATTING_IDLE_TIMEOUT_SECS")?);
    }
    if let Some(raw) = env("CHATTING_PUSH") {
        options.push = PushMode::parse(&raw).with_context(|| format!("CHATTING_PUSH={raw}: expected sdk or direct"))?;
    }
    let web_dir = env("CHATTING_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")));
    options.web_dir = Some(web_dir);
    let listener = tokio::net::TcpListener::bind(&address).await.with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;
    println!("chatting is listening on http://{bound}  (WebSocket: ws://{bound}/ws, data: {})", data_dir.display());
    serve(listener, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
