//! The `.env` format of import, export and sync.
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

use crate::api::SecretValue;

use super::{Entry, Problem, UTF8_BOM, validate};

/// Parses a `.env` file (see the module documentation for the syntax).
pub fn parse(content: &[u8]) -> Result<Vec<Entry>, Vec<Problem>> {
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
pub(crate) struct EscapingQuotes {
    name: &'static str,
    opening: &'static str,
    close: u8,
    closing_hint: &'static str,
    literal_after_backslash: &'static [u8],
    pub(crate) escape_help: &'static str,
}

pub(crate) const DOUBLE_QUOTES: EscapingQuotes = EscapingQuotes {
    name: "double quotes",
    opening: "double quote",
    close: b'"',
    closing_hint: "'\"'",
    literal_after_backslash: b"\"\\$",
    escape_help: "use \\n, \\r, \\t, \\\", \\\\, \\$ or \\xNN (two hex digits)",
};

pub(crate) const ANSI_C_QUOTES: EscapingQuotes = EscapingQuotes {
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
                value: SecretValue::from_bytes(value),
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
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        if !is_shell_name(&entry.key) {
            out.extend_from_slice(b"export ");
        }
        out.extend_from_slice(entry.key.as_bytes());
        out.push(b'=');
        quote_value_into(&mut out, entry.value.as_bytes());
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
pub(crate) enum Quoting {
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

pub(crate) fn quoting(value: &[u8]) -> Quoting {
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
