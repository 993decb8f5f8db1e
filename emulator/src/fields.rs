//! The fields of a request, from a JSON body (POST) or the query string (GET), with the
//! Databricks errors for missing fields and wrong types.

use crate::error::ApiError;
use serde_json::{Map, Value};

#[derive(Debug, Default)]
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// Query parameters as string fields; the first occurrence of a name wins.
    pub fn from_query(query: &str) -> Fields {
        Fields(query_map(query))
    }

    /// A JSON object body.
    pub fn from_json_body(body: &[u8]) -> Result<Fields, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::malformed(
                "The request body is empty; send a JSON object",
            ));
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(_) => Err(ApiError::malformed(
                "The request body must be a JSON object",
            )),
            Err(error) => Err(ApiError::malformed(format!(
                "The request body is not valid JSON: {error}"
            ))),
        }
    }

    /// A string field; `null` counts as absent.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ApiError::malformed(format!(
                "Invalid value for field {name}: expected a string, got {}",
                type_name(other)
            ))),
        }
    }

    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        self.optional_str(name)?
            .ok_or_else(|| ApiError::malformed(format!("Missing required field: {name}")))
    }

    /// An object field; `null` counts as absent.
    pub fn optional_object(&self, name: &str) -> Result<Option<Fields>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields(map.clone()))),
            Some(other) => Err(ApiError::malformed(format!(
                "Invalid value for field {name}: expected an object, got {}",
                type_name(other)
            ))),
        }
    }
}

/// Decodes a query string into a map of string values, first occurrence first.
pub(crate) fn query_map(query: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        map.entry(name.into_owned())
            .or_insert_with(|| Value::String(value.into_owned()));
    }
    map
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_fields_are_percent_decoded() {
        let fields = Fields::from_query("scope=my%20scope&key=a%2Bb&key=second");
        assert_eq!(fields.required_str("scope").unwrap(), "my scope");
        assert_eq!(fields.required_str("key").unwrap(), "a+b");
        assert_eq!(
            fields.required_str("principal").unwrap_err().error_code,
            "MALFORMED_REQUEST"
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_malformed() {
        for body in [&b""[..], b"  ", b"[1]", b"{", b"\xff\xfe", b"\"text\""] {
            let error = Fields::from_json_body(body).unwrap_err();
            assert_eq!(error.error_code, "MALFORMED_REQUEST", "{body:?}");
        }
    }

    #[test]
    fn wrong_types_are_malformed_and_null_is_absent() {
        let fields = Fields::from_json_body(br#"{"scope": 5, "key": null}"#).unwrap();
        assert_eq!(
            fields.optional_str("scope").unwrap_err().error_code,
            "MALFORMED_REQUEST"
        );
        assert_eq!(fields.optional_str("key").unwrap(), None);
    }
}
