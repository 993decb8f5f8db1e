//! `secrets import` and `secrets export`: every `.env` form and JSON reach the server
//! byte-exactly, a file with any problem sends nothing, failed puts are named, throttling is
//! retried, and export → import restores the same bytes, also between two workspaces.

use std::time::{Duration, Instant};

use databricks_emulator::{Config, Emulator, Fault};

#[cfg(unix)]
use crate::harness::BINARY;
use crate::harness::{Run, SCOPE, TestEnv, env_with_scope};

const PUT_PATH: &str = "/api/2.0/secrets/put";

fn create_scope(env: &TestEnv, scope: &str) {
    env.run(&["secrets", "create-scope", scope]).ok();
    env.emulator.clear_requests();
}

/// Writes `content` into `name` in the test's HOME (the binary's working directory).
fn write_file(env: &TestEnv, name: &str, content: &[u8]) {
    std::fs::write(env.home().join(name), content).expect("import file written");
}

#[track_caller]
fn assert_stored(env: &TestEnv, scope: &str, expected: &[(&str, &[u8])]) {
    for (key, value) in expected {
        assert_eq!(
            env.emulator.secret_bytes(scope, key).as_deref(),
            Some(*value),
            "stored bytes of {key} differ"
        );
    }
}

/// The keys of the put requests that reached the server, in arrival order.
fn put_keys(env: &TestEnv) -> Vec<String> {
    env.api_requests()
        .iter()
        .filter(|request| request.path == PUT_PATH)
        .map(|request| request.body["key"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A successful import: nothing on stdout, and the summary line on stderr.
#[track_caller]
fn assert_imported(run: &Run, count: usize) {
    assert_eq!(run.ok(), "", "import prints nothing on stdout");
    assert!(
        run.stderr
            .contains(&format!("Imported {count} of {count} secrets in ")),
        "summary expected: {}",
        run.stderr
    );
}

#[test]
fn every_env_form_is_imported_byte_exactly() {
    let env = env_with_scope();
    let file = concat!(
        "# database settings\n",
        "\n",
        "PLAIN=value\n",
        "export EXPORTED=from a shell script\n",
        "  SPACED  =   trimmed value   \n",
        "WITH_COMMENT=kept # dropped\n",
        "HASH_INSIDE=a#b\n",
        "SINGLE='literal $HOME \\n \"q\" # not a comment'\n",
        "DOUBLE=\"tab\\tnewline\\nquote\\\" backslash\\\\ dollar\\$ hex\\x41\\xff\" # comment\n",
        "MULTI=\"first line\n",
        "second line\"\n",
        "EQUALS=a=b==c\n",
        "CRLF=windows\r\n",
        "   # indented comment\n",
        "UNICODE=h\u{e9}llo \u{2713}\n",
    );
    write_file(&env, "app.env", file.as_bytes());

    let run = env.run(&["secrets", "import", SCOPE, "app.env"]);

    assert_imported(&run, 11);
    assert_stored(
        &env,
        SCOPE,
        &[
            ("PLAIN", b"value"),
            ("EXPORTED", b"from a shell script"),
            ("SPACED", b"trimmed value"),
            ("WITH_COMMENT", b"kept"),
            ("HASH_INSIDE", b"a#b"),
            ("SINGLE", b"literal $HOME \\n \"q\" # not a comment"),
            (
                "DOUBLE",
                b"tab\tnewline\nquote\" backslash\\ dollar$ hexA\xff",
            ),
            ("MULTI", b"first line\nsecond line"),
            ("EQUALS", b"a=b==c"),
            ("CRLF", b"windows"),
            ("UNICODE", "h\u{e9}llo \u{2713}".as_bytes()),
        ],
    );
    let mut keys = put_keys(&env);
    keys.sort();
    assert_eq!(keys.len(), 11, "one put per key: {keys:?}");
    keys.dedup();
    assert_eq!(keys.len(), 11, "no key put twice: {keys:?}");
    assert!(
        !run.stderr.contains("value") && !run.stderr.contains("literal"),
        "values never printed: {}",
        run.stderr
    );
}

#[test]
fn a_value_that_is_not_utf8_is_sent_as_bytes_and_text_as_a_string() {
    let env = env_with_scope();
    write_file(&env, "app.env", b"TEXT=plain\nBINARY=\"\\x00\\xfe\\xff\"\n");

    assert_imported(&env.run(&["secrets", "import", SCOPE, "app.env"]), 2);

    assert_stored(
        &env,
        SCOPE,
        &[("TEXT", b"plain"), ("BINARY", b"\x00\xfe\xff")],
    );
    for request in env.api_requests() {
        let field = if request.body["key"] == "TEXT" {
            "string_value"
        } else {
            "bytes_value"
        };
        assert!(request.body.get(field).is_some(), "{field}: {request:?}");
    }
}

#[test]
fn json_objects_are_imported_with_their_format_from_the_extension() {
    let env = env_with_scope();
    let file = br#"{
  "token": "s3cr=t \"quoted\"\nline",
  "blob": {"bytes_value": "AP8K"}
}"#;
    write_file(&env, "secrets.JSON", file);

    assert_imported(&env.run(&["secrets", "import", SCOPE, "secrets.JSON"]), 2);

    assert_stored(
        &env,
        SCOPE,
        &[
            ("token", b"s3cr=t \"quoted\"\nline"),
            ("blob", b"\x00\xff\n"),
        ],
    );
}

#[test]
fn the_format_is_sniffed_from_stdin_and_the_option_wins_over_the_extension() {
    let env = env_with_scope();

    let run = env.run_with_stdin(
        &["secrets", "import", SCOPE],
        b"\n  {\"FROM_JSON\": \"j\"}\n",
    );
    assert_imported(&run, 1);
    let run = env.run_with_stdin(&["secrets", "import", SCOPE, "-"], b"FROM_ENV=e\n");
    assert_imported(&run, 1);
    write_file(&env, "really-env.json", b"OVERRIDDEN=o\n");
    let run = env.run(&[
        "secrets",
        "import",
        "--scope",
        SCOPE,
        "really-env.json",
        "--format",
        "ENV",
    ]);
    assert_imported(&run, 1);

    assert_stored(
        &env,
        SCOPE,
        &[
            ("FROM_JSON", b"j"),
            ("FROM_ENV", b"e"),
            ("OVERRIDDEN", b"o"),
        ],
    );
}

#[test]
fn the_scope_is_taken_from_the_option_or_the_first_argument() {
    let env = env_with_scope();
    write_file(&env, "one.env", b"ONE=1\n");

    assert_imported(
        &env.run(&["secrets", "import", "--scope", SCOPE, "one.env"]),
        1,
    );
    let run = env.run_with_stdin(&["secrets", "import", "--scope", SCOPE], b"TWO=2\n");
    assert_imported(&run, 1);

    assert_stored(&env, SCOPE, &[("ONE", b"1"), ("TWO", b"2")]);
    let twice = env.run(&["secrets", "import", "--scope", SCOPE, SCOPE, "one.env"]);
    assert!(
        twice.fails_with(2).contains("given twice"),
        "{}",
        twice.stderr
    );
    let missing = env.run(&["secrets", "import"]);
    assert!(
        missing.fails_with(2).contains("scope is missing"),
        "{}",
        missing.stderr
    );
    let zero = env.run(&["secrets", "import", SCOPE, "one.env", "--concurrency", "0"]);
    zero.fails_with(2);
    assert!(put_keys(&env).len() == 2, "usage errors send nothing");
}

#[test]
fn a_file_with_problems_sends_nothing_and_lists_every_problem_with_its_line() {
    let env = env_with_scope();
    let too_long = "x".repeat(131_073);
    let file = format!(
        "GOOD=fine-value\n\
         EMPTY=\n\
         bad/key=hidden-value-1\n\
         GOOD=hidden-value-2\n\
         a pasted line hidden-value-3\n\
         BIG={too_long}\n\
         ESCAPE=\"hidden\\qvalue\"\n\
         OPEN=\"never closed hidden-value-4\n"
    );
    write_file(&env, "broken.env", file.as_bytes());

    let run = env.run(&["secrets", "import", SCOPE, "broken.env"]);

    let stderr = run.fails_with(1);
    for expected in [
        "broken.env: line 2: ",
        "broken.env: line 3: ",
        "broken.env: line 4: ",
        "broken.env: line 5: ",
        "broken.env: line 6: ",
        "broken.env: line 7: ",
        "broken.env: line 8: ",
        "nothing was imported",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing in: {stderr}"
        );
    }
    assert!(
        stderr.contains("'EMPTY'") && stderr.contains("bad/key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("first on line 1"),
        "the duplicate: {stderr}"
    );
    assert!(!stderr.contains("line 1:"), "line 1 is fine: {stderr}");
    assert!(
        !stderr.contains("hidden") && !stderr.contains("xxx"),
        "{stderr}"
    );
    assert!(env.api_requests().is_empty(), "nothing may be sent");
}

#[test]
fn a_json_file_with_problems_sends_nothing() {
    let env = env_with_scope();
    let file =
        b"{\n  \"ok\": \"fine\",\n  \"number\": 42,\n  \"bad key\": \"x\",\n  \"empty\": \"\"\n}";
    write_file(&env, "broken.json", file);

    let run = env.run(&["secrets", "import", SCOPE, "broken.json"]);

    let stderr = run.fails_with(1);
    for line in 3..=5 {
        assert!(
            stderr.contains(&format!("line {line}: ")),
            "line {line}: {stderr}"
        );
    }
    let run = env.run_with_stdin(&["secrets", "import", SCOPE], b"{\"a\": \"unterminated");
    assert!(
        run.fails_with(1).contains("not valid JSON"),
        "{}",
        run.stderr
    );
    assert!(env.api_requests().is_empty(), "nothing may be sent");
}

#[test]
fn an_invalid_scope_or_missing_file_is_refused_before_any_request() {
    let env = env_with_scope();
    write_file(&env, "ok.env", b"A=1\n");

    let bad_scope = env.run(&["secrets", "import", "no spaces", "ok.env"]);
    assert!(
        bad_scope.fails_with(2).contains("invalid scope name"),
        "{}",
        bad_scope.stderr
    );
    let missing = env.run(&["secrets", "import", SCOPE, "missing.env"]);
    assert!(
        missing.fails_with(1).contains("missing.env"),
        "{}",
        missing.stderr
    );

    assert!(env.api_requests().is_empty(), "nothing may be sent");
}

/// Ten keys none of which is a substring of another.
fn ten_entries() -> (String, Vec<String>) {
    let keys: Vec<String> = (0..10)
        .map(|index| format!("KEY_{}", char::from(b'A' + index)))
        .collect();
    let file = keys
        .iter()
        .map(|key| format!("{key}=value-of-{key}\n"))
        .collect();
    (file, keys)
}

#[test]
fn failed_puts_are_named_and_the_others_are_imported() {
    let env = env_with_scope();
    let (file, keys) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());
    env.emulator.inject_fault(
        Fault::status(400)
            .with_error("INVALID_PARAMETER_VALUE", "boom")
            .with_path(PUT_PATH)
            .with_count(2),
    );

    let run = env.run(&["secrets", "import", SCOPE, "ten.env"]);

    let stderr = run.fails_with(1);
    let (stored, failed): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .partition(|key| env.emulator.secret_bytes(SCOPE, key).is_some());
    assert_eq!((stored.len(), failed.len()), (8, 2), "{stderr}");
    assert!(stderr.contains("Imported 8 of 10 secrets in "), "{stderr}");
    for key in &failed {
        assert!(
            stderr.contains(&format!("  {key}: INVALID_PARAMETER_VALUE: boom")),
            "{key} must be named: {stderr}"
        );
    }
    for key in &stored {
        assert!(
            !stderr.contains(key.as_str()),
            "{key} did not fail: {stderr}"
        );
    }
    assert!(
        stderr.contains("Error: 2 of 10 secrets were not imported"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("value-of"),
        "values never printed: {stderr}"
    );
    assert_eq!(put_keys(&env).len(), 10, "a 400 is not retried");
}

#[test]
fn throttled_puts_are_retried_and_the_import_succeeds() {
    let env = env_with_scope();
    let (file, keys) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("0")
            .with_path(PUT_PATH)
            .with_count(3),
    );

    let run = env.run(&["secrets", "import", SCOPE, "ten.env"]);

    assert_imported(&run, 10);
    assert_eq!(
        run.stderr.matches("Retrying POST").count(),
        3,
        "{}",
        run.stderr
    );
    for key in &keys {
        let expected = format!("value-of-{key}");
        assert_stored(&env, SCOPE, &[(key, expected.as_bytes())]);
    }
    assert_eq!(put_keys(&env).len(), 13, "ten puts and three retries");
}

/// Asserts one error for the whole import, no failure listed per key, and that the import
/// stopped: with one put at a time, only the first put reached the server.
#[track_caller]
fn assert_stopped_at_first_put<'a>(env: &TestEnv, run: &'a Run, total: usize) -> &'a str {
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains(&format!(
            "Error: 0 of {total} secrets were imported; the import stopped at the first answer \
             that every secret would get: "
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Error:").count(), 1, "one error: {stderr}");
    assert!(!stderr.contains("  KEY_"), "no error per key: {stderr}");
    assert_eq!(put_keys(env).len(), 1, "nothing is sent after the answer");
    stderr
}

#[test]
fn a_missing_scope_stops_the_import_at_the_first_answer() {
    let env = TestEnv::new();
    let (file, _) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());

    let run = env.run(&["secrets", "import", "nope", "ten.env", "--concurrency", "1"]);

    let stderr = assert_stopped_at_first_put(&env, &run, 10);
    assert!(stderr.contains("Imported 0 of 10 secrets"), "{stderr}");
    assert!(stderr.contains("RESOURCE_DOES_NOT_EXIST"), "{stderr}");
}

#[test]
fn a_user_without_write_permission_stops_the_import_at_the_first_answer() {
    let env =
        TestEnv::with_emulator(Config::default().with_user("reader@example.com", "reader-token"));
    create_scope(&env, SCOPE);
    env.add_profile("reader", "reader-token");
    let (file, _) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());

    let run = env.run(&[
        "secrets",
        "import",
        SCOPE,
        "ten.env",
        "--profile",
        "reader",
        "--concurrency",
        "1",
    ]);

    let stderr = assert_stopped_at_first_put(&env, &run, 10);
    assert!(
        stderr.contains("PERMISSION_DENIED") && stderr.contains("Hint: "),
        "{stderr}"
    );
}

#[test]
fn no_more_puts_start_after_an_answer_that_fails_every_key() {
    let env = TestEnv::new();
    let keys: Vec<String> = (0..40).map(|index| format!("K{index}")).collect();
    let file: String = keys.iter().map(|key| format!("{key}=v\n")).collect();
    write_file(&env, "forty.env", file.as_bytes());

    let run = env.run(&[
        "secrets",
        "import",
        "nope",
        "forty.env",
        "--concurrency",
        "4",
    ]);

    let stderr = run.fails_with(1);
    assert_eq!(stderr.matches("Error:").count(), 1, "{stderr}");
    let puts = put_keys(&env).len();
    assert!(
        (1..=4).contains(&puts),
        "only the puts in flight may finish, {puts} were sent"
    );
}

#[test]
fn puts_go_out_concurrently() {
    let env = env_with_scope();
    let (file, _) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());
    // Sequential puts would take 8 × 600 ms; eight at a time take one delay.
    env.emulator.inject_fault(
        Fault::delay(Duration::from_millis(600))
            .with_path(PUT_PATH)
            .with_count(8),
    );

    let started = Instant::now();
    let run = env.run(&["secrets", "import", SCOPE, "ten.env"]);

    assert_imported(&run, 10);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(3000), "took {elapsed:?}");
}

/// Values that a naive `.env` writer or reader would damage.
const AWKWARD_VALUES: &[(&str, &[u8])] = &[
    ("newlines", b"line 1\nline 2\r\nline 3\n\n"),
    ("quotes", b"he said \"hi\" and 'bye' `cmd`"),
    ("equals", b"a=b==c="),
    ("binary", b"\x00\xff\xfe\x80 not utf-8 \xc3("),
    ("blanks", b"  edge blanks\t "),
    ("shell", b"$HOME ${X} \\ backslash \\x41 \\n # hash"),
    ("comment", b"#starts like a comment"),
    ("unicode", "h\u{e9}llo \u{2713} \u{1F600}".as_bytes()),
    ("control", b"\x1b[31mred\x07\x7f"),
];

/// Puts the awkward values into `scope` with `put` reading stdin (byte-exact).
fn put_awkward_values(env: &TestEnv, scope: &str) {
    for (key, value) in AWKWARD_VALUES {
        env.run_with_stdin(&["secrets", "put", scope, key], value)
            .ok();
    }
}

#[test]
fn export_then_import_restores_every_byte_in_both_formats() {
    let env = env_with_scope();
    put_awkward_values(&env, SCOPE);

    for format in ["env", "json"] {
        let exported = env.run(&["secrets", "export", SCOPE, "--format", format]);
        assert!(!exported.ok().is_empty(), "something exported");
        assert_eq!(
            exported.stderr, "",
            "no warning when stdout is not a terminal"
        );
        let copy = format!("copy-{format}");
        create_scope(&env, &copy);

        let run = env.run_with_stdin(&["secrets", "import", &copy], &exported.stdout);

        assert_imported(&run, AWKWARD_VALUES.len());
        assert_stored(&env, &copy, AWKWARD_VALUES);
    }
}

#[test]
fn export_writes_non_utf8_values_as_the_help_says() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", SCOPE, "bin"], b"\xffok\n")
        .ok();

    let env_file = env.run(&["secrets", "export", "--scope", SCOPE]).ok();
    let json_file = env
        .run(&["secrets", "export", SCOPE, "--format", "json"])
        .ok();

    assert_eq!(env_file, "bin=''\\\n$'\\xffok\\n'\n");
    let json: serde_json::Value = serde_json::from_str(&json_file).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({"bin": {"bytes_value": "/29rCg=="}})
    );
    let help = env.run(&["secrets", "export", "--help"]).ok();
    assert!(
        help.contains("\\xNN") && help.contains("bytes_value"),
        "{help}"
    );
}

#[test]
fn export_of_a_missing_scope_fails_with_the_api_error() {
    let env = TestEnv::new();

    let run = env.run(&["secrets", "export", "nope"]);

    assert!(
        run.fails_with(1).contains("RESOURCE_DOES_NOT_EXIST"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn export_warns_on_a_terminal_and_import_draws_progress() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", SCOPE, "shown"], b"on-screen")
        .ok();
    write_file(&env, "two.env", b"A=1\nB=2\n");

    let export = env.run_in_terminal(&format!("{BINARY} secrets export {SCOPE}"), &[]);
    let import = env.run_in_terminal(&format!("{BINARY} secrets import {SCOPE} two.env"), &[]);

    let screen = export.ok();
    assert!(
        screen.contains("Warning: secret values are printed"),
        "{screen}"
    );
    assert!(screen.contains("shown='on-screen'"), "{screen}");
    let screen = import.ok();
    assert!(
        screen.contains("Importing [") && screen.contains("2/2"),
        "{screen}"
    );
    assert!(screen.contains("Imported 2 of 2 secrets"), "{screen}");
    let piped = env.run(&["secrets", "import", SCOPE, "two.env"]);
    assert!(
        !piped.stderr.contains('\r'),
        "no bar on a pipe: {:?}",
        piped.stderr
    );
}

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn retry_notices_print_above_the_progress_bar_which_shows_concurrency_and_throttled_answers() {
    let env = env_with_scope();
    let (file, _) = ten_entries();
    write_file(&env, "ten.env", file.as_bytes());
    env.emulator
        .inject_fault(Fault::status(429).with_retry_after("0").with_path(PUT_PATH));

    let run = env.run_in_terminal(&format!("{BINARY} secrets import {SCOPE} ten.env"), &[]);

    let screen = run.ok();
    let notice = screen
        .find("\r\x1b[2KRetrying POST /api/2.0/secrets/put in 0.1s (attempt 2): 429")
        .unwrap_or_else(|| panic!("the bar's line is erased before the notice: {screen:?}"));
    let after_notice = &screen[notice..];
    assert!(
        after_notice.contains("\n\r\x1b[2KImporting ["),
        "the bar is drawn again below the notice: {after_notice:?}"
    );
    assert!(
        after_notice.contains("(4 at a time, 1 throttled)"),
        "the throttled answer halved the concurrency: {after_notice:?}"
    );
    assert!(screen.contains("Imported 10 of 10 secrets"), "{screen}");
}

#[test]
fn export_with_one_profile_and_import_with_another_copies_a_scope_between_workspaces() {
    let source = env_with_scope();
    put_awkward_values(&source, SCOPE);
    source.emulator.clear_requests();
    let target = Emulator::start(Config::default()).expect("a second emulator");
    source.write_source_and_target_profiles(&target);
    source
        .run(&["secrets", "create-scope", SCOPE, "--profile", "target"])
        .ok();

    let exported = source.run(&["secrets", "export", SCOPE, "--profile", "source"]);
    let imported = source.run_with_stdin(
        &["secrets", "import", SCOPE, "--profile", "target"],
        &exported.stdout,
    );

    exported.ok();
    assert_imported(&imported, AWKWARD_VALUES.len());
    for (key, value) in AWKWARD_VALUES {
        assert_eq!(
            target.secret_bytes(SCOPE, key).as_deref(),
            Some(*value),
            "{key} differs in the target workspace"
        );
    }
    let puts_to_source = put_keys(&source);
    assert!(
        puts_to_source.is_empty(),
        "the source is only read: {puts_to_source:?}"
    );
}

#[test]
fn rejected_credentials_stop_the_import_with_one_reason_and_a_hint() {
    let env = env_with_scope();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {}\ntoken = wrong-token\n",
        env.url()
    ));
    write_file(&env, "two.env", b"A=1\nB=2\n");

    let run = env.run(&["secrets", "import", SCOPE, "two.env"]);

    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Error: 0 of 2 secrets were imported; the import stopped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("UNAUTHENTICATED") && stderr.contains("Hint: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Error:").count(), 1, "one error: {stderr}");
    assert!(
        !stderr.contains("wrong-token"),
        "the token is never printed: {stderr}"
    );
}

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn import_without_a_file_on_a_terminal_asks_for_one() {
    let env = env_with_scope();

    let run = env.run_in_terminal(&format!("{BINARY} secrets import {SCOPE}"), &[]);

    assert_eq!(run.code, 1, "{}", run.stdout());
    assert!(
        run.stdout().contains("no file to import"),
        "{}",
        run.stdout()
    );
    assert!(env.api_requests().is_empty(), "nothing may be sent");
}

/// Values that would run `touch pwned` if a shell sourcing an export expanded anything, or
/// that a naive quoting would cut short.
#[cfg(unix)]
const SHELL_ATTACKS: &[(&str, &[u8])] = &[
    ("BACKTICK", b"`touch pwned`"),
    ("SUBSTITUTION", b"$(touch pwned)"),
    ("IN_DOUBLE_QUOTES", b"\"$(touch pwned)\" \"`touch pwned`\""),
    ("CLOSES_QUOTE", b"'; touch pwned; '"),
    ("BOTH_QUOTES", b"it's `touch pwned` $(touch pwned)"),
    ("ESCAPED", b"'\\''$(touch pwned)'\\''"),
    ("TRAILING_BACKSLASH", b"C:\\dir\\"),
    ("VARIABLES", b"$HOME ${HOME} $0 $$ !!"),
    ("LINES", b"line 1\nPATH=/nowhere\n$(touch pwned)\n"),
    ("CONTROL", b"\r\n`touch pwned`\x1b[0m\x7f"),
    (
        "UNICODE",
        "h\u{e9}llo \u{2028} \u{85} `touch pwned`".as_bytes(),
    ),
];

#[cfg(unix)] // sources the export in bash
#[test]
fn sourcing_an_export_in_bash_runs_nothing_and_sets_every_value_exactly() {
    let env = env_with_scope();
    for (key, value) in SHELL_ATTACKS {
        env.run_with_stdin(&["secrets", "put", SCOPE, key], value)
            .ok();
    }
    // Written as `x.y=…`, this line would run the program `x.y=pwn` put on PATH below.
    env.run(&["secrets", "put", SCOPE, "x.y", "--string-value", "pwn"])
        .ok();
    let exported = env.run(&["secrets", "export", SCOPE]).ok();
    let dir = tempfile::tempdir().expect("a directory to source in");
    std::fs::write(dir.path().join("app.env"), &exported).expect("export saved");
    let program = dir.path().join("x.y=pwn");
    std::fs::write(&program, "#!/bin/sh\ntouch pwned\n").expect("program written");
    let mut permissions = std::fs::metadata(&program).expect("program").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&program, permissions).expect("program executable");
    let printed: Vec<String> = SHELL_ATTACKS
        .iter()
        .map(|(key, _)| format!("\"${key}\""))
        .collect();
    let script = format!(
        "PATH=\"$PWD:$PATH\"; set -a; . ./app.env; printf '%s\\0' {}",
        printed.join(" ")
    );

    let output = env
        .isolated_command("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");

    assert!(
        !dir.path().join("pwned").exists(),
        "sourcing ran a command; the export was:\n{exported}"
    );
    let sourced: Vec<&[u8]> = output.stdout.split(|&byte| byte == 0).collect();
    for ((key, value), sourced) in SHELL_ATTACKS.iter().zip(sourced) {
        assert_eq!(
            String::from_utf8_lossy(sourced),
            String::from_utf8_lossy(value),
            "{key} differs after sourcing"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("x.y=pwn': not a valid identifier"),
        "bash refuses the key that is not a shell name: {stderr}"
    );
}

#[test]
fn import_reads_values_written_in_shell_quoting() {
    let env = env_with_scope();
    write_file(
        &env,
        "shell.env",
        b"A='it'\\''s'\nB=''\\\n$'tab\\there\\x27\\xff'\nC=\"old \\\"form\\\"\\n\"\n",
    );

    let run = env.run(&["secrets", "import", SCOPE, "shell.env"]);

    assert_imported(&run, 3);
    assert_stored(
        &env,
        SCOPE,
        &[
            ("A", b"it's"),
            ("B", b"tab\there'\xff"),
            ("C", b"old \"form\"\n"),
        ],
    );
}

/// One byte more than any valid import file can hold (see `dotenv::MAX_FILE_BYTES`).
const OVER_THE_FILE_BOUND: u64 = 787_456_001;

#[test]
fn an_import_file_larger_than_any_valid_one_is_refused_unread() {
    let env = env_with_scope();
    let file = std::fs::File::create(env.home().join("huge.env")).expect("file created");
    file.set_len(OVER_THE_FILE_BOUND).expect("a sparse file");

    let started = Instant::now();
    let run = env.run(&["secrets", "import", SCOPE, "huge.env"]);

    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with(
            "Error: huge.env is larger than any valid import file (over 787456000 bytes: a scope \
             holds at most 1000 secrets of at most 131072 bytes"
        ),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the file is not read"
    );
    assert!(env.api_requests().is_empty(), "nothing may be sent");
}

#[test]
fn standard_input_is_read_with_the_same_bound() {
    let env = env_with_scope();
    let mut child = env
        .command(&["secrets", "import", SCOPE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut pipe = child.stdin.take().expect("stdin piped");
    let feeder = std::thread::spawn(move || {
        let zeros = [0u8; 65_536];
        let mut left = OVER_THE_FILE_BOUND;
        while left > 0 {
            let chunk = &zeros[..zeros.len().min(left as usize)];
            // The binary stops reading at the bound: a broken pipe is expected.
            if std::io::Write::write_all(&mut pipe, chunk).is_err() {
                break;
            }
            left -= chunk.len() as u64;
        }
    });
    let output = child.wait_with_output().expect("the binary ends");
    feeder.join().expect("the feeder ends");

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("Error: stdin is larger than any valid import file (over 787456000"),
        "{stderr}"
    );
    assert!(env.api_requests().is_empty(), "nothing may be sent");
}
