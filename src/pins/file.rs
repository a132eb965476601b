//! The pin file in use, read again when it changes (a ConfigMap update swaps the file, as a
//! rotated Secret swaps a credential file): checked by its stamp before each cycle, never
//! re-read when unchanged. A file that no longer loads keeps the last good pins in use and
//! says so once, in the log and in [`PinStatus`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing::{error, info};

use super::{PinError, PinSet};
use crate::secret::{stamp, Stamp};
use crate::state::PinStatus;

/// A pin file, loaded, and reloaded when it changes.
#[derive(Debug)]
pub struct PinFile {
    path: PathBuf,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    stamp: Option<Stamp>,
    pins: Arc<PinSet>,
    generation: u32,
    status: PinStatus,
}

/// Reads the pin file at `path`.
pub fn load(path: &Path) -> Result<PinSet, PinError> {
    let fail = |reason: String| PinError {
        path: path.display().to_string(),
        reason,
    };
    let f = std::fs::File::open(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    super::format::read(f).map_err(fail)
}

impl PinFile {
    /// Loads the file at `path` (one that does not load is an error).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PinError> {
        let path = path.into();
        let before = stamp(&path).ok();
        let pins = load(&path)?;
        let status = PinStatus {
            ok: true,
            last_success: Some(SystemTime::now()),
            definitions: pins.definitions(),
            servers: pins.servers(),
        };
        Ok(Self {
            path,
            current: Mutex::new(Current {
                stamp: before,
                pins: Arc::new(pins),
                generation: 1,
                status,
            }),
        })
    }

    /// The pins to use now, and their generation (it grows with each reload that loaded),
    /// reading the file again first if it changed.
    pub fn current(&self) -> (Arc<PinSet>, u32) {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamp(&self.path).ok();
        if now != cur.stamp {
            cur.stamp = now;
            match load(&self.path) {
                Ok(pins) => {
                    cur.generation = cur.generation.wrapping_add(1);
                    cur.status = PinStatus {
                        ok: true,
                        last_success: Some(SystemTime::now()),
                        definitions: pins.definitions(),
                        servers: pins.servers(),
                    };
                    info!(file = %self.path.display(), servers = cur.status.servers, definitions = cur.status.definitions, "pin file reloaded; every server's drift is judged again at the next listing");
                    cur.pins = Arc::new(pins);
                }
                Err(e) => {
                    cur.status.ok = false;
                    error!(error = %e, "pin file not reloaded; the last good pins stay in use");
                }
            }
        }
        (cur.pins.clone(), cur.generation)
    }

    /// How the last load went.
    pub fn status(&self) -> PinStatus {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status
    }
}
