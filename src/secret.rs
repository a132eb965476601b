//! A string that must never be printed: API tokens and keys.
//!
//! `Debug` and `Display` print a mask, so a secret cannot leak through a log line, an
//! error, `check-config` or a debug dump by accident; only [`Secret::expose`] reveals it,
//! and only the HTTP client calls that.
//!
//! A secret given as a file (`*_FILE`, container secrets) is read again when the file
//! changes, so a rotated Kubernetes Secret takes effect at the next request without a
//! restart. A file that becomes unreadable or empty keeps the last good value (and says so
//! in the log) rather than sending an empty credential.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A secret value. Compare and clone freely; print only the mask.
#[derive(Clone)]
pub struct Secret(Source);

#[derive(Clone)]
enum Source {
    Value(Arc<str>),
    File(Arc<FileSecret>),
}

/// A secret read from a file, with what identified the file's version last read.
struct FileSecret {
    path: PathBuf,
    last: Mutex<Version>,
}

struct Version {
    stamp: Option<Stamp>,
    value: Arc<str>,
}

/// What tells one version of a file from the next without reading it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The stamp of the file at `path` (following symbolic links, as a Kubernetes volume swaps
/// them).
pub(crate) fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// Why a secret file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file could not be read.
    #[error("cannot read the secret file: {0}")]
    Read(#[from] std::io::Error),
    /// The file holds nothing but whitespace.
    #[error("the secret file is empty")]
    Empty,
}

fn read_value(path: &Path) -> Result<Arc<str>, SecretFileError> {
    let text = std::fs::read_to_string(path)?;
    let v = text.trim();
    if v.is_empty() {
        return Err(SecretFileError::Empty);
    }
    Ok(Arc::from(v))
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Source::Value(Arc::from(value.into())))
    }

    /// A secret held in the file at `path`, read now (an unreadable or empty file is an
    /// error) and again whenever the file changes.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, SecretFileError> {
        let path = path.into();
        let before = stamp(&path).ok();
        let value = read_value(&path)?;
        Ok(Self(Source::File(Arc::new(FileSecret {
            path,
            last: Mutex::new(Version {
                stamp: before,
                value,
            }),
        }))))
    }

    /// The value itself, for the one place that sends it. A file-backed secret is re-read
    /// first if its file changed.
    pub fn expose(&self) -> Arc<str> {
        match &self.0 {
            Source::Value(v) => v.clone(),
            Source::File(f) => f.current(),
        }
    }
}

impl FileSecret {
    fn current(&self) -> Arc<str> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamp(&self.path).ok();
        if now.is_none() || now == last.stamp {
            return last.value.clone();
        }
        match read_value(&self.path) {
            Ok(v) => {
                if v != last.value {
                    tracing::info!(path = %self.path.display(), "secret file changed; using the new value");
                }
                last.value = v;
                last.stamp = now;
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "secret file changed but cannot be used; keeping the previous value");
                last.stamp = now;
            }
        }
        last.value.clone()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Source::Value(a), Source::Value(b)) => a == b,
            (Source::File(a), Source::File(b)) => a.path == b.path,
            _ => false,
        }
    }
}

impl Eq for Secret {}

impl Hash for Secret {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            Source::Value(v) => v.hash(state),
            Source::File(f) => f.path.hash(state),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
#[path = "../tests/unit/secret.rs"]
mod tests;
