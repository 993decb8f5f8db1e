//! `put` without a value on a terminal: the value is typed in `$VISUAL` / `$EDITOR`.
//!
//! The editor opens a file in a fresh private directory (0700, file 0600) that starts with two
//! empty lines, then a marker line and a few lines of instructions. The value is the text above
//! the first marker line, trailing newlines removed. The directory is removed afterwards in
//! every case; while the editor runs, Ctrl-C goes to the editor only, so an interrupted edit
//! still ends here and cleans up.
//!
//! Vim and neovim would keep copies of what is typed outside that directory (registers and
//! history in `~/.viminfo` / the shada file, undo files in a global `undodir`, backups in a
//! global `backupdir`), so they are started with the options that turn those off for the
//! session, as `pass` and `gopass` do. Other editors are started as they are configured.

use std::env;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::api::SecretValue;

/// The line separating the value from the instructions: `# ` and 70 dashes.
const MARKER: &str = "# ----------------------------------------------------------------------";

const INSTRUCTIONS: &str = "\
# Type the secret value above the dashed line. It may span several lines;
# newlines at its very end are removed, everything else is kept as typed.
# The dashed line and everything below it are ignored: leave the dashed
# line as it is. To cancel, quit the editor without saving: nothing is sent.
";

#[cfg(windows)]
const DEFAULT_EDITOR: &str = "notepad";
#[cfg(not(windows))]
const DEFAULT_EDITOR: &str = "vi";

const FILE_NAME: &str = "secret-value.txt";

/// What vim and neovim must not write for this session: no backup while or after saving, no
/// undo file, no swap file.
const VIM_SETTINGS: &str = "set nobackup nowritebackup noundofile noswapfile";

/// Options for vim and neovim: no viminfo / shada file (`-i NONE`), no swap file (`-n`), and
/// [`VIM_SETTINGS`] twice: with `--cmd` before any vimrc or plugin runs, with `-c` again after
/// the vimrc, so that a `set undofile` or `set backup` there does not win.
const VIM_PRIVATE_OPTIONS: [&str; 7] = [
    "-i",
    "NONE",
    "-n",
    "--cmd",
    VIM_SETTINGS,
    "-c",
    VIM_SETTINGS,
];

/// Program names (before any `.suffix`, as in `vim.basic` or `nvim.appimage`) of vim and neovim.
const VIM_NAMES: [&str; 5] = ["vim", "nvim", "gvim", "mvim", "vimx"];

/// Why no value came out of the editor. In every case nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    #[error(
        "cannot create a private temporary file for the editor ({0}); nothing was sent. \
         Check that the temporary directory (TMPDIR) is writable, or give the value with \
         --string-value, --binary-file or on standard input"
    )]
    TempFile(#[source] io::Error),

    #[error(
        "cannot start the editor `{editor}` ({detail}); nothing was sent. Set VISUAL or EDITOR \
         to an installed editor, or give the value with --string-value, --binary-file or on \
         standard input"
    )]
    NotStarted { editor: String, detail: String },

    #[error("the editor `{editor}` failed ({status}); nothing was sent")]
    Failed { editor: String, status: String },

    #[error(
        "the editor exited without saving a change; nothing was sent. Type the value above \
         the dashed line and save before quitting"
    )]
    Unchanged,

    #[error(
        "the dashed marker line was changed or removed, so the end of the value is unknown; \
         nothing was sent. Leave the line `# ---...` (70 dashes) as it is and type the value \
         above it"
    )]
    MarkerMissing,

    #[error(
        "the value above the dashed line is empty; nothing was sent. Type the value above \
         the dashed line and save before quitting"
    )]
    Empty,

    #[error("cannot read back the edited file ({0}); nothing was sent")]
    ReadBack(#[source] io::Error),

    #[error(
        "{signal} arrived while the editor was open, so the edit was abandoned; nothing was sent"
    )]
    Terminated { signal: &'static str },
}

/// Opens the user's editor (`$VISUAL`, else `$EDITOR`, else `vi` / `notepad`) on the template
/// and returns the value typed above the marker line.
pub fn edit_value() -> Result<SecretValue, EditorError> {
    edit_value_with(&editor_command())
}

/// `$VISUAL`, else `$EDITOR` (ignoring empty ones), else the platform's default editor.
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(|name| env::var(name).ok())
        .find(|command| !command.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_EDITOR.to_string())
}

/// [`edit_value`] with the editor given: a shell command line to which the file's path is
/// appended as one argument (`code --wait` works), after [`VIM_PRIVATE_OPTIONS`] when the
/// editor is vim or neovim.
pub fn edit_value_with(editor: &str) -> Result<SecretValue, EditorError> {
    let directory = private_directory().map_err(EditorError::TempFile)?;
    let path = directory.path().join(FILE_NAME);
    let template = template();
    create_private_file(&path, template.as_bytes()).map_err(EditorError::TempFile)?;
    run_editor(editor, &path)?;
    let edited = fs::read(&path).map_err(EditorError::ReadBack)?;
    parse_edited(template.as_bytes(), &edited)
    // `directory` is dropped here, removing the file and any editor swap or backup files.
}

/// The file the editor opens: two empty lines, the marker line, the instructions.
pub fn template() -> String {
    format!("\n\n{MARKER}\n{INSTRUCTIONS}")
}

/// The value in an edited file: the text above the first marker line, trailing `\n` and
/// `\r\n` removed; text when valid UTF-8, else bytes.
pub fn parse_edited(template: &[u8], edited: &[u8]) -> Result<SecretValue, EditorError> {
    if edited == template {
        return Err(EditorError::Unchanged);
    }
    let value_end = marker_line_start(edited).ok_or(EditorError::MarkerMissing)?;
    let value = strip_trailing_newlines(&edited[..value_end]);
    if value.is_empty() {
        return Err(EditorError::Empty);
    }
    Ok(SecretValue::from_bytes(value.to_vec()))
}

/// The offset of the first line that is exactly the marker (a `\r\n` ending is accepted).
fn marker_line_start(text: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for line in text.split_inclusive(|&byte| byte == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == MARKER.as_bytes() {
            return Some(line_start);
        }
        line_start += line.len();
    }
    None
}

fn strip_trailing_newlines(mut value: &[u8]) -> &[u8] {
    while let Some(rest) = value.strip_suffix(b"\n") {
        value = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    value
}

fn create_private_file(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(content)
}

/// A fresh directory only the user can enter (on Windows the user's temporary directory
/// already is private).
fn private_directory() -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("databricks-secret-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    builder.tempdir()
}

/// Whether the editor command starts vim or neovim: its first word is named like them, or is
/// found on PATH as a link to them (a `vi` or `editor` that links to vim counts; a `vi` that
/// is busybox, nvi or a copy of vim under another name does not, and gets no options).
fn is_vim(editor: &str) -> bool {
    let Some(program) = editor.split_whitespace().next() else {
        return false;
    };
    let program = program.trim_matches(['"', '\'']);
    let resolved = find_program(program).and_then(|path| fs::canonicalize(path).ok());
    [Some(Path::new(program)), resolved.as_deref()]
        .into_iter()
        .flatten()
        .any(is_vim_file_name)
}

fn is_vim_file_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    VIM_NAMES.contains(&stem.as_str())
}

/// The file `program` names: itself when it has a directory part, else the first file of that
/// name in a PATH directory.
fn find_program(program: &str) -> Option<PathBuf> {
    let program = Path::new(program);
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|directory| directory.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs the editor on `path` and waits for it; success means it exited with status 0.
fn run_editor(editor: &str, path: &Path) -> Result<(), EditorError> {
    let options: &[&str] = if is_vim(editor) {
        &VIM_PRIVATE_OPTIONS
    } else {
        &[]
    };
    let mut command = shell_command(editor, options, path);
    let (status, termination) = {
        let signals = interrupts::SignalGuard::while_child_runs(&mut command);
        (command.status(), signals.termination())
    };
    if let Some(signal) = termination {
        return Err(EditorError::Terminated { signal });
    }
    let status = status.map_err(|error| EditorError::NotStarted {
        editor: editor.to_string(),
        detail: error.to_string(),
    })?;
    check_status(editor, status)
}

fn check_status(editor: &str, status: ExitStatus) -> Result<(), EditorError> {
    match status.code() {
        Some(0) => Ok(()),
        // The shell's answers for "command not found" and "found but not executable".
        Some(code @ (126 | 127)) => Err(EditorError::NotStarted {
            editor: editor.to_string(),
            detail: format!("the shell could not run it, exit status {code}"),
        }),
        _ => Err(EditorError::Failed {
            editor: editor.to_string(),
            status: status.to_string(),
        }),
    }
}

/// `sh -c '<editor> "$@"' sh <options> <path>`: the shell splits the editor's command line;
/// the options and the path are passed as separate arguments, so no quoting of them is needed.
#[cfg(unix)]
fn shell_command(editor: &str, options: &[&str], path: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg("sh")
        .args(options)
        .arg(path);
    command
}

/// `cmd /C <editor> "<option>"... "<path>"` (none of them contains a double quote).
#[cfg(windows)]
fn shell_command(editor: &str, options: &[&str], path: &Path) -> Command {
    use std::os::windows::process::CommandExt;
    let path = path.display().to_string();
    let mut line = editor.to_string();
    for argument in options.iter().copied().chain([path.as_str()]) {
        line.push_str(&format!(" \"{argument}\""));
    }
    let mut command = Command::new("cmd");
    command.arg("/C").raw_arg(line);
    command
}

#[cfg(unix)]
mod interrupts {
    //! Like git: while the editor runs, this process ignores SIGINT and SIGQUIT, so Ctrl-C
    //! only reaches the editor, which exits non-zero, and the temporary file is removed.
    //! SIGHUP and SIGTERM (terminal closed, session stopped) are caught instead of ending the
    //! process on the spot with the typed value left on disk: the edit is abandoned once the
    //! editor exits, whatever it answered, and the temporary file is removed.

    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use crate::signals::Replaced;

    const IGNORED: [libc::c_int; 2] = [libc::SIGINT, libc::SIGQUIT];

    const CAUGHT: [libc::c_int; 2] = [libc::SIGHUP, libc::SIGTERM];

    /// The last of [`CAUGHT`] that arrived while the editor ran, 0 for none.
    static CAUGHT_SIGNAL: AtomicI32 = AtomicI32::new(0);

    extern "C" fn note_signal(signal: libc::c_int) {
        CAUGHT_SIGNAL.store(signal, Ordering::SeqCst);
    }

    /// Dispositions are process-wide: one editor at a time, so restoring is never mixed up.
    pub(super) static EDITOR_RUNNING: Mutex<()> = Mutex::new(());

    /// Ignores or catches the signals until dropped, then restores what was there before.
    pub struct SignalGuard {
        // Fields drop in order: the dispositions are restored before the lock is released.
        _ignored: Replaced,
        _caught: Replaced,
        _one_at_a_time: MutexGuard<'static, ()>,
    }

    impl SignalGuard {
        /// Ignores SIGINT and SIGQUIT and catches SIGHUP and SIGTERM here, and arranges for
        /// `child` to get back the dispositions it would have had (a disposition set to ignore
        /// is inherited across exec).
        pub fn while_child_runs(child: &mut Command) -> Self {
            let lock = EDITOR_RUNNING
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let ignored = Replaced::ignore(&IGNORED);
            let reset_in_child = IGNORED.map(|signal| !ignored.was_ignored(signal));
            let restore_in_child = move || {
                for (signal, reset) in IGNORED.into_iter().zip(reset_in_child) {
                    if reset {
                        // SAFETY: `signal` is async-signal-safe, allowed between fork and exec.
                        unsafe { libc::signal(signal, libc::SIG_DFL) };
                    }
                }
                Ok(())
            };
            // SAFETY: the closure only calls the async-signal-safe `signal`.
            unsafe { child.pre_exec(restore_in_child) };
            // A caught signal is reset to its default in the child by exec itself.
            CAUGHT_SIGNAL.store(0, Ordering::SeqCst);
            SignalGuard {
                _ignored: ignored,
                _caught: Replaced::catch(&CAUGHT, note_signal),
                _one_at_a_time: lock,
            }
        }

        /// The name of the hang-up or termination signal that arrived meanwhile, if any.
        pub fn termination(&self) -> Option<&'static str> {
            match CAUGHT_SIGNAL.load(Ordering::SeqCst) {
                libc::SIGHUP => Some("SIGHUP"),
                libc::SIGTERM => Some("SIGTERM"),
                _ => None,
            }
        }
    }
}

#[cfg(not(unix))]
mod interrupts {
    use std::process::Command;

    /// Windows delivers Ctrl-C to the console's processes; the editor handles its own.
    pub struct SignalGuard;

    impl SignalGuard {
        pub fn while_child_runs(_child: &mut Command) -> Self {
            SignalGuard
        }

        pub fn termination(&self) -> Option<&'static str> {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Secret, SecretBytes};

    fn edited(value: &[u8]) -> Vec<u8> {
        let mut file = value.to_vec();
        file.extend_from_slice(template().as_bytes());
        file
    }

    fn parse(file: &[u8]) -> Result<SecretValue, EditorError> {
        parse_edited(template().as_bytes(), file)
    }

    fn text(value: &str) -> SecretValue {
        SecretValue::Text(Secret::new(value))
    }

    #[test]
    fn the_template_is_two_empty_lines_then_a_marker_of_70_dashes() {
        assert_eq!(MARKER, format!("# {}", "-".repeat(70)));
        let template = template();
        assert!(
            template.starts_with(&format!("\n\n{MARKER}\n#")),
            "{template}"
        );
        assert!(template.ends_with('\n'));
        assert!(template.lines().skip(3).all(|line| line.starts_with("# ")));
    }

    #[test]
    fn the_value_is_the_text_above_the_marker_without_trailing_newlines() {
        assert_eq!(parse(&edited(b"hunter2")).unwrap(), text("hunter2"));
        assert_eq!(parse(&edited(b"  spaced  \n")).unwrap(), text("  spaced  "));
    }

    #[test]
    fn multi_line_values_keep_inner_and_leading_newlines() {
        let value = b"-----BEGIN KEY-----\nabc\n\ndef\n-----END KEY-----\n";
        assert_eq!(
            parse(&edited(value)).unwrap(),
            text("-----BEGIN KEY-----\nabc\n\ndef\n-----END KEY-----")
        );
        assert_eq!(
            parse(&edited(b"\nsecond line")).unwrap(),
            text("\nsecond line")
        );
    }

    #[test]
    fn crlf_files_lose_trailing_crlf_but_keep_inner_ones() {
        let file = format!("line1\r\nline2\r\n\r\n\r\n{MARKER}\r\n# note\r\n");
        assert_eq!(parse(file.as_bytes()).unwrap(), text("line1\r\nline2"));
    }

    #[test]
    fn only_the_first_marker_counts() {
        let file = format!("above\n{MARKER}\nbelow\n{MARKER}\n");
        assert_eq!(parse(file.as_bytes()).unwrap(), text("above"));
    }

    #[test]
    fn non_utf8_values_are_bytes() {
        assert_eq!(
            parse(&edited(b"\xff\xfe raw\n")).unwrap(),
            SecretValue::Bytes(SecretBytes::new(b"\xff\xfe raw".to_vec()))
        );
    }

    #[test]
    fn an_unchanged_file_aborts() {
        assert!(matches!(
            parse(template().as_bytes()),
            Err(EditorError::Unchanged)
        ));
    }

    #[test]
    fn an_empty_value_aborts() {
        let saved_without_typing = format!("\n{MARKER}\n");
        for file in [saved_without_typing.as_bytes(), &edited(b"\n\r\n")] {
            assert!(matches!(parse(file), Err(EditorError::Empty)));
        }
    }

    #[test]
    fn an_altered_or_removed_marker_aborts() {
        let shortened = format!("value\n# {}\n", "-".repeat(69));
        let trailing_space = format!("value\n{MARKER} \n");
        let indented = format!("value\n {MARKER}\n");
        for file in ["value\n", &shortened, &trailing_space, &indented] {
            assert!(
                matches!(parse(file.as_bytes()), Err(EditorError::MarkerMissing)),
                "{file:?}"
            );
        }
    }

    #[test]
    fn every_abort_says_nothing_was_sent() {
        let errors = [
            EditorError::Unchanged,
            EditorError::MarkerMissing,
            EditorError::Empty,
            EditorError::Failed {
                editor: "vi".into(),
                status: "exit status: 1".into(),
            },
            EditorError::NotStarted {
                editor: "nope".into(),
                detail: "not found".into(),
            },
            EditorError::Terminated { signal: "SIGHUP" },
        ];
        for error in errors {
            assert!(error.to_string().contains("nothing was sent"), "{error}");
        }
    }

    #[test]
    fn vim_and_neovim_are_recognised_by_the_first_word() {
        for editor in [
            "vim",
            "nvim",
            "gvim -f",
            "/usr/local/bin/nvim -p",
            "/usr/bin/vim.basic",
            "nvim.appimage",
            "vim.exe",
            "'/opt/editors/vim' -u NONE",
        ] {
            assert!(is_vim(editor), "{editor}");
        }
        for editor in [
            "",
            "nano",
            "code --wait",
            "emacs -nw",
            "/opt/x/nvi",
            "my-vim",
        ] {
            assert!(!is_vim(editor), "{editor}");
        }
    }

    #[test]
    fn vim_options_turn_off_viminfo_swap_backup_and_undo() {
        let options = VIM_PRIVATE_OPTIONS.join(" ");
        assert!(options.starts_with("-i NONE -n "), "{options}");
        for setting in ["nobackup", "nowritebackup", "noundofile", "noswapfile"] {
            assert!(
                VIM_SETTINGS.split(' ').any(|word| word == setting),
                "{setting}"
            );
        }
        assert_eq!(
            VIM_PRIVATE_OPTIONS[3..],
            ["--cmd", VIM_SETTINGS, "-c", VIM_SETTINGS]
        );
    }

    #[cfg(unix)]
    mod scripted {
        use super::*;
        use std::os::unix::fs::PermissionsExt;
        use std::path::PathBuf;

        /// An editor script in a test directory. It is called as `<script> <record> <file>`:
        /// it writes the file's path and permission checks to `record`, then runs `body`.
        struct ScriptedEditor {
            directory: tempfile::TempDir,
        }

        impl ScriptedEditor {
            fn new(body: &str) -> Self {
                let directory = tempfile::tempdir().unwrap();
                let script = directory.path().join("editor.sh");
                let text = format!(
                    "#!/bin/sh\n\
                     record=\"$1\"; file=\"$2\"\n\
                     echo \"$file\" > \"$record\"\n\
                     find \"$file\" -perm 600 >> \"$record\"\n\
                     find \"$(dirname \"$file\")\" -prune -perm 700 >> \"$record\"\n\
                     {body}\n"
                );
                fs::write(&script, text).unwrap();
                fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
                ScriptedEditor { directory }
            }

            /// The editor command line, with an extra argument before the file like `code --wait`.
            fn command(&self) -> String {
                format!("{} {}", self.script().display(), self.record().display())
            }

            fn script(&self) -> PathBuf {
                self.directory.path().join("editor.sh")
            }

            fn record(&self) -> PathBuf {
                self.directory.path().join("record")
            }

            /// The edited file's path, after checking it was private and is gone now.
            fn edited_file_was_private_and_removed(&self) {
                let record = fs::read_to_string(self.record()).unwrap();
                let lines: Vec<&str> = record.lines().collect();
                assert_eq!(
                    lines.len(),
                    3,
                    "file 0600 and directory 0700 expected: {record}"
                );
                let file = Path::new(lines[0]);
                assert!(file.ends_with(FILE_NAME));
                assert!(!file.exists());
                assert!(
                    !file.parent().unwrap().exists(),
                    "the private directory remains"
                );
            }
        }

        #[test]
        fn a_saved_value_is_returned_and_the_file_removed() {
            let editor = ScriptedEditor::new(
                "{ printf 'line one\\nline two\\n\\n'; cat \"$file\"; } > \"$file.new\" \
                 && mv \"$file.new\" \"$file\"",
            );
            let value = edit_value_with(&editor.command()).unwrap();
            assert_eq!(value, text("line one\nline two"));
            editor.edited_file_was_private_and_removed();
        }

        #[test]
        fn quitting_without_saving_aborts() {
            let editor = ScriptedEditor::new("exit 0");
            let error = edit_value_with(&editor.command()).unwrap_err();
            assert!(matches!(error, EditorError::Unchanged), "{error}");
            editor.edited_file_was_private_and_removed();
        }

        #[test]
        fn a_failing_editor_aborts_with_its_exit_status() {
            let editor = ScriptedEditor::new("printf 'typed\\n' > \"$file\"; exit 3");
            let error = edit_value_with(&editor.command()).unwrap_err();
            assert!(matches!(error, EditorError::Failed { .. }), "{error}");
            assert!(error.to_string().contains("exit status: 3"), "{error}");
            editor.edited_file_was_private_and_removed();
        }

        #[test]
        fn an_interrupted_editor_aborts_and_cleans_up() {
            // If SIGINT were still ignored in the editor, it would survive and exit 0.
            let editor = ScriptedEditor::new("printf 'typed\\n' > \"$file\"; kill -INT $$; exit 0");
            let error = edit_value_with(&editor.command()).unwrap_err();
            assert!(matches!(error, EditorError::Failed { .. }), "{error}");
            editor.edited_file_was_private_and_removed();
        }

        #[test]
        fn a_vi_that_links_to_vim_is_vim_and_one_that_does_not_is_not() {
            let directory = tempfile::tempdir().unwrap();
            let vim = directory.path().join("vim.basic");
            let busybox = directory.path().join("busybox");
            for program in [&vim, &busybox] {
                fs::write(program, "#!/bin/sh\n").unwrap();
            }
            let vi = directory.path().join("links").join("vi");
            fs::create_dir(vi.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&vim, &vi).unwrap();
            assert!(is_vim(&format!("{} -p", vi.display())));
            fs::remove_file(&vi).unwrap();
            std::os::unix::fs::symlink(&busybox, &vi).unwrap();
            assert!(!is_vim(&vi.display().to_string()));
        }

        #[test]
        fn a_missing_editor_is_reported_as_not_started() {
            let directory = tempfile::tempdir().unwrap();
            let missing = directory.path().join("no-such-editor");
            let error = edit_value_with(&missing.display().to_string()).unwrap_err();
            assert!(matches!(error, EditorError::NotStarted { .. }), "{error}");
            assert!(error.to_string().contains("EDITOR"), "{error}");
        }

        #[test]
        fn interrupts_are_ignored_only_while_the_editor_runs() {
            fn disposition(signal: libc::c_int) -> libc::sighandler_t {
                // SAFETY: a null new action only reads the current one.
                unsafe {
                    let mut current: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(signal, std::ptr::null(), &mut current);
                    current.sa_sigaction
                }
            }
            let mut command = Command::new("true");
            let guard = interrupts::SignalGuard::while_child_runs(&mut command);
            assert_eq!(disposition(libc::SIGINT), libc::SIG_IGN);
            assert_eq!(disposition(libc::SIGQUIT), libc::SIG_IGN);
            assert_ne!(disposition(libc::SIGTERM), libc::SIG_DFL);
            assert_eq!(guard.termination(), None);
            drop(guard);
            // With no editor running, the harness's default dispositions are back.
            let _no_editor_running = interrupts::EDITOR_RUNNING.lock();
            assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
            assert_eq!(disposition(libc::SIGQUIT), libc::SIG_DFL);
            assert_eq!(disposition(libc::SIGTERM), libc::SIG_DFL);
        }
    }
}
