//! `ws-disconnect`: the WebSocket API's `$disconnect` route. API Gateway sends it at most
//! once and ignores the answer, so a failure is logged; the presence TTL and the 410 purge
//! catch what it misses.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chatting_shared::service::Chat;
use chatting_shared::websocket_event::{connection_id, response};
use serde_json::json;

pub async fn handle(chat: &Chat, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    if let Some(connection) = connection_id(&event)
        && let Err(err) = chat.disconnect(&connection).await {
            err.log("$disconnect");
        }
    Ok(response(200, json!({ "code": "success" }).to_string()))
}
