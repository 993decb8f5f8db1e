//! One line-oriented INI parser, used both to read and to edit the config file.
//!
//! It reads a file the way Python's `configparser.ConfigParser` (strict, the legacy databricks-cli's
//! parser) does: `[section]` headers, `key = value` / `key: value`, case-insensitive keys, trimmed
//! values, full-line `#`/`;` comments, indented continuation lines, duplicate sections and keys
//! refused. A repeated `[DEFAULT]` is merged, as configparser does. Not supported: `%(name)s`
//! interpolation (tokens and hosts never need it).
//!
//! Every line is kept with its original text and line ending, so edits change only the lines
//! they must and [`Document::to_bytes`] reproduces everything else byte for byte.

use std::collections::HashSet;
use std::fmt;

use super::DEFAULT_PROFILE;

/// The line ending of a file that has none yet: the platform's, as the Go CLI writes its config
/// (go-ini's `LineBreak`: `\r\n` on Windows).
pub const NEW_FILE_NEWLINE: &str = if cfg!(windows) { "\r\n" } else { "\n" };

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a line cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotUtf8,
    Binary,
    MissingSectionHeader,
    NoDelimiter,
    EmptyKey,
    DuplicateSection(String),
    DuplicateKey { section: String, key: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotUtf8 => f.write_str("the text is not valid UTF-8"),
            Problem::Binary => f.write_str("it contains a NUL byte (is this a binary file?)"),
            Problem::MissingSectionHeader => {
                f.write_str("missing section header: a setting appears before any `[profile]` line")
            }
            Problem::NoDelimiter => {
                f.write_str("expected `key = value`, `key: value` or a `[profile]` header")
            }
            Problem::EmptyKey => f.write_str("a setting has no key name before `=` or `:`"),
            Problem::DuplicateSection(name) => write!(f, "duplicate section [{name}]"),
            Problem::DuplicateKey { section, key } => {
                write!(f, "duplicate key `{key}` in section [{section}]")
            }
        }
    }
}

/// A problem and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone)]
struct Line {
    text: String,
    ending: &'static str,
}

/// What a line means, decided as configparser decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header(String),
    Entry {
        key: String,
        /// Byte offset just past the delimiter.
        delimiter_end: usize,
        /// Byte offset where the value's text starts (after the spaces that follow the delimiter).
        value_start: usize,
    },
    Continuation,
    Invalid(Problem),
}

/// A key's lines: the key line and its continuation lines (and any blank or comment lines
/// between them).
#[derive(Debug, Clone, Copy)]
struct EntrySpan {
    first: usize,
    last: usize,
}

/// The parsed file: its lines, unchanged, and what each one means.
#[derive(Debug, Clone, Default)]
pub struct Document {
    bom: bool,
    lines: Vec<Line>,
    kinds: Vec<Kind>,
}

impl Document {
    pub fn parse(bytes: &[u8]) -> Result<Document, SyntaxError> {
        let (bom, bytes) = match bytes.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        let lines = split_lines(bytes)?;
        let kinds = classify(&lines);
        validate(&kinds)?;
        Ok(Document { bom, lines, kinds })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if self.bom {
            bytes.extend_from_slice(BOM);
        }
        for line in &self.lines {
            bytes.extend_from_slice(line.text.as_bytes());
            bytes.extend_from_slice(line.ending.as_bytes());
        }
        bytes
    }

    /// Section names in the order they first appear, `DEFAULT` included when present.
    pub fn section_names(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.headers().filter(|name| seen.insert(*name)).collect()
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.headers().any(|name| name == section)
    }

    fn headers(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().filter_map(|kind| match kind {
            Kind::Header(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The value of `key` (any case) in `section`, continuation lines joined with `\n`.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let span = self.find_entry(section, &key.to_lowercase())?;
        Some(self.entry_value(span))
    }

    /// Sets `key` in `section`: in place when the key exists, else appended after the section's
    /// last setting, else in a new section at the end of the file. `key` must be a plain
    /// lower-case name and `value` one line; the caller checks both.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        if let Some(span) = self.find_entry(section, key) {
            self.replace_value(span, value);
        } else if let Some(end) = self.last_block_end(section) {
            self.insert_entry(end, key, value);
        } else {
            self.append_section(section, key, value);
        }
        self.kinds = classify(&self.lines);
    }

    /// Removes `key` (any case) and its continuation lines from `section`, if present.
    pub fn remove(&mut self, section: &str, key: &str) {
        if let Some(span) = self.find_entry(section, &key.to_lowercase()) {
            self.lines.drain(span.first..=span.last);
            self.kinds = classify(&self.lines);
        }
    }

    /// Removes every block of `section`: its headers and the lines up to the next header.
    pub fn remove_section(&mut self, section: &str) {
        let mut current: Option<&str> = None;
        let keep: Vec<bool> = self
            .kinds
            .iter()
            .map(|kind| {
                if let Kind::Header(name) = kind {
                    current = Some(name);
                }
                current != Some(section)
            })
            .collect();
        let mut index = 0;
        self.lines.retain(|_| {
            index += 1;
            keep[index - 1]
        });
        self.kinds = classify(&self.lines);
    }

    fn find_entry(&self, section: &str, key: &str) -> Option<EntrySpan> {
        let mut current: Option<&str> = None;
        for (index, kind) in self.kinds.iter().enumerate() {
            match kind {
                Kind::Header(name) => current = Some(name),
                Kind::Entry { key: found, .. } if current == Some(section) && found == key => {
                    return Some(self.span_from(index));
                }
                _ => {}
            }
        }
        None
    }

    fn span_from(&self, first: usize) -> EntrySpan {
        let mut last = first;
        for (index, kind) in self.kinds.iter().enumerate().skip(first + 1) {
            match kind {
                Kind::Continuation => last = index,
                Kind::Blank | Kind::Comment => {}
                _ => break,
            }
        }
        EntrySpan { first, last }
    }

    fn entry_value(&self, span: EntrySpan) -> String {
        let Kind::Entry { value_start, .. } = self.kinds[span.first] else {
            return String::new();
        };
        let mut parts = vec![py_trim(&self.lines[span.first].text[value_start..])];
        for index in span.first + 1..=span.last {
            match self.kinds[index] {
                Kind::Blank => parts.push(""),
                Kind::Continuation => parts.push(py_trim(&self.lines[index].text)),
                _ => {}
            }
        }
        parts.join("\n").trim_end_matches(is_py_space).to_string()
    }

    /// The index just past the last setting (or the header) of the section's last block.
    fn last_block_end(&self, section: &str) -> Option<usize> {
        let mut end = None;
        let mut in_section = false;
        for (index, kind) in self.kinds.iter().enumerate() {
            match kind {
                Kind::Header(name) => {
                    in_section = name == section;
                    if in_section {
                        end = Some(index + 1);
                    }
                }
                Kind::Entry { .. } | Kind::Continuation if in_section => end = Some(index + 1),
                _ => {}
            }
        }
        end
    }

    fn replace_value(&mut self, span: EntrySpan, value: &str) {
        let Kind::Entry {
            delimiter_end,
            value_start,
            ..
        } = self.kinds[span.first]
        else {
            return;
        };
        let line = &mut self.lines[span.first];
        let had_value = !py_trim(&line.text[value_start..]).is_empty();
        let prefix_end = if had_value {
            value_start
        } else {
            delimiter_end
        };
        let spacing = if had_value { "" } else { " " };
        line.text = format!("{}{spacing}{value}", &line.text[..prefix_end]);
        self.lines.drain(span.first + 1..=span.last);
    }

    /// Inserts `key = value` at `index`, indented so that neither it nor the line after it
    /// turns into a continuation line.
    fn insert_entry(&mut self, index: usize, key: &str, value: &str) {
        let indent = self.indent_for_insertion(index);
        let text = format!("{indent}{key} = {value}");
        self.insert_line(index, text);
    }

    fn indent_for_insertion(&self, index: usize) -> String {
        let previous = self.kinds[..index]
            .iter()
            .rposition(|kind| matches!(kind, Kind::Entry { .. } | Kind::Header(_)));
        let model = match previous.map(|i| &self.kinds[i]) {
            Some(Kind::Entry { .. }) => previous,
            _ => self.kinds[index..]
                .iter()
                .position(|kind| !matches!(kind, Kind::Blank | Kind::Comment))
                .map(|offset| index + offset),
        };
        model
            .map(|i| leading_space(&self.lines[i].text).to_string())
            .unwrap_or_default()
    }

    fn append_section(&mut self, section: &str, key: &str, value: &str) {
        let ends_with_blank = matches!(self.kinds.last(), Some(Kind::Blank));
        if !self.lines.is_empty() && !ends_with_blank {
            self.insert_line(self.lines.len(), String::new());
        }
        self.insert_line(self.lines.len(), format!("[{section}]"));
        self.insert_line(self.lines.len(), format!("{key} = {value}"));
    }

    /// Inserts a line, ending it (and the line before it, if that was the file's unterminated
    /// last line) with the file's line ending.
    fn insert_line(&mut self, index: usize, text: String) {
        let ending = self.newline();
        if index > 0 && self.lines[index - 1].ending.is_empty() {
            self.lines[index - 1].ending = ending;
        }
        self.lines.insert(index, Line { text, ending });
    }

    /// The line ending the file already uses (`\r\n` stays `\r\n`), else [`NEW_FILE_NEWLINE`].
    fn newline(&self) -> &'static str {
        self.lines
            .iter()
            .map(|line| line.ending)
            .find(|ending| !ending.is_empty())
            .unwrap_or(NEW_FILE_NEWLINE)
    }
}

/// Splits at `\n`, `\r\n` and a lone `\r` (Python's universal newlines), checking each line.
fn split_lines(bytes: &[u8]) -> Result<Vec<Line>, SyntaxError> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while start < bytes.len() {
        let (end, ending) = match bytes[index..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            None => (bytes.len(), ""),
            Some(offset) => {
                let at = index + offset;
                match (bytes[at], bytes.get(at + 1)) {
                    (b'\r', Some(b'\n')) => (at, "\r\n"),
                    (b'\r', _) => (at, "\r"),
                    _ => (at, "\n"),
                }
            }
        };
        let line_number = lines.len() + 1;
        let text = decode_line(&bytes[start..end], line_number)?;
        lines.push(Line { text, ending });
        start = end + ending.len();
        index = start;
    }
    Ok(lines)
}

fn decode_line(bytes: &[u8], line: usize) -> Result<String, SyntaxError> {
    let problem = if bytes.contains(&0) {
        Problem::Binary
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => return Ok(text.to_string()),
            Err(_) => Problem::NotUtf8,
        }
    };
    Err(SyntaxError { line, problem })
}

/// Decides each line's meaning with configparser's state machine: a line indented deeper than
/// the last key line continues that key's value; comments and blank lines never end a value.
fn classify(lines: &[Line]) -> Vec<Kind> {
    let mut kinds = Vec::with_capacity(lines.len());
    let mut in_section = false;
    let mut after_entry = false;
    let mut indent_level = 0;
    for line in lines {
        let content = py_trim(&line.text);
        let kind = if content.starts_with('#') || content.starts_with(';') {
            Kind::Comment
        } else if content.is_empty() {
            Kind::Blank
        } else {
            let indent = leading_space(&line.text).chars().count();
            if after_entry && indent > indent_level {
                Kind::Continuation
            } else {
                indent_level = indent;
                let kind = classify_statement(&line.text, in_section);
                in_section |= matches!(kind, Kind::Header(_));
                after_entry = matches!(kind, Kind::Entry { .. });
                kind
            }
        };
        kinds.push(kind);
    }
    kinds
}

/// A header, a `key = value` line, or why it is neither.
fn classify_statement(text: &str, in_section: bool) -> Kind {
    let indent = leading_space(text).len();
    let content = py_trim(text);
    if let Some(name) = section_header(content) {
        return Kind::Header(name.to_string());
    }
    if !in_section {
        return Kind::Invalid(Problem::MissingSectionHeader);
    }
    let Some(delimiter) = content.find(['=', ':']) else {
        return Kind::Invalid(Problem::NoDelimiter);
    };
    let key = content[..delimiter].trim_end_matches(is_py_space);
    if key.is_empty() {
        return Kind::Invalid(Problem::EmptyKey);
    }
    let delimiter_end = indent + delimiter + 1;
    let after = &text[delimiter_end..];
    let value_start = delimiter_end + (after.len() - after.trim_start_matches(is_py_space).len());
    Kind::Entry {
        key: key.to_lowercase(),
        delimiter_end,
        value_start,
    }
}

/// configparser's `\[(?P<header>.+)\]` matched at the start of the trimmed line: the name runs
/// to the last `]`, and text after it is ignored.
fn section_header(content: &str) -> Option<&str> {
    let rest = content.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    (close > 0).then(|| &rest[..close])
}

/// The first problem, in line order: an unreadable line, a repeated section (other than
/// `DEFAULT`, which configparser merges) or a repeated key within a section.
fn validate(kinds: &[Kind]) -> Result<(), SyntaxError> {
    let mut sections = HashSet::new();
    let mut keys = HashSet::new();
    let mut current = "";
    for (index, kind) in kinds.iter().enumerate() {
        let problem = match kind {
            Kind::Invalid(problem) => Some(problem.clone()),
            Kind::Header(name) => {
                current = name;
                let repeated = !sections.insert(name.as_str()) && name != DEFAULT_PROFILE;
                repeated.then(|| Problem::DuplicateSection(name.clone()))
            }
            Kind::Entry { key, .. } => {
                (!keys.insert((current, key.as_str()))).then(|| Problem::DuplicateKey {
                    section: current.to_string(),
                    key: key.clone(),
                })
            }
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(SyntaxError {
                line: index + 1,
                problem,
            });
        }
    }
    Ok(())
}

/// Python's `str.isspace`: Unicode white space plus the ASCII separators `\x1c`–`\x1f`.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_trim(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

fn leading_space(text: &str) -> &str {
    &text[..text.len() - text.trim_start_matches(is_py_space).len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Document {
        Document::parse(text.as_bytes()).unwrap()
    }

    fn problem(text: &[u8]) -> SyntaxError {
        Document::parse(text).unwrap_err()
    }

    fn edited(text: &str, edit: impl FnOnce(&mut Document)) -> String {
        let mut document = parse(text);
        edit(&mut document);
        String::from_utf8(document.to_bytes()).unwrap()
    }

    #[test]
    fn remove_section_drops_its_lines_and_keeps_the_rest() {
        let text = "# top\n[a]\nhost = 1\n\n[b]\nx = 2\n; b note\n[c]\nz = 4\n";
        assert_eq!(
            edited(text, |document| document.remove_section("b")),
            "# top\n[a]\nhost = 1\n\n[c]\nz = 4\n"
        );
        assert_eq!(
            edited(text, |document| document.remove_section("none")),
            text
        );
    }

    #[test]
    fn reads_sections_and_both_delimiters() {
        let document =
            parse("[DEFAULT]\nhost = https://a\ntoken: dapi1\n\n[dev]\nhost=https://b\n");
        assert_eq!(document.section_names(), ["DEFAULT", "dev"]);
        assert_eq!(
            document.get("DEFAULT", "host").as_deref(),
            Some("https://a")
        );
        assert_eq!(document.get("DEFAULT", "token").as_deref(), Some("dapi1"));
        assert_eq!(document.get("dev", "host").as_deref(), Some("https://b"));
        assert_eq!(document.get("dev", "token"), None);
    }

    #[test]
    fn keys_are_case_insensitive_and_sections_are_not() {
        let document = parse("[Prod]\nHOST = https://a\n");
        assert_eq!(document.get("Prod", "host").as_deref(), Some("https://a"));
        assert_eq!(document.get("Prod", "Host").as_deref(), Some("https://a"));
        assert_eq!(document.get("prod", "host"), None);
        assert!(!document.has_section("prod"));
    }

    #[test]
    fn values_are_trimmed_and_the_first_delimiter_splits() {
        let document = parse("[a]\n  key   =   some value  \t\nurl = https://h:8080/x=y\n");
        assert_eq!(document.get("a", "key").as_deref(), Some("some value"));
        assert_eq!(
            document.get("a", "url").as_deref(),
            Some("https://h:8080/x=y")
        );
        let document = parse("[a]\nempty =\n");
        assert_eq!(document.get("a", "empty").as_deref(), Some(""));
    }

    #[test]
    fn full_line_comments_are_skipped_and_inline_ones_are_not_comments() {
        let document =
            parse("# top\n; also\n[a]\n  # indented comment\ntoken = abc # not a comment\n");
        assert_eq!(
            document.get("a", "token").as_deref(),
            Some("abc # not a comment")
        );
        assert_eq!(document.section_names(), ["a"]);
    }

    #[test]
    fn indented_lines_continue_the_value() {
        let text = "[a]\nkey = first\n  second\n\n    third\n# comment\n   fourth\n\nother = x\n";
        let document = parse(text);
        assert_eq!(
            document.get("a", "key").as_deref(),
            Some("first\nsecond\n\nthird\nfourth")
        );
        assert_eq!(document.get("a", "other").as_deref(), Some("x"));
    }

    #[test]
    fn an_indented_header_after_a_key_is_part_of_its_value() {
        let document = parse("[a]\nkey = v\n  [b]\n");
        assert_eq!(document.get("a", "key").as_deref(), Some("v\n[b]"));
        assert_eq!(document.section_names(), ["a"]);
    }

    #[test]
    fn indented_keys_and_headers_are_ordinary_lines() {
        let document = parse("  [a]\n  host = h\n  token = t\n");
        assert_eq!(document.get("a", "host").as_deref(), Some("h"));
        assert_eq!(document.get("a", "token").as_deref(), Some("t"));
    }

    #[test]
    fn header_names_run_to_the_last_bracket() {
        let document = parse("[ spaced name ] trailing\nk = 1\n[x]y]\nk = 2\n");
        assert_eq!(document.section_names(), [" spaced name ", "x]y"]);
    }

    #[test]
    fn tolerates_bom_crlf_and_lone_cr() {
        let document = parse("\u{feff}[DEFAULT]\r\nhost = https://a\r\ntoken = t\rlast = 1");
        assert_eq!(
            document.get("DEFAULT", "host").as_deref(),
            Some("https://a")
        );
        assert_eq!(document.get("DEFAULT", "token").as_deref(), Some("t"));
        assert_eq!(document.get("DEFAULT", "last").as_deref(), Some("1"));
    }

    #[test]
    fn an_empty_file_has_no_sections() {
        assert!(parse("").section_names().is_empty());
        assert!(parse("\n\n# only comments\n").section_names().is_empty());
    }

    #[test]
    fn a_key_before_any_header_is_a_missing_section_header() {
        let error = problem(b"# comment\nhost = x\n[a]\n");
        assert_eq!(error.line, 2);
        assert_eq!(error.problem, Problem::MissingSectionHeader);
        assert!(error.problem.to_string().contains("missing section header"));
    }

    #[test]
    fn a_line_without_delimiter_is_an_error() {
        let error = problem(b"[a]\nhost = x\ntoken dapi123\n");
        assert_eq!(error.line, 3);
        assert_eq!(error.problem, Problem::NoDelimiter);
        assert!(!error.problem.to_string().contains("dapi123"));
        assert_eq!(problem(b"[a]\n[]\n").problem, Problem::NoDelimiter);
    }

    #[test]
    fn an_empty_key_is_an_error() {
        let error = problem(b"[a]\n = value\n");
        assert_eq!((error.line, error.problem), (2, Problem::EmptyKey));
    }

    #[test]
    fn duplicate_sections_are_errors_but_default_merges() {
        let error = problem(b"[a]\nk = 1\n[b]\n[a]\n");
        assert_eq!(error.line, 4);
        assert_eq!(error.problem, Problem::DuplicateSection("a".into()));
        let document = parse("[DEFAULT]\nhost = h\n[a]\n[DEFAULT]\ntoken = t\n");
        assert_eq!(document.get("DEFAULT", "host").as_deref(), Some("h"));
        assert_eq!(document.get("DEFAULT", "token").as_deref(), Some("t"));
        assert_eq!(document.section_names(), ["DEFAULT", "a"]);
    }

    #[test]
    fn duplicate_keys_are_errors_in_any_case() {
        let error = problem(b"[a]\ntoken = 1\nTOKEN: 2\n");
        assert_eq!(error.line, 3);
        let expected = Problem::DuplicateKey {
            section: "a".into(),
            key: "token".into(),
        };
        assert_eq!(error.problem, expected);
        assert_eq!(problem(b"[DEFAULT]\nk=1\n[DEFAULT]\nk=2\n").line, 4);
        assert!(Document::parse(b"[a]\nk = 1\n[b]\nk = 2\n").is_ok());
    }

    #[test]
    fn invalid_utf8_and_binary_are_errors_with_their_line() {
        let error = problem(b"[a]\nhost = x\ntoken = \xff\xfe\n");
        assert_eq!((error.line, error.problem), (3, Problem::NotUtf8));
        let error = problem(b"[a]\nk = \0\0\n");
        assert_eq!((error.line, error.problem), (2, Problem::Binary));
    }

    #[test]
    fn set_replaces_a_value_in_place_keeping_everything_else() {
        let text =
            "# mine\n[DEFAULT]\nHost =  https://old/  \ntoken=old\n; note\n\n[dev]\nhost = x\n";
        let result = edited(text, |d| {
            d.set("DEFAULT", "host", "https://new");
            d.set("DEFAULT", "token", "t2");
        });
        assert_eq!(
            result,
            "# mine\n[DEFAULT]\nHost =  https://new\ntoken=t2\n; note\n\n[dev]\nhost = x\n"
        );
    }

    #[test]
    fn set_on_an_empty_value_adds_a_space() {
        assert_eq!(
            edited("[a]\ntoken =\n", |d| d.set("a", "token", "t")),
            "[a]\ntoken = t\n"
        );
    }

    #[test]
    fn set_drops_the_old_continuation_lines() {
        let text = "[a]\ntoken = one\n  two\n# c\n  three\nhost = h\n";
        assert_eq!(
            edited(text, |d| d.set("a", "token", "t")),
            "[a]\ntoken = t\nhost = h\n"
        );
    }

    #[test]
    fn set_appends_a_missing_key_after_the_sections_last_setting() {
        let text = "[a]\nhost = h\n\n# about b\n[b]\nhost = x\n";
        assert_eq!(
            edited(text, |d| d.set("a", "token", "t")),
            "[a]\nhost = h\ntoken = t\n\n# about b\n[b]\nhost = x\n"
        );
        assert_eq!(
            edited("[a]\n\n[b]\n", |d| d.set("a", "k", "v")),
            "[a]\nk = v\n\n[b]\n"
        );
    }

    #[test]
    fn set_appends_to_the_last_default_block() {
        let text = "[DEFAULT]\nhost = h\n[a]\n[DEFAULT]\nx = 1\n[b]\n";
        assert_eq!(
            edited(text, |d| d.set("DEFAULT", "token", "t")),
            "[DEFAULT]\nhost = h\n[a]\n[DEFAULT]\nx = 1\ntoken = t\n[b]\n"
        );
    }

    #[test]
    fn appended_keys_are_indented_so_the_structure_stays() {
        let text = "[a]\n    host = h\n[b]\n";
        let result = edited(text, |d| d.set("a", "token", "t"));
        assert_eq!(result, "[a]\n    host = h\n    token = t\n[b]\n");
        let text = "[a]\n  [b]\n  k = v\n";
        let result = edited(text, |d| d.set("a", "token", "t"));
        assert_eq!(result, "[a]\n  token = t\n  [b]\n  k = v\n");
        let document = parse(&result);
        assert_eq!(document.section_names(), ["a", "b"]);
    }

    #[test]
    fn set_appends_a_new_section_after_a_blank_line() {
        assert_eq!(
            edited("[a]\nhost = h", |d| d.set("new", "host", "x")),
            "[a]\nhost = h\n\n[new]\nhost = x\n"
        );
        assert_eq!(
            edited("[a]\nhost = h\n\n", |d| d.set("new", "host", "x")),
            "[a]\nhost = h\n\n[new]\nhost = x\n"
        );
        assert_eq!(
            edited("", |d| d.set("DEFAULT", "host", "x")),
            "[DEFAULT]\nhost = x\n".replace('\n', NEW_FILE_NEWLINE)
        );
    }

    #[test]
    fn set_keeps_crlf_and_the_bom() {
        let text = "\u{feff}[a]\r\nhost = h\r\n";
        assert_eq!(
            edited(text, |d| {
                d.set("a", "token", "t");
                d.set("b", "host", "x");
            }),
            "\u{feff}[a]\r\nhost = h\r\ntoken = t\r\n\r\n[b]\r\nhost = x\r\n"
        );
    }

    #[test]
    fn remove_takes_the_key_and_its_continuations() {
        let text = "[a]\nusername = u\n  more\npassword: p\nhost = h\n[b]\nusername = keep\n";
        let result = edited(text, |d| {
            d.remove("a", "USERNAME");
            d.remove("a", "password");
            d.remove("a", "absent");
        });
        assert_eq!(result, "[a]\nhost = h\n[b]\nusername = keep\n");
    }

    /// Lines a config file may contain, valid or not.
    fn any_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[#;]\\PC{0,10}",
            "\\[[a-zA-Z ]{1,6}\\]",
            "[ \t]{0,3}[a-zA-Z_]{1,6}[ ]?[=:][ ]?\\PC{0,12}",
            "[ \t]{1,4}\\PC{1,10}",
            "\\PC{0,15}",
        ]
    }

    /// A valid config file: unique sections with unique keys, plus comments and blank lines.
    fn valid_file() -> impl Strategy<Value = (String, &'static str)> {
        let section = (
            proptest::collection::btree_map("[a-z]{1,6}", "[a-zA-Z0-9/:.=_ -]{0,12}", 0..4),
            proptest::collection::vec(prop_oneof![Just(""), Just("# c"), Just("; d")], 0..3),
        );
        (
            proptest::collection::btree_map(
                prop_oneof![Just("DEFAULT".to_string()), "[a-z]{1,5}"],
                section,
                0..4,
            ),
            prop_oneof![Just("\n"), Just("\r\n")],
        )
            .prop_map(|(sections, newline)| {
                let mut text = String::new();
                for (name, (keys, trailer)) in sections {
                    text.push_str(&format!("[{name}]{newline}"));
                    for (key, value) in keys {
                        text.push_str(&format!("{key} = {value}{newline}"));
                    }
                    for line in trailer {
                        text.push_str(&format!("{line}{newline}"));
                    }
                }
                (text, newline)
            })
    }

    fn lines_without(text: &str, section: &str, key: &str) -> Vec<String> {
        let mut current = String::new();
        let mut kept = Vec::new();
        for line in text.lines() {
            if let Some(name) = section_header(line.trim()) {
                current = name.to_string();
            }
            let is_key = line.split(['=', ':']).next().map(str::trim) == Some(key);
            if !(current == section && is_key) {
                kept.push(line.to_string());
            }
        }
        kept
    }

    /// Lines of a mostly readable file: the first is a header.
    fn readable_lines() -> impl Strategy<Value = Vec<String>> {
        let line = prop_oneof![
            Just(String::new()),
            "[#;]\\PC{0,10}",
            "[ \t]{0,2}\\[[a-zA-Z ]{1,6}\\]",
            "[ \t]{0,3}[a-zA-Z_]{1,6}[ ]?[=:][ ]?\\PC{0,12}",
            "[ \t]{1,4}[a-z]{1,4}[=:]?\\PC{0,6}",
        ];
        (
            "\\[[a-zA-Z ]{1,6}\\]",
            proptest::collection::vec(line, 0..16),
        )
            .prop_map(|(header, mut lines)| {
                lines.insert(0, header);
                lines
            })
    }

    /// Every (section, key, value) a reader sees.
    fn all_values(document: &Document) -> Vec<(String, String, String)> {
        let mut section = String::new();
        let mut values = Vec::new();
        for kind in &document.kinds {
            match kind {
                Kind::Header(name) => section = name.clone(),
                Kind::Entry { key, .. } => {
                    let value = document.get(&section, key).unwrap_or_default();
                    values.push((section.clone(), key.clone(), value));
                }
                _ => {}
            }
        }
        values
    }

    /// Arbitrary bytes, and lines shaped like a config file's joined by any line ending.
    fn any_file() -> impl Strategy<Value = Vec<u8>> {
        let line_ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            (proptest::collection::vec(any_line(), 0..20), line_ending)
                .prop_map(|(lines, ending)| lines.join(ending).into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        /// Any input is read or refused with a line number, never a panic; what is read is kept
        /// byte for byte, and an edited file reads back.
        #[test]
        fn fuzz_ini_reader(bytes in any_file()) {
            match Document::parse(&bytes) {
                Ok(mut document) => {
                    prop_assert_eq!(document.to_bytes(), bytes);
                    for section in document.section_names() {
                        document.get(section, "host");
                    }
                    document.set("DEFAULT", "token", "t");
                    document.remove("DEFAULT", "host");
                    let reread = Document::parse(&document.to_bytes()).unwrap();
                    prop_assert_eq!(reread.get("DEFAULT", "token"), Some("t".to_string()));
                }
                Err(error) => prop_assert!(error.line >= 1),
            }
        }
    }

    proptest! {
        #[test]
        fn set_on_any_readable_file_leaves_other_values_alone(
            lines in readable_lines(),
            section in prop_oneof![Just("DEFAULT".to_string()), "[a-zA-Z ]{1,6}"],
            key in "[a-z]{1,6}",
            value in "[a-zA-Z0-9/:.=_-]{0,12}",
        ) {
            let text = lines.join("\n");
            if let Ok(mut document) = Document::parse(text.as_bytes()) {
                let mut expected: Vec<_> = all_values(&document)
                    .into_iter()
                    .filter(|(s, k, _)| !(s == &section && k == &key))
                    .collect();
                let mut sections = document.section_names().iter().map(|s| s.to_string()).collect::<Vec<_>>();
                document.set(&section, &key, &value);
                let reread = Document::parse(&document.to_bytes()).unwrap();
                prop_assert_eq!(reread.get(&section, &key), Some(value.clone()));
                let mut actual: Vec<_> = all_values(&reread)
                    .into_iter()
                    .filter(|(s, k, _)| !(s == &section && k == &key))
                    .collect();
                expected.sort();
                actual.sort();
                prop_assert_eq!(actual, expected);
                if !sections.contains(&section) {
                    sections.push(section.clone());
                }
                prop_assert_eq!(reread.section_names(), sections);
            }
        }


        #[test]
        fn set_changes_only_its_key(
            (text, _newline) in valid_file(),
            section in prop_oneof![Just("DEFAULT".to_string()), "[a-z]{1,5}"],
            key in "[a-z]{1,6}",
            value in "[a-zA-Z0-9/:.=_-]{0,12}",
        ) {
            let mut document = parse(&text);
            let sections_before = document.section_names().len();
            document.set(&section, &key, &value);
            let result = String::from_utf8(document.to_bytes()).unwrap();
            let reread = parse(&result);
            prop_assert_eq!(reread.get(&section, &key), Some(value.clone()));
            let new_section = usize::from(!parse(&text).has_section(&section));
            prop_assert_eq!(reread.section_names().len(), sections_before + new_section);
            let mut before = lines_without(&text, &section, &key);
            let after = lines_without(&result, &section, &key);
            if new_section == 1 {
                // The appended section: a blank separator (unless there was one) and its header.
                let header = format!("[{section}]");
                prop_assert_eq!(after.last(), Some(&header));
                if !text.is_empty() && !text.ends_with("\n\n") && !text.ends_with("\r\n\r\n") {
                    before.push(String::new());
                }
                before.push(header);
            }
            prop_assert_eq!(after, before);
        }

        #[test]
        fn setting_twice_is_idempotent(
            (text, _newline) in valid_file(),
            section in prop_oneof![Just("DEFAULT".to_string()), "[a-z]{1,5}"],
            key in "[a-z]{1,6}",
            value in "[a-zA-Z0-9/:.=_-]{0,12}",
        ) {
            let mut document = parse(&text);
            document.set(&section, &key, &value);
            let once = document.to_bytes();
            document.set(&section, &key, &value);
            prop_assert_eq!(document.to_bytes(), once);
        }

        #[test]
        fn set_keeps_the_files_line_ending(
            (text, newline) in valid_file(),
            key in "[a-z]{1,6}",
        ) {
            let mut document = parse(&text);
            document.set("fresh", &key, "v");
            let result = String::from_utf8(document.to_bytes()).unwrap();
            if text.is_empty() {
                prop_assert_eq!(result, format!("[fresh]\n{key} = v\n").replace('\n', NEW_FILE_NEWLINE));
            } else if newline == "\r\n" {
                prop_assert_eq!(result.matches('\n').count(), result.matches("\r\n").count());
            } else {
                prop_assert!(!result.contains('\r'));
            }
        }
    }
}
