//! The JSON format of import, export and sync: one object of key names to values. A value is a string, or
//! `{"bytes_value": "<standard base64>"}` for bytes that are not UTF-8 text (export writes
//! that form for such values).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::api::SecretValue;
use crate::secret::{Secret, SecretBytes};

use super::{Entry, Problem, UTF8_BOM, first_non_blank, validate};

/// Writes entries as one pretty JSON object in their order: text values as strings, byte
/// values as `{"bytes_value": "<base64>"}`.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let object: serde_json::Map<String, Value> = entries
        .iter()
        .map(|entry| (entry.key.clone(), json_value(&entry.value)))
        .collect();
    let mut out = serde_json::to_vec_pretty(&object).unwrap_or_default();
    out.push(b'\n');
    out
}

fn json_value(value: &SecretValue) -> Value {
    match value {
        SecretValue::Text(text) => text.expose().into(),
        SecretValue::Bytes(bytes) => {
            serde_json::json!({ BYTES_VALUE: BASE64.encode(bytes.expose()) })
        }
    }
}

const BYTES_VALUE: &str = "bytes_value";

/// Parses a JSON import file: one object of key names to strings or `{"bytes_value": ...}`.
pub fn parse(content: &[u8]) -> Result<Vec<Entry>, Vec<Problem>> {
    let content = content.strip_prefix(UTF8_BOM).unwrap_or(content);
    if first_non_blank(content) != Some(b'{') {
        return Err(vec![Problem {
            line: None,
            message: "a JSON import file must hold one object: {\"key\": \"value\", ...}".into(),
        }]);
    }
    let members = read_members(content).map_err(|error| vec![json_syntax_problem(&error)])?;
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    for (key, value, line) in members {
        match secret_value_from_json(value) {
            Ok(value) => entries.push(Entry { key, value, line }),
            Err(message) => problems.push(Problem {
                line: Some(line),
                message: format!("the value of '{key}' {message}"),
            }),
        }
    }
    validate(entries, problems)
}

fn secret_value_from_json(value: Value) -> Result<SecretValue, String> {
    match value {
        Value::String(text) => Ok(SecretValue::Text(Secret::new(text))),
        Value::Object(mut object) if object.len() == 1 => match object.remove(BYTES_VALUE) {
            Some(Value::String(base64)) => BASE64
                .decode(base64)
                .map(|bytes| SecretValue::Bytes(SecretBytes::new(bytes)))
                .map_err(|_| format!("has a {BYTES_VALUE} that is not standard base64")),
            _ => Err(not_a_value("an object")),
        },
        Value::Object(_) => Err(not_a_value("an object")),
        Value::Array(_) => Err(not_a_value("an array")),
        Value::Number(_) => Err(not_a_value("a number")),
        Value::Bool(_) => Err(not_a_value("a boolean")),
        Value::Null => Err(not_a_value("null")),
    }
}

fn not_a_value(kind: &str) -> String {
    format!("is {kind}: give a string, or {{\"{BYTES_VALUE}\": \"<base64>\"}} for binary values")
}

fn json_syntax_problem(error: &serde_json::Error) -> Problem {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let reason = message.strip_suffix(&position).unwrap_or(&message);
    Problem {
        line: (error.line() > 0).then_some(error.line()),
        message: format!("not valid JSON (column {}): {reason}", error.column()),
    }
}

/// The object's members in file order, duplicates kept, each with the line of its key.
///
/// Each value is read first as a borrowed [`RawValue`], whose text is a slice of `content`
/// (a `&RawValue` always borrows from the input it was read from), so where a value starts
/// is known and with it the line of its key.
fn read_members(content: &[u8]) -> Result<Vec<(String, Value, usize)>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(content);
    let raw_members = (&mut deserializer).deserialize_map(MembersVisitor)?;
    deserializer.end()?;
    let mut lines = LineCounter::default();
    raw_members
        .into_iter()
        .map(|(key, raw)| {
            let line = lines.key_line(content, raw.get());
            Ok((key, serde_json::from_str(raw.get())?, line))
        })
        .collect()
}

/// Counts lines up to the keys of members met in file order, each byte once.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line of the key whose value is `value`, a slice of `content`. Between a
    /// key's closing quote and its value there are only blanks and `:`, and a key never spans
    /// lines, so the key is on the line of the last other byte before the value.
    fn key_line(&mut self, content: &[u8], value: &str) -> usize {
        let value_start = (value.as_ptr() as usize).saturating_sub(content.as_ptr() as usize);
        let before_value = &content[..value_start.min(content.len())];
        let key_end = before_value
            .iter()
            .rposition(|byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b':'))
            .unwrap_or(0)
            .max(self.counted_to);
        self.newlines += content[self.counted_to..key_end]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.counted_to = key_end;
        self.newlines + 1
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object of key names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            members.push((key, map.next_value()?));
        }
        Ok(members)
    }
}
