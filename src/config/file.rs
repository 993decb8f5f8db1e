//! The config file as a whole: load it, look at profiles, change keys line by line, and save it
//! under a cross-process lock, atomically, with mode 0600 or stricter.

use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::ConfigError;
use super::ini::Document;
use super::lock::{FileLock, LOCK_WAIT};
use super::writable::{is_writable, parent_directory};
use crate::secret::Secret;

/// Symbolic links followed before giving up (the usual kernel limit).
const MAX_SYMLINK_HOPS: usize = 40;
/// How long a rename over the config file may wait for a reader on Windows.
const REPLACE_PATIENCE: Duration = Duration::from_secs(2);

/// A loaded config file. A file that does not exist loads as an empty one; `update` creates it.
#[derive(Debug, Clone)]
pub struct ProfileFile {
    path: PathBuf,
    document: Document,
}

impl ProfileFile {
    pub fn load(path: &Path) -> Result<ProfileFile, ConfigError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        Self::from_bytes(path, &bytes)
    }

    /// Parses `bytes` as the content of the file at `path` (which is not read).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<ProfileFile, ConfigError> {
        let document = Document::parse(bytes).map_err(|error| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: error.line,
            problem: error.problem,
        })?;
        Ok(ProfileFile {
            path: path.to_path_buf(),
            document,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Profile (section) names in file order, `DEFAULT` included when present.
    pub fn profile_names(&self) -> Vec<String> {
        let names = self.document.section_names();
        names.into_iter().map(str::to_string).collect()
    }

    /// Profile names are case-sensitive, as in configparser.
    pub fn has_profile(&self, profile: &str) -> bool {
        self.document.has_section(profile)
    }

    /// The value of `key` (case-insensitive) in `profile`; profiles do not inherit from `DEFAULT`.
    pub fn get(&self, profile: &str, key: &str) -> Option<String> {
        self.document.get(profile, key)
    }

    /// Sets one key, changing only the lines it must (see [`Document::set`]).
    pub fn set(&mut self, profile: &str, key: &str, value: &str) -> Result<(), ConfigError> {
        check_profile_name(profile)?;
        check_key(key)?;
        check_value(key, value)?;
        self.document.set(profile, key, value);
        Ok(())
    }

    pub fn remove(&mut self, profile: &str, key: &str) {
        self.document.remove(profile, key);
    }

    /// Removes the whole profile (`auth logout --delete`).
    pub fn remove_profile(&mut self, profile: &str) {
        self.document.remove_section(profile);
    }

    /// What `databricks configure` writes: `host` and `token`, and `insecure = true` when asked
    /// (else `insecure` is removed, as the legacy CLI does); `username`/`password` are removed so
    /// the token is what authenticates.
    pub fn set_token_auth(
        &mut self,
        profile: &str,
        host: &str,
        token: &Secret,
        insecure: bool,
    ) -> Result<(), ConfigError> {
        self.set(profile, "host", host)?;
        self.set(profile, "token", token.expose())?;
        if insecure {
            self.set(profile, "insecure", "true")?;
        } else {
            self.remove(profile, "insecure");
        }
        self.remove(profile, "username");
        self.remove(profile, "password");
        Ok(())
    }

    /// The file's content as it would be saved.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.document.to_bytes()
    }

    /// Reads the file at `path`, applies `change` and saves the result, holding the file's lock
    /// (see [`FileLock`]) for the whole cycle so that concurrent updates never lose each other's
    /// changes. Nothing is written when `change` fails.
    pub fn update(
        path: &Path,
        change: impl FnOnce(&mut ProfileFile) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        let write_error = |error| ConfigError::Write {
            path: path.to_path_buf(),
            error,
        };
        let target = follow_symlinks(path).map_err(write_error)?;
        fs::create_dir_all(parent_directory(&target)).map_err(write_error)?;
        let _lock = FileLock::acquire(&target, LOCK_WAIT)?;
        let mut file = ProfileFile::load(path)?;
        change(&mut file)?;
        file.save_to(&target)
    }

    /// Replaces `target` (the file `self.path` finally names) with this content: atomically
    /// through a temporary file and a rename when its directory is writable, else in place. The
    /// owner, group and a mode stricter than 0600 are kept; a read-only file is refused.
    fn save_to(&self, target: &Path) -> Result<(), ConfigError> {
        let write_error = |error| ConfigError::Write {
            path: self.path.clone(),
            error,
        };
        let existing = match fs::metadata(target) {
            Ok(metadata) => Some(metadata),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(write_error(error)),
        };
        let bytes = self.to_bytes();
        match &existing {
            Some(_) if !is_writable(target) => Err(ConfigError::ReadOnly {
                path: self.path.clone(),
            }),
            Some(metadata) if !is_writable(parent_directory(target)) => {
                write_in_place(target, &bytes, metadata).map_err(write_error)
            }
            _ => write_atomically(target, &bytes, existing.as_ref()).map_err(write_error),
        }
    }
}

fn check_profile_name(profile: &str) -> Result<(), ConfigError> {
    if profile.is_empty() || profile.chars().any(char::is_control) {
        return Err(ConfigError::Unwritable {
            what: format!("profile name {profile:?}"),
            reason: "a profile name must be non-empty, on one line, without control characters",
        });
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), ConfigError> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if key.is_empty() || !key.chars().all(plain) {
        return Err(ConfigError::Unwritable {
            what: format!("key {key:?}"),
            reason: "keys are written as lower-case letters, digits and `_`",
        });
    }
    Ok(())
}

/// The value is never shown: it may be a token.
fn check_value(key: &str, value: &str) -> Result<(), ConfigError> {
    let unreadable = value.contains(['\r', '\n', '\0']) || value.trim() != value;
    if unreadable {
        return Err(ConfigError::Unwritable {
            what: format!("the {key}"),
            reason: "it must be one line without surrounding spaces or NUL characters",
        });
    }
    Ok(())
}

/// The file a path finally names, following symbolic links (a dangling link names the file it
/// would create).
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) => parent.join(link),
                    None => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn write_atomically(path: &Path, bytes: &[u8], existing: Option<&Metadata>) -> io::Result<()> {
    let directory = parent_directory(path);
    // tempfile creates the file with mode 0600 and removes it if we fail before the rename.
    let mut temporary = tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
        .tempfile_in(directory)?;
    temporary.write_all(bytes)?;
    if let Some(metadata) = existing {
        keep_owner(temporary.as_file(), metadata);
    }
    restrict_mode(temporary.as_file(), existing)?;
    temporary.as_file().sync_all()?;
    let temporary = temporary.into_temp_path();
    replace(&temporary, path)?;
    // Nothing is left to remove: dropping the renamed path's guard finds no file.
    drop(temporary);
    sync_directory(directory);
    Ok(())
}

/// Renames `temporary` over `path`. On Windows a process that has `path` open at that instant
/// (another `databricks` reading its profile, a virus scanner) can make the rename fail with
/// "Access denied" for a moment, so that is retried for up to [`REPLACE_PATIENCE`]. (std's
/// rename, not tempfile's persist: it replaces an open file where Windows allows it.)
fn replace(temporary: &Path, path: &Path) -> io::Result<()> {
    let started = Instant::now();
    loop {
        match fs::rename(temporary, path) {
            Err(error)
                if cfg!(windows)
                    && error.kind() == io::ErrorKind::PermissionDenied
                    && started.elapsed() < REPLACE_PATIENCE =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// `<name>.tmp` followed by random characters, beside the file: named after the file it
/// replaces, so a leftover from a crash says what it was.
fn temporary_prefix(path: &Path) -> std::ffi::OsString {
    let mut prefix = path.file_name().unwrap_or_default().to_os_string();
    prefix.push(".tmp");
    prefix
}

/// For a file whose directory cannot take a temporary file: not atomic, but under the lock no
/// other writer interleaves.
fn write_in_place(path: &Path, bytes: &[u8], existing: &Metadata) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)?;
    restrict_mode(&file, Some(existing))?;
    file.sync_all()
}

/// Gives the replacement the replaced file's owner and group, where this process may.
#[cfg(unix)]
fn keep_owner(file: &fs::File, existing: &Metadata) {
    use std::os::unix::fs::MetadataExt;
    // Refused (EPERM) unless we are root or keep our own user and one of our groups: then the
    // file is ours, as it would be after any editor's save.
    let _ = std::os::unix::fs::fchown(file, Some(existing.uid()), Some(existing.gid()));
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _existing: &Metadata) {}

/// Mode 0600 for a new file; for an existing one its own mode without group and other bits
/// (never looser than 0600, a stricter one kept), and writable by its owner.
#[cfg(unix)]
fn restrict_mode(file: &fs::File, existing: Option<&Metadata>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = existing.map_or(0o600, |metadata| {
        metadata.permissions().mode() & 0o600 | 0o200
    });
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict_mode(_file: &fs::File, _existing: Option<&Metadata>) -> io::Result<()> {
    Ok(())
}

/// Makes the rename durable; best effort, since the new content is already safely in place.
#[cfg(unix)]
fn sync_directory(directory: &Path) {
    if let Ok(handle) = fs::File::open(directory) {
        let _ = handle.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini::NEW_FILE_NEWLINE;

    fn write(path: &Path, text: &str) {
        fs::write(path, text).unwrap();
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_missing_file_loads_empty_and_save_creates_it() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sub").join(".databrickscfg");
        assert!(ProfileFile::load(&path).unwrap().profile_names().is_empty());
        ProfileFile::update(&path, |file| {
            file.set_token_auth("DEFAULT", "https://h", &Secret::new("t"), false)
        })
        .unwrap();
        let expected = "[DEFAULT]\nhost = https://h\ntoken = t\n";
        assert_eq!(read(&path), expected.replace('\n', NEW_FILE_NEWLINE));
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn set_token_auth_replaces_basic_auth_and_keeps_the_rest() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        let text = "# team config\n[dev]\nhost = https://old\nusername = me\npassword = pw\n\
                    jobs-api-version = 2.1\n\n[prod]\nhost = https://prod\ntoken = p\n";
        write(&path, text);
        ProfileFile::update(&path, |file| {
            file.set_token_auth("dev", "https://new", &Secret::new("dapi9"), true)
        })
        .unwrap();
        assert_eq!(
            read(&path),
            "# team config\n[dev]\nhost = https://new\njobs-api-version = 2.1\ntoken = dapi9\n\
             insecure = true\n\n[prod]\nhost = https://prod\ntoken = p\n"
        );
        ProfileFile::update(&path, |file| {
            file.set_token_auth("dev", "https://new", &Secret::new("dapi9"), false)
        })
        .unwrap();
        assert!(!read(&path).contains("insecure"));
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        write(&path, "[a]\nhost = h\n");
        let error = ProfileFile::update(&path, |file| {
            file.set("a", "host", "x")?;
            file.set("a", "token", "two\nlines")
        })
        .unwrap_err();
        assert!(matches!(error, ConfigError::Unwritable { .. }), "{error}");
        assert_eq!(read(&path), "[a]\nhost = h\n");
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line_but_not_the_line() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        write(&path, "[a]\nhost = h\ndapi-secret-token\n");
        let message = ProfileFile::load(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(!message.contains("dapi-secret-token"), "{message}");
    }

    #[test]
    fn an_unreadable_path_is_a_read_error() {
        let directory = tempfile::tempdir().unwrap();
        let error = ProfileFile::load(directory.path()).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
    }

    #[test]
    fn values_that_would_not_read_back_are_refused_without_showing_them() {
        let mut file = ProfileFile::from_bytes(Path::new("cfg"), b"").unwrap();
        for value in ["two\nlines", " padded", "nul\0"] {
            let error = file.set("a", "token", value).unwrap_err();
            assert!(matches!(error, ConfigError::Unwritable { .. }));
            assert!(!error.to_string().contains(value.trim()), "{error}");
        }
        assert!(file.set("", "host", "h").is_err());
        assert!(file.set("a\nb", "host", "h").is_err());
        assert!(file.set("a", "Host", "h").is_err());
        assert!(file.set("a", "ho=st", "h").is_err());
        assert!(file.to_bytes().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn saving_tightens_a_loose_mode_and_leaves_only_the_lock_file() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        write(&path, "[DEFAULT]\nhost = https://h\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        ProfileFile::update(&path, |file| file.set("DEFAULT", "token", "t")).unwrap();
        assert_eq!(mode(&path), 0o600);
        let mut names: Vec<_> = fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["cfg", "cfg.lock"]);
        assert_eq!(mode(&directory.path().join("cfg.lock")), 0o600);
    }

    #[test]
    fn the_temporary_file_is_named_after_the_file() {
        assert_eq!(
            temporary_prefix(Path::new("/h/.databrickscfg")),
            ".databrickscfg.tmp"
        );
        assert_eq!(temporary_prefix(Path::new("team.cfg")), "team.cfg.tmp");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_updated_through_its_target() {
        let directory = tempfile::tempdir().unwrap();
        let real = directory.path().join("dotfiles").join("databrickscfg");
        fs::create_dir(real.parent().unwrap()).unwrap();
        write(&real, "[DEFAULT]\nhost = https://h\n");
        let link = directory.path().join(".databrickscfg");
        std::os::unix::fs::symlink("dotfiles/databrickscfg", &link).unwrap();
        ProfileFile::update(&link, |file| file.set("DEFAULT", "token", "t")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read(&real), "[DEFAULT]\nhost = https://h\ntoken = t\n");
        assert_eq!(mode(&real), 0o600);
    }

    #[test]
    fn concurrent_updates_of_different_profiles_all_survive() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        std::thread::scope(|scope| {
            for writer in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    let profile = format!("p{writer}");
                    ProfileFile::update(path, |file| file.set(&profile, "host", "https://h"))
                        .unwrap();
                });
            }
        });
        let file = ProfileFile::load(&path).unwrap();
        assert_eq!(file.profile_names().len(), 8);
    }
}
