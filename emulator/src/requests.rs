//! The request log: what clients sent, with secret values, tokens, client secrets, codes and
//! verifiers replaced by `***`.

use crate::fields::query_map;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields (JSON, form or query) whose values never appear in the log.
const REDACTED_FIELDS: [&str; 14] = [
    "string_value",
    "bytes_value",
    "value",
    "token",
    "password",
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "access_token",
    "id_token",
    "assertion",
    "client_assertion",
    "subject_token",
];

/// One received request (control requests to `/__emulator/...` are not logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, `""` when there is none.
    pub query: String,
    /// The decoded query parameters (first occurrence of each name).
    pub query_params: Map<String, Value>,
    /// The JSON body, or a form body (`application/x-www-form-urlencoded`, e.g. a token
    /// request) as an object, with secret fields redacted; `null` when empty; a short note
    /// otherwise.
    pub body: Value,
    /// The scheme of the `Authorization` header (`Bearer`, `Basic`), never its credentials.
    pub auth_scheme: Option<String>,
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
pub(crate) fn logged_body(body: &[u8], content_type: &str) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let form = content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE));
    let parsed = if form {
        std::str::from_utf8(body)
            .ok()
            .map(|text| Value::Object(query_map(text)))
    } else {
        serde_json::from_slice(body).ok()
    };
    match parsed {
        Some(mut value) => {
            redact(&mut value);
            value
        }
        None if form => Value::String(format!("<{} bytes, not a form>", body.len())),
        None => Value::String(format!("<{} bytes, not JSON>", body.len())),
    }
}

/// The raw query and its decoded parameters as they are logged: when a secret field is
/// redacted, the raw query is rebuilt from the redacted parameters.
pub(crate) fn logged_query(query: &str) -> (String, Map<String, Value>) {
    let mut params = Value::Object(query_map(query));
    let secret_inside = redact(&mut params);
    let Value::Object(params) = params else {
        unreachable!("redact keeps an object an object")
    };
    if !secret_inside {
        return (query.to_string(), params);
    }
    let pairs = params
        .iter()
        .map(|(name, value)| (name, value.as_str().unwrap_or_default()));
    let rebuilt = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    (rebuilt, params)
}

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Replaces secret fields at any depth; says whether there was one.
fn redact(value: &mut Value) -> bool {
    let mut redacted = false;
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                if REDACTED_FIELDS.contains(&name.as_str()) && !field.is_null() {
                    *field = Value::String("***".into());
                    redacted = true;
                } else {
                    redacted |= redact(field);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redacted |= redact(item);
            }
        }
        _ => {}
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_fields_are_redacted_everywhere() {
        let body = br#"{"scope":"s","string_value":"hunter2","nested":[{"token":"t","key":"k"}]}"#;
        assert_eq!(
            logged_body(body, "application/json"),
            json!({"scope": "s", "string_value": "***", "nested": [{"token": "***", "key": "k"}]})
        );
    }

    #[test]
    fn token_requests_are_logged_as_forms_without_their_secrets() {
        let body =
            b"grant_type=authorization_code&code=c0de&code_verifier=v&client_id=databricks-cli\
                     &redirect_uri=http%3A%2F%2Flocalhost%3A8020&client_secret=s&refresh_token=r\
                     &subject_token=jwt&client_assertion=a";
        let logged = logged_body(body, "application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(
            logged,
            json!({
                "grant_type": "authorization_code", "code": "***", "code_verifier": "***",
                "client_id": "databricks-cli", "redirect_uri": "http://localhost:8020",
                "client_secret": "***", "refresh_token": "***", "subject_token": "***",
                "client_assertion": "***",
            })
        );
        let (query, params) = logged_query("resource=r&client_secret=s3cret");
        assert_eq!(query, "resource=r&client_secret=***");
        assert_eq!(params["client_secret"], "***");
        assert_eq!(logged_query("a=1&b=%20").0, "a=1&b=%20");
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz_config())]

        #[test]
        fn fuzz_token_request_form(
            secret in "S3CR3T[A-Za-z0-9+/=&%~._-]{0,40}",
            field in proptest::sample::select(&REDACTED_FIELDS[..]),
            noise in "[a-z_=&%+]{0,40}",
        ) {
            let body = form_urlencoded::Serializer::new(noise.clone())
                .append_pair(field, &secret)
                .finish();
            let logged = logged_body(body.as_bytes(), FORM_CONTENT_TYPE).to_string();
            proptest::prop_assert!(!logged.contains(&secret), "{} leaked in {}", secret, logged);
            let (query, params) = logged_query(&body);
            proptest::prop_assert!(!query.contains(&secret));
            proptest::prop_assert!(!Value::Object(params).to_string().contains(&secret));
        }

        #[test]
        fn fuzz_logged_body(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for content_type in ["application/json", FORM_CONTENT_TYPE, ""] {
                let _ = logged_body(&body, content_type);
            }
        }
    }

    #[test]
    fn non_json_and_empty_bodies() {
        assert_eq!(logged_body(b"", "application/json"), Value::Null);
        assert_eq!(
            logged_body(b"\xff secret", ""),
            json!("<8 bytes, not JSON>")
        );
        assert_eq!(
            logged_body(b"\xff", "application/x-www-form-urlencoded"),
            json!("<1 bytes, not a form>")
        );
    }
}
