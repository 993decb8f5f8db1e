//! Man pages, one per command (`databricks.1`, `databricks-secrets.1`,
//! `databricks-secrets-put.1`, …), generated from the clap tree.
//!
//! A test writes them, so the shipped binary carries neither a generator nor a hidden command:
//! `DATABRICKS_SECRETS_MAN_DIR=DIR cargo test --locked --bin databricks cli::man::` writes them
//! into DIR (`scripts/release.sh` does so for the release archives); without the variable they
//! go to a temporary directory. Either way the test then checks them.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::Cli;

/// Where the test writes the pages instead of a temporary directory.
const OUT_DIR_VARIABLE: &str = "DATABRICKS_SECRETS_MAN_DIR";

fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(man_command(), dir)
}

/// The command tree with pages named after the binary (`databricks-secrets-put.1`), not after the
/// product name that `--version` prints.
fn man_command() -> clap::Command {
    Cli::command().display_name("databricks")
}

#[test]
fn every_command_has_a_page_naming_its_options() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = std::env::var_os(OUT_DIR_VARIABLE)
        .map_or_else(|| scratch.path().to_path_buf(), PathBuf::from);
    write_man_pages(&dir).unwrap();

    // As clap_mangen does: `help` is a subcommand on the terminal, not a page.
    let mut root = man_command().disable_help_subcommand(true);
    root.build();
    let commands = visible_commands(&root);
    let page_name = |command: &clap::Command| {
        let name = command.get_display_name().unwrap_or(command.get_name());
        format!("{name}.1")
    };
    let mut expected: Vec<String> = commands.iter().map(|command| page_name(command)).collect();
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected);

    for command in commands {
        let file = page_name(command);
        let page = plain_text(&std::fs::read_to_string(dir.join(&file)).unwrap());
        assert!(page.starts_with(".ie"), "{file} is not a roff page");
        for option in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
            if let Some(long) = option.get_long() {
                assert!(page.contains(&format!("--{long}")), "{file} lacks --{long}");
            }
        }
        for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            let subcommand_page = page_name(subcommand);
            let reference = subcommand_page.replace(".1", "(1)");
            assert!(page.contains(&reference), "{file} lacks {reference}");
        }
    }
}

#[test]
fn pages_cover_the_global_options_and_value_sources() {
    let dir = tempfile::tempdir().unwrap();
    write_man_pages(dir.path()).unwrap();
    let page = |name: &str| plain_text(&std::fs::read_to_string(dir.path().join(name)).unwrap());
    let put = page("databricks-secrets-put.1");
    for option in [
        "--scope",
        "--key",
        "--string-value",
        "--binary-file",
        "--profile",
    ] {
        assert!(
            put.contains(option),
            "databricks-secrets-put.1 lacks {option}"
        );
    }
    assert!(page("databricks.1").contains("--debug"));
    assert!(page("databricks-configure.1").contains("--token"));
}

/// The command and all its descendants that `--help` shows.
fn visible_commands(command: &clap::Command) -> Vec<&clap::Command> {
    let mut commands = vec![command];
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        commands.extend(visible_commands(subcommand));
    }
    commands
}

/// The page's text with roff's escaped hyphens and font changes removed.
fn plain_text(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
}
