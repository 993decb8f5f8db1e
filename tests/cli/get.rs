//! `secrets get`: the decoded bytes exactly on stdout, or the API answer with `--output json`.

use serde_json::json;

#[cfg(unix)]
use crate::harness::{BINARY, Run};
use crate::harness::{TestEnv, env_with_scope};

/// Every byte value, NUL and 0xFF included, in an order that is not valid UTF-8.
#[cfg(unix)]
fn all_byte_values() -> Vec<u8> {
    (0..=255u8).rev().chain(0..=255u8).collect()
}

#[test]
fn get_writes_the_value_exactly_without_adding_a_newline() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", "app", "no-newline"], b"s3cr3t")
        .ok();
    env.run_with_stdin(&["secrets", "put", "app", "two-lines"], b"one\r\ntwo\n\n")
        .ok();

    let run = env.run(&["secrets", "get", "--scope", "app", "--key", "no-newline"]);
    assert_eq!(run.ok(), "s3cr3t");
    let run = env.run(&["secrets", "get", "--scope", "app", "--key", "two-lines"]);
    assert_eq!(run.stdout, b"one\r\ntwo\n\n");
    assert_eq!(run.stderr, "");
}

#[cfg(unix)] // a POSIX shell pipeline
#[test]
fn a_binary_file_round_trips_through_put_and_get_redirected_to_a_file() {
    let env = env_with_scope();
    let original = env.home().join("keystore.bin");
    std::fs::write(&original, all_byte_values()).expect("binary file written");
    env.run(&[
        "secrets",
        "put",
        "--scope",
        "app",
        "--key",
        "keystore",
        "--binary-file",
        original.to_str().expect("UTF-8 path"),
    ])
    .ok();
    assert_eq!(
        env.emulator.secret_bytes("app", "keystore"),
        Some(all_byte_values())
    );

    let mut shell = env.command_with_binary_on_path("sh");
    shell.args([
        "-c",
        "databricks secrets get --scope app --key keystore > copy.bin",
    ]);
    let run = env.run_command(shell, b"");
    assert_eq!(run.ok(), "", "everything went to the file");
    let copy = std::fs::read(env.home().join("copy.bin")).expect("copy written");
    assert_eq!(copy, all_byte_values());
}

#[test]
fn the_largest_allowed_value_round_trips() {
    let env = env_with_scope();
    let value: Vec<u8> = (0..131_072u32).map(|i| (i % 251) as u8).collect();
    env.run_with_stdin(
        &["secrets", "put", "app", "big", "--binary-file", "-"],
        &value,
    )
    .ok();
    let run = env.run(&["secrets", "get", "app", "big"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout == value, "the 128 KiB value came back changed");
}

#[test]
fn json_output_is_the_api_answer() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", "app", "token"], b"abc\xff")
        .ok();
    let expected = "{\n  \"key\": \"token\",\n  \"value\": \"YWJj/w==\"\n}\n";
    for output in [["--output", "json"], ["--output", "JSON"], ["-o", "json"]] {
        let run = env.run(&[&["secrets", "get", "app", "token"][..], &output].concat());
        assert_eq!(run.ok(), expected, "{output:?}");
    }
}

#[test]
fn get_sends_scope_and_key_as_query_parameters() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "ops@team.io"]).ok();
    env.run(&[
        "secrets",
        "put",
        "ops@team.io",
        "k.1",
        "--string-value",
        "v",
    ])
    .ok();
    assert_eq!(env.run(&["secrets", "get", "ops@team.io", "k.1"]).ok(), "v");
    let request = env
        .api_requests()
        .pop()
        .expect("the get reached the emulator");
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/api/2.0/secrets/get")
    );
    assert_eq!(
        serde_json::Value::Object(request.query_params),
        json!({"scope": "ops@team.io", "key": "k.1"})
    );
}

#[test]
fn a_missing_secret_is_an_error_and_prints_nothing_on_stdout() {
    let env = env_with_scope();
    let run = env.run(&["secrets", "get", "app", "absent"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with("Error: RESOURCE_DOES_NOT_EXIST: "),
        "{stderr}"
    );

    let run = env.run(&["secrets", "get", "nope", "absent", "-o", "json"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("nope"), "{stderr}");
}

#[test]
fn get_without_a_key_is_a_usage_error() {
    let env = env_with_scope();
    let run = env.run(&["secrets", "get", "--scope", "app"]);
    let stderr = run.fails_with(2);
    assert!(stderr.contains("--key"), "{stderr}");
    assert!(
        env.api_requests()
            .iter()
            .all(|r| r.path != "/api/2.0/secrets/get")
    );
}

#[cfg(unix)] // a POSIX shell pipeline
#[test]
fn a_reader_that_closes_the_pipe_early_is_not_an_error() {
    let env = env_with_scope();
    let value = vec![b'x'; 100_000];
    env.run_with_stdin(&["secrets", "put", "app", "long"], &value)
        .ok();
    let mut shell = env.command_with_binary_on_path("bash");
    let script = "set -o pipefail; databricks secrets get app long | head -c 3";
    shell.args(["-c", script]);
    let run = env.run_command(shell, b"");
    assert_eq!(run.ok(), "xxx", "the pipeline, get included, succeeds");
    assert_eq!(run.stderr, "");
}

/// Runs `databricks ARGS` on a pseudo-terminal, with `redirect` (like `> out.bin`) appended to
/// the shell command line.
#[cfg(unix)]
fn get_in_terminal(env: &TestEnv, args: &str, redirect: &str) -> Run {
    let command = format!("{BINARY} secrets get {args} {redirect}");
    env.run_in_terminal(&command, &[])
}

/// A terminal title change, as a value might carry by accident or by design.
#[cfg(unix)]
const ESCAPE_SEQUENCE: &[u8] = b"\x1b]0;pwned\x07hidden";

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn values_a_terminal_would_act_on_are_not_written_to_it() {
    let env = env_with_scope();
    let values: [(&str, &[u8], &str); 4] = [
        ("escape", ESCAPE_SEQUENCE, "control characters"),
        (
            "carriage-return",
            b"shown\roverwritten",
            "control characters",
        ),
        ("nul", b"a\0b", "control characters"),
        ("binary", b"\xff\xfe\x00raw", "not UTF-8"),
    ];
    for (key, value, reason) in values {
        env.run_with_stdin(&["secrets", "put", "app", key], value)
            .ok();
        let run = get_in_terminal(&env, &format!("app {key}"), "");
        let shown = run.stdout();
        assert_eq!(run.code, 1, "{key}: {shown}");
        for fragment in [reason, "not written to the terminal", "> FILE", "-o json"] {
            assert!(
                shown.contains(fragment),
                "{key}: {fragment:?} missing in {shown}"
            );
        }
        assert!(
            !shown.contains("pwned") && !shown.contains("hidden"),
            "{shown}"
        );
        assert!(
            !run.stdout.contains(&0x1b),
            "an escape reached the terminal"
        );
    }
}

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn text_with_newlines_and_tabs_is_written_to_a_terminal() {
    let env = env_with_scope();
    let value = "line one\n\tindented clé\n";
    env.run_with_stdin(&["secrets", "put", "app", "pem"], value.as_bytes())
        .ok();
    let run = get_in_terminal(&env, "app pem", "");
    assert_eq!(run.code, 0, "{}", run.stdout());
    // The terminal turns each newline into CR LF on output.
    assert_eq!(run.stdout(), "line one\r\n\tindented clé\r\n");
}

#[cfg(unix)] // a pseudo-terminal (script)
#[test]
fn redirected_or_piped_output_from_a_terminal_session_stays_byte_exact() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", "app", "escape"], ESCAPE_SEQUENCE)
        .ok();
    env.run_with_stdin(&["secrets", "put", "app", "binary"], &all_byte_values())
        .ok();
    for (key, value) in [
        ("escape", ESCAPE_SEQUENCE.to_vec()),
        ("binary", all_byte_values()),
    ] {
        for redirect in ["> out.bin", "| cat > out.bin"] {
            let run = get_in_terminal(&env, &format!("app {key}"), redirect);
            assert_eq!(run.code, 0, "{key} {redirect}: {}", run.stdout());
            assert_eq!(run.stdout(), "", "nothing on the terminal");
            let written = std::fs::read(env.home().join("out.bin")).expect("out.bin written");
            assert!(written == value, "{key} {redirect}: the bytes changed");
        }
    }
    let run = get_in_terminal(&env, "app escape -o json", "");
    assert_eq!(run.code, 0, "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("\"value\": \"G10wO3B3bmVkB2hpZGRlbg==\""),
        "{}",
        run.stdout()
    );
}

#[test]
fn get_secret_prints_the_go_cli_json_with_the_value_in_base64() {
    let env = env_with_scope();
    env.run_with_stdin(&["secrets", "put", "app", "token"], b"abc\xff")
        .ok();
    let run = env.run(&["secrets", "get-secret", "app", "token"]);
    // The Go CLI's layout: two-space indent, `key` then `value`, a final newline.
    assert_eq!(
        run.ok(),
        "{\n  \"key\": \"token\",\n  \"value\": \"YWJj/w==\"\n}\n"
    );
    assert_eq!(run.stderr, "");
    // The Go CLI prints JSON in text format too; plain `get` keeps printing the bytes.
    let text = env.run(&["secrets", "get-secret", "app", "token", "-o", "text"]);
    assert_eq!(text.stdout, run.stdout);
    for args in [
        &["get", "app", "token"][..],
        &["get", "app", "token", "-o", "text"],
    ] {
        let run = env.run(&[&["secrets"][..], args].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, b"abc\xff", "{args:?}");
    }
}

#[cfg(unix)] // a POSIX shell pipeline
#[test]
fn a_script_decoding_get_secret_output_gets_the_exact_bytes() {
    let env = env_with_scope();
    let original = env.home().join("original.bin");
    std::fs::write(&original, all_byte_values()).expect("binary file written");
    env.run(&[
        "secrets",
        "put",
        "app",
        "blob",
        "--binary-file",
        "original.bin",
    ])
    .ok();
    // What Go CLI users pipe through `jq -r .value | base64 -d`, with tools every system has.
    let mut shell = env.command_with_binary_on_path("bash");
    shell.args([
        "-c",
        "set -o pipefail; databricks secrets get-secret app blob \
         | sed -n 's/^  \"value\": \"\\(.*\\)\"$/\\1/p' | base64 --decode > copy.bin",
    ]);
    let run = env.run_command(shell, b"");
    assert_eq!(run.ok(), "");
    let copy = std::fs::read(env.home().join("copy.bin")).expect("copy written");
    assert!(copy == all_byte_values(), "the decoded bytes differ");
}
