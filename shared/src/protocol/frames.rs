//! The envelope of a client frame: `{"action","requestId","data"}`.

use serde_json::{Map, Value};

use super::MAX_FRAME_BYTES;

const MAX_REQUEST_ID_CHARS: usize = 64;

/// A frame whose envelope parsed: an object with a string `action`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub action: String,
    pub request_id: Option<String>,
    pub data: Map<String, Value>,
}

/// Why a frame could not be turned into a [`ClientFrame`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// Not a JSON object at all: answered with a `system.error` event.
    #[error("{0}")]
    NotAnObject(String),
    /// Over [`MAX_FRAME_BYTES`]: answered with a `system.error` event.
    #[error("frame is {0} bytes, over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// An object with a bad envelope: answered with an `invalid` reply.
    #[error("{message}")]
    BadEnvelope { request_id: Option<String>, message: String },
}

pub fn parse_frame(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(text.len()));
    }
    let mut object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(FrameError::NotAnObject("a frame must be a JSON object".into())),
        Err(err) => return Err(FrameError::NotAnObject(format!("frame is not JSON: {err}"))),
    };
    let request_id = match object.remove("requestId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.chars().count() <= MAX_REQUEST_ID_CHARS => Some(id),
        Some(_) => {
            return Err(FrameError::BadEnvelope {
                request_id: None,
                message: format!("requestId must be a string of at most {MAX_REQUEST_ID_CHARS} characters"),
            });
        }
    };
    let bad = |message: &str| FrameError::BadEnvelope { request_id: request_id.clone(), message: message.into() };
    let action = match object.remove("action") {
        Some(Value::String(action)) => action,
        None | Some(Value::Null) => return Err(bad("action is missing")),
        Some(_) => return Err(bad("action must be a string")),
    };
    let data = match object.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => data,
        Some(_) => return Err(bad("data must be an object")),
    };
    Ok(ClientFrame { action, request_id, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frame_envelope_parses() {
        let frame = parse_frame(r#"{"action":"ping","requestId":"r1","data":{"x":1},"extra":true}"#).unwrap();
        assert_eq!(frame.action, "ping");
        assert_eq!(frame.request_id.as_deref(), Some("r1"));
        assert_eq!(frame.data.get("x"), Some(&json!(1)));
    }

    #[test]
    fn null_request_id_and_data_mean_absent() {
        let frame = parse_frame(r#"{"action":"ping","requestId":null,"data":null}"#).unwrap();
        assert_eq!(frame.request_id, None);
        assert!(frame.data.is_empty());
    }

    #[test]
    fn non_objects_are_not_frames() {
        for text in ["[]", "42", "\"ping\"", "{", "", "null"] {
            assert!(matches!(parse_frame(text), Err(FrameError::NotAnObject(_))), "{text:?}");
        }
    }

    #[test]
    fn bad_request_id_loses_the_id() {
        let long = "r".repeat(65);
        for text in
            [r#"{"action":"ping","requestId":5}"#.to_owned(), format!(r#"{{"action":"ping","requestId":"{long}"}}"#)]
        {
            assert_eq!(
                parse_frame(&text),
                Err(FrameError::BadEnvelope {
                    request_id: None,
                    message: "requestId must be a string of at most 64 characters".into()
                })
            );
        }
    }

    #[test]
    fn bad_action_or_data_keeps_the_id() {
        for text in [
            r#"{"requestId":"a"}"#,
            r#"{"requestId":"a","action":3}"#,
            r#"{"requestId":"a","action":"ping","data":[1]}"#,
        ] {
            match parse_frame(text) {
                Err(FrameError::BadEnvelope { request_id, .. }) => assert_eq!(request_id.as_deref(), Some("a")),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_parsing() {
        let text = format!(r#"{{"action":"ping","data":{{"pad":"{}"}}}}"#, "x".repeat(MAX_FRAME_BYTES));
        assert!(matches!(parse_frame(&text), Err(FrameError::TooLarge(_))));
    }
}

/// Parsing never panics, and what a client can write comes back out of the parser unchanged.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn parse_frame_never_panics(text in ".{0,200}") {
            let _ = parse_frame(&text);
        }

        #[test]
        fn parse_frame_never_panics_on_json(value in json_value()) {
            let _ = parse_frame(&value.to_string());
        }

        #[test]
        fn oversized_frames_are_too_large_whatever_they_hold(pad in 0usize..64, body in ".{0,20}") {
            let text = format!("{}{body}", " ".repeat(MAX_FRAME_BYTES + 1 + pad));
            prop_assert!(matches!(parse_frame(&text), Err(FrameError::TooLarge(n)) if n == text.len()));
        }

        #[test]
        fn envelopes_round_trip(action in ".{0,40}", request_id in proptest::option::of(".{0,64}"), data in json_object()) {
            let text = json!({"action": action, "requestId": request_id, "data": data}).to_string();
            prop_assume!(text.len() <= MAX_FRAME_BYTES);
            let frame = parse_frame(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(frame, ClientFrame { action, request_id, data });
        }

        #[test]
        fn long_or_mistyped_request_ids_are_dropped(id in ".{65,80}", other in json_value()) {
            prop_assume!(!matches!(other, Value::Null | Value::String(_)));
            for request_id in [Value::from(id), other] {
                let text = json!({"action": "ping", "requestId": request_id}).to_string();
                match parse_frame(&text) {
                    Err(FrameError::BadEnvelope { request_id: None, .. }) => {}
                    other => prop_assert!(false, "{text}: {other:?}"),
                }
            }
        }

    }
}
