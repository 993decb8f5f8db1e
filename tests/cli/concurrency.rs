//! Many `configure` processes on one config file at once: every read-modify-write holds the
//! file's lock (`<file>.lock`, an OS advisory lock), so no profile is lost, a profile holds one
//! writer's complete values, a held lock makes writers wait (then fail clearly), and a lock whose
//! holder was killed does not block anyone.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;
#[cfg(target_os = "linux")]
use std::time::Instant;

use databricks_emulator::Config;

use crate::harness::TestEnv;

/// Starts `configure --profile PROFILE --host HOST` with TOKEN on stdin.
fn spawn_configure(env: &TestEnv, profile: &str, host: &str, token: &str) -> Child {
    let mut child = env
        .command(&["configure", "--profile", profile, "--host", host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("configure starts");
    let mut stdin = child.stdin.take().expect("stdin piped");
    std::io::Write::write_all(&mut stdin, format!("{token}\n").as_bytes()).expect("token sent");
    child
}

#[track_caller]
fn assert_all_succeed(children: Vec<Child>) {
    for child in children {
        let output = child.wait_with_output().expect("configure ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
    }
}

fn host_of(writer: usize) -> String {
    format!("https://w{writer}.example.com")
}

/// Long, so that a torn or interleaved write would show.
fn token_of(writer: usize) -> String {
    format!("dapi{writer:04}{}", "f".repeat(4096))
}

#[test]
fn fifty_concurrent_writers_of_different_profiles_all_succeed_and_all_profiles_stay() {
    let env = TestEnv::new();
    let writers = 50;
    let children: Vec<Child> = (0..writers)
        .map(|writer| {
            spawn_configure(
                &env,
                &format!("p{writer}"),
                &host_of(writer),
                &token_of(writer),
            )
        })
        .collect();
    assert_all_succeed(children);
    let config = env.read_config();
    for writer in 0..writers {
        let profile = format!(
            "[p{writer}]\nhost = {}\ntoken = {}\n",
            host_of(writer),
            token_of(writer)
        );
        assert!(config.contains(&profile), "[p{writer}] lost");
    }
    // The profile the harness wrote is still there and works.
    env.run(&["secrets", "list-scopes"]).ok();
}

#[test]
fn concurrent_writers_of_one_profile_leave_one_writers_complete_values() {
    let env = TestEnv::without_profile(Config::default());
    let writers = 12;
    let children: Vec<Child> = (0..writers)
        .map(|writer| spawn_configure(&env, "shared", &host_of(writer), &token_of(writer)))
        .collect();
    assert_all_succeed(children);
    let config = env.read_config();
    let whole_results: Vec<String> = (0..writers)
        .map(|writer| {
            format!(
                "[shared]\nhost = {}\ntoken = {}\n",
                host_of(writer),
                token_of(writer)
            )
        })
        .collect();
    assert!(
        whole_results.contains(&config),
        "not one writer's values: {}",
        &config[..config.len().min(300)]
    );
}

/// A process that holds the lock on `lock_file` (with flock(1)) until it is killed.
#[cfg(target_os = "linux")]
struct LockHolder(Child);

#[cfg(target_os = "linux")]
impl LockHolder {
    fn start(lock_file: &std::path::Path) -> LockHolder {
        // `exec` twice: the process that holds the descriptor is the one that gets killed.
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 9>>\"$1\"; flock 9; exec sleep 600")
            .arg("sh")
            .arg(lock_file)
            .spawn()
            .expect("sh starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_free(lock_file) {
            assert!(Instant::now() < deadline, "the lock was never taken");
            std::thread::sleep(Duration::from_millis(10));
        }
        LockHolder(child)
    }

    fn kill(mut self) {
        self.0.kill().expect("holder killed");
        self.0.wait().expect("holder reaped");
    }
}

#[cfg(target_os = "linux")]
fn is_free(lock_file: &std::path::Path) -> bool {
    std::process::Command::new("flock")
        .args(["--nonblock", "--exclusive"])
        .arg(lock_file)
        .arg("true")
        .status()
        .expect("flock runs")
        .success()
}

fn lock_file(env: &TestEnv) -> PathBuf {
    env.home().join(".databrickscfg.lock")
}

#[cfg(target_os = "linux")] // flock(1) (util-linux) holds the lock
#[test]
fn a_lock_held_too_long_is_a_clear_error_and_nothing_is_written() {
    let env = TestEnv::new();
    let before = env.read_config();
    let holder = LockHolder::start(&lock_file(&env));
    let started = Instant::now();
    let run = env.run_with_stdin(
        &["configure", "--host", "https://blocked.example.com"],
        b"dapi-blocked\n",
    );
    let waited = started.elapsed();
    holder.kill();
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains(&lock_file(&env).display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("another process has held the lock"),
        "{stderr}"
    );
    assert!(stderr.contains("wait for the other"), "{stderr}");
    assert!(waited >= Duration::from_secs(9), "gave up after {waited:?}");
    assert_eq!(env.read_config(), before);
}

#[cfg(target_os = "linux")] // flock(1) (util-linux) holds the lock
#[test]
fn a_lock_whose_holder_was_killed_blocks_nobody() {
    let env = TestEnv::new();
    let holder = LockHolder::start(&lock_file(&env));
    holder.kill();
    assert!(lock_file(&env).exists(), "the lock file stays");
    let started = Instant::now();
    env.run_with_stdin(
        &[
            "configure",
            "--profile",
            "after",
            "--host",
            "https://a.example.com",
        ],
        b"dapi-after\n",
    )
    .ok();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        env.read_config()
            .contains("[after]\nhost = https://a.example.com\n")
    );
}

#[test]
fn a_writer_waits_for_the_lock_and_then_writes() {
    let env = TestEnv::new();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_file(&env))
        .expect("lock file");
    fs4::FileExt::lock(&lock).expect("locked");
    let child = spawn_configure(&env, "late", "https://late.example.com", "dapi-late");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !env.read_config().contains("[late]"),
        "written while the lock was held"
    );
    fs4::FileExt::unlock(&lock).expect("unlocked");
    assert_all_succeed(vec![child]);
    assert!(
        env.read_config()
            .contains("[late]\nhost = https://late.example.com\n")
    );
}
