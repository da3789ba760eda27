//! `ws-message`: the WebSocket API's `$default` route. The frame's `action` picks the use
//! case; the reply is this function's response body, which API Gateway's route response
//! sends straight back to the client.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chatting_shared::protocol::{Code, Event, ServerFrame};
use chatting_shared::service::Chat;
use chatting_shared::websocket_event::{connection_id, response};

pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    let refuse = |message: &str| {
        let frame = ServerFrame::Event(Event::SystemError { code: Code::Invalid, message: message.into() });
        Ok(response(200, frame.to_json()))
    };
    let Some(connection) = connection_id(&event) else { return refuse("no connection id") };
    if event.is_base64_encoded {
        return refuse("binary frames are not supported; send JSON text");
    }
    let body = event.body.as_deref().unwrap_or_default();
    Ok(response(200, chat.handle_frame(&connection, body).await))
}
