//! The answers: one reply per client frame, one envelope per HTTP response.

use serde::Serialize;
use serde_json::Value;

use super::Code;

/// The body of every HTTP response.
#[derive(Debug, Serialize)]
pub struct HttpEnvelope {
    pub ok: bool,
    pub code: Code,
    pub data: Option<Value>,
    pub message: Option<String>,
}

/// The answer to one client frame.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub request_id: Option<String>,
    pub ok: bool,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::ServerFrame;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;
    use serde_json::Value;

    proptest! {
        #[test]
        fn replies_serialize_to_what_they_hold(
            request_id in proptest::option::of(".{0,64}"),
            code in code(),
            message in proptest::option::of(".{0,100}"),
            data in proptest::option::of(json_value()),
        ) {
            let ok = code == Code::Success;
            let reply = ServerFrame::Reply(Reply { request_id: request_id.clone(), ok, code, data: data.clone(), message: message.clone() });
            let back: Value = serde_json::from_str(&reply.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back["type"], "reply");
            prop_assert_eq!(back["requestId"].as_str(), request_id.as_deref());
            prop_assert_eq!(&back["ok"], ok);
            prop_assert_eq!(serde_json::from_value::<Code>(back["code"].clone()).ok(), Some(code));
            prop_assert_eq!(back.get("message").and_then(Value::as_str), message.as_deref());
            // `data: null` and no data look the same on the wire, as PROTOCOL.md says.
            prop_assert_eq!(back.get("data").cloned().unwrap_or(Value::Null), data.unwrap_or(Value::Null));
        }

    }
}
