//! Reliability: retries (throttling, lost connections), the retry budget, `Retry-After`,
//! timeouts, redirects and answers that are not API answers, through the binary against the
//! emulator's fault injection. Budgets, delays and timeouts are kept small through the profile
//! keys `retry_timeout_seconds` and `http_timeout_seconds`; durations are asserted loosely.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use databricks_emulator::{Fault, LoggedRequest};

use crate::harness::{Run, TestEnv};

const LIST_SCOPES: &str = "/api/2.0/secrets/scopes/list";
const CREATE_SCOPE: &str = "/api/2.0/secrets/scopes/create";

/// An emulator and a `[DEFAULT]` profile for it with extra `settings` lines.
fn env_with_settings(settings: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {}\ntoken = {}\n{settings}",
        env.url(),
        env.emulator.admin_token()
    ));
    env
}

/// A profile for `host` with the emulator's admin token and extra `settings` lines.
fn point_profile_at(env: &TestEnv, host: &str, settings: &str) {
    env.write_config(&format!(
        "[DEFAULT]\nhost = {host}\ntoken = {}\n{settings}",
        env.emulator.admin_token()
    ));
}

fn timed_run(env: &TestEnv, args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let run = env.run(args);
    (run, started.elapsed())
}

fn retry_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("Retrying "))
        .collect()
}

/// The wait announced by a line like `Retrying GET /path in 1.2s (attempt 2): reason`.
fn announced_wait(line: &str) -> f64 {
    let after = line.split(" in ").nth(1).expect("the line names a wait");
    let seconds = after.split('s').next().expect("seconds");
    seconds.parse().expect("a number of seconds")
}

fn requests_to(env: &TestEnv, path: &str) -> Vec<LoggedRequest> {
    env.api_requests()
        .into_iter()
        .filter(|request| request.path == path)
        .collect()
}

/// `(fault, status)` of each request to `path`, in order.
fn attempts_to(env: &TestEnv, path: &str) -> Vec<(bool, Option<u16>)> {
    requests_to(env, path)
        .iter()
        .map(|request| (request.fault, request.status))
        .collect()
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

#[track_caller]
fn assert_between(elapsed: Duration, low: f64, high: f64) {
    let seconds = elapsed.as_secs_f64();
    assert!(
        (low..high).contains(&seconds),
        "took {seconds:.2} s, expected between {low} and {high} s"
    );
}

#[track_caller]
fn assert_clear_error(stderr: &str) {
    let first_not_a_retry = stderr.lines().find(|line| !line.starts_with("Retrying "));
    assert!(
        first_not_a_retry.is_some_and(|line| line.starts_with("Error: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

/// An error reporting an answer that is not an API answer, with its status and `shown`, and a
/// hint to check the host where it is set.
#[track_caller]
fn assert_not_an_api_answer(stderr: &str, status: u16, shown: &str) {
    assert_clear_error(stderr);
    assert!(
        stderr.contains(&format!("the server answered HTTP {status} with")),
        "{stderr}"
    );
    assert!(stderr.contains(shown), "{stderr}");
    assert!(
        stderr.contains("\nHint: ") && stderr.contains("check the host of profile `DEFAULT`"),
        "{stderr}"
    );
}

/// `databricks secrets ARGS...`'s arguments.
fn secrets<'a>(args: &[&'a str]) -> Vec<&'a str> {
    ["secrets"].iter().chain(args).copied().collect()
}

/// `list-scopes` with the emulator's admin token and `host` from the environment.
fn list_scopes_at_environment_host(env: &TestEnv, host: &str) -> Run {
    let mut command = env.command(&["secrets", "list-scopes"]);
    command
        .env("DATABRICKS_HOST", host)
        .env("DATABRICKS_TOKEN", env.emulator.admin_token());
    env.run_command(command, b"")
}

#[test]
fn retry_after_in_seconds_is_honoured() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("2")
            .with_path(LIST_SCOPES),
    );
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    assert!(run.ok().contains("team"));
    let retries = retry_lines(&run.stderr);
    assert_eq!(retries.len(), 1, "{}", run.stderr);
    assert_eq!(
        retries[0],
        "Retrying GET /api/2.0/secrets/scopes/list in 2.0s (attempt 2): 429 REQUEST_LIMIT_EXCEEDED"
    );
    // Longer than any first backoff (at most 1.25 s): the header decided the wait.
    assert_between(elapsed, 1.9, 4.0);
    assert_eq!(
        attempts_to(&env, LIST_SCOPES),
        [(true, Some(429)), (false, Some(200))]
    );
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let env = TestEnv::new();
    // HTTP dates have whole seconds: "now + 3 s" rounded down is still more than 2 s away.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    env.emulator.inject_fault(
        Fault::status(503)
            .with_retry_after(date)
            .with_path(LIST_SCOPES),
    );
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    run.ok();
    let retries = retry_lines(&run.stderr);
    assert_eq!(retries.len(), 1, "{}", run.stderr);
    assert!(
        retries[0].ends_with("(attempt 2): 503 TEMPORARILY_UNAVAILABLE"),
        "{}",
        retries[0]
    );
    let wait = announced_wait(retries[0]);
    assert!((1.8..=3.0).contains(&wait), "{}", retries[0]);
    assert_between(elapsed, 1.8, 4.5);
    assert_eq!(
        attempts_to(&env, LIST_SCOPES),
        [(true, Some(503)), (false, Some(200))]
    );
}

#[test]
fn throttling_without_retry_after_backs_off_about_a_second_with_jitter() {
    let env = TestEnv::new();
    env.emulator
        .inject_fault(Fault::status(503).with_path(LIST_SCOPES));
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    run.ok();
    let retries = retry_lines(&run.stderr);
    assert_eq!(retries.len(), 1, "{}", run.stderr);
    let wait = announced_wait(retries[0]);
    assert!((0.7..=1.3).contains(&wait), "{}", retries[0]);
    assert_between(elapsed, 0.7, 2.5);
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 2);
}

#[test]
fn rate_limit_error_codes_are_retried_whatever_the_status() {
    let env = TestEnv::new();
    for (status, code) in [(400, "REQUEST_LIMIT_EXCEEDED"), (500, "RESOURCE_EXHAUSTED")] {
        env.emulator.inject_fault(
            Fault::status(status)
                .with_error(code, "slow down")
                .with_retry_after("0")
                .with_path(LIST_SCOPES),
        );
    }
    // A load balancer's HTML 503 is throttling too.
    env.emulator.inject_fault(
        Fault::html(503, "<html><body>Service Unavailable</body></html>")
            .with_retry_after("0")
            .with_path(LIST_SCOPES),
    );
    let run = env.run(&["secrets", "list-scopes"]);
    run.ok();
    let reasons: Vec<&str> = retry_lines(&run.stderr)
        .iter()
        .map(|line| line.split("): ").nth(1).expect("a reason"))
        .collect();
    assert_eq!(
        reasons,
        [
            "400 REQUEST_LIMIT_EXCEEDED",
            "500 RESOURCE_EXHAUSTED",
            "HTTP 503"
        ]
    );
    assert_eq!(
        attempts_to(&env, LIST_SCOPES),
        [
            (true, Some(400)),
            (true, Some(500)),
            (true, Some(503)),
            (false, Some(200))
        ]
    );
}

#[test]
fn other_client_errors_and_server_errors_are_not_retried() {
    let env = TestEnv::new();
    let cases = [
        (400, "BAD_REQUEST"),
        (404, "NOT_FOUND"),
        (409, "RESOURCE_CONFLICT"),
        (500, "INTERNAL_ERROR"),
        (504, "DEADLINE_EXCEEDED"),
    ];
    for (status, code) in cases {
        env.emulator.clear_requests();
        // Even an answer that carries Retry-After is final when its status is not throttling.
        env.emulator.inject_fault(
            Fault::status(status)
                .with_error(code, "no luck")
                .with_retry_after("0")
                .with_path(LIST_SCOPES),
        );
        let run = env.run(&["secrets", "list-scopes"]);
        let stderr = run.fails_with(1);
        assert_clear_error(stderr);
        assert!(stderr.contains(&format!("{code}: no luck")), "{stderr}");
        assert!(retry_lines(stderr).is_empty(), "{stderr}");
        assert_eq!(attempts_to(&env, LIST_SCOPES), [(true, Some(status))]);
    }
}

/// Each command (run after `team` exists) and one API path it calls.
fn every_call(env: &TestEnv) -> Vec<(Vec<String>, &'static str)> {
    let import_file = env.home().join("import.env");
    std::fs::write(&import_file, "IMPORTED=value\n").expect("import file written");
    let import_file = import_file.display().to_string();
    let commands: [(&[&str], &str); 14] = [
        (&["create-scope", "other"], CREATE_SCOPE),
        (&["list-scopes"], LIST_SCOPES),
        (
            &["put", "team", "k", "--string-value", "v"],
            "/api/2.0/secrets/put",
        ),
        (&["list", "team"], "/api/2.0/secrets/list"),
        (&["get", "team", "k"], "/api/2.0/secrets/get"),
        (
            &["put-acl", "team", "users", "READ"],
            "/api/2.0/secrets/acls/put",
        ),
        (&["get-acl", "team", "users"], "/api/2.0/secrets/acls/get"),
        (&["list-acls", "team"], "/api/2.0/secrets/acls/list"),
        (
            &["delete-acl", "team", "users"],
            "/api/2.0/secrets/acls/delete",
        ),
        (&["import", "team", &import_file], "/api/2.0/secrets/put"),
        (&["export", "team"], "/api/2.0/secrets/list"),
        (&["export", "team"], "/api/2.0/secrets/get"),
        (&["delete", "team", "k"], "/api/2.0/secrets/delete"),
        (&["delete-scope", "other"], "/api/2.0/secrets/scopes/delete"),
    ];
    commands
        .iter()
        .map(|(args, path)| {
            let args = ["secrets"]
                .iter()
                .chain(args.iter())
                .map(|arg| arg.to_string())
                .collect();
            (args, *path)
        })
        .collect()
}

#[test]
fn every_call_is_retried_when_throttled() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    for (args, path) in every_call(&env) {
        env.emulator.clear_requests();
        env.emulator
            .inject_fault(Fault::status(429).with_retry_after("0").with_path(path));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.run(&args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let retries = retry_lines(&run.stderr);
        assert_eq!(retries.len(), 1, "{args:?}: {}", run.stderr);
        assert!(retries[0].contains(path), "{args:?}: {}", retries[0]);
        // export gets its secrets concurrently: the retried request need not be logged first.
        let (faulted, handled): (Vec<_>, Vec<_>) = attempts_to(&env, path)
            .into_iter()
            .partition(|(fault, _)| *fault);
        assert_eq!(faulted, [(true, Some(429))], "{args:?}");
        assert!(!handled.is_empty(), "{args:?}");
        assert!(
            handled.iter().all(|(_, status)| *status == Some(200)),
            "{args:?}"
        );
        assert!(env.emulator.pending_faults().is_empty());
    }
}

#[test]
fn the_retry_budget_stops_the_retries() {
    let env = env_with_settings("retry_timeout_seconds = 2\n");
    env.emulator
        .inject_fault(Fault::status(503).with_count(50).with_path(LIST_SCOPES));
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    assert!(stderr.contains("TEMPORARILY_UNAVAILABLE"), "{stderr}");
    // The first backoff is 0.75-1.25 s and the second at least 1.5 s: only one fits in 2 s.
    assert_eq!(retry_lines(stderr).len(), 1, "{stderr}");
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 2);
    assert_between(elapsed, 0.7, 2.5);
}

#[test]
fn a_retry_after_beyond_the_budget_fails_at_once() {
    let env = env_with_settings("retry_timeout_seconds = 2\n");
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("30")
            .with_path(LIST_SCOPES),
    );
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    let (error, hint) = stderr.split_once('\n').expect("an error and a hint");
    assert!(
        error.starts_with(
            "Error: rate limited (REQUEST_LIMIT_EXCEEDED: Injected by the emulator): the server \
             asked to wait 30 s before retrying, longer than the "
        ),
        "{stderr}"
    );
    // What was left of the budget is a little under 2 s.
    assert!(
        error.ends_with(" s left of the 2 s retry budget"),
        "{stderr}"
    );
    assert_eq!(
        hint,
        "Hint: try again later, or let retries wait longer with `retry_timeout_seconds` in \
         profile `DEFAULT`\n"
    );
    assert!(retry_lines(stderr).is_empty(), "{stderr}");
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 1);
    assert_between(elapsed, 0.0, 1.5);
}

#[test]
fn a_retry_after_beyond_what_is_left_of_the_budget_says_so() {
    let env = env_with_settings("retry_timeout_seconds = 3\n");
    env.emulator.inject_fault(
        Fault::status(503)
            .with_retry_after("1")
            .with_path(LIST_SCOPES),
    );
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("2")
            .with_path(LIST_SCOPES),
    );
    let run = env.run(&["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_eq!(retry_lines(stderr).len(), 1, "{stderr}");
    let error = stderr
        .lines()
        .find(|line| line.starts_with("Error: "))
        .expect("an error line");
    assert!(
        error.starts_with(
            "Error: rate limited (REQUEST_LIMIT_EXCEEDED: Injected by the emulator): the server \
             asked to wait 2 s before retrying, longer than the 1."
        ),
        "{stderr}"
    );
    assert!(
        error.ends_with(" s left of the 3 s retry budget"),
        "{stderr}"
    );
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 2);
}

#[test]
fn throttling_with_the_host_from_the_environment_suggests_waiting() {
    let env = TestEnv::new();
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("900")
            .with_path(LIST_SCOPES),
    );
    let run = list_scopes_at_environment_host(&env, &env.url());
    let stderr = run.fails_with(1);
    assert!(stderr.contains("asked to wait 900 s"), "{stderr}");
    assert!(
        stderr.contains(" left of the 300 s retry budget\nHint: try again later\n"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_times_out() {
    let env = TestEnv::new();
    // The kernel completes the handshake for the listen backlog; nobody ever reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let host = format!("http://{}", silent.local_addr().expect("its address"));
    point_profile_at(&env, &host, "http_timeout_seconds = 1\n");
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    assert!(
        stderr.contains(&format!(
            "Error: no answer from {host}{LIST_SCOPES} in time\nHint: the server may be slow or \
             unreachable; raise `http_timeout_seconds` in profile `DEFAULT` to wait longer\n"
        )),
        "{stderr}"
    );
    assert_between(elapsed, 0.9, 3.0);
}

#[test]
fn a_slow_answer_times_out_and_a_fast_enough_one_succeeds() {
    let env = env_with_settings("http_timeout_seconds = 1\n");
    env.emulator
        .inject_fault(Fault::delay(Duration::from_millis(300)).with_path(LIST_SCOPES));
    env.run(&["secrets", "list-scopes"]).ok();

    env.emulator
        .inject_fault(Fault::delay(Duration::from_secs(5)).with_path(LIST_SCOPES));
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("no answer from"), "{stderr}");
    assert_between(elapsed, 0.9, 3.0);
}

#[test]
fn a_refused_connection_is_retried_three_times_and_fails_within_ten_seconds() {
    let env = TestEnv::new();
    let host = format!("http://127.0.0.1:{}", closed_port());
    point_profile_at(&env, &host, "");
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    assert!(
        stderr.contains(&format!(
            "Error: cannot connect to {host}: connection refused\nHint: check the host of profile \
             `DEFAULT` and your network\n"
        )),
        "{stderr}"
    );
    let retries = retry_lines(stderr);
    assert_eq!(retries.len(), 3, "{stderr}");
    assert!(retries[2].contains("(attempt 4)"), "{stderr}");
    assert_between(elapsed, 2.5, 10.0);
}

/// With the host from the environment, the hints name `DATABRICKS_HOST`, not a profile.
#[test]
fn hints_for_a_host_from_the_environment_name_the_variable() {
    let env = TestEnv::new();
    let host = format!("http://127.0.0.1:{}", closed_port());
    let run = list_scopes_at_environment_host(&env, &host);
    let stderr = run.fails_with(1);
    assert!(
        stderr.ends_with(&format!(
            "Error: cannot connect to {host}: connection refused\n\
             Hint: check DATABRICKS_HOST and your network\n"
        )),
        "{stderr}"
    );

    env.emulator
        .inject_fault(Fault::redirect("https://login.example.com/"));
    let run = list_scopes_at_environment_host(&env, &env.url());
    let stderr = run.fails_with(1);
    assert!(
        stderr.ends_with("(it leads to a login page); check DATABRICKS_HOST\n"),
        "{stderr}"
    );
}

#[test]
fn a_dropped_connection_is_retried() {
    let env = TestEnv::new();
    env.emulator
        .inject_fault(Fault::drop_connection().with_path(LIST_SCOPES));
    let run = env.run(&["secrets", "list-scopes"]);
    run.ok();
    assert_eq!(retry_lines(&run.stderr).len(), 1, "{}", run.stderr);
    assert_eq!(
        attempts_to(&env, LIST_SCOPES),
        [(true, None), (false, Some(200))]
    );
}

#[test]
fn a_server_that_is_not_http_is_named_as_such_at_once() {
    let env = TestEnv::new();
    for greeting in [ssh_banner as fn(TcpStream), binary_garbage] {
        let host = misbehaving_server(greeting);
        point_profile_at(&env, &host, "");
        let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
        let stderr = run.fails_with(1);
        assert_clear_error(stderr);
        let (error, hint) = stderr.split_once('\n').expect("an error and a hint");
        assert!(
            error.starts_with(&format!(
                "Error: the server at {host} is not an HTTP server: its answer could not be read \
                 as HTTP ("
            )),
            "{stderr}"
        );
        assert_eq!(
            hint,
            "Hint: check the host and port in the host of profile `DEFAULT`: another kind of \
             server (SSH, a database, a TLS server reached with http://) answered there\n"
        );
        assert_between(elapsed, 0.0, 2.0);
    }
}

#[test]
fn an_https_host_on_a_plain_http_server_is_named_as_such() {
    let env = TestEnv::new();
    let host = env.url().replace("http://", "https://");
    let run = list_scopes_at_environment_host(&env, &host);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with(&format!(
            "Error: the server at {host} does not speak TLS: received corrupt message"
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "Hint: check the port in DATABRICKS_HOST; a server that speaks plain HTTP (such as a \
             local test server) needs an http:// URL\n"
        ),
        "{stderr}"
    );
    assert!(retry_lines(stderr).is_empty(), "{stderr}");
    assert!(env.api_requests().is_empty());
}

/// What an SSH server says first.
fn ssh_banner(mut stream: TcpStream) {
    let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
}

fn binary_garbage(mut stream: TcpStream) {
    let _ = stream.write_all(&[0x00, 0x01, 0xfe, 0xff, b'\r', b'\n', b'\r', b'\n']);
}

/// A loopback server that reads each request and then treats the connection with `answer`.
fn misbehaving_server(answer: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let host = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            answer(stream);
        }
    });
    host
}

/// Closes with a reset (RST, through `SO_LINGER` 0) instead of an answer.
#[cfg(unix)]
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(result, 0, "SO_LINGER set");
}

/// Announces 100 bytes of JSON, sends a few, and closes.
fn truncate(mut stream: TcpStream) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"scopes\": [",
    );
}

/// A connection that breaks after the request went out is retried like a refused one, and the
/// error says that the connection was lost (not that it could not be made).
fn assert_lost_connection_retried_then_explained(answer: fn(TcpStream), detail: &str) {
    let env = TestEnv::new();
    let host = misbehaving_server(answer);
    // The connection retries wait 0.5 s then 1 s; the third wait (2 s) would pass the budget.
    point_profile_at(&env, &host, "retry_timeout_seconds = 2\n");
    let (run, elapsed) = timed_run(&env, &["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    assert!(
        stderr.contains(&format!(
            "Error: the connection to {host} was lost before a complete answer arrived \
             ({detail})\nHint: try again, and check your network or proxy if it keeps happening\n"
        )),
        "{stderr}"
    );
    let retries = retry_lines(stderr);
    assert_eq!(retries.len(), 2, "{stderr}");
    assert!(retries[0].ends_with(detail), "{stderr}");
    assert_between(elapsed, 1.4, 3.0);
}

#[cfg(unix)]
#[test]
fn a_reset_connection_is_retried_within_the_budget() {
    assert_lost_connection_retried_then_explained(reset, "connection reset by peer");
}

#[test]
fn a_truncated_answer_is_retried_within_the_budget() {
    assert_lost_connection_retried_then_explained(
        truncate,
        "end of file before message length reached",
    );
}

/// The emulator applies a fault before handling the request, so "the lost attempt created the
/// scope" is staged by creating the scope first: the client sees exactly what it would see if
/// its dropped or 503-answered attempt had been carried out.
#[test]
fn create_scope_after_an_attempt_with_unknown_outcome_accepts_already_exists() {
    let env = TestEnv::new();
    for (index, fault) in [
        Fault::drop_connection(),
        Fault::status(503).with_retry_after("0"),
    ]
    .into_iter()
    .enumerate()
    {
        let scope = format!("created-by-lost-attempt-{index}");
        env.run(&["secrets", "create-scope", &scope]).ok();
        env.emulator.clear_requests();
        env.emulator.inject_fault(fault.with_path(CREATE_SCOPE));
        let run = env.run(&["secrets", "create-scope", &scope]);
        assert_eq!(run.ok(), "");
        assert_eq!(retry_lines(&run.stderr).len(), 1, "{}", run.stderr);
        let statuses: Vec<Option<u16>> = requests_to(&env, CREATE_SCOPE)
            .iter()
            .map(|request| request.status)
            .collect();
        assert_eq!(
            statuses[1],
            Some(400),
            "the retry met RESOURCE_ALREADY_EXISTS"
        );
    }
}

/// The three deletes, and what to stage so that the thing they delete is already gone (as if
/// their lost first attempt had deleted it).
const DELETES: [(&[&str], &str); 3] = [
    (&["delete", "team", "gone-key"], "/api/2.0/secrets/delete"),
    (
        &["delete-scope", "gone-scope"],
        "/api/2.0/secrets/scopes/delete",
    ),
    (
        &["delete-acl", "team", "gone-user"],
        "/api/2.0/secrets/acls/delete",
    ),
];

/// As for create-scope above, "the lost attempt deleted it" is staged by its absence.
#[test]
fn a_delete_retried_after_an_unknown_outcome_accepts_does_not_exist() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    for (args, path) in DELETES {
        for fault in [
            Fault::drop_connection(),
            Fault::status(503).with_retry_after("0"),
        ] {
            env.emulator.clear_requests();
            env.emulator.inject_fault(fault.with_path(path));
            let args = secrets(args);
            let run = env.run(&args);
            assert_eq!(run.ok(), "", "{args:?}");
            assert_eq!(
                retry_lines(&run.stderr).len(),
                1,
                "{args:?}: {}",
                run.stderr
            );
            let statuses: Vec<Option<u16>> =
                requests_to(&env, path).iter().map(|r| r.status).collect();
            assert_eq!(
                statuses[1],
                Some(404),
                "{args:?}: the retry met RESOURCE_DOES_NOT_EXIST"
            );
        }
    }
}

#[test]
fn a_delete_of_nothing_still_fails_without_an_unknown_outcome() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    for (args, path) in DELETES {
        // A 429 says the request was not carried out: the retry's answer is the real one.
        env.emulator
            .inject_fault(Fault::status(429).with_retry_after("0").with_path(path));
        let args = secrets(args);
        let run = env.run(&args);
        let stderr = run.fails_with(1);
        assert!(
            stderr.contains("Error: RESOURCE_DOES_NOT_EXIST: "),
            "{args:?}: {stderr}"
        );
        assert_eq!(retry_lines(stderr).len(), 1, "{args:?}: {stderr}");
    }
}

/// The first delete is carried out after the client stopped waiting for it: its retry meets
/// RESOURCE_DOES_NOT_EXIST, which then means success.
#[test]
fn a_timed_out_delete_is_retried_once_and_its_lost_success_counted() {
    let env = env_with_settings("http_timeout_seconds = 1\n");
    env.run(&["secrets", "create-scope", "team"]).ok();
    env.run(&["secrets", "put", "team", "k", "--string-value", "v"])
        .ok();
    let delete = "/api/2.0/secrets/delete";
    env.emulator
        .inject_fault(Fault::delay(Duration::from_millis(1200)).with_path(delete));
    let (run, elapsed) = timed_run(&env, &["secrets", "delete", "team", "k"]);
    assert_eq!(run.ok(), "");
    let retries = retry_lines(&run.stderr);
    assert_eq!(retries.len(), 1, "{}", run.stderr);
    assert!(
        retries[0].starts_with("Retrying POST /api/2.0/secrets/delete in 0.5s (attempt 2): "),
        "{}",
        run.stderr
    );
    assert_eq!(env.emulator.secret_bytes("team", "k"), None);
    assert_eq!(
        attempts_to(&env, delete),
        [(true, Some(200)), (false, Some(404))],
        "the delayed first attempt deleted the secret, the retry found it gone"
    );
    assert_between(elapsed, 1.4, 4.0);

    // A change that times out twice fails, after one retry.
    env.emulator.inject_fault(
        Fault::delay(Duration::from_secs(3))
            .with_count(2)
            .with_path("/api/2.0/secrets/put"),
    );
    let (run, elapsed) = timed_run(
        &env,
        &["secrets", "put", "team", "k2", "--string-value", "v"],
    );
    let stderr = run.fails_with(1);
    assert!(stderr.contains("no answer from"), "{stderr}");
    assert_eq!(retry_lines(stderr).len(), 1, "{stderr}");
    assert_between(elapsed, 2.4, 5.0);
}

#[test]
fn create_scope_of_an_existing_scope_still_fails_after_a_429() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    let stderr = env
        .run(&["secrets", "create-scope", "team"])
        .fails_with(1)
        .to_owned();
    assert!(stderr.contains("RESOURCE_ALREADY_EXISTS"), "{stderr}");
    // A 429 says the request was not carried out: the retry's answer is the real one.
    env.emulator.inject_fault(
        Fault::status(429)
            .with_retry_after("0")
            .with_path(CREATE_SCOPE),
    );
    let run = env.run(&["secrets", "create-scope", "team"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("RESOURCE_ALREADY_EXISTS"), "{stderr}");
    assert_eq!(retry_lines(stderr).len(), 1, "{stderr}");
}

#[test]
fn an_html_502_from_a_gateway_is_a_clear_error() {
    let env = TestEnv::new();
    let page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>\
                <style>h1 { color: red }</style></head>\
                <body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>";
    env.emulator
        .inject_fault(Fault::html(502, page).with_path(LIST_SCOPES));
    let run = env.run(&["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_eq!(
        stderr,
        "Error: the server answered HTTP 502 with a body that is not an API answer: \
         \"502 Bad Gateway Bad Gateway The upstream server is unavailable.\"\n\
         Hint: a proxy, gateway or login page probably answered instead of the Databricks API; \
         check the host of profile `DEFAULT` and your network or proxy settings\n"
    );
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 1);
}

#[test]
fn a_redirect_to_a_login_page_is_explained_not_followed() {
    let env = TestEnv::new();
    // The login page is on the emulator itself: following the redirect would show in its log.
    let login = format!("{}/login?next=%2Fapi", env.url());
    env.emulator
        .inject_fault(Fault::redirect(&login).with_path(LIST_SCOPES));
    let run = env.run(&["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert_clear_error(stderr);
    assert!(
        stderr.contains(&format!("redirect (HTTP 302 to {login})")),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "\nHint: the host is probably not a workspace API URL (it leads to a login page); \
             check the host of profile `DEFAULT`\n"
        ),
        "{stderr}"
    );
    let paths: Vec<String> = env
        .emulator
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, [LIST_SCOPES]);
}

#[test]
fn answers_that_are_not_api_answers_are_clear_errors_on_any_status() {
    let env = TestEnv::new();
    let cases: [(u16, &str, &str); 8] = [
        (
            200,
            "<html><body>Welcome to nginx!</body></html>",
            "Welcome to nginx!",
        ),
        (200, "plain words", "plain words"),
        (200, "{\"scopes\": [{\"name\": ", "{\"scopes\": [{\"name\":"),
        (200, "{\"scopes\": 5}", "invalid type"),
        (404, "<html><h1>Not Found</h1></html>", "Not Found"),
        (400, "{\"error_code\": \"BAD", "{\"error_code\": \"BAD"),
        (500, "upstream connect error\r\n", "upstream connect error"),
        (502, "", "an empty body"),
    ];
    for (status, body, shown) in cases {
        env.emulator.clear_requests();
        env.emulator
            .inject_fault(Fault::html(status, body).with_path(LIST_SCOPES));
        let run = env.run(&["secrets", "list-scopes"]);
        let stderr = run.fails_with(1);
        assert_not_an_api_answer(stderr, status, shown);
        assert_eq!(stderr.lines().count(), 2, "an error and a hint: {stderr}");
        assert_eq!(requests_to(&env, LIST_SCOPES).len(), 1, "{status} {body:?}");
    }
}

/// Answers of a list call that are no list: `(status, content type, body, what the error shows)`.
const NOT_A_LIST: [(u16, &str, &str, &str); 5] = [
    (200, "application/json", "", "an empty body"),
    (200, "application/json", "[]", "\"[]\""),
    (200, "application/json", "null", "\"null\""),
    (
        200,
        "application/json",
        "[{\"name\": \"a\"}]",
        "[{\"name\":\"a\"}]",
    ),
    (201, "text/plain", "   ", "an empty body"),
];

#[test]
fn a_list_answer_that_is_not_a_json_object_is_an_error_not_an_empty_list() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "team"]).ok();
    env.run(&["secrets", "put", "team", "k", "--string-value", "v"])
        .ok();
    env.run(&["secrets", "put-acl", "team", "users", "READ"])
        .ok();
    let lists: [(&[&str], &str); 4] = [
        (&["list-scopes"], LIST_SCOPES),
        (&["list", "team"], "/api/2.0/secrets/list"),
        (&["list-acls", "team"], "/api/2.0/secrets/acls/list"),
        (&["export", "team"], "/api/2.0/secrets/list"),
    ];
    for (args, path) in lists {
        for (status, content_type, body, shown) in NOT_A_LIST {
            env.emulator.inject_fault(Fault {
                content_type: Some(content_type.to_owned()),
                ..Fault::html(status, body).with_path(path)
            });
            let args = secrets(args);
            let run = env.run(&args);
            assert_not_an_api_answer(run.fails_with(1), status, shown);
        }
        // A valid object without the list's key is an empty list, as the service sends it.
        env.emulator.inject_fault(Fault {
            content_type: Some("application/json".to_owned()),
            ..Fault::html(200, "{}").with_path(path)
        });
        let args = secrets(args);
        env.run(&args).ok();
    }
}

#[cfg(unix)] // a POSIX shell pipeline
#[test]
fn export_behind_a_broken_proxy_writes_no_backup() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "prod"]).ok();
    env.run(&["secrets", "put", "prod", "db", "--string-value", "hunter2"])
        .ok();
    env.emulator
        .inject_fault(Fault::html(200, "").with_path("/api/2.0/secrets/list"));
    let backup = env.home().join("backup.env");
    let mut command = env.command_with_binary_on_path("sh");
    command.args(["-c", "databricks secrets export prod > backup.env"]);
    let run = env.run_command(command, b"");
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with(
            "Error: the server answered HTTP 200 with an empty body\nHint: the host is probably \
             not a Databricks workspace API; check the host of profile `DEFAULT`\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&backup).expect("the redirect made the file"),
        b""
    );
}

/// Tests may only reach loopback, yet the warning is for hosts that are not loopback.
/// `0.0.0.0` is not a loopback address (`is_loopback_host` says no, rightly: it is how a URL
/// for "this machine's every interface" looks, which may well be reached over the network from
/// elsewhere), but on Linux connecting to it reaches the local host, so the emulator answers and
/// no packet leaves the machine. A `.invalid` name was rejected: resolving it may still send a
/// DNS query to a non-loopback resolver.
#[cfg(target_os = "linux")]
#[test]
fn a_token_sent_over_plain_http_to_a_non_loopback_host_gets_a_warning() {
    let env = TestEnv::new();
    let host = format!("http://0.0.0.0:{}", env.emulator.addr().port());
    point_profile_at(&env, &host, "");
    let run = env.run(&["secrets", "list-scopes"]);
    run.ok();
    assert_eq!(
        run.stderr,
        format!(
            "Warning: {host} uses plain http://, so the credentials travel unencrypted; use https://\n"
        )
    );
    assert_eq!(requests_to(&env, LIST_SCOPES).len(), 1);
}

#[test]
fn plain_http_to_loopback_gets_no_warning() {
    let env = TestEnv::new();
    for host in [env.url(), env.url().replace("127.0.0.1", "localhost")] {
        point_profile_at(&env, &host, "");
        let run = env.run(&["secrets", "list-scopes"]);
        run.ok();
        assert_eq!(run.stderr, "", "{host}");
    }
}

#[test]
fn configure_warns_about_a_plain_http_host_that_is_not_loopback() {
    let env = TestEnv::new();
    let run = env.run_with_stdin(
        &[
            "configure",
            "--token",
            "--host",
            "http://workspace.example.com",
        ],
        b"dapi-configure-token\n",
    );
    run.ok();
    assert!(
        run.stderr.contains(
            "Warning: http://workspace.example.com uses plain http://, so the credentials travel \
             unencrypted"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("dapi-configure-token"));
    assert!(
        env.read_config()
            .contains("host = http://workspace.example.com\n")
    );
}
