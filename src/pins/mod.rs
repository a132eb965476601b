//! Pins: the approved stable fingerprint of every tool and prompt definition, per account and
//! server, kept in a JSON file the operator commits (`capabilities.pins`). This module owns
//! the file's format (read into compact tables, written in a stable order so it diffs well),
//! the reload when the file changes, and what drifts from it. `pins export` writes the file
//! from a listing, `pins diff` and the daemon compare a listing with it.
//!
//! The format, version 1 (`docs/pins.md` is the reference):
//!
//! ```json
//! {
//!   "version": 1,
//!   "hash": "sha256",
//!   "canonical_form": 1,
//!   "accounts": {
//!     "<account id>": {
//!       "<server id>": {
//!         "prompt:<name>": "<64 hex digits>",
//!         "tool:<name>": "<64 hex digits>"
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! 200,000 definitions are held as one front-coded table per server (32 bytes of hash and
//! the name's new bytes per definition), read from the file as a stream: never as JSON
//! values, never the whole text at once.

mod file;
mod format;

use std::collections::HashMap;

use crate::definitions::stable::StableTable;
use crate::definitions::table::Change;

pub use file::{load, PinFile};
pub use format::write;

/// Why a pin file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pin file {path}: {reason}")]
pub struct PinError {
    /// The file.
    pub path: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

/// The pins of every account and server, as read from a pin file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PinSet {
    accounts: HashMap<String, HashMap<Box<str>, StableTable>>,
}

impl PinSet {
    /// The pins of one server, if it has any.
    pub fn get(&self, account: &str, server: &str) -> Option<&StableTable> {
        self.accounts.get(account)?.get(server)
    }

    /// How many definitions are pinned.
    pub fn definitions(&self) -> usize {
        self.accounts
            .values()
            .flat_map(|s| s.values())
            .map(StableTable::len)
            .sum()
    }

    /// How many servers have pins.
    pub fn servers(&self) -> usize {
        self.accounts.values().map(HashMap::len).sum()
    }

    /// Bytes the tables hold (for the benchmark).
    pub fn size(&self) -> usize {
        self.accounts
            .values()
            .flat_map(|s| s.iter())
            .map(|(id, t)| id.len() + t.size())
            .sum()
    }

    /// The pinned servers of an account, in id order.
    pub fn servers_of(&self, account: &str) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .accounts
            .get(account)
            .map(|s| s.keys().map(|k| &**k).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    fn insert(&mut self, account: &str, server: String, table: StableTable) -> bool {
        self.accounts
            .entry(account.to_owned())
            .or_default()
            .insert(server.into_boxed_str(), table)
            .is_none()
    }
}

/// A pin file's bytes, read as the daemon reads the file (the fuzz target's door).
#[cfg(any(test, feature = "fake"))]
pub fn parse(bytes: &[u8]) -> Result<PinSet, String> {
    format::read(bytes)
}

/// What drifts in a server's definitions from its pins: a server without pins has every
/// definition added.
pub fn drift(current: &StableTable, pinned: Option<&StableTable>) -> Change {
    match pinned {
        Some(p) => current.diff(p),
        None => current.diff(&crate::definitions::table::Labels::<32>::default().table()),
    }
}

#[cfg(test)]
#[path = "../../tests/unit/pins.rs"]
mod tests;
