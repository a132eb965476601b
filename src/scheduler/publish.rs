//! The end of a cycle: the plan made from a complete listing (each server's action, the
//! servers to sync, changes of definitions), a listing that did not complete, and the one
//! write of the cycle — the account's new view, built from the last one, the listing and what
//! the syncs taught, published whole.

use std::collections::HashSet;
use std::time::SystemTime;

use tokio::time::Instant;
use tracing::{error, info, warn};

use super::decide::Class;
use super::listed::Listed;
use super::review::{self, Reviewed};
use super::{walk, CycleReport, Listing, ListingOutcome, Records, Scheduler};
use crate::cloudflare::model::sanitize;
use crate::definitions::table::Change;
use crate::state::{Action, Review, ServerInfo, ServerRecord};
use crate::vocabulary::Rule;

impl Scheduler {
    /// Builds the account's new view from the last one, the cycle's listing and what its
    /// syncs taught, and publishes it: the one write of the cycle.
    pub(super) fn publish(
        &self,
        account: &str,
        listing: Listing,
        records: Records,
        report: &CycleReport,
        next: Option<SystemTime>,
    ) {
        let state = &self.inner.state;
        let Some(old) = state.account(account) else {
            return;
        };
        let mut view = match listing {
            Listing::Complete(listed, at) => old.relisted(listed, at),
            Listing::Kept(failure) => old.listing_failed(failure),
        };
        drop(old);
        for (id, r) in records {
            view.apply(&id, r);
        }
        if report.auth_failed {
            view.up = Some(false);
            view.auth_failed = true;
            view.last_error = Some("sync refused with 401/403".into());
        }
        let (wall, now) = (SystemTime::now(), Instant::now());
        for (id, m) in self.inner.memory.of(account) {
            if let (Some(until), Some(s)) = (m.backoff_until, view.servers.get_mut(&id)) {
                s.backoff_until = Some(wall + until.saturating_duration_since(now));
            }
        }
        view.walk_anomalies = self.inner.memory.anomalies(account);
        view.cycle_duration.observe(report.duration.as_secs_f64());
        view.next_cycle = next;
        state.publish(account, view);
        // The previous view and listing are gone: their pages go back too.
        crate::allocator::release_free();
    }

    /// Plans the cycle from the complete listing, its servers already decided as their pages
    /// came: the servers to sync, and the listing with each server's action. Changes of tool or prompt definitions go
    /// to `records` (and the log).
    #[allow(clippy::type_complexity)]
    pub(super) fn plan(
        &self,
        account: &str,
        listed: Vec<Listed>,
        records: &mut Records,
        report: &mut CycleReport,
    ) -> (
        Vec<(String, String, Option<SystemTime>)>,
        Vec<(ServerInfo, Action)>,
    ) {
        let memory = &self.inner.memory;
        let mut listed = listed;
        // Outside the filters: ignored entirely (each was decided as its page arrived).
        listed.retain(|l| l.action.is_some());
        // Servers that left the listing leave the memory (their back-off and fingerprint):
        // one that comes back under the same id starts from a baseline.
        let ids: HashSet<&str> = listed.iter().map(|l| &*l.info.id).collect();
        memory.retain(account, |id| ids.contains(id));
        drop(ids);
        report.servers = listed.len();
        let mut to_sync = Vec::new();
        let mut out = Vec::with_capacity(listed.len());
        for l in listed {
            let Listed {
                info,
                capabilities,
                action,
                ..
            } = l;
            let action = action.unwrap_or_default();
            if let Some(change) =
                capabilities.and_then(|c| memory.capabilities_changed(account, &info.id, c))
            {
                log_change(account, &info, &change);
                let at = ServerRecord::CapabilitiesChanged(SystemTime::now());
                records.push((info.id.to_string(), at));
            }
            report.stale += usize::from(info.stale);
            self.note_blocked(account, &info, action.blocked());
            match action {
                Action::Synced => to_sync.push((
                    info.id.to_string(),
                    info.name.to_string(),
                    info.last_successful_sync,
                )),
                Action::Blocked(_) => report.blocked += 1,
                Action::BackedOff => report.backed_off += 1,
                Action::WouldSync => {
                    report.dry_run += 1;
                    info!(account, server_id = %info.id, name = ?info.name, "stale; would sync (dry run)");
                }
                Action::None | Action::NotReached => {}
            }
            out.push((info, action));
        }
        (to_sync, out)
    }

    /// A listing that did not complete: the previous snapshot stays; the
    /// failure, when it is one, for the view.
    pub(super) fn listing_failed(
        &self,
        account: &str,
        f: walk::ListFailure,
    ) -> (ListingOutcome, Option<(bool, String)>) {
        if f.class == Class::Interrupted {
            return (ListingOutcome::Interrupted, None);
        }
        let auth = f.class == Class::Auth;
        let failure = Some((auth, f.message.clone()));
        if auth {
            error!(account, error = %f.message, "Cloudflare refused the credentials; this account's cycle stops until the next interval. Check the API token's permissions (MCP Portals Read + Write).");
            (ListingOutcome::AuthFailed(f.message), failure)
        } else {
            warn!(account, error = %f.message, "listing failed; keeping the previous snapshot");
            (ListingOutcome::Failed(f.message), failure)
        }
    }
}

impl Scheduler {
    /// Each server's review of its definitions, as its page arrives: judged again from the
    /// close look the decoder took (which is dropped then: a first listing does not hold
    /// every server's table until its plan), else the last one (unchanged definitions, the
    /// same pins). A change of what it finds is logged, naming the definitions.
    pub(super) fn review_page(&self, account: &str, items: &mut [Listed]) {
        let memory = &self.inner.memory;
        let Some((pins, generation)) = memory.reviewing_against(account) else {
            return;
        };
        for l in items {
            let info = &l.info;
            let last = memory.reviewed(account, &info.id);
            let inspected = l.inspected.take();
            // Drift is judged from a close look; without one the definitions are those of
            // the last look (the decoder asks for one whenever they or the pins changed).
            let (drift, change) = match (&pins, &inspected) {
                (Some(p), Some(i)) => {
                    let (r, change) = review::judge(i, Some(p.get(account, &info.id)));
                    (r.drift, Some(change))
                }
                (Some(_), None) => (last.and_then(|r| r.review.drift), None),
                (None, _) => (None, None),
            };
            let flagged: &[(Rule, String)] = l.suspicious.as_ref().map_or(&[], |s| &s.flagged);
            let review = Review {
                drift,
                suspicious: l.suspicious.as_ref().map(|s| s.counts).unwrap_or_default(),
            };
            let (digest, looked_at, drift_names) = match &change {
                Some(c) => (
                    l.digest,
                    generation,
                    review::names((&c.added, &c.changed, &c.removed)),
                ),
                None => last.map_or((0, 0, 0), |r| (r.digest, r.generation, r.drift_names)),
            };
            let now = Reviewed {
                digest,
                generation: looked_at,
                review,
                drift_names,
                flagged_names: review::names(flagged),
            };
            // Without pins, a clean server that never was flagged has nothing to remember.
            if pins.is_none() && last.is_none() && review == Review::default() {
                l.info.review = review;
                continue;
            }
            let before = memory.set_reviewed(account, &info.id, now);
            if let (Some(change), Some(d)) = (&change, drift) {
                let drift_before =
                    before.and_then(|b| b.review.drift.map(|d| (d.total(), b.drift_names)));
                let first_and_clean = drift_before.is_none() && d.total() == 0;
                if drift_before != Some((d.total(), drift_names)) && !first_and_clean {
                    log_drift(
                        account,
                        info,
                        change,
                        drift_before.is_some_and(|(t, _)| t > 0),
                    );
                }
            }
            let nothing = (0, review::names(&[] as &[(Rule, String)]));
            let flagged_before = before.map(|b| (b.review.suspicious_total(), b.flagged_names));
            if flagged_before.unwrap_or(nothing) != (review.suspicious_total(), now.flagged_names) {
                log_flagged(account, info, flagged);
            }
            l.info.review = review;
        }
    }
}

/// Logs what drifts in a server's definitions from its pins, naming them (escaped), or
/// that they match again.
fn log_drift(account: &str, info: &ServerInfo, change: &Change, drifted_before: bool) {
    if change.is_empty() {
        if drifted_before {
            info!(account, server_id = %info.id, name = ?info.name, "the server's tool and prompt definitions match their pins again");
        }
        return;
    }
    log_names(
        account,
        info,
        change,
        "the server's tool or prompt definitions drift from their pins; review them and approve with `mcp-sync-monitor pins export`",
    );
}

/// Logs the definitions of a server that break a rule for hidden instructions, naming
/// each with its rule (escaped, never the text itself), or that none does any more.
fn log_flagged(account: &str, info: &ServerInfo, flagged: &[(Rule, String)]) {
    if flagged.is_empty() {
        info!(account, server_id = %info.id, name = ?info.name, "no definition of the server breaks a rule for hidden instructions any more");
        return;
    }
    let list = flagged
        .iter()
        .map(|(r, n)| format!("{} ({})", sanitize(n), r.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    warn!(
        account,
        server_id = %info.id,
        name = ?info.name,
        definitions = %list,
        "definitions of the server carry text hidden from a person or markup addressed to the model"
    );
}

/// Logs a change of a server's tool or prompt definitions, naming them (escaped).
fn log_change(account: &str, info: &ServerInfo, change: &Change) {
    log_names(
        account,
        info,
        change,
        "the server's tool or prompt definitions changed",
    );
}

/// A warning naming the definitions of `change` (escaped).
fn log_names(account: &str, info: &ServerInfo, change: &Change, message: &str) {
    let list = |v: &[String]| v.iter().map(|n| sanitize(n)).collect::<Vec<_>>().join(", ");
    warn!(
        account,
        server_id = %info.id,
        name = ?info.name,
        added = %list(&change.added),
        removed = %list(&change.removed),
        changed = %list(&change.changed),
        "{message}"
    );
}
