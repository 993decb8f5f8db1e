//! Whether a file or directory may be written, as its owner meant it.
//!
//! A permission check alone is not enough: root passes every check, yet a file or directory
//! whose mode has no write bit at all was made read-only on purpose and is treated as such.

use std::path::Path;

/// True when `path` has a write bit in its mode and this process may write it.
#[cfg(unix)]
pub fn is_writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    if metadata.permissions().mode() & 0o222 == 0 {
        return false;
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) == 0 }
}

/// True unless `path` is a file with the read-only attribute (Windows ignores the attribute on
/// directories).
#[cfg(not(unix))]
pub fn is_writable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_dir() || !metadata.permissions().readonly())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_mode_without_write_bits_is_read_only_even_for_root() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("f");
        fs::write(&file, "x").unwrap();
        assert!(is_writable(&file));
        assert!(is_writable(directory.path()));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
        assert!(!is_writable(&file));
        fs::set_permissions(directory.path(), fs::Permissions::from_mode(0o555)).unwrap();
        assert!(!is_writable(directory.path()));
        fs::set_permissions(directory.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!is_writable(&directory.path().join("missing")));
    }

    #[test]
    fn a_bare_name_is_in_the_current_directory() {
        assert_eq!(parent_directory(Path::new("cfg")), Path::new("."));
        assert_eq!(parent_directory(Path::new("/a/cfg")), Path::new("/a"));
    }
}
