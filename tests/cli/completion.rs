//! What is generated from the clap definition: completion scripts for each shell, and the help
//! of every command and option.

use crate::harness::{Run, TestEnv};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

#[test]
fn every_shell_gets_a_script_that_knows_the_commands() {
    let env = TestEnv::without_profile(Default::default());
    for shell in SHELLS {
        let script = env.run(&["completion", shell]).ok();
        for command in ["create-scope", "put-secret", "list-acls", "completion"] {
            assert!(
                script.contains(command),
                "the {shell} script lacks {command}"
            );
        }
    }
    assert!(
        env.api_requests().is_empty(),
        "completion needs no workspace"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error_listing_the_shells() {
    let env = TestEnv::without_profile(Default::default());
    let run = env.run(&["completion", "tcsh"]);
    let stderr = run.fails_with(2);
    for shell in SHELLS {
        assert!(stderr.contains(shell), "{stderr}");
    }
}

/// Sources the bash script and asks it to complete `words` (the last one being typed).
#[cfg(unix)]
fn bash_completions(env: &TestEnv, words: &str) -> Vec<String> {
    let script = format!(
        r#"source <(databricks completion bash)
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="{words}"
COMP_POINT=${{#COMP_LINE}}
_databricks databricks "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let mut bash = env.command_with_binary_on_path("bash");
    bash.args(["-c", &script]);
    let run = env.run_command(bash, b"");
    run.ok().lines().map(str::to_string).collect()
}

#[cfg(unix)] // runs bash
#[test]
fn the_bash_script_completes_commands_and_options() {
    let env = TestEnv::without_profile(Default::default());
    assert_eq!(
        bash_completions(&env, "databricks secrets cr"),
        ["create-scope"]
    );
    let options = bash_completions(&env, "databricks secrets put-secret --s");
    assert_eq!(options, ["--scope", "--string-value"]);
}

/// Entries start at most 6 columns in (`  -o, --output`, `      --scope`); their help, when on
/// its own line, at 10.
const NEXT_LINE_HELP_INDENT: usize = 8;

/// One entry of a help section: the part before the description, and the description.
struct HelpEntry {
    name: String,
    help: String,
}

/// A parsed `--help` page: its first line, and the entries of each section by section title.
struct HelpPage {
    about: String,
    sections: Vec<(String, Vec<HelpEntry>)>,
}

impl HelpPage {
    /// Reads both layouts clap uses: `  --name <V>  Help` on one line, and (for `--help` when
    /// some option has long help) the help on the next, more indented line.
    fn parse(text: &str) -> HelpPage {
        let about = text.lines().next().unwrap_or_default().trim().to_string();
        let mut sections: Vec<(String, Vec<HelpEntry>)> = Vec::new();
        // Whether the previous line started an entry: only that line's next one is its help.
        let mut entry_just_started = false;
        for line in text.lines() {
            let follows_entry = std::mem::take(&mut entry_just_started);
            let indent = line.len() - line.trim_start().len();
            let content = line.trim();
            if indent == 0 {
                if let Some(title) = content.strip_suffix(':') {
                    sections.push((title.to_string(), Vec::new()));
                }
                continue;
            }
            let Some((_, entries)) = sections.last_mut() else {
                continue;
            };
            match entries.last_mut() {
                Some(entry) if indent >= NEXT_LINE_HELP_INDENT => {
                    if follows_entry && entry.help.is_empty() {
                        entry.help = content.to_string();
                    }
                }
                _ => {
                    let (name, help) = content.split_once("  ").unwrap_or((content, ""));
                    entries.push(HelpEntry {
                        name: name.to_string(),
                        help: help.trim().to_string(),
                    });
                    entry_just_started = true;
                }
            }
        }
        HelpPage { about, sections }
    }

    fn entries(&self, section: &str) -> impl Iterator<Item = &HelpEntry> {
        self.sections
            .iter()
            .filter(move |(title, _)| title == section)
            .flat_map(|(_, entries)| entries)
    }
}

fn help_page(env: &TestEnv, command: &[&str]) -> HelpPage {
    let run: Run = env.run(&[command, &["--help"]].concat());
    HelpPage::parse(&run.ok())
}

/// Every command path below `databricks`, found by following the `Commands:` sections.
fn all_commands(env: &TestEnv) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![Vec::<String>::new()];
    while let Some(path) = pending.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for entry in help_page(env, &args).entries("Commands") {
            if entry.name != "help" {
                pending.push([path.clone(), vec![entry.name.clone()]].concat());
            }
        }
        found.push(path);
    }
    found
}

#[test]
fn every_command_and_option_has_a_help_line() {
    let env = TestEnv::without_profile(Default::default());
    let commands = all_commands(&env);
    let secrets_commands = [
        "create-scope",
        "list-scopes",
        "delete-scope",
        "put",
        "list",
        "delete",
        "get",
        "put-acl",
        "get-acl",
        "list-acls",
        "delete-acl",
        "import",
        "export",
    ];
    let mut expected: Vec<Vec<String>> = secrets_commands
        .iter()
        .map(|name| vec!["secrets".to_string(), name.to_string()])
        .collect();
    expected.extend([
        vec![],
        vec!["secrets".into()],
        vec!["configure".into()],
        vec!["completion".into()],
    ]);
    for path in &expected {
        assert!(
            commands.contains(path),
            "{path:?} not found in {commands:?}"
        );
    }
    for path in &commands {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let page = help_page(&env, &args);
        assert!(!page.about.is_empty(), "{path:?} has no about line");
        assert!(
            !page.about.starts_with("Usage:"),
            "{path:?} has no about line"
        );
        let mut entries = 0;
        for section in ["Commands", "Arguments", "Options"] {
            for entry in page.entries(section) {
                entries += 1;
                assert!(
                    !entry.help.is_empty(),
                    "{path:?}: {section} entry `{}` has no help",
                    entry.name
                );
            }
        }
        assert!(entries > 0, "{path:?}: no entries parsed");
    }
}

#[test]
fn string_value_help_warns_about_visibility_and_suggests_stdin() {
    let env = TestEnv::without_profile(Default::default());
    for put in ["put", "write", "put-secret"] {
        let page = help_page(&env, &["secrets", put]);
        let string_value = page
            .entries("Options")
            .find(|entry| entry.name.starts_with("--string-value"))
            .expect("put has --string-value");
        let help = string_value.help.to_lowercase();
        assert!(help.contains("other processes"), "{help}");
        assert!(help.contains("stdin"), "{help}");
    }
}
