//! Frame decoding: `parse_frame` and `Command::parse` on any bytes. Never a panic; a frame
//! that parses comes back unchanged when written out and parsed again; size and shape
//! decide the kind of refusal exactly as PROTOCOL.md says.

#![no_main]

use chatting_shared::protocol::{ClientFrame, Command, FrameError, MAX_FRAME_BYTES, parse_frame};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_frame(text) {
        Ok(frame) => {
            assert!(text.len() <= MAX_FRAME_BYTES);
            assert!(frame.request_id.as_ref().is_none_or(|id| id.chars().count() <= 64));
            let again = json!({"action": frame.action, "requestId": frame.request_id, "data": frame.data}).to_string();
            // serde_json (without `float_roundtrip`) may read a float back one bit off; no
            // field of the protocol is a float, so those frames are not compared.
            if again.len() <= MAX_FRAME_BYTES && !frame.data.values().any(has_float) {
                assert_eq!(parse_frame(&again).as_ref(), Ok(&frame), "{again}");
            }
            let ClientFrame { action, data, .. } = frame;
            if let Err(invalid) = Command::parse(&action, data) {
                assert!(!invalid.to_string().is_empty());
            }
        }
        Err(FrameError::TooLarge(n)) => assert!(n == text.len() && n > MAX_FRAME_BYTES),
        Err(FrameError::NotAnObject(_)) => {
            assert!(!matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_))))
        }
        Err(FrameError::BadEnvelope { .. }) => {
            assert!(matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_))))
        }
    }
});
