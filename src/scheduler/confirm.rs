//! Whether a sync took effect, and whether a server can be synced at all: syncs that answered
//! success are judged by the next word from Cloudflare on the server (the next listing, or
//! for `once` a read of it), and a blocked server is logged when it becomes or stops being
//! blocked, not every cycle.

use std::time::SystemTime;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::decide;
use super::listed::Listed;
use super::{Basis, CycleReport, Records, Scheduler};
use crate::shutdown::Shutdown;
use crate::state::{BlockReason, Outcome, ServerInfo, ServerRecord, SyncRecord, NO_EFFECT};

impl Scheduler {
    /// Judges a sync that answered success in an earlier cycle by what Cloudflare now says of
    /// the server: confirmed when its `last_successful_sync` advanced, else without effect
    /// (a failure: the streak grows, the server backs off). The cycle's basis learns it
    /// before the server is judged for this cycle; the record goes to `records`.
    pub(super) fn judge_pending(
        &self,
        account: &str,
        l: &ServerInfo,
        basis: &mut Basis,
        records: &mut Records,
    ) -> Option<Outcome> {
        let memory = &self.inner.memory;
        let pending = basis
            .memory
            .get_mut(&*l.id)
            .and_then(|m| m.pending.take())?;
        memory.take_pending(account, &l.id);
        let cfg = &self.inner.config;
        let (outcome, consecutive_failures) = if decide::advanced(
            pending.before,
            l.last_successful_sync,
        ) {
            memory.succeeded(account, &l.id);
            basis.memory.remove(&*l.id);
            (Outcome::Success, 0)
        } else {
            let (n, backoff) = memory.failed(account, &l.id, Instant::now(), |n| {
                decide::failure_backoff(cfg.interval, n, cfg.failure_backoff_max)
            });
            basis
                .memory
                .insert(l.id.to_string(), memory.get(account, &l.id));
            warn!(account, server_id = %l.id, name = ?l.name, outcome = "no_effect", consecutive_failures = n, backoff_s = backoff.as_secs(), "{NO_EFFECT}");
            (Outcome::NoEffect, n)
        };
        let record = ServerRecord::Sync {
            attempts: 0,
            record: SyncRecord::Judged {
                outcome,
                consecutive_failures,
            },
            at: SystemTime::UNIX_EPOCH,
        };
        records.push((l.id.to_string(), record));
        Some(outcome)
    }

    /// Logs once when a server becomes blocked or stops being blocked.
    pub(super) fn note_blocked(&self, account: &str, l: &ServerInfo, now: Option<BlockReason>) {
        let Some(before) = self.inner.memory.set_blocked(account, &l.id, now) else {
            return;
        };
        match now {
            Some(r) => {
                warn!(account, server_id = %l.id, name = ?l.name, reason = r.as_str(), "stale, and a sync cannot refresh it ({}); not syncing it", r.describe())
            }
            None => {
                info!(account, server_id = %l.id, name = ?l.name, was = before.map_or("", BlockReason::as_str), "no longer blocked")
            }
        }
    }

    /// For `once`, which sees no later listing: reads each server whose sync still awaits
    /// its effect (one read call each), judges the sync by what Cloudflare now says, and
    /// publishes the account's view with what the reads said. A read that fails leaves the
    /// sync pending. Adds the syncs found without effect to the reports of their accounts.
    pub async fn confirm_by_read(&self, shutdown: &Shutdown, reports: &mut [CycleReport]) {
        for (account, client) in &self.inner.clients {
            let pending = self.inner.memory.pending(account);
            let Some(old) = self.inner.state.account(account) else {
                continue;
            };
            if pending.is_empty() {
                continue;
            }
            let mut basis = Basis {
                memory: self.inner.memory.of(account),
                wall: SystemTime::now(),
                now: Instant::now(),
            };
            let mut view = old.listing_failed(None);
            for id in pending {
                let server = match shutdown.run(client.read(account, &id)).await {
                    Some(Ok(s)) => s,
                    Some(Err(e)) => {
                        debug!(account = %account, server_id = %id, error = %e, "reading the server to judge its sync failed");
                        continue;
                    }
                    None => break,
                };
                let mut info = Listed::new(server).info;
                info.stale = decide::is_stale(
                    info.last_successful_sync,
                    info.status.as_deref(),
                    basis.wall,
                    self.inner.config.stale_after,
                );
                let mut records = Vec::new();
                if self.judge_pending(account, &info, &mut basis, &mut records)
                    == Some(Outcome::NoEffect)
                {
                    for r in reports.iter_mut().filter(|r| r.account == *account) {
                        r.failed += 1;
                        r.no_effect += 1;
                        r.synced = r.synced.saturating_sub(1);
                    }
                }
                if let Some(s) = view.servers.get_mut(&id) {
                    s.info = info;
                }
                for (id, r) in records {
                    view.apply(&id, r);
                }
            }
            self.inner.state.publish(account, view);
        }
    }
}
