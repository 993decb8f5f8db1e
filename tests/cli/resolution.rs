//! Which credentials a command uses: `--profile`, `DATABRICKS_CONFIG_PROFILE`, the environment,
//! `[DEFAULT]`, in that order; and every way that can go wrong. Two emulators with several
//! users tell apart which host and which user each call reached.

use databricks_emulator::{Config, Emulator};

use crate::harness::{ADMIN, ALICE, ALICE_TOKEN, Run, SelfSignedServer, TestEnv};

const BOB: &str = "bob@example.com";
const BOB_TOKEN: &str = "bob-token";

fn users() -> Config {
    Config::default()
        .with_user(ALICE, ALICE_TOKEN)
        .with_user(BOB, BOB_TOKEN)
}

/// The test's own emulator (`[DEFAULT]` = its admin, `[alice]` = Alice on it) and a second
/// emulator, `other`, that the environment variables point at.
struct Setup {
    env: TestEnv,
    other: Emulator,
}

impl Setup {
    fn new() -> Setup {
        let env = TestEnv::with_emulator(users());
        env.add_profile("alice", ALICE_TOKEN);
        Setup {
            env,
            other: Emulator::start(users()).expect("the second emulator starts"),
        }
    }

    /// `secrets list-scopes` with `args` inserted before it and `vars` in the environment.
    fn list_scopes(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        run_with_vars(
            &self.env,
            &[args, &["secrets", "list-scopes"]].concat(),
            vars,
        )
    }

    fn other_url(&self) -> String {
        self.other.url()
    }

    /// Asserts that exactly one API call reached `which` emulator, as `user`, and none the other.
    #[track_caller]
    fn assert_one_call(&self, which: Server, user: &str) {
        let (reached, untouched) = match which {
            Server::Profile => (self.env.emulator.requests(), self.other.requests()),
            Server::Environment => (self.other.requests(), self.env.emulator.requests()),
        };
        let users: Vec<_> = reached
            .iter()
            .map(|request| request.user.as_deref())
            .collect();
        assert_eq!(users, [Some(user)], "calls on the expected server");
        assert!(untouched.is_empty(), "the other server got {untouched:?}");
        self.env.emulator.clear_requests();
        self.other.clear_requests();
    }

    #[track_caller]
    fn assert_no_calls(&self) {
        assert!(self.env.emulator.requests().is_empty());
        assert!(self.other.requests().is_empty());
    }
}

#[derive(Clone, Copy, Debug)]
enum Server {
    /// The emulator the config file's profiles point at.
    Profile,
    /// The emulator `DATABRICKS_HOST` points at.
    Environment,
}

fn run_with_vars(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = env.command(args);
    command.envs(vars.iter().copied());
    env.run_command(command, b"")
}

#[test]
fn named_profile_then_environment_then_default() {
    let setup = Setup::new();
    let other = setup.other_url();
    let bob_env = [
        ("DATABRICKS_HOST", other.as_str()),
        ("DATABRICKS_TOKEN", BOB_TOKEN),
    ];
    let check = |args: &[&str], vars: &[(&str, &str)], server, user| {
        let run = setup.list_scopes(args, vars);
        assert_eq!(run.code, 0, "{args:?} {vars:?}: {}", run.stderr);
        setup.assert_one_call(server, user);
    };
    check(&[], &[], Server::Profile, ADMIN);
    check(&[], &bob_env, Server::Environment, BOB);
    check(&["--profile", "alice"], &bob_env, Server::Profile, ALICE);
    check(&["--profile", "DEFAULT"], &bob_env, Server::Profile, ADMIN);
    let alice_by_variable = [
        ("DATABRICKS_CONFIG_PROFILE", "alice"),
        bob_env[0],
        bob_env[1],
    ];
    // auth.md: a profile named by the variable keeps the SDKs' env-first precedence; only an
    // explicit --profile beats credentials in the environment.
    check(&[], &alice_by_variable, Server::Environment, BOB);
    check(&[], &alice_by_variable[..1], Server::Profile, ALICE);
    check(
        &["--profile", "DEFAULT"],
        &alice_by_variable,
        Server::Profile,
        ADMIN,
    );
    let empty = [
        ("DATABRICKS_HOST", ""),
        ("DATABRICKS_TOKEN", ""),
        ("DATABRICKS_CONFIG_PROFILE", ""),
    ];
    check(&[], &empty, Server::Profile, ADMIN);
}

#[test]
fn the_profile_option_counts_after_the_subcommand_too() {
    let setup = Setup::new();
    let run = run_with_vars(
        &setup.env,
        &["secrets", "list-scopes", "--profile", "alice"],
        &[],
    );
    run.ok();
    setup.assert_one_call(Server::Profile, ALICE);
    let run = run_with_vars(
        &setup.env,
        &["secrets", "--profile", "alice", "list-scopes"],
        &[],
    );
    run.ok();
    setup.assert_one_call(Server::Profile, ALICE);
}

#[test]
fn a_missing_half_of_the_environment_is_named_and_nothing_is_sent() {
    let setup = Setup::new();
    let other = setup.other_url();
    for (vars, missing) in [
        (
            vec![("DATABRICKS_HOST", other.as_str())],
            "DATABRICKS_TOKEN",
        ),
        (vec![("DATABRICKS_TOKEN", BOB_TOKEN)], "DATABRICKS_HOST"),
        (
            vec![
                ("DATABRICKS_HOST", other.as_str()),
                ("DATABRICKS_USERNAME", BOB),
            ],
            "DATABRICKS_PASSWORD",
        ),
    ] {
        let run = setup.list_scopes(&[], &vars);
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains(missing), "{vars:?}: {stderr}");
        assert!(!stderr.contains(BOB_TOKEN), "{stderr}");
        setup.assert_no_calls();
    }
}

#[test]
fn username_and_password_authenticate_with_basic() {
    let setup = Setup::new();
    let url = setup.env.url();
    let basic_profiles = format!(
        "\n[basic]\nhost = {url}\nusername = {ALICE}\npassword = {ALICE_TOKEN}\n\
         \n[token-wins]\nhost = {url}\nusername = {ALICE}\npassword = {ALICE_TOKEN}\ntoken = {BOB_TOKEN}\n\
         \n[wrong-user]\nhost = {url}\nusername = {BOB}\npassword = {ALICE_TOKEN}\n"
    );
    let config = setup.env.read_config() + &basic_profiles;
    setup.env.write_config(&config);

    setup.list_scopes(&["--profile", "basic"], &[]).ok();
    setup.assert_one_call(Server::Profile, ALICE);
    // auth.md: a token with a user name and password is two methods, refused as the SDKs do.
    let run = setup.list_scopes(&["--profile", "token-wins"], &[]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("more than one authorization method configured: basic and pat"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(ALICE_TOKEN) && !stderr.contains(BOB_TOKEN),
        "{stderr}"
    );
    setup.assert_no_calls();

    let other = setup.other_url();
    let basic_env = [
        ("DATABRICKS_HOST", other.as_str()),
        ("DATABRICKS_USERNAME", BOB),
        ("DATABRICKS_PASSWORD", BOB_TOKEN),
    ];
    setup.list_scopes(&[], &basic_env).ok();
    setup.assert_one_call(Server::Environment, BOB);

    // Bob's name with Alice's token: the user name is really sent, and the server refuses it.
    let run = setup.list_scopes(&["--profile", "wrong-user"], &[]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(!stderr.contains(ALICE_TOKEN), "{stderr}");
}

#[test]
fn profiles_do_not_inherit_from_default() {
    let setup = Setup::new();
    let url = setup.env.url();
    let config = setup.env.read_config()
        + &format!("\n[host-only]\nhost = {url}\n\n[token-only]\ntoken = {ALICE_TOKEN}\n");
    setup.env.write_config(&config);
    let path = setup.env.config_path();
    let path = path.to_str().expect("UTF-8 path");
    for (profile, missing) in [("host-only", "token"), ("token-only", "host")] {
        let run = setup.list_scopes(&["--profile", profile], &[]);
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains(&format!("`{profile}`")), "{stderr}");
        assert!(stderr.contains(&format!("has no {missing}")), "{stderr}");
        assert!(stderr.contains(path), "names the file: {stderr}");
        assert!(
            stderr.contains(&format!("databricks configure --token --profile {profile}")),
            "says how to fix it: {stderr}"
        );
        setup.assert_no_calls();
    }
}

#[test]
fn key_names_are_case_insensitive_and_hosts_are_normalised() {
    let setup = Setup::new();
    let url = setup.env.url();
    let config = setup.env.read_config()
        + &format!("\n[shouting]\nHOST = {url}/some/path/?o=1\nToKeN = {ALICE_TOKEN}\n");
    setup.env.write_config(&config);
    setup.list_scopes(&["--profile", "shouting"], &[]).ok();
    setup.assert_one_call(Server::Profile, ALICE);
    assert!(
        setup
            .env
            .read_config()
            .ends_with("?o=1\nToKeN = alice-token\n"),
        "unchanged"
    );
}

#[test]
fn an_unknown_profile_names_the_file_and_lists_the_profiles() {
    let setup = Setup::new();
    let other = setup.other_url();
    let path = setup.env.config_path();
    let vars = [
        ("DATABRICKS_HOST", other.as_str()),
        ("DATABRICKS_TOKEN", BOB_TOKEN),
    ];
    for (args, vars) in [
        (&["--profile", "prod"][..], &[][..]),
        (&[][..], &[("DATABRICKS_CONFIG_PROFILE", "prod")][..]),
        // A named profile is never replaced by the environment.
        (&["--profile", "prod"][..], &vars[..]),
    ] {
        let run = setup.list_scopes(args, vars);
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains("`prod`"), "{stderr}");
        assert!(stderr.contains(path.to_str().expect("UTF-8")), "{stderr}");
        assert!(
            stderr.contains("DEFAULT, alice"),
            "lists the profiles: {stderr}"
        );
        assert!(
            stderr.contains("databricks configure --token --profile prod"),
            "{stderr}"
        );
        setup.assert_no_calls();
    }
}

#[test]
fn nothing_configured_says_how_to_configure() {
    let env = TestEnv::without_profile(Config::default());
    let with_other_profile_only = "[dev]\nhost = https://dev.example.com\ntoken = t\n";
    for config in [
        None,
        Some("# just a comment\n"),
        Some(with_other_profile_only),
    ] {
        if let Some(text) = config {
            env.write_config(text);
        }
        let stderr = env
            .run(&["secrets", "list-scopes"])
            .fails_with(1)
            .to_string();
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains("databricks configure --token"), "{stderr}");
        assert!(stderr.contains("DATABRICKS_HOST"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    assert!(env.emulator.requests().is_empty());
}

#[test]
fn a_named_profile_without_a_config_file_names_the_missing_file() {
    let env = TestEnv::without_profile(Config::default());
    let stderr = env
        .run(&["--profile", "dev", "secrets", "list-scopes"])
        .fails_with(1)
        .to_string();
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("`dev`"), "{stderr}");
    let path = env.config_path();
    assert!(stderr.contains(path.to_str().expect("UTF-8")), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(
        stderr.contains("databricks configure --token --profile dev"),
        "{stderr}"
    );

    let elsewhere = env.home().join("missing.cfg");
    let mut command = env.command(&["secrets", "list-scopes", "--profile", "dev"]);
    command.env("DATABRICKS_CONFIG_FILE", &elsewhere);
    let run = env.run_command(command, b"");
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains(elsewhere.to_str().expect("UTF-8")),
        "{stderr}"
    );
    assert!(env.emulator.requests().is_empty());
}

#[test]
fn the_config_file_variable_chooses_the_file() {
    let setup = Setup::new();
    let elsewhere = setup.env.home().join("team.cfg");
    std::fs::write(
        &elsewhere,
        format!(
            "[DEFAULT]\nhost = {}\ntoken = {BOB_TOKEN}\n",
            setup.other_url()
        ),
    )
    .expect("written");
    let path = elsewhere.to_str().expect("UTF-8");
    setup
        .list_scopes(&[], &[("DATABRICKS_CONFIG_FILE", path)])
        .ok();
    setup.assert_one_call(Server::Environment, BOB);
}

#[test]
fn insecure_is_true_only_for_true_1_and_yes() {
    let server = SelfSignedServer::start();
    let env = TestEnv::without_profile(Config::default());
    let values = ["true", "TRUE", "1", "Yes", "false", "0", "no", "on"];
    let mut config = format!("[verified]\nhost = {}\ntoken = t\n", server.url);
    for value in values {
        let host = &server.url;
        config.push_str(&format!(
            "\n[{value}]\nhost = {host}\ntoken = t\ninsecure = {value}\n"
        ));
    }
    env.write_config(&config);

    let run = env.run(&["secrets", "list-scopes", "--profile", "verified"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains(&server.url), "names the host: {stderr}");
    assert!(
        stderr.contains("insecure = true"),
        "says how to skip checks: {stderr}"
    );
    assert_eq!(server.answered(), 0);

    for value in values {
        let run = env.run(&["secrets", "list-scopes", "--profile", value]);
        let skips_verification = ["true", "1", "yes"].contains(&value.to_lowercase().as_str());
        if skips_verification {
            assert!(run.ok().contains("behind-tls"), "insecure = {value}");
        } else {
            run.fails_with(1);
        }
    }
    assert_eq!(server.answered(), 4);

    for (value, works) in [("YES", true), ("1", true), ("off", false)] {
        let vars = [
            ("DATABRICKS_HOST", server.url.as_str()),
            ("DATABRICKS_TOKEN", "t"),
            ("DATABRICKS_INSECURE", value),
        ];
        let run = run_with_vars(&env, &["secrets", "list-scopes"], &vars);
        assert_eq!(
            run.code == 0,
            works,
            "DATABRICKS_INSECURE={value}: {}",
            run.stderr
        );
    }
    assert_eq!(server.answered(), 6);
}

#[test]
fn every_command_without_certificate_checks_says_so_once_and_names_the_setting() {
    let server = SelfSignedServer::start();
    let env = TestEnv::without_profile(Config::default());
    let host = &server.url;
    env.write_config(&format!(
        "[skip]\nhost = {host}\ntoken = t\ninsecure = yes\n\n[verify]\nhost = {host}\n\
         token = t\ninsecure = false\n"
    ));
    let run = env.run(&["secrets", "list-scopes", "--profile", "skip"]);
    assert!(run.ok().contains("behind-tls"));
    let path = env.config_path().display().to_string();
    assert_eq!(
        run.stderr,
        format!(
            "Warning: TLS certificates of {host} are not verified (`insecure` in profile `skip` \
             in {path}); remove that setting to verify them\n"
        )
    );

    let vars = [
        ("DATABRICKS_HOST", host.as_str()),
        ("DATABRICKS_TOKEN", "t"),
        ("DATABRICKS_INSECURE", "true"),
    ];
    let run = run_with_vars(&env, &["secrets", "list-scopes"], &vars);
    assert!(run.ok().contains("behind-tls"));
    assert_eq!(run.stderr.matches("Warning").count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("are not verified (DATABRICKS_INSECURE)"),
        "{}",
        run.stderr
    );

    let run = env.run(&["secrets", "list-scopes", "--profile", "verify"]);
    assert!(!run.stderr.contains("not verified"), "{}", run.stderr);
}

#[test]
fn a_host_with_a_password_in_the_file_or_environment_is_refused_without_showing_it() {
    let env = TestEnv::new();
    env.write_config("[p]\nhost = https://me:hunter2@h.example.com\ntoken = t\n");
    let run = env.run(&["secrets", "list-scopes", "--profile", "p"]);
    let stderr = run.fails_with(1);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.contains("`https://h.example.com`"), "{stderr}");

    let vars = [
        ("DATABRICKS_HOST", "https://me:hunter2@h.example.com"),
        ("DATABRICKS_TOKEN", "t"),
    ];
    let stderr = run_with_vars(&env, &["secrets", "list-scopes"], &vars)
        .fails_with(1)
        .to_string();
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.contains("DATABRICKS_HOST"), "{stderr}");
    assert!(env.api_requests().is_empty());
}
