//! The servers of one account, in one vector sorted by id (a `BTreeMap` keeps its nodes a
//! third empty and a second copy of every id as the key), found by binary search, iterated in
//! id order. Each server is behind an `Arc`, so a new view made from the published one (a
//! listing that failed, the end of a first cycle) copies pointers, not servers: a server is
//! copied only when a record changes it while a reader still holds the old view.

use std::ops::Index;
use std::sync::Arc;

use super::{Action, ServerInfo, ServerState};

/// Servers moved from the listing between two shrinks of it.
const RELIST_BATCH: usize = 1024;

/// The servers of one account, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Servers(Vec<Arc<ServerState>>);

impl Servers {
    /// The servers of a complete listing, each with its action of this cycle and with what
    /// `old` knew of it under the same id (its counters and last sync); the listing's values
    /// replace the rest. Ids are unique (the walk drops repeats); were one repeated, one
    /// entry would be kept.
    ///
    /// The listing is moved over in batches and shrunk after each, so the account's servers
    /// are held about once while the new vector fills (plus `old`, which readers may still
    /// hold).
    pub fn relisted(listed: Vec<(ServerInfo, Action)>, old: &Servers) -> Self {
        let mut listed = listed;
        let mut new = Vec::with_capacity(listed.len());
        while !listed.is_empty() {
            let from = listed.len().saturating_sub(RELIST_BATCH);
            for (info, last_action) in listed.drain(from..) {
                new.push(Arc::new(match old.get(&info.id) {
                    Some(o) => ServerState {
                        info,
                        consecutive_failures: o.consecutive_failures,
                        syncs_total: o.syncs_total,
                        failures_total: o.failures_total,
                        retries: o.retries,
                        last_action,
                        last_sync: o.last_sync.clone(),
                        last_attempts: 0,
                        capability_changes: o.capability_changes,
                        capabilities_changed_at: o.capabilities_changed_at,
                        backoff_until: None,
                    },
                    None => ServerState {
                        info,
                        last_action,
                        ..ServerState::default()
                    },
                }));
            }
            listed.shrink_to_fit();
        }
        // In place: a stable sort would borrow half the vector again.
        new.sort_unstable_by(|a, b| a.info.id.cmp(&b.info.id));
        new.dedup_by(|b, a| a.info.id == b.info.id);
        Self(new)
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.0.binary_search_by(|s| (*s.info.id).cmp(id)).ok()
    }

    /// The server with this id.
    pub fn get(&self, id: &str) -> Option<&ServerState> {
        self.position(id).map(|i| &*self.0[i])
    }

    /// The server with this id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut ServerState> {
        self.position(id).map(|i| Arc::make_mut(&mut self.0[i]))
    }

    /// Removes the server with this id.
    pub fn remove(&mut self, id: &str) -> Option<ServerState> {
        self.position(id)
            .map(|i| Arc::unwrap_or_clone(self.0.remove(i)))
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The servers in id order.
    pub fn values(&self) -> impl Iterator<Item = &ServerState> {
        self.0.iter().map(|s| &**s)
    }

    /// `(id, server)` in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ServerState)> {
        self.0.iter().map(|s| (&*s.info.id, &**s))
    }

    /// The ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &*s.info.id)
    }

    /// Whether there is a server with this id.
    pub fn contains_key(&self, id: &str) -> bool {
        self.position(id).is_some()
    }
}

impl<'a> IntoIterator for &'a Servers {
    type Item = (&'a str, &'a ServerState);
    type IntoIter = Box<dyn Iterator<Item = Self::Item> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// The server with this id; panics when there is none, as a map's index does.
impl Index<&str> for Servers {
    type Output = ServerState;

    fn index(&self, id: &str) -> &ServerState {
        match self.get(id) {
            Some(s) => s,
            None => panic!("no server {id:?}"),
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/state/servers.rs"]
mod tests;
