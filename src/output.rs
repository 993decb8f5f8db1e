//! What commands print, in two dialects: the legacy CLI's (its tables, the server's JSON in
//! server key order) and the Go CLI's (its text layouts, JSON arrays of typed items).

use std::io::{self, Write};

use serde::Serialize;

/// The `--output` format: `table` and `text` are one format (the legacy and the Go CLI's name
/// for it), any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

impl Format {
    /// Parses `--output` and `DATABRICKS_OUTPUT_FORMAT`; the error is the Go CLI's wording.
    pub fn parse(text: &str) -> Result<Format, String> {
        match text.to_ascii_lowercase().as_str() {
            "table" | "text" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            _ => Err("accepted arguments are json and text (or table)".to_string()),
        }
    }
}

/// Whose output a command imitates; see [`Style`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dialect {
    /// The legacy Python CLI: the server's JSON object, `tabulate` tables.
    #[default]
    Legacy,
    /// The Go CLI: JSON arrays of items with its field order and no zero values, its
    /// tab-aligned text layouts, JSON where it has no text layout.
    Go,
}

/// How a command prints: the dialect and the format within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Style {
    pub dialect: Dialect,
    pub format: Format,
}

/// Space between two columns.
const COLUMN_GAP: &str = "  ";
/// Every column is at least this much wider than its header.
const HEADER_PADDING: usize = 2;

/// A table in the legacy CLI's layout (Python `tabulate`, "simple" format):
///
/// ```text
/// Key name      Last updated
/// ----------  --------------
/// password     1700000000000
/// ```
///
/// - each column is as wide as the larger of (header length + 2) and its longest cell,
///   counted in characters;
/// - columns are separated by two spaces; the second line is a run of dashes per column;
/// - a column whose every cell is an integer is right-aligned, header included; any other
///   column is left-aligned;
/// - trailing spaces are trimmed from every line, and every line ends with `\n`.
///
/// With zero rows no column has a number in it, so every column is left-aligned and the
/// table is just the header line and the dash line.
///
/// Cells are printed as given: they are expected to be single-line.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|header| header.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. A row shorter than the header is filled with empty cells.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn render(&self) -> String {
        let columns = self.columns();
        let mut out = String::new();
        push_line(&mut out, &columns, |index| self.header(index));
        let dashes: Vec<String> = columns
            .iter()
            .map(|column| "-".repeat(column.width))
            .collect();
        push_line(&mut out, &columns, |index| &dashes[index]);
        for row in &self.rows {
            push_line(&mut out, &columns, |index| cell(row, index));
        }
        out
    }

    /// Writes the rendered table to stdout (see [`write_stdout`]).
    pub fn print(&self) -> io::Result<()> {
        write_stdout(self.render().as_bytes())
    }

    fn column_count(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .fold(self.headers.len(), usize::max)
    }

    fn header(&self, index: usize) -> &str {
        cell(&self.headers, index)
    }

    fn columns(&self) -> Vec<Column> {
        (0..self.column_count())
            .map(|index| {
                let cells = || self.rows.iter().map(move |row| cell(row, index));
                let longest_cell = cells().map(char_count).max().unwrap_or(0);
                Column {
                    width: longest_cell.max(char_count(self.header(index)) + HEADER_PADDING),
                    right_aligned: !self.rows.is_empty() && cells().all(is_integer),
                }
            })
            .collect()
    }
}

/// Appends one line: each column's text aligned in its width, trailing spaces trimmed.
fn push_line<'a>(out: &mut String, columns: &[Column], text: impl Fn(usize) -> &'a str) {
    let mut line = String::new();
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            line.push_str(COLUMN_GAP);
        }
        column.push_aligned(&mut line, text(index));
    }
    out.push_str(line.trim_end_matches(' '));
    out.push('\n');
}

struct Column {
    width: usize,
    right_aligned: bool,
}

impl Column {
    fn push_aligned(&self, line: &mut String, text: &str) {
        let padding = " ".repeat(self.width.saturating_sub(char_count(text)));
        if self.right_aligned {
            line.push_str(&padding);
            line.push_str(text);
        } else {
            line.push_str(text);
            line.push_str(&padding);
        }
    }
}

fn cell(cells: &[String], index: usize) -> &str {
    cells.get(index).map_or("", String::as_str)
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// An optional sign followed by one or more ASCII digits.
fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Cuts `name` to `max_chars` characters followed by `...` when it is longer (the legacy CLI
/// does this to scope names in tables, with a limit of 100).
pub fn truncate_name(name: &str, max_chars: usize) -> String {
    match name.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_string(),
    }
}

/// Prints `value` pretty, indented by two spaces, keys in the value's order, then a newline.
pub fn print_json(value: &serde_json::Value) -> io::Result<()> {
    write_stdout(&json_bytes(value))
}

fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Prints `value` as the Go CLI prints one object: its fields in declaration order, indented
/// by two spaces, then a newline.
pub fn print_go_json(value: &impl Serialize) -> io::Result<()> {
    write_stdout(go_json(value)?.as_bytes())
}

fn go_json(value: &impl Serialize) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(escape_like_go(text))
}

/// Prints `items` as the Go CLI prints a listing: each item indented inside `[` and `]`, which
/// stand on lines of their own; with no items, the line between them holds two spaces.
pub fn print_go_json_array<T: Serialize>(items: &[T]) -> io::Result<()> {
    write_stdout(go_json_array(items)?.as_bytes())
}

fn go_json_array<T: Serialize>(items: &[T]) -> io::Result<String> {
    let mut text = String::from("[\n  ");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            text.push_str(",\n  ");
        }
        // JSON strings hold no raw newline, so every newline is between lines of the layout.
        text.push_str(&serde_json::to_string_pretty(item)?.replace('\n', "\n  "));
    }
    text.push_str("\n]\n");
    Ok(escape_like_go(text))
}

/// Go's JSON encoder writes `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes. None of them
/// is JSON syntax, so each occurrence is inside a string.
fn escape_like_go(json: String) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json;
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A text listing in the Go CLI's layout (a Go template written through a `tabwriter` with
/// padding 2): every cell but a line's last is padded with spaces to two more than the widest
/// cell of its column, counted in characters; the last cell is written as it is. The Go CLI
/// flushes the writer after every 20 items, so the columns line up within each run of 20
/// rows (the first run with the header).
#[derive(Debug, Clone, Default)]
pub struct GoTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Items per flush of the Go CLI's listing writer.
const GO_ROWS_PER_FLUSH: usize = 20;
/// Spaces after the widest cell of a Go text column.
const GO_PADDING: usize = 2;

impl GoTable {
    pub fn new(header: &[&str]) -> Self {
        GoTable {
            header: header.iter().map(|cell| cell.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut rows = self.rows.chunks(GO_ROWS_PER_FLUSH);
        let first: Vec<&Vec<String>> = std::iter::once(&self.header)
            .chain(rows.next().unwrap_or_default())
            .collect();
        push_go_block(&mut out, &first);
        for block in rows {
            push_go_block(&mut out, &block.iter().collect::<Vec<_>>());
        }
        out
    }

    pub fn print(&self) -> io::Result<()> {
        write_stdout(self.render().as_bytes())
    }
}

/// Appends lines aligned among themselves: the cells but the last of each line padded to
/// their column's width.
fn push_go_block(out: &mut String, lines: &[&Vec<String>]) {
    let aligned_columns = lines.iter().map(|line| line.len().saturating_sub(1)).max();
    let widths: Vec<usize> = (0..aligned_columns.unwrap_or(0))
        .map(|index| {
            let widest = lines
                .iter()
                .filter_map(|line| line.get(index))
                .map(|cell| char_count(cell))
                .max();
            widest.unwrap_or(0) + GO_PADDING
        })
        .collect();
    for line in lines {
        if let Some((last, aligned)) = line.split_last() {
            for (cell, width) in aligned.iter().zip(&widths) {
                out.push_str(cell);
                out.push_str(&" ".repeat(width - char_count(cell)));
            }
            out.push_str(last);
        }
        out.push('\n');
    }
}

/// Why bytes must not be written to a terminal as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalHazard {
    /// Not valid UTF-8: the terminal would show something else, or take the bytes as a
    /// control sequence (0x9B is CSI on some terminals).
    NotUtf8,
    /// A control character (Unicode category Cc: U+0000 to U+001F, U+007F to U+009F) other
    /// than newline and tab. ESC starts escape sequences that can retitle the window, rewrite
    /// what is shown or make the terminal answer with input; carriage return and backspace
    /// let later text overwrite what was shown.
    ControlCharacter,
}

impl std::fmt::Display for TerminalHazard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TerminalHazard::NotUtf8 => "bytes that are not UTF-8 text",
            TerminalHazard::ControlCharacter => {
                "control characters (other than newline and tab) that a terminal would act on"
            }
        })
    }
}

/// `None` when `bytes` are UTF-8 text whose only control characters are newline (`\n`) and
/// tab (`\t`), which a terminal shows as they are meant; else what is wrong with them.
pub fn terminal_hazard(bytes: &[u8]) -> Option<TerminalHazard> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(TerminalHazard::NotUtf8);
    };
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .then_some(TerminalHazard::ControlCharacter)
}

/// Writes all of `bytes` to stdout and flushes. A closed pipe (`... | head -1`) is not an
/// error: the reader has seen what it wanted, so the write just stops.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    write_all_or_stop(&mut io::stdout().lock(), bytes)
}

fn write_all_or_stop(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_accepts_table_text_and_json_in_any_case() {
        for (input, expected) in [
            ("table", Format::Table),
            ("TABLE", Format::Table),
            ("text", Format::Table),
            ("TEXT", Format::Table),
            ("Text", Format::Table),
            ("json", Format::Json),
            ("JSON", Format::Json),
        ] {
            assert_eq!(Format::parse(input), Ok(expected), "{input}");
        }
        for wrong in ["yaml", "", "jsonl", " json"] {
            let error = Format::parse(wrong).unwrap_err();
            assert!(
                error.contains("accepted arguments are json and text"),
                "{error}"
            );
        }
        assert_eq!(Format::default(), Format::Table);
    }

    #[derive(Serialize)]
    struct Item {
        #[serde(skip_serializing_if = "Option::is_none")]
        backend_type: Option<&'static str>,
        name: &'static str,
    }

    #[test]
    fn a_go_listing_is_an_indented_array_of_items() {
        let items = [
            Item {
                backend_type: Some("DATABRICKS"),
                name: "a",
            },
            Item {
                backend_type: None,
                name: "b",
            },
        ];
        assert_eq!(
            go_json_array(&items).unwrap(),
            "[\n  {\n    \"backend_type\": \"DATABRICKS\",\n    \"name\": \"a\"\n  },\n  \
             {\n    \"name\": \"b\"\n  }\n]\n"
        );
    }

    #[test]
    fn an_empty_go_listing_keeps_the_go_cli_s_blank_line() {
        assert_eq!(go_json_array::<Item>(&[]).unwrap(), "[\n  \n]\n");
    }

    #[test]
    fn go_json_escapes_html_characters_as_go_does() {
        let value = serde_json::json!({"principal": "a<b>&c\u{2028}"});
        assert_eq!(
            go_json(&value).unwrap(),
            "{\n  \"principal\": \"a\\u003cb\\u003e\\u0026c\\u2028\"\n}\n"
        );
    }

    #[test]
    fn go_text_pads_all_but_the_last_cell_of_a_line() {
        let mut table = GoTable::new(&["Scope", "Backend Type"]);
        table.row(vec!["prod".into(), "DATABRICKS".into()]);
        table.row(vec!["a-longer-name".into(), "".into()]);
        assert_eq!(
            table.render(),
            "Scope          Backend Type\n\
             prod           DATABRICKS\n\
             a-longer-name  \n"
        );
        assert_eq!(
            GoTable::new(&["Key", "Last Updated Timestamp"]).render(),
            "Key  Last Updated Timestamp\n"
        );
    }

    #[test]
    fn go_text_aligns_each_run_of_twenty_rows_on_its_own() {
        let mut table = GoTable::new(&["Key", "Last Updated Timestamp"]);
        for index in 0..21 {
            let key = if index == 20 {
                "k".repeat(9)
            } else {
                format!("k{index}")
            };
            table.row(vec![key, "5".into()]);
        }
        let rendered = table.render();
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[0], "Key  Last Updated Timestamp");
        assert_eq!(lines[1], "k0   5");
        assert_eq!(lines[20], "k19  5");
        assert_eq!(lines[21], "kkkkkkkkk  5");
    }

    #[test]
    fn secrets_table_right_aligns_the_timestamp_column() {
        let mut table = Table::new(&["Key name", "Last updated"]);
        table.row(["password", "1700000000000"]);
        table.row(["a-much-longer-key-name", "5"]);
        assert_eq!(
            table.render(),
            "Key name                  Last updated\n\
             ----------------------  --------------\n\
             password                 1700000000000\n\
             a-much-longer-key-name               5\n"
        );
    }

    #[test]
    fn a_column_with_any_non_number_is_left_aligned() {
        let mut table = Table::new(&["Key name", "Last updated"]);
        table.row(["k1", "1700000000000"]);
        table.row(["k2", "Not Available"]);
        assert_eq!(
            table.render(),
            "Key name    Last updated\n\
             ----------  --------------\n\
             k1          1700000000000\n\
             k2          Not Available\n"
        );
    }

    #[test]
    fn scopes_table_has_three_columns_and_trims_trailing_spaces() {
        let mut table = Table::new(&["Scope", "Backend", "KeyVault URL"]);
        table.row(["prod", "DATABRICKS", "N/A"]);
        table.row(["kv", "AZURE_KEYVAULT", "https://kv.vault.azure.net/"]);
        assert_eq!(
            table.render(),
            "Scope    Backend         KeyVault URL\n\
             -------  --------------  ---------------------------\n\
             prod     DATABRICKS      N/A\n\
             kv       AZURE_KEYVAULT  https://kv.vault.azure.net/\n"
        );
    }

    #[test]
    fn zero_rows_print_the_header_and_the_dashes() {
        let table = Table::new(&["Principal", "Permission"]);
        assert_eq!(
            table.render(),
            "Principal    Permission\n-----------  ------------\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::new(&["Principal", "Permission"]);
        table.row(["jürgen@exämple.com", "READ"]);
        assert_eq!(
            table.render(),
            "Principal           Permission\n\
             ------------------  ------------\n\
             jürgen@exämple.com  READ\n"
        );
    }

    #[test]
    fn missing_cells_are_empty() {
        let mut table = Table::new(&["A", "B"]);
        table.row(["x"]);
        assert_eq!(table.render(), "A    B\n---  ---\nx\n");
    }

    #[test]
    fn integers_are_digits_with_an_optional_sign() {
        for number in ["0", "1700000000000", "-5", "+7"] {
            assert!(is_integer(number), "{number}");
        }
        for other in ["", "-", "1.5", "1e3", " 1", "N/A", "١٢"] {
            assert!(!is_integer(other), "{other:?}");
        }
    }

    #[test]
    fn long_names_are_cut_to_the_limit_and_marked() {
        assert_eq!(truncate_name("short", 100), "short");
        let exactly = "s".repeat(100);
        assert_eq!(truncate_name(&exactly, 100), exactly);
        let long = format!("{}é-tail", "s".repeat(99));
        assert_eq!(truncate_name(&long, 100), format!("{}é...", "s".repeat(99)));
    }

    #[test]
    fn json_is_pretty_with_two_spaces_in_the_value_key_order() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"scopes": [{"name": "b", "backend_type": "DATABRICKS"}], "a": {}}"#,
        )
        .unwrap();
        let expected = "{\n  \"scopes\": [\n    {\n      \"name\": \"b\",\n      \
                        \"backend_type\": \"DATABRICKS\"\n    }\n  ],\n  \"a\": {}\n}\n";
        assert_eq!(String::from_utf8(json_bytes(&value)).unwrap(), expected);
    }

    #[test]
    fn text_with_newlines_and_tabs_is_safe_for_a_terminal() {
        for safe in [
            "",
            "hunter2",
            "two\nlines\n",
            "a\tb",
            "clé 🔑 名",
            "\u{202e}rtl",
        ] {
            assert_eq!(terminal_hazard(safe.as_bytes()), None, "{safe:?}");
        }
    }

    #[test]
    fn control_characters_and_non_utf8_are_hazards() {
        for control in [
            "\x1b]0;title\x07",
            "a\rb",
            "back\x08",
            "\0",
            "\x7f",
            "\u{9b}2J",
            "\r\n",
        ] {
            assert_eq!(
                terminal_hazard(control.as_bytes()),
                Some(TerminalHazard::ControlCharacter),
                "{control:?}"
            );
        }
        for bytes in [&b"\xff"[..], b"caf\xe9", b"\x9b2J", b"ok\xc3"] {
            assert_eq!(
                terminal_hazard(bytes),
                Some(TerminalHazard::NotUtf8),
                "{bytes:?}"
            );
        }
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct FullDisk;

    impl Write for FullDisk {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stops_writing_without_error_but_other_errors_are_reported() {
        assert!(write_all_or_stop(&mut ClosedPipe, b"row\n").is_ok());
        let error = write_all_or_stop(&mut FullDisk, b"row\n").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        let mut written = Vec::new();
        write_all_or_stop(&mut written, b"row\n").unwrap();
        assert_eq!(written, b"row\n");
    }

    fn cell_strategy() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z0-9_.@ -]{0,14}", "[0-9]{1,15}", "[éü名🔑a-z]{0,6}",]
    }

    fn table_strategy() -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
        (1usize..5).prop_flat_map(|columns| {
            (
                prop::collection::vec("[A-Za-z][A-Za-z ]{0,10}[A-Za-z]", columns),
                prop::collection::vec(prop::collection::vec(cell_strategy(), columns), 0..6),
            )
        })
    }

    proptest! {
        #[test]
        fn only_utf8_without_controls_but_newline_and_tab_reaches_a_terminal(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                any::<String>().prop_map(String::into_bytes),
                "[a-z\\n\\t\\r\\x1b\\x7f\\u{80}-\\u{a0}]{0,12}".prop_map(String::into_bytes),
            ]
        ) {
            let safe = std::str::from_utf8(&bytes).is_ok_and(|text| {
                text.chars().all(|c| c == '\n' || c == '\t' || !(c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c)))
            });
            prop_assert_eq!(terminal_hazard(&bytes).is_none(), safe);
        }
    }

    proptest! {
        #[test]
        fn every_line_shares_the_column_layout((headers, rows) in table_strategy()) {
            let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let mut table = Table::new(&header_refs);
            for row in &rows {
                table.row(row.iter().cloned());
            }
            let rendered = table.render();
            prop_assert!(rendered.ends_with('\n'));
            let lines: Vec<&str> = rendered.lines().collect();
            prop_assert_eq!(lines.len(), rows.len() + 2);

            // The dash line gives the column widths: runs of dashes separated by two spaces.
            let widths: Vec<usize> = lines[1].split(COLUMN_GAP).map(char_count).collect();
            prop_assert_eq!(widths.len(), headers.len());
            for (index, width) in widths.iter().enumerate() {
                let longest = rows.iter().map(|row| char_count(&row[index])).max().unwrap_or(0);
                prop_assert_eq!(*width, longest.max(char_count(&headers[index]) + 2));
            }
            prop_assert!(lines[1].chars().all(|c| c == '-' || c == ' '));

            let total_width = widths.iter().sum::<usize>() + COLUMN_GAP.len() * (widths.len() - 1);
            let all_cells = std::iter::once(&headers).chain(rows.iter());
            for (line, cells) in std::iter::once(&lines[0]).chain(&lines[2..]).zip(all_cells) {
                prop_assert!(!line.ends_with(' '), "trailing space in {:?}", line);
                let chars: Vec<char> = line.chars().collect();
                prop_assert!(chars.len() <= total_width);
                let mut padded = chars.clone();
                padded.resize(total_width, ' ');
                let mut start = 0;
                for (index, width) in widths.iter().enumerate() {
                    let slot: String = padded[start..start + width].iter().collect();
                    prop_assert_eq!(slot.trim_matches(' '), cells[index].trim_matches(' '));
                    prop_assert!(slot.starts_with(cells[index].as_str()) || slot.ends_with(cells[index].as_str()));
                    let gap_end = (start + width + COLUMN_GAP.len()).min(total_width);
                    prop_assert!(padded[start + width..gap_end].iter().all(|c| *c == ' '));
                    start = gap_end;
                }
            }
        }
    }
}
