//! Redaction for `--debug` lines and error texts: no token or secret value may reach them.

use std::borrow::Cow;

use serde_json::Value;

use super::error::excerpt;

/// JSON fields whose values are replaced by `***` wherever they appear.
const SECRET_FIELDS: [&str; 4] = ["token", "string_value", "bytes_value", "value"];

const MASK: &str = "***";

/// Shorter credentials are not masked: replacing every `t` of a message would make it
/// unreadable while hiding almost nothing.
const MIN_MASKED_BYTES: usize = 4;

/// The credentials a client sends, to be masked wherever an answer echoes them back.
#[derive(Clone, Default)]
pub(crate) struct CredentialMask {
    credentials: Vec<Vec<u8>>,
}

impl CredentialMask {
    pub fn new<'a>(credentials: impl IntoIterator<Item = &'a [u8]>) -> Self {
        CredentialMask {
            credentials: credentials
                .into_iter()
                .filter(|credential| credential.len() >= MIN_MASKED_BYTES)
                .map(<[u8]>::to_vec)
                .collect(),
        }
    }

    /// `bytes` with every occurrence of a credential replaced by `***`.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut masked = Cow::Borrowed(bytes);
        for credential in &self.credentials {
            if let Some(replaced) = replace_all(&masked, credential, MASK.as_bytes()) {
                masked = Cow::Owned(replaced);
            }
        }
        masked
    }

    pub fn text(&self, text: &str) -> String {
        let mut masked = text.to_owned();
        for credential in &self.credentials {
            // Credentials in an HTTP header are visible ASCII, so they are valid UTF-8.
            if let Ok(credential) = std::str::from_utf8(credential) {
                masked = masked.replace(credential, MASK);
            }
        }
        masked
    }
}

/// `haystack` with each `needle` replaced, or `None` when there is none.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    let first = find(haystack, needle)?;
    let mut replaced = haystack[..first].to_vec();
    let mut rest = &haystack[first..];
    while let Some(at) = find(rest, needle) {
        replaced.extend_from_slice(&rest[..at]);
        replaced.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    replaced.extend_from_slice(rest);
    Some(replaced)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A copy of `json` with every secret field, at any depth, replaced by `***`.
pub(crate) fn redact(json: &Value) -> Value {
    redact_fields(json, &SECRET_FIELDS)
}

/// A copy of `json` with every field named in `fields`, at any depth, replaced by `***`.
pub fn redact_fields(json: &Value, fields: &[&str]) -> Value {
    match json {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(name, value)| {
                    let shown = if fields.contains(&name.as_str()) {
                        Value::String(MASK.to_owned())
                    } else {
                        redact_fields(value, fields)
                    };
                    (name.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| redact_fields(item, fields))
                .collect(),
        ),
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
    fn credentials_are_masked_in_bytes_and_text_but_not_short_ones() {
        let mask = CredentialMask::new([b"dapi-123".as_slice(), b"pw".as_slice()]);
        assert_eq!(
            mask.bytes(b"a dapi-123 b dapi-123dapi-123 pw").as_ref(),
            b"a *** b ****** pw"
        );
        assert!(matches!(mask.bytes(b"nothing here"), Cow::Borrowed(_)));
        assert_eq!(mask.text("token=dapi-123&x"), "token=***&x");
        assert_eq!(CredentialMask::default().text("dapi-123"), "dapi-123");
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
