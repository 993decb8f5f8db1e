//! Reading a value from a file (`--binary-file PATH`).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context as _;

use super::stdin::{read_bounded, read_stdin};

/// The file's bytes, exactly; `-` means stdin.
pub(super) fn read_file(path: PathBuf, stdin: impl Read) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        return read_stdin(stdin);
    }
    let file = File::open(&path)
        .with_context(|| format!("cannot open the value file {}", path.display()))?;
    read_bounded(file).with_context(|| format!("cannot read the value file {}", path.display()))
}
