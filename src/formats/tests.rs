//! Tests of both formats and of what they share.

use super::env::{self, ANSI_C_QUOTES, DOUBLE_QUOTES};
#[cfg(unix)] // the bash round-trip tests
use super::env::{Quoting, quoting};
use super::json;
use super::*;
use crate::secret::{Secret, SecretBytes};
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
    env::parse(content.as_bytes()).unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn env_problems(content: &str) -> Vec<String> {
    let problems = env::parse(content.as_bytes()).expect_err("problems expected");
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
        String::from_utf8(env::write(&entries)).unwrap(),
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
        String::from_utf8(env::write(&entries)).unwrap(),
        "export db.password='x'\nexport 1ST='x'\nexport a-b='x'\n_ok_1='x'\n"
    );
}

#[test]
fn shell_style_pieces_are_joined() {
    assert_eq!(
        env("A='it'\\''s'\nB=''\\\n$'\\x00\\n\\'\\\"\\\\'\nC=\"x\"'y'$'z' # c\nD=''\\\r\n'crlf'\n"),
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
            "line 3: the $' quote opened here is never closed: add the closing \"'\"".to_string(),
        ]
    );
}

#[test]
fn the_file_bound_is_a_full_scope_in_the_longest_encoding() {
    assert_eq!(MAX_FILE_BYTES, 787_456_000);
    let longest_json_value = json::write(&[entry("k", text(&"\0".repeat(8)), 0)]);
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
        json::parse(content).unwrap(),
        vec![
            entry("zeta", text("last letter"), 2),
            entry("alpha", bytes(b"\x00\xff"), 3),
            entry("multi", text("a\nb"), 4)
        ]
    );
    assert_eq!(json::parse(b" {} ").unwrap(), vec![]);
}

#[test]
fn json_gives_the_line_of_the_key_even_when_its_value_starts_on_a_later_line() {
    let content = b"{\"a\":\n\n  \"x\", \"b\" :\t{\"bytes_value\":\n\"AP8=\"}, \"c\"\n:\"\\n\"}";
    let lines: Vec<usize> = json::parse(content)
        .unwrap()
        .iter()
        .map(|entry| entry.line)
        .collect();
    assert_eq!(lines, vec![1, 3, 4]);
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
    let problems: Vec<String> = json::parse(content)
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
    let problems = json::parse(b"{\n  \"a\": \"SECRET\",\n  \"b\" \"SECRET\"\n}").unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(3));
    assert!(
        problems[0].message.starts_with("not valid JSON (column"),
        "{}",
        problems[0]
    );
    assert!(!problems[0].message.contains("SECRET"));

    let trailing = json::parse(b"{\"a\": \"1\"}\n{}").unwrap_err();
    assert_eq!(trailing[0].line, Some(2));

    for not_an_object in [&b"\"SECRET\""[..], b"[1]", b"", b"  "] {
        let problems = json::parse(not_an_object).unwrap_err();
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
        String::from_utf8(json::write(&entries)).unwrap(),
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
        .map(|(index, (key, value))| entry(key, SecretValue::from_bytes(value.clone()), index + 1))
        .collect()
}

fn keys_and_bytes(entries: &[Entry]) -> Vec<(String, Vec<u8>)> {
    entries
        .iter()
        .map(|entry| (entry.key.clone(), entry.value.as_bytes().to_vec()))
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
    "KEY", "A_1", "export ", "export", "=", " ", "\t", "\"", "'", "\\", "\\x", "4f", "\\n", "#",
    "\n", "\r\n", "\r", "é", "\u{feff}",
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
        let parsed = env::parse(&env::write(&to_entries(&pairs)));
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
        let parsed = env::parse(&env::write(&to_entries(&pairs)));
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        prop_assert_eq!(keys_and_bytes(&parsed.unwrap_or_default()), pairs);
    }

    #[test]
    fn json_round_trips_any_bytes(pairs in entries_strategy()) {
        let parsed = json::parse(&json::write(&to_entries(&pairs)));
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
        if let Err(problems) = env::parse(&content) {
            prop_assert!(!problems.is_empty());
            prop_assert!(problems.iter().all(|problem| problem.line.is_some()));
        }
    }

    #[test]
    fn fuzz_json_import(content in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..500),
        fragments(JSON_PIECES),
    ]) {
        if let Err(problems) = json::parse(&content) {
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
        std::fs::write(dir.path().join("values.env"), env::write(&entries))
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
        std::fs::write(dir.path().join("values.env"), env::write(&entries))
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
            env::write(&[entry("x.y", text("pwn"), 0)]),
        )
        .expect("the file is written");
        for shell in ["bash", "sh"] {
            let script = "PATH=\"$PWD:$PATH\"; set -a; . ./values.env; true";
            run_shell(shell, dir.path(), script);
            assert!(!dir.path().join("pwned").exists(), "{shell} ran a command");
        }
    }
}
