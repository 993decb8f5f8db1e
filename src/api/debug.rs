//! Redaction for `--debug` lines: no token or secret value may reach them.

use serde_json::Value;

use super::error::excerpt;

/// JSON fields whose values are replaced by `***` wherever they appear.
const SECRET_FIELDS: [&str; 4] = ["token", "string_value", "bytes_value", "value"];

const MASK: &str = "***";

/// A copy of `json` with every secret field, at any depth, replaced by `***`.
pub(crate) fn redact(json: &Value) -> Value {
    match json {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let shown = if SECRET_FIELDS.contains(&name.as_str()) {
                        Value::String(MASK.to_owned())
                    } else {
                        redact(value)
                    };
                    (name.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// A body as one log line: redacted compact JSON, else a short excerpt of the text.
pub(crate) fn body_for_log(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "(empty body)".to_owned();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => redact(&json).to_string(),
        Err(_) => format!("(not JSON, {} bytes) {}", body.len(), excerpt(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_fields_are_masked_at_any_depth_and_order_is_kept() {
        let body = json!({
            "scope": "s",
            "key": "k",
            "string_value": "hunter2",
            "nested": {"token": "dapi1", "list": [{"value": {"deep": 1}}, {"bytes_value": "aGk="}]},
            "principal": "users"
        });
        let shown = redact(&body).to_string();
        assert_eq!(
            shown,
            r#"{"scope":"s","key":"k","string_value":"***","nested":{"token":"***","list":[{"value":"***"},{"bytes_value":"***"}]},"principal":"users"}"#
        );
    }

    #[test]
    fn log_bodies_are_redacted_json_or_a_short_excerpt() {
        assert_eq!(
            body_for_log(br#"{"key":"k","value":"c2VjcmV0"}"#),
            r#"{"key":"k","value":"***"}"#
        );
        assert_eq!(body_for_log(b" \n"), "(empty body)");
        assert_eq!(
            body_for_log(b"<html><title>Login</title></html>"),
            "(not JSON, 33 bytes) Login"
        );
    }
}
