//! Lambda entry point of `ws-message`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use chatting_shared::startup::with_metrics;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chatting_shared::startup::init_tracing();
    let chat = chatting_shared::startup::chat_from_lambda_env().await?;
    run(service_fn(|event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        with_metrics("ws-message", ws_message::handle(&chat, event.payload))
    }))
    .await
}
