//! The file formats of `secrets import`, `export` and `sync`: what both share (the entries, the
//! format choice, the size bound, validation) here; the `.env` reader and writer in [`env`],
//! the JSON reader and writer in [`json`].
//!
//! Parsing reports every problem of a file at once, with its line; problem messages never
//! contain a value.

mod env;
mod json;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::path::Path;

use crate::api::{MAX_VALUE_BYTES, SecretValue, validate_key_name};

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

pub(crate) fn first_non_blank(content: &[u8]) -> Option<u8> {
    let content = content.strip_prefix(UTF8_BOM).unwrap_or(content);
    content
        .iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The most secrets a scope holds.
const MAX_SECRETS_PER_SCOPE: u64 = 1000;

/// The most bytes a file written as these formats takes per byte of value: JSON writes a
/// control character as `\u0000`.
pub(crate) const MAX_ENCODED_BYTES_PER_BYTE: u64 = 6;

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
        FileFormat::Env => env::parse(content),
        FileFormat::Json => json::parse(content),
    }
}

pub fn write(format: FileFormat, entries: &[Entry]) -> Vec<u8> {
    match format {
        FileFormat::Env => env::write(entries),
        FileFormat::Json => json::write(entries),
    }
}

/// Checks what both formats share: key names, one entry per key, non-empty values within the
/// size limit. Problems come out sorted by line.
pub(crate) fn validate(
    entries: Vec<Entry>,
    mut problems: Vec<Problem>,
) -> Result<Vec<Entry>, Vec<Problem>> {
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
