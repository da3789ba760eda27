//! Lambda entry point of `ws-connect`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use chatting_shared::startup::with_metrics;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

// Each recipient costs a `PostToConnection` through the SDK, which allocates a few hundred
// times per call: mimalloc takes a quarter of that call's instructions off glibc's
// (docs/PERFORMANCE.md, "What one PostToConnection costs the function").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    chatting_shared::startup::init_tracing();
    let chat = chatting_shared::startup::chat_from_lambda_env().await?;
    run(service_fn(|event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        with_metrics("ws-connect", ws_connect::handle(&chat, event.payload))
    }))
    .await
}
