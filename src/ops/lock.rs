//! The run lock that keeps two cycles from running at once against one register file, and the
//! error every backend's run lock reports.
//!
//! For a SQLite register it is an OS file lock on `<register>.lock`: the operating system
//! releases it when the process ends in any way, so a run killed mid-cycle never blocks the next
//! one. A register on a server uses a lock the server holds instead (`register::postgres`).

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Held while a cycle runs; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another alfa-calltouch run is active (lock {path}, held by {holder}); this run sends nothing and exits")]
    Busy { path: String, holder: String },
    #[error("cannot take the run lock {place}: {message}")]
    Server { place: String, message: String },
    #[error("cannot create the lock file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl RunLock {
    /// Takes the lock beside the register file, or says who holds it.
    pub fn acquire(register_path: &Path) -> Result<RunLock, LockError> {
        let mut path = register_path.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let io_error = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = crate::ops::privacy::open_owner_only(&path).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .filter(|text| !text.trim().is_empty())
                    .unwrap_or_else(|| "an unknown process".to_string());
                return Err(LockError::Busy {
                    path: path.display().to_string(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(error)) => return Err(io_error(error)),
        }
        // Who holds it, for the message a second run prints.
        file.set_len(0).map_err(io_error)?;
        write!(
            file,
            "pid {} since {}",
            std::process::id(),
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
        )
        .map_err(io_error)?;
        Ok(RunLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_released() {
        let dir = std::env::temp_dir().join(format!("alfa-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let register = dir.join("register.sqlite");
        let first = RunLock::acquire(&register).unwrap();
        let second = RunLock::acquire(&register).unwrap_err();
        assert!(
            matches!(&second, LockError::Busy { holder, .. } if holder.contains(&std::process::id().to_string())),
            "{second}"
        );
        drop(first);
        assert!(RunLock::acquire(&register).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
