//! Parsing the command line, with what clap does not do: refusing a global option given at
//! two levels, and noting how the command was spelled, which picks the output dialect.
//!
//! clap refuses an option with a value given twice at one level (`--profile a --profile b`),
//! but a global option given at two levels (`--profile a secrets list-scopes --profile b`)
//! silently takes the last value. Both are the same mistake, so both are usage errors.

use std::ffi::{OsStr, OsString};

use clap::error::ErrorKind;
use clap::{Arg, Command, CommandFactory, FromArgMatches};

use super::{Cli, usage_error};
use crate::output::{Dialect, Format, Style};

/// Command names only the Go CLI has; spelling one picks its output dialect.
const GO_ONLY_NAMES: [&str; 4] = ["put-secret", "list-secrets", "delete-secret", "get-secret"];

/// The environment variable the Go CLI reads for its default output format.
pub const OUTPUT_FORMAT_VARIABLE: &str = "DATABRICKS_OUTPUT_FORMAT";

/// How the command line spelled what decides the output dialect.
#[derive(Debug, Clone, Default)]
pub struct Spelling {
    /// `-o` rather than `--output`.
    output_short: bool,
    /// `--output text` (any case) rather than `table` or `json`.
    output_text: bool,
    /// A command name only the Go CLI has.
    go_only_name: bool,
}

impl Spelling {
    /// The dialect and format. The Go CLI's dialect for a Go-only command name, `-o`,
    /// `--output text` or a non-empty `DATABRICKS_OUTPUT_FORMAT` (`environment`), else the
    /// legacy CLI's. The format is `option`'s (`--output`), else the variable's, else table.
    pub fn style(
        &self,
        option: Option<Format>,
        environment: Option<&OsStr>,
    ) -> anyhow::Result<Style> {
        let from_environment = environment
            .filter(|value| !value.is_empty())
            .map(format_from_environment)
            .transpose()?;
        let go = self.go_only_name
            || self.output_short
            || self.output_text
            || from_environment.is_some();
        Ok(Style {
            dialect: if go { Dialect::Go } else { Dialect::Legacy },
            format: option.or(from_environment).unwrap_or_default(),
        })
    }
}

fn format_from_environment(value: &OsStr) -> anyhow::Result<Format> {
    value
        .to_str()
        .and_then(|text| Format::parse(text).ok())
        .ok_or_else(|| {
            usage_error(format!(
                "{OUTPUT_FORMAT_VARIABLE}={}: accepted arguments are json and text (or table); \
                 set one of them, or unset the variable",
                value.to_string_lossy()
            ))
        })
}

/// Parses the process's arguments; on a usage error prints it and exits with status 2.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

fn parse_from(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(&args)?;
    let (repeated, spelling) = {
        let words = words(&command, &args);
        (global_option_given_twice(&words), spelling(&words))
    };
    if let Some(option) = repeated {
        return Err(command.error(
            ErrorKind::ArgumentConflict,
            format!(
                "the argument '--{option}' cannot be used multiple times: give it once, before \
                 or after the command name"
            ),
        ));
    }
    let mut cli = Cli::from_arg_matches(&matches).map_err(|error| error.format(&mut command))?;
    cli.global.spelling = spelling;
    Ok(cli)
}

/// A word of the command line that clap read as an option with a value or a subcommand name.
enum Word<'a> {
    Valued {
        option: &'a Arg,
        short: bool,
        value: Option<&'a str>,
    },
    Subcommand(&'a str),
}

/// The options with values and the subcommand names of `args` (the program name first),
/// which clap has already parsed without error. `root` must be built (parsing builds it), so
/// that every subcommand lists the global options too.
fn words<'a>(root: &'a Command, args: &'a [OsString]) -> Vec<Word<'a>> {
    let mut command = root;
    let mut found = Vec::new();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        // A word that is not UTF-8 is neither an option nor a subcommand: a value.
        let Some(word) = word.to_str() else { continue };
        if word == "--" {
            break;
        }
        match option_in(command, word) {
            Some((option, attached)) => {
                if !takes_value(option) {
                    continue;
                }
                let value = match attached {
                    Some(value) => Some(value),
                    None => words.next().and_then(|value| value.to_str()),
                };
                let short = !word.starts_with("--");
                found.push(Word::Valued {
                    option,
                    short,
                    value,
                });
            }
            None => {
                if let Some(subcommand) = command.find_subcommand(word) {
                    command = subcommand;
                    found.push(Word::Subcommand(word));
                }
            }
        }
    }
    found
}

/// The long name of a global option with a value given more than once.
fn global_option_given_twice(words: &[Word]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for word in words {
        let Word::Valued { option, .. } = word else {
            continue;
        };
        if option.is_global_set() {
            let name = option.get_id().as_str();
            if seen.contains(&name) {
                return Some(option.get_long().unwrap_or(name).to_string());
            }
            seen.push(name);
        }
    }
    None
}

fn spelling(words: &[Word]) -> Spelling {
    let mut spelling = Spelling::default();
    for word in words {
        match word {
            Word::Valued {
                option,
                short,
                value,
            } if option.get_id() == "output" => {
                spelling.output_short = *short;
                spelling.output_text =
                    value.is_some_and(|value| value.eq_ignore_ascii_case("text"));
            }
            Word::Subcommand(name) if GO_ONLY_NAMES.contains(name) => spelling.go_only_name = true,
            _ => {}
        }
    }
    spelling
}

/// The value-taking option `word` gives in `command`, else its last flag, with the value when
/// it is in the same word (`--output=json`, `-ojson`); `None` for a positional word.
fn option_in<'a, 'w>(command: &'a Command, word: &'w str) -> Option<(&'a Arg, Option<&'w str>)> {
    if let Some(long) = word.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (long, None),
        };
        let option = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(name))?;
        return Some((option, value));
    }
    // A cluster of short options (`-o`, `-ojson`, `-o=json`): flags, up to one that takes the
    // rest as its value. `-` alone is a positional argument (stdin).
    let shorts = word.strip_prefix('-').filter(|shorts| !shorts.is_empty())?;
    let mut last = None;
    for (offset, short) in shorts.char_indices() {
        let option = command
            .get_arguments()
            .find(|arg| arg.get_short() == Some(short))?;
        let rest = &shorts[offset + short.len_utf8()..];
        let value = (!rest.is_empty()).then(|| rest.strip_prefix('=').unwrap_or(rest));
        last = Some((option, value));
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

    #[track_caller]
    fn style(args: &[&str], environment: Option<&str>) -> Style {
        let cli = parse(args).unwrap_or_else(|error| panic!("{args:?}: {error}"));
        cli.global
            .spelling
            .style(cli.global.output, environment.map(OsStr::new))
            .unwrap_or_else(|error| panic!("{args:?}: {error}"))
    }

    const LEGACY_TABLE: Style = Style {
        dialect: Dialect::Legacy,
        format: Format::Table,
    };
    const LEGACY_JSON: Style = Style {
        dialect: Dialect::Legacy,
        format: Format::Json,
    };
    const GO_TEXT: Style = Style {
        dialect: Dialect::Go,
        format: Format::Table,
    };
    const GO_JSON: Style = Style {
        dialect: Dialect::Go,
        format: Format::Json,
    };

    #[test]
    fn the_dialect_follows_the_spelling_of_the_command_line() {
        for (args, expected) in [
            (&["secrets", "list", "s"][..], LEGACY_TABLE),
            (&["secrets", "list", "s", "--output", "table"], LEGACY_TABLE),
            (&["secrets", "list", "s", "--output=JSON"], LEGACY_JSON),
            (&["--output", "json", "secrets", "list-scopes"], LEGACY_JSON),
            (&["secrets", "list-secrets", "s"], GO_TEXT),
            (
                &["secrets", "list-secrets", "s", "--output", "json"],
                GO_JSON,
            ),
            (&["secrets", "get-secret", "s", "k"], GO_TEXT),
            (&["secrets", "put-secret", "s", "k"], GO_TEXT),
            (&["secrets", "delete-secret", "s", "k"], GO_TEXT),
            (&["secrets", "list", "s", "-o", "table"], GO_TEXT),
            (&["secrets", "list", "s", "-ojson"], GO_JSON),
            (&["-o=json", "secrets", "list-scopes"], GO_JSON),
            (&["secrets", "list", "s", "--output", "Text"], GO_TEXT),
            (&["secrets", "list", "s", "--output=text"], GO_TEXT),
            // Words after `--` and values of other options are not command names.
            (
                &["secrets", "put", "--string-value", "list-secrets", "s", "k"],
                LEGACY_TABLE,
            ),
            (&["secrets", "list", "--", "get-secret"], LEGACY_TABLE),
        ] {
            assert_eq!(style(args, None), expected, "{args:?}");
        }
    }

    #[test]
    fn the_output_format_variable_picks_the_go_dialect_and_the_default_format() {
        let list = ["secrets", "list", "s"];
        assert_eq!(style(&list, Some("json")), GO_JSON);
        assert_eq!(style(&list, Some("TEXT")), GO_TEXT);
        assert_eq!(style(&list, Some("table")), GO_TEXT);
        assert_eq!(style(&list, Some("")), LEGACY_TABLE, "empty is unset");
        let option_wins = ["secrets", "list", "s", "--output", "table"];
        assert_eq!(style(&option_wins, Some("json")), GO_TEXT);
        let cli = parse(&list).expect("parses");
        let error = cli
            .global
            .spelling
            .style(None, Some(OsStr::new("yaml")))
            .expect_err("an unknown format");
        assert!(error.is::<crate::cli::UsageError>());
        assert!(
            error.to_string().contains("DATABRICKS_OUTPUT_FORMAT=yaml"),
            "{error}"
        );
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
