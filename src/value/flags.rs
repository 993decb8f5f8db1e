//! The value options of `put`.

use std::path::PathBuf;

/// The value options of `put`; at most one may be given.
#[derive(Debug, Clone, Default)]
pub struct ValueFlags {
    pub string_value: Option<String>,
    pub binary_file: Option<PathBuf>,
    pub bytes_value: Option<String>,
}

impl ValueFlags {
    pub(super) fn given_count(&self) -> usize {
        [
            self.string_value.is_some(),
            self.binary_file.is_some(),
            self.bytes_value.is_some(),
        ]
        .into_iter()
        .filter(|&given| given)
        .count()
    }
}
