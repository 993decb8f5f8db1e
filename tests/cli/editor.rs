//! `secrets put` on a terminal without a value: the value is typed in `$VISUAL` / `$EDITOR`.
//! The editors are small shell scripts standing in for a person at a real pseudo-terminal.
//! Each one first records what it was given (the file's path, its arguments, the file's and
//! directory's modes, the template it saw) next to itself, then does what the test asks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::harness::{BINARY, KEY, Run, SCOPE, TestEnv, assert_stored, env_with_scope};

const MARKER_LINE: &str =
    "# ----------------------------------------------------------------------";

/// Records what the editor was given, then runs the test's body with `$file` set to the
/// file to edit (the last argument) and `$here` to the script's own directory.
const RECORDING_PROLOGUE: &str = r#"#!/bin/sh
here=$(dirname "$0")
for file; do :; done
printf '%s\n' "$@" > "$here/args"
{ stat -c '%a' "$file" "$(dirname "$file")" 2>/dev/null ||
  stat -f '%Lp' "$file" "$(dirname "$file")"; } > "$here/modes"
cp "$file" "$here/template"
"#;

/// An editor script in its own fixture directory under the test's HOME.
struct ScriptEditor {
    directory: PathBuf,
}

/// What a script editor recorded while it ran.
struct Recorded {
    args: Vec<String>,
    path: PathBuf,
    file_mode: String,
    directory_mode: String,
    template: String,
}

impl ScriptEditor {
    fn new(env: &TestEnv, name: &str, body: &str) -> ScriptEditor {
        let directory = env.home().join(name);
        fs::create_dir(&directory).expect("fixture directory");
        let editor = ScriptEditor { directory };
        fs::write(editor.script(), format!("{RECORDING_PROLOGUE}{body}\n")).expect("script");
        fs::set_permissions(editor.script(), fs::Permissions::from_mode(0o755))
            .expect("script made executable");
        editor
    }

    fn script(&self) -> PathBuf {
        self.directory.join("editor.sh")
    }

    /// The command line to put in `$EDITOR` / `$VISUAL`.
    fn command(&self) -> String {
        self.script().display().to_string()
    }

    fn ran(&self) -> bool {
        self.directory.join("args").exists()
    }

    #[track_caller]
    fn recorded(&self) -> Recorded {
        let read = |name: &str| {
            fs::read_to_string(self.directory.join(name))
                .unwrap_or_else(|error| panic!("the editor did not record {name}: {error}"))
        };
        let args: Vec<String> = read("args").lines().map(str::to_string).collect();
        let modes = read("modes");
        let modes: Vec<&str> = modes.lines().collect();
        assert_eq!(modes.len(), 2, "{modes:?}");
        Recorded {
            path: PathBuf::from(args.last().expect("the file's path was given")),
            file_mode: modes[0].to_string(),
            directory_mode: modes[1].to_string(),
            template: read("template"),
            args,
        }
    }
}

impl Recorded {
    /// The file was private while the editor ran, and its directory is gone now.
    #[track_caller]
    fn assert_private_and_removed(&self) {
        assert_eq!(self.file_mode, "600", "mode of {}", self.path.display());
        assert_eq!(self.directory_mode, "700", "mode of the file's directory");
        let directory = self.path.parent().expect("the file is in a directory");
        assert!(
            !directory.exists(),
            "the temporary directory {} is left behind",
            directory.display()
        );
    }
}

/// The temporary directory the binary is given (`TMPDIR`), so that leftovers can be seen.
fn tmpdir(env: &TestEnv) -> PathBuf {
    let path = env.home().join("tmp");
    fs::create_dir_all(&path).expect("TMPDIR created");
    path
}

/// `secrets put --scope SCOPE --key KEY` on a terminal, with `editor_env` added.
fn put_in_terminal(env: &TestEnv, editor_env: &[(&str, &str)]) -> Run {
    let tmp = tmpdir(env);
    let mut variables = vec![("TMPDIR", tmp.to_str().expect("UTF-8 path"))];
    variables.extend_from_slice(editor_env);
    env.run_in_terminal(
        &in_terminal(&["secrets", "put", "--scope", SCOPE, "--key", KEY]),
        &variables,
    )
}

/// The shell command running the binary with `args` on the terminal. `exec` replaces the
/// non-interactive `sh -c` that `script` starts: unlike a user's interactive shell, that one
/// would itself die of an interrupt sent to the foreground group and hide the exit code.
fn in_terminal(args: &[&str]) -> String {
    format!("exec {BINARY} {}", args.join(" "))
}

#[track_caller]
fn assert_tmpdir_empty(env: &TestEnv) {
    let leftovers: Vec<_> = fs::read_dir(tmpdir(env))
        .expect("TMPDIR readable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert!(leftovers.is_empty(), "left in TMPDIR: {leftovers:?}");
}

/// An aborted put: exit 1, a message with every fragment, no request at all, nothing left.
#[track_caller]
fn assert_aborted(env: &TestEnv, run: &Run, fragments: &[&str]) {
    let output = run.stdout();
    assert_eq!(run.code, 1, "terminal output: {output}");
    assert!(output.contains("Error: "), "{output}");
    assert!(output.contains("nothing was sent"), "{output}");
    for fragment in fragments {
        assert!(
            output.contains(fragment),
            "{fragment:?} missing in: {output}"
        );
    }
    let requests = env.api_requests();
    assert!(requests.is_empty(), "no request expected: {requests:?}");
    assert_eq!(env.emulator.secret_bytes(SCOPE, KEY), None);
    assert_tmpdir_empty(env);
}

/// Writes `value` above the template's first line, keeping the rest of the file.
fn type_above_marker(value: &str) -> String {
    format!(
        "{{ printf '{value}'; cat \"$file\"; }} > \"$here/edited\" && cat \"$here/edited\" > \"$file\""
    )
}

#[test]
fn a_multi_line_value_is_stored_exactly_without_trailing_newlines() {
    let env = env_with_scope();
    // Below the marker is ignored; swap files like vim's are removed with the directory.
    let body = format!(
        "{}\nprintf 'ignored: below the marker\\n' >> \"$file\"\n\
         touch \"$(dirname \"$file\")/.secret-value.txt.swp\"",
        type_above_marker("first line\\n  second line\\t\\n\\nfourth line\\n\\n\\n")
    );
    let editor = ScriptEditor::new(&env, "editor", &body);
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_eq!(run.stdout().trim(), "", "a successful put prints nothing");
    assert_stored(
        &env,
        b"first line\n  second line\t\n\nfourth line",
        "string_value",
    );
    let recorded = editor.recorded();
    assert!(
        recorded.path.starts_with(tmpdir(&env)),
        "TMPDIR not used: {:?}",
        recorded.path
    );
    recorded.assert_private_and_removed();
    assert_tmpdir_empty(&env);
}

#[test]
fn the_template_is_two_empty_lines_then_the_marker_then_comments() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("v"));
    put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    let template = editor.recorded().template;
    assert!(
        template.starts_with(&format!("\n\n{MARKER_LINE}\n")),
        "{template:?}"
    );
    assert_eq!(MARKER_LINE, format!("# {}", "-".repeat(70)));
    let comments: Vec<&str> = template.lines().skip(3).collect();
    assert!(!comments.is_empty(), "instructions expected: {template:?}");
    assert!(
        comments.iter().all(|line| line.starts_with('#')),
        "{template:?}"
    );
    let instructions = comments.join(" ");
    for topic in ["above", "ignored", "without saving"] {
        assert!(
            instructions.contains(topic),
            "{topic:?} not explained: {template:?}"
        );
    }
}

#[test]
fn crlf_line_ends_are_kept_inside_and_stripped_at_the_end() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("a\\r\\nb\\r\\n\\r\\n"));
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"a\r\nb", "string_value");
    editor.recorded().assert_private_and_removed();
}

#[test]
fn a_non_utf8_value_is_sent_as_bytes_value() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("\\377\\376 raw\\n"));
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"\xff\xfe raw", "bytes_value");
    editor.recorded().assert_private_and_removed();
}

#[test]
fn an_unchanged_file_aborts() {
    // Quitting without saving, and saving without a change (the file only touched).
    for body in ["exit 0", "touch \"$file\""] {
        let env = env_with_scope();
        let editor = ScriptEditor::new(&env, "editor", body);
        let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
        assert_aborted(&env, &run, &["without saving"]);
        editor.recorded().assert_private_and_removed();
    }
}

#[test]
fn a_removed_or_altered_marker_aborts() {
    let bodies = [
        "printf 'value\\n' > \"$file\"",
        // One dash less, and a trailing space; sed also leaves a backup file of its own.
        // (`-i.orig`, not `-i`: BSD sed on macOS takes the next argument as the suffix.)
        "sed -i.orig '1s/^/value/; 3s/-$//' \"$file\"",
        "sed -i.orig '1s/^/value/; 3s/$/ /' \"$file\"",
    ];
    for body in bodies {
        let env = env_with_scope();
        let editor = ScriptEditor::new(&env, "editor", body);
        let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
        assert_aborted(&env, &run, &["marker"]);
        editor.recorded().assert_private_and_removed();
    }
}

#[test]
fn an_empty_value_aborts() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("\\n\\r\\n\\n"));
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_aborted(&env, &run, &["empty"]);
    editor.recorded().assert_private_and_removed();
}

#[test]
fn a_missing_editor_is_a_clear_error() {
    let env = env_with_scope();
    let run = put_in_terminal(&env, &[("EDITOR", "/nonexistent/editor")]);
    assert_aborted(&env, &run, &["/nonexistent/editor", "EDITOR"]);
}

#[test]
fn a_failing_editor_aborts_with_its_exit_status() {
    let env = env_with_scope();
    let body = format!("{}\nexit 3", type_above_marker("typed before failing\\n"));
    let editor = ScriptEditor::new(&env, "editor", &body);
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_aborted(&env, &run, &["failed", "3"]);
    editor.recorded().assert_private_and_removed();
}

#[test]
fn visual_beats_editor_and_an_empty_visual_is_skipped() {
    let env = env_with_scope();
    let visual = ScriptEditor::new(&env, "visual", &type_above_marker("from visual"));
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("from editor"));
    let run = put_in_terminal(
        &env,
        &[("VISUAL", &visual.command()), ("EDITOR", &editor.command())],
    );
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"from visual", "string_value");
    assert!(!editor.ran(), "$EDITOR ran although $VISUAL is set");
    visual.recorded().assert_private_and_removed();

    env.emulator.clear_requests();
    let run = put_in_terminal(&env, &[("VISUAL", ""), ("EDITOR", &editor.command())]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"from editor", "string_value");
    editor.recorded().assert_private_and_removed();
}

#[test]
fn an_editor_command_with_arguments_works_like_code_wait() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("waited"));
    let command = format!("{} --wait", editor.command());
    let run = put_in_terminal(&env, &[("EDITOR", &command)]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"waited", "string_value");
    let recorded = editor.recorded();
    assert_eq!(recorded.args.len(), 2, "{:?}", recorded.args);
    assert_eq!(recorded.args[0], "--wait");
    recorded.assert_private_and_removed();
}

#[test]
fn without_visual_or_editor_vi_from_the_path_is_used() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "bin", &type_above_marker("typed in vi"));
    fs::rename(editor.script(), editor.directory.join("vi")).expect("script renamed to vi");
    let run = put_in_terminal(&env, &[("PATH", &path_with(&editor.directory))]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"typed in vi", "string_value");
    let recorded = editor.recorded();
    // A `vi` that is not a link to vim (busybox, nvi) would not understand vim's options.
    assert_eq!(recorded.args.len(), 1, "{:?}", recorded.args);
    recorded.assert_private_and_removed();
}

/// `directory` first, then the test's own PATH.
fn path_with(directory: &Path) -> String {
    format!(
        "{}:{}",
        directory.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Asserts that the editor was started with the options that keep vim and neovim from
/// writing copies of the value: `-i NONE` (no viminfo / shada), `-n` (no swap file), and
/// `set` commands turning off backup, write backup, undo and swap files, both before the
/// user's vimrc (`--cmd`) and after it (`-c`). The file comes last.
#[track_caller]
fn assert_vim_options(recorded: &Recorded) {
    let args: Vec<&str> = recorded.args.iter().map(String::as_str).collect();
    assert!(
        args.windows(2).any(|pair| pair == ["-i", "NONE"]),
        "{args:?}"
    );
    assert!(args.contains(&"-n"), "{args:?}");
    for command_option in ["--cmd", "-c"] {
        let settings = args
            .windows(2)
            .find(|pair| pair[0] == command_option)
            .map(|pair| pair[1])
            .unwrap_or_else(|| panic!("no {command_option} in {args:?}"));
        let words: Vec<&str> = settings.split_whitespace().collect();
        assert_eq!(words[0], "set", "{settings}");
        for setting in ["nobackup", "nowritebackup", "noundofile", "noswapfile"] {
            assert!(words.contains(&setting), "{setting} missing in {settings}");
        }
    }
    assert_eq!(
        Path::new(args[args.len() - 1]),
        recorded.path,
        "the file comes last"
    );
}

#[test]
fn vim_and_neovim_start_without_viminfo_swap_backup_or_undo_files() {
    for (program, editor_command) in [
        ("vim", "vim".to_string()),
        ("nvim", "{bin}/nvim -p".to_string()),
        ("vim.basic", "vim.basic".to_string()),
    ] {
        let env = env_with_scope();
        let editor = ScriptEditor::new(&env, "bin", &type_above_marker("typed in vim"));
        fs::rename(editor.script(), editor.directory.join(program)).expect("script renamed");
        let command = editor_command.replace("{bin}", &editor.directory.display().to_string());
        let path = path_with(&editor.directory);
        let run = put_in_terminal(&env, &[("PATH", &path), ("EDITOR", &command)]);
        assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
        assert_stored(&env, b"typed in vim", "string_value");
        let recorded = editor.recorded();
        assert_vim_options(&recorded);
        if command.ends_with(" -p") {
            assert_eq!(recorded.args[0], "-p", "the user's arguments come first");
        }
        recorded.assert_private_and_removed();
    }
}

#[test]
fn a_default_vi_that_links_to_vim_gets_the_options_too() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "bin", &type_above_marker("typed in vi"));
    let vim = editor.directory.join("vim.tiny");
    fs::rename(editor.script(), &vim).expect("script renamed");
    std::os::unix::fs::symlink(&vim, editor.directory.join("vi")).expect("vi linked to vim");
    let run = put_in_terminal(&env, &[("PATH", &path_with(&editor.directory))]);
    assert_eq!(run.code, 0, "terminal output: {}", run.stdout());
    assert_stored(&env, b"typed in vi", "string_value");
    let recorded = editor.recorded();
    assert_vim_options(&recorded);
    recorded.assert_private_and_removed();
}

#[test]
fn an_interrupt_while_the_editor_is_open_aborts_and_cleans_up() {
    let env = env_with_scope();
    // SIGINT to the whole foreground process group, as Ctrl-C on the terminal does. Had the
    // editor survived it, the saved value would be sent.
    let body = format!(
        "{}\nkill -INT 0\nexit 0",
        type_above_marker("typed before ctrl-c\\n")
    );
    let editor = ScriptEditor::new(&env, "editor", &body);
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_aborted(&env, &run, &["SIGINT"]);
    editor.recorded().assert_private_and_removed();
}

#[test]
fn editor_mode_fails_before_opening_the_editor_when_the_profile_is_unknown() {
    let env = env_with_scope();
    let editor = ScriptEditor::new(&env, "editor", &type_above_marker("never typed"));
    let command = in_terminal(&["--profile", "nope", "secrets", "put", SCOPE, KEY]);
    let run = env.run_in_terminal(&command, &[("EDITOR", &editor.command())]);
    assert_eq!(run.code, 1, "terminal output: {}", run.stdout());
    assert!(run.stdout().contains("nope"), "{}", run.stdout());
    assert!(
        !editor.ran(),
        "the editor opened although the put cannot succeed"
    );
    assert!(env.api_requests().is_empty());
}

#[test]
fn a_hang_up_or_termination_while_the_editor_is_open_aborts_and_cleans_up() {
    // Closing the terminal (SIGHUP) or stopping the session (SIGTERM) reaches the whole
    // foreground group; the typed value must neither be sent nor stay on disk.
    for signal in ["HUP", "TERM"] {
        let env = env_with_scope();
        let body = format!(
            "{}\nkill -{signal} 0\nexit 0",
            type_above_marker("typed before the hang-up\\n")
        );
        let editor = ScriptEditor::new(&env, "editor", &body);
        let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
        assert_aborted(&env, &run, &[&format!("SIG{signal}")]);
        editor.recorded().assert_private_and_removed();
    }
}

#[test]
fn a_termination_of_the_cli_alone_aborts_once_the_editor_exits() {
    let env = env_with_scope();
    // Only the `databricks` process is told to stop; the editor then saves a value and exits
    // normally, which must not be sent.
    let body = format!(
        "{}\n{}",
        type_above_marker("typed while the CLI was stopped\\n"),
        r#"pid=$$
while [ "$(ps -o comm= -p "$pid")" != databricks ]; do
    pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
    [ "${pid:-0}" -gt 1 ] || exit 9
done
kill -TERM "$pid"
exit 0"#
    );
    let editor = ScriptEditor::new(&env, "editor", &body);
    let run = put_in_terminal(&env, &[("EDITOR", &editor.command())]);
    assert_aborted(&env, &run, &["SIGTERM"]);
    editor.recorded().assert_private_and_removed();
}
