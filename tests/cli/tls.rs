//! TLS trouble as a user meets it: a certificate from a private authority, trusted through
//! `SSL_CERT_FILE`, `SSL_CERT_DIR` or `REQUESTS_CA_BUNDLE` (hinted before `insecure`), and CA
//! variables that name nothing usable.

use crate::harness::{Run, SelfSignedServer, TestEnv};

/// Runs `list-scopes` with the host from the environment plus `vars`.
fn list_scopes_with(env: &TestEnv, host: &str, vars: &[(&str, &str)]) -> Run {
    let mut command = env.command(&["secrets", "list-scopes"]);
    command
        .env("DATABRICKS_HOST", host)
        .env("DATABRICKS_TOKEN", "dapi-tls-test");
    for (name, value) in vars {
        command.env(name, value);
    }
    env.run_command(command, b"")
}

/// The error line and the hint of a failed run.
#[track_caller]
fn error_and_hint(run: &Run) -> (&str, &str) {
    let stderr = run.fails_with(1);
    let (error, hint) = stderr.split_once("\nHint: ").expect("an error and a hint");
    (error, hint.trim_end())
}

#[track_caller]
fn assert_safe_fix_first(hint: &str, insecure: &str) {
    let trust = hint
        .find("SSL_CERT_FILE")
        .expect("SSL_CERT_FILE is suggested");
    let skip = hint.find(insecure).expect("insecure is mentioned");
    assert!(trust < skip, "the safe fix comes first: {hint}");
    assert!(
        hint.contains("SSL_CERT_DIR") && hint.contains("REQUESTS_CA_BUNDLE"),
        "{hint}"
    );
}

#[test]
fn an_untrusted_certificate_suggests_trusting_its_authority_before_insecure() {
    let server = SelfSignedServer::start();
    let env = TestEnv::without_profile(databricks_emulator::Config::default());
    env.write_config(&format!("[work]\nhost = {}\ntoken = t\n", server.url));
    let run = env.run(&["--profile", "work", "secrets", "list-scopes"]);
    let (error, hint) = error_and_hint(&run);
    assert!(
        error.starts_with(&format!(
            "Error: TLS with {} failed: invalid peer certificate",
            server.url
        )),
        "{error}"
    );
    assert!(
        hint.starts_with("check that the host of profile `work` is"),
        "{hint}"
    );
    assert_safe_fix_first(hint, "`insecure = true` in profile `work`");

    let run = list_scopes_with(&env, &server.url, &[]);
    let (_, hint) = error_and_hint(&run);
    assert!(hint.starts_with("check that DATABRICKS_HOST is"), "{hint}");
    assert_safe_fix_first(hint, "DATABRICKS_INSECURE=true");
    assert!(!hint.contains("profile"), "{hint}");
    assert_eq!(server.answered(), 0);
}

#[test]
fn ca_certificates_named_in_the_environment_are_trusted() {
    let server = SelfSignedServer::start();
    let env = TestEnv::without_profile(databricks_emulator::Config::default());
    let directory = server.certificate_directory();
    let certificate = directory.join("cert.pem");
    let certificate = certificate.to_str().expect("UTF-8");
    let directory = directory.to_str().expect("UTF-8");
    let settings = [
        ("SSL_CERT_FILE", certificate),
        ("SSL_CERT_DIR", directory),
        ("REQUESTS_CA_BUNDLE", certificate),
    ];
    for (answered, (name, value)) in settings.into_iter().enumerate() {
        let run = list_scopes_with(&env, &server.url, &[(name, value)]);
        assert!(run.ok().contains("behind-tls"), "{name}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{name}");
        assert_eq!(server.answered(), answered + 1);
    }
}

#[test]
fn a_ca_variable_naming_nothing_usable_is_reported_with_its_name() {
    let server = SelfSignedServer::start();
    let env = TestEnv::without_profile(databricks_emulator::Config::default());
    let missing = env.home().join("no-such-bundle.pem");
    let key_only = server.certificate_directory().join("key.pem");
    for (name, path) in [
        ("REQUESTS_CA_BUNDLE", missing.as_path()),
        ("SSL_CERT_FILE", key_only.as_path()),
    ] {
        let path = path.to_str().expect("UTF-8");
        let run = list_scopes_with(&env, &server.url, &[(name, path)]);
        let (error, hint) = error_and_hint(&run);
        assert!(
            error.starts_with(&format!("Error: cannot read CA certificates from {path}: ")),
            "{error}"
        );
        assert_eq!(
            hint,
            format!("{name} names it: point it at a PEM file of CA certificates, or unset it")
        );
    }
    assert_eq!(server.answered(), 0);
}
