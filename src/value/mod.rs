//! Where a secret value for `put` comes from: a flag ([`flags`]), a file ([`file`]), piped
//! stdin ([`stdin`]) or the editor ([`editor`]).

mod editor;
mod file;
mod flags;
mod stdin;

use std::io::{self, IsTerminal, Read};

use crate::api::{MAX_VALUE_BYTES, SecretValue};
use crate::secret::{Secret, SecretBytes};
use editor::EditorError;

pub use flags::ValueFlags;

/// A value option or value that breaks a rule: a mistake in how `put` was called, found
/// before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum InvalidValue {
    #[error(
        "the secret value is empty, nothing was sent: give a value with --string-value, \
         --binary-file PATH or --bytes-value, pipe it on standard input, or type it in the \
         editor"
    )]
    Empty,

    /// `size` is a number, or "more than N" when a bounded read stopped past the limit.
    #[error(
        "the secret value is {size} bytes, over the limit of {MAX_VALUE_BYTES} bytes; \
         nothing was sent"
    )]
    TooLarge { size: String },
}

/// Reads the value from the one source the spec's order picks:
/// `--string-value`, `--binary-file` (`-` = stdin), `--bytes-value`, piped stdin, the editor.
/// The value is checked to be non-empty and at most [`MAX_VALUE_BYTES`]; a broken rule is an
/// [`InvalidValue`] error.
pub fn read_value(flags: ValueFlags) -> anyhow::Result<SecretValue> {
    let stdin = io::stdin();
    let stdin_is_terminal = stdin.is_terminal();
    read_value_from(flags, stdin.lock(), stdin_is_terminal, editor::edit_value)
}

/// [`read_value`] with stdin and the editor passed in, so that tests need neither.
fn read_value_from(
    flags: ValueFlags,
    stdin: impl Read,
    stdin_is_terminal: bool,
    edit: impl FnOnce() -> Result<SecretValue, EditorError>,
) -> anyhow::Result<SecretValue> {
    let value = if let Some(text) = flags.string_value {
        SecretValue::Text(Secret::new(text))
    } else if let Some(path) = flags.binary_file {
        SecretValue::Bytes(SecretBytes::new(file::read_file(path, stdin)?))
    } else if let Some(text) = flags.bytes_value {
        SecretValue::Bytes(SecretBytes::new(text.into_bytes()))
    } else if !stdin_is_terminal {
        SecretValue::from_bytes(stdin::read_stdin(stdin)?)
    } else {
        edit()?
    };
    check_value(&value)?;
    Ok(value)
}

pub fn check_value(value: &SecretValue) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::Empty);
    }
    if value.len() > MAX_VALUE_BYTES {
        // A bounded read stops one byte past the limit, so its true size may be larger.
        let size = if value.len() == MAX_VALUE_BYTES + 1 {
            format!("more than {MAX_VALUE_BYTES}")
        } else {
            value.len().to_string()
        };
        return Err(InvalidValue::TooLarge { size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn no_editor() -> Result<SecretValue, EditorError> {
        panic!("the editor must not be started when a value is given")
    }

    fn read(
        flags: ValueFlags,
        stdin: &[u8],
        stdin_is_terminal: bool,
    ) -> anyhow::Result<SecretValue> {
        read_value_from(flags, stdin, stdin_is_terminal, no_editor)
    }

    fn text(value: &str) -> SecretValue {
        SecretValue::Text(Secret::new(value))
    }

    fn bytes(value: &[u8]) -> SecretValue {
        SecretValue::Bytes(SecretBytes::new(value.to_vec()))
    }

    fn string_flag(value: &str) -> ValueFlags {
        ValueFlags {
            string_value: Some(value.into()),
            ..ValueFlags::default()
        }
    }

    fn file_flag(path: impl Into<PathBuf>) -> ValueFlags {
        ValueFlags {
            binary_file: Some(path.into()),
            ..ValueFlags::default()
        }
    }

    #[test]
    fn string_value_is_sent_verbatim_as_text_and_wins_over_stdin() {
        let value = read(string_flag("  two words\n"), b"ignored", false).unwrap();
        assert_eq!(value, text("  two words\n"));
    }

    #[test]
    fn binary_file_is_read_exactly_as_bytes() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"caf\xc3\xa9\n\0\xff").unwrap();
        let value = read(file_flag(file.path()), b"", true).unwrap();
        assert_eq!(value, bytes(b"caf\xc3\xa9\n\0\xff"));
    }

    #[test]
    fn binary_file_dash_reads_stdin_even_from_a_terminal() {
        let value = read(file_flag("-"), b"piped\n", true).unwrap();
        assert_eq!(value, bytes(b"piped\n"));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_path() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("nope.bin");
        let error = read(file_flag(&path), b"", true).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn bytes_value_sends_the_argument_bytes() {
        let flags = ValueFlags {
            bytes_value: Some("é=1".into()),
            ..ValueFlags::default()
        };
        assert_eq!(read(flags, b"", true).unwrap(), bytes("é=1".as_bytes()));
    }

    #[test]
    fn piped_stdin_is_taken_byte_exact_as_text_or_bytes() {
        assert_eq!(
            read(ValueFlags::default(), b"line\n\n", false).unwrap(),
            text("line\n\n")
        );
        assert_eq!(
            read(ValueFlags::default(), b"\x00\x9f\x92\x96", false).unwrap(),
            bytes(b"\x00\x9f\x92\x96")
        );
    }

    #[test]
    fn a_terminal_stdin_opens_the_editor() {
        let value =
            read_value_from(ValueFlags::default(), &b""[..], true, || Ok(text("typed"))).unwrap();
        assert_eq!(value, text("typed"));
        let aborted = read_value_from(ValueFlags::default(), &b""[..], true, || {
            Err(EditorError::Unchanged)
        })
        .unwrap_err();
        assert!(
            aborted.to_string().contains("nothing was sent"),
            "{aborted}"
        );
    }

    #[test]
    fn an_empty_value_is_refused_with_how_to_give_one() {
        for (flags, stdin) in [
            (string_flag(""), &b""[..]),
            (ValueFlags::default(), &b""[..]),
            (file_flag("-"), &b""[..]),
        ] {
            let error = read(flags, stdin, false).unwrap_err();
            assert!(matches!(error.downcast_ref(), Some(InvalidValue::Empty)));
            let error = error.to_string();
            assert!(
                error.contains("empty") && error.contains("--string-value"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_limit_itself_is_accepted_and_one_byte_more_refused() {
        let at_limit = vec![b'a'; MAX_VALUE_BYTES];
        let value = read(ValueFlags::default(), &at_limit, false).unwrap();
        assert_eq!(value.len(), MAX_VALUE_BYTES);

        let over = "a".repeat(MAX_VALUE_BYTES + 5);
        let error = read(string_flag(&over), b"", true).unwrap_err();
        assert!(error.is::<InvalidValue>());
        let error = error.to_string();
        assert!(
            error.contains("131077 bytes") && error.contains("131072"),
            "{error}"
        );
    }

    #[test]
    fn an_endless_pipe_is_cut_after_the_limit() {
        let error = read_value_from(ValueFlags::default(), io::repeat(b'x'), false, no_editor)
            .unwrap_err()
            .to_string();
        assert!(error.contains("more than 131072 bytes"), "{error}");
    }
}
