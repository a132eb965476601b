//! What the scheduler remembers between cycles, for its own decisions: each server's
//! failure streak and failure back-off, and each account's walk (whether its API honours
//! `per_page`, when a short last page was last proven, the ids of its last complete
//! listing, the anomalies its walks met), and each server's fingerprint of its tool and
//! prompt definitions and their last review. It is the scheduler's working memory, not what the daemon publishes
//! (that is `state`, which the scheduler writes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::review::{self, Reviewed};
use crate::definitions::table::{Capabilities, Change};
use crate::pins::PinSet;
use crate::state::BlockReason;
use crate::vocabulary::Anomaly;

/// One server's memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerMemory {
    /// Syncs that failed in a row.
    pub failures: u32,
    /// Not to be synced again before this.
    pub backoff_until: Option<Instant>,
    /// A sync answered success without saying whether it took effect: Cloudflare's
    /// `last_successful_sync` before it, for the next listing to be judged against.
    pub pending: Option<Pending>,
    /// Why the last complete listing's plan left it alone, when blocked.
    pub blocked: Option<BlockReason>,
}

/// A sync that answered success and awaits the next listing's judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Cloudflare's `last_successful_sync` when the sync was decided.
    pub before: Option<SystemTime>,
}

/// What the scheduler remembers of an account's walks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkMemory {
    /// The API was seen not to honour `per_page`: walk until an empty page.
    pub until_empty: bool,
    /// When a short last page was last proven by the page after it.
    pub proven_at: Option<Instant>,
}

/// A set of ids in one string: an account's last complete listing, kept between cycles in
/// one allocation rather than one per id.
#[derive(Debug, Default)]
struct IdSet {
    text: String,
    ends: Vec<usize>,
}

impl IdSet {
    fn new(ids: &HashSet<String>) -> Self {
        let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let mut set = Self {
            text: String::with_capacity(sorted.iter().map(|id| id.len()).sum()),
            ends: Vec::with_capacity(sorted.len()),
        };
        for id in sorted {
            set.text.push_str(id);
            set.ends.push(set.text.len());
        }
        set
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| self.text.get(a..b).unwrap_or_default())
    }
}

/// What is remembered of an account's servers' definitions: each one's fingerprint and
/// its last review, and the pins' generation the reviews are judged against.
#[derive(Debug, Default)]
struct Definitions {
    servers: HashMap<String, Known>,
    generation: u32,
    pins: Option<Arc<PinSet>>,
    /// The listing is for `pins export`: the close looks stay with the listed servers.
    exporting: bool,
}

#[derive(Debug, Default)]
struct Known {
    capabilities: Option<Capabilities>,
    review: Option<Reviewed>,
}

/// Every account's memory: its servers', and its walks'.
#[derive(Debug, Default)]
pub struct Memory {
    servers: Mutex<HashMap<String, HashMap<String, ServerMemory>>>,
    walks: Mutex<HashMap<String, WalkMemory>>,
    known: Mutex<HashMap<String, IdSet>>,
    capabilities: Mutex<HashMap<String, Definitions>>,
    anomalies: Mutex<HashMap<String, BTreeMap<Anomaly, u64>>>,
}

impl Memory {
    fn with<R>(&self, account: &str, f: impl FnOnce(&mut HashMap<String, ServerMemory>) -> R) -> R {
        let mut all = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        f(all.entry(account.to_owned()).or_default())
    }

    /// What is remembered of the account's walks.
    pub fn walk(&self, account: &str) -> WalkMemory {
        let all = self.walks.lock().unwrap_or_else(|e| e.into_inner());
        all.get(account).copied().unwrap_or_default()
    }

    /// Up to `max` ids of the account's last complete listing that `now` lacks (servers
    /// that vanished: deleted, or skipped because the list shifted while it was walked).
    pub fn vanished(&self, account: &str, now: &HashSet<String>, max: usize) -> Vec<String> {
        let all = self.known.lock().unwrap_or_else(|e| e.into_inner());
        all.get(account)
            .map(|old| {
                old.iter()
                    .filter(|id| !now.contains(*id))
                    .take(max)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Remembers the ids of the account's last complete listing.
    pub fn set_known(&self, account: &str, ids: &HashSet<String>) {
        let ids = IdSet::new(ids);
        let mut all = self.known.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(account.to_owned(), ids);
    }

    /// Remembers a server's tool and prompt fingerprint and says what changed since the
    /// last listing; the first sighting is a baseline (`None`).
    pub fn capabilities_changed(
        &self,
        account: &str,
        id: &str,
        now: Capabilities,
    ) -> Option<Change> {
        let mut all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.entry(account.to_owned()).or_default();
        let server = known.servers.entry(id.to_owned()).or_default();
        let change = server.capabilities.as_ref().map(|before| now.diff(before));
        server.capabilities = Some(now);
        change.filter(|c| !c.is_empty())
    }

    /// Drops each fingerprint that equals the one remembered for its server (from one
    /// listing to the next, nearly all), so that a walk does not hold a second copy of every
    /// server's; a dropped one is unchanged, as one that is absent is.
    pub fn drop_unchanged_capabilities<'a>(
        &self,
        account: &str,
        items: impl Iterator<Item = (&'a str, &'a mut Option<Capabilities>)>,
    ) {
        let all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        let Some(known) = all.get(account) else {
            return;
        };
        for (id, caps) in items {
            let remembered = known.servers.get(id).and_then(|k| k.capabilities.as_ref());
            if caps.is_some() && remembered == caps.as_ref() {
                *caps = None;
            }
        }
    }

    /// Starts a cycle's reviews against `pins` (`None`: no pin file), of `generation`.
    pub fn review_against(&self, account: &str, pins: Option<Arc<PinSet>>, generation: u32) {
        let mut all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.entry(account.to_owned()).or_default();
        (known.pins, known.generation) = (pins, generation);
    }

    /// The pins the account's reviews are judged against this cycle, and their generation;
    /// `None` when its listing is for `pins export` (no review: the looks are kept).
    pub fn reviewing_against(&self, account: &str) -> Option<(Option<Arc<PinSet>>, u32)> {
        let all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        match all.get(account) {
            Some(k) if k.exporting => None,
            Some(k) => Some((k.pins.clone(), k.generation)),
            None => Some((None, 0)),
        }
    }

    /// The account's listings are for `pins export` from now on.
    pub fn export_looks(&self, account: &str) {
        let mut all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(account.to_owned()).or_default().exporting = true;
    }

    /// Whether a server whose fingerprints have this digest needs its definitions looked
    /// at again ([`review::needs_look`]).
    pub fn needs_look(&self, account: &str, id: &str, digest: u64) -> bool {
        let all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        let Some(known) = all.get(account) else {
            return true;
        };
        let last = known.servers.get(id).and_then(|k| k.review.as_ref());
        review::needs_look(last, digest, known.generation)
    }

    /// The server's last review.
    pub fn reviewed(&self, account: &str, id: &str) -> Option<Reviewed> {
        let all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        all.get(account)?.servers.get(id)?.review
    }

    /// Remembers a server's review; returns the one before.
    pub fn set_reviewed(&self, account: &str, id: &str, r: Reviewed) -> Option<Reviewed> {
        let mut all = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.entry(account.to_owned()).or_default();
        known
            .servers
            .entry(id.to_owned())
            .or_default()
            .review
            .replace(r)
    }

    /// Counts a walk anomaly of the account.
    pub fn count_anomaly(&self, account: &str, kind: Anomaly) {
        let mut all = self.anomalies.lock().unwrap_or_else(|e| e.into_inner());
        *all.entry(account.to_owned())
            .or_default()
            .entry(kind)
            .or_default() += 1;
    }

    /// The account's walk anomalies so far, by kind.
    pub fn anomalies(&self, account: &str) -> BTreeMap<Anomaly, u64> {
        let all = self.anomalies.lock().unwrap_or_else(|e| e.into_inner());
        all.get(account).cloned().unwrap_or_default()
    }

    /// Remembers the account's walk.
    pub fn set_walk(&self, account: &str, walk: WalkMemory) {
        let mut all = self.walks.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(account.to_owned(), walk);
    }

    /// A copy of one account's memory, for planning a cycle.
    pub fn of(&self, account: &str) -> HashMap<String, ServerMemory> {
        self.with(account, |m| m.clone())
    }

    /// One server's memory.
    pub fn get(&self, account: &str, id: &str) -> ServerMemory {
        self.with(account, |m| m.get(id).copied().unwrap_or_default())
    }

    /// A sync succeeded: the streak and the back-off end.
    pub fn succeeded(&self, account: &str, id: &str) {
        self.with(account, |m| {
            m.remove(id);
        });
    }

    /// A sync answered success without saying whether it took effect: the next listing
    /// judges it against `before`. The streak and back-off stay until then.
    pub fn await_effect(&self, account: &str, id: &str, before: Option<SystemTime>) -> u32 {
        self.with(account, |m| {
            let s = m.entry(id.to_owned()).or_default();
            s.pending = Some(Pending { before });
            s.failures
        })
    }

    /// The servers of the account whose syncs await judgement.
    pub fn pending(&self, account: &str) -> Vec<String> {
        self.with(account, |m| {
            let mut ids: Vec<String> = m
                .iter()
                .filter(|(_, s)| s.pending.is_some())
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort_unstable();
            ids
        })
    }

    /// Takes the sync awaiting judgement, if any.
    pub fn take_pending(&self, account: &str, id: &str) -> Option<Pending> {
        self.with(account, |m| m.get_mut(id).and_then(|s| s.pending.take()))
    }

    /// Remembers why the server is blocked (or that it is not); returns the previous reason
    /// when it changed.
    pub fn set_blocked(
        &self,
        account: &str,
        id: &str,
        now: Option<BlockReason>,
    ) -> Option<Option<BlockReason>> {
        self.with(account, |m| {
            let before = m.get(id).and_then(|s| s.blocked);
            if before == now {
                return None;
            }
            match now {
                Some(_) => m.entry(id.to_owned()).or_default().blocked = now,
                None => {
                    if let Some(s) = m.get_mut(id) {
                        s.blocked = None;
                    }
                }
            }
            Some(before)
        })
    }

    /// A sync failed after its retries: the streak grows and the server is left alone for
    /// `backoff(streak)`. Returns the new streak and back-off.
    pub fn failed(
        &self,
        account: &str,
        id: &str,
        now: Instant,
        backoff: impl FnOnce(u32) -> Duration,
    ) -> (u32, Duration) {
        self.with(account, |m| {
            let s = m.entry(id.to_owned()).or_default();
            s.failures = s.failures.saturating_add(1);
            let d = backoff(s.failures);
            s.backoff_until = Some(now + d);
            (s.failures, d)
        })
    }

    /// Keeps only the servers of a complete listing (and forgets one that is gone), so
    /// memory does not grow with servers that came and went.
    pub fn retain(&self, account: &str, keep: impl Fn(&str) -> bool) {
        self.with(account, |m| m.retain(|id, _| keep(id)));
        let mut caps = self.capabilities.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = caps.get_mut(account) {
            known.servers.retain(|id, _| keep(id));
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/scheduler/memory.rs"]
mod tests;
