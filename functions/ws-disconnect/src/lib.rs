//! `ws-disconnect`: the WebSocket API's `$disconnect` route. API Gateway sends it at most
//! once and ignores the answer, so a failure is logged; the 410 purge and the sweep of
//! expired presence leases (run here) catch what it misses.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chatting_shared::service::Chat;
use chatting_shared::websocket_event::{connection_id, response};
use serde_json::json;

/// Expired connections cleaned up per `$disconnect`: every disconnect sweeps a few, so
/// connections whose `$disconnect` was lost go within a lease of the next one anywhere.
const SWEEP_PER_DISCONNECT: usize = 10;

pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    if let Some(connection) = connection_id(&event)
        && let Err(err) = chat.disconnect(&connection).await
    {
        err.log("$disconnect");
    }
    // Nobody waits for this answer, so the sweep costs no user any time.
    if let Err(err) = chat.sweep_expired_connections(SWEEP_PER_DISCONNECT).await {
        err.log("sweep of expired connections");
    }
    Ok(response(200, json!({ "code": "success" }).to_string()))
}
