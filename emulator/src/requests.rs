//! The request log: what clients sent, with secret values and tokens replaced by `***`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields whose values never appear in the log.
const REDACTED_FIELDS: [&str; 5] = ["string_value", "bytes_value", "value", "token", "password"];

/// One received request (control requests to `/__emulator/...` are not logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, `""` when there is none.
    pub query: String,
    /// The decoded query parameters (first occurrence of each name).
    pub query_params: Map<String, Value>,
    /// The JSON body with secret fields redacted; `null` when empty; a short note when the
    /// body was not JSON.
    pub body: Value,
    /// The user the request authenticated as, if it did.
    pub user: Option<String>,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Whether an injected fault applied to this request.
    pub fault: bool,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

/// The body as it is logged.
pub(crate) fn logged_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice(body) {
        Ok(mut value) => {
            redact(&mut value);
            value
        }
        Err(_) => Value::String(format!("<{} bytes, not JSON>", body.len())),
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                if REDACTED_FIELDS.contains(&name.as_str()) && !field.is_null() {
                    *field = Value::String("***".into());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_fields_are_redacted_everywhere() {
        let body = br#"{"scope":"s","string_value":"hunter2","nested":[{"token":"t","key":"k"}]}"#;
        assert_eq!(
            logged_body(body),
            json!({"scope": "s", "string_value": "***", "nested": [{"token": "***", "key": "k"}]})
        );
    }

    #[test]
    fn non_json_and_empty_bodies() {
        assert_eq!(logged_body(b""), Value::Null);
        assert_eq!(logged_body(b"\xff secret"), json!("<8 bytes, not JSON>"));
    }
}
