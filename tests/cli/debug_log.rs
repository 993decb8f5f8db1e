//! `--debug`: every command logs its requests and answers to stderr, and neither the token nor
//! any secret value (nor their base64 forms) appears anywhere in what the user sees, except in
//! the stdout of `get` and `export`, which print values by design.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use databricks_emulator::{Config, Fault};

#[cfg(unix)]
use crate::harness::BINARY;
use crate::harness::{ADMIN, Run, TestEnv};

/// Every token and value below contains this, so one search finds any of them in clear.
const MARK: &str = "DBGLEAK";
const TOKEN: &str = "dapi-DBGLEAK-token-5c1e9a77";
const SCOPE: &str = "debug-scope";

const STRING_VALUE: &str = "sv-DBGLEAK-string-4471";
const BYTES_VALUE: &str = "bv-DBGLEAK-bytes-8823";
const BINARY_FILE_VALUE: &[u8] = b"\x00\xffbf-DBGLEAK-binary-3310\xfe";
const PIPED_VALUE: &str = "stdin-DBGLEAK-piped-6021\n";
const PIPED_BINARY_VALUE: &[u8] = b"\xfe\xffbin-stdin-DBGLEAK-7730";
const EDITOR_VALUE: &str = "ed-DBGLEAK-editor-1198";
const ENV_IMPORT_VALUE: &str = "imp-DBGLEAK-env-5501";
const JSON_IMPORT_VALUE: &str = "imp-DBGLEAK-json-2290";
const CONFIGURE_TOKEN: &str = "dapi-DBGLEAK-configure-3377";

/// What must never be shown: each secret in clear and base64-encoded, and the Basic
/// credentials as they travel in the Authorization header.
fn forbidden() -> Vec<String> {
    let secrets: [&[u8]; 10] = [
        TOKEN.as_bytes(),
        STRING_VALUE.as_bytes(),
        BYTES_VALUE.as_bytes(),
        BINARY_FILE_VALUE,
        PIPED_VALUE.as_bytes(),
        PIPED_BINARY_VALUE,
        EDITOR_VALUE.as_bytes(),
        ENV_IMPORT_VALUE.as_bytes(),
        JSON_IMPORT_VALUE.as_bytes(),
        CONFIGURE_TOKEN.as_bytes(),
    ];
    let mut forbidden = vec![MARK.to_owned(), BASE64.encode(format!("{ADMIN}:{TOKEN}"))];
    forbidden.extend(secrets.iter().map(|secret| BASE64.encode(secret)));
    forbidden
}

#[track_caller]
fn assert_nothing_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} shows {secret:?}:\n{text}");
    }
}

/// The emulator knows only `TOKEN` for its admin; the profile uses it.
fn debug_env() -> TestEnv {
    TestEnv::with_emulator(Config::default().with_token(TOKEN))
}

/// Runs a command with `--debug`, checks that it succeeded and that its stderr (and its stdout,
/// unless `prints_values`) holds no secret.
fn debug_run(env: &TestEnv, args: &[&str], stdin: &[u8], prints_values: bool) -> Run {
    let mut with_debug = vec!["--debug"];
    with_debug.extend_from_slice(args);
    let run = env.run_with_stdin(&with_debug, stdin);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    assert_nothing_secret(&format!("stderr of {args:?}"), run.stderr.as_bytes());
    if !prints_values {
        assert_nothing_secret(&format!("stdout of {args:?}"), &run.stdout);
    }
    run
}

/// The number `N` of a request line `> #N METHOD URL...`, and the rest of the line.
fn request_number<'a>(line: &'a str, method: &str) -> Option<(&'a str, &'a str)> {
    let (number, rest) = line.strip_prefix("> #")?.split_once(' ')?;
    let url = rest.strip_prefix(method)?.strip_prefix(' ')?;
    number.parse::<u32>().is_ok().then_some((number, url))
}

/// The request line `> #N METHOD URL`, its masked Authorization line `> #N Authorization: ...`,
/// and after them the answer to that same request, `< #N STATUS REASON (M ms)`.
#[track_caller]
fn assert_logged(env: &TestEnv, run: &Run, method: &str, path: &str) {
    let url = format!("{}{path}", env.url());
    let lines: Vec<&str> = run.stderr.lines().collect();
    let (at, number) = lines
        .iter()
        .enumerate()
        .find_map(|(at, line)| {
            request_number(line, method)
                .filter(|(_, rest)| rest.starts_with(&url))
                .map(|(number, _)| (at, number))
        })
        .unwrap_or_else(|| panic!("no `> #N {method} {url}` line in:\n{}", run.stderr));
    assert_eq!(
        lines.get(at + 1).copied(),
        Some(&*format!("> #{number} Authorization: Bearer ***"))
    );
    let answer_prefix = format!("< #{number} ");
    let answer = lines[at..]
        .iter()
        .find(|line| line.starts_with(&answer_prefix) && line.ends_with(" ms)"))
        .unwrap_or_else(|| panic!("no `{answer_prefix}` answer line in:\n{}", run.stderr));
    let (status, duration) = answer[answer_prefix.len()..]
        .split_once(" (")
        .expect("`< #N STATUS (M ms)`");
    assert!(status.starts_with("200 OK"), "{answer}");
    let milliseconds = duration.trim_end_matches(" ms)");
    assert!(milliseconds.parse::<u64>().is_ok(), "{answer}");
}

#[test]
fn every_secrets_command_logs_its_requests_and_masks_every_secret() {
    let env = debug_env();
    let binary_file = env.home().join("value.bin");
    std::fs::write(&binary_file, BINARY_FILE_VALUE).expect("binary file written");
    let binary_file = binary_file.display().to_string();
    let env_file = env.home().join("import.env");
    std::fs::write(&env_file, format!("ENV_KEY={ENV_IMPORT_VALUE}\n")).expect("env written");
    let env_file = env_file.display().to_string();
    let json_file = env.home().join("import.json");
    std::fs::write(
        &json_file,
        format!("{{\"JSON_KEY\": \"{JSON_IMPORT_VALUE}\"}}"),
    )
    .expect("json written");
    let json_file = json_file.display().to_string();

    let steps: [(&[&str], &[u8], &str, &str); 15] = [
        (
            &["secrets", "create-scope", SCOPE],
            b"",
            "POST",
            "/api/2.0/secrets/scopes/create",
        ),
        (
            &["secrets", "list-scopes"],
            b"",
            "GET",
            "/api/2.0/secrets/scopes/list",
        ),
        (
            &[
                "secrets",
                "put",
                SCOPE,
                "string",
                "--string-value",
                STRING_VALUE,
            ],
            b"",
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &[
                "secrets",
                "put",
                SCOPE,
                "bytes",
                "--bytes-value",
                BYTES_VALUE,
            ],
            b"",
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &[
                "secrets",
                "put",
                SCOPE,
                "file",
                "--binary-file",
                &binary_file,
            ],
            b"",
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &["secrets", "put", SCOPE, "piped"],
            PIPED_VALUE.as_bytes(),
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &[
                "secrets",
                "put",
                SCOPE,
                "piped-binary",
                "--binary-file",
                "-",
            ],
            PIPED_BINARY_VALUE,
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &["secrets", "import", SCOPE, &env_file],
            b"",
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &["secrets", "import", SCOPE, &json_file],
            b"",
            "POST",
            "/api/2.0/secrets/put",
        ),
        (
            &["secrets", "list", SCOPE],
            b"",
            "GET",
            "/api/2.0/secrets/list?scope=debug-scope",
        ),
        (
            &["secrets", "put-acl", SCOPE, "users", "READ"],
            b"",
            "POST",
            "/api/2.0/secrets/acls/put",
        ),
        (
            &["secrets", "get-acl", SCOPE, "users"],
            b"",
            "GET",
            "/api/2.0/secrets/acls/get?scope=debug-scope&principal=users",
        ),
        (
            &["secrets", "list-acls", SCOPE],
            b"",
            "GET",
            "/api/2.0/secrets/acls/list",
        ),
        (
            &["secrets", "delete-acl", SCOPE, "users"],
            b"",
            "POST",
            "/api/2.0/secrets/acls/delete",
        ),
        (
            &["secrets", "delete", SCOPE, "piped"],
            b"",
            "POST",
            "/api/2.0/secrets/delete",
        ),
    ];
    for (args, stdin, method, path) in steps {
        let run = debug_run(&env, args, stdin, false);
        assert_logged(&env, &run, method, path);
    }
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, "file").as_deref(),
        Some(BINARY_FILE_VALUE)
    );
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, "JSON_KEY").as_deref(),
        Some(JSON_IMPORT_VALUE.as_bytes())
    );

    // These print values on stdout by design: only their stderr must be clean.
    for key in ["string", "bytes", "file", "piped-binary", "ENV_KEY"] {
        let run = debug_run(&env, &["secrets", "get", SCOPE, key], b"", true);
        assert_logged(&env, &run, "GET", "/api/2.0/secrets/get");
        let answer = format!("< #1 {{\"key\":\"{key}\",\"value\":\"***\"}}\n");
        assert!(run.stderr.contains(&answer), "{}", run.stderr);
        assert_eq!(run.stdout, env.emulator.secret_bytes(SCOPE, key).unwrap());
    }
    let json = debug_run(
        &env,
        &["secrets", "get", SCOPE, "string", "-o", "json"],
        b"",
        true,
    );
    assert!(json.stdout().contains(&BASE64.encode(STRING_VALUE)));
    let export = debug_run(&env, &["secrets", "export", SCOPE], b"", true);
    assert_logged(&env, &export, "GET", "/api/2.0/secrets/list");
    assert_logged(&env, &export, "GET", "/api/2.0/secrets/get");
    assert!(export.stdout().contains(ENV_IMPORT_VALUE));

    let run = debug_run(&env, &["secrets", "delete-scope", SCOPE], b"", false);
    assert_logged(&env, &run, "POST", "/api/2.0/secrets/scopes/delete");
}

#[test]
fn failed_and_retried_requests_mask_secrets_too() {
    let env = debug_env();
    env.run(&["secrets", "create-scope", SCOPE]).ok();
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("0")
            .with_path("/api/2.0/secrets/put"),
    );
    let run = debug_run(
        &env,
        &["secrets", "put", SCOPE, "k", "--string-value", STRING_VALUE],
        b"",
        false,
    );
    assert!(
        run.stderr.contains("< #1 429 Too Many Requests ("),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("< #2 200 OK ("), "{}", run.stderr);
    let body = |number| {
        format!("> #{number} {{\"scope\":\"{SCOPE}\",\"key\":\"k\",\"string_value\":\"***\"}}\n")
    };
    for number in [1, 2] {
        assert_eq!(
            run.stderr.matches(&body(number)).count(),
            1,
            "{}",
            run.stderr
        );
    }

    let run = env.run(&[
        "--debug",
        "secrets",
        "put",
        "no-such-scope",
        "k",
        "--string-value",
        STRING_VALUE,
    ]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("< #1 404 Not Found ("), "{stderr}");
    assert!(stderr.contains("RESOURCE_DOES_NOT_EXIST"), "{stderr}");
    assert_nothing_secret("a failed put", stderr.as_bytes());
}

#[test]
fn basic_credentials_are_masked() {
    let env = debug_env();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {}\nusername = {ADMIN}\npassword = {TOKEN}\n",
        env.url()
    ));
    let run = debug_run(&env, &["secrets", "list-scopes"], b"", false);
    assert!(
        run.stderr.contains("> #1 Authorization: Basic ***\n"),
        "{}",
        run.stderr
    );
    // `--debug` after the subcommand works the same.
    let run = env.run(&["secrets", "list-scopes", "--debug"]);
    run.ok();
    assert!(
        run.stderr.contains("> #1 Authorization: Basic ***\n"),
        "{}",
        run.stderr
    );
    assert_nothing_secret("a trailing --debug", run.stderr.as_bytes());
}

#[cfg(unix)] // a shell-script editor on a pseudo-terminal (script)
#[test]
fn the_editor_source_masks_the_value() {
    let env = debug_env();
    env.run(&["secrets", "create-scope", SCOPE]).ok();
    let editor = env.home().join("editor.sh");
    std::fs::write(
        &editor,
        format!("#!/bin/sh\nsed -i.orig '1s/^/{EDITOR_VALUE}/' \"$1\"\n"),
    )
    .expect("editor written");
    let editor = editor.display().to_string();
    let run = env.run_in_terminal(
        &format!("{BINARY} --debug secrets put {SCOPE} edited"),
        &[("EDITOR", &format!("sh {editor}"))],
    );
    assert_eq!(run.code, 0, "{}", run.stdout());
    // The terminal mixes stdout and stderr: all of it is checked.
    assert_nothing_secret("the terminal", &run.stdout);
    assert!(run.stdout().contains("> #1 POST "), "{}", run.stdout());
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, "edited").as_deref(),
        Some(EDITOR_VALUE.as_bytes())
    );
}

#[test]
fn configure_with_debug_shows_no_token() {
    let env = debug_env();
    let token_file = env.home().join("token.txt");
    std::fs::write(&token_file, format!("{CONFIGURE_TOKEN}\n")).expect("token file written");
    let token_file = token_file.display().to_string();
    let host = env.url();
    debug_run(
        &env,
        &[
            "configure",
            "--token",
            "--host",
            &host,
            "--token-file",
            &token_file,
        ],
        b"",
        false,
    );
    debug_run(
        &env,
        &["configure", "--token", "--profile", "piped"],
        format!("{host}\n{CONFIGURE_TOKEN}\n").as_bytes(),
        false,
    );
    let config = env.read_config();
    assert_eq!(
        config
            .matches(&format!("token = {CONFIGURE_TOKEN}\n"))
            .count(),
        2,
        "{config}"
    );
}

/// The key a `GET .../secrets/get?scope=S&key=K` request line asks for.
fn requested_key(url: &str) -> Option<&str> {
    url.split_once("/api/2.0/secrets/get?")?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
}

#[test]
fn concurrent_requests_and_their_answers_share_a_number() {
    let env = debug_env();
    env.run(&["secrets", "create-scope", SCOPE]).ok();
    let keys: Vec<String> = (0..12).map(|index| format!("key-{index:02}")).collect();
    for key in &keys {
        env.run(&["secrets", "put", SCOPE, key, "--string-value", "v"])
            .ok();
    }
    let run = debug_run(
        &env,
        &["secrets", "export", SCOPE, "--concurrency", "6"],
        b"",
        true,
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    let mut asked = Vec::new();
    for line in &lines {
        let Some((number, url)) = request_number(line, "GET") else {
            continue;
        };
        let Some(key) = requested_key(url) else {
            continue;
        };
        let answer = format!("< #{number} {{\"key\":\"{key}\",\"value\":\"***\"}}");
        assert_eq!(
            lines.iter().filter(|line| **line == answer).count(),
            1,
            "`{answer}` once in:\n{}",
            run.stderr
        );
        let status = format!("< #{number} 200 OK (");
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.starts_with(&status))
                .count(),
            1,
            "{}",
            run.stderr
        );
        asked.push(key.to_owned());
    }
    asked.sort();
    assert_eq!(asked, keys);
    let mut numbers: Vec<&str> = lines
        .iter()
        .filter_map(|line| request_number(line, "GET").map(|(number, _)| number))
        .collect();
    let count = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), count, "each request has its own number");
}

#[test]
fn a_token_echoed_in_an_error_body_is_masked_in_the_error_and_the_log() {
    let env = debug_env();
    env.emulator.inject_fault(
        Fault::status(400)
            .with_error("BAD_REQUEST", format!("token {TOKEN} is malformed"))
            .with_path("/api/2.0/secrets/scopes/list"),
    );
    let run = env.run(&["--debug", "secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Error: BAD_REQUEST: token *** is malformed\n"),
        "{stderr}"
    );
    assert!(stderr.contains("token *** is malformed\"}"), "{stderr}");
    assert_nothing_secret("an echoed token", stderr.as_bytes());

    // A long page that an excerpt cuts inside the token: not even its start is shown.
    let page = format!(
        "<html><body>{} {TOKEN}</body></html>",
        "Sign in. ".repeat(21)
    );
    env.emulator
        .inject_fault(Fault::html(502, page).with_path("/api/2.0/secrets/scopes/list"));
    let run = env.run(&["--debug", "secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("HTTP 502"), "{stderr}");
    assert_nothing_secret("an echoed token in a page", stderr.as_bytes());
    assert!(!stderr.contains(&TOKEN[..7]), "{stderr}");
}
