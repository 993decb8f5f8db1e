//! Config file robustness through the binary: malformed files, the variants Python's
//! configparser (the legacy CLI's reader) accepts, concurrent `configure` runs, symlinks, mode.
//!
//! What configparser does with each case was checked with Python 3.11
//! (`configparser.ConfigParser().read(path, encoding="utf-8")`):
//! - a setting before any header: `MissingSectionHeaderError` (line 1);
//! - bytes that are not UTF-8: `UnicodeDecodeError`; a NUL-garbage line without `=`:
//!   `ParsingError`;
//! - a key without `=` or `:`: `ParsingError` naming the line; `= v` (no key): `ParsingError`;
//! - a repeated section: `DuplicateSectionError`, but a repeated `[DEFAULT]` is merged;
//!   a repeated key (any case) in one section: `DuplicateOptionError`;
//! - CRLF and lone-CR line endings: read normally (universal newlines);
//! - `key: value` and upper-case key names: read normally;
//! - a UTF-8 BOM: `MissingSectionHeaderError` (`'\ufeff[DEFAULT]'`). Here the binary reads the
//!   file as `encoding="utf-8-sig"` would (BOM skipped): files saved by Windows Notepad work,
//!   and nothing that configparser reads is read differently.
//!
//! Every error case must exit 1 with `Error: <file>, line <n>: <problem>` and never show the
//! line's text (it may hold a token).

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};

#[cfg(unix)]
use crate::harness::file_mode;
use crate::harness::{TestEnv, read_config_text};

const TOKEN: &str = "dapi-config-files-token";

/// Names in `directory` that look like leftover temporary files (`<name>.tmpXXXXXX`; the
/// `<name>.lock` lock file stays by design).
fn leftovers(directory: &Path) -> Vec<String> {
    fs::read_dir(directory)
        .expect("directory readable")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains(".tmp"))
        .collect()
}

/// Writes `bytes` as the config file and checks that a secrets command and `configure` both
/// refuse it with `problem` on `line`, leaving it untouched.
#[track_caller]
fn assert_rejected(bytes: &[u8], line: usize, problem: &str) {
    let env = TestEnv::new();
    fs::write(env.config_path(), bytes).expect("config written");
    let expected = format!(
        "Error: {}, line {line}: {problem}; fix that line, or move the file away and run \
         `databricks configure`\n",
        env.config_path().display()
    );
    let run = env.run(&["secrets", "list-scopes"]);
    assert_eq!(
        run.fails_with(1),
        expected,
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
    let run = env.run_with_stdin(
        &["configure", "--token", "--host", "https://new.example.com"],
        b"dapi-new\n",
    );
    assert_eq!(run.fails_with(1), expected);
    assert_eq!(fs::read(env.config_path()).expect("config readable"), bytes);
    assert!(env.api_requests().is_empty());
}

#[test]
fn a_setting_before_any_section_header_is_an_error() {
    assert_rejected(
        format!("host = https://a.example.com\n[DEFAULT]\ntoken = {TOKEN}\n").as_bytes(),
        1,
        "missing section header: a setting appears before any `[profile]` line",
    );
}

#[test]
fn binary_garbage_is_an_error_naming_the_line() {
    assert_rejected(
        b"[DEFAULT]\nhost = https://a.example.com\n\x00\x01\x02garbage\x00\n",
        3,
        "it contains a NUL byte (is this a binary file?)",
    );
    assert_rejected(
        b"[DEFAULT]\nhost = https://a.example.com\ntoken = \xff\xfe\x9c\n",
        3,
        "the text is not valid UTF-8",
    );
}

#[test]
fn a_key_without_a_delimiter_is_an_error_that_does_not_show_the_line() {
    let text = format!("[DEFAULT]\nhost = https://a.example.com\n{TOKEN}\n");
    assert_rejected(
        text.as_bytes(),
        3,
        "expected `key = value`, `key: value` or a `[profile]` header",
    );
    assert_rejected(
        b"[DEFAULT]\n= https://a.example.com\n",
        2,
        "a setting has no key name before `=` or `:`",
    );
}

#[test]
fn duplicate_sections_and_keys_are_errors() {
    assert_rejected(
        b"[a]\nhost = https://a.example.com\n[b]\nhost = https://b.example.com\n[a]\ntoken = t\n",
        5,
        "duplicate section [a]",
    );
    assert_rejected(
        b"[a]\nhost = https://a.example.com\nHOST = https://b.example.com\n",
        3,
        "duplicate key `host` in section [a]",
    );
}

#[test]
fn a_repeated_default_section_is_merged_as_configparser_does() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {}\n\n[other]\nhost = https://other.example.com\ntoken = x\n\n\
         [DEFAULT]\ntoken = {}\n",
        env.url(),
        env.emulator.admin_token()
    ));
    env.run(&["secrets", "create-scope", "merged"]).ok();
    assert_eq!(env.emulator.scope_names(), ["merged"]);
}

#[test]
fn crlf_cr_colon_and_upper_case_keys_are_read_as_configparser_does() {
    let env = TestEnv::new();
    let (url, token) = (env.url(), env.emulator.admin_token());
    let variants = [
        format!("[DEFAULT]\r\nhost = {url}\r\ntoken = {token}\r\n"),
        format!("[DEFAULT]\rhost = {url}\rtoken = {token}\r"),
        format!("# comment\n; another\n[DEFAULT]\nHost: {url}\n  \nTOKEN :   {token}   \n"),
        format!("[DEFAULT]\nhost = {url}\ntoken = {token}"),
    ];
    for (index, text) in variants.iter().enumerate() {
        env.write_config(text);
        let scope = format!("variant-{index}");
        let run = env.run(&["secrets", "create-scope", &scope]);
        assert_eq!(run.code, 0, "{text:?}: {}", run.stderr);
    }
    assert_eq!(env.emulator.scope_names().len(), variants.len());
}

#[test]
fn a_utf8_bom_is_skipped_when_reading_and_kept_when_writing() {
    let env = TestEnv::new();
    let text = format!(
        "\u{feff}[DEFAULT]\r\nhost = {}\r\ntoken = {}\r\n",
        env.url(),
        env.emulator.admin_token()
    );
    env.write_config(&text);
    env.run(&["secrets", "create-scope", "bom"]).ok();
    let run = env.run_with_stdin(
        &[
            "configure",
            "--token",
            "--profile",
            "second",
            "--host",
            "https://b.example.com",
        ],
        b"dapi-second\n",
    );
    run.ok();
    assert_eq!(
        fs::read_to_string(env.config_path()).expect("config readable"),
        format!("{text}\r\n[second]\r\nhost = https://b.example.com\r\ntoken = dapi-second\r\n")
    );
}

#[test]
fn configure_keeps_crlf_line_endings_and_other_lines() {
    let env = TestEnv::new();
    env.write_config(
        "; team settings\r\n[DEFAULT]\r\nhost = https://old.example.com\r\ntoken = old\r\n\
         jobs-api-version = 2.1\r\n\r\n[other]\r\nhost = https://other.example.com\r\n",
    );
    let run = env.run_with_stdin(
        &["configure", "--token", "--host", "https://new.example.com"],
        b"dapi-new\n",
    );
    run.ok();
    assert_eq!(
        fs::read_to_string(env.config_path()).expect("config readable"),
        "; team settings\r\n[DEFAULT]\r\nhost = https://new.example.com\r\ntoken = dapi-new\r\n\
         jobs-api-version = 2.1\r\n\r\n[other]\r\nhost = https://other.example.com\r\n"
    );
}

/// The file both writers start from; `[other]` points at the emulator.
fn before_race(env: &TestEnv) -> String {
    format!(
        "# shared by two writers\n[DEFAULT]\nhost = https://old.example.com\ntoken = old\n\n\
         [other]\nhost = {}\ntoken = {}\n",
        env.url(),
        env.emulator.admin_token()
    )
}

/// The starting file as `configure --host HOST` with `token` leaves it.
fn after_configure(before: &str, host: &str, token: &str) -> String {
    before
        .replace("https://old.example.com", host)
        .replace("token = old", &format!("token = {token}"))
}

fn spawn_configure(env: &TestEnv, host: &str, token_file: &Path) -> Child {
    let token_file = token_file.display().to_string();
    env.command(&[
        "configure",
        "--token",
        "--host",
        host,
        "--token-file",
        &token_file,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("configure starts")
}

#[test]
fn concurrent_configure_runs_leave_one_whole_result() {
    let env = TestEnv::new();
    // Long tokens make a torn or interleaved write far more likely to show.
    let writers: Vec<(String, String)> = ["a", "b"]
        .iter()
        .map(|name| {
            let token = format!("dapi-{name}-{}", name.repeat(64 * 1024));
            (format!("https://{name}.example.com"), token)
        })
        .collect();
    let token_files: Vec<_> = writers
        .iter()
        .enumerate()
        .map(|(index, (_, token))| {
            let path = env.home().join(format!("token-{index}"));
            fs::write(&path, token).expect("token file written");
            path
        })
        .collect();
    let before = before_race(&env);
    let results: Vec<String> = writers
        .iter()
        .map(|(host, token)| after_configure(&before, host, token))
        .collect();
    for _ in 0..20 {
        env.write_config(&before);
        let children: Vec<Child> = writers
            .iter()
            .zip(&token_files)
            .map(|((host, _), token_file)| spawn_configure(&env, host, token_file))
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("configure ends");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{stderr}");
        }
        let config = env.read_config();
        assert!(
            results.contains(&config),
            "neither result: {}",
            &config[..config.len().min(500)]
        );
        assert!(
            leftovers(env.home()).is_empty(),
            "{:?}",
            leftovers(env.home())
        );
        // The binary itself reads the result.
        env.run(&["secrets", "list-scopes", "--profile", "other"])
            .ok();
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink_and_its_target_is_updated_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let dotfiles = env.home().join("dotfiles");
    fs::create_dir(&dotfiles).expect("dotfiles directory");
    let target = dotfiles.join("databrickscfg");
    fs::write(
        &target,
        "[DEFAULT]\nhost = https://old.example.com\ntoken = old\n",
    )
    .expect("target written");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).expect("loose mode");
    fs::remove_file(env.config_path()).expect("harness config removed");
    std::os::unix::fs::symlink("dotfiles/databrickscfg", env.config_path()).expect("symlink");

    let run = env.run_with_stdin(
        &["configure", "--token", "--host", &env.url()],
        format!("{}\n", env.emulator.admin_token()).as_bytes(),
    );
    run.ok();

    let link = fs::symlink_metadata(env.config_path()).expect("link metadata");
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(env.config_path()).expect("link"),
        Path::new("dotfiles/databrickscfg")
    );
    assert_eq!(
        fs::read_to_string(&target).expect("target readable"),
        format!(
            "[DEFAULT]\nhost = {}\ntoken = {}\n",
            env.url(),
            env.emulator.admin_token()
        )
    );
    assert_eq!(file_mode(&target), 0o600);
    assert!(leftovers(env.home()).is_empty());
    assert!(leftovers(&dotfiles).is_empty());
    // And the secrets commands read through the link.
    env.run(&["secrets", "create-scope", "through-link"]).ok();
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_gets_its_target_created() {
    let env = TestEnv::new();
    fs::remove_file(env.config_path()).expect("harness config removed");
    let target = env.home().join("elsewhere").join("cfg");
    fs::create_dir(target.parent().expect("parent")).expect("directory");
    std::os::unix::fs::symlink(&target, env.config_path()).expect("symlink");
    let run = env.run_with_stdin(
        &["configure", "--token", "--host", "https://a.example.com"],
        b"dapi-a\n",
    );
    run.ok();
    assert!(
        fs::symlink_metadata(env.config_path())
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        read_config_text(&target),
        "[DEFAULT]\nhost = https://a.example.com\ntoken = dapi-a\n"
    );
    assert_eq!(file_mode(&target), 0o600);
}

#[cfg(unix)]
#[test]
fn configure_creates_and_tightens_to_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    fs::set_permissions(env.config_path(), fs::Permissions::from_mode(0o664)).expect("chmod");
    env.run_with_stdin(
        &["configure", "--token", "--host", "https://a.example.com"],
        b"dapi-a\n",
    )
    .ok();
    assert_eq!(file_mode(&env.config_path()), 0o600);

    fs::remove_file(env.config_path()).expect("config removed");
    env.run_with_stdin(
        &["configure", "--token", "--host", "https://a.example.com"],
        b"dapi-a\n",
    )
    .ok();
    assert_eq!(file_mode(&env.config_path()), 0o600);
    assert!(leftovers(env.home()).is_empty());
}

#[test]
fn a_malformed_file_named_by_databricks_config_file_is_reported_with_its_path() {
    let env = TestEnv::new();
    let path = env.home().join("team.cfg");
    fs::write(&path, "[DEFAULT]\nhost\n").expect("config written");
    let path_text = path.display().to_string();
    let mut command = env.command(&["secrets", "list-scopes"]);
    command.env("DATABRICKS_CONFIG_FILE", &path_text);
    let run = env.run_command(command, b"");
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with(&format!(
            "Error: {path_text}, line 2: expected `key = value`"
        )),
        "{stderr}"
    );
}

/// Root passes every permission check, so these tests (which CI runs as root) make files and
/// directories read-only through their mode bits, which the binary honours for root too, and
/// change ownership only where root may.
#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
fn configure_dev(env: &TestEnv, config: &Path) -> crate::harness::Run {
    let mut command = env.command(&[
        "configure",
        "--profile",
        "dev",
        "--host",
        "https://dev.example.com",
    ]);
    command.env("DATABRICKS_CONFIG_FILE", config);
    env.run_command(command, b"dapi-dev\n")
}

#[cfg(unix)]
#[test]
fn a_read_only_config_file_is_refused_not_made_writable() {
    let env = TestEnv::new();
    let before = env.read_config();
    for read_only in [0o400, 0o444] {
        set_mode(&env.config_path(), read_only);
        let run = configure_dev(&env, &env.config_path());
        let stderr = run.fails_with(1);
        let path = env.config_path().display().to_string();
        assert!(
            stderr.starts_with(&format!("Error: the config file {path} is read-only;")),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("chmod u+w {path}")), "{stderr}");
        assert_eq!(env.read_config(), before);
        assert_eq!(file_mode(&env.config_path()), read_only);
    }
}

#[cfg(unix)]
#[test]
fn the_owner_and_group_are_kept_and_the_mode_is_never_looser_than_0600() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new();
    let is_root = fs::metadata(env.home()).expect("home").uid() == 0;
    // As root: another user's file stays theirs. Otherwise: our own user and group stay.
    let (uid, gid) = if is_root {
        (65534, 65534)
    } else {
        let metadata = fs::metadata(env.config_path()).expect("config");
        (metadata.uid(), metadata.gid())
    };
    std::os::unix::fs::chown(env.config_path(), Some(uid), Some(gid)).expect("chown");
    set_mode(&env.config_path(), 0o600);
    configure_dev(&env, &env.config_path()).ok();
    let metadata = fs::metadata(env.config_path()).expect("config");
    assert_eq!((metadata.uid(), metadata.gid()), (uid, gid));
    assert_eq!(file_mode(&env.config_path()), 0o600);
    assert!(
        env.read_config()
            .contains("[dev]\nhost = https://dev.example.com\n")
    );
    set_mode(&env.config_path(), 0o640);
    configure_dev(&env, &env.config_path()).ok();
    assert_eq!(file_mode(&env.config_path()), 0o600);
}

#[cfg(unix)]
#[test]
fn a_writable_file_in_a_read_only_directory_is_rewritten_in_place() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new();
    let directory = env.home().join("conf");
    fs::create_dir(&directory).expect("directory");
    let config = directory.join("team.cfg");
    fs::write(
        &config,
        "# team\n[DEFAULT]\nhost = https://a.example.com\ntoken = a\n",
    )
    .expect("written");
    set_mode(&config, 0o600);
    let inode = fs::metadata(&config).expect("config").ino();
    set_mode(&directory, 0o555);
    let run = configure_dev(&env, &config);
    set_mode(&directory, 0o755);
    run.ok();
    assert_eq!(fs::metadata(&config).expect("config").ino(), inode);
    assert_eq!(
        fs::read_to_string(&config).expect("config"),
        "# team\n[DEFAULT]\nhost = https://a.example.com\ntoken = a\n\n\
         [dev]\nhost = https://dev.example.com\ntoken = dapi-dev\n"
    );
    let names: Vec<_> = fs::read_dir(&directory)
        .expect("listed")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        ["team.cfg"],
        "nothing created in the read-only directory"
    );
}

#[cfg(unix)]
#[test]
fn the_temporary_file_is_named_after_the_config_file() {
    let env = TestEnv::new();
    let config = env.home().join("team.cfg");
    // Large, so that the temporary file lives long enough to be seen.
    let profiles: String = (0..20_000)
        .map(|index| {
            format!("[p{index}]\nhost = https://h{index}.example.com\ntoken = t{index}\n\n")
        })
        .collect();
    fs::write(&config, &profiles).expect("written");
    let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                for entry in fs::read_dir(env.home()).expect("listed").flatten() {
                    seen.lock().expect("names").insert(entry.file_name());
                }
            }
        });
        let seen_temporary = || seen.lock().expect("names").len() > 3;
        for _ in 0..5 {
            configure_dev(&env, &config).ok();
            if seen_temporary() {
                break;
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let seen = seen.into_inner().expect("names");
    let temporary: Vec<_> = seen
        .iter()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !["team.cfg", "team.cfg.lock", ".databrickscfg"].contains(&name.as_str()))
        .collect();
    assert!(
        !temporary.is_empty(),
        "no temporary file was seen: {seen:?}"
    );
    for name in &temporary {
        assert!(name.starts_with("team.cfg.tmp"), "{name}");
    }
    assert!(leftovers(env.home()).is_empty());
}

#[test]
fn a_leading_tilde_in_the_config_file_variable_means_home() {
    let env = TestEnv::new();
    fs::create_dir(env.home().join("conf")).expect("directory");
    let mut command = env.command(&["configure", "--host", &env.url()]);
    command.env("DATABRICKS_CONFIG_FILE", "~/conf/team.cfg");
    let token = format!("{}\n", env.emulator.admin_token());
    env.run_command(command, token.as_bytes()).ok();
    let written = read_config_text(&env.home().join("conf/team.cfg"));
    assert!(written.starts_with("[DEFAULT]\n"), "{written}");
    assert!(
        !env.home().join("~").exists(),
        "a directory named ~ was made"
    );
    fs::remove_file(env.config_path()).expect("the default file removed");
    let mut command = env.command(&["secrets", "create-scope", "via-tilde"]);
    command.env("DATABRICKS_CONFIG_FILE", "~/conf/team.cfg");
    env.run_command(command, b"").ok();
}

#[test]
fn a_config_file_of_200000_profiles_is_read_in_linear_time() {
    let env = TestEnv::new();
    let mut text = env.read_config();
    for index in 0..200_000 {
        text.push_str(&format!(
            "\n[p{index}]\nhost = https://h{index}.example.com\ntoken = dapi{index}\n"
        ));
    }
    text.push_str(&format!(
        "\n[last]\nhost = {}\ntoken = {}\n",
        env.url(),
        env.emulator.admin_token()
    ));
    env.write_config(&text);
    assert!(text.len() > 10_000_000);
    // A debug build on a busy machine; reading quadratically took minutes.
    let limit = std::time::Duration::from_secs(30);
    let mut child = env
        .command(&["secrets", "create-scope", "at-the-end", "--profile", "last"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waited") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("not done after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(env.api_requests().len(), 1);
}

/// The variable the Go CLI takes the home directory from (Go's `os.UserHomeDir`), and the one
/// it ignores.
const HOME_VARIABLE: &str = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
const IGNORED_HOME_VARIABLE: &str = if cfg!(windows) { "HOME" } else { "USERPROFILE" };

#[test]
fn the_config_file_is_found_in_userprofile_on_windows_and_in_home_elsewhere() {
    let env = TestEnv::new();
    let empty_home = tempfile::tempdir().expect("another home directory");

    let mut command = env.command(&["secrets", "list-scopes"]);
    command.env(IGNORED_HOME_VARIABLE, empty_home.path());
    env.run_command(command, b"").ok();
    env.emulator.clear_requests();

    let mut command = env.command(&["secrets", "list-scopes"]);
    command.env(HOME_VARIABLE, empty_home.path());
    let stderr = env.run_command(command, b"").fails_with(1).to_string();
    assert!(stderr.contains("databricks configure --token"), "{stderr}");
    assert_eq!(env.api_requests(), [], "nothing may be sent");
}

#[test]
fn an_empty_home_variable_is_an_error_naming_the_variables_to_set() {
    let env = TestEnv::new();
    let mut command = env.command(&["secrets", "list-scopes"]);
    command.env(HOME_VARIABLE, "");
    let stderr = env.run_command(command, b"").fails_with(1).to_string();
    assert!(
        stderr.starts_with("Error: cannot find the home directory to locate .databrickscfg"),
        "{stderr}"
    );
    assert!(stderr.contains("DATABRICKS_CONFIG_FILE"), "{stderr}");
}

/// A file `configure` creates has the platform's line endings, as the Go CLI writes it: `\r\n`
/// on Windows, `\n` elsewhere. (An existing file keeps its own.)
#[test]
fn a_new_config_file_has_the_line_endings_the_go_cli_writes() {
    let env = TestEnv::without_profile(Default::default());
    env.run_with_stdin(
        &["configure", "--host", "https://a.example.com"],
        b"dapi-a\n",
    )
    .ok();
    let newline = if cfg!(windows) { "\r\n" } else { "\n" };
    assert_eq!(
        fs::read_to_string(env.config_path()).expect("config readable"),
        format!("[DEFAULT]{newline}host = https://a.example.com{newline}token = dapi-a{newline}")
    );
}
