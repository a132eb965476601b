//! One account as the daemon publishes it: the listing's health, its servers, and the
//! account's own counters (cycle durations, walk anomalies). The scheduler builds a new view
//! each cycle from the last complete listing and what the cycle's syncs taught, and
//! publishes it whole.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{Action, Histogram, ServerInfo, Servers, SyncRecord, CYCLE_BUCKETS};
use crate::vocabulary::Anomaly;

/// Everything published about one account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountView {
    /// Whether the last listing completed (`None` before the first attempt).
    pub up: Option<bool>,
    /// Whether a listing has ever completed.
    pub listed: bool,
    /// Whether the last attempt failed on authentication.
    pub auth_failed: bool,
    /// The last listing error, for `once` and logs.
    pub last_error: Option<String>,
    /// End of the last complete listing.
    pub last_list_success: Option<SystemTime>,
    /// The servers of the last complete listing (within the filters).
    pub servers: Servers,
    /// Cycle durations.
    pub cycle_duration: Histogram,
    /// Walk anomalies by kind.
    pub walk_anomalies: BTreeMap<Anomaly, u64>,
    /// When the next cycle of the account starts (`None`: not scheduled, e.g. `once`).
    pub next_cycle: Option<SystemTime>,
}

impl Default for AccountView {
    fn default() -> Self {
        Self {
            up: None,
            listed: false,
            auth_failed: false,
            last_error: None,
            last_list_success: None,
            servers: Servers::default(),
            cycle_duration: Histogram::new(CYCLE_BUCKETS),
            walk_anomalies: BTreeMap::new(),
            next_cycle: None,
        }
    }
}

/// What one sync decision taught about a server, for the view its cycle publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRecord {
    /// The end of a sync (or its judgement by this cycle's listing).
    Sync {
        /// Requests it made.
        attempts: u32,
        /// What it taught.
        record: SyncRecord,
        /// When the daemon sent it.
        at: SystemTime,
    },
    /// A retry, by reason.
    Retry(super::RetryReason),
    /// Its tool or prompt definitions changed, seen at this time.
    CapabilitiesChanged(SystemTime),
    /// Cloudflare no longer knows it (404 on a sync).
    Gone,
}

impl AccountView {
    /// Stale servers.
    pub fn stale_count(&self) -> usize {
        self.servers.values().filter(|s| s.info.stale).count()
    }

    /// The view after a complete listing at `at`: its servers, each with what `self` knew
    /// of it under the same id (its counters) and this cycle's action; servers absent from
    /// the listing are gone.
    pub fn relisted(&self, listed: Vec<(ServerInfo, Action)>, at: SystemTime) -> Self {
        Self {
            up: Some(true),
            listed: true,
            auth_failed: false,
            last_error: None,
            last_list_success: Some(at),
            servers: Servers::relisted(listed, &self.servers),
            ..self.clone_counters()
        }
    }

    /// The view after a listing that did not complete: the previous snapshot stays, `up`
    /// goes to 0 (unless the walk was only interrupted), nothing is removed.
    pub fn listing_failed(&self, failure: Option<(bool, String)>) -> Self {
        let mut v = Self {
            servers: self.servers.clone(),
            ..self.clone_counters()
        };
        if let Some((auth, error)) = failure {
            v.up = Some(false);
            v.auth_failed = auth;
            v.last_error = Some(error);
        }
        v
    }

    /// Everything but the servers.
    fn clone_counters(&self) -> Self {
        Self {
            up: self.up,
            listed: self.listed,
            auth_failed: self.auth_failed,
            last_error: self.last_error.clone(),
            last_list_success: self.last_list_success,
            servers: Servers::default(),
            cycle_duration: self.cycle_duration.clone(),
            walk_anomalies: self.walk_anomalies.clone(),
            next_cycle: self.next_cycle,
        }
    }

    /// Applies what a cycle taught about server `id` (nothing when it is not listed).
    pub fn apply(&mut self, id: &str, record: ServerRecord) {
        if record == ServerRecord::Gone {
            self.servers.remove(id);
            return;
        }
        let Some(s) = self.servers.get_mut(id) else {
            return;
        };
        match record {
            ServerRecord::Sync {
                attempts,
                record,
                at,
            } => s.apply(attempts, record, at),
            ServerRecord::Retry(reason) => s.retried(reason),
            ServerRecord::CapabilitiesChanged(at) => {
                s.capability_changes += 1;
                s.capabilities_changed_at = Some(at);
            }
            ServerRecord::Gone => {}
        }
    }
}
