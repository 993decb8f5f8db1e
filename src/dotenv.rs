//! The file formats of `secrets import` and `secrets export`: `.env` and JSON.
//!
//! `.env` (one `KEY=VALUE` per entry):
//! - `#` lines are comments, blank lines are skipped, CRLF line ends and a UTF-8 BOM are fine;
//! - an optional `export ` before the key; blanks around the key and `=` are ignored;
//! - unquoted values are trimmed; a `#` after a blank starts a comment (`a=b#c` keeps `b#c`);
//! - single-quoted values are taken literally, double-quoted values know the escapes `\n`,
//!   `\r`, `\t`, `\"`, `\\`, `\$` and `\xNN` (any byte, so values that are not UTF-8 can be
//!   written); `$'...'` values know the same escapes with `\'` instead of `\$`, as in bash;
//!   all may span lines (a CRLF inside quotes reads as `\n`); there is no variable expansion;
//!   a comment may follow the closing quote;
//! - quoted pieces written next to each other are joined, as in a shell, and between them `\'`
//!   is a single quote and a backslash at the end of a line joins the next line: `'it'\''s'`.
//!
//! Export writes every value so that sourcing the file never runs or expands anything (see
//! [`Quoting`]): `'single quotes'` for most values, which every reader takes literally.
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

/// The most secrets a scope holds.
const MAX_SECRETS_PER_SCOPE: u64 = 1000;

/// The most bytes a file written as these formats takes per byte of value: JSON writes a
/// control character as `\u0000`.
const MAX_ENCODED_BYTES_PER_BYTE: u64 = 6;

/// Room per entry for its key (at most 128 characters), quotes, `=` or `:` and line ends.
const MAX_BYTES_PER_ENTRY: u64 = 1024;

/// The largest import file that can be valid: a full scope of values at the size limit, each
/// byte written in its longest form (787,456,000 bytes, about 751 MiB).
pub const MAX_FILE_BYTES: u64 = MAX_SECRETS_PER_SCOPE
    * (MAX_ENCODED_BYTES_PER_BYTE * MAX_VALUE_BYTES as u64 + MAX_BYTES_PER_ENTRY);

/// How [`MAX_FILE_BYTES`] comes about, for an error message.
pub fn max_file_bytes_reason() -> String {
    format!(
        "a scope holds at most {MAX_SECRETS_PER_SCOPE} secrets of at most {MAX_VALUE_BYTES} \
         bytes, a byte takes at most {MAX_ENCODED_BYTES_PER_BYTE} in a file, and an entry's key \
         and quotes at most {MAX_BYTES_PER_ENTRY}"
    )
}

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

/// Quotes whose backslash escapes are decoded: `"…"` (dotenv) and `$'…'` (ANSI-C, as in bash).
/// Both know `\\n`, `\\r`, `\\t`, `\\xNN` and a backslash before the listed characters.
struct EscapingQuotes {
    name: &'static str,
    opening: &'static str,
    close: u8,
    closing_hint: &'static str,
    literal_after_backslash: &'static [u8],
    escape_help: &'static str,
}

const DOUBLE_QUOTES: EscapingQuotes = EscapingQuotes {
    name: "double quotes",
    opening: "double quote",
    close: b'"',
    closing_hint: "'\"'",
    literal_after_backslash: b"\"\\$",
    escape_help: "use \\n, \\r, \\t, \\\", \\\\, \\$ or \\xNN (two hex digits)",
};

const ANSI_C_QUOTES: EscapingQuotes = EscapingQuotes {
    name: "$'...' quotes",
    opening: "$' quote",
    close: b'\'',
    closing_hint: "\"'\"",
    literal_after_backslash: b"'\"\\",
    escape_help: "use \\n, \\r, \\t, \\', \\\", \\\\ or \\xNN (two hex digits)",
};

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
        if !matches!(self.rest(), [b'"' | b'\'', ..] | [b'$', b'\'', ..]) {
            self.position = after_equals;
            return Some(self.unquoted());
        }
        let value = self.quoted_word();
        let line_is_clean = self.end_after_quote();
        value.filter(|_| line_is_clean)
    }

    /// Quoted pieces with nothing between them, joined as a shell joins them: `'…'`, `"…"`,
    /// `$'…'`, and after the first piece `\'` (a single quote) and a backslash that ends a
    /// line (nothing), so `'it'\''s'` and export's `''\` + newline + `$'…'` read back.
    fn quoted_word(&mut self) -> Option<Vec<u8>> {
        let mut word = Some(Vec::new());
        loop {
            let piece = match self.rest() {
                [b'\'', ..] => self.single_quoted(),
                [b'"', ..] => self.escaping_quoted(&DOUBLE_QUOTES),
                [b'$', b'\'', ..] => {
                    self.bump();
                    self.escaping_quoted(&ANSI_C_QUOTES)
                }
                [b'\\', b'\'', ..] => {
                    self.position += 2;
                    Some(vec![b'\''])
                }
                [b'\\', b'\n', ..] | [b'\\', b'\r', b'\n', ..] => {
                    self.skip_line();
                    Some(Vec::new())
                }
                _ => return word,
            };
            word = word.zip(piece).map(|(word, piece)| [word, piece].concat());
        }
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

    /// A value in `quotes` from its opening quote; escapes decoded.
    fn escaping_quoted(&mut self, quotes: &EscapingQuotes) -> Option<Vec<u8>> {
        let opened_on = self.line;
        self.bump();
        let mut value = Vec::new();
        let mut escapes_valid = true;
        loop {
            match self.bump() {
                None => {
                    self.problem(
                        opened_on,
                        format!(
                            "the {} opened here is never closed: add the closing {}",
                            quotes.opening, quotes.closing_hint
                        ),
                    );
                    return None;
                }
                Some(byte) if byte == quotes.close => return escapes_valid.then_some(value),
                Some(b'\\') => match self.escape(quotes) {
                    Some(byte) => value.push(byte),
                    None => escapes_valid = false,
                },
                Some(b'\r') if self.peek() == Some(b'\n') => {}
                Some(byte) => value.push(byte),
            }
        }
    }

    /// The byte an escape in `quotes` stands for, after its backslash.
    fn escape(&mut self, quotes: &EscapingQuotes) -> Option<u8> {
        let line = self.line;
        let byte = match self.peek() {
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(quoted) if quotes.literal_after_backslash.contains(&quoted) => Some(quoted),
            Some(b'x') => {
                self.bump();
                return self.hex_byte().or_else(|| {
                    self.problem(
                        line,
                        format!(
                            "'\\x' must be followed by two hex digits: {}",
                            quotes.escape_help
                        ),
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
                format!("unknown escape in {}: {}", quotes.name, quotes.escape_help),
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

/// Writes entries as `KEY=VALUE` lines that POSIX shells, bash, zsh and docker compose read as
/// data, never as code: each value is quoted as [`Quoting`] chooses, and a key that is not a
/// shell variable name gets `export ` before it, so a shell refuses the line ("not a valid
/// identifier") instead of running the line as a command.
pub fn write_env(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        if !is_shell_name(&entry.key) {
            out.extend_from_slice(b"export ");
        }
        out.extend_from_slice(entry.key.as_bytes());
        out.push(b'=');
        quote_value_into(&mut out, value_bytes(&entry.value));
        out.push(b'\n');
    }
    out
}

/// A name a shell can assign: letters, digits and `_`, not starting with a digit.
fn is_shell_name(key: &str) -> bool {
    key.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && key
            .bytes()
            .next()
            .is_some_and(|first| !first.is_ascii_digit())
}

/// How export quotes a value: the first form that reads back exactly in every reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// `'v'`, read alike by sh, bash, zsh, compose and import. Not for a `'`, nor for a
    /// value ending in an odd run of backslashes: compose takes `\'` inside single quotes as
    /// an escaped quote.
    Single,
    /// `"v"` with a backslash before `\`, `"` and `$`, read alike by sh, bash, zsh, compose and
    /// import. Not for a backtick: shells need `` \` `` where compose keeps the backslash.
    Double,
    /// `''\` + newline + `$'v'`, with `\n`, `\r`, `\t`, `\\` and `\xHH` for control characters,
    /// `'` and bytes that are not UTF-8: exact in bash, zsh, ksh and POSIX.1-2024 shells (bash
    /// ends the value at a NUL byte). A shell without `$'…'` reads the body as `$` and single-
    /// quoted text, inert (there is no `'` inside); compose stops at the `\` with an error that
    /// shows no value instead of reading a wrong one.
    AnsiC,
}

fn quoting(value: &[u8]) -> Quoting {
    let Ok(text) = std::str::from_utf8(value) else {
        return Quoting::AnsiC;
    };
    let trailing_backslashes = text.bytes().rev().take_while(|&byte| byte == b'\\').count();
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Quoting::AnsiC
    } else if !text.contains('\'') && trailing_backslashes % 2 == 0 {
        Quoting::Single
    } else if !text.contains('`') {
        Quoting::Double
    } else {
        Quoting::AnsiC
    }
}

fn quote_value_into(out: &mut Vec<u8>, value: &[u8]) {
    match quoting(value) {
        Quoting::Single => {
            out.push(b'\'');
            out.extend_from_slice(value);
            out.push(b'\'');
        }
        Quoting::Double => {
            out.push(b'"');
            for &byte in value {
                if matches!(byte, b'\\' | b'"' | b'$') {
                    out.push(b'\\');
                }
                out.push(byte);
            }
            out.push(b'"');
        }
        Quoting::AnsiC => {
            out.extend_from_slice(b"''\\\n$'");
            ansi_c_escape_into(out, value);
            out.push(b'\'');
        }
    }
}

fn ansi_c_escape_into(out: &mut Vec<u8>, value: &[u8]) {
    for chunk in value.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\\' => out.extend_from_slice(b"\\\\"),
                special if special == '\'' || special.is_control() => {
                    hex_escape_into(out, special.encode_utf8(&mut [0; 4]).as_bytes());
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
                format!(
                    "line 7: unknown escape in double quotes: {}",
                    DOUBLE_QUOTES.escape_help
                ),
                format!(
                    "line 8: '\\x' must be followed by two hex digits: {}",
                    DOUBLE_QUOTES.escape_help
                ),
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
    fn write_env_picks_the_first_quoting_every_reader_agrees_on() {
        let entries = [
            entry("PLAIN", text("a\"b $HOME `cmd` #h\n\ttab é"), 0),
            entry("APOSTROPHE", text("it's \"$x\" \\"), 0),
            entry("WINDOWS_DIR", text("C:\\dir\\"), 0),
            entry("BOTH", text("it's `cmd`"), 0),
            entry("CONTROL", text("a\rb\u{1b}c\\'"), 0),
            entry("BINARY", bytes(b"\x00\xff"), 0),
            entry("EVEN", text("a\\\\"), 0),
        ];
        assert_eq!(
            String::from_utf8(write_env(&entries)).unwrap(),
            concat!(
                "PLAIN='a\"b $HOME `cmd` #h\n\ttab é'\n",
                "APOSTROPHE=\"it's \\\"\\$x\\\" \\\\\"\n",
                "WINDOWS_DIR=\"C:\\\\dir\\\\\"\n",
                "BOTH=''\\\n$'it\\x27s `cmd`'\n",
                "CONTROL=''\\\n$'a\\rb\\x1bc\\\\\\x27'\n",
                "BINARY=''\\\n$'\\x00\\xff'\n",
                "EVEN='a\\\\'\n",
            )
        );
    }

    #[test]
    fn keys_a_shell_cannot_assign_are_written_after_export() {
        let entries = [
            entry("db.password", text("x"), 0),
            entry("1ST", text("x"), 0),
            entry("a-b", text("x"), 0),
            entry("_ok_1", text("x"), 0),
        ];
        assert_eq!(
            String::from_utf8(write_env(&entries)).unwrap(),
            "export db.password='x'\nexport 1ST='x'\nexport a-b='x'\n_ok_1='x'\n"
        );
    }

    #[test]
    fn shell_style_pieces_are_joined() {
        assert_eq!(
            env(
                "A='it'\\''s'\nB=''\\\n$'\\x00\\n\\'\\\"\\\\'\nC=\"x\"'y'$'z' # c\nD=''\\\r\n'crlf'\n"
            ),
            vec![
                entry("A", text("it's"), 1),
                entry("B", text("\0\n'\"\\"), 2),
                entry("C", text("xyz"), 4),
                entry("D", text("crlf"), 5)
            ]
        );
    }

    #[test]
    fn ansi_c_quotes_refuse_what_bash_would_read_differently() {
        assert_eq!(
            env_problems("A=$'\\$x'\nB=$'\\x4'\nC=$'open\n"),
            vec![
                format!(
                    "line 1: unknown escape in $'...' quotes: {}",
                    ANSI_C_QUOTES.escape_help
                ),
                format!(
                    "line 2: '\\x' must be followed by two hex digits: {}",
                    ANSI_C_QUOTES.escape_help
                ),
                "line 3: the $' quote opened here is never closed: add the closing \"'\""
                    .to_string(),
            ]
        );
    }

    #[test]
    fn the_file_bound_is_a_full_scope_in_the_longest_encoding() {
        assert_eq!(MAX_FILE_BYTES, 787_456_000);
        let longest_json_value = write_json(&[entry("k", text(&"\0".repeat(8)), 0)]);
        assert!(
            String::from_utf8(longest_json_value)
                .unwrap()
                .contains(&"\\u0000".repeat(8)),
            "JSON writes a NUL in {MAX_ENCODED_BYTES_PER_BYTE} bytes"
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

    /// Pieces of text that shells or compose treat specially, and commands that would create
    /// the file `pwned` if a reader ran them.
    const NASTY_PIECES: &[&str] = &[
        "`touch pwned`",
        "$(touch pwned)",
        ";touch pwned;",
        "'",
        "\"",
        "\\",
        "\\'",
        "'\\''",
        "`",
        "$(",
        ")",
        "$",
        "${HOME}",
        "$'",
        "#",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "!",
        "&&",
        "é",
        "\u{1b}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
    ];

    /// Any UTF-8 text without NUL, mostly made of [`NASTY_PIECES`].
    fn nasty_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => prop::sample::select(NASTY_PIECES).prop_map(str::to_owned),
            1 => any::<char>().prop_filter("no NUL", |&c| c != '\0').prop_map(String::from),
        ];
        prop::collection::vec(piece, 1..12).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn env_round_trips_any_bytes(pairs in entries_strategy()) {
            let parsed = parse_env(&write_env(&to_entries(&pairs)));
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            let parsed = parsed.unwrap_or_default();
            prop_assert_eq!(keys_and_bytes(&parsed), pairs);
            prop_assert!(parsed.windows(2).all(|pair| pair[0].line < pair[1].line));
        }

        #[test]
        fn env_round_trips_nasty_text(values in prop::collection::vec(nasty_text(), 1..8)) {
            let pairs: Vec<(String, Vec<u8>)> = values
                .into_iter()
                .enumerate()
                .map(|(index, value)| (format!("V{index}"), value.into_bytes()))
                .collect();
            let parsed = parse_env(&write_env(&to_entries(&pairs)));
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            prop_assert_eq!(keys_and_bytes(&parsed.unwrap_or_default()), pairs);
        }

        #[test]
        fn json_round_trips_any_bytes(pairs in entries_strategy()) {
            let parsed = parse_json(&write_json(&to_entries(&pairs)));
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            prop_assert_eq!(keys_and_bytes(&parsed.unwrap_or_default()), pairs);
        }
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_dotenv_reader(content in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..500),
            fragments(ENV_PIECES),
        ]) {
            if let Err(problems) = parse_env(&content) {
                prop_assert!(!problems.is_empty());
                prop_assert!(problems.iter().all(|problem| problem.line.is_some()));
            }
        }

        #[test]
        fn fuzz_json_import(content in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..500),
            fragments(JSON_PIECES),
        ]) {
            if let Err(problems) = parse_json(&content) {
                prop_assert!(!problems.is_empty());
            }
        }
    }

    /// Sourcing exported files in real shells: nothing runs, and the values arrive exactly.
    #[cfg(unix)]
    mod shells {
        use super::*;
        use std::process::Command;

        /// Runs `script` with `shell -c` in `dir`, with only PATH from the environment.
        fn run_shell(shell: &str, dir: &Path, script: &str) -> std::process::Output {
            Command::new(shell)
                .arg("-c")
                .arg(script)
                .current_dir(dir)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .output()
                .expect("the shell runs")
        }

        /// The values `shell` holds after `set -a; . ./values.env`, one per `V<index>` key,
        /// and whether anything created the file `pwned`.
        fn source_exported(shell: &str, values: &[String]) -> (Vec<Vec<u8>>, bool) {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let entries: Vec<Entry> = values
                .iter()
                .enumerate()
                .map(|(index, value)| entry(&format!("V{index}"), text(value), index))
                .collect();
            std::fs::write(dir.path().join("values.env"), write_env(&entries))
                .expect("the file is written");
            let printed: Vec<String> = (0..values.len())
                .map(|index| format!("\"$V{index}\""))
                .collect();
            let script = format!(
                "set -a; . ./values.env; printf '%s\\0' {}",
                printed.join(" ")
            );
            let output = run_shell(shell, dir.path(), &script);
            assert!(
                output.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let mut sourced: Vec<Vec<u8>> = output
                .stdout
                .split(|&byte| byte == 0)
                .map(<[u8]>::to_vec)
                .collect();
            sourced.pop();
            (sourced, dir.path().join("pwned").exists())
        }

        proptest! {
            // Two shells per case and many values per shell keep the normal run short.
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn bash_sources_every_utf8_value_exactly_and_runs_nothing(
                values in prop::collection::vec(nasty_text(), 16)
            ) {
                let (sourced, pwned) = source_exported("bash", &values);
                prop_assert!(!pwned, "sourcing ran a command");
                let expected: Vec<Vec<u8>> =
                    values.iter().map(|value| value.as_bytes().to_vec()).collect();
                prop_assert_eq!(sourced, expected);
            }

            #[test]
            fn sh_runs_nothing_and_reads_portable_quoting_exactly(
                values in prop::collection::vec(nasty_text(), 16)
            ) {
                let (sourced, pwned) = source_exported("sh", &values);
                prop_assert!(!pwned, "sourcing ran a command");
                prop_assert_eq!(sourced.len(), values.len());
                for (sourced, value) in sourced.iter().zip(&values) {
                    if quoting(value.as_bytes()) != Quoting::AnsiC {
                        prop_assert_eq!(sourced, value.as_bytes());
                    }
                }
            }
        }

        #[test]
        fn bash_cuts_a_value_at_nul_and_keeps_bytes_that_are_not_utf8() {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let entries = [
                entry("NUL", bytes(b"a\x00b"), 0),
                entry("BINARY", bytes(b"\xff\xfe'`"), 0),
            ];
            std::fs::write(dir.path().join("values.env"), write_env(&entries))
                .expect("the file is written");
            let output = run_shell(
                "bash",
                dir.path(),
                "set -a; . ./values.env; printf '%s|' \"$NUL\" \"$BINARY\"",
            );
            assert_eq!(output.stdout, b"a|\xff\xfe'`|");
        }

        #[test]
        fn a_key_that_is_not_a_shell_name_runs_no_command() {
            // Written as `key=value`, the line would run the program named `x.y=pwn`.
            let dir = tempfile::tempdir().expect("a temporary directory");
            let program = dir.path().join("x.y=pwn");
            std::fs::write(&program, "#!/bin/sh\ntouch pwned\n").expect("the program is written");
            let mut permissions = std::fs::metadata(&program).expect("metadata").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            std::fs::set_permissions(&program, permissions).expect("the program is executable");
            std::fs::write(
                dir.path().join("values.env"),
                write_env(&[entry("x.y", text("pwn"), 0)]),
            )
            .expect("the file is written");
            for shell in ["bash", "sh"] {
                let script = "PATH=\"$PWD:$PATH\"; set -a; . ./values.env; true";
                run_shell(shell, dir.path(), script);
                assert!(!dir.path().join("pwned").exists(), "{shell} ran a command");
            }
        }
    }
}
