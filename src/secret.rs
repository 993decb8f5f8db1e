//! Types for tokens and secret values whose `Debug` never shows the content and whose memory is
//! overwritten with zeros when they are dropped.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Text that must never be printed: a token, a password or a string secret value.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The clear text; call only where it is sent or written to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Bytes that must never be printed: a binary secret value.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SecretBytes(bytes.into())
    }

    /// The raw bytes; call only where they are sent or written to their destination.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived `Drop` runs `zeroize`, which must clear all of the content.
    #[test]
    fn content_is_wiped_on_drop() {
        fn wiped<T: ZeroizeOnDrop + Zeroize>(mut secret: T) -> T {
            secret.zeroize();
            secret
        }
        assert_eq!(wiped(Secret::new("dapi123")).expose(), "");
        assert_eq!(wiped(SecretBytes::new(b"hunter2".to_vec())).len(), 0);
    }

    #[test]
    fn debug_never_shows_the_content() {
        assert_eq!(format!("{:?}", Secret::new("dapi123")), "Secret(***)");
        assert_eq!(
            format!("{:?}", SecretBytes::new(b"hunter2".to_vec())),
            "SecretBytes(7 bytes)"
        );
    }
}
