//! Parsing the command line, with the one check clap does not make.
//!
//! clap refuses an option with a value given twice at one level (`--profile a --profile b`),
//! but a global option given at two levels (`--profile a secrets list-scopes --profile b`)
//! silently takes the last value. Both are the same mistake, so both are usage errors.

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{Arg, Command, CommandFactory, FromArgMatches};

use super::Cli;

/// Parses the process's arguments; on a usage error prints it and exits with status 2.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

fn parse_from(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(&args)?;
    if let Some(option) = global_option_given_twice(&command, &args) {
        return Err(command.error(
            ErrorKind::ArgumentConflict,
            format!(
                "the argument '--{option}' cannot be used multiple times: give it once, before \
                 or after the command name"
            ),
        ));
    }
    Cli::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
}

/// The long name of a global option with a value that occurs more than once in `args` (the
/// program name first), which clap has already parsed without error. `root` must be built
/// (parsing builds it), so that every subcommand lists the global options too.
fn global_option_given_twice(root: &Command, args: &[OsString]) -> Option<String> {
    let mut command = root;
    let mut seen: Vec<&str> = Vec::new();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        // A word that is not UTF-8 is neither an option nor a subcommand: a value.
        let Some(word) = word.to_str() else { continue };
        if word == "--" {
            break;
        }
        match option_in(command, word) {
            Some((option, value_attached)) => {
                if !takes_value(option) {
                    continue;
                }
                if !value_attached {
                    words.next();
                }
                if option.is_global_set() {
                    let name = option.get_id().as_str();
                    if seen.contains(&name) {
                        return Some(option.get_long().unwrap_or(name).to_string());
                    }
                    seen.push(name);
                }
            }
            None => {
                if let Some(subcommand) = command.find_subcommand(word) {
                    command = subcommand;
                }
            }
        }
    }
    None
}

/// The value-taking option `word` gives in `command`, else its last flag, with whether the
/// value is in the same word (`--output=json`, `-ojson`); `None` for a positional word.
fn option_in<'a>(command: &'a Command, word: &str) -> Option<(&'a Arg, bool)> {
    if let Some(long) = word.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((name, _)) => (name, true),
            None => (long, false),
        };
        let option = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(name))?;
        return Some((option, value));
    }
    // A cluster of short options (`-o`, `-ojson`): flags, up to one that takes the rest as its
    // value. `-` alone is a positional argument (stdin).
    let shorts = word.strip_prefix('-').filter(|shorts| !shorts.is_empty())?;
    let mut last = None;
    for (offset, short) in shorts.char_indices() {
        let option = command
            .get_arguments()
            .find(|arg| arg.get_short() == Some(short))?;
        let rest_is_value = offset + short.len_utf8() < shorts.len();
        last = Some((option, rest_is_value));
        if takes_value(option) {
            break;
        }
    }
    last
}

fn takes_value(option: &Arg) -> bool {
    option.get_action().takes_values()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Format;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(
            std::iter::once("databricks")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[track_caller]
    fn assert_refused(args: &[&str], option: &str) {
        let error = parse(args).expect_err("a usage error");
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict, "{args:?}");
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(
            message.contains(&format!("'--{option}'")),
            "{args:?}: {message}"
        );
    }

    #[test]
    fn a_global_option_with_a_value_given_at_two_levels_is_refused() {
        assert_refused(
            &["--profile", "a", "secrets", "list-scopes", "--profile", "b"],
            "profile",
        );
        assert_refused(
            &["secrets", "--profile=a", "list-scopes", "--profile", "b"],
            "profile",
        );
        assert_refused(
            &["-o", "json", "secrets", "list-scopes", "--output=table"],
            "output",
        );
        assert_refused(&["-ojson", "secrets", "list", "s", "-o", "json"], "output");
        assert_refused(&["--output", "json", "version", "-o", "text"], "output");
    }

    #[test]
    fn a_global_option_given_once_anywhere_is_accepted() {
        for args in [
            &["--profile", "a", "secrets", "list-scopes"][..],
            &["secrets", "--profile", "a", "list-scopes", "-o", "json"],
            &["secrets", "list-scopes", "--profile", "a", "--output=json"],
            &["secrets", "list", "-ojson", "s", "--profile", "a"],
            // Flags may repeat across levels; only a second value would be ambiguous.
            &["--debug", "secrets", "list-scopes", "--debug"],
        ] {
            let cli = parse(args).unwrap_or_else(|error| panic!("{args:?}: {error}"));
            assert_eq!(
                cli.global.profile.as_deref(),
                Some("a").filter(|_| args.contains(&"a"))
            );
        }
    }

    #[test]
    fn values_that_look_like_options_are_not_counted() {
        let cli = parse(&[
            "--profile",
            "a",
            "secrets",
            "put",
            "s",
            "k",
            "--string-value=--profile",
        ])
        .expect("the value of --string-value is not an option");
        assert_eq!(cli.global.profile.as_deref(), Some("a"));
        let cli = parse(&["-o", "json", "secrets", "get", "--", "s", "-o"])
            .expect("after -- every word is positional");
        assert_eq!(cli.global.output, Some(Format::Json));
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_repeat_at_one_level_stays_clap_s_own_error() {
        let error = parse(&["secrets", "list-scopes", "-o", "json", "-o", "json"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
    }
}
