//! The edge between API Gateway WebSocket events and [`crate::service::Chat`]: reading the
//! connection id and token out of an event, and building the function's response.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderMap;

use crate::domain::ConnectionId;

/// The id API Gateway gave the connection; every WebSocket event carries one.
pub fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<ConnectionId> {
    event.request_context.connection_id.as_deref().filter(|id| !id.is_empty()).map(ConnectionId::new)
}

/// `?token=` of a `$connect` request.
pub fn query_token(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event.query_string_parameters.first("token")
}

/// The browser's `Origin` header of a `$connect` request, if any.
pub fn origin(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event.headers.get("origin").and_then(|v| v.to_str().ok())
}

pub fn response(status: u16, body: String) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", aws_lambda_events::http::HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response
}
