//! The value options of `put`.

use std::path::PathBuf;

/// The value options of `put`. clap's `conflicts_with` rules on `put` let at most one through,
/// so no second check of that rule is made here.
#[derive(Debug, Clone, Default)]
pub struct ValueFlags {
    pub string_value: Option<String>,
    pub binary_file: Option<PathBuf>,
    pub bytes_value: Option<String>,
}
