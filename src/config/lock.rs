//! An exclusive cross-process lock for a read-modify-write of one file.
//!
//! The lock is an OS advisory lock (flock on Unix, LockFileEx on Windows) on a lock file beside
//! the file it guards, `<name>.lock`, so that replacing the guarded file by rename does not lose
//! the lock. The OS releases it when the holder closes it or dies, so a killed process never
//! leaves a lock behind; the lock file itself stays (removing it would let two processes lock
//! two different files of the same name). When the directory is not writable, the guarded file
//! itself is locked: it can then only be rewritten in place, so it stays the same file.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::writable::{is_writable, parent_directory};

/// How long to wait for another process's read-modify-write: each takes milliseconds, so a
/// lock held this long belongs to a process that is stuck.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Pause between attempts; randomised so that waiting processes do not retry in step.
const RETRY_PAUSE_MS: std::ops::Range<u64> = 5..25;

#[derive(thiserror::Error, Debug)]
pub enum LockError {
    #[error(
        "another process has held the lock {} for {} s; wait for the other `databricks` \
         command to finish, then run this again",
        lock_path.display(),
        waited.as_secs()
    )]
    TimedOut {
        lock_path: PathBuf,
        waited: Duration,
    },

    #[error("cannot lock {}: {error}; check the permissions of its directory", lock_path.display())]
    Io {
        lock_path: PathBuf,
        error: io::Error,
    },
}

/// Held while it lives; dropping it (or the process ending in any way) releases the lock.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Locks `guarded` (the file about to be read, changed and replaced), waiting up to `wait`.
    pub fn acquire(guarded: &Path, wait: Duration) -> Result<FileLock, LockError> {
        if !is_writable(parent_directory(guarded)) && guarded.is_file() {
            return Self::acquire_on(File::open(guarded), guarded, wait);
        }
        let lock_path = lock_path_for(guarded);
        Self::acquire_on(open_lock_file(&lock_path), &lock_path, wait)
    }

    fn acquire_on(
        file: io::Result<File>,
        lock_path: &Path,
        wait: Duration,
    ) -> Result<FileLock, LockError> {
        let io_error = |error| LockError::Io {
            lock_path: lock_path.to_path_buf(),
            error,
        };
        let file = file.map_err(io_error)?;
        let started = Instant::now();
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(FileLock { _file: file }),
                Err(fs4::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(fastrand::u64(RETRY_PAUSE_MS)));
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(LockError::TimedOut {
                        lock_path: lock_path.to_path_buf(),
                        waited: started.elapsed(),
                    });
                }
                Err(fs4::TryLockError::Error(error)) => return Err(io_error(error)),
            }
        }
    }
}

/// `<dir>/<name>.lock` for `<dir>/<name>`.
pub fn lock_path_for(guarded: &Path) -> PathBuf {
    let mut name = guarded.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    guarded.with_file_name(name)
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_is_named_after_the_guarded_file() {
        assert_eq!(
            lock_path_for(Path::new("/home/me/.databrickscfg")),
            Path::new("/home/me/.databrickscfg.lock")
        );
        assert_eq!(lock_path_for(Path::new("cfg")), Path::new("cfg.lock"));
    }

    #[test]
    fn a_second_holder_waits_and_then_gets_a_clear_error() {
        let directory = tempfile::tempdir().unwrap();
        let guarded = directory.path().join("cfg");
        let held = FileLock::acquire(&guarded, LOCK_WAIT).unwrap();
        let error = FileLock::acquire(&guarded, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(error, LockError::TimedOut { .. }), "{error}");
        assert!(error.to_string().contains("cfg.lock"), "{error}");
        drop(held);
        FileLock::acquire(&guarded, Duration::ZERO).unwrap();
    }
}
