//! Reading a value from standard input (piped, or `--binary-file -`).

use std::io::{self, Read};

use anyhow::Context as _;

use crate::api::MAX_VALUE_BYTES;

/// All of `stdin`, up to one byte past the value size limit.
pub(super) fn read_stdin(stdin: impl Read) -> anyhow::Result<Vec<u8>> {
    read_bounded(stdin).context("cannot read the value from standard input")
}

/// Reads at most one byte more than the limit, so an endless pipe cannot fill the memory and
/// an oversized value is still recognised.
pub(super) fn read_bounded(source: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source
        .take(MAX_VALUE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
