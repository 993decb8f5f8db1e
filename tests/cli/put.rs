//! `secrets put`: every value source reaches the server byte-exactly, in the spec's order, and
//! bad input (names, sizes, sources, profiles) is refused before any request is sent.

use std::path::PathBuf;

use crate::harness::{KEY, SCOPE, TestEnv, assert_error, assert_stored, env_with_scope};

const LIMIT: usize = 131_072;

/// Bytes no text decoder would keep: NUL, 0xFF, CRLF, a lone CR and trailing newlines.
const AWKWARD_BYTES: &[u8] = b"\0head\xff\xfe\r\nmiddle\rline\n\n\n";

#[track_caller]
fn assert_nothing_sent(env: &TestEnv) {
    let requests = env.api_requests();
    assert!(requests.is_empty(), "no request expected: {requests:?}");
    assert_eq!(env.emulator.secret_bytes(SCOPE, KEY), None);
}

/// `put --scope app --key db-password` followed by `extra`.
fn put_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["secrets", "put", "--scope", SCOPE, "--key", KEY];
    args.extend_from_slice(extra);
    args
}

fn write_file(env: &TestEnv, name: &str, bytes: &[u8]) -> PathBuf {
    let path = env.home().join(name);
    std::fs::write(&path, bytes).expect("value file written");
    path
}

#[test]
fn string_value_is_sent_verbatim_as_string_value() {
    let env = env_with_scope();
    let value = "  pa$$ word é\n\n";
    assert_eq!(env.run(&put_args(&["--string-value", value])).ok(), "");
    assert_stored(&env, value.as_bytes(), "string_value");
}

#[test]
fn an_empty_string_value_is_refused_and_nothing_sent() {
    let env = env_with_scope();
    let run = env.run_with_stdin(&put_args(&["--string-value", ""]), b"from stdin");
    assert_error(&run, 2, &["empty", "nothing was sent"]);
    assert_nothing_sent(&env);
}

#[test]
fn binary_file_round_trips_awkward_bytes_exactly() {
    let env = env_with_scope();
    let path = write_file(&env, "value.bin", AWKWARD_BYTES);
    let run = env.run(&put_args(&["--binary-file", path.to_str().unwrap()]));
    assert_eq!(run.ok(), "");
    assert_stored(&env, AWKWARD_BYTES, "bytes_value");

    let read_back = env.run(&["secrets", "get", SCOPE, KEY]);
    assert_eq!(read_back.code, 0, "{}", read_back.stderr);
    assert_eq!(read_back.stdout, AWKWARD_BYTES);
}

#[test]
fn binary_file_dash_reads_stdin_exactly() {
    let env = env_with_scope();
    let run = env.run_with_stdin(&put_args(&["--binary-file", "-"]), AWKWARD_BYTES);
    assert_eq!(run.ok(), "");
    assert_stored(&env, AWKWARD_BYTES, "bytes_value");
}

#[test]
fn bytes_value_sends_the_argument_bytes_as_bytes_value() {
    let env = env_with_scope();
    let value = "é=1 two words\n";
    assert_eq!(env.run(&put_args(&["--bytes-value", value])).ok(), "");
    assert_stored(&env, value.as_bytes(), "bytes_value");
}

#[test]
fn piped_utf8_stdin_keeps_its_trailing_newlines_and_is_sent_as_string_value() {
    let env = env_with_scope();
    let value = b"line one\r\nline two\n\n\n";
    assert_eq!(env.run_with_stdin(&put_args(&[]), value).ok(), "");
    assert_stored(&env, value, "string_value");
}

#[test]
fn piped_non_utf8_stdin_is_sent_as_bytes_value() {
    let env = env_with_scope();
    assert_eq!(env.run_with_stdin(&put_args(&[]), AWKWARD_BYTES).ok(), "");
    assert_stored(&env, AWKWARD_BYTES, "bytes_value");
}

#[test]
fn empty_piped_stdin_is_refused_and_nothing_sent() {
    let env = env_with_scope();
    let run = env.run_with_stdin(&put_args(&[]), b"");
    assert_error(&run, 2, &["empty", "nothing was sent"]);
    assert_nothing_sent(&env);
}

#[test]
fn a_value_option_wins_over_piped_stdin() {
    let env = env_with_scope();
    let path = write_file(&env, "value.bin", b"from the file");
    let cases: [(&[&str], &[u8], &str); 3] = [
        (
            &["--string-value", "from the option"],
            b"from the option",
            "string_value",
        ),
        (
            &["--binary-file", path.to_str().unwrap()],
            b"from the file",
            "bytes_value",
        ),
        (
            &["--bytes-value", "from bytes"],
            b"from bytes",
            "bytes_value",
        ),
    ];
    for (options, expected, field) in cases {
        env.emulator.clear_requests();
        let run = env.run_with_stdin(&put_args(options), b"piped value that must be ignored");
        assert_eq!(run.ok(), "", "{options:?}");
        assert_stored(&env, expected, field);
    }
}

#[test]
fn two_value_sources_are_a_usage_error_and_nothing_is_sent() {
    let env = env_with_scope();
    let path = write_file(&env, "value.bin", b"file value");
    let file = path.to_str().unwrap();
    let pairs: [&[&str]; 4] = [
        &["--string-value", "a", "--binary-file", file],
        &["--string-value", "a", "--bytes-value", "b"],
        &["--binary-file", file, "--bytes-value", "b"],
        &["--string-value", "", "--bytes-value", "b"],
    ];
    for options in pairs {
        let run = env.run(&put_args(options));
        run.fails_with(2);
        assert!(
            run.stderr.contains("--string-value") || run.stderr.contains("--binary-file"),
            "{options:?}: {}",
            run.stderr
        );
        assert_nothing_sent(&env);
    }
}

#[test]
fn invalid_scope_names_are_refused_before_any_request() {
    let env = env_with_scope();
    let too_long = "s".repeat(129);
    for scope in ["my scope", "app/other", "naïve", "a$b", too_long.as_str()] {
        let args = ["secrets", "put", "--scope", scope, "--key", KEY];
        let run = env.run_with_stdin(&args, b"value");
        assert_error(&run, 2, &["scope name", "128 characters"]);
        assert_nothing_sent(&env);
    }
    for blank in ["", "  "] {
        let run = env.run_with_stdin(
            &["secrets", "put", "--scope", blank, "--key", KEY],
            b"value",
        );
        assert_error(&run, 2, &["the scope is empty or blank"]);
        assert_nothing_sent(&env);
    }
    assert_nothing_sent(&env);
}

#[test]
fn invalid_key_names_are_refused_before_any_request() {
    let env = env_with_scope();
    let too_long = "k".repeat(129);
    for key in ["my key", "user@host", "a/b", "clé", too_long.as_str()] {
        let args = ["secrets", "put", "--scope", SCOPE, "--key", key];
        let run = env.run_with_stdin(&args, b"value");
        assert_error(&run, 2, &["key name", "128 characters"]);
        assert_nothing_sent(&env);
    }
    let run = env.run_with_stdin(&["secrets", "put", SCOPE, ""], b"value");
    assert_error(&run, 2, &["the key is empty or blank"]);
    assert_nothing_sent(&env);
}

#[test]
fn names_of_exactly_128_allowed_characters_are_accepted() {
    let env = TestEnv::new();
    let scope = format!("{}.-_@", "S".repeat(124));
    let key = format!("{}.-_", "k9".repeat(62) + "x");
    assert_eq!((scope.len(), key.len()), (128, 128));
    env.run(&["secrets", "create-scope", &scope]).ok();
    let run = env.run_with_stdin(&["secrets", "put", &scope, &key], b"v");
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.emulator.secret_bytes(&scope, &key).as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn a_value_of_exactly_the_limit_is_accepted_from_stdin_and_from_a_file() {
    let env = env_with_scope();
    let value = vec![b'x'; LIMIT];
    assert_eq!(env.run_with_stdin(&put_args(&[]), &value).ok(), "");
    assert_stored(&env, &value, "string_value");

    env.emulator.clear_requests();
    let mut binary = vec![0xffu8; LIMIT];
    binary[0] = 0;
    let path = write_file(&env, "limit.bin", &binary);
    let run = env.run(&put_args(&["--binary-file", path.to_str().unwrap()]));
    assert_eq!(run.ok(), "");
    assert_stored(&env, &binary, "bytes_value");
}

#[test]
fn a_value_one_byte_over_the_limit_is_refused_before_sending() {
    let env = env_with_scope();
    let value = vec![b'x'; LIMIT + 1];
    let path = write_file(&env, "over.bin", &value);
    let runs = [
        env.run_with_stdin(&put_args(&[]), &value),
        env.run_with_stdin(&put_args(&["--binary-file", "-"]), &value),
        env.run(&put_args(&["--binary-file", path.to_str().unwrap()])),
    ];
    for run in runs {
        assert_error(&run, 2, &["131072 bytes", "nothing was sent"]);
        assert_nothing_sent(&env);
    }
}

#[test]
fn an_unknown_profile_is_an_error_and_nothing_is_sent() {
    let env = env_with_scope();
    let mut args = put_args(&["--profile", "nope"]);
    args.extend(["--string-value", "value"]);
    let run = env.run(&args);
    assert_error(&run, 1, &["nope"]);
    assert!(
        run.stderr.contains("DEFAULT"),
        "lists the profiles: {}",
        run.stderr
    );
    assert_nothing_sent(&env);
}

#[test]
fn putting_into_a_missing_scope_is_resource_does_not_exist() {
    let env = TestEnv::new();
    let run = env.run_with_stdin(
        &["secrets", "put", "--scope", "nope", "--key", KEY],
        b"hunter2",
    );
    assert_error(
        &run,
        1,
        &["RESOURCE_DOES_NOT_EXIST", "Scope nope does not exist!"],
    );
    assert!(
        !run.stderr.contains("hunter2"),
        "value leaked: {}",
        run.stderr
    );
    let requests = env.api_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].status, Some(404));
}

#[test]
fn write_alias_put_secret_and_positional_forms_behave_like_put() {
    let forms: [&[&str]; 4] = [
        &["secrets", "write", "--scope", SCOPE, "--key", KEY],
        &["secrets", "put", SCOPE, KEY],
        &["secrets", "write", SCOPE, KEY],
        &["secrets", "put-secret", SCOPE, KEY],
    ];
    for form in forms {
        let env = env_with_scope();
        let run = env.run_with_stdin(form, b"same value\n");
        assert_eq!(run.ok(), "", "{form:?}");
        assert_stored(&env, b"same value\n", "string_value");
    }
}

#[test]
fn a_key_given_both_as_option_and_positionally_is_a_usage_error() {
    let env = env_with_scope();
    let run = env.run_with_stdin(&["secrets", "put", SCOPE, KEY, "--key", "other"], b"v");
    assert!(run.fails_with(2).contains("key"), "{}", run.stderr);
    assert_nothing_sent(&env);
}

#[test]
fn a_missing_binary_file_is_an_error_naming_the_path() {
    let env = env_with_scope();
    let path = env.home().join("no-such-dir").join("value.bin");
    let run = env.run(&put_args(&["--binary-file", path.to_str().unwrap()]));
    assert_error(&run, 1, &[path.to_str().unwrap()]);
    assert_nothing_sent(&env);
}

#[test]
fn a_directory_as_binary_file_is_an_error_naming_the_path() {
    let env = env_with_scope();
    let path = env.home().to_str().unwrap().to_string();
    let run = env.run(&put_args(&["--binary-file", &path]));
    assert_error(&run, 1, &[&path]);
    assert_nothing_sent(&env);
}
