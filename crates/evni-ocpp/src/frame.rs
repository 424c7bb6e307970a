//! OCPP-J frames: the RPC envelope around every message.

use evni_domain::FieldError;
use serde_json::Value;

/// The OCPP version a charger speaks (its WebSocket subprotocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V16,
    V201,
    V21,
}

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1.6" | "ocpp1.6" => Some(Version::V16),
            "2.0.1" | "ocpp2.0.1" => Some(Version::V201),
            "2.1" | "ocpp2.1" => Some(Version::V21),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V16 => "1.6",
            Version::V201 => "2.0.1",
            Version::V21 => "2.1",
        }
    }

    pub fn accepted() -> [&'static str; 3] {
        ["1.6", "2.0.1", "2.1"]
    }
}

/// One OCPP-J frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `[2, messageId, action, payload]`
    Call {
        id: String,
        action: String,
        payload: Value,
    },
    /// `[3, messageId, payload]`
    Result { id: String, payload: Value },
    /// `[4, messageId, errorCode, errorDescription, errorDetails]`
    Error { id: String },
}

impl Frame {
    /// Reads a frame; problems are reported at `path` (e.g. `frames[2]`).
    pub fn parse(path: &str, value: Value) -> Result<Self, FieldError> {
        let Value::Array(mut items) = value else {
            return Err(FieldError::new(
                path,
                "an OCPP-J frame is a JSON array: [2, id, action, payload], [3, id, payload] or [4, id, code, description, details]",
            ));
        };
        let kind = items.first().and_then(Value::as_u64);
        let expected = match kind {
            Some(2) => 4,
            Some(3) => 3,
            Some(4) => 5,
            _ => {
                return Err(FieldError::new(
                    format!("{path}[0]"),
                    "the message type must be 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)",
                )
                .with_accepted(["2", "3", "4"]))
            }
        };
        if items.len() != expected {
            return Err(FieldError::new(
                path,
                format!(
                    "a frame of type {} has {expected} elements, not {}",
                    kind.unwrap_or_default(),
                    items.len()
                ),
            ));
        }
        let id = match &items[1] {
            Value::String(id) if !id.is_empty() && id.len() <= 36 => id.clone(),
            _ => {
                return Err(FieldError::new(
                    format!("{path}[1]"),
                    "the message id must be a string of 1 to 36 characters",
                ))
            }
        };
        match kind {
            Some(2) => {
                let payload = items.pop().unwrap_or_default();
                let Some(Value::String(action)) = items.pop() else {
                    return Err(FieldError::new(
                        format!("{path}[2]"),
                        "the action must be a string",
                    ));
                };
                check_object(&format!("{path}[3]"), &payload)?;
                Ok(Frame::Call { id, action, payload })
            }
            Some(3) => {
                let payload = items.pop().unwrap_or_default();
                check_object(&format!("{path}[2]"), &payload)?;
                Ok(Frame::Result { id, payload })
            }
            _ => Ok(Frame::Error { id }),
        }
    }
}

fn check_object(path: &str, payload: &Value) -> Result<(), FieldError> {
    if payload.is_object() {
        Ok(())
    } else {
        Err(FieldError::new(path, "the payload must be a JSON object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_kinds_are_read() {
        let call = Frame::parse("f", json!([2, "1", "Heartbeat", {}])).unwrap();
        assert_eq!(
            call,
            Frame::Call {
                id: "1".into(),
                action: "Heartbeat".into(),
                payload: json!({})
            }
        );
        let result = Frame::parse("f", json!([3, "1", {"currentTime": "x"}])).unwrap();
        assert!(matches!(result, Frame::Result { .. }));
        let error = Frame::parse("f", json!([4, "1", "NotImplemented", "", {}])).unwrap();
        assert_eq!(error, Frame::Error { id: "1".into() });
    }

    #[test]
    fn broken_frames_name_their_element() {
        let cases = [
            (json!({"a": 1}), "f"),
            (json!([5, "1", {}]), "f[0]"),
            (json!([2, "1", "Heartbeat"]), "f"),
            (json!([2, 7, "Heartbeat", {}]), "f[1]"),
            (json!([2, "1", 3, {}]), "f[2]"),
            (json!([2, "1", "Heartbeat", []]), "f[3]"),
            (json!([3, "1", "x"]), "f[2]"),
        ];
        for (frame, field) in cases {
            let error = Frame::parse("f", frame.clone()).unwrap_err();
            assert_eq!(error.field, field, "{frame}");
        }
    }
}
