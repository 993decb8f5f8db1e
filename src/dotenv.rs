//! The file formats of `secrets import` and `secrets export`: `.env` and JSON.
//!
//! `.env` (one `KEY=VALUE` per entry):
//! - `#` lines are comments, blank lines are skipped, CRLF line ends and a UTF-8 BOM are fine;
//! - an optional `export ` before the key; blanks around the key and `=` are ignored;
//! - unquoted values are trimmed; a `#` after a blank starts a comment (`a=b#c` keeps `b#c`);
//! - single-quoted values are taken literally, double-quoted values know the escapes `\n`,
//!   `\r`, `\t`, `\"`, `\\`, `\$` and `\xNN` (any byte, so values that are not UTF-8 can be
//!   written); both may span lines (a CRLF inside quotes reads as `\n`); there is no variable
//!   expansion; a comment may follow the closing quote.
//!
//! JSON: one object of key names to values. A value is a string, or
//! `{"bytes_value": "<standard base64>"}` for bytes that are not UTF-8 text (export writes
//! that form for such values).
//!
//! Parsing reports every problem of a file at once, with its line; problem messages never
//! contain a value.

use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};

use crate::api::{MAX_VALUE_BYTES, SecretValue, validate_key_name};
use crate::input::value_from_bytes;
use crate::secret::{Secret, SecretBytes};

/// The `--format` of import and export.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Env,
    Json,
}

/// One secret of an import or export file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: SecretValue,
    /// The 1-based line of the key in the parsed file (for an entry not read from a file, any
    /// number: writing ignores it).
    pub line: usize,
}

/// Something wrong in an import file; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// `--format` wins; else the file name (`*.env`, `*.json`, any case); else the content: JSON
/// when the first non-blank byte is `{`, otherwise `.env`.
pub fn detect_format(
    explicit: Option<FileFormat>,
    path: Option<&Path>,
    content: &[u8],
) -> FileFormat {
    explicit
        .or_else(|| path.and_then(format_from_name))
        .unwrap_or_else(|| match first_non_blank(content) {
            Some(b'{') => FileFormat::Json,
            _ => FileFormat::Env,
        })
}

fn format_from_name(path: &Path) -> Option<FileFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".json") {
        Some(FileFormat::Json)
    } else if name.ends_with(".env") {
        Some(FileFormat::Env)
    } else {
        None
    }
}

fn first_non_blank(content: &[u8]) -> Option<u8> {
    let content = content.strip_prefix(UTF8_BOM).unwrap_or(content);
    content
        .iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn parse(format: FileFormat, content: &[u8]) -> Result<Vec<Entry>, Vec<Problem>> {
    match format {
        FileFormat::Env => parse_env(content),
        FileFormat::Json => parse_json(content),
    }
}

pub fn write(format: FileFormat, entries: &[Entry]) -> Vec<u8> {
    match format {
        FileFormat::Env => write_env(entries),
        FileFormat::Json => write_json(entries),
    }
}

/// Checks what both formats share: key names, one entry per key, non-empty values within the
/// size limit. Problems come out sorted by line.
fn validate(entries: Vec<Entry>, mut problems: Vec<Problem>) -> Result<Vec<Entry>, Vec<Problem>> {
    let mut first_lines: HashMap<&str, usize> = HashMap::new();
    for entry in &entries {
        let mut report = |message: String| {
            problems.push(Problem {
                line: Some(entry.line),
                message,
            })
        };
        if let Err(message) = validate_key_name(&entry.key) {
            report(message);
        }
        match first_lines.entry(&entry.key) {
            MapEntry::Occupied(first) => report(format!(
                "the key '{}' is given twice (first on line {}): keep one",
                entry.key,
                first.get()
            )),
            MapEntry::Vacant(vacant) => {
                vacant.insert(entry.line);
            }
        }
        if entry.value.is_empty() {
            report(format!(
                "the value of '{}' is empty: secret values cannot be empty",
                entry.key
            ));
        } else if entry.value.len() > MAX_VALUE_BYTES {
            report(format!(
                "the value of '{}' is {} bytes, over the limit of {MAX_VALUE_BYTES} bytes",
                entry.key,
                entry.value.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        problems.sort_by_key(|problem| problem.line);
        Err(problems)
    }
}

/// Parses a `.env` file (see the module documentation for the syntax).
pub fn parse_env(content: &[u8]) -> Result<Vec<Entry>, Vec<Problem>> {
    let mut parser = EnvParser {
        input: content.strip_prefix(UTF8_BOM).unwrap_or(content),
        position: 0,
        line: 1,
        entries: Vec::new(),
        problems: Vec::new(),
    };
    while parser.peek().is_some() {
        parser.statement();
    }
    validate(parser.entries, parser.problems)
}

const ESCAPE_HELP: &str = "use \\n, \\r, \\t, \\\", \\\\, \\$ or \\xNN (two hex digits)";

struct EnvParser<'a> {
    input: &'a [u8],
    position: usize,
    line: usize,
    entries: Vec<Entry>,
    problems: Vec<Problem>,
}

fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r')
}

impl EnvParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.position).copied()
    }

    fn rest(&self) -> &[u8] {
        &self.input[self.position..]
    }

    /// Consumes one byte, counting lines.
    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Some(byte)
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &[u8] {
        let start = self.position;
        while self.peek().is_some_and(&keep) {
            self.position += 1;
        }
        &self.input[start..self.position]
    }

    fn skip_blanks(&mut self) {
        self.take_while(is_blank);
    }

    /// Skips to the start of the next line.
    fn skip_line(&mut self) {
        self.take_while(|byte| byte != b'\n');
        self.bump();
    }

    fn problem(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            line: Some(line),
            message: message.into(),
        });
    }

    /// One blank line, comment line or `KEY=VALUE` entry, up to the start of the next line.
    fn statement(&mut self) {
        self.skip_blanks();
        match self.peek() {
            None => return,
            Some(b'\n' | b'#') => return self.skip_line(),
            Some(_) => {}
        }
        let line = self.line;
        self.skip_export_keyword();
        let key = String::from_utf8_lossy(
            self.take_while(|byte| byte != b'=' && byte != b'\n' && !is_blank(byte)),
        )
        .into_owned();
        self.skip_blanks();
        if self.peek() != Some(b'=') {
            // The line is not echoed: it might be a value pasted on its own.
            self.problem(
                line,
                "expected KEY=VALUE: a key name without blanks, then '='",
            );
            return self.skip_line();
        }
        self.position += 1;
        if let Some(value) = self.value() {
            self.entries.push(Entry {
                key,
                value: value_from_bytes(value),
                line,
            });
        }
    }

    /// `export KEY=...`; but `export=...` and `export =...` set the key `export`.
    fn skip_export_keyword(&mut self) {
        let Some(after) = self.rest().strip_prefix(b"export") else {
            return;
        };
        let blanks = after
            .iter()
            .take_while(|&&byte| byte == b' ' || byte == b'\t')
            .count();
        if blanks > 0 && !matches!(after.get(blanks), Some(b'=') | None) {
            self.position += b"export".len() + blanks;
        }
    }

    /// The value after `=` and the rest of its line; `None` when it has a problem.
    fn value(&mut self) -> Option<Vec<u8>> {
        let after_equals = self.position;
        self.skip_blanks();
        let value = match self.peek() {
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            _ => {
                self.position = after_equals;
                return Some(self.unquoted());
            }
        };
        let line_is_clean = self.end_after_quote();
        value.filter(|_| line_is_clean)
    }

    /// The rest of the line, up to a comment (`#` after a blank), trimmed.
    fn unquoted(&mut self) -> Vec<u8> {
        let text = self.take_while(|byte| byte != b'\n');
        let comment = (1..text.len()).find(|&at| text[at] == b'#' && is_blank(text[at - 1]));
        let value = text[..comment.unwrap_or(text.len())].trim_ascii().to_vec();
        self.bump();
        value
    }

    /// After a closing quote only blanks or a comment may follow on the line.
    fn end_after_quote(&mut self) -> bool {
        self.skip_blanks();
        let clean = matches!(self.peek(), None | Some(b'\n' | b'#'));
        if !clean {
            let line = self.line;
            self.problem(
                line,
                "unexpected text after the closing quote: start a comment with ' #'",
            );
        }
        self.skip_line();
        clean
    }

    /// A double-quoted value from its opening quote; escapes decoded.
    fn double_quoted(&mut self) -> Option<Vec<u8>> {
        let opened_on = self.line;
        self.bump();
        let mut value = Vec::new();
        let mut escapes_valid = true;
        loop {
            match self.bump() {
                None => {
                    self.problem(
                        opened_on,
                        "the double quote opened here is never closed: add the closing '\"'",
                    );
                    return None;
                }
                Some(b'"') => return escapes_valid.then_some(value),
                Some(b'\\') => match self.escape() {
                    Some(byte) => value.push(byte),
                    None => escapes_valid = false,
                },
                Some(b'\r') if self.peek() == Some(b'\n') => {}
                Some(byte) => value.push(byte),
            }
        }
    }

    /// The byte an escape stands for, after its backslash.
    fn escape(&mut self) -> Option<u8> {
        let line = self.line;
        let byte = match self.peek() {
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(quoted @ (b'"' | b'\\' | b'$')) => Some(quoted),
            Some(b'x') => {
                self.bump();
                return self.hex_byte().or_else(|| {
                    self.problem(
                        line,
                        format!("'\\x' must be followed by two hex digits: {ESCAPE_HELP}"),
                    );
                    None
                });
            }
            _ => None,
        };
        match byte {
            Some(_) => {
                self.bump();
            }
            // The unknown character is not shown: it is part of a value.
            None => self.problem(
                line,
                format!("unknown escape in double quotes: {ESCAPE_HELP}"),
            ),
        }
        byte
    }

    /// Two hex digits; a non-digit is left for the caller (it may be the closing quote).
    fn hex_byte(&mut self) -> Option<u8> {
        let high = self.hex_digit()?;
        let low = self.hex_digit()?;
        Some(high << 4 | low)
    }

    fn hex_digit(&mut self) -> Option<u8> {
        let digit = char::from(self.peek()?).to_digit(16)?;
        self.position += 1;
        u8::try_from(digit).ok()
    }

    /// A single-quoted value from its opening quote, taken literally.
    fn single_quoted(&mut self) -> Option<Vec<u8>> {
        let opened_on = self.line;
        self.bump();
        let mut value = Vec::new();
        loop {
            match self.bump() {
                None => {
                    self.problem(
                        opened_on,
                        "the single quote opened here is never closed: add the closing \"'\"",
                    );
                    return None;
                }
                Some(b'\'') => return Some(value),
                Some(b'\r') if self.peek() == Some(b'\n') => {}
                Some(byte) => value.push(byte),
            }
        }
    }
}

/// Writes entries as `KEY="VALUE"` lines, every value double-quoted and escaped so that any
/// bytes (newlines, quotes, `$`, `#`, edge blanks, non-UTF-8) read back exactly.
pub fn write_env(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        out.extend_from_slice(entry.key.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_into(&mut out, value_bytes(&entry.value));
        out.extend_from_slice(b"\"\n");
    }
    out
}

fn escape_into(out: &mut Vec<u8>, value: &[u8]) {
    for chunk in value.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '"' | '\\' | '$' => out.extend_from_slice(&[b'\\', character as u8]),
                control if control.is_control() => {
                    hex_escape_into(out, control.encode_utf8(&mut [0; 4]).as_bytes());
                }
                printable => out.extend_from_slice(printable.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        hex_escape_into(out, chunk.invalid());
    }
}

fn hex_escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        let high = HEX_DIGITS[usize::from(byte >> 4)];
        let low = HEX_DIGITS[usize::from(byte & 0x0f)];
        out.extend_from_slice(&[b'\\', b'x', high, low]);
    }
}

fn value_bytes(value: &SecretValue) -> &[u8] {
    match value {
        SecretValue::Text(text) => text.expose().as_bytes(),
        SecretValue::Bytes(bytes) => bytes.expose(),
    }
}

/// Writes entries as one pretty JSON object in their order: text values as strings, byte
/// values as `{"bytes_value": "<base64>"}`.
pub fn write_json(entries: &[Entry]) -> Vec<u8> {
    let object: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|entry| (entry.key.clone(), json_value(&entry.value)))
        .collect();
    let mut out = serde_json::to_vec_pretty(&object).unwrap_or_default();
    out.push(b'\n');
    out
}

fn json_value(value: &SecretValue) -> serde_json::Value {
    match value {
        SecretValue::Text(text) => text.expose().into(),
        SecretValue::Bytes(bytes) => {
            serde_json::json!({ BYTES_VALUE: BASE64.encode(bytes.expose()) })
        }
    }
}

const BYTES_VALUE: &str = "bytes_value";

/// Parses a JSON import file: one object of key names to strings or `{"bytes_value": ...}`.
pub fn parse_json(content: &[u8]) -> Result<Vec<Entry>, Vec<Problem>> {
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

fn secret_value_from_json(value: serde_json::Value) -> Result<SecretValue, String> {
    use serde_json::Value;
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
fn read_members(
    content: &[u8],
) -> Result<Vec<(String, serde_json::Value, usize)>, serde_json::Error> {
    let newlines = Rc::new(Cell::new(0));
    let reader = NewlineCounter {
        rest: content,
        newlines: Rc::clone(&newlines),
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let members = (&mut deserializer).deserialize_map(MembersVisitor { newlines })?;
    deserializer.end()?;
    Ok(members)
}

/// A reader that counts the newlines read so far. serde_json reads an unbuffered reader one
/// byte at a time, so after a key has been read the count gives the key's line.
struct NewlineCounter<'a> {
    rest: &'a [u8],
    newlines: Rc<Cell<usize>>,
}

impl Read for NewlineCounter<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.rest.read(buffer)?;
        let newlines = buffer[..count]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.newlines.set(self.newlines.get() + newlines);
        Ok(count)
    }
}

struct MembersVisitor {
    newlines: Rc<Cell<usize>>,
}

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<(String, serde_json::Value, usize)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object of key names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let line = self.newlines.get() + 1;
            members.push((key, map.next_value()?, line));
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(value: &str) -> SecretValue {
        SecretValue::Text(Secret::new(value))
    }

    fn bytes(value: &[u8]) -> SecretValue {
        SecretValue::Bytes(SecretBytes::new(value.to_vec()))
    }

    fn entry(key: &str, value: SecretValue, line: usize) -> Entry {
        Entry {
            key: key.into(),
            value,
            line,
        }
    }

    fn env(content: &str) -> Vec<Entry> {
        parse_env(content.as_bytes()).unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    fn env_problems(content: &str) -> Vec<String> {
        let problems = parse_env(content.as_bytes()).expect_err("problems expected");
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn plain_and_exported_assignments() {
        assert_eq!(
            env("A=1\nexport B=two words\nexport\tC=3\n"),
            vec![
                entry("A", text("1"), 1),
                entry("B", text("two words"), 2),
                entry("C", text("3"), 3)
            ]
        );
    }

    #[test]
    fn blanks_around_keys_and_equals_are_ignored_and_unquoted_values_trimmed() {
        assert_eq!(
            env("  KEY  =   value with  spaces \t \n"),
            vec![entry("KEY", text("value with  spaces"), 1)]
        );
    }

    #[test]
    fn a_key_may_be_called_export() {
        for content in [
            "export=1",
            "export = 1",
            "export export=1",
            "export\texport\t=\t1",
        ] {
            assert_eq!(
                env(content),
                vec![entry("export", text("1"), 1)],
                "{content}"
            );
        }
    }

    #[test]
    fn comments_start_at_a_hash_after_a_blank() {
        let entries =
            env("# heading\n\nA=value # note\nB=a#b\nC=x\t#tab comment\n   # indented comment\n");
        assert_eq!(
            entries,
            vec![
                entry("A", text("value"), 3),
                entry("B", text("a#b"), 4),
                entry("C", text("x"), 5)
            ]
        );
    }

    #[test]
    fn single_quotes_are_literal_and_may_span_lines() {
        assert_eq!(
            env("A='  $HOME \\n \"x\" # not a comment '\nB='line 1\nline 2'  # done\nC=1\n"),
            vec![
                entry("A", text("  $HOME \\n \"x\" # not a comment "), 1),
                entry("B", text("line 1\nline 2"), 2),
                entry("C", text("1"), 4)
            ]
        );
    }

    #[test]
    fn double_quotes_decode_escapes_and_may_span_lines() {
        assert_eq!(
            env(
                "A=\"tab\\there\\nnew \\\"q\\\" \\\\ \\$HOME $raw 'x' \\r\"\nB=\"first\nsecond\"\nC=\"#x\" # comment\n"
            ),
            vec![
                entry("A", text("tab\there\nnew \"q\" \\ $HOME $raw 'x' \r"), 1),
                entry("B", text("first\nsecond"), 2),
                entry("C", text("#x"), 4)
            ]
        );
    }

    #[test]
    fn hex_escapes_give_any_byte() {
        assert_eq!(
            env("BIN=\"\\x00\\xFF\\xfe\"\nUTF8=\"caf\\xc3\\xa9\"\n"),
            vec![
                entry("BIN", bytes(b"\x00\xff\xfe"), 1),
                entry("UTF8", text("café"), 2)
            ]
        );
    }

    #[test]
    fn crlf_files_and_a_bom_read_like_lf_files() {
        let content = "\u{feff}# c\r\nA=1\r\n\r\nB=\"x\r\ny\"\r\nC='z' \r\nD = two words \r\n";
        assert_eq!(
            env(content),
            vec![
                entry("A", text("1"), 2),
                entry("B", text("x\ny"), 4),
                entry("C", text("z"), 6),
                entry("D", text("two words"), 7)
            ]
        );
    }

    #[test]
    fn an_empty_or_comment_only_file_has_no_entries() {
        assert_eq!(env(""), vec![]);
        assert_eq!(env("\n  \n# only comments\n"), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let content = "\
GOOD=1
no equals sign here
bad key=1
GOOD=2
EMPTY=
QUOTED_EMPTY=\"\"
ESCAPE=\"a\\qb\"
HEX=\"\\xZZ\"
AFTER=\"x\" trailing
user@host=3
OPEN=\"never closed
more
";
        assert_eq!(
            env_problems(content),
            vec![
                "line 2: expected KEY=VALUE: a key name without blanks, then '='".to_string(),
                "line 3: expected KEY=VALUE: a key name without blanks, then '='".to_string(),
                "line 4: the key 'GOOD' is given twice (first on line 1): keep one".to_string(),
                "line 5: the value of 'EMPTY' is empty: secret values cannot be empty".to_string(),
                "line 6: the value of 'QUOTED_EMPTY' is empty: secret values cannot be empty"
                    .to_string(),
                format!("line 7: unknown escape in double quotes: {ESCAPE_HELP}"),
                format!("line 8: '\\x' must be followed by two hex digits: {ESCAPE_HELP}"),
                "line 9: unexpected text after the closing quote: start a comment with ' #'"
                    .to_string(),
                format!("line 10: {}", validate_key_name("user@host").unwrap_err()),
                "line 11: the double quote opened here is never closed: add the closing '\"'"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn problems_never_show_values() {
        let content = "sk-live-SECRET\nA=\"SECRET\\q\"\nB=\"SECRET\" SECRET\nC='SECRET\n";
        for problem in env_problems(content) {
            assert!(!problem.contains("SECRET"), "{problem}");
        }
    }

    #[test]
    fn an_unterminated_single_quote_names_its_line() {
        assert_eq!(
            env_problems("A=1\nB='open\nC=2\n"),
            vec!["line 2: the single quote opened here is never closed: add the closing \"'\""]
        );
    }

    #[test]
    fn values_over_the_limit_are_refused() {
        let at_limit = format!("A={}\n", "a".repeat(MAX_VALUE_BYTES));
        assert_eq!(env(&at_limit)[0].value.len(), MAX_VALUE_BYTES);
        let over = format!("A=1\nB={}\n", "b".repeat(MAX_VALUE_BYTES + 1));
        assert_eq!(
            env_problems(&over),
            vec!["line 2: the value of 'B' is 131073 bytes, over the limit of 131072 bytes"]
        );
    }

    #[test]
    fn write_env_quotes_and_escapes_everything_special() {
        let entries = [
            entry("A", text("plain"), 0),
            entry("B", text("a\"b\\c$d\ne\rf\tg #h =i 'j' é"), 0),
            entry("C", bytes(b"\x00\x7f\xff"), 0),
            entry("D", text(" edges "), 0),
        ];
        assert_eq!(
            String::from_utf8(write_env(&entries)).unwrap(),
            "A=\"plain\"\nB=\"a\\\"b\\\\c\\$d\\ne\\rf\\tg #h =i 'j' é\"\nC=\"\\x00\\x7f\\xff\"\nD=\" edges \"\n"
        );
    }

    #[test]
    fn json_reads_strings_and_bytes_values_in_file_order_with_lines() {
        let content = br#"{
  "zeta": "last letter",
  "alpha": {"bytes_value": "AP8="},
  "multi": "a\nb"
}"#;
        assert_eq!(
            parse_json(content).unwrap(),
            vec![
                entry("zeta", text("last letter"), 2),
                entry("alpha", bytes(b"\x00\xff"), 3),
                entry("multi", text("a\nb"), 4)
            ]
        );
        assert_eq!(parse_json(b" {} ").unwrap(), vec![]);
    }

    #[test]
    fn json_reports_every_bad_member_by_key_and_line() {
        let content = br#"{
  "n": 1,
  "ok": "x",
  "b": true,
  "nil": null,
  "list": ["SECRET"],
  "obj": {"string_value": "SECRET"},
  "bad64": {"bytes_value": "SECRET!!"},
  "ok": "again",
  "empty": "",
  "bad key": "x"
}"#;
        let problems: Vec<String> = parse_json(content)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        let hint = "give a string, or {\"bytes_value\": \"<base64>\"} for binary values";
        assert_eq!(
            problems,
            vec![
                format!("line 2: the value of 'n' is a number: {hint}"),
                format!("line 4: the value of 'b' is a boolean: {hint}"),
                format!("line 5: the value of 'nil' is null: {hint}"),
                format!("line 6: the value of 'list' is an array: {hint}"),
                format!("line 7: the value of 'obj' is an object: {hint}"),
                "line 8: the value of 'bad64' has a bytes_value that is not standard base64"
                    .to_string(),
                "line 9: the key 'ok' is given twice (first on line 3): keep one".to_string(),
                "line 10: the value of 'empty' is empty: secret values cannot be empty".to_string(),
                format!("line 11: {}", validate_key_name("bad key").unwrap_err()),
            ]
        );
    }

    #[test]
    fn json_syntax_errors_give_a_line_and_never_a_value() {
        let problems = parse_json(b"{\n  \"a\": \"SECRET\",\n  \"b\" \"SECRET\"\n}").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(3));
        assert!(
            problems[0].message.starts_with("not valid JSON (column"),
            "{}",
            problems[0]
        );
        assert!(!problems[0].message.contains("SECRET"));

        let trailing = parse_json(b"{\"a\": \"1\"}\n{}").unwrap_err();
        assert_eq!(trailing[0].line, Some(2));

        for not_an_object in [&b"\"SECRET\""[..], b"[1]", b"", b"  "] {
            let problems = parse_json(not_an_object).unwrap_err();
            assert!(problems[0].message.contains("one object"), "{problems:?}");
        }
    }

    #[test]
    fn write_json_is_pretty_in_entry_order_with_bytes_as_base64() {
        let entries = [
            entry("b", text("x\"y"), 0),
            entry("a", bytes(b"\x00\xff"), 0),
        ];
        assert_eq!(
            String::from_utf8(write_json(&entries)).unwrap(),
            "{\n  \"b\": \"x\\\"y\",\n  \"a\": {\n    \"bytes_value\": \"AP8=\"\n  }\n}\n"
        );
    }

    #[test]
    fn the_format_is_the_flag_else_the_name_else_sniffed() {
        use FileFormat::{Env, Json};
        let path = |name| Some(Path::new(name));
        assert_eq!(detect_format(Some(Env), path("x.json"), b"{}"), Env);
        assert_eq!(detect_format(Some(Json), None, b"A=1"), Json);
        assert_eq!(detect_format(None, path("dir/secrets.JSON"), b"A=1"), Json);
        assert_eq!(detect_format(None, path(".env"), b"{}"), Env);
        assert_eq!(detect_format(None, path("prod.env"), b"{}"), Env);
        assert_eq!(
            detect_format(None, path("secrets.txt"), b"\n  {\"a\": \"1\"}"),
            Json
        );
        assert_eq!(detect_format(None, None, b"\xEF\xBB\xBF{}"), Json);
        assert_eq!(detect_format(None, None, b"# {\nA=1"), Env);
        assert_eq!(detect_format(None, None, b""), Env);
    }

    fn entries_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
        prop::collection::btree_map(
            "[A-Za-z0-9_.-]{1,30}",
            prop::collection::vec(any::<u8>(), 1..200),
            1..8,
        )
        .prop_map(|map| map.into_iter().collect())
    }

    fn to_entries(pairs: &[(String, Vec<u8>)]) -> Vec<Entry> {
        pairs
            .iter()
            .enumerate()
            .map(|(index, (key, value))| entry(key, value_from_bytes(value.clone()), index + 1))
            .collect()
    }

    fn keys_and_bytes(entries: &[Entry]) -> Vec<(String, Vec<u8>)> {
        entries
            .iter()
            .map(|entry| (entry.key.clone(), value_bytes(&entry.value).to_vec()))
            .collect()
    }

    /// Pieces of the syntax, so random input often reaches the deeper parts of the parsers.
    fn fragments(pieces: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => prop::sample::select(pieces).prop_map(|piece| piece.as_bytes().to_vec()),
            1 => prop::collection::vec(any::<u8>(), 1..4),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    const ENV_PIECES: &[&str] = &[
        "KEY", "A_1", "export ", "export", "=", " ", "\t", "\"", "'", "\\", "\\x", "4f", "\\n",
        "#", "\n", "\r\n", "\r", "é", "\u{feff}",
    ];
    const JSON_PIECES: &[&str] = &[
        "{",
        "}",
        "\"k\"",
        "\"v\"",
        ":",
        ",",
        "{\"bytes_value\":",
        "\"AP8=\"",
        "1",
        "null",
        "[",
        "]",
        "\n",
        " ",
        "\"\\u00e9\"",
        "\"\\ud800\"",
        "\"",
    ];

    proptest! {
        #[test]
        fn env_round_trips_any_bytes(pairs in entries_strategy()) {
            let parsed = parse_env(&write_env(&to_entries(&pairs)));
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            let parsed = parsed.unwrap_or_default();
            prop_assert_eq!(keys_and_bytes(&parsed), pairs);
            prop_assert!(parsed.iter().enumerate().all(|(index, entry)| entry.line == index + 1));
        }

        #[test]
        fn json_round_trips_any_bytes(pairs in entries_strategy()) {
            let parsed = parse_json(&write_json(&to_entries(&pairs)));
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            prop_assert_eq!(keys_and_bytes(&parsed.unwrap_or_default()), pairs);
        }

        #[test]
        fn arbitrary_bytes_never_panic(content in prop::collection::vec(any::<u8>(), 0..500)) {
            let _ = parse_env(&content);
            let _ = parse_json(&content);
        }

        #[test]
        fn env_like_input_never_panics_and_problems_have_lines(content in fragments(ENV_PIECES)) {
            if let Err(problems) = parse_env(&content) {
                prop_assert!(!problems.is_empty());
                prop_assert!(problems.iter().all(|problem| problem.line.is_some()));
            }
        }

        #[test]
        fn json_like_input_never_panics(content in fragments(JSON_PIECES)) {
            if let Err(problems) = parse_json(&content) {
                prop_assert!(!problems.is_empty());
            }
        }
    }
}
