//! `ws-connect`: the WebSocket API's `$connect` route.
//!
//! A missing, invalid or expired `?token=` is answered 401, so API Gateway never opens the
//! connection; on 200 the connection is registered in the lobby before the handshake ends.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chatting_shared::service::{Chat, ServiceError};
use chatting_shared::websocket_event::{connection_id, origin, query_token, response};
use serde_json::json;

pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    let Some(connection) = connection_id(&event) else {
        return Ok(refusal(&ServiceError::Invalid("no connection id".into())));
    };
    Ok(match chat.connect(&connection, query_token(&event), origin(&event)).await {
        Ok(_) => response(200, json!({ "code": "success" }).to_string()),
        Err(err) => {
            err.log("$connect");
            refusal(&err)
        }
    })
}

/// A refused handshake: API Gateway answers the client with this status and never opens the
/// connection (a missing, invalid or expired token is 401).
fn refusal(err: &ServiceError) -> ApiGatewayProxyResponse {
    response(err.http_status(), err.to_failure().to_json())
}
